//! Presale campaigns (社区预售): open one, place and cancel pre-orders, and apply the
//! presale plugin's decision at close — a go orders from the supplier and confirms the
//! pre-orders, a no-go releases them, an extension moves the deadline.

use crate::{ServiceError, catalogue, text};
use linli_runtime::{Campaign, Decision, Evaluation};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

const DAY: i64 = 86_400_000;

/// A campaign, its status and its pre-orders.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CampaignView {
    pub campaign: String,
    pub sku: String,
    pub product: String,
    pub supplier: String,
    pub opened_at: i64,
    pub deadline: i64,
    pub min_qty: u32,
    pub weekly_volume: u32,
    pub extended: bool,
    pub status: String,
    pub reason: Option<String>,
    pub preordered_qty: u32,
    pub preorder_count: u32,
    pub orders: Vec<Preorder>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Preorder {
    pub preorder: i64,
    pub customer: String,
    pub qty: u32,
    pub status: String,
}

/// A campaign to open (times in unix milliseconds).
#[derive(Debug, Clone, Copy)]
pub struct Opening<'a> {
    pub campaign: &'a str,
    pub sku: &'a str,
    pub supplier: &'a str,
    pub deadline: i64,
    pub min_qty: u32,
    /// The product's normal weekly volume; by default, its sales over the last 7 days.
    pub weekly_volume: Option<u32>,
}

/// The least time residents get to pre-order.
pub const MIN_LEAD_DAYS: i64 = 3;
/// The furthest ahead a deadline may be: the presale policy moves a deadline by days,
/// and a campaign nobody could close before then is no campaign.
pub const MAX_LEAD_DAYS: i64 = 366;

/// Check a campaign to open, every field: the campaign as the presale policy will
/// evaluate it, with nothing pre-ordered yet. [`open`] records it.
pub fn check_opening(
    conn: &Connection,
    opening: Opening<'_>,
    now: i64,
) -> Result<Campaign, ServiceError> {
    text::id("campaign", opening.campaign)?;
    text::id("sku", opening.sku)?;
    text::id("supplier", opening.supplier)?;
    if opening.min_qty == 0 {
        return Err(ServiceError::Invalid(
            "min_qty: 0; a campaign needs a minimum of at least 1 unit to go ahead".into(),
        ));
    }
    if opening.deadline < now.saturating_add(MIN_LEAD_DAYS * DAY) {
        return Err(ServiceError::Invalid(format!(
            "deadline: residents pre-order at least {MIN_LEAD_DAYS} days ahead; set it {MIN_LEAD_DAYS} days or more from now"
        )));
    }
    if opening.deadline > now.saturating_add(MAX_LEAD_DAYS * DAY) {
        return Err(ServiceError::Invalid(format!(
            "deadline: more than {MAX_LEAD_DAYS} days from now; set it within {MAX_LEAD_DAYS} days"
        )));
    }
    let sku = catalogue::sku(conn, opening.sku)?.ok_or_else(|| {
        ServiceError::NotFound(format!("sku: {} is not in the catalogue", opening.sku))
    })?;
    let weekly_volume = match opening.weekly_volume {
        Some(volume) => volume,
        None => {
            let sold: i64 = conn.query_row(
                "SELECT coalesce(sum(sale_line.qty), 0) FROM sale_line JOIN sale ON sale.sale = sale_line.sale \
                 WHERE sale_line.sku = ?1 AND sale.at >= ?2",
                params![sku.sku, now - 7 * DAY],
                |row| row.get(0),
            )?;
            u32::try_from(sold).map_err(|_| {
                ServiceError::Invalid(format!(
                    "weekly_volume: the last 7 days sold {sold} units of {}, more than {}; give weekly_volume",
                    sku.sku,
                    u32::MAX
                ))
            })?
        }
    };
    Ok(Campaign {
        id: opening.campaign.to_string(),
        sku: sku.sku,
        product: sku.name,
        supplier: opening.supplier.to_string(),
        opened_at: now,
        deadline: opening.deadline,
        min_qty: opening.min_qty,
        preordered_qty: 0,
        preorder_count: 0,
        weekly_volume,
        extended: false,
    })
}

/// Open a campaign [`check_opening`] gave: residents pre-order until the deadline.
pub fn open(conn: &mut Connection, campaign: &Campaign) -> Result<CampaignView, ServiceError> {
    let tx = conn.transaction()?;
    let inserted = tx.execute(
        "INSERT OR IGNORE INTO presale_campaign (campaign, sku, product, supplier, opened_at, deadline, min_qty, weekly_volume) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            campaign.id,
            campaign.sku,
            campaign.product,
            campaign.supplier,
            campaign.opened_at,
            campaign.deadline,
            campaign.min_qty,
            campaign.weekly_volume
        ],
    )?;
    if inserted == 0 {
        return Err(ServiceError::Conflict(format!(
            "campaign: {} already exists",
            campaign.id
        )));
    }
    let view = load(&tx, &campaign.id)?;
    tx.commit()?;
    Ok(view)
}

/// The latest 100 campaigns, open ones first, then by deadline.
pub fn list(conn: &Connection) -> Result<Vec<CampaignView>, ServiceError> {
    let ids: Vec<String> = conn
        .prepare_cached(
            "SELECT campaign FROM presale_campaign \
             ORDER BY status != 'open', deadline DESC, campaign LIMIT 100",
        )?
        .query_map([], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    ids.iter().map(|id| load(conn, id)).collect()
}

/// Place a resident's pre-order in an open campaign; the campaign with it.
pub fn place(
    conn: &mut Connection,
    campaign: &str,
    customer: &str,
    qty: u32,
    now: i64,
) -> Result<CampaignView, ServiceError> {
    if qty == 0 {
        return Err(ServiceError::Invalid(
            "qty: a pre-order is for at least 1 unit".into(),
        ));
    }
    text::id("customer", customer)?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let view = load(&tx, campaign)?;
    if view.status != "open" || now > view.deadline {
        return Err(ServiceError::Conflict(format!(
            "campaign {campaign}: closed to pre-orders ({})",
            view.status
        )));
    }
    // The campaign's pre-orders are counted in a u32 (the presale policy's
    // `preordered-qty`): one that would not fit is refused, not wrapped.
    if view.preordered_qty.checked_add(qty).is_none() {
        return Err(ServiceError::Invalid(format!(
            "qty: {qty} more units would bring campaign {campaign}'s pre-orders past {}; {} are pre-ordered",
            u32::MAX,
            view.preordered_qty
        )));
    }
    tx.execute(
        "INSERT INTO presale_order (campaign, customer, qty, at) VALUES (?1, ?2, ?3, ?4)",
        params![campaign, customer.trim(), qty, now],
    )?;
    let view = load(&tx, campaign)?;
    tx.commit()?;
    Ok(view)
}

/// Cancel a placed pre-order; its campaign after.
pub fn cancel(conn: &mut Connection, preorder: i64) -> Result<CampaignView, ServiceError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let found: Option<(String, String)> = tx
        .query_row(
            "SELECT campaign, status FROM presale_order WHERE preorder = ?1",
            [preorder],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    let (campaign, status) = found.ok_or_else(|| {
        ServiceError::NotFound(format!("pre-order {preorder}: no such pre-order"))
    })?;
    if status != "placed" {
        return Err(ServiceError::Conflict(format!(
            "pre-order {preorder}: already {status}"
        )));
    }
    tx.execute(
        "UPDATE presale_order SET status = 'cancelled' WHERE preorder = ?1",
        [preorder],
    )?;
    let view = load(&tx, &campaign)?;
    tx.commit()?;
    Ok(view)
}

/// A campaign still open, as the presale plugin evaluates it at close.
pub fn to_close(conn: &Connection, campaign: &str) -> Result<Campaign, ServiceError> {
    let view = load(conn, campaign)?;
    if view.status != "open" {
        return Err(ServiceError::Conflict(format!(
            "campaign {campaign}: already decided ({})",
            view.status
        )));
    }
    Ok(Campaign {
        id: view.campaign,
        sku: view.sku,
        product: view.product,
        supplier: view.supplier,
        opened_at: view.opened_at,
        deadline: view.deadline,
        min_qty: view.min_qty,
        preordered_qty: view.preordered_qty,
        preorder_count: view.preorder_count,
        weekly_volume: view.weekly_volume,
        extended: view.extended,
    })
}

/// Apply the presale plugin's decision about a campaign `to_close` gave; the campaign
/// after it.
pub fn decide(
    conn: &mut Connection,
    campaign: &Campaign,
    evaluation: &Evaluation,
    now: i64,
) -> Result<CampaignView, ServiceError> {
    let id = &campaign.id;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    match evaluation.decision {
        Decision::Go => {
            tx.execute(
                "UPDATE presale_campaign SET status = 'go', reason = ?2 WHERE campaign = ?1",
                params![id, evaluation.reason],
            )?;
            tx.execute(
                "INSERT INTO supplier_order (campaign, supplier, sku, qty, at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, campaign.supplier, campaign.sku, evaluation.supplier_qty, now],
            )?;
            tx.execute(
                "UPDATE presale_order SET status = 'confirmed' WHERE campaign = ?1 AND status = 'placed'",
                [id],
            )?;
        }
        Decision::NoGo => {
            tx.execute(
                "UPDATE presale_campaign SET status = 'no-go', reason = ?2 WHERE campaign = ?1",
                params![id, evaluation.reason],
            )?;
            tx.execute(
                "UPDATE presale_order SET status = 'released' WHERE campaign = ?1 AND status = 'placed'",
                [id],
            )?;
        }
        Decision::Extend => {
            tx.execute(
                "UPDATE presale_campaign SET deadline = ?2, extended = 1, reason = ?3 WHERE campaign = ?1",
                params![id, evaluation.new_deadline, evaluation.reason],
            )?;
        }
        Decision::Wait => {}
    }
    let view = load(&tx, id)?;
    tx.commit()?;
    Ok(view)
}

/// A campaign with its pre-orders; the live ones (neither cancelled nor released)
/// counted.
pub fn load(conn: &Connection, campaign: &str) -> Result<CampaignView, ServiceError> {
    let view = conn
        .query_row(
            "SELECT campaign, sku, product, supplier, opened_at, deadline, min_qty, weekly_volume, extended, status, reason \
             FROM presale_campaign WHERE campaign = ?1",
            [campaign],
            |row| {
                Ok(CampaignView {
                    campaign: row.get(0)?,
                    sku: row.get(1)?,
                    product: row.get(2)?,
                    supplier: row.get(3)?,
                    opened_at: row.get(4)?,
                    deadline: row.get(5)?,
                    min_qty: row.get(6)?,
                    weekly_volume: row.get(7)?,
                    extended: row.get(8)?,
                    status: row.get(9)?,
                    reason: row.get(10)?,
                    preordered_qty: 0,
                    preorder_count: 0,
                    orders: Vec::new(),
                })
            },
        )
        .optional()?;
    let mut view = view
        .ok_or_else(|| ServiceError::NotFound(format!("campaign {campaign}: no such campaign")))?;
    let mut statement = conn.prepare_cached(
        "SELECT preorder, customer, qty, status FROM presale_order WHERE campaign = ?1 ORDER BY preorder",
    )?;
    let orders = statement.query_map([campaign], |row| {
        Ok(Preorder {
            preorder: row.get(0)?,
            customer: row.get(1)?,
            qty: row.get(2)?,
            status: row.get(3)?,
        })
    })?;
    view.orders = orders.collect::<rusqlite::Result<_>>()?;
    let live = view
        .orders
        .iter()
        .filter(|order| order.status != "cancelled" && order.status != "released");
    let count = live.clone().count();
    let qty: u64 = live.map(|order| u64::from(order.qty)).sum();
    let too_many = || {
        ServiceError::Corrupt(format!(
            "campaign {campaign}: {count} pre-orders of {qty} units do not fit a u32"
        ))
    };
    view.preorder_count = u32::try_from(count).map_err(|_| too_many())?;
    view.preordered_qty = u32::try_from(qty).map_err(|_| too_many())?;
    Ok(view)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::{Sku, insert_sku};

    const NOW: i64 = 1_795_176_000_000;

    fn store() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::open(dir.path()).unwrap();
        insert_sku(
            &conn,
            &Sku {
                sku: "HONEY".into(),
                name: "local honey".into(),
                category: "pantry".into(),
                unit_price: 4800,
                local_produce: true,
                fresh: false,
                reusable_box: false,
            },
        )
        .unwrap();
        (dir, conn)
    }

    fn opening(campaign: &str) -> Opening<'_> {
        Opening {
            campaign,
            sku: "HONEY",
            supplier: "Hill Farm",
            deadline: NOW + 5 * DAY,
            min_qty: 10,
            weekly_volume: Some(40),
        }
    }

    #[test]
    fn a_campaign_that_could_never_close_is_refused_at_open_naming_the_field() {
        let (_dir, conn) = store();
        let long = "c".repeat(65);
        for (opening, field) in [
            (
                Opening {
                    min_qty: 0,
                    ..opening("c-1")
                },
                "min_qty",
            ),
            (
                Opening {
                    deadline: NOW + DAY,
                    ..opening("c-1")
                },
                "deadline",
            ),
            (
                Opening {
                    deadline: i64::MAX,
                    ..opening("c-1")
                },
                "deadline",
            ),
            (opening(&long), "campaign"),
            (
                Opening {
                    supplier: " ",
                    ..opening("c-1")
                },
                "supplier",
            ),
            (
                Opening {
                    sku: "HONEY\n",
                    ..opening("c-1")
                },
                "sku",
            ),
        ] {
            let err = check_opening(&conn, opening, NOW).unwrap_err();
            assert!(
                matches!(&err, ServiceError::Invalid(text) if text.starts_with(field)),
                "{field}: {err}"
            );
        }
        let campaign = check_opening(&conn, opening("c-1"), NOW).unwrap();
        assert_eq!(
            (campaign.min_qty, campaign.product.as_str()),
            (10, "local honey")
        );
    }

    #[test]
    fn pre_orders_past_a_u32_are_refused_not_wrapped() {
        let (_dir, mut conn) = store();
        let campaign = check_opening(&conn, opening("c-1"), NOW).unwrap();
        open(&mut conn, &campaign).unwrap();
        let view = place(&mut conn, "c-1", "p-1", u32::MAX, NOW).unwrap();
        assert_eq!(view.preordered_qty, u32::MAX);
        let err = place(&mut conn, "c-1", "p-2", u32::MAX, NOW).unwrap_err();
        assert!(
            matches!(&err, ServiceError::Invalid(text) if text.starts_with("qty:")),
            "{err}"
        );
        let err = place(&mut conn, "c-1", "p-2", 1, NOW).unwrap_err();
        assert!(matches!(err, ServiceError::Invalid(_)), "{err}");
        let view = load(&conn, "c-1").unwrap();
        assert_eq!((view.preordered_qty, view.preorder_count), (u32::MAX, 1));
        // A cancelled pre-order makes room again.
        cancel(&mut conn, view.orders[0].preorder).unwrap();
        assert_eq!(
            place(&mut conn, "c-1", "p-2", 7, NOW)
                .unwrap()
                .preordered_qty,
            7
        );
    }

    #[test]
    fn a_weekly_volume_past_a_u32_is_refused_naming_the_field() {
        let (_dir, conn) = store();
        for (qty, batch) in [(u32::MAX, "B-1"), (u32::MAX, "B-2")] {
            crate::catalogue::receive(
                &conn,
                &crate::catalogue::Batch {
                    batch: batch.into(),
                    sku: "HONEY".into(),
                    supplier: None,
                    received_at: NOW - DAY,
                    expires_at: None,
                    qty_received: qty,
                    qty_on_hand: qty,
                },
            )
            .unwrap();
            let line = crate::sales::SoldLine {
                sku: "HONEY".into(),
                batch: batch.into(),
                qty,
                shelf_price: 1,
                unit_price: 1,
            };
            let buyer = crate::sales::Buyer {
                pseudonym: None,
                cohort: "walk-in",
            };
            crate::sales::record(&conn, NOW - DAY, buyer, &[line], &[]).unwrap();
        }
        let unknown = Opening {
            weekly_volume: None,
            ..opening("c-1")
        };
        let err = check_opening(&conn, unknown, NOW).unwrap_err();
        assert!(
            matches!(&err, ServiceError::Invalid(text) if text.starts_with("weekly_volume")),
            "{err}"
        );
    }
}
