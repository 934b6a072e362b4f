//! The store's SQLite database: one file in the data directory, WAL mode, migrations
//! by `PRAGMA user_version`.
//!
//! `synchronous = FULL`: the box sits in a back room where power cuts happen; a sale
//! the till was told is recorded must survive one. WAL keeps that affordable (one sync
//! of the log per commit, readers never blocked by the writer).

pub mod catalogue;
pub mod delivery;
pub mod installs;
pub mod inventory;
pub mod kv;
pub mod outbox;
pub mod points;
pub mod pool;
pub mod presale;
pub mod readers;
pub mod reports;
pub mod sales;
mod schema;
pub mod sensors;
pub mod sharing;
pub mod text;
pub mod trust;

use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// Take a lock even when a thread panicked while holding it: each of the store's and
/// the daemon's mutexes guards a connection, a queue or a cache that a panic leaves
/// usable.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The database file's name inside the data directory.
pub const DB_FILE: &str = "linli.db";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("database {path}: migration {version} failed: {source}")]
    Migrate {
        path: PathBuf,
        version: usize,
        source: rusqlite::Error,
    },
    #[error(
        "database {path} is at schema version {found}, newer than this linli ({known}); upgrade linli"
    )]
    TooNew {
        path: PathBuf,
        found: usize,
        known: usize,
    },
}

/// Why a store service did not do what it was asked: a refusal naming what is wrong,
/// which the API answers with its status, or the database failing.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// No such campaign, batch, offer…
    #[error("{0}")]
    NotFound(String),
    /// The request clashes with what the store has: already done, too few units.
    #[error("{0}")]
    Conflict(String),
    /// A field is missing or out of range.
    #[error("{0}")]
    Invalid(String),
    /// What the store holds cannot be read (a stored record, a time).
    #[error("{0}")]
    Corrupt(String),
    #[error("database: {0}")]
    Database(#[from] rusqlite::Error),
}

/// Open (creating if needed) the store database in `data_dir` and bring its schema up
/// to date.
pub fn open(data_dir: &Path) -> Result<Connection, StoreError> {
    open_file(&data_dir.join(DB_FILE))
}

/// Open (creating if needed) a store database file and bring its schema up to date.
pub fn open_file(path: &Path) -> Result<Connection, StoreError> {
    let path = path.to_owned();
    let open_error = |source| StoreError::Open {
        path: path.clone(),
        source,
    };
    let mut conn = Connection::open_with_flags(
        &path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
    )
    .map_err(open_error)?;
    configure(&conn).map_err(open_error)?;
    migrate(&mut conn, &path)?;
    Ok(conn)
}

/// The store database as the daemon shares it between requests: one connection for
/// writes (SQLite has one writer at a time anyway) and a pool of read-only connections,
/// so reads (quotes, lists, traces) neither wait for a write nor for each other (WAL).
pub struct Db {
    path: PathBuf,
    writer: Mutex<Connection>,
    /// Copies the log into the database file, off the write path (see `checkpoint`).
    checkpointer: Mutex<Connection>,
    /// Idle read connections; one is opened when none is idle, and kept afterwards.
    readers: Mutex<Vec<Connection>>,
}

impl Db {
    /// Share the database `writer` is open on (made current by `open`).
    pub fn new(writer: Connection) -> Result<Self, StoreError> {
        let path = writer
            .path()
            .map(PathBuf::from)
            .filter(|path| !path.as_os_str().is_empty())
            .ok_or_else(|| StoreError::Open {
                path: PathBuf::from(":memory:"),
                source: rusqlite::Error::InvalidPath("an in-memory database has no readers".into()),
            })?;
        // Copying the log into the database file (a checkpoint) is `checkpoint`'s job,
        // every second on its own connection; a commit does it only once the log has
        // grown to 4096 pages, so the log stays bounded while writes never stop.
        // SQLite's default (every 1000 pages, at commit) took a third of a busy sensor
        // ingest. A bigger page cache keeps a large batch's pages from spilling into
        // the log before its commit.
        let setup = |source| StoreError::Open {
            path: path.clone(),
            source,
        };
        writer
            .pragma_update(None, "wal_autocheckpoint", 4096)
            .and_then(|_| writer.pragma_update(None, "cache_size", -8192))
            .map_err(setup)?;
        let checkpointer =
            Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_WRITE).map_err(setup)?;
        configure(&checkpointer).map_err(setup)?;
        Ok(Db {
            path,
            writer: Mutex::new(writer),
            checkpointer: Mutex::new(checkpointer),
            readers: Mutex::new(Vec::new()),
        })
    }

    /// The write connection, for as long as the guard lives.
    pub fn writer(&self) -> MutexGuard<'_, Connection> {
        crate::lock(&self.writer)
    }

    /// Copy what the log holds into the database file as far as no reader still needs
    /// it (a passive checkpoint: it waits for no reader and no writer); when every
    /// frame was copied, the log starts over from its beginning. The daemon calls this
    /// every second.
    pub fn checkpoint(&self) -> rusqlite::Result<()> {
        let conn = crate::lock(&self.checkpointer);
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
    }

    /// Run `work` in a read transaction on a pooled read-only connection: every query
    /// of the work sees the same snapshot, and the file's read lock is taken once.
    pub fn read<T, E>(&self, work: impl FnOnce(&Connection) -> Result<T, E>) -> Result<T, E>
    where
        E: From<rusqlite::Error> + From<StoreError>,
    {
        let idle = crate::lock(&self.readers).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => open_reader(&self.path)?,
        };
        // BEGIN and ROLLBACK as cached statements: a quote makes this round trip on every
        // request, and `Connection::transaction` parses both statements again each time.
        // Should `work` panic, the connection is dropped with its transaction, not pooled.
        conn.prepare_cached("BEGIN")?.execute([])?;
        let result = work(&conn);
        // Nothing was written: ending the transaction only releases the snapshot.
        conn.prepare_cached("ROLLBACK")?.execute([])?;
        crate::lock(&self.readers).push(conn);
        result
    }
}

/// A read-only connection to a database `open` has already made current.
fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let open_error = |source| StoreError::Open {
        path: path.to_owned(),
        source,
    };
    let conn =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE).map_err(open_error)?;
    configure(&conn).map_err(open_error)?;
    conn.pragma_update(None, "query_only", true)
        .map_err(open_error)?;
    Ok(conn)
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Another connection writing (the kv store during a call) waits, not fails.
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let found: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(|source| StoreError::Open {
            path: path.to_owned(),
            source,
        })?;
    let found = usize::try_from(found).unwrap_or(usize::MAX);
    if found > schema::MIGRATIONS.len() {
        return Err(StoreError::TooNew {
            path: path.to_owned(),
            found,
            known: schema::MIGRATIONS.len(),
        });
    }
    for (index, sql) in schema::MIGRATIONS.iter().enumerate().skip(found) {
        let version = index + 1;
        let failed = |source| StoreError::Migrate {
            path: path.to_owned(),
            version,
            source,
        };
        let tx = conn.transaction().map_err(failed)?;
        tx.execute_batch(sql).map_err(failed)?;
        tx.pragma_update(None, "user_version", version as i64)
            .map_err(failed)?;
        tx.commit().map_err(failed)?;
        tracing::info!(version, "database migrated");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_run_once_and_a_newer_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(dir.path()).unwrap();
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .unwrap();
        assert_eq!(version as usize, schema::MIGRATIONS.len());
        drop(conn);
        open(dir.path()).expect("reopening runs nothing");
        let conn = open(dir.path()).unwrap();
        conn.pragma_update(None, "user_version", 999).unwrap();
        drop(conn);
        let err = open(dir.path()).unwrap_err();
        assert!(err.to_string().contains("upgrade linli"), "{err}");
    }
}
