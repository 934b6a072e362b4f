//! Event intake: the events alliance stores push, each (store, seq) kept once and the
//! pool's applied with it, in one transaction; the store's acknowledgement advanced to
//! the highest seq with no gap below it.

use crate::{db, pool};
use linli_alliance::{Envelope, Event};
use rusqlite::{Connection, Transaction};

/// Keep a store's events, each (store, seq) once, in one transaction, apply each the
/// first time it is kept, and advance the store's acknowledgement to the highest seq
/// with no gap below it.
pub fn receive(
    conn: &mut Connection,
    store: &str,
    events: &[Envelope],
    now: i64,
) -> rusqlite::Result<i64> {
    let tx = conn.transaction()?;
    let mut kept = 0;
    for event in events {
        if db::keep_event(&tx, store, event, now)? {
            kept += 1;
            apply(&tx, store, event)?;
        }
    }
    let acked = db::note_push(&tx, store, kept, now)?;
    tx.commit()?;
    Ok(acked)
}

/// Apply one event, the first time the server keeps it (in the same transaction). Sales
/// and reports only wait to be read (`reports`). An event of a kind the server does
/// not know, or whose payload it cannot read, is kept and logged, not applied:
/// refusing it would hold every later event of the store.
fn apply(tx: &Transaction, store: &str, event: &Envelope) -> rusqlite::Result<()> {
    match event.event() {
        Ok(Event::StockOffer(item)) if item.qty == 0 => {
            tracing::warn!(store, seq = event.seq, "stock offer of 0 units not applied")
        }
        Ok(Event::StockOffer(item)) => pool::add_offer(tx, store, &item, event.at)?,
        Ok(Event::StockOfferWithdrawn(withdrawn)) => {
            pool::withdraw_offer(tx, store, &withdrawn.offer, event.at)?
        }
        Ok(Event::DailySales(_) | Event::SharingReport(_)) => {}
        Err(err) => tracing::warn!(store, seq = event.seq, "event kept, not applied: {err}"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use linli_alliance::StockOfferWithdrawn;

    fn event(seq: i64) -> Envelope {
        let withdrawn = Event::StockOfferWithdrawn(StockOfferWithdrawn {
            offer: format!("o{seq}"),
        });
        Envelope::new(seq, seq, &withdrawn)
    }

    /// A registry with one store, `corner`.
    fn corner() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let conn = db::open(dir.path()).unwrap();
        let key = linli_sdk::bundle::SecretKey::generate().unwrap().public();
        db::add_store(&conn, "corner", &key, 0).unwrap();
        (dir, conn)
    }

    #[test]
    fn events_are_kept_once_and_acknowledged_up_to_the_first_gap() {
        let (_dir, mut conn) = corner();
        assert_eq!(
            receive(&mut conn, "corner", &[event(1), event(2)], 1).unwrap(),
            2
        );
        // 4 waits for 3; a resent 2 changes nothing.
        assert_eq!(
            receive(&mut conn, "corner", &[event(2), event(4)], 2).unwrap(),
            2
        );
        assert_eq!(receive(&mut conn, "corner", &[event(3)], 3).unwrap(), 4);
        let stores = db::stores(&conn).unwrap();
        assert_eq!(stores[0].acked, 4);
        assert_eq!(stores[0].events, 4);
        assert_eq!(stores[0].pushed_at, Some(3));
    }

    #[test]
    fn an_event_the_server_cannot_read_is_kept_and_acknowledged() {
        let (_dir, mut conn) = corner();
        let unknown = Envelope {
            kind: "price-change".into(),
            ..event(1)
        };
        let unreadable = Envelope {
            kind: Event::STOCK_OFFER.into(),
            payload: serde_json::json!({"offer": "o2"}),
            ..event(2)
        };
        assert_eq!(
            receive(&mut conn, "corner", &[unknown, unreadable, event(3)], 1).unwrap(),
            3
        );
        assert_eq!(db::stores(&conn).unwrap()[0].events, 3);
    }
}
