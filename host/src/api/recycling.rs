//! Recycling: box and packaging returns (the plugin decides refund and points, the
//! ledger keeps them per pseudonym), point balances, and redemptions at checkout.

use super::{ApiError, ApiErrorBody, AppState, Body, InPath, NotJson, now_ms, pseudonym};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use linli_runtime::bindings::types::CustomerRef;
use linli_runtime::{
    Call, Condition, RedemptionGrant, RedemptionRequest, ReturnAward, ReturnEvent, ReturnKind,
};
use linli_store::points::{self, Entry, Returned};
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn reading() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(account))
}

pub fn mutating() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(record_return))
        .routes(routes!(redeem))
}

/// Boxes or packaging a customer brought back.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = RecyclingReturn)]
#[serde(deny_unknown_fields)]
struct Return {
    customer: CustomerRef,
    kind: ReturnKind,
    count: u32,
    condition: Condition,
}

/// Points a customer wants to spend on a basket.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = PointsRedemption)]
#[serde(deny_unknown_fields)]
struct Redemption {
    customer: CustomerRef,
    /// Points the customer wants to use.
    requested: u32,
    /// Total of the basket the discount applies to, in cents.
    basket_total: i64,
}

/// A ledger entry as written, with the customer's new balance.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = LedgerRecorded)]
struct Recorded {
    #[serde(flatten)]
    entry: Entry,
    balance: i64,
    /// The install that decided.
    install: String,
}

/// A customer's points balance and latest ledger entries.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = PointsAccount)]
struct Account {
    pseudonym: String,
    balance: i64,
    /// The latest entries, newest first.
    entries: Vec<Entry>,
}

/// A customer's points balance and their latest 50 ledger entries.
#[utoipa::path(
    get,
    path = "/v1/recycling/accounts/{pseudonym}",
    tag = "recycling",
    params(("pseudonym" = String, Path, description = "The customer's pseudonym")),
    responses((status = 200, description = "The account (empty for an unknown pseudonym)", body = Account))
)]
async fn account(
    State(state): State<AppState>,
    InPath(pseudonym): InPath<String>,
) -> Result<Json<Account>, ApiError> {
    state
        .read_db(move |conn, _| {
            Ok(Json(Account {
                balance: points::balance(conn, &pseudonym)?,
                entries: points::entries(conn, &pseudonym, 50)?,
                pseudonym,
            }))
        })
        .await
}

/// Record a return: the recycling plugin decides the refund and the points.
#[utoipa::path(
    post,
    path = "/v1/recycling/returns",
    tag = "recycling",
    request_body = Return,
    responses(
        (status = 201, description = "The entry and the new balance", body = Recorded),
        NotJson,
        (status = 422, description = "A field is missing or invalid, or the plugin refused", body = ApiErrorBody),
        (status = 503, description = "No working recycling plugin could decide", body = ApiErrorBody),
    )
)]
async fn record_return(
    State(state): State<AppState>,
    Body(returned): Body<Return>,
) -> Result<(StatusCode, Json<Recorded>), ApiError> {
    state
        .with_db(move |conn, state| {
            let customer = pseudonym(&returned.customer)?;
            if returned.count == 0 {
                return Err(ApiError::Unprocessable(
                    "count: 0; a return brings back at least 1".into(),
                ));
            }
            let brought = Returned {
                kind: match returned.kind {
                    ReturnKind::DepositBox => "deposit-box",
                    ReturnKind::Packaging => "packaging",
                },
                count: returned.count,
            };
            let call = Call::OnReturn(ReturnEvent {
                customer: returned.customer.clone(),
                kind: returned.kind,
                count: returned.count,
                condition: returned.condition,
            });
            let now = now_ms();
            let (award, install): (ReturnAward, _) = state.decide(&call, now)?;
            let entry = Entry {
                at: now,
                kind: "return".into(),
                points: i64::from(award.points),
                refund: award.refund,
                discount: 0,
                reason: award.reason,
            };
            record(conn, &customer, entry, Some(brought), install)
        })
        .await
}

/// Spend points on a basket: the recycling plugin decides the discount.
#[utoipa::path(
    post,
    path = "/v1/recycling/redemptions",
    tag = "recycling",
    request_body = Redemption,
    responses(
        (status = 201, description = "The entry and the new balance", body = Recorded),
        NotJson,
        (status = 422, description = "A field is missing or invalid, or the plugin refused", body = ApiErrorBody),
        (status = 503, description = "No working recycling plugin could decide", body = ApiErrorBody),
    )
)]
async fn redeem(
    State(state): State<AppState>,
    Body(redemption): Body<Redemption>,
) -> Result<(StatusCode, Json<Recorded>), ApiError> {
    state
        .with_db(move |conn, state| {
            let customer = pseudonym(&redemption.customer)?;
            if redemption.basket_total < 0 {
                return Err(ApiError::Unprocessable(format!(
                    "basket_total: {} cents; a basket's total is not negative",
                    redemption.basket_total
                )));
            }
            let now = now_ms();
            // Two tills cannot spend the same points: the store connection is held from
            // reading the balance to writing the entry. No write transaction is open
            // during the plugin call, so a plugin's own kv writes never wait on it.
            let balance = points::balance(conn, &customer)?;
            let call = Call::OnRedeem(RedemptionRequest {
                customer: redemption.customer.clone(),
                // `points::record` keeps every balance within 0 to u32::MAX.
                balance: u32::try_from(balance).map_err(|_| {
                    ApiError::Internal(format!("customer {customer}: balance {balance}"))
                })?,
                requested: redemption.requested,
                basket_total: redemption.basket_total,
            });
            let (grant, install): (RedemptionGrant, _) = state.decide(&call, now)?;
            let entry = Entry {
                at: now,
                kind: "redemption".into(),
                points: -i64::from(grant.points_used),
                refund: 0,
                discount: grant.discount,
                reason: grant.reason,
            };
            record(conn, &customer, entry, None, install)
        })
        .await
}

/// Record the entry and answer with the customer's new balance.
fn record(
    conn: &mut rusqlite::Connection,
    customer: &str,
    entry: Entry,
    returned: Option<Returned<'_>>,
    install: String,
) -> Result<(StatusCode, Json<Recorded>), ApiError> {
    let balance = points::record(conn, customer, &entry, returned)?;
    Ok((
        StatusCode::CREATED,
        Json(Recorded {
            entry,
            balance,
            install,
        }),
    ))
}
