//! The registry's database: its schema, members and their keys and namespaces,
//! published versions; alliance stores and the events they push. Bundles themselves
//! live in the blob directory (`blobs`); the pool's queries are the pool's.

use linli_alliance::Envelope;
use linli_sdk::bundle::PublicKey;
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const DB_FILE: &str = "registry.db";

const MIGRATIONS: &[&str] = &[
    r#"
    CREATE TABLE member (
        member   TEXT PRIMARY KEY,
        added_at INTEGER NOT NULL
    );
    CREATE TABLE member_key (
        public_key TEXT PRIMARY KEY,
        key_id     TEXT NOT NULL,
        member     TEXT NOT NULL REFERENCES member(member)
    );
    CREATE TABLE namespace (
        namespace TEXT PRIMARY KEY,
        member    TEXT NOT NULL REFERENCES member(member)
    );
    -- Published versions are immutable: the primary key makes a second publish of the
    -- same version fail, whoever races whom.
    CREATE TABLE version (
        namespace    TEXT NOT NULL,
        name         TEXT NOT NULL,
        version      TEXT NOT NULL,
        major        INTEGER NOT NULL,
        minor        INTEGER NOT NULL,
        patch        INTEGER NOT NULL,
        world        TEXT NOT NULL,
        policy       TEXT NOT NULL,
        description  TEXT NOT NULL,
        sha256       TEXT NOT NULL,
        size         INTEGER NOT NULL,
        signer       TEXT NOT NULL,
        published_at INTEGER NOT NULL,
        yanked       INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (namespace, name, version)
    );
    CREATE INDEX version_name ON version (name);
"#,
    r#"
    -- Stores of the alliance: the key that signs their pushes, how far their events
    -- arrived without a gap, and when they last pushed.
    CREATE TABLE alliance_store (
        name      TEXT PRIMARY KEY,
        key       TEXT NOT NULL UNIQUE,
        added_at  INTEGER NOT NULL,
        acked     INTEGER NOT NULL DEFAULT 0,
        pushed_at INTEGER
    );
    -- Each (store, seq) is kept once, whoever sends it how often.
    CREATE TABLE alliance_event (
        store       TEXT NOT NULL REFERENCES alliance_store(name),
        seq         INTEGER NOT NULL,
        kind        TEXT NOT NULL,
        at          INTEGER NOT NULL,
        payload     TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        PRIMARY KEY (store, seq)
    ) WITHOUT ROWID;
"#,
    // The stock pool: store locations, offers, transfers.
    r#"
    -- Where a store is, for the pool's radius; registered by the operator.
    ALTER TABLE alliance_store ADD COLUMN latitude REAL;
    ALTER TABLE alliance_store ADD COLUMN longitude REAL;
    -- Offers as their stock-offer events describe them (`item` is the event's JSON),
    -- and how many of their units accepted transfers took.
    CREATE TABLE pool_offer (
        store        TEXT NOT NULL REFERENCES alliance_store(name),
        offer        TEXT NOT NULL,
        sku          TEXT NOT NULL,
        batch        TEXT NOT NULL,
        qty          INTEGER NOT NULL CHECK (qty > 0),
        taken        INTEGER NOT NULL DEFAULT 0 CHECK (taken >= 0 AND taken <= qty),
        expires_at   INTEGER,
        item         TEXT NOT NULL,
        offered_at   INTEGER NOT NULL,
        withdrawn_at INTEGER,
        PRIMARY KEY (store, offer)
    );
    CREATE INDEX pool_offer_sku ON pool_offer (sku);
    CREATE TABLE pool_transfer (
        transfer    INTEGER PRIMARY KEY,
        store       TEXT NOT NULL,
        offer       TEXT NOT NULL,
        to_store    TEXT NOT NULL REFERENCES alliance_store(name),
        qty         INTEGER NOT NULL CHECK (qty > 0),
        state       TEXT NOT NULL CHECK (state IN ('proposed', 'accepted', 'declined')),
        proposed_at INTEGER NOT NULL,
        decided_at  INTEGER,
        -- The alliance-wide order of decisions: a store pulls what was decided after
        -- the last decision it recorded.
        decision    INTEGER UNIQUE,
        FOREIGN KEY (store, offer) REFERENCES pool_offer (store, offer)
    );
    CREATE INDEX pool_transfer_store ON pool_transfer (store, state);
    CREATE INDEX pool_transfer_to_store ON pool_transfer (to_store, state);
    -- The operator's weekly view reads events by kind.
    CREATE INDEX alliance_event_kind ON alliance_event (kind);
"#,
    r#"
    -- Events kept per store, counted as they are kept, so the operator's view of the
    -- stores does not count a growing table on every request.
    ALTER TABLE alliance_store ADD COLUMN events INTEGER NOT NULL DEFAULT 0;
    UPDATE alliance_store SET events =
        (SELECT COUNT(*) FROM alliance_event WHERE alliance_event.store = alliance_store.name);
"#,
];

pub fn open(data_dir: &Path) -> Result<Connection, String> {
    let path = data_dir.join(DB_FILE);
    let mut conn =
        Connection::open(&path).map_err(|err| format!("database {}: {err}", path.display()))?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .and_then(|()| conn.pragma_update(None, "synchronous", "FULL"))
        .and_then(|()| conn.pragma_update(None, "foreign_keys", "ON"))
        .and_then(|()| conn.busy_timeout(std::time::Duration::from_secs(5)))
        .map_err(|err| format!("database {}: {err}", path.display()))?;
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(|err| format!("database {}: {err}", path.display()))?;
    let version = usize::try_from(version).unwrap_or(usize::MAX);
    if version > MIGRATIONS.len() {
        return Err(format!(
            "database {} is at schema version {version}, newer than this linli-registry; upgrade it",
            path.display()
        ));
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn
            .transaction()
            .map_err(|err| format!("database {}: {err}", path.display()))?;
        tx.execute_batch(migration)
            .and_then(|()| tx.pragma_update(None, "user_version", (index + 1) as i64))
            .and_then(|()| tx.commit())
            .map_err(|err| {
                format!(
                    "database {}: migration {}: {err}",
                    path.display(),
                    index + 1
                )
            })?;
    }
    Ok(conn)
}

/// A member of the alliance, with the keys that speak for it and the namespaces it
/// publishes under.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub member: String,
    pub keys: Vec<String>,
    pub namespaces: Vec<String>,
}

/// Add a member (or more keys and namespaces to one). A namespace another member owns
/// is refused.
pub fn add_member(
    conn: &mut Connection,
    member: &str,
    keys: &[(String, String)],
    namespaces: &[String],
    at: i64,
) -> Result<(), String> {
    let tx = conn.transaction().map_err(|err| err.to_string())?;
    tx.execute(
        "INSERT OR IGNORE INTO member (member, added_at) VALUES (?1, ?2)",
        params![member, at],
    )
    .map_err(|err| err.to_string())?;
    for (public_key, key_id) in keys {
        let owner: Option<String> = tx
            .query_row(
                "SELECT member FROM member_key WHERE public_key = ?1",
                [public_key],
                |row| row.get(0),
            )
            .optional()
            .map_err(|err| err.to_string())?;
        match owner {
            Some(owner) if owner != member => {
                return Err(format!("key {key_id} already belongs to member {owner}"));
            }
            Some(_) => {}
            None => {
                tx.execute(
                    "INSERT INTO member_key (public_key, key_id, member) VALUES (?1, ?2, ?3)",
                    params![public_key, key_id, member],
                )
                .map_err(|err| err.to_string())?;
            }
        }
    }
    for namespace in namespaces {
        let owner: Option<String> = tx
            .query_row(
                "SELECT member FROM namespace WHERE namespace = ?1",
                [namespace],
                |row| row.get(0),
            )
            .optional()
            .map_err(|err| err.to_string())?;
        match owner {
            Some(owner) if owner != member => {
                return Err(format!(
                    "namespace {namespace} already belongs to member {owner}"
                ));
            }
            Some(_) => {}
            None => {
                tx.execute(
                    "INSERT INTO namespace (namespace, member) VALUES (?1, ?2)",
                    params![namespace, member],
                )
                .map_err(|err| err.to_string())?;
            }
        }
    }
    tx.commit().map_err(|err| err.to_string())
}

pub fn members(conn: &Connection) -> rusqlite::Result<Vec<Member>> {
    let names: Vec<String> = conn
        .prepare("SELECT member FROM member ORDER BY member")?
        .query_map([], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    names
        .into_iter()
        .map(|member| {
            let keys = conn
                .prepare_cached(
                    "SELECT public_key FROM member_key WHERE member = ?1 ORDER BY public_key",
                )?
                .query_map([&member], |row| row.get(0))?
                .collect::<Result<_, _>>()?;
            let namespaces = conn
                .prepare_cached(
                    "SELECT namespace FROM namespace WHERE member = ?1 ORDER BY namespace",
                )?
                .query_map([&member], |row| row.get(0))?
                .collect::<Result<_, _>>()?;
            Ok(Member {
                member,
                keys,
                namespaces,
            })
        })
        .collect()
}

/// The member a key speaks for.
pub fn member_of_key(conn: &Connection, public_key: &str) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached("SELECT member FROM member_key WHERE public_key = ?1")?
        .query_row([public_key], |row| row.get(0))
        .optional()
}

/// The member owning a namespace.
pub fn owner_of(conn: &Connection, namespace: &str) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached("SELECT member FROM namespace WHERE namespace = ?1")?
        .query_row([namespace], |row| row.get(0))
        .optional()
}

/// One published version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Version {
    pub namespace: String,
    pub name: String,
    pub version: String,
    pub world: String,
    /// The `linli:policy` range the plugin was built for.
    pub policy: String,
    pub description: String,
    /// SHA-256 of the bundle file: what a download must hash to.
    pub sha256: String,
    pub size: i64,
    /// The public key that signed the bundle, hex.
    pub signer: String,
    pub published_at: i64,
    pub yanked: bool,
}

const VERSION_COLUMNS: &str = "namespace, name, version, world, policy, description, sha256, size, signer, published_at, yanked";

fn version_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Version> {
    Ok(Version {
        namespace: row.get(0)?,
        name: row.get(1)?,
        version: row.get(2)?,
        world: row.get(3)?,
        policy: row.get(4)?,
        description: row.get(5)?,
        sha256: row.get(6)?,
        size: row.get(7)?,
        signer: row.get(8)?,
        published_at: row.get(9)?,
        yanked: row.get(10)?,
    })
}

/// Record a version; false when that version exists (published versions never change).
pub fn insert_version(conn: &Connection, version: &Version) -> Result<bool, String> {
    let parsed = semver::Version::parse(&version.version).map_err(|err| err.to_string())?;
    let inserted = conn
        .execute(
            &format!(
                "INSERT OR IGNORE INTO version ({VERSION_COLUMNS}, major, minor, patch) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
            ),
            params![
                version.namespace,
                version.name,
                version.version,
                version.world,
                version.policy,
                version.description,
                version.sha256,
                version.size,
                version.signer,
                version.published_at,
                version.yanked,
                parsed.major as i64,
                parsed.minor as i64,
                parsed.patch as i64
            ],
        )
        .map_err(|err| err.to_string())?;
    Ok(inserted == 1)
}

/// Every version of a plugin, newest first (by semver).
pub fn versions(conn: &Connection, namespace: &str, name: &str) -> rusqlite::Result<Vec<Version>> {
    let mut found: Vec<Version> = conn
        .prepare_cached(&format!(
            "SELECT {VERSION_COLUMNS} FROM version WHERE namespace = ?1 AND name = ?2"
        ))?
        .query_map([namespace, name], version_row)?
        .collect::<Result<_, _>>()?;
    found.sort_by_key(|version| std::cmp::Reverse(semver_of(version)));
    Ok(found)
}

fn semver_of(version: &Version) -> semver::Version {
    semver::Version::parse(&version.version).unwrap_or(semver::Version::new(0, 0, 0))
}

pub fn version(
    conn: &Connection,
    namespace: &str,
    name: &str,
    version: &str,
) -> rusqlite::Result<Option<Version>> {
    conn.prepare_cached(&format!(
        "SELECT {VERSION_COLUMNS} FROM version WHERE namespace = ?1 AND name = ?2 AND version = ?3"
    ))?
    .query_row([namespace, name, version], version_row)
    .optional()
}

/// Every version of every plugin (the mirror index).
pub fn all_versions(conn: &Connection) -> rusqlite::Result<Vec<Version>> {
    conn.prepare_cached(&format!(
        "SELECT {VERSION_COLUMNS} FROM version ORDER BY namespace, name, major, minor, patch, version"
    ))?
    .query_map([], version_row)?
    .collect()
}

pub fn set_yanked(
    conn: &Connection,
    namespace: &str,
    name: &str,
    version: &str,
    yanked: bool,
) -> rusqlite::Result<bool> {
    let changed = conn.execute(
        "UPDATE version SET yanked = ?4 WHERE namespace = ?1 AND name = ?2 AND version = ?3",
        params![namespace, name, version, yanked],
    )?;
    Ok(changed == 1)
}

/// A store of the alliance, as the operator sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AllianceStore {
    pub name: String,
    /// The id of the key that signs its pushes.
    pub key_id: String,
    /// Every event 1..=acked of the store is here.
    pub acked: i64,
    /// Events received, counted once each.
    pub events: i64,
    /// When it last pushed events, unix ms; none before its first push.
    pub pushed_at: Option<i64>,
    /// Where it is, for the stock pool's radius; none until the operator sets it.
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

/// Register a store's key. Registering the same store with the same key again changes
/// nothing; another key for a known store, or a key another store has, is refused.
pub fn add_store(conn: &Connection, name: &str, key: &PublicKey, at: i64) -> Result<(), String> {
    let known: Option<String> = conn
        .query_row(
            "SELECT key FROM alliance_store WHERE name = ?1",
            [name],
            |row| row.get(0),
        )
        .optional()
        .map_err(|err| err.to_string())?;
    match known {
        Some(known) if known == key.to_hex() => return Ok(()),
        Some(_) => {
            return Err(format!(
                "store {name} is registered with another key; a store has one key"
            ));
        }
        None => {}
    }
    if let Some(other) = store_of_key(conn, &key.to_hex()).map_err(|err| err.to_string())? {
        return Err(format!("key {} is store {other}'s", key.id()));
    }
    conn.execute(
        "INSERT INTO alliance_store (name, key, added_at) VALUES (?1, ?2, ?3)",
        params![name, key.to_hex(), at],
    )
    .map_err(|err| err.to_string())?;
    Ok(())
}

/// The store a key signs for.
pub fn store_of_key(conn: &Connection, public_key: &str) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached("SELECT name FROM alliance_store WHERE key = ?1")?
        .query_row([public_key], |row| row.get(0))
        .optional()
}

pub fn stores(conn: &Connection) -> rusqlite::Result<Vec<AllianceStore>> {
    conn.prepare_cached(
        "SELECT name, key, acked, pushed_at, events, latitude, longitude \
         FROM alliance_store ORDER BY name",
    )?
    .query_map([], |row| {
        let key: String = row.get(1)?;
        Ok(AllianceStore {
            name: row.get(0)?,
            key_id: PublicKey::from_hex(&key).map(|key| key.id()).unwrap_or(key),
            acked: row.get(2)?,
            pushed_at: row.get(3)?,
            events: row.get(4)?,
            latitude: row.get(5)?,
            longitude: row.get(6)?,
        })
    })?
    .collect()
}

/// Keep one event a store pushed, in the caller's transaction: whether it is new (each
/// (store, seq) is kept once, whoever sends it how often).
pub fn keep_event(
    tx: &Transaction,
    store: &str,
    event: &Envelope,
    now: i64,
) -> rusqlite::Result<bool> {
    let new = tx
        .prepare_cached(
            "INSERT INTO alliance_event (store, seq, kind, at, payload, received_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (store, seq) DO NOTHING",
        )?
        .execute(params![
            store,
            event.seq,
            event.kind,
            event.at,
            event.payload.to_string(),
            now
        ])?;
    Ok(new == 1)
}

/// After a push kept `kept` new events of a store: advance its acknowledgement to the
/// highest seq with no gap below it, count the events and note the push. The
/// acknowledgement.
pub fn note_push(tx: &Transaction, store: &str, kept: i64, now: i64) -> rusqlite::Result<i64> {
    let mut acked: i64 = tx.query_row(
        "SELECT acked FROM alliance_store WHERE name = ?1",
        [store],
        |row| row.get(0),
    )?;
    {
        let mut after = tx.prepare_cached(
            "SELECT seq FROM alliance_event WHERE store = ?1 AND seq > ?2 ORDER BY seq",
        )?;
        let seqs = after.query_map(params![store, acked], |row| row.get::<_, i64>(0))?;
        for seq in seqs {
            let seq = seq?;
            if seq != acked + 1 {
                break;
            }
            acked = seq;
        }
    }
    tx.execute(
        "UPDATE alliance_store SET acked = ?2, pushed_at = ?3, events = events + ?4 WHERE name = ?1",
        params![store, acked, now, kept],
    )?;
    Ok(acked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_has_one_key_and_a_key_one_store() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(dir.path()).unwrap();
        let first = linli_sdk::bundle::SecretKey::generate().unwrap().public();
        let second = linli_sdk::bundle::SecretKey::generate().unwrap().public();
        add_store(&conn, "corner", &first, 0).unwrap();
        add_store(&conn, "corner", &first, 1).unwrap();
        assert!(
            add_store(&conn, "corner", &second, 2)
                .unwrap_err()
                .contains("another key")
        );
        assert!(
            add_store(&conn, "market", &first, 3)
                .unwrap_err()
                .contains("corner")
        );
    }
}
