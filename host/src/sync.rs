//! Sync with the alliance: a background task pushes the outbox, oldest first, in signed
//! batches to the alliance server (`linli-registry serve`) and marks what the server
//! acknowledged, then pulls the stock pool's accepted transfers this store sends or
//! receives and records each once. Local flows never wait on it; while the server is
//! unreachable it backs off with jitter, and the events wait in the outbox.

use crate::api::{self, AppState};
use crate::daemon::AllianceConfig;
use linli_alliance::{Acked, Envelope, MAX_EVENTS, Push, State, Transfer, paths};
use linli_sdk::bundle::SecretKey;
use linli_store::{outbox, pool};
use std::sync::Arc;
use std::time::Duration;

/// Events in one push: well inside the server's limit.
const BATCH: usize = MAX_EVENTS / 2;
/// The wait after the first failed push; it doubles up to `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// The store's link to the alliance server: where, as whom, how often.
pub struct Link {
    /// The server's base URL, without a trailing slash.
    server: String,
    store: String,
    key: SecretKey,
    interval: Duration,
    agent: ureq::Agent,
}

impl Link {
    /// The link the settings describe; none when sync is off (no `server`).
    pub fn new(config: &AllianceConfig) -> Result<Option<Link>, String> {
        let Some(server) = &config.server else {
            return Ok(None);
        };
        let (Some(key), Some(store)) = (&config.key, &config.store) else {
            return Err("alliance: `key` and `store` are needed when `server` is set".into());
        };
        let key = SecretKey::read(key).map_err(|err| format!("alliance.key: {err}"))?;
        Ok(Some(Link {
            server: server.trim_end_matches('/').to_string(),
            store: store.clone(),
            key,
            interval: Duration::from_millis(config.push_interval_ms),
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(30)))
                .build()
                .into(),
        }))
    }

    /// The store's name at the alliance.
    pub fn store(&self) -> &str {
        &self.store
    }

    /// A request to the alliance server signed with the store's key (the signature
    /// covers the method, the path and the body): the status and the answer's text, or
    /// why the server could not be reached. Blocking.
    fn request(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<(u16, String), String> {
        let authorization = self.key.sign_request(method, path, api::now_ms(), &body);
        let mut uri = format!("{}{path}", self.server);
        if !query.is_empty() {
            uri.push('?');
            uri.push_str(
                &form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(query)
                    .finish(),
            );
        }
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(&uri)
            .header("authorization", authorization)
            .header("content-type", "application/json")
            .body(body)
            .map_err(|err| format!("{uri}: {err}"))?;
        let mut response = self
            .agent
            .run(request)
            .map_err(|err| format!("alliance server {}: {err}", self.server))?;
        let text = response.body_mut().read_to_string().unwrap_or_default();
        Ok((response.status().as_u16(), text))
    }

    /// A signed request whose answer must be a success: the answer parsed, or the
    /// server's own error message.
    pub fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<T, CallError> {
        let (status, text) = self
            .request(method, path, query, body)
            .map_err(CallError::Unreachable)?;
        if !(200..300).contains(&status) {
            let message = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|answer| answer["error"].as_str().map(str::to_string))
                .unwrap_or(text);
            return Err(CallError::Refused { status, message });
        }
        serde_json::from_str(&text).map_err(|err| {
            CallError::Unreachable(format!(
                "alliance server {}: {method} {path}: not the answer expected: {err}",
                self.server
            ))
        })
    }
}

/// Why a call to the alliance server failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// No answer, or not one the store understands.
    #[error("{0}")]
    Unreachable(String),
    /// The server answered with an error status and said why.
    #[error("the alliance server refused ({status}): {message}")]
    Refused { status: u16, message: String },
}

/// Push the outbox and pull the pool's transfers for as long as the daemon runs.
pub async fn sync(state: AppState, link: Arc<Link>) {
    // While sync fails: the current backoff and the attempts so far.
    let mut failing: Option<(Duration, u32)> = None;
    loop {
        let synced = match push_once(&state, &link).await {
            Ok(more) => pull_transfers(&state, &link).await.map(|()| more),
            Err(err) => Err(err),
        };
        let wait = match synced {
            Ok(more) => {
                if let Some((_, attempts)) = failing.take() {
                    tracing::info!(attempts, server = %link.server, "alliance server reachable again; pushing the outbox");
                }
                if more {
                    continue;
                }
                link.interval
            }
            Err(err) => {
                let backoff = match failing {
                    None => {
                        tracing::warn!(server = %link.server, "alliance sync failing, events wait in the outbox (retrying with backoff): {err}");
                        FIRST_BACKOFF
                    }
                    Some((backoff, _)) => (backoff * 2).min(MAX_BACKOFF),
                };
                let attempts = failing.map_or(1, |(_, attempts)| attempts + 1);
                failing = Some((backoff, attempts));
                jittered(backoff)
            }
        };
        tokio::time::sleep(wait).await;
    }
}

/// Push the oldest waiting events and mark what the server acknowledged; whether a
/// full batch went, so more may wait.
async fn push_once(state: &AppState, link: &Arc<Link>) -> Result<bool, String> {
    let pending = state
        .read_db(|conn, _| Ok(outbox::pending(conn, BATCH)?))
        .await
        .map_err(|err| err.to_string())?;
    let (Some(first), Some(last)) = (pending.first(), pending.last()) else {
        return Ok(false);
    };
    let (first, last, full) = (first.seq, last.seq, pending.len() == BATCH);
    let events = pending
        .into_iter()
        .map(|row| Envelope {
            seq: row.seq,
            kind: row.kind,
            at: row.at,
            payload: serde_json::from_str(&row.payload)
                .unwrap_or(serde_json::Value::String(row.payload)),
        })
        .collect();
    let body = serde_json::to_vec(&Push {
        store: link.store.clone(),
        events,
    })
    .expect("events serialise");
    let sender = link.clone();
    let acked = tokio::task::spawn_blocking(move || send(&sender, body))
        .await
        .map_err(|err| format!("push task failed: {err}"))??;
    if acked < last {
        // Events are sent in order with no gap, so the server is missing some it once
        // acknowledged (its data was restored from an older copy): send them again from
        // the first it lacks. The server keeps each (store, seq) once, so nothing it
        // still has is kept twice.
        let waiting = state
            .with_db(move |conn, _| {
                outbox::acknowledge(conn, acked)?;
                Ok(outbox::resend_after(conn, acked)?)
            })
            .await
            .map_err(|err| err.to_string())?;
        return Err(format!(
            "{} acknowledged events of store {} only up to seq {acked}, sent {first}..={last}; \
             it lost events it had acknowledged (restored from an older copy?): \
             {waiting} events are sent again from seq {}",
            link.server,
            link.store,
            acked + 1
        ));
    }
    state
        .with_db(move |conn, _| Ok(outbox::acknowledge(conn, acked)?))
        .await
        .map_err(|err| err.to_string())?;
    Ok(full)
}

/// One signed push; the server's acknowledgement.
fn send(link: &Link, body: Vec<u8>) -> Result<i64, String> {
    link.call::<Acked>("POST", paths::EVENTS, &[], body)
        .map(|answer| answer.acked)
        .map_err(|err| err.to_string())
}

/// Record the transfers accepted since the last one this store pulled, in the order
/// the alliance decided them (the accept answer records the sender's side at once;
/// this catches a lost answer, and is how the receiving store learns of it).
async fn pull_transfers(state: &AppState, link: &Arc<Link>) -> Result<(), String> {
    let through = state
        .read_db(|conn, _| Ok(pool::pulled_through(conn)?))
        .await
        .map_err(|err| err.to_string())?;
    let puller = link.clone();
    let accepted: Vec<Transfer> = tokio::task::spawn_blocking(move || {
        let after = through.to_string();
        puller.call(
            "GET",
            paths::TRANSFERS,
            &[
                ("store", puller.store()),
                ("state", State::Accepted.as_str()),
                ("decided_after", &after),
            ],
            Vec::new(),
        )
    })
    .await
    .map_err(|err| format!("pull task failed: {err}"))?
    .map_err(|err| err.to_string())?;
    if accepted.is_empty() {
        return Ok(());
    }
    let store = link.store.clone();
    let recorded = state
        .with_db(move |conn, _| Ok(pool::record_pulled(conn, &accepted, &store, api::now_ms())?))
        .await
        .map_err(|err| err.to_string())?;
    for recorded in recorded {
        tracing::info!(
            transfer = recorded.transfer,
            direction = recorded.direction,
            batch = recorded.batch,
            qty = recorded.qty,
            other_store = recorded.other_store,
            "pool transfer recorded"
        );
    }
    Ok(())
}

/// Between half the backoff and all of it, so stores that lost the server together do
/// not come back in step.
fn jittered(backoff: Duration) -> Duration {
    let fraction = f64::from(getrandom::u32().unwrap_or(u32::MAX)) / f64::from(u32::MAX);
    backoff / 2 + (backoff / 2).mul_f64(fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_jittered_within_its_upper_half() {
        for _ in 0..100 {
            let wait = jittered(Duration::from_secs(8));
            assert!(wait >= Duration::from_secs(4) && wait <= Duration::from_secs(8));
        }
    }
}
