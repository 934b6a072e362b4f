//! Sensor readings, the latest reading of each device, and cold-chain alerts. The rule
//! that raises alerts lives in `crate::sensors`; these are its tables.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

/// One reading of one device.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Reading {
    pub device: String,
    pub kind: String,
    pub value: f64,
    /// Unix milliseconds.
    pub at: i64,
}

/// A temperature excursion that lasted longer than the cold-chain rule allows.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Alert {
    pub alert: i64,
    pub device: String,
    pub min_celsius: f64,
    pub max_celsius: f64,
    /// The first reading out of range.
    pub started_at: i64,
    /// The reading that made the excursion too long.
    pub raised_at: i64,
    /// The latest reading out of range.
    pub last_at: i64,
    /// The first reading back in range; none while the excursion lasts.
    pub ended_at: Option<i64>,
    /// The reading furthest out of range.
    pub worst: f64,
    pub acknowledged_at: Option<i64>,
    pub acknowledged_by: Option<String>,
    pub note: Option<String>,
}

const ALERT_COLUMNS: &str = "alert, device, min_celsius, max_celsius, started_at, raised_at, \
     last_at, ended_at, worst, acknowledged_at, acknowledged_by, note";

fn alert_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Alert> {
    Ok(Alert {
        alert: row.get(0)?,
        device: row.get(1)?,
        min_celsius: row.get(2)?,
        max_celsius: row.get(3)?,
        started_at: row.get(4)?,
        raised_at: row.get(5)?,
        last_at: row.get(6)?,
        ended_at: row.get(7)?,
        worst: row.get(8)?,
        acknowledged_at: row.get(9)?,
        acknowledged_by: row.get(10)?,
        note: row.get(11)?,
    })
}

fn reading_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Reading> {
    Ok(Reading {
        device: row.get(0)?,
        kind: row.get(1)?,
        value: row.get(2)?,
        at: row.get(3)?,
    })
}

/// Store a reading and keep the device's latest, inside the caller's transaction.
pub fn insert(conn: &Connection, reading: &Reading) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO sensor_reading (device, kind, value, at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        reading.device,
        reading.kind,
        reading.value,
        reading.at
    ])?;
    // A late reading never replaces a newer one.
    conn.prepare_cached(
        "INSERT INTO sensor_latest (device, kind, value, at) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (device, kind) DO UPDATE SET value = excluded.value, at = excluded.at \
         WHERE excluded.at >= sensor_latest.at",
    )?
    .execute(params![
        reading.device,
        reading.kind,
        reading.value,
        reading.at
    ])?;
    Ok(())
}

/// The latest reading of every device and kind.
pub fn latest(conn: &Connection) -> rusqlite::Result<Vec<Reading>> {
    let mut statement = conn.prepare_cached(
        "SELECT device, kind, value, at FROM sensor_latest ORDER BY device, kind",
    )?;
    statement.query_map([], reading_row)?.collect()
}

/// Readings of a device in `[from, to)`, oldest first, at most `limit`.
pub fn history(
    conn: &Connection,
    device: &str,
    kind: Option<&str>,
    from: i64,
    to: i64,
    limit: u32,
) -> rusqlite::Result<Vec<Reading>> {
    let mut statement = conn.prepare_cached(
        "SELECT device, kind, value, at FROM sensor_reading \
         WHERE device = ?1 AND (?2 IS NULL OR kind = ?2) AND at >= ?3 AND at < ?4 \
         ORDER BY at LIMIT ?5",
    )?;
    statement
        .query_map(params![device, kind, from, to, limit], reading_row)?
        .collect()
}

/// Whether the store has ever heard from a device.
pub fn known_device(conn: &Connection, device: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT 1 FROM sensor_latest WHERE device = ?1 LIMIT 1")?
        .exists([device])
}

/// The latest temperature reading of a device in range before `at`.
pub fn last_in_range(
    conn: &Connection,
    device: &str,
    at: i64,
    min: f64,
    max: f64,
) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached(
        "SELECT at FROM sensor_reading \
         WHERE device = ?1 AND kind = 'temperature' AND at < ?2 AND value BETWEEN ?3 AND ?4 \
         ORDER BY at DESC LIMIT 1",
    )?
    .query_row(params![device, at, min, max], |row| row.get(0))
    .optional()
}

/// The first temperature reading of a device after `after` (all readings when none).
pub fn first_after(
    conn: &Connection,
    device: &str,
    after: Option<i64>,
) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached(
        "SELECT at FROM sensor_reading \
         WHERE device = ?1 AND kind = 'temperature' AND at > coalesce(?2, -9223372036854775808) \
         ORDER BY at LIMIT 1",
    )?
    .query_row(params![device, after], |row| row.get(0))
    .optional()
}

/// How far a value lies outside a range.
fn distance(value: f64, min: f64, max: f64) -> f64 {
    (min - value).max(value - max).max(0.0)
}

/// Raise the alert of the excursion that started at `started_at`, or carry it on.
/// True when this reading raised it.
pub fn raise_or_extend(
    conn: &Connection,
    device: &str,
    started_at: i64,
    reading: &Reading,
    min: f64,
    max: f64,
) -> rusqlite::Result<bool> {
    let existing: Option<(i64, f64)> = conn
        .prepare_cached(
            "SELECT alert, worst FROM cold_chain_alert WHERE device = ?1 AND started_at = ?2",
        )?
        .query_row(params![device, started_at], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()?;
    match existing {
        Some((alert, worst)) => {
            let worst = if distance(reading.value, min, max) > distance(worst, min, max) {
                reading.value
            } else {
                worst
            };
            conn.prepare_cached(
                "UPDATE cold_chain_alert SET last_at = max(last_at, ?2), worst = ?3 WHERE alert = ?1",
            )?
            .execute(params![alert, reading.at, worst])?;
            Ok(false)
        }
        None => {
            // The worst reading of the excursion so far, the raising one included.
            let worst: f64 = conn
                .prepare_cached(
                    "SELECT value FROM sensor_reading \
                     WHERE device = ?1 AND kind = 'temperature' AND at BETWEEN ?2 AND ?3 \
                     ORDER BY max(?4 - value, value - ?5) DESC LIMIT 1",
                )?
                .query_row(params![device, started_at, reading.at, min, max], |row| {
                    row.get(0)
                })?;
            conn.prepare_cached(
                "INSERT INTO cold_chain_alert \
                 (device, min_celsius, max_celsius, started_at, raised_at, last_at, worst) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
            )?
            .execute(params![device, min, max, started_at, reading.at, worst])?;
            Ok(true)
        }
    }
}

/// A reading back in range ends the device's excursion in progress.
pub fn end_excursion(conn: &Connection, device: &str, at: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE cold_chain_alert SET ended_at = ?2 \
         WHERE device = ?1 AND ended_at IS NULL AND started_at <= ?2",
    )?
    .execute(params![device, at])?;
    Ok(())
}

/// Alerts, newest first; only those not yet acknowledged when `open`.
pub fn alerts(conn: &Connection, open: bool, limit: u32) -> rusqlite::Result<Vec<Alert>> {
    let sql = format!(
        "SELECT {ALERT_COLUMNS} FROM cold_chain_alert \
         WHERE (?1 = 0 OR acknowledged_at IS NULL) ORDER BY alert DESC LIMIT ?2"
    );
    let mut statement = conn.prepare_cached(&sql)?;
    statement
        .query_map(params![open, limit], alert_row)?
        .collect()
}

pub fn alert(conn: &Connection, alert: i64) -> rusqlite::Result<Option<Alert>> {
    let sql = format!("SELECT {ALERT_COLUMNS} FROM cold_chain_alert WHERE alert = ?1");
    conn.prepare_cached(&sql)?
        .query_row([alert], alert_row)
        .optional()
}

/// Record who acknowledged an alert; false when it already was.
pub fn acknowledge(
    conn: &Connection,
    alert: i64,
    at: i64,
    by: &str,
    note: Option<&str>,
) -> rusqlite::Result<bool> {
    let changed = conn
        .prepare_cached(
            "UPDATE cold_chain_alert SET acknowledged_at = ?2, acknowledged_by = ?3, note = ?4 \
             WHERE alert = ?1 AND acknowledged_at IS NULL",
        )?
        .execute(params![alert, at, by, note])?;
    Ok(changed == 1)
}

/// Alerts not yet acknowledged.
pub fn open_alert_count(conn: &Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached("SELECT count(*) FROM cold_chain_alert WHERE acknowledged_at IS NULL")?
        .query_row([], |row| row.get(0))
}

/// Delete readings older than `before` (alerts and latest readings stay).
pub fn prune(conn: &Connection, before: i64) -> rusqlite::Result<usize> {
    conn.prepare_cached("DELETE FROM sensor_reading WHERE at < ?1")?
        .execute([before])
}
