//! Event intake over HTTP: a store pushes the events it shares, signed with its key.

use super::{ApiError, AppState, blocking, now_ms, read_only, signer, store_named_by};
use crate::events;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::routing::post;
use axum::{Json, Router};
use linli_alliance::{Acked, MAX_EVENTS, Push, paths};

pub fn routes() -> Router<AppState> {
    Router::new().route(paths::EVENTS, post(receive_events))
}

/// A store pushes the events it shares, signed with its key (`linli-registry store
/// add`). Each (store, seq) is kept once, so a resent batch, or a replayed request
/// within the five minutes its signature is valid, stores nothing twice and gets the
/// same acknowledgement: the highest seq below which no event is missing.
async fn receive_events(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Acked>, ApiError> {
    read_only(&state)?;
    // The signature and the JSON are checked before taking the database, so pushes of
    // many stores do not queue behind one another's hashing and parsing.
    let (key, push) = blocking(move || {
        let key = signer(&headers, &method, &uri, &body)?;
        let push = serde_json::from_slice::<Push>(&body)
            .map_err(|err| ApiError::Unprocessable(format!("body: {err}")));
        Ok((key, push))
    })
    .await?;
    state
        .with_db(move |conn, _| {
            let store = store_named_by(conn, &key)?;
            let push = push?;
            if push.store != store {
                return Err(ApiError::Forbidden(format!(
                    "the batch is for store {}, but the key that signed it is store {store}'s",
                    push.store,
                )));
            }
            if push.events.len() > MAX_EVENTS {
                return Err(ApiError::Unprocessable(format!(
                    "events: {} in one push; send at most {MAX_EVENTS}",
                    push.events.len()
                )));
            }
            if let Some(bad) = push.events.iter().find(|event| event.seq < 1) {
                return Err(ApiError::Unprocessable(format!(
                    "events: seq {}: sequence numbers start at 1",
                    bad.seq
                )));
            }
            let acked = events::receive(conn, &store, &push.events, now_ms())?;
            Ok(Json(Acked { acked }))
        })
        .await
}
