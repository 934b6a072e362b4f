//! The `kv` capability's keyspaces, kept in the store database (`plugin_kv`): one
//! keyspace per install, a call's writes applied in one transaction.

use linli_runtime::capabilities::kv::{KvStore, KvUsage};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// One install's keyspace in SQLite. Installs share a connection; each has its own
/// keys.
pub struct SqliteKv {
    conn: Arc<Mutex<Connection>>,
    install: String,
}

impl SqliteKv {
    pub fn new(conn: Arc<Mutex<Connection>>, install: impl Into<String>) -> SqliteKv {
        SqliteKv {
            conn,
            install: install.into(),
        }
    }
}

fn text(err: rusqlite::Error) -> String {
    err.to_string()
}

impl KvStore for SqliteKv {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        let conn = self.conn.lock().unwrap();
        let mut statement = conn
            .prepare_cached("SELECT value FROM plugin_kv WHERE install = ?1 AND key = ?2")
            .map_err(text)?;
        statement
            .query_row(params![self.install, key], |row| row.get(0))
            .optional()
            .map_err(text)
    }

    fn keys(&self, prefix: &str, limit: u32) -> Result<Vec<String>, String> {
        let conn = self.conn.lock().unwrap();
        // Keys sort as text; the range [prefix, prefix + U+10FFFF) holds those starting
        // with the prefix and keeps the index usable (no LIKE escaping).
        let mut statement = conn
            .prepare_cached(
                "SELECT key FROM plugin_kv WHERE install = ?1 AND key >= ?2 AND key < ?3 \
                 ORDER BY key LIMIT ?4",
            )
            .map_err(text)?;
        let end = format!("{prefix}\u{10FFFF}");
        let rows = statement
            .query_map(params![self.install, prefix, end, limit], |row| row.get(0))
            .map_err(text)?;
        rows.collect::<Result<Vec<String>, _>>().map_err(text)
    }

    fn usage(&self) -> Result<KvUsage, String> {
        let conn = self.conn.lock().unwrap();
        let mut statement = conn
            .prepare_cached(
                "SELECT count(*), coalesce(sum(length(CAST(key AS BLOB)) + length(value)), 0) \
                 FROM plugin_kv WHERE install = ?1",
            )
            .map_err(text)?;
        let (keys, bytes): (i64, i64) = statement
            .query_row(params![self.install], |row| Ok((row.get(0)?, row.get(1)?)))
            .map_err(text)?;
        Ok(KvUsage {
            keys: keys.max(0) as u64,
            bytes: bytes.max(0) as u64,
        })
    }

    fn apply(&self, writes: &BTreeMap<String, Option<Vec<u8>>>) -> Result<(), String> {
        let mut conn = self.conn.lock().unwrap();
        let tx = conn.transaction().map_err(text)?;
        for (key, value) in writes {
            match value {
                Some(value) => tx.execute(
                    "INSERT INTO plugin_kv (install, key, value) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (install, key) DO UPDATE SET value = excluded.value",
                    params![self.install, key, value],
                ),
                None => tx.execute(
                    "DELETE FROM plugin_kv WHERE install = ?1 AND key = ?2",
                    params![self.install, key],
                ),
            }
            .map_err(text)?;
        }
        tx.commit().map_err(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyspaces_are_per_install_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Arc::new(Mutex::new(crate::open(dir.path()).unwrap()));
        let counter = SqliteKv::new(conn.clone(), "counter");
        let other = SqliteKv::new(conn.clone(), "other");
        let writes = BTreeMap::from([
            ("visits".to_string(), Some(b"3".to_vec())),
            ("visits/2026-11-25".to_string(), Some(b"1".to_vec())),
            ("gone".to_string(), None),
        ]);
        counter.apply(&writes).unwrap();
        assert_eq!(counter.get("visits").unwrap(), Some(b"3".to_vec()));
        assert_eq!(other.get("visits").unwrap(), None);
        assert_eq!(
            counter.keys("visits", 10).unwrap(),
            ["visits", "visits/2026-11-25"]
        );
        assert_eq!(counter.keys("visits/", 10).unwrap(), ["visits/2026-11-25"]);
        // Bytes count each key and value: "visits" + "3", "visits/2026-11-25" + "1".
        assert_eq!(
            counter.usage().unwrap(),
            KvUsage {
                keys: 2,
                bytes: 7 + 18
            }
        );
        drop((counter, other, conn));

        let conn = Arc::new(Mutex::new(crate::open(dir.path()).unwrap()));
        let counter = SqliteKv::new(conn, "counter");
        assert_eq!(counter.get("visits").unwrap(), Some(b"3".to_vec()));
        counter
            .apply(&BTreeMap::from([("visits".to_string(), None)]))
            .unwrap();
        assert_eq!(counter.usage().unwrap().keys, 1);
    }
}
