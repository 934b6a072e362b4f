//! The alliance's shared stock pool (跨社区互助库存池), from the store's side: offer
//! surplus of a batch, search the offers of stores within a radius, ask for units,
//! accept or decline what others ask of this store's offers. Offers travel through the
//! outbox; searching, asking and deciding are calls to the alliance server, which
//! arbitrates, so they need it online. Accepted transfers become stock movements of
//! the batch on both sides (the batch trace lists them).

use super::{
    ApiError, ApiErrorBody, AppState, BadQuery, Body, InPath, Invalid, NotJson, Params, now_ms,
};
use crate::alliance::{CallError, Link};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use linli_alliance::{
    Decision, MAX_RADIUS_KM, Offer, Proposal, State as TransferState, Transfer, paths,
};
use linli_store::pool::{self, LocalOffer, Recorded};
use linli_store::text;
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn reading() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_offers))
        .routes(routes!(search))
        .routes(routes!(list_transfers))
}

pub fn mutating() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(make_offer))
        .routes(routes!(withdraw))
        .routes(routes!(propose))
        .routes(routes!(accept))
        .routes(routes!(decline))
}

/// This store's name at the alliance; none when sync is off.
fn this_store(state: &AppState) -> Option<&str> {
    state.alliance.as_ref().map(|link| link.store())
}

/// Call the alliance server on a blocking thread; its refusals keep their meaning
/// (404, 409, 422), anything else is the alliance failing the store.
async fn alliance<T, F>(state: &AppState, call: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&Link) -> Result<T, CallError> + Send + 'static,
{
    let link = state.alliance.clone().ok_or_else(|| {
        ApiError::Unavailable(
            "the stock pool needs the alliance: set `server`, `key` and `store` under [alliance] in the daemon's config"
                .into(),
        )
    })?;
    let answer = tokio::task::spawn_blocking(move || call(&link))
        .await
        .map_err(|err| ApiError::Internal(format!("alliance call failed: {err}")))?;
    answer.map_err(|err| match err {
        CallError::Unreachable(message) => ApiError::BadGateway(format!(
            "{message}; the pool needs the alliance online, try again later (the store's own flows keep working)"
        )),
        CallError::Refused { status, message } => match status {
            404 => ApiError::NotFound(message),
            409 => ApiError::Conflict(message),
            400 | 422 => ApiError::Unprocessable(message),
            _ => ApiError::BadGateway(format!(
                "the alliance server refused ({status}): {message}"
            )),
        },
    })
}

/// Units of a batch to offer.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = PoolOfferRequest)]
#[serde(deny_unknown_fields)]
struct Offering {
    batch: String,
    qty: u32,
}

/// Offer units of a batch to the alliance's pool. The offer goes to the alliance with
/// the next push of the outbox; the units stay on sale until a transfer of them is
/// accepted.
#[utoipa::path(
    post,
    path = "/v1/pool/offers",
    tag = "pool",
    request_body = Offering,
    responses(
        (status = 201, description = "The offer, queued for the alliance", body = LocalOffer),
        NotJson,
        (status = 404, description = "No such batch", body = ApiErrorBody),
        (status = 409, description = "Fewer units on hand than offered, or the batch expired", body = ApiErrorBody),
        Invalid,
    )
)]
async fn make_offer(
    State(state): State<AppState>,
    Body(offering): Body<Offering>,
) -> Result<(StatusCode, Json<LocalOffer>), ApiError> {
    if offering.qty == 0 {
        return Err(ApiError::Unprocessable(
            "qty: an offer is of at least 1 unit".into(),
        ));
    }
    state
        .with_db(move |conn, _| {
            let offer = pool::offer(conn, &offering.batch, offering.qty, now_ms())?;
            Ok((StatusCode::CREATED, Json(offer)))
        })
        .await
}

/// Take an offer back; the alliance stops offering it with the next push.
#[utoipa::path(
    post,
    path = "/v1/pool/offers/{offer}/withdraw",
    tag = "pool",
    params(("offer" = String, Path, description = "The offer's id")),
    responses(
        (status = 200, description = "The offer, withdrawn", body = LocalOffer),
        (status = 404, description = "No such offer", body = ApiErrorBody),
        (status = 409, description = "Already withdrawn", body = ApiErrorBody),
    )
)]
async fn withdraw(
    State(state): State<AppState>,
    InPath(offer): InPath<String>,
) -> Result<Json<LocalOffer>, ApiError> {
    state
        .with_db(move |conn, _| Ok(Json(pool::withdraw(conn, &offer, now_ms())?)))
        .await
}

/// This store's offers, newest first.
#[utoipa::path(
    get,
    path = "/v1/pool/offers",
    tag = "pool",
    responses((status = 200, description = "The store's offers", body = Vec<LocalOffer>))
)]
async fn list_offers(State(state): State<AppState>) -> Result<Json<Vec<LocalOffer>>, ApiError> {
    state.read_db(|conn, _| Ok(Json(pool::offers(conn)?))).await
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct Search {
    /// Offers of this SKU; of every SKU without it.
    sku: Option<String>,
    /// From this store's location at the alliance, in km (default 5, the guide's 3-5 km).
    radius_km: Option<f64>,
}

/// Open offers of other stores within a radius of this one, nearest first (asks the
/// alliance server).
#[utoipa::path(
    get,
    path = "/v1/pool/search",
    tag = "pool",
    params(Search),
    responses(
        (status = 200, description = "Offers within the radius", body = Vec<Offer>),
        BadQuery,
        (status = 422, description = "The alliance has no location for this store", body = ApiErrorBody),
        (status = 502, description = "The alliance server is unreachable or failed", body = ApiErrorBody),
        (status = 503, description = "Sync with the alliance is off", body = ApiErrorBody),
    )
)]
async fn search(
    State(state): State<AppState>,
    Params(search): Params<Search>,
) -> Result<Json<Vec<Offer>>, ApiError> {
    if let Some(radius) = search.radius_km
        && !(radius > 0.0 && radius <= MAX_RADIUS_KM)
    {
        return Err(ApiError::BadRequest(format!(
            "radius_km: {radius}; more than 0 and at most {MAX_RADIUS_KM}"
        )));
    }
    if let Some(sku) = &search.sku {
        text::id("sku", sku).map_err(|err| ApiError::BadRequest(err.to_string()))?;
    }
    let radius = search.radius_km.map(|radius| radius.to_string());
    alliance(&state, move |link| {
        let mut query = Vec::new();
        if let Some(sku) = &search.sku {
            query.push(("sku", sku.as_str()));
        }
        if let Some(radius) = &radius {
            query.push(("radius_km", radius.as_str()));
        }
        link.call("GET", paths::OFFERS, &query, Vec::new())
    })
    .await
    .map(Json)
}

/// Ask another store for units of its offer: a proposed transfer, for that store to
/// accept or decline.
#[utoipa::path(
    post,
    path = "/v1/pool/transfers",
    tag = "pool",
    request_body = Proposal,
    responses(
        (status = 201, description = "The transfer, proposed", body = Transfer),
        NotJson,
        (status = 404, description = "No such offer at the alliance", body = ApiErrorBody),
        (status = 409, description = "Fewer units left than asked, or the offer is withdrawn or expired", body = ApiErrorBody),
        Invalid,
        (status = 502, description = "The alliance server is unreachable or failed", body = ApiErrorBody),
        (status = 503, description = "Sync with the alliance is off", body = ApiErrorBody),
    )
)]
async fn propose(
    State(state): State<AppState>,
    Body(proposal): Body<Proposal>,
) -> Result<(StatusCode, Json<Transfer>), ApiError> {
    text::id("store", &proposal.store)?;
    text::id("offer", &proposal.offer)?;
    if proposal.qty == 0 {
        return Err(ApiError::Unprocessable(
            "qty: 0; a transfer asks for at least 1 unit".into(),
        ));
    }
    let body = serde_json::to_vec(&proposal).expect("proposals serialise");
    let proposed: Transfer = alliance(&state, move |link| {
        link.call("POST", paths::TRANSFERS, &[], body)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(proposed)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct Wanted {
    /// Only transfers in this state: proposed (waiting for the offering store),
    /// accepted or declined.
    state: Option<TransferState>,
}

/// A transfer this store sends or receives, with how this store recorded it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = StoreTransfer)]
struct Listed {
    #[serde(flatten)]
    transfer: Transfer,
    /// `out` when this store sends the units (its offer: it accepts or declines), `in`
    /// when it asked for them.
    direction: String,
    /// The stock movement on this side, once the transfer is accepted and recorded.
    recorded: Option<Recorded>,
}

/// Transfers this store sends or receives, newest first (asks the alliance server):
/// the proposals waiting for this store to decide are those in state `proposed` whose
/// `from_store` is this store.
#[utoipa::path(
    get,
    path = "/v1/pool/transfers",
    tag = "pool",
    params(Wanted),
    responses(
        (status = 200, description = "The store's transfers", body = Vec<Listed>),
        BadQuery,
        (status = 502, description = "The alliance server is unreachable or failed", body = ApiErrorBody),
        (status = 503, description = "Sync with the alliance is off", body = ApiErrorBody),
    )
)]
async fn list_transfers(
    State(state): State<AppState>,
    Params(wanted): Params<Wanted>,
) -> Result<Json<Vec<Listed>>, ApiError> {
    let transfers = store_transfers(&state, wanted.state).await?;
    state
        .read_db(move |conn, state| {
            let store = this_store(state);
            let mut listed = Vec::new();
            for transfer in transfers {
                let recorded = pool::recorded(conn, transfer.transfer)?;
                let direction = if Some(transfer.from_store.as_str()) == store {
                    "out"
                } else {
                    "in"
                };
                listed.push(Listed {
                    transfer,
                    direction: direction.into(),
                    recorded,
                });
            }
            Ok(Json(listed))
        })
        .await
}

/// The alliance's transfers of this store, in one state or all.
async fn store_transfers(
    state: &AppState,
    wanted: Option<TransferState>,
) -> Result<Vec<Transfer>, ApiError> {
    alliance(state, move |link| {
        let mut query = vec![("store", link.store())];
        if let Some(wanted) = wanted {
            query.push(("state", wanted.as_str()));
        }
        link.call("GET", paths::TRANSFERS, &query, Vec::new())
    })
    .await
}

/// An accepted transfer and its stock movement on this side.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = AcceptedTransfer)]
struct Accepted {
    transfer: Transfer,
    recorded: Recorded,
}

/// Accept a transfer of this store's offer: the alliance takes the units from the
/// offer (no two transfers get the same units), and the units leave the batch here
/// as a `transfer-out` movement. The receiving store records them as they arrive.
#[utoipa::path(
    post,
    path = "/v1/pool/transfers/{transfer}/accept",
    tag = "pool",
    params(("transfer" = i64, Path, description = "The alliance's transfer id")),
    responses(
        (status = 200, description = "The transfer, accepted and recorded", body = Accepted),
        (status = 404, description = "No such transfer of this store", body = ApiErrorBody),
        (status = 409, description = "Already declined, the offer has too few units left, or the batch too few on hand", body = ApiErrorBody),
        (status = 422, description = "The transfer is one this store asked for, not one of its offers", body = ApiErrorBody),
        (status = 502, description = "The alliance server is unreachable or failed", body = ApiErrorBody),
        (status = 503, description = "Sync with the alliance is off", body = ApiErrorBody),
    )
)]
async fn accept(
    State(state): State<AppState>,
    InPath(id): InPath<i64>,
) -> Result<Json<Accepted>, ApiError> {
    let transfer = own_transfer(&state, id).await?;
    if transfer.state == TransferState::Proposed {
        // Refuse before the alliance commits the units, while the batch can still say
        // it has too few.
        state
            .read_db(move |conn, _| Ok(pool::can_accept(conn, &transfer)?))
            .await?;
    }
    let accepted = decide(&state, id, Decision::Accept).await?;
    let store = this_store(&state).unwrap_or_default().to_string();
    let record = accepted.clone();
    let recorded = state
        .with_db(move |conn, _| Ok(pool::record_accepted(conn, &record, &store, now_ms())?))
        .await?;
    Ok(Json(Accepted {
        transfer: accepted,
        recorded,
    }))
}

/// Decline a transfer of this store's offer; its units stay offered.
#[utoipa::path(
    post,
    path = "/v1/pool/transfers/{transfer}/decline",
    tag = "pool",
    params(("transfer" = i64, Path, description = "The alliance's transfer id")),
    responses(
        (status = 200, description = "The transfer, declined", body = Transfer),
        (status = 404, description = "No such transfer of this store", body = ApiErrorBody),
        (status = 409, description = "Already accepted", body = ApiErrorBody),
        (status = 422, description = "The transfer is one this store asked for, not one of its offers", body = ApiErrorBody),
        (status = 502, description = "The alliance server is unreachable or failed", body = ApiErrorBody),
        (status = 503, description = "Sync with the alliance is off", body = ApiErrorBody),
    )
)]
async fn decline(
    State(state): State<AppState>,
    InPath(id): InPath<i64>,
) -> Result<Json<Transfer>, ApiError> {
    own_transfer(&state, id).await?;
    decide(&state, id, Decision::Decline).await.map(Json)
}

/// A transfer of one of this store's offers: this store decides it.
async fn own_transfer(state: &AppState, id: i64) -> Result<Transfer, ApiError> {
    let transfer = store_transfers(state, None)
        .await?
        .into_iter()
        .find(|transfer| transfer.transfer == id)
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "transfer {id}: no transfer of this store's offers or requests has that id"
            ))
        })?;
    if Some(transfer.from_store.as_str()) != this_store(state) {
        return Err(ApiError::Unprocessable(format!(
            "transfer {id} asks store {} for units; that store accepts or declines it",
            transfer.from_store
        )));
    }
    Ok(transfer)
}

async fn decide(state: &AppState, id: i64, decision: Decision) -> Result<Transfer, ApiError> {
    alliance(state, move |link| {
        link.call("POST", &paths::decision(id, decision), &[], Vec::new())
    })
    .await
}
