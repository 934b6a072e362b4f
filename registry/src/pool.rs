//! The alliance's shared stock pool (跨社区互助库存池).
//!
//! A store offers surplus of a batch through its outbox (`stock-offer` events, and
//! `stock-offer-withdrawn`); the server applies each event once, with the event. A
//! store short of a SKU searches the open offers within a radius of its registered
//! location, proposes a transfer of some units, and the offering store accepts or
//! declines it. The server arbitrates: accepting takes the units from the offer in one
//! transaction, so the same units are never accepted twice. Both stores then record
//! the accepted transfer as a stock movement of the batch, each once, by its id.

use linli_alliance::Item;
pub use linli_alliance::{Offer, State, Transfer};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

/// Why the pool refuses a call; each says what is wrong and what to do.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// No such store, offer or transfer.
    #[error("{0}")]
    NotFound(String),
    /// A store decides a transfer of another store's offer.
    #[error("{0}")]
    NotYours(String),
    /// The offer or transfer is not in a state that allows it (withdrawn, expired,
    /// too few units left, already decided).
    #[error("{0}")]
    Conflict(String),
    /// The call itself is wrong (no units, the store's own offer, no location).
    #[error("{0}")]
    Invalid(String),
    /// A kept offer no longer reads as one.
    #[error("{0}")]
    Unreadable(String),
    #[error("database: {0}")]
    Database(#[from] rusqlite::Error),
}

/// Add an offer a store's `stock-offer` event describes (its first arrival; once per
/// (store, offer)).
pub fn add_offer(conn: &Connection, store: &str, item: &Item, at: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO pool_offer (store, offer, sku, batch, qty, expires_at, item, offered_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (store, offer) DO NOTHING",
    )?
    .execute(params![
        store,
        item.offer,
        item.sku,
        item.batch,
        item.qty,
        item.expires_at,
        serde_json::to_string(item).expect("offers serialise"),
        at
    ])?;
    Ok(())
}

/// Take a store's offer back, as its `stock-offer-withdrawn` event says.
pub fn withdraw_offer(
    conn: &Connection,
    store: &str,
    offer: &str,
    at: i64,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE pool_offer SET withdrawn_at = ?3 \
         WHERE store = ?1 AND offer = ?2 AND withdrawn_at IS NULL",
    )?
    .execute(params![store, offer, at])?;
    Ok(())
}

/// Set where a store is.
pub fn locate(conn: &Connection, store: &str, latitude: f64, longitude: f64) -> Result<(), String> {
    if !(-90.0..=90.0).contains(&latitude) {
        return Err(format!("latitude {latitude}: between -90 and 90 degrees"));
    }
    if !(-180.0..=180.0).contains(&longitude) {
        return Err(format!(
            "longitude {longitude}: between -180 and 180 degrees"
        ));
    }
    conn.execute(
        "UPDATE alliance_store SET latitude = ?2, longitude = ?3 WHERE name = ?1",
        params![store, latitude, longitude],
    )
    .map_err(|err| err.to_string())?;
    Ok(())
}

/// Great-circle distance in km between two points given in degrees.
pub fn distance_km(from: (f64, f64), to: (f64, f64)) -> f64 {
    const EARTH_RADIUS_KM: f64 = 6371.0;
    let (lat1, lat2) = (from.0.to_radians(), to.0.to_radians());
    let (dlat, dlon) = ((to.0 - from.0).to_radians(), (to.1 - from.1).to_radians());
    let a = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * a.sqrt().min(1.0).asin()
}

fn location(conn: &Connection, store: &str) -> Result<(f64, f64), PoolError> {
    let found: Option<(Option<f64>, Option<f64>)> = conn
        .query_row(
            "SELECT latitude, longitude FROM alliance_store WHERE name = ?1",
            [store],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    match found {
        Some((Some(latitude), Some(longitude))) => Ok((latitude, longitude)),
        Some(_) => Err(PoolError::Invalid(format!(
            "store {store} has no location at the alliance, so no radius can be measured from it; \
             ask the operator to set it (`linli-registry store add {store} --key FILE --lat LAT --lon LON`)"
        ))),
        None => Err(PoolError::NotFound(format!("store {store}: no such store"))),
    }
}

/// Open offers of other stores within `radius_km` of `asker`, nearest first: not
/// withdrawn, not expired, with units left; of one SKU, or of every SKU.
pub fn offers_near(
    conn: &Connection,
    asker: &str,
    sku: Option<&str>,
    radius_km: f64,
    now: i64,
) -> Result<Vec<Offer>, PoolError> {
    let here = location(conn, asker)?;
    let mut statement = conn.prepare_cached(
        "SELECT pool_offer.store, item, qty - taken, offered_at, latitude, longitude \
         FROM pool_offer JOIN alliance_store ON alliance_store.name = pool_offer.store \
         WHERE pool_offer.store != ?1 AND (?2 IS NULL OR sku = ?2) AND withdrawn_at IS NULL \
         AND taken < qty AND (expires_at IS NULL OR expires_at > ?3) \
         AND latitude IS NOT NULL AND longitude IS NOT NULL",
    )?;
    let rows = statement.query_map(params![asker, sku, now], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, u32>(2)?,
            row.get::<_, i64>(3)?,
            (row.get::<_, f64>(4)?, row.get::<_, f64>(5)?),
        ))
    })?;
    let mut offers = Vec::new();
    for row in rows {
        let (store, item, available, offered_at, there) = row?;
        let distance = distance_km(here, there);
        if distance > radius_km {
            continue;
        }
        let item = item_of(&item)?;
        offers.push(Offer {
            store,
            item,
            available,
            distance_km: (distance * 100.0).round() / 100.0,
            offered_at,
        });
    }
    offers.sort_by(|a, b| a.distance_km.total_cmp(&b.distance_km));
    Ok(offers)
}

fn item_of(text: &str) -> Result<Item, PoolError> {
    serde_json::from_str(text)
        .map_err(|err| PoolError::Unreadable(format!("a kept offer is unreadable: {err}")))
}

const TRANSFER: &str = "SELECT transfer, pool_transfer.store, to_store, pool_transfer.qty, state, \
     proposed_at, decided_at, decision, item \
     FROM pool_transfer JOIN pool_offer \
     ON pool_offer.store = pool_transfer.store AND pool_offer.offer = pool_transfer.offer";

fn transfer_row(row: &rusqlite::Row) -> rusqlite::Result<(Transfer, String)> {
    let state: String = row.get(4)?;
    Ok((
        Transfer {
            transfer: row.get(0)?,
            from_store: row.get(1)?,
            to_store: row.get(2)?,
            qty: row.get(3)?,
            state: State::parse(&state).unwrap_or(State::Proposed),
            proposed_at: row.get(5)?,
            decided_at: row.get(6)?,
            decision: row.get(7)?,
            // Read from the `item` text by `with_item`.
            item: Item::default(),
        },
        row.get(8)?,
    ))
}

fn with_item((mut transfer, item): (Transfer, String)) -> Result<Transfer, PoolError> {
    transfer.item = item_of(&item)?;
    Ok(transfer)
}

/// Transfers, newest first: those a store sends or receives (or every store's), in one
/// state (or all). With `decided_after`, only those decided after that decision, in the
/// order they were decided: what a store has yet to record.
pub fn transfers(
    conn: &Connection,
    store: Option<&str>,
    state: Option<State>,
    decided_after: Option<i64>,
) -> Result<Vec<Transfer>, PoolError> {
    let mut statement = conn.prepare_cached(&format!(
        "{TRANSFER} WHERE (?1 IS NULL OR pool_transfer.store = ?1 OR to_store = ?1) \
         AND (?2 IS NULL OR state = ?2) AND (?3 IS NULL OR decision > ?3) \
         ORDER BY CASE WHEN ?3 IS NULL THEN -transfer ELSE decision END"
    ))?;
    let rows = statement
        .query_map(
            params![store, state.map(State::as_str), decided_after],
            transfer_row,
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter().map(with_item).collect()
}

fn transfer(tx: &Connection, id: i64) -> Result<Transfer, PoolError> {
    let row = tx
        .prepare_cached(&format!("{TRANSFER} WHERE transfer = ?1"))?
        .query_row([id], transfer_row)
        .optional()?
        .ok_or_else(|| PoolError::NotFound(format!("transfer {id}: no such transfer")))?;
    with_item(row)
}

/// Units of an offer still free to accept, and whether the offer is open at all.
fn open_units(tx: &Connection, store: &str, offer: &str, now: i64) -> Result<u32, PoolError> {
    let found: Option<(u32, u32, Option<i64>, Option<i64>)> = tx
        .prepare_cached(
            "SELECT qty, taken, expires_at, withdrawn_at FROM pool_offer WHERE store = ?1 AND offer = ?2",
        )?
        .query_row(params![store, offer], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })
        .optional()?;
    let (qty, taken, expires_at, withdrawn_at) = found.ok_or_else(|| {
        PoolError::NotFound(format!(
            "offer {offer} of store {store}: no such offer (it reaches the alliance with the store's next push)"
        ))
    })?;
    if withdrawn_at.is_some() {
        return Err(PoolError::Conflict(format!(
            "offer {offer} of store {store} was withdrawn"
        )));
    }
    if expires_at.is_some_and(|expires| expires <= now) {
        return Err(PoolError::Conflict(format!(
            "offer {offer} of store {store}: its batch has expired"
        )));
    }
    Ok(qty - taken)
}

/// `to_store` asks for `qty` units of an offer: a proposed transfer, for the offering
/// store to accept or decline.
pub fn propose(
    conn: &mut Connection,
    to_store: &str,
    store: &str,
    offer: &str,
    qty: u32,
    now: i64,
) -> Result<Transfer, PoolError> {
    if qty == 0 {
        return Err(PoolError::Invalid(
            "qty: a transfer moves at least 1 unit".into(),
        ));
    }
    if store == to_store {
        return Err(PoolError::Invalid(format!(
            "offer {offer} is store {store}'s own; a store does not transfer to itself"
        )));
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let available = open_units(&tx, store, offer, now)?;
    if qty > available {
        return Err(PoolError::Conflict(format!(
            "qty: {qty} units asked, offer {offer} of store {store} has {available} left"
        )));
    }
    tx.execute(
        "INSERT INTO pool_transfer (store, offer, to_store, qty, state, proposed_at) \
         VALUES (?1, ?2, ?3, ?4, 'proposed', ?5)",
        params![store, offer, to_store, qty, now],
    )?;
    let proposed = transfer(&tx, tx.last_insert_rowid())?;
    tx.commit()?;
    Ok(proposed)
}

/// The offering store accepts or declines a proposed transfer. Accepting takes the
/// units from the offer in the same transaction, so two transfers can never both have
/// the same units. Deciding again the way it was decided answers the transfer as it is
/// (a retry after a lost answer); the other way is refused.
pub fn decide(
    conn: &mut Connection,
    store: &str,
    id: i64,
    accept: bool,
    now: i64,
) -> Result<Transfer, PoolError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found = transfer(&tx, id)?;
    if found.from_store != store {
        return Err(PoolError::NotYours(format!(
            "transfer {id} is of store {}'s offer; only that store decides it",
            found.from_store
        )));
    }
    let wanted = if accept {
        State::Accepted
    } else {
        State::Declined
    };
    match found.state {
        state if state == wanted => return Ok(found),
        State::Proposed => {}
        state => {
            return Err(PoolError::Conflict(format!(
                "transfer {id} was already {}",
                state.as_str()
            )));
        }
    }
    if accept {
        let available = open_units(&tx, &found.from_store, &found.item.offer, now)?;
        if found.qty > available {
            return Err(PoolError::Conflict(format!(
                "transfer {id}: {} units, offer {} has {available} left (other transfers took the rest); decline it",
                found.qty, found.item.offer
            )));
        }
        tx.execute(
            "UPDATE pool_offer SET taken = taken + ?3 WHERE store = ?1 AND offer = ?2",
            params![found.from_store, found.item.offer, found.qty],
        )?;
    }
    tx.execute(
        "UPDATE pool_transfer SET state = ?2, decided_at = ?3, \
         decision = (SELECT COALESCE(MAX(decision), 0) + 1 FROM pool_transfer) WHERE transfer = ?1",
        params![id, wanted.as_str(), now],
    )?;
    let decided = transfer(&tx, id)?;
    tx.commit()?;
    Ok(decided)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::{db, events};
    use linli_alliance::{Envelope, Event, StockOfferWithdrawn};
    use linli_sdk::bundle::SecretKey;

    pub(crate) const NOW: i64 = 1_780_000_000_000;

    /// Three stores: `corner` and `market` 2 km apart in Shanghai, `far` 30 km off.
    pub(crate) fn alliance() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let conn = db::open(dir.path()).unwrap();
        for (name, at) in [
            ("corner", (31.2304, 121.4737)),
            ("market", (31.2484, 121.4737)),
            ("far", (31.5, 121.4737)),
        ] {
            let key = SecretKey::generate().unwrap().public();
            db::add_store(&conn, name, &key, 0).unwrap();
            locate(&conn, name, at.0, at.1).unwrap();
        }
        (dir, conn)
    }

    fn offer(conn: &mut Connection, store: &str, seq: i64, offer: &str, qty: u32) {
        let item = Item {
            offer: offer.into(),
            sku: "MILK-1L".into(),
            name: "milk".into(),
            category: "dairy".into(),
            unit_price: 1200,
            fresh: true,
            batch: format!("B-{offer}"),
            qty,
            expires_at: Some(NOW + 86_400_000),
            ..Item::default()
        };
        let event = Envelope::new(seq, NOW, &Event::StockOffer(item));
        events::receive(conn, store, &[event], NOW).unwrap();
    }

    #[test]
    fn offers_are_found_within_the_radius_nearest_first() {
        let (_dir, mut conn) = alliance();
        offer(&mut conn, "market", 1, "o1", 10);
        offer(&mut conn, "far", 1, "o2", 10);
        let near = offers_near(&conn, "corner", Some("MILK-1L"), 5.0, NOW).unwrap();
        assert_eq!(near.len(), 1);
        assert_eq!(near[0].store, "market");
        assert!(
            (near[0].distance_km - 2.0).abs() < 0.05,
            "{}",
            near[0].distance_km
        );
        assert_eq!(
            offers_near(&conn, "corner", None, 50.0, NOW).unwrap().len(),
            2
        );
        // Its own offers are not offered back to a store; other SKUs are not asked for.
        assert!(
            offers_near(&conn, "market", Some("MILK-1L"), 5.0, NOW)
                .unwrap()
                .is_empty()
        );
        assert!(
            offers_near(&conn, "corner", Some("EGGS"), 5.0, NOW)
                .unwrap()
                .is_empty()
        );
        // Expired batches are not offered.
        assert!(
            offers_near(&conn, "corner", None, 50.0, NOW + 2 * 86_400_000)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn the_same_units_are_never_accepted_twice() {
        let (_dir, mut conn) = alliance();
        offer(&mut conn, "market", 1, "o1", 10);
        let first = propose(&mut conn, "corner", "market", "o1", 6, NOW).unwrap();
        let second = propose(&mut conn, "far", "market", "o1", 6, NOW).unwrap();
        assert_eq!(first.state, State::Proposed);
        // Only the offering store decides.
        assert!(matches!(
            decide(&mut conn, "corner", first.transfer, true, NOW),
            Err(PoolError::NotYours(_))
        ));
        let accepted = decide(&mut conn, "market", first.transfer, true, NOW).unwrap();
        assert_eq!(accepted.state, State::Accepted);
        // A retry after a lost answer gets the same transfer; the rest is refused.
        assert_eq!(
            decide(&mut conn, "market", first.transfer, true, NOW + 1).unwrap(),
            accepted
        );
        let refused = decide(&mut conn, "market", second.transfer, true, NOW).unwrap_err();
        assert!(refused.to_string().contains("4 left"), "{refused}");
        assert!(matches!(
            decide(&mut conn, "market", first.transfer, false, NOW),
            Err(PoolError::Conflict(_))
        ));
        let declined = decide(&mut conn, "market", second.transfer, false, NOW).unwrap();
        assert_eq!(declined.state, State::Declined);
        assert_eq!(
            offers_near(&conn, "corner", None, 5.0, NOW).unwrap()[0].available,
            4
        );
        assert_eq!(
            transfers(&conn, Some("corner"), Some(State::Accepted), None)
                .unwrap()
                .len(),
            1
        );
        assert_eq!(transfers(&conn, None, None, None).unwrap().len(), 2);
        // Decisions are numbered in the order they were made; a store pulls from its
        // last one on.
        assert_eq!((accepted.decision, declined.decision), (Some(1), Some(2)));
        let after = transfers(&conn, Some("market"), None, Some(1)).unwrap();
        assert_eq!(after, vec![declined.clone()]);
        assert!(transfers(&conn, None, None, Some(2)).unwrap().is_empty());
        // Asking for more than is left, or from a withdrawn offer, is refused at once.
        assert!(propose(&mut conn, "corner", "market", "o1", 5, NOW).is_err());
        let withdrawn = Event::StockOfferWithdrawn(StockOfferWithdrawn { offer: "o1".into() });
        let withdrawn = Envelope::new(2, NOW, &withdrawn);
        events::receive(&mut conn, "market", &[withdrawn], NOW).unwrap();
        let refused = propose(&mut conn, "corner", "market", "o1", 1, NOW).unwrap_err();
        assert!(refused.to_string().contains("withdrawn"), "{refused}");
    }

    #[test]
    fn a_resent_offer_is_applied_once() {
        let (_dir, mut conn) = alliance();
        offer(&mut conn, "market", 1, "o1", 10);
        let first = propose(&mut conn, "corner", "market", "o1", 10, NOW).unwrap();
        decide(&mut conn, "market", first.transfer, true, NOW).unwrap();
        // The same seq again (a resent batch) does not bring the units back.
        offer(&mut conn, "market", 1, "o1", 10);
        assert!(
            offers_near(&conn, "corner", None, 5.0, NOW)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_store_without_a_location_is_told_how_to_get_one() {
        let (_dir, conn) = alliance();
        let key = SecretKey::generate().unwrap().public();
        db::add_store(&conn, "nowhere", &key, 0).unwrap();
        let err = offers_near(&conn, "nowhere", None, 5.0, NOW).unwrap_err();
        assert!(matches!(err, PoolError::Invalid(_)), "{err}");
        assert!(err.to_string().contains("--lat LAT --lon LON"), "{err}");
        assert!(
            locate(&conn, "nowhere", 91.0, 0.0)
                .unwrap_err()
                .contains("latitude")
        );
    }

    #[test]
    fn distances_are_great_circle_km() {
        // Shanghai People's Square to the Bund: about 1.6 km.
        let d = distance_km((31.2304, 121.4737), (31.2400, 121.4900));
        assert!((1.5..2.0).contains(&d), "{d}");
        assert_eq!(distance_km((10.0, 10.0), (10.0, 10.0)), 0.0);
    }
}
