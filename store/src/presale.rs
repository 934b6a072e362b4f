//! Presale campaigns (社区预售): open one, place and cancel pre-orders, and apply the
//! presale plugin's decision at close — a go orders from the supplier and confirms the
//! pre-orders, a no-go releases them, an extension moves the deadline.

use crate::{ServiceError, catalogue};
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

/// Open a campaign: residents pre-order until the deadline, at least 3 days ahead.
pub fn open(
    conn: &mut Connection,
    opening: Opening<'_>,
    now: i64,
) -> Result<CampaignView, ServiceError> {
    if opening.campaign.trim().is_empty() || opening.supplier.trim().is_empty() {
        return Err(ServiceError::Invalid(
            "campaign and supplier: must not be empty".into(),
        ));
    }
    if opening.deadline < now + 3 * DAY {
        return Err(ServiceError::Invalid(
            "deadline: residents pre-order at least 3 days ahead; set it 3 days or more from now"
                .into(),
        ));
    }
    let sku = catalogue::sku(conn, opening.sku)?.ok_or_else(|| {
        ServiceError::NotFound(format!("sku: {} is not in the catalogue", opening.sku))
    })?;
    let weekly_volume = match opening.weekly_volume {
        Some(volume) => volume,
        None => conn.query_row(
            "SELECT coalesce(sum(sale_line.qty), 0) FROM sale_line JOIN sale ON sale.sale = sale_line.sale \
             WHERE sale_line.sku = ?1 AND sale.at >= ?2",
            params![sku.sku, now - 7 * DAY],
            |row| row.get(0),
        )?,
    };
    let tx = conn.transaction()?;
    let inserted = tx.execute(
        "INSERT OR IGNORE INTO presale_campaign (campaign, sku, product, supplier, opened_at, deadline, min_qty, weekly_volume) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            opening.campaign,
            sku.sku,
            sku.name,
            opening.supplier,
            now,
            opening.deadline,
            opening.min_qty,
            weekly_volume
        ],
    )?;
    if inserted == 0 {
        return Err(ServiceError::Conflict(format!(
            "campaign: {} already exists",
            opening.campaign
        )));
    }
    let view = load(&tx, opening.campaign)?;
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
    if customer.trim().is_empty() {
        return Err(ServiceError::Invalid(
            "customer: the resident's pseudonym is required".into(),
        ));
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let view = load(&tx, campaign)?;
    if view.status != "open" || now > view.deadline {
        return Err(ServiceError::Conflict(format!(
            "campaign {campaign}: closed to pre-orders ({})",
            view.status
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
    view.preorder_count = live.clone().count() as u32;
    view.preordered_qty = live.map(|order| order.qty).sum();
    Ok(view)
}
