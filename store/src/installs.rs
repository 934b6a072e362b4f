//! Plugin installs: which plugin runs under which id, in which order, with which
//! settings and grants, at which version — and every version an install has had, so an
//! upgrade can be rolled back.

use linli_runtime::shadow::Difference;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use std::collections::BTreeMap;

/// One install as the store keeps it.
#[derive(Debug, Clone)]
pub struct InstallRow {
    pub install: String,
    pub world: String,
    pub enabled: bool,
    pub config: BTreeMap<String, String>,
    pub grants: Vec<String>,
    /// The active version's component.
    pub wasm: Vec<u8>,
    /// `namespace/name`.
    pub plugin: Option<String>,
    pub version: Option<String>,
    /// The version `rollback` returns to.
    pub previous: Option<String>,
    /// A candidate version running beside it.
    pub shadow: Option<String>,
}

/// One version an install has had.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = InstalledVersion))]
pub struct VersionRow {
    pub version: String,
    pub plugin: String,
    pub signer: Option<String>,
    pub installed_at: i64,
    #[serde(skip)]
    pub manifest: String,
    #[serde(skip)]
    pub wasm: Vec<u8>,
}

fn text_error(column: usize, err: serde_json::Error) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, Box::new(err))
}

const INSTALL_COLUMNS: &str =
    "install, world, enabled, config, grants, wasm, plugin, version, previous, shadow";

fn install_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<InstallRow> {
    Ok(InstallRow {
        install: row.get(0)?,
        world: row.get(1)?,
        enabled: row.get(2)?,
        config: serde_json::from_str(&row.get::<_, String>(3)?)
            .map_err(|err| text_error(3, err))?,
        grants: serde_json::from_str(&row.get::<_, String>(4)?)
            .map_err(|err| text_error(4, err))?,
        wasm: row.get(5)?,
        plugin: row.get(6)?,
        version: row.get(7)?,
        previous: row.get(8)?,
        shadow: row.get(9)?,
    })
}

/// Every install, in pipeline order.
pub fn all(conn: &Connection) -> rusqlite::Result<Vec<InstallRow>> {
    conn.prepare(&format!(
        "SELECT {INSTALL_COLUMNS} FROM plugin_install ORDER BY position, install"
    ))?
    .query_map([], install_row)?
    .collect()
}

pub fn get(conn: &Connection, install: &str) -> rusqlite::Result<Option<InstallRow>> {
    conn.prepare_cached(&format!(
        "SELECT {INSTALL_COLUMNS} FROM plugin_install WHERE install = ?1"
    ))?
    .query_row([install], install_row)
    .optional()
}

/// What an install runs.
#[derive(Debug, Clone, Default)]
pub struct Running {
    pub install: String,
    pub plugin: Option<String>,
    pub version: Option<String>,
    pub previous: Option<String>,
}

/// What each install runs, without the components.
pub fn running(conn: &Connection) -> rusqlite::Result<Vec<Running>> {
    conn.prepare_cached("SELECT install, plugin, version, previous FROM plugin_install")?
        .query_map([], |row| {
            Ok(Running {
                install: row.get(0)?,
                plugin: row.get(1)?,
                version: row.get(2)?,
                previous: row.get(3)?,
            })
        })?
        .collect()
}

pub fn count(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT count(*) FROM plugin_install", [], |row| row.get(0))
}

pub fn exists(conn: &Connection, install: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT 1 FROM plugin_install WHERE install = ?1")?
        .exists([install])
}

/// Add an install at the end of the order, running `version` (already added with
/// [`add_version`]).
pub fn insert(
    conn: &Connection,
    install: &str,
    world: &str,
    grants: &[String],
    version: &VersionRow,
) -> rusqlite::Result<()> {
    let position: i64 = conn.query_row(
        "SELECT coalesce(max(position) + 1, 0) FROM plugin_install",
        [],
        |row| row.get(0),
    )?;
    conn.execute(
        "INSERT INTO plugin_install (install, world, position, enabled, grants, wasm, plugin, version) \
         VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6, ?7)",
        params![
            install,
            world,
            position,
            serde_json::to_string(grants).expect("grants serialise"),
            version.wasm,
            version.plugin,
            version.version
        ],
    )?;
    Ok(())
}

/// Keep a version of an install; false when that version was already kept.
pub fn add_version(
    conn: &Connection,
    install: &str,
    version: &VersionRow,
) -> rusqlite::Result<bool> {
    let added = conn.execute(
        "INSERT OR IGNORE INTO plugin_version (install, version, plugin, manifest, wasm, signer, installed_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            install,
            version.version,
            version.plugin,
            version.manifest,
            version.wasm,
            version.signer,
            version.installed_at
        ],
    )?;
    Ok(added == 1)
}

/// Make a kept version the active one; the version it replaces becomes the one to roll
/// back to, and a candidate running beside the old one stops.
pub fn activate(conn: &Connection, install: &str, version: &VersionRow) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE plugin_install SET previous = version, version = ?2, plugin = ?3, wasm = ?4, shadow = NULL \
         WHERE install = ?1",
        params![install, version.version, version.plugin, version.wasm],
    )?;
    Ok(())
}

/// Record the version an install from before versions were kept is running.
pub fn adopt(conn: &Connection, install: &str, version: &VersionRow) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE plugin_install SET version = ?2, plugin = ?3 WHERE install = ?1 AND version IS NULL",
        params![install, version.version, version.plugin],
    )?;
    Ok(())
}

pub fn version(
    conn: &Connection,
    install: &str,
    version: &str,
) -> rusqlite::Result<Option<VersionRow>> {
    conn.prepare_cached(
        "SELECT version, plugin, signer, installed_at, manifest, wasm FROM plugin_version \
         WHERE install = ?1 AND version = ?2",
    )?
    .query_row([install, version], version_row)
    .optional()
}

/// Every version an install has had, oldest first.
pub fn versions(conn: &Connection, install: &str) -> rusqlite::Result<Vec<VersionRow>> {
    conn.prepare_cached(
        "SELECT version, plugin, signer, installed_at, manifest, wasm FROM plugin_version \
         WHERE install = ?1 ORDER BY installed_at, version",
    )?
    .query_map([install], version_row)?
    .collect()
}

fn version_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<VersionRow> {
    Ok(VersionRow {
        version: row.get(0)?,
        plugin: row.get(1)?,
        signer: row.get(2)?,
        installed_at: row.get(3)?,
        manifest: row.get(4)?,
        wasm: row.get(5)?,
    })
}

/// The active and previous version of an install.
pub fn active(
    conn: &Connection,
    install: &str,
) -> rusqlite::Result<Option<(Option<String>, Option<String>)>> {
    conn.prepare_cached("SELECT version, previous FROM plugin_install WHERE install = ?1")?
        .query_row([install], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()
}

pub fn set_enabled(conn: &Connection, install: &str, enabled: bool) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE plugin_install SET enabled = ?2 WHERE install = ?1",
        params![install, enabled],
    )?;
    Ok(())
}

pub fn set_config(
    conn: &Connection,
    install: &str,
    config: &BTreeMap<String, String>,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE plugin_install SET config = ?2 WHERE install = ?1",
        params![
            install,
            serde_json::to_string(config).expect("settings serialise")
        ],
    )?;
    Ok(())
}

pub fn set_position(conn: &Connection, install: &str, position: usize) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE plugin_install SET position = ?2 WHERE install = ?1",
        params![install, position as i64],
    )?;
    Ok(())
}

/// Set (or clear) the candidate version running beside an install.
pub fn set_shadow(conn: &Connection, install: &str, version: Option<&str>) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE plugin_install SET shadow = ?2 WHERE install = ?1",
        params![install, version],
    )?;
    Ok(())
}

/// The candidate version running beside an install.
pub fn shadow(conn: &Connection, install: &str) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached("SELECT shadow FROM plugin_install WHERE install = ?1")?
        .query_row([install], |row| row.get(0))
        .optional()
        .map(Option::flatten)
}

/// Differences kept per install and candidate at most; the counts go on.
pub const MAX_DIFFERENCES: i64 = 1000;

/// Keep a call on which a candidate answered differently.
pub fn record_difference(conn: &Connection, difference: &Difference) -> rusqlite::Result<()> {
    let kept: i64 = conn
        .prepare_cached(
            "SELECT count(*) FROM shadow_difference WHERE install = ?1 AND candidate = ?2",
        )?
        .query_row([&difference.install, &difference.candidate], |row| {
            row.get(0)
        })?;
    if kept >= MAX_DIFFERENCES {
        return Ok(());
    }
    conn.prepare_cached(
        "INSERT INTO shadow_difference (install, candidate, at, call, active, shadow) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        difference.install,
        difference.candidate,
        difference.at,
        serde_json::to_string(&difference.call).expect("calls serialise"),
        difference.active.to_string(),
        difference.shadow.to_string()
    ])?;
    Ok(())
}

/// A kept difference, as the shadow report shows it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeptDifference {
    pub at: i64,
    /// The call: function and argument.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub call: serde_json::Value,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub active: serde_json::Value,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub shadow: serde_json::Value,
}

/// The latest differences of an install's candidate, newest first, and how many are kept.
pub fn differences(
    conn: &Connection,
    install: &str,
    candidate: &str,
    limit: u32,
) -> rusqlite::Result<(Vec<KeptDifference>, i64)> {
    let kept: i64 = conn
        .prepare_cached(
            "SELECT count(*) FROM shadow_difference WHERE install = ?1 AND candidate = ?2",
        )?
        .query_row([install, candidate], |row| row.get(0))?;
    let parse =
        |text: String| serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
    let latest = conn
        .prepare_cached(
            "SELECT at, call, active, shadow FROM shadow_difference \
             WHERE install = ?1 AND candidate = ?2 ORDER BY difference DESC LIMIT ?3",
        )?
        .query_map(params![install, candidate, limit], |row| {
            Ok(KeptDifference {
                at: row.get(0)?,
                call: parse(row.get(1)?),
                active: parse(row.get(2)?),
                shadow: parse(row.get(3)?),
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok((latest, kept))
}
