//! Data sharing: the store's sales aggregates for a range of days, which the
//! data-sharing plugin turns into the report the alliance sees; the store's k-anonymity
//! rule (every row with fewer than k distinct customers is dropped, whatever the plugin
//! returned), and the report queued in the outbox in the same transaction.

use crate::{ServiceError, outbox};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use linli_alliance::{Event, SharedRow, SharingReport};
use linli_runtime::{Aggregate, Report, ReportRequest, ReportRow};
use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The longest report, in days: a quarter keeps the aggregates well inside a plugin
/// call's input limit.
const MAX_DAYS: i32 = 92;

/// A report as queued for the alliance.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = QueuedReport))]
pub struct Queued {
    pub first_day: String,
    pub last_day: String,
    /// The k the host enforced.
    pub k: u32,
    /// The install that built the report.
    pub install: String,
    pub rows: Vec<ReportRow>,
    /// Rows left out below k, by the plugin and by the host.
    pub suppressed: u32,
    /// Of those, rows the plugin returned and the host dropped.
    pub dropped_by_host: u32,
}

/// A report in the outbox.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = OutboxedReport))]
pub struct Outboxed {
    /// The outbox sequence number: the report's place in the sync queue.
    pub seq: i64,
    pub at: i64,
    /// Whether the alliance acknowledged it.
    pub acked: bool,
    #[serde(flatten)]
    pub report: Queued,
}

/// The first and last day of a report, inclusive ("YYYY-MM-DD"), checked: in order, at
/// most 92 days.
pub fn days(first_day: &str, last_day: &str) -> Result<(Date, Date), ServiceError> {
    let first = day(first_day, "first_day")?;
    let last = day(last_day, "last_day")?;
    let days = first
        .until(last)
        .map_err(|err| ServiceError::Invalid(format!("last_day: {err}")))?
        .get_days();
    if days < 0 {
        return Err(ServiceError::Invalid(format!(
            "last_day: {last} is before first_day {first}"
        )));
    }
    if days >= MAX_DAYS {
        return Err(ServiceError::Invalid(format!(
            "last_day: {} days from first_day; a report covers at most {MAX_DAYS}",
            days + 1
        )));
    }
    Ok((first, last))
}

fn day(text: &str, field: &str) -> Result<Date, ServiceError> {
    text.parse().map_err(|err| {
        ServiceError::Invalid(format!("{field}: `{text}` is not a YYYY-MM-DD day: {err}"))
    })
}

/// What the data-sharing plugin is asked to build a report from: sales of each
/// category per store day (in `zone`) and customer cohort, with the distinct customers
/// behind them (a sale without a card counts as one customer).
pub fn request(
    conn: &Connection,
    zone: &TimeZone,
    first: Date,
    last: Date,
) -> Result<ReportRequest, ServiceError> {
    let start = |date: Date| -> Result<i64, ServiceError> {
        let zoned = date
            .to_zoned(zone.clone())
            .map_err(|err| ServiceError::Invalid(format!("day {date}: {err}")))?;
        Ok(zoned.timestamp().as_millisecond())
    };
    let from = start(first)?;
    let to = start(
        last.tomorrow()
            .map_err(|err| ServiceError::Invalid(format!("last_day: {err}")))?,
    )?;
    let mut statement = conn.prepare_cached(
        "SELECT sale.sale, sale.at, sale.customer, sale.cohort, sku.category, sale_line.qty, sale_line.unit_price \
         FROM sale JOIN sale_line ON sale_line.sale = sale.sale JOIN sku ON sku.sku = sale_line.sku \
         WHERE sale.at >= ?1 AND sale.at < ?2",
    )?;
    #[derive(Default)]
    struct Group {
        customers: BTreeSet<String>,
        units: u32,
        revenue: i64,
    }
    let mut groups: BTreeMap<(String, String, String), Group> = BTreeMap::new();
    let rows = statement.query_map(params![from, to], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, i64>(1)?,
            row.get::<_, Option<String>>(2)?,
            row.get::<_, String>(3)?,
            row.get::<_, String>(4)?,
            row.get::<_, u32>(5)?,
            row.get::<_, i64>(6)?,
        ))
    })?;
    for row in rows {
        let (sale, at, customer, cohort, category, qty, unit_price) = row?;
        let day = jiff::Timestamp::from_millisecond(at)
            .map_err(|err| ServiceError::Corrupt(format!("sale {sale}: time {at}: {err}")))?
            .to_zoned(zone.clone())
            .date()
            .to_string();
        let group = groups.entry((category, day, cohort)).or_default();
        group
            .customers
            .insert(customer.unwrap_or_else(|| format!("sale {sale}")));
        group.units = group.units.saturating_add(qty);
        group.revenue += unit_price * i64::from(qty);
    }
    let rows = groups
        .into_iter()
        .map(|((category, day, cohort), group)| Aggregate {
            category,
            day,
            cohort,
            customers: group.customers.len() as u32,
            units: group.units,
            revenue: group.revenue,
        })
        .collect();
    Ok(ReportRequest {
        first_day: first.to_string(),
        last_day: last.to_string(),
        rows,
    })
}

/// A report the data-sharing plugin built.
pub struct Built {
    pub first: Date,
    pub last: Date,
    /// The install that built it.
    pub install: String,
    pub report: Report,
}

/// Queue a report for the alliance with every row under `k` customers dropped, in one
/// transaction.
pub fn queue(
    conn: &mut Connection,
    built: Built,
    k: u32,
    now: i64,
) -> Result<Outboxed, ServiceError> {
    let Built {
        first,
        last,
        install,
        report,
    } = built;
    let returned = report.rows.len();
    let rows: Vec<ReportRow> = report
        .rows
        .into_iter()
        .filter(|row| row.customers >= k)
        .collect();
    let dropped_by_host = (returned - rows.len()) as u32;
    if dropped_by_host > 0 {
        tracing::warn!(
            %install,
            dropped = dropped_by_host,
            k,
            "data-sharing rows below k dropped by the host"
        );
    }
    let queued = Queued {
        first_day: first.to_string(),
        last_day: last.to_string(),
        k,
        install,
        rows,
        suppressed: report.suppressed.saturating_add(dropped_by_host),
        dropped_by_host,
    };
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let seq = outbox::queue(&tx, now, &event(&queued))?;
    tx.commit()?;
    Ok(Outboxed {
        seq,
        at: now,
        acked: false,
        report: queued,
    })
}

/// The report as the alliance reads it.
fn event(queued: &Queued) -> Event {
    Event::SharingReport(SharingReport {
        first_day: Some(queued.first_day.clone()),
        last_day: Some(queued.last_day.clone()),
        k: queued.k,
        install: queued.install.clone(),
        rows: queued
            .rows
            .iter()
            .map(|row| SharedRow {
                category: row.category.clone(),
                period: row.period.clone(),
                cohort: row.cohort.clone(),
                customers: row.customers,
                units: row.units,
                revenue: row.revenue,
            })
            .collect(),
        suppressed: queued.suppressed,
        dropped_by_host: queued.dropped_by_host,
    })
}

/// The latest 100 reports in the outbox, newest first.
pub fn list(conn: &Connection) -> Result<Vec<Outboxed>, ServiceError> {
    let mut statement = conn.prepare_cached(
        "SELECT seq, at, acked, payload FROM outbox WHERE kind = ?1 ORDER BY seq DESC LIMIT 100",
    )?;
    let rows = statement.query_map([Event::SHARING_REPORT], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, i64>(1)?,
            row.get::<_, bool>(2)?,
            row.get::<_, String>(3)?,
        ))
    })?;
    let mut listed = Vec::new();
    for row in rows {
        let (seq, at, acked, payload) = row?;
        let report = serde_json::from_str(&payload).map_err(|err| {
            ServiceError::Corrupt(format!("outbox {seq}: unreadable report: {err}"))
        })?;
        listed.push(Outboxed {
            seq,
            at,
            acked,
            report,
        });
    }
    Ok(listed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(customers: u32) -> ReportRow {
        ReportRow {
            category: Some("dairy".into()),
            period: Some("2026-W10".into()),
            cohort: None,
            customers,
            units: customers * 2,
            revenue: None,
        }
    }

    #[test]
    fn rows_under_k_customers_never_reach_the_outbox() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = crate::open(dir.path()).unwrap();
        let (first, last) = days("2026-03-01", "2026-03-07").unwrap();
        let built = Built {
            first,
            last,
            install: "data-sharing".into(),
            report: Report {
                rows: vec![row(4), row(5), row(9)],
                suppressed: 2,
            },
        };
        let queued = queue(&mut conn, built, 5, 1000).unwrap();
        let customers: Vec<u32> = queued.report.rows.iter().map(|row| row.customers).collect();
        assert_eq!(customers, [5, 9]);
        assert_eq!(
            (queued.report.dropped_by_host, queued.report.suppressed),
            (1, 3)
        );
        let pending = outbox::pending(&conn, 10).unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].kind, Event::SHARING_REPORT);
        assert!(!pending[0].payload.contains("\"customers\":4"));
        let listed = list(&conn).unwrap();
        assert_eq!(listed[0].seq, queued.seq);
        assert_eq!(listed[0].report.rows.len(), 2);
    }

    #[test]
    fn a_report_covers_ordered_days_of_at_most_a_quarter() {
        assert!(days("2026-03-01", "2026-05-31").is_ok());
        for (first, last, wanted) in [
            (
                "2026-03-08",
                "2026-03-01",
                "last_day: 2026-03-01 is before first_day",
            ),
            ("2026-03-01", "2026-06-01", "a report covers at most 92"),
            (
                "March",
                "2026-06-01",
                "first_day: `March` is not a YYYY-MM-DD day",
            ),
        ] {
            let err = days(first, last).unwrap_err();
            assert!(
                matches!(&err, ServiceError::Invalid(message) if message.contains(wanted)),
                "{err}"
            );
        }
    }
}
