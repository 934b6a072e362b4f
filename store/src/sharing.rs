//! Data sharing: the store's sales aggregates for a range of days, which the
//! data-sharing plugin turns into the report the alliance sees; the store's k-anonymity
//! rule (every row behind which fewer than k distinct customers bought is dropped, the
//! host counting them in its own sales whatever the plugin returned), and the report
//! queued in the outbox in the same transaction.

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

/// A customer as the k rule counts them: their pseudonym, or the sale itself for a sale
/// without a card (each such sale counts as one customer).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Customer {
    Card(String),
    Sale(i64),
}

/// The store's own sales of one category, store day and cohort.
#[derive(Default)]
struct Group {
    customers: BTreeSet<Customer>,
    units: u32,
    revenue: i64,
}

/// The store's sales from `first` to `last` (store days in `zone`), per category, day
/// and cohort: what the plugin is asked to report on, and what the host counts the
/// customers behind each reported row in.
fn sales(
    conn: &Connection,
    zone: &TimeZone,
    first: Date,
    last: Date,
) -> Result<BTreeMap<(String, Date, String), Group>, ServiceError> {
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
    let mut groups: BTreeMap<(String, Date, String), Group> = BTreeMap::new();
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
            .date();
        let group = groups.entry((category, day, cohort)).or_default();
        group
            .customers
            .insert(customer.map_or(Customer::Sale(sale), Customer::Card));
        group.units = group.units.saturating_add(qty);
        group.revenue += unit_price * i64::from(qty);
    }
    Ok(groups)
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
    let rows = sales(conn, zone, first, last)?
        .into_iter()
        .map(|((category, day, cohort), group)| Aggregate {
            category,
            day: day.to_string(),
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

/// The distinct customers behind a row as the host counts them in its own sales: those
/// who bought in the row's category, period and cohort (a dimension the row does not
/// share covers every value). A period is a store day ("2026-03-10") or an ISO week
/// ("2026-W11"); a row whose dimensions name nothing the store sold (another format, an
/// invented category) has no customers behind it. The plugin's own `customers` figure
/// (rounded, or anything else) plays no part.
fn customers_behind(row: &ReportRow, sales: &BTreeMap<(String, Date, String), Group>) -> usize {
    let mut customers = BTreeSet::new();
    for ((category, day, cohort), group) in sales {
        let matches = row
            .category
            .as_ref()
            .is_none_or(|wanted| wanted == category)
            && row.cohort.as_ref().is_none_or(|wanted| wanted == cohort)
            && row
                .period
                .as_ref()
                .is_none_or(|period| *period == day.to_string() || *period == iso_week(*day));
        if matches {
            customers.extend(group.customers.iter());
        }
    }
    customers.len()
}

/// A day's ISO week as reports name it: "2026-W11".
fn iso_week(day: Date) -> String {
    let week = day.iso_week_date();
    format!("{:04}-W{:02}", week.year(), week.week())
}

/// A report the data-sharing plugin built.
pub struct Built {
    pub first: Date,
    pub last: Date,
    /// The install that built it.
    pub install: String,
    pub report: Report,
}

/// Queue a report for the alliance with every row behind which fewer than `k` distinct
/// customers bought dropped, in one transaction. The host counts those customers
/// itself, in its own sales of the report's days (store days in `zone`): whatever
/// `customers` figure the plugin put on a row (rounded up, made up) decides nothing.
pub fn queue(
    conn: &mut Connection,
    zone: &TimeZone,
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
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let sales = sales(&tx, zone, first, last)?;
    let returned = report.rows.len();
    let rows: Vec<ReportRow> = report
        .rows
        .into_iter()
        .filter(|row| customers_behind(row, &sales) >= k as usize)
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

    /// 2026-03-10 00:00 UTC, a Tuesday of ISO week 2026-W11.
    const TUESDAY: i64 = 1_773_100_800_000;
    const DAY: i64 = 86_400_000;

    fn row(category: Option<&str>, period: Option<&str>, customers: u32) -> ReportRow {
        ReportRow {
            category: category.map(str::to_string),
            period: period.map(str::to_string),
            cohort: None,
            customers,
            units: customers * 2,
            revenue: None,
        }
    }

    /// Three members buy milk (one of them on two days), five people without a card buy
    /// soap: 3 customers behind dairy, 5 behind household, 8 in all.
    fn store_with_sales() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::open(dir.path()).unwrap();
        conn.execute_batch(
            "INSERT INTO sku (sku, name, category, unit_price) VALUES
                 ('MILK', 'milk', 'dairy', 100), ('SOAP', 'soap', 'household', 300);",
        )
        .unwrap();
        for (index, member) in ["m-1", "m-2", "m-3"].into_iter().enumerate() {
            let at = TUESDAY + index as i64 * 1000;
            crate::sales::sell_for_test(&conn, at, Some(member), "member", &[("MILK", 1)]);
        }
        crate::sales::sell_for_test(&conn, TUESDAY + DAY, Some("m-1"), "member", &[("MILK", 2)]);
        for index in 0..5 {
            crate::sales::sell_for_test(
                &conn,
                TUESDAY + 5000 + index,
                None,
                "walk-in",
                &[("SOAP", 1)],
            );
        }
        (dir, conn)
    }

    fn report(conn: &mut Connection, rows: Vec<ReportRow>, k: u32) -> Outboxed {
        let (first, last) = days("2026-03-09", "2026-03-15").unwrap();
        let built = Built {
            first,
            last,
            install: "data-sharing".into(),
            report: Report {
                rows,
                suppressed: 2,
            },
        };
        queue(conn, &TimeZone::UTC, built, k, 1000).unwrap()
    }

    #[test]
    fn the_host_counts_the_customers_behind_each_row_whatever_the_plugin_says() {
        let (_dir, mut conn) = store_with_sales();
        let week = Some("2026-W11");
        let queued = report(
            &mut conn,
            vec![
                // 3 customers, rounded up to 5 by the plugin.
                row(Some("dairy"), week, 5),
                // 5 card-less sales: 5 customers.
                row(Some("household"), week, 5),
                // Everyone: 8.
                row(None, None, 10),
                // Tuesday's dairy: 3, made out to be many.
                row(Some("dairy"), Some("2026-03-10"), 1000),
                // Names nothing the store sold: a customer's pseudonym, a month.
                row(Some("m-1"), week, 50),
                row(Some("household"), Some("2026-03"), 50),
                // The plugin's figure under k does not drop a row the host counts at k.
                row(Some("household"), Some("2026-03-10"), 1),
            ],
            5,
        );
        let kept: Vec<(Option<&str>, Option<&str>)> = queued
            .report
            .rows
            .iter()
            .map(|row| (row.category.as_deref(), row.period.as_deref()))
            .collect();
        assert_eq!(
            kept,
            [
                (Some("household"), week),
                (None, None),
                (Some("household"), Some("2026-03-10"))
            ]
        );
        assert_eq!(
            (queued.report.dropped_by_host, queued.report.suppressed),
            (4, 6)
        );
        let pending = outbox::pending(&conn, 10).unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].kind, Event::SHARING_REPORT);
        assert!(
            !pending[0].payload.contains("dairy"),
            "{}",
            pending[0].payload
        );
        assert!(
            !pending[0].payload.contains("m-1"),
            "{}",
            pending[0].payload
        );
        let listed = list(&conn).unwrap();
        assert_eq!(listed[0].seq, queued.seq);
        assert_eq!(listed[0].report.rows.len(), 3);

        // A customer counts once however often they bought: with k = 4 the week's dairy
        // (3 customers, 4 sales) still stays home.
        let queued = report(&mut conn, vec![row(Some("dairy"), week, 4)], 4);
        assert!(queued.report.rows.is_empty(), "{:?}", queued.report.rows);
        let queued = report(&mut conn, vec![row(Some("dairy"), week, 1)], 3);
        assert_eq!(queued.report.rows.len(), 1);
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
