//! The registry's database: members and their keys and namespaces, published versions.
//! Bundles themselves live in the blob directory, named by their SHA-256.

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const DB_FILE: &str = "registry.db";

const MIGRATIONS: &[&str] = &[r#"
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
"#];

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
