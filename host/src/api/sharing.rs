//! Data sharing: the store's sales aggregates for a range of days go to the
//! data-sharing plugin, which chooses what the alliance sees; the host then drops every
//! row with fewer than k distinct customers, whatever the plugin returned, and queues
//! the report in the outbox, in the same transaction, for sync to send.

use super::{ApiError, ApiErrorBody, AppState, Body, now_ms};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use linli_alliance::{Event, SharedRow, SharingReport};
use linli_runtime::{Aggregate, Call, Report, ReportRequest, ReportRow};
use linli_store::outbox;
use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

pub fn reading() -> Router<AppState> {
    Router::new().route("/sharing/reports", get(list))
}

pub fn mutating() -> Router<AppState> {
    Router::new().route("/sharing/reports", post(build))
}

/// The longest report, in days: a quarter keeps the aggregates well inside a plugin
/// call's input limit.
const MAX_DAYS: i32 = 92;

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = ReportDays)]
#[serde(deny_unknown_fields)]
struct Wanted {
    /// First and last day of the report, inclusive, "YYYY-MM-DD" in the store's time
    /// zone.
    first_day: String,
    last_day: String,
}

/// A report as queued for the alliance.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = QueuedReport)]
struct Queued {
    first_day: String,
    last_day: String,
    /// The k the host enforced.
    k: u32,
    /// The install that built the report.
    install: String,
    rows: Vec<ReportRow>,
    /// Rows left out below k, by the plugin and by the host.
    suppressed: u32,
    /// Of those, rows the plugin returned and the host dropped.
    dropped_by_host: u32,
}

/// A report in the outbox.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = OutboxedReport)]
struct Outboxed {
    /// The outbox sequence number: the report's place in the sync queue.
    seq: i64,
    at: i64,
    /// Whether the alliance acknowledged it.
    acked: bool,
    #[serde(flatten)]
    report: Queued,
}

/// Build a data-sharing report for a range of days (at most 92): the plugin chooses
/// what is shared, the host drops rows below k and queues the report for sync.
#[utoipa::path(
    post,
    path = "/v1/sharing/reports",
    tag = "sharing",
    request_body = Wanted,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The report, queued", body = Outboxed),
        (status = 400, description = "The body is not JSON", body = ApiErrorBody),
        (status = 401, description = "Missing or wrong bearer token", body = ApiErrorBody),
        (status = 422, description = "A day is missing or invalid, or the plugin refused", body = ApiErrorBody),
        (status = 503, description = "No working data-sharing plugin could build the report", body = ApiErrorBody),
    )
)]
async fn build(
    State(state): State<AppState>,
    Body(wanted): Body<Wanted>,
) -> Result<(StatusCode, Json<Outboxed>), ApiError> {
    let first = day(&wanted.first_day, "first_day")?;
    let last = day(&wanted.last_day, "last_day")?;
    let days = first
        .until(last)
        .map_err(|err| ApiError::Unprocessable(format!("last_day: {err}")))?
        .get_days();
    if days < 0 {
        return Err(ApiError::Unprocessable(format!(
            "last_day: {last} is before first_day {first}"
        )));
    }
    if days >= MAX_DAYS {
        return Err(ApiError::Unprocessable(format!(
            "last_day: {} days from first_day; a report covers at most {MAX_DAYS}",
            days + 1
        )));
    }
    state
        .with_db(move |conn, state| {
            let rows = aggregates(conn, &state.sharing.time_zone, first, last)?;
            let call = Call::BuildReport(ReportRequest {
                first_day: first.to_string(),
                last_day: last.to_string(),
                rows,
            });
            let now = now_ms();
            let (report, install): (Report, _) = state.decide(&call, now)?;
            let k = state.sharing.k;
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
            Ok((
                StatusCode::CREATED,
                Json(Outboxed {
                    seq,
                    at: now,
                    acked: false,
                    report: queued,
                }),
            ))
        })
        .await
}

/// Reports in the outbox, newest first.
#[utoipa::path(
    get,
    path = "/v1/sharing/reports",
    tag = "sharing",
    responses((status = 200, description = "The latest 100 reports", body = Vec<Outboxed>))
)]
async fn list(State(state): State<AppState>) -> Result<Json<Vec<Outboxed>>, ApiError> {
    state
        .read_db(|conn, _| {
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
                    ApiError::Internal(format!("outbox {seq}: unreadable report: {err}"))
                })?;
                listed.push(Outboxed {
                    seq,
                    at,
                    acked,
                    report,
                });
            }
            Ok(Json(listed))
        })
        .await
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

fn day(text: &str, field: &str) -> Result<Date, ApiError> {
    text.parse().map_err(|err| {
        ApiError::Unprocessable(format!("{field}: `{text}` is not a YYYY-MM-DD day: {err}"))
    })
}

/// Sales of each category per store day and customer cohort, with the distinct
/// customers behind them (a sale without a card counts as one customer).
fn aggregates(
    conn: &Connection,
    zone: &TimeZone,
    first: Date,
    last: Date,
) -> Result<Vec<Aggregate>, ApiError> {
    let start = |date: Date| -> Result<i64, ApiError> {
        let zoned = date
            .to_zoned(zone.clone())
            .map_err(|err| ApiError::Unprocessable(format!("day {date}: {err}")))?;
        Ok(zoned.timestamp().as_millisecond())
    };
    let from = start(first)?;
    let to = start(
        last.tomorrow()
            .map_err(|err| ApiError::Unprocessable(format!("last_day: {err}")))?,
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
            .map_err(|err| ApiError::Internal(format!("sale {sale}: time {at}: {err}")))?
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
    Ok(groups
        .into_iter()
        .map(|((category, day, cohort), group)| Aggregate {
            category,
            day,
            cohort,
            customers: group.customers.len() as u32,
            units: group.units,
            revenue: group.revenue,
        })
        .collect())
}
