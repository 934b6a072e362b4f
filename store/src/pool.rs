//! The store's side of the alliance's shared stock pool (跨社区互助库存池): the batches
//! it offers (each offer queued in the outbox in the same transaction), and the
//! accepted transfers recorded as stock movements of the batch on this side — once
//! each, by the alliance's transfer id, whichever of the accept answer or the periodic
//! pull brings them first.

use crate::ServiceError;
use crate::catalogue::{self, Batch, Sku};
use crate::outbox;
use linli_alliance::{Event, Item, State, StockOfferWithdrawn, Transfer};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

/// An offer this store made.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LocalOffer {
    /// The offer's id at the alliance (with the store's name).
    pub offer: String,
    pub batch: String,
    pub sku: String,
    pub qty: u32,
    pub offered_at: i64,
    /// The outbox seq that carries it to the alliance.
    pub seq: i64,
    pub withdrawn_at: Option<i64>,
}

/// Offer `qty` units of a batch to the pool: the offer, and its `stock-offer` event in
/// the outbox, in one transaction. The units stay on hand (and on sale) until a
/// transfer of them is accepted.
pub fn offer(
    conn: &mut Connection,
    batch: &str,
    qty: u32,
    now: i64,
) -> Result<LocalOffer, ServiceError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let found = catalogue::batch(&tx, batch)?
        .ok_or_else(|| ServiceError::NotFound(format!("batch {batch}: no such batch")))?;
    if found.expires_at.is_some_and(|expires| expires <= now) {
        return Err(ServiceError::Conflict(format!(
            "batch {batch} has expired; write it off rather than offer it"
        )));
    }
    if qty > found.qty_on_hand {
        return Err(ServiceError::Conflict(format!(
            "qty: {qty} units offered, {} on hand in batch {batch}",
            found.qty_on_hand
        )));
    }
    let sku = catalogue::sku(&tx, &found.sku)?.expect("a batch's SKU is in the catalogue");
    tx.execute(
        "INSERT INTO pool_offer (batch, qty, offered_at, seq) VALUES (?1, ?2, ?3, 0)",
        params![batch, qty, now],
    )?;
    let offer = tx.last_insert_rowid().to_string();
    let item = item(&offer, &sku, &found, qty);
    let seq = outbox::queue(&tx, now, &Event::StockOffer(item))?;
    tx.execute(
        "UPDATE pool_offer SET seq = ?2 WHERE offer = ?1",
        params![offer, seq],
    )?;
    tx.commit()?;
    Ok(LocalOffer {
        offer,
        batch: found.batch,
        sku: found.sku,
        qty,
        offered_at: now,
        seq,
        withdrawn_at: None,
    })
}

fn item(offer: &str, sku: &Sku, batch: &Batch, qty: u32) -> Item {
    Item {
        offer: offer.to_string(),
        sku: sku.sku.clone(),
        name: sku.name.clone(),
        category: sku.category.clone(),
        unit_price: sku.unit_price,
        local_produce: sku.local_produce,
        fresh: sku.fresh,
        reusable_box: sku.reusable_box,
        batch: batch.batch.clone(),
        qty,
        expires_at: batch.expires_at,
    }
}

/// Take an offer back: no more transfers of it are proposed or accepted once the
/// alliance has the `stock-offer-withdrawn` event.
pub fn withdraw(conn: &mut Connection, offer: &str, now: i64) -> Result<LocalOffer, ServiceError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let found = find(&tx, offer)?
        .ok_or_else(|| ServiceError::NotFound(format!("offer {offer}: no such offer")))?;
    if found.withdrawn_at.is_some() {
        return Err(ServiceError::Conflict(format!(
            "offer {offer} was already withdrawn"
        )));
    }
    tx.execute(
        "UPDATE pool_offer SET withdrawn_at = ?2 WHERE offer = ?1",
        params![offer, now],
    )?;
    let withdrawn = StockOfferWithdrawn {
        offer: offer.to_string(),
    };
    outbox::queue(&tx, now, &Event::StockOfferWithdrawn(withdrawn))?;
    let withdrawn = find(&tx, offer)?.expect("the offer just withdrawn");
    tx.commit()?;
    Ok(withdrawn)
}

const SELECT_OFFER: &str = "SELECT offer, pool_offer.batch, sku, qty, offered_at, seq, withdrawn_at \
     FROM pool_offer JOIN batch ON batch.batch = pool_offer.batch";

fn offer_row(row: &rusqlite::Row) -> rusqlite::Result<LocalOffer> {
    Ok(LocalOffer {
        offer: row.get::<_, i64>(0)?.to_string(),
        batch: row.get(1)?,
        sku: row.get(2)?,
        qty: row.get(3)?,
        offered_at: row.get(4)?,
        seq: row.get(5)?,
        withdrawn_at: row.get(6)?,
    })
}

/// One of the store's offers, by its id.
pub fn find(conn: &Connection, offer: &str) -> rusqlite::Result<Option<LocalOffer>> {
    conn.prepare_cached(&format!("{SELECT_OFFER} WHERE offer = ?1"))?
        .query_row([offer], offer_row)
        .optional()
}

/// The store's offers, newest first.
pub fn offers(conn: &Connection) -> rusqlite::Result<Vec<LocalOffer>> {
    conn.prepare_cached(&format!("{SELECT_OFFER} ORDER BY offer DESC"))?
        .query_map([], offer_row)?
        .collect()
}

/// Whether this store can accept a proposed transfer of its offer: the offer is not
/// withdrawn here (the alliance may not have the withdrawal yet) and the batch still
/// has the units.
pub fn can_accept(conn: &Connection, transfer: &Transfer) -> Result<(), ServiceError> {
    let (id, offer, batch, qty) = (
        transfer.transfer,
        &transfer.item.offer,
        &transfer.item.batch,
        transfer.qty,
    );
    if let Some(withdrawn_at) = find(conn, offer)?.and_then(|local| local.withdrawn_at) {
        return Err(ServiceError::Conflict(format!(
            "transfer {id}: offer {offer} was withdrawn at {withdrawn_at}; decline it"
        )));
    }
    let on_hand = catalogue::batch(conn, batch)?.map_or(0, |batch| batch.qty_on_hand);
    if on_hand < qty {
        return Err(ServiceError::Conflict(format!(
            "transfer {id}: {qty} units, batch {batch} has {on_hand} on hand; decline it"
        )));
    }
    Ok(())
}

/// A transfer this store accepted, recorded now or by an earlier pull.
pub fn record_accepted(
    conn: &mut Connection,
    transfer: &Transfer,
    store: &str,
    now: i64,
) -> Result<Recorded, ServiceError> {
    match record(conn, transfer, store, now)? {
        Some(recorded) => Ok(recorded),
        None => recorded(conn, transfer.transfer)?.ok_or_else(|| {
            ServiceError::Corrupt(format!(
                "transfer {}: accepted but not recorded",
                transfer.transfer
            ))
        }),
    }
}

/// An accepted transfer as this store recorded it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Recorded {
    pub transfer: i64,
    /// `out` (this store sent the units) or `in`.
    pub direction: String,
    /// The batch on this side: the offered batch, or the one the units arrived as.
    pub batch: String,
    pub other_store: String,
    /// Units recorded; fewer than the transfer's when the batch sold out first.
    pub qty: u32,
    pub recorded_at: i64,
}

/// Where the transfer's units arrive when the receiving store has a batch of that
/// code already: its own delivery with the same code, or the units of an earlier
/// transfer from the same store (which they join, unless the batch's units would then
/// not fit its u32 counts).
fn arriving_batch(conn: &Connection, transfer: &Transfer) -> rusqlite::Result<String> {
    let (batch, from) = (&transfer.item.batch, &transfer.from_store);
    let supplier = format!("alliance:{from}");
    for code in [
        batch.clone(),
        format!("{batch}@{from}"),
        format!("{batch}@{from}#{}", transfer.transfer),
    ] {
        match catalogue::batch(conn, &code)? {
            None => return Ok(code),
            Some(found)
                if found.sku == transfer.item.sku
                    && found.supplier.as_deref() == Some(&supplier)
                    && found.qty_received.checked_add(transfer.qty).is_some() =>
            {
                return Ok(code);
            }
            Some(_) => {}
        }
    }
    // The transfer's own number is in the last code, and a transfer is recorded once.
    Ok(format!("{batch}@{from}#{}", transfer.transfer))
}

/// Record an accepted transfer on this store's side, once: the units leave the offered
/// batch (`transfer-out`) or arrive as a batch of the same code (`transfer-in`, with
/// the SKU added to the catalogue if the store does not sell it yet). None when it was
/// recorded before, or when this store is neither side.
pub fn record(
    conn: &mut Connection,
    transfer: &Transfer,
    store: &str,
    now: i64,
) -> rusqlite::Result<Option<Recorded>> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let recorded = record_in(&tx, transfer, store, now)?;
    tx.commit()?;
    Ok(recorded)
}

/// The `meta` key of the last alliance decision this store pulled and recorded.
const PULLED_THROUGH: &str = "pool.decided-through";

/// The last alliance decision this store pulled: it asks for those after it.
pub fn pulled_through(conn: &Connection) -> rusqlite::Result<i64> {
    let through: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = ?1",
            [PULLED_THROUGH],
            |row| row.get(0),
        )
        .optional()?;
    Ok(through.and_then(|text| text.parse().ok()).unwrap_or(0))
}

/// Record pulled transfers, in the order they were decided, each in one transaction
/// with the advance of `pulled_through` past its decision: a crash between two loses
/// nothing and records nothing twice. What was newly recorded.
pub fn record_pulled(
    conn: &mut Connection,
    transfers: &[Transfer],
    store: &str,
    now: i64,
) -> rusqlite::Result<Vec<Recorded>> {
    let mut recorded = Vec::new();
    for transfer in transfers {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        recorded.extend(record_in(&tx, transfer, store, now)?);
        if let Some(decision) = transfer.decision {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value \
                 WHERE CAST(value AS INTEGER) < CAST(excluded.value AS INTEGER)",
                params![PULLED_THROUGH, decision.to_string()],
            )?;
        }
        tx.commit()?;
    }
    Ok(recorded)
}

fn record_in(
    tx: &Connection,
    transfer: &Transfer,
    store: &str,
    now: i64,
) -> rusqlite::Result<Option<Recorded>> {
    if transfer.state != State::Accepted {
        return Ok(None);
    }
    let direction = if transfer.from_store == store {
        "out"
    } else if transfer.to_store == store {
        "in"
    } else {
        return Ok(None);
    };
    let known: Option<i64> = tx
        .query_row(
            "SELECT transfer FROM pool_transfer WHERE transfer = ?1",
            [transfer.transfer],
            |row| row.get(0),
        )
        .optional()?;
    if known.is_some() {
        return Ok(None);
    }
    let item = &transfer.item;
    let (batch, other_store, qty, reason, reference) = if direction == "out" {
        let on_hand = catalogue::batch(tx, &item.batch)?.map_or(0, |batch| batch.qty_on_hand);
        let qty = transfer.qty.min(on_hand);
        let mut reference = format!(
            "pool transfer {} to {} (offer {})",
            transfer.transfer, transfer.to_store, item.offer
        );
        if qty < transfer.qty {
            tracing::warn!(
                transfer = transfer.transfer,
                batch = item.batch,
                accepted = transfer.qty,
                on_hand,
                "an accepted transfer finds fewer units on hand than it moves; recording what is there"
            );
            reference.push_str(&format!(": {} accepted, {qty} on hand", transfer.qty));
        }
        if qty > 0 {
            catalogue::take(tx, &item.batch, qty)?;
        }
        (
            item.batch.clone(),
            transfer.to_store.clone(),
            qty,
            "transfer-out",
            reference,
        )
    } else {
        if catalogue::sku(tx, &item.sku)?.is_none() {
            catalogue::insert_sku(
                tx,
                &Sku {
                    sku: item.sku.clone(),
                    name: item.name.clone(),
                    category: item.category.clone(),
                    unit_price: item.unit_price,
                    local_produce: item.local_produce,
                    fresh: item.fresh,
                    reusable_box: item.reusable_box,
                },
            )?;
        }
        let code = arriving_batch(tx, transfer)?;
        tx.prepare_cached(
            "INSERT INTO batch (batch, sku, supplier, received_at, expires_at, qty_received, qty_on_hand) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) \
             ON CONFLICT (batch) DO UPDATE SET qty_received = qty_received + excluded.qty_received, \
             qty_on_hand = qty_on_hand + excluded.qty_on_hand",
        )?
        .execute(params![
            code,
            item.sku,
            format!("alliance:{}", transfer.from_store),
            now,
            item.expires_at,
            transfer.qty
        ])?;
        (
            code,
            transfer.from_store.clone(),
            transfer.qty,
            "transfer-in",
            format!(
                "pool transfer {} from {} batch {} (offer {})",
                transfer.transfer, transfer.from_store, item.batch, item.offer
            ),
        )
    };
    if qty > 0 {
        catalogue::record_movement(
            tx,
            now,
            &batch,
            if direction == "out" {
                -i64::from(qty)
            } else {
                i64::from(qty)
            },
            reason,
            Some(&reference),
        )?;
    }
    tx.execute(
        "INSERT INTO pool_transfer (transfer, direction, batch, other_store, qty, recorded_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![transfer.transfer, direction, batch, other_store, qty, now],
    )?;
    Ok(Some(Recorded {
        transfer: transfer.transfer,
        direction: direction.into(),
        batch,
        other_store,
        qty,
        recorded_at: now,
    }))
}

/// The transfer recorded under the alliance's id, if it was.
pub fn recorded(conn: &Connection, transfer: i64) -> rusqlite::Result<Option<Recorded>> {
    conn.prepare_cached(
        "SELECT transfer, direction, batch, other_store, qty, recorded_at FROM pool_transfer \
         WHERE transfer = ?1",
    )?
    .query_row([transfer], |row| {
        Ok(Recorded {
            transfer: row.get(0)?,
            direction: row.get(1)?,
            batch: row.get(2)?,
            other_store: row.get(3)?,
            qty: row.get(4)?,
            recorded_at: row.get(5)?,
        })
    })
    .optional()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_780_000_000_000;

    fn milk() -> Sku {
        Sku {
            sku: "MILK".into(),
            name: "milk".into(),
            category: "dairy".into(),
            unit_price: 1200,
            local_produce: true,
            fresh: true,
            reusable_box: false,
        }
    }

    fn delivery(conn: &Connection, code: &str, sku: &str, supplier: &str, qty: u32) {
        catalogue::receive(
            conn,
            &Batch {
                batch: code.into(),
                sku: sku.into(),
                supplier: Some(supplier.into()),
                received_at: NOW - 1000,
                expires_at: Some(NOW + 86_400_000),
                qty_received: qty,
                qty_on_hand: qty,
            },
        )
        .unwrap();
    }

    fn transfer(id: i64, from: &str, to: &str, batch: &str, qty: u32) -> Transfer {
        Transfer {
            transfer: id,
            from_store: from.into(),
            to_store: to.into(),
            qty,
            state: State::Accepted,
            proposed_at: NOW,
            decided_at: Some(NOW),
            decision: Some(id),
            item: item(
                "7",
                &milk(),
                &Batch {
                    batch: batch.into(),
                    sku: "MILK".into(),
                    supplier: None,
                    received_at: NOW,
                    expires_at: Some(NOW + 86_400_000),
                    qty_received: 20,
                    qty_on_hand: 20,
                },
                20,
            ),
        }
    }

    fn on_hand(conn: &Connection, batch: &str) -> u32 {
        catalogue::batch(conn, batch).unwrap().unwrap().qty_on_hand
    }

    #[test]
    fn an_offer_and_its_event_are_written_together() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = crate::open(dir.path()).unwrap();
        catalogue::insert_sku(&conn, &milk()).unwrap();
        delivery(&conn, "L1", "MILK", "dairy-farm", 12);
        assert!(matches!(
            offer(&mut conn, "L1", 13, NOW),
            Err(ServiceError::Conflict(_))
        ));
        assert!(matches!(
            offer(&mut conn, "L9", 1, NOW),
            Err(ServiceError::NotFound(_))
        ));
        let made = offer(&mut conn, "L1", 5, NOW).unwrap();
        let pending = crate::outbox::pending(&conn, 10).unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].seq, made.seq);
        assert_eq!(pending[0].kind, Event::STOCK_OFFER);
        let sent: Item = serde_json::from_str(&pending[0].payload).unwrap();
        assert_eq!(
            sent,
            item(
                &made.offer,
                &milk(),
                &catalogue::batch(&conn, "L1").unwrap().unwrap(),
                5
            )
        );
        // Offering takes nothing off the shelf.
        assert_eq!(on_hand(&conn, "L1"), 12);
        let withdrawn = withdraw(&mut conn, &made.offer, NOW + 1).unwrap();
        assert_eq!(withdrawn.withdrawn_at, Some(NOW + 1));
        assert!(matches!(
            withdraw(&mut conn, &made.offer, NOW + 2),
            Err(ServiceError::Conflict(_))
        ));
        assert_eq!(offers(&conn).unwrap(), vec![withdrawn]);
        assert_eq!(crate::outbox::pending(&conn, 10).unwrap().len(), 2);
    }

    #[test]
    fn a_transfer_is_recorded_once_on_each_side() {
        let (dir, other) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let mut sender = crate::open(dir.path()).unwrap();
        catalogue::insert_sku(&sender, &milk()).unwrap();
        delivery(&sender, "L1", "MILK", "dairy-farm", 12);
        let sent = transfer(1, "market", "corner", "L1", 5);
        let recorded = record(&mut sender, &sent, "market", NOW).unwrap().unwrap();
        assert_eq!((recorded.direction.as_str(), recorded.qty), ("out", 5));
        assert_eq!(record(&mut sender, &sent, "market", NOW).unwrap(), None);
        assert_eq!(on_hand(&sender, "L1"), 7);
        // Sold out meanwhile: what is there is recorded, and says so.
        let late = transfer(2, "market", "corner", "L1", 9);
        assert_eq!(
            record(&mut sender, &late, "market", NOW)
                .unwrap()
                .unwrap()
                .qty,
            7
        );
        assert_eq!(on_hand(&sender, "L1"), 0);
        // Neither side: nothing.
        assert_eq!(
            record(&mut sender, &transfer(3, "a", "b", "L1", 1), "market", NOW).unwrap(),
            None
        );

        // The receiver does not sell milk yet and has its own delivery coded L1.
        let mut receiver = crate::open(other.path()).unwrap();
        catalogue::insert_sku(
            &receiver,
            &Sku {
                sku: "TOFU".into(),
                ..milk()
            },
        )
        .unwrap();
        delivery(&receiver, "L1", "TOFU", "bean-co", 3);
        let arrived = record(&mut receiver, &sent, "corner", NOW)
            .unwrap()
            .unwrap();
        assert_eq!(arrived.batch, "L1@market");
        assert_eq!(catalogue::sku(&receiver, "MILK").unwrap(), Some(milk()));
        assert_eq!(on_hand(&receiver, "L1@market"), 5);
        assert_eq!(on_hand(&receiver, "L1"), 3);
        // A second transfer of the same batch from the same store joins it.
        let again = record(
            &mut receiver,
            &transfer(4, "market", "corner", "L1", 2),
            "corner",
            NOW,
        )
        .unwrap()
        .unwrap();
        assert_eq!(again.batch, "L1@market");
        assert_eq!(on_hand(&receiver, "L1@market"), 7);
        assert_eq!(record(&mut receiver, &sent, "corner", NOW).unwrap(), None);
        assert_eq!(on_hand(&receiver, "L1@market"), 7);
        let movements = crate::sales::movements_of_batch(&receiver, "L1@market").unwrap();
        assert_eq!(movements.len(), 2);
        assert!(
            movements
                .iter()
                .all(|movement| movement.reason == "transfer-in")
        );
    }

    #[test]
    fn units_that_would_overflow_a_joined_batch_arrive_as_a_batch_of_their_own() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = crate::open(dir.path()).unwrap();
        let first = transfer(1, "market", "corner", "L1", u32::MAX - 1);
        assert_eq!(
            record(&mut conn, &first, "corner", NOW)
                .unwrap()
                .unwrap()
                .batch,
            "L1"
        );
        let second = transfer(2, "market", "corner", "L1", 2);
        let arrived = record(&mut conn, &second, "corner", NOW).unwrap().unwrap();
        assert_eq!(arrived.batch, "L1@market");
        assert_eq!(on_hand(&conn, "L1"), u32::MAX - 1);
        assert_eq!(on_hand(&conn, "L1@market"), 2);
    }

    #[test]
    fn pulled_transfers_advance_how_far_the_store_pulled() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = crate::open(dir.path()).unwrap();
        catalogue::insert_sku(&conn, &milk()).unwrap();
        assert_eq!(pulled_through(&conn).unwrap(), 0);
        let pulled = [
            transfer(3, "market", "corner", "L1", 2),
            transfer(5, "market", "corner", "L1", 1),
        ];
        let recorded = record_pulled(&mut conn, &pulled, "corner", NOW).unwrap();
        assert_eq!(recorded.len(), 2);
        assert_eq!(pulled_through(&conn).unwrap(), 5);
        // Pulled again (an answer lost before the store saw it): nothing twice, and the
        // mark never goes back.
        assert!(
            record_pulled(&mut conn, &pulled[..1], "corner", NOW)
                .unwrap()
                .is_empty()
        );
        assert_eq!(pulled_through(&conn).unwrap(), 5);
        assert_eq!(on_hand(&conn, "L1"), 3);
        // A declined transfer moves nothing.
        let declined = Transfer {
            state: State::Declined,
            ..transfer(6, "market", "corner", "L1", 4)
        };
        assert!(
            record(&mut conn, &declined, "corner", NOW)
                .unwrap()
                .is_none()
        );
    }
}
