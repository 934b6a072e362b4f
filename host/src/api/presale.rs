//! Presale campaigns (社区预售): open one, place and cancel pre-orders, close it — the
//! presale plugin decides; a go creates the supplier order and confirms the pre-orders,
//! a no-go releases them, an extension moves the deadline.

use super::{ApiError, ApiErrorBody, AppState, Body, InPath, Invalid, NotJson, now_ms};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use linli_runtime::bindings::types::PolicyError;
use linli_runtime::pipeline::PipelineError;
use linli_runtime::{Call, Evaluation, World};
use linli_store::presale;
pub use linli_store::presale::CampaignView;
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

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
        (status = 422, description = "A field is missing or invalid (the deadline under 3 or over 366 days ahead, no minimum), or the presale policy could never close the campaign", body = ApiErrorBody),
    )
)]
async fn open(
    State(state): State<AppState>,
    Body(opening): Body<Opening>,
) -> Result<(StatusCode, Json<CampaignView>), ApiError> {
    state
        .with_db(move |conn, state| {
            let wanted = presale::Opening {
                campaign: &opening.campaign,
                sku: &opening.sku,
                supplier: &opening.supplier,
                deadline: opening.deadline,
                min_qty: opening.min_qty,
                weekly_volume: opening.weekly_volume,
            };
            let now = now_ms();
            let campaign = presale::check_opening(conn, wanted, now)?;
            // What the presale policy refuses of a campaign now it refuses at every
            // close: such a campaign is refused at open, in the policy's words. (No
            // working policy now says nothing about the campaign.)
            let call = Call::Evaluate(campaign.clone());
            if let Err(PipelineError::Refused {
                install,
                error: PolicyError::InvalidInput(text),
                ..
            }) = state.pipeline(World::Presale).decide(&call, now)
            {
                return Err(ApiError::Unprocessable(format!(
                    "{install} could never close this campaign: {text}"
                )));
            }
            let view = presale::open(conn, &campaign)?;
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
        .read_db(|conn, _| Ok(Json(presale::list(conn)?)))
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
    InPath(campaign): InPath<String>,
) -> Result<Json<CampaignView>, ApiError> {
    state
        .read_db(move |conn, _| Ok(Json(presale::load(conn, &campaign)?)))
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
    InPath(campaign): InPath<String>,
    Body(order): Body<PreorderRequest>,
) -> Result<(StatusCode, Json<CampaignView>), ApiError> {
    state
        .with_db(move |conn, _| {
            let view = presale::place(conn, &campaign, &order.customer, order.qty, now_ms())?;
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
    InPath(preorder): InPath<i64>,
) -> Result<Json<CampaignView>, ApiError> {
    state
        .with_db(move |conn, _| Ok(Json(presale::cancel(conn, preorder)?)))
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
    InPath(campaign): InPath<String>,
) -> Result<Json<Closed>, ApiError> {
    state
        .with_db(move |conn, state| {
            let now = now_ms();
            let open = presale::to_close(conn, &campaign)?;
            let call = Call::Evaluate(open.clone());
            let (evaluation, install): (Evaluation, _) = state.decide(&call, now)?;
            let view = presale::decide(conn, &open, &evaluation, now)?;
            Ok(Json(Closed {
                evaluation,
                install,
                campaign: view,
            }))
        })
        .await
}
