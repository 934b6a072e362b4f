//! The outbox: events for the alliance, written in the same transaction as the change
//! they tell of, numbered by `seq` (AUTOINCREMENT, so never reused) and marked acked
//! once the alliance server has them. Acked rows stay: the seq of the last one is what
//! keeps the next number from going back.

use rusqlite::{Connection, params};

/// One event waiting for the alliance.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub seq: i64,
    pub at: i64,
    pub kind: String,
    /// JSON text.
    pub payload: String,
}

/// The oldest `limit` events not acknowledged, in seq order.
pub fn pending(conn: &Connection, limit: usize) -> rusqlite::Result<Vec<Pending>> {
    conn.prepare_cached(
        "SELECT seq, at, kind, payload FROM outbox WHERE acked = 0 ORDER BY seq LIMIT ?1",
    )?
    .query_map([limit as i64], |row| {
        Ok(Pending {
            seq: row.get(0)?,
            at: row.get(1)?,
            kind: row.get(2)?,
            payload: row.get(3)?,
        })
    })?
    .collect()
}

/// How many events wait for the alliance.
pub fn pending_count(conn: &Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached("SELECT COUNT(*) FROM outbox WHERE acked = 0")?
        .query_row([], |row| row.get(0))
}

/// Mark every event up to `seq` acknowledged; how many were not yet.
pub fn acknowledge(conn: &Connection, seq: i64) -> rusqlite::Result<usize> {
    conn.prepare_cached("UPDATE outbox SET acked = 1 WHERE acked = 0 AND seq <= ?1")?
        .execute(params![seq])
}
