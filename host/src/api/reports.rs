//! Reports: today's figures for the owner's dashboard — sales, baskets, local and
//! presale shares, recycling — and the operating guide's KPIs, each with its target and
//! a sentence saying what it counts.

use super::{ApiError, AppState, now_ms};
use axum::Json;
use axum::extract::State;
use linli_store::reports::{self, Count, RecyclingFigures, SalesFigures};
use serde::Serialize;
use utoipa_axum::{router::OpenApiRouter, routes};

const DAY: i64 = 86_400_000;

pub fn reading() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(today))
}

/// Local produce: the guide's target share of sales value.
const LOCAL_SHARE_TARGET: f64 = 0.40;
/// Order fulfilment accuracy: the guide's target.
const FULFILMENT_TARGET: f64 = 0.995;
/// Inventory turnover: the guide's target, as a multiple of the industry's.
const TURNOVER_VERSUS_INDUSTRY: f64 = 1.5;

/// One KPI of the operating guide over its window.
#[derive(Serialize, utoipa::ToSchema)]
struct Kpi {
    /// None when there was nothing to measure in the window.
    value: Option<f64>,
    /// None when neither the guide nor the store set one.
    target: Option<f64>,
    /// Whether the value reaches the target (every KPI here is higher-is-better).
    met: Option<bool>,
    /// The window measured, in unix ms: `[from, to)`.
    from: i64,
    to: i64,
    /// What the value counts, with the counts.
    basis: String,
}

impl Kpi {
    fn new(value: Option<f64>, target: Option<f64>, from: i64, to: i64, basis: String) -> Kpi {
        Kpi {
            met: value.zip(target).map(|(value, target)| value >= target),
            value,
            target,
            from,
            to,
            basis,
        }
    }
}

/// The KPIs of the operating guide (section 11.1).
#[derive(Serialize, utoipa::ToSchema)]
struct Kpis {
    /// 库存周转率: units sold over the last 7 days per unit on hand (time-weighted
    /// average); target 1.5 times the industry's weekly turnover.
    inventory_turnover: Kpi,
    /// 订单履约准确率: of the elderly deliveries requested over the last 30 days whose
    /// outcome is known, the share delivered by the ETA promised (the store's orders
    /// with a promise to keep); target 99.5%.
    fulfilment_accuracy: Kpi,
    /// 本地商品销售占比: local produce's share of sales value over the last 7 days;
    /// target at least 40%.
    local_sales_share: Kpi,
    /// 包装循环率: reusable boxes returned per unit sold in a reusable box over the
    /// last 30 days; the target is the store's (`[reports] packaging-return-target`).
    packaging_return_rate: Kpi,
}

/// Today's figures (the store's day, in its time zone, up to now) and the KPIs.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = TodayReport)]
struct Today {
    /// The store's date, `YYYY-MM-DD`.
    day: String,
    /// Start of the day and now, unix ms.
    from: i64,
    to: i64,
    sales: SalesFigures,
    /// Local produce's share of today's sales value; none before the first sale.
    local_share: Option<f64>,
    /// Units pre-ordered today over units sold and pre-ordered today.
    presale_share: Option<f64>,
    recycling: RecyclingFigures,
    kpis: Kpis,
}

/// Today's sales, baskets, local and presale shares and recycling, and the operating
/// guide's KPIs with their targets. Computed from the store's tables on each request.
#[utoipa::path(
    get,
    path = "/v1/reports/today",
    tag = "reports",
    responses((status = 200, description = "Today's figures and the KPIs", body = Today))
)]
async fn today(State(state): State<AppState>) -> Result<Json<Today>, ApiError> {
    state
        .read_db(|conn, state| {
            let now = now_ms();
            let (day, from) = day_start(&state.sharing.time_zone, now)?;
            let sales = reports::sales(conn, from, now)?;
            let recycling = reports::recycling(conn, from, now)?;
            let local_share = Count {
                of: sales.local_total.max(0) as u64,
                total: sales.total.max(0) as u64,
            }
            .share();
            let presale_share = Count {
                of: sales.presale_units,
                total: sales.units + sales.presale_units,
            }
            .share();

            let week = now - 7 * DAY;
            let month = now - 30 * DAY;
            let stock = reports::turnover_by_sku(conn, week, now)?;
            let sold: u64 = stock.iter().map(|row| row.sold).sum();
            let average: f64 = stock.iter().map(|row| row.average_on_hand).sum();
            let industry = state.reports.industry_weekly_turnover;
            let inventory_turnover = Kpi::new(
                reports::store_turnover(&stock),
                Some(industry * TURNOVER_VERSUS_INDUSTRY),
                week,
                now,
                format!(
                    "{sold} units sold in the last 7 days / {average:.1} units on hand on \
                     average; target {TURNOVER_VERSUS_INDUSTRY} × the industry's {industry} a week"
                ),
            );
            let kept = reports::deliveries_kept(conn, month, now, now)?;
            let fulfilment_accuracy = Kpi::new(
                kept.share(),
                Some(FULFILMENT_TARGET),
                month,
                now,
                format!(
                    "{} of {} deliveries requested in the last 30 days (delivered or overdue) \
                     arrived by the ETA promised",
                    kept.of, kept.total
                ),
            );
            let week_sales = reports::sales(conn, week, now)?;
            let local_sales_share = Kpi::new(
                Count {
                    of: week_sales.local_total.max(0) as u64,
                    total: week_sales.total.max(0) as u64,
                }
                .share(),
                Some(LOCAL_SHARE_TARGET),
                week,
                now,
                format!(
                    "local produce {} of {} cents sold in the last 7 days",
                    week_sales.local_total, week_sales.total
                ),
            );
            let boxes = reports::boxes_returned(conn, month, now)?;
            let packaging_return_rate = Kpi::new(
                boxes.share(),
                state.reports.packaging_return_target,
                month,
                now,
                format!(
                    "{} reusable boxes returned / {} units sold in reusable boxes in the last 30 days",
                    boxes.of, boxes.total
                ),
            );
            Ok(Json(Today {
                day,
                from,
                to: now,
                sales,
                local_share,
                presale_share,
                recycling,
                kpis: Kpis {
                    inventory_turnover,
                    fulfilment_accuracy,
                    local_sales_share,
                    packaging_return_rate,
                },
            }))
        })
        .await
}

/// The store's date at `now` and the unix ms its day started at.
fn day_start(zone: &jiff::tz::TimeZone, now: i64) -> Result<(String, i64), ApiError> {
    let failed = |err: jiff::Error| ApiError::Internal(format!("the store's day: {err}"));
    let date = jiff::Timestamp::from_millisecond(now)
        .map_err(failed)?
        .to_zoned(zone.clone())
        .date();
    let start = date
        .to_zoned(zone.clone())
        .map_err(failed)?
        .timestamp()
        .as_millisecond();
    Ok((date.to_string(), start))
}
