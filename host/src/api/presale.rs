//! Presale campaigns (社区预售): open one, place and cancel pre-orders, close it — the
//! presale plugin decides; a go creates the supplier order and confirms the pre-orders,
//! a no-go releases them, an extension moves the deadline.

use super::{ApiError, ApiErrorBody, AppState, Body, Invalid, NotJson, Number, now_ms};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use linli_runtime::{Call, Campaign, Decision, Evaluation};
use linli_store::catalogue;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

const DAY: i64 = 86_400_000;

pub fn reading() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(show))
}

pub fn mutating() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(open))
        .routes(routes!(place))
        .routes(routes!(close))
        .routes(routes!(cancel))
}

/// A campaign to open (times in unix milliseconds).
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = CampaignOpening)]
#[serde(deny_unknown_fields)]
struct Opening {
    campaign: String,
    sku: String,
    supplier: String,
    deadline: i64,
    min_qty: u32,
    /// The product's normal weekly volume; by default, its sales over the last 7 days.
    weekly_volume: Option<u32>,
}

/// A resident's pre-order.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct PreorderRequest {
    /// The resident's pseudonym.
    customer: String,
    qty: u32,
}

/// A campaign, its status and its pre-orders.
#[derive(Serialize, utoipa::ToSchema)]
struct CampaignView {
    campaign: String,
    sku: String,
    product: String,
    supplier: String,
    opened_at: i64,
    deadline: i64,
    min_qty: u32,
    weekly_volume: u32,
    extended: bool,
    status: String,
    reason: Option<String>,
    preordered_qty: u32,
    preorder_count: u32,
    orders: Vec<Preorder>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Preorder {
    preorder: i64,
    customer: String,
    qty: u32,
    status: String,
}

/// The presale plugin's decision at close, and the campaign after it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = CampaignClosed)]
struct Closed {
    evaluation: Evaluation,
    install: String,
    campaign: CampaignView,
}

/// Open a presale campaign for a SKU; residents pre-order until the deadline (at least
/// 3 days ahead).
#[utoipa::path(
    post,
    path = "/v1/presale/campaigns",
    tag = "presale",
    request_body = Opening,
    responses(
        (status = 201, description = "The campaign, open", body = CampaignView),
        NotJson,
        (status = 404, description = "The SKU is not in the catalogue", body = ApiErrorBody),
        (status = 409, description = "The campaign already exists", body = ApiErrorBody),
        (status = 422, description = "A field is missing or invalid (deadline under 3 days)", body = ApiErrorBody),
    )
)]
async fn open(
    State(state): State<AppState>,
    Body(opening): Body<Opening>,
) -> Result<(StatusCode, Json<CampaignView>), ApiError> {
    state
        .with_db(move |conn, _| {
            let now = now_ms();
            if opening.campaign.trim().is_empty() || opening.supplier.trim().is_empty() {
                return Err(ApiError::Unprocessable("campaign and supplier: must not be empty".into()));
            }
            if opening.deadline < now + 3 * DAY {
                return Err(ApiError::Unprocessable(
                    "deadline: residents pre-order at least 3 days ahead; set it 3 days or more from now".into(),
                ));
            }
            let sku = catalogue::sku(conn, &opening.sku)?
                .ok_or_else(|| ApiError::NotFound(format!("sku: {} is not in the catalogue", opening.sku)))?;
            let weekly_volume = match opening.weekly_volume {
                Some(volume) => volume,
                None => conn.query_row(
                    "SELECT coalesce(sum(sale_line.qty), 0) FROM sale_line JOIN sale ON sale.sale = sale_line.sale \
                     WHERE sale_line.sku = ?1 AND sale.at >= ?2",
                    params![sku.sku, now - 7 * DAY],
                    |row| row.get(0),
                )?,
            };
            let tx = conn.transaction()?;
            let inserted = tx.execute(
                "INSERT OR IGNORE INTO presale_campaign (campaign, sku, product, supplier, opened_at, deadline, min_qty, weekly_volume) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![opening.campaign, sku.sku, sku.name, opening.supplier, now, opening.deadline, opening.min_qty, weekly_volume],
            )?;
            if inserted == 0 {
                return Err(ApiError::Conflict(format!("campaign: {} already exists", opening.campaign)));
            }
            let view = load(&tx, &opening.campaign)?;
            tx.commit()?;
            Ok((StatusCode::CREATED, Json(view)))
        })
        .await
}

/// The latest 100 campaigns, open ones first, then by deadline.
#[utoipa::path(
    get,
    path = "/v1/presale/campaigns",
    tag = "presale",
    responses((status = 200, description = "The campaigns with their pre-orders", body = Vec<CampaignView>))
)]
async fn list(State(state): State<AppState>) -> Result<Json<Vec<CampaignView>>, ApiError> {
    state
        .read_db(|conn, _| {
            let ids: Vec<String> = conn
                .prepare_cached(
                    "SELECT campaign FROM presale_campaign \
                     ORDER BY status != 'open', deadline DESC, campaign LIMIT 100",
                )?
                .query_map([], |row| row.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let views: Vec<CampaignView> = ids
                .iter()
                .map(|id| load(conn, id))
                .collect::<Result<_, _>>()?;
            Ok(Json(views))
        })
        .await
}

/// A campaign with its pre-orders.
#[utoipa::path(
    get,
    path = "/v1/presale/campaigns/{campaign}",
    tag = "presale",
    params(("campaign" = String, Path, description = "The campaign id")),
    responses(
        (status = 200, description = "The campaign", body = CampaignView),
        (status = 404, description = "No such campaign", body = ApiErrorBody),
    )
)]
async fn show(
    State(state): State<AppState>,
    Path(campaign): Path<String>,
) -> Result<Json<CampaignView>, ApiError> {
    state
        .read_db(move |conn, _| Ok(Json(load(conn, &campaign)?)))
        .await
}

/// Place a resident's pre-order in an open campaign.
#[utoipa::path(
    post,
    path = "/v1/presale/campaigns/{campaign}/orders",
    tag = "presale",
    params(("campaign" = String, Path, description = "The campaign id")),
    request_body = PreorderRequest,
    responses(
        (status = 201, description = "The campaign with the new pre-order", body = CampaignView),
        NotJson,
        (status = 404, description = "No such campaign", body = ApiErrorBody),
        (status = 409, description = "The campaign is closed to pre-orders", body = ApiErrorBody),
        Invalid,
    )
)]
async fn place(
    State(state): State<AppState>,
    Path(campaign): Path<String>,
    Body(order): Body<PreorderRequest>,
) -> Result<(StatusCode, Json<CampaignView>), ApiError> {
    state
        .with_db(move |conn, _| {
            if order.qty == 0 {
                return Err(ApiError::Unprocessable(
                    "qty: a pre-order is for at least 1 unit".into(),
                ));
            }
            if order.customer.trim().is_empty() {
                return Err(ApiError::Unprocessable(
                    "customer: the resident's pseudonym is required".into(),
                ));
            }
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let view = load(&tx, &campaign)?;
            if view.status != "open" || now_ms() > view.deadline {
                return Err(ApiError::Conflict(format!(
                    "campaign {campaign}: closed to pre-orders ({})",
                    view.status
                )));
            }
            tx.execute(
                "INSERT INTO presale_order (campaign, customer, qty, at) VALUES (?1, ?2, ?3, ?4)",
                params![campaign, order.customer.trim(), order.qty, now_ms()],
            )?;
            let view = load(&tx, &campaign)?;
            tx.commit()?;
            Ok((StatusCode::CREATED, Json(view)))
        })
        .await
}

/// Cancel a placed pre-order.
#[utoipa::path(
    post,
    path = "/v1/presale/orders/{preorder}/cancel",
    tag = "presale",
    params(("preorder" = i64, Path, description = "The pre-order number")),
    responses(
        (status = 200, description = "The campaign after the cancellation", body = CampaignView),
        (status = 404, description = "No such pre-order", body = ApiErrorBody),
        (status = 409, description = "The pre-order is no longer placed", body = ApiErrorBody),
    )
)]
async fn cancel(
    State(state): State<AppState>,
    Number(preorder): Number,
) -> Result<Json<CampaignView>, ApiError> {
    state
        .with_db(move |conn, _| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let found: Option<(String, String)> = tx
                .query_row(
                    "SELECT campaign, status FROM presale_order WHERE preorder = ?1",
                    [preorder],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()?;
            let (campaign, status) = found.ok_or_else(|| {
                ApiError::NotFound(format!("pre-order {preorder}: no such pre-order"))
            })?;
            if status != "placed" {
                return Err(ApiError::Conflict(format!(
                    "pre-order {preorder}: already {status}"
                )));
            }
            tx.execute(
                "UPDATE presale_order SET status = 'cancelled' WHERE preorder = ?1",
                [preorder],
            )?;
            let view = load(&tx, &campaign)?;
            tx.commit()?;
            Ok(Json(view))
        })
        .await
}

/// Close a campaign: the presale plugin decides go (order from the supplier, confirm
/// pre-orders), no-go (release them), extend (a new deadline) or wait.
#[utoipa::path(
    post,
    path = "/v1/presale/campaigns/{campaign}/close",
    tag = "presale",
    params(("campaign" = String, Path, description = "The campaign id")),
    responses(
        (status = 200, description = "The decision and the campaign after it", body = Closed),
        (status = 404, description = "No such campaign", body = ApiErrorBody),
        (status = 409, description = "The campaign was already decided", body = ApiErrorBody),
        (status = 422, description = "The plugin refused", body = ApiErrorBody),
        (status = 503, description = "No working presale plugin could decide", body = ApiErrorBody),
    )
)]
async fn close(
    State(state): State<AppState>,
    Path(campaign): Path<String>,
) -> Result<Json<Closed>, ApiError> {
    state
        .with_db(move |conn, state| {
            let now = now_ms();
            let view = load(conn, &campaign)?;
            if view.status != "open" {
                return Err(ApiError::Conflict(format!("campaign {campaign}: already decided ({})", view.status)));
            }
            let call = Call::Evaluate(Campaign {
                id: view.campaign.clone(),
                sku: view.sku.clone(),
                product: view.product.clone(),
                supplier: view.supplier.clone(),
                opened_at: view.opened_at,
                deadline: view.deadline,
                min_qty: view.min_qty,
                preordered_qty: view.preordered_qty,
                preorder_count: view.preorder_count,
                weekly_volume: view.weekly_volume,
                extended: view.extended,
            });
            let (evaluation, install): (Evaluation, _) = state.decide(&call, now)?;
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            match evaluation.decision {
                Decision::Go => {
                    tx.execute(
                        "UPDATE presale_campaign SET status = 'go', reason = ?2 WHERE campaign = ?1",
                        params![campaign, evaluation.reason],
                    )?;
                    tx.execute(
                        "INSERT INTO supplier_order (campaign, supplier, sku, qty, at) VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![campaign, view.supplier, view.sku, evaluation.supplier_qty, now],
                    )?;
                    tx.execute(
                        "UPDATE presale_order SET status = 'confirmed' WHERE campaign = ?1 AND status = 'placed'",
                        [&campaign],
                    )?;
                }
                Decision::NoGo => {
                    tx.execute(
                        "UPDATE presale_campaign SET status = 'no-go', reason = ?2 WHERE campaign = ?1",
                        params![campaign, evaluation.reason],
                    )?;
                    tx.execute(
                        "UPDATE presale_order SET status = 'released' WHERE campaign = ?1 AND status = 'placed'",
                        [&campaign],
                    )?;
                }
                Decision::Extend => {
                    tx.execute(
                        "UPDATE presale_campaign SET deadline = ?2, extended = 1, reason = ?3 WHERE campaign = ?1",
                        params![campaign, evaluation.new_deadline, evaluation.reason],
                    )?;
                }
                Decision::Wait => {}
            }
            let view = load(&tx, &campaign)?;
            tx.commit()?;
            Ok(Json(Closed {
                evaluation,
                install,
                campaign: view,
            }))
        })
        .await
}

fn load(conn: &Connection, campaign: &str) -> Result<CampaignView, ApiError> {
    let view = conn
        .query_row(
            "SELECT campaign, sku, product, supplier, opened_at, deadline, min_qty, weekly_volume, extended, status, reason \
             FROM presale_campaign WHERE campaign = ?1",
            [campaign],
            |row| {
                Ok(CampaignView {
                    campaign: row.get(0)?,
                    sku: row.get(1)?,
                    product: row.get(2)?,
                    supplier: row.get(3)?,
                    opened_at: row.get(4)?,
                    deadline: row.get(5)?,
                    min_qty: row.get(6)?,
                    weekly_volume: row.get(7)?,
                    extended: row.get(8)?,
                    status: row.get(9)?,
                    reason: row.get(10)?,
                    preordered_qty: 0,
                    preorder_count: 0,
                    orders: Vec::new(),
                })
            },
        )
        .optional()?;
    let mut view =
        view.ok_or_else(|| ApiError::NotFound(format!("campaign {campaign}: no such campaign")))?;
    let mut statement = conn.prepare_cached(
        "SELECT preorder, customer, qty, status FROM presale_order WHERE campaign = ?1 ORDER BY preorder",
    )?;
    let orders = statement.query_map([campaign], |row| {
        Ok(Preorder {
            preorder: row.get(0)?,
            customer: row.get(1)?,
            qty: row.get(2)?,
            status: row.get(3)?,
        })
    })?;
    view.orders = orders.collect::<rusqlite::Result<_>>()?;
    let live = view
        .orders
        .iter()
        .filter(|order| order.status != "cancelled" && order.status != "released");
    view.preorder_count = live.clone().count() as u32;
    view.preordered_qty = live.map(|order| order.qty).sum();
    Ok(view)
}
