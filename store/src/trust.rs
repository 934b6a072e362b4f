//! The trust store: the publisher keys whose signed bundles this store installs.

use linli_sdk::bundle::PublicKey;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

/// A trusted publisher key.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrustedKey {
    /// `ed25519:` and 16 hex digits: how the key is named everywhere.
    pub key_id: String,
    pub public_key: String,
    /// Who the key belongs to, as the store owner wrote it.
    pub label: String,
    pub added_at: i64,
}

/// Trust a key; false when it already was.
pub fn add(conn: &Connection, key: &PublicKey, label: &str, at: i64) -> rusqlite::Result<bool> {
    let added = conn.execute(
        "INSERT OR IGNORE INTO trusted_key (key_id, public_key, label, added_at) VALUES (?1, ?2, ?3, ?4)",
        params![key.id(), key.to_hex(), label, at],
    )?;
    Ok(added == 1)
}

/// Stop trusting a key, by its id; false when it was not trusted.
pub fn remove(conn: &Connection, key_id: &str) -> rusqlite::Result<bool> {
    Ok(conn.execute("DELETE FROM trusted_key WHERE key_id = ?1", [key_id])? == 1)
}

pub fn list(conn: &Connection) -> rusqlite::Result<Vec<TrustedKey>> {
    let mut statement = conn.prepare_cached(
        "SELECT key_id, public_key, label, added_at FROM trusted_key ORDER BY added_at, key_id",
    )?;
    statement
        .query_map([], |row| {
            Ok(TrustedKey {
                key_id: row.get(0)?,
                public_key: row.get(1)?,
                label: row.get(2)?,
                added_at: row.get(3)?,
            })
        })?
        .collect()
}

/// Whether bundles signed by `key` are installed here.
pub fn is_trusted(conn: &Connection, key: &PublicKey) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT 1 FROM trusted_key WHERE public_key = ?1")?
        .query_row([key.to_hex()], |_| Ok(()))
        .optional()
        .map(|found| found.is_some())
}
