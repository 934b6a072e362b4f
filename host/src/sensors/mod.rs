//! Sensors: readings from the store's devices (fridge and freezer temperature, produce
//! humidity, shelf weight), checked and stored in batches, and the cold-chain rule — a
//! temperature out of its device's range for longer than the rule allows raises an
//! alert that stays listed until someone acknowledges it.

pub mod simulator;

use linli_store::sensors::{self as table, Reading};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a device measures, and the values that are physically possible.
pub const KINDS: [(&str, &str, f64, f64); 3] = [
    ("temperature", "degrees Celsius", -60.0, 100.0),
    ("humidity", "percent relative humidity", 0.0, 100.0),
    ("shelf-weight", "grams", 0.0, 1_000_000.0),
];

/// A device id as a JSON Schema pattern: what `validate` takes.
pub const DEVICE_PATTERN: &str = "^[A-Za-z0-9._:-]{1,64}$";

/// Most readings in one batch.
pub const MAX_BATCH: usize = 10_000;
/// How far in the future a reading may be (device clocks drift).
pub const MAX_CLOCK_SKEW_MS: i64 = 5 * 60_000;
/// The earliest time a reading may carry (2020-01-01): older is a device with no clock.
pub const EARLIEST_MS: i64 = 1_577_836_800_000;

/// Sensor settings of the daemon.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct SensorConfig {
    /// Feed the demo devices with simulated readings.
    pub simulator: bool,
    /// How often the simulator reads its devices.
    pub simulator_interval_ms: u64,
    /// Readings older than this are deleted (alerts stay); 0 keeps them all.
    pub retention_days: u32,
    pub cold_chain: ColdChain,
}

impl Default for SensorConfig {
    fn default() -> Self {
        SensorConfig {
            simulator: true,
            simulator_interval_ms: 10_000,
            retention_days: 90,
            cold_chain: ColdChain::default(),
        }
    }
}

/// The cold-chain rule: the range a chilled device must hold, how long it may be out
/// of it, and ranges of devices that differ (freezers).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct ColdChain {
    pub min_celsius: f64,
    pub max_celsius: f64,
    /// Minutes out of range after which an alert is raised.
    pub after_minutes: u32,
    pub devices: BTreeMap<String, DeviceRange>,
}

/// One device's own range (and, optionally, its own time out of range).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DeviceRange {
    pub min_celsius: f64,
    pub max_celsius: f64,
    pub after_minutes: Option<u32>,
}

impl Default for ColdChain {
    fn default() -> Self {
        // Chilled food 0–8 °C; the demo freezer holds -25 to -15 °C.
        let freezer = DeviceRange {
            min_celsius: -25.0,
            max_celsius: -15.0,
            after_minutes: None,
        };
        ColdChain {
            min_celsius: 0.0,
            max_celsius: 8.0,
            after_minutes: 15,
            devices: BTreeMap::from([(simulator::FREEZER.to_string(), freezer)]),
        }
    }
}

/// The range and allowance that apply to one device.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rule {
    pub min: f64,
    pub max: f64,
    pub after_ms: i64,
}

impl ColdChain {
    pub fn rule(&self, device: &str) -> Rule {
        let after = |minutes: u32| i64::from(minutes) * 60_000;
        match self.devices.get(device) {
            Some(range) => Rule {
                min: range.min_celsius,
                max: range.max_celsius,
                after_ms: after(range.after_minutes.unwrap_or(self.after_minutes)),
            },
            None => Rule {
                min: self.min_celsius,
                max: self.max_celsius,
                after_ms: after(self.after_minutes),
            },
        }
    }

    /// A rule that can never be met is a configuration mistake.
    pub fn validate(&self) -> Result<(), String> {
        let check = |name: &str, min: f64, max: f64| {
            if !(min.is_finite() && max.is_finite() && min < max) {
                return Err(format!(
                    "{name}: min-celsius {min} must be below max-celsius {max}"
                ));
            }
            Ok(())
        };
        check("sensors.cold-chain", self.min_celsius, self.max_celsius)?;
        for (device, range) in &self.devices {
            check(
                &format!("sensors.cold-chain.devices.{device}"),
                range.min_celsius,
                range.max_celsius,
            )?;
        }
        Ok(())
    }
}

/// One reading as a device sends it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncomingReading {
    pub device: String,
    pub kind: String,
    pub value: f64,
    /// Unix milliseconds.
    pub at: i64,
}

/// What a batch did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Ingested {
    pub stored: usize,
    /// Alerts this batch raised.
    pub alerts_raised: Vec<i64>,
}

/// Check every reading of a batch; the error names the first bad one and its field.
pub fn validate(readings: &[IncomingReading], now: i64) -> Result<(), String> {
    if readings.is_empty() {
        return Err("readings: empty; send at least one reading".into());
    }
    if readings.len() > MAX_BATCH {
        return Err(format!(
            "readings: {} in one batch; at most {MAX_BATCH}",
            readings.len()
        ));
    }
    for (index, reading) in readings.iter().enumerate() {
        let field = |name: &str| format!("readings[{index}].{name}");
        let device = reading.device.as_str();
        if device.is_empty()
            || device.len() > 64
            || !device
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
        {
            return Err(format!(
                "{}: `{device}` must be 1 to 64 letters, digits, `-`, `_`, `.` or `:`",
                field("device")
            ));
        }
        let Some((_, unit, low, high)) = KINDS.iter().find(|(kind, ..)| *kind == reading.kind)
        else {
            let kinds: Vec<&str> = KINDS.iter().map(|(kind, ..)| *kind).collect();
            return Err(format!(
                "{}: `{}` is not a sensor kind; one of {}",
                field("kind"),
                reading.kind,
                kinds.join(", ")
            ));
        };
        if !(reading.value.is_finite() && (*low..=*high).contains(&reading.value)) {
            return Err(format!(
                "{}: {} {unit} is outside the possible {low} to {high}",
                field("value"),
                reading.value
            ));
        }
        if reading.at < EARLIEST_MS || reading.at > now + MAX_CLOCK_SKEW_MS {
            return Err(format!(
                "{}: {} is not a plausible time (unix milliseconds, not in the future); check the device clock",
                field("at"),
                reading.at
            ));
        }
    }
    Ok(())
}

/// Store a checked batch in one transaction and apply the cold-chain rule to its
/// temperatures, oldest first.
pub fn ingest(
    conn: &mut Connection,
    readings: &[IncomingReading],
    cold_chain: &ColdChain,
) -> rusqlite::Result<Ingested> {
    let mut ingested = ingest_many(conn, &[readings], cold_chain)?;
    Ok(ingested.pop().unwrap_or_default())
}

/// Store several checked batches in one transaction, each as `ingest` would, in the
/// order given; what each batch did. One commit (one sync of the log) for many
/// batches is what lets devices that post at once be stored at the disk's pace.
pub fn ingest_many(
    conn: &mut Connection,
    batches: &[&[IncomingReading]],
    cold_chain: &ColdChain,
) -> rusqlite::Result<Vec<Ingested>> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut done = Vec::with_capacity(batches.len());
    for readings in batches {
        let mut ordered: Vec<&IncomingReading> = readings.iter().collect();
        ordered.sort_by(|a, b| (&a.device, a.at).cmp(&(&b.device, b.at)));
        let mut ingested = Ingested::default();
        for incoming in ordered {
            let reading = Reading {
                device: incoming.device.clone(),
                kind: incoming.kind.clone(),
                value: incoming.value,
                at: incoming.at,
            };
            table::insert(&tx, &reading)?;
            ingested.stored += 1;
            if reading.kind == "temperature"
                && let Some(alert) = apply_rule(&tx, &reading, cold_chain.rule(&reading.device))?
            {
                ingested.alerts_raised.push(alert);
            }
        }
        done.push(ingested);
    }
    tx.commit()?;
    Ok(done)
}

/// The cold-chain rule for one stored temperature reading: back in range ends an
/// excursion; out of range for longer than allowed raises (or carries on) its alert.
fn apply_rule(conn: &Connection, reading: &Reading, rule: Rule) -> rusqlite::Result<Option<i64>> {
    if (rule.min..=rule.max).contains(&reading.value) {
        table::end_excursion(conn, &reading.device, reading.at)?;
        return Ok(None);
    }
    let last_ok = table::last_in_range(conn, &reading.device, reading.at, rule.min, rule.max)?;
    let started_at = table::first_after(conn, &reading.device, last_ok)?.unwrap_or(reading.at);
    if reading.at - started_at < rule.after_ms {
        return Ok(None);
    }
    let raised = table::raise_or_extend(
        conn,
        &reading.device,
        started_at,
        reading,
        rule.min,
        rule.max,
    )?;
    if raised {
        tracing::warn!(
            device = %reading.device,
            celsius = reading.value,
            minutes = (reading.at - started_at) / 60_000,
            "cold-chain alert: temperature out of {}..{} °C",
            rule.min,
            rule.max
        );
        return Ok(Some(conn.last_insert_rowid()));
    }
    Ok(None)
}
