//! Sync with the alliance: a background task pushes the outbox, oldest first, in signed
//! batches to the alliance server (`linli-registry serve`) and marks what the server
//! acknowledged. Local flows never wait on it; while the server is unreachable it
//! backs off with jitter, and the events wait in the outbox.

use crate::api::{self, AppState};
use crate::daemon::AllianceConfig;
use crate::store::outbox;
use linli_sdk::bundle::SecretKey;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// Events in one push: well inside the server's limit of 1000.
const BATCH: usize = 500;
/// The wait after the first failed push; it doubles up to `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// The server's route; the request signature covers it.
const EVENTS_PATH: &str = "/v1/alliance/events";

/// The store's link to the alliance server: where, as whom, how often.
pub struct Link {
    url: String,
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
            url: format!("{}{EVENTS_PATH}", server.trim_end_matches('/')),
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
}

#[derive(Serialize)]
struct Push<'a> {
    store: &'a str,
    events: Vec<Event>,
}

#[derive(Serialize)]
struct Event {
    seq: i64,
    kind: String,
    at: i64,
    payload: serde_json::Value,
}

#[derive(Deserialize)]
struct Acked {
    acked: i64,
}

/// Push the outbox for as long as the daemon runs.
pub async fn push_outbox(state: AppState, link: Link) {
    let link = Arc::new(link);
    // While pushes fail: the current backoff and the attempts so far.
    let mut failing: Option<(Duration, u32)> = None;
    loop {
        let wait = match push_once(&state, &link).await {
            Ok(more) => {
                if let Some((_, attempts)) = failing.take() {
                    tracing::info!(attempts, server = %link.url, "alliance server reachable again; pushing the outbox");
                }
                if more {
                    continue;
                }
                link.interval
            }
            Err(err) => {
                let backoff = match failing {
                    None => {
                        tracing::warn!(server = %link.url, "alliance sync failing, events wait in the outbox (retrying with backoff): {err}");
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
        .map(|row| Event {
            seq: row.seq,
            kind: row.kind,
            at: row.at,
            payload: serde_json::from_str(&row.payload)
                .unwrap_or(serde_json::Value::String(row.payload)),
        })
        .collect();
    let body = serde_json::to_vec(&Push {
        store: &link.store,
        events,
    })
    .expect("events serialise");
    let sender = link.clone();
    let acked = tokio::task::spawn_blocking(move || send(&sender, body))
        .await
        .map_err(|err| format!("push task failed: {err}"))??;
    state
        .with_db(move |conn, _| Ok(outbox::acknowledge(conn, acked)?))
        .await
        .map_err(|err| err.to_string())?;
    if acked < last {
        // Events are sent in order with no gap, so the server is missing some it once
        // acknowledged (its data was restored from an older copy).
        return Err(format!(
            "{} acknowledged events of store {} only up to seq {acked}, sent {first}..={last}",
            link.url, link.store
        ));
    }
    Ok(full)
}

/// One signed push; the server's acknowledgement.
fn send(link: &Link, body: Vec<u8>) -> Result<i64, String> {
    let authorization = link
        .key
        .sign_request("POST", EVENTS_PATH, api::now_ms(), &body);
    let request = ureq::http::Request::builder()
        .method("POST")
        .uri(&link.url)
        .header("authorization", authorization)
        .header("content-type", "application/json")
        .body(body)
        .map_err(|err| format!("{}: {err}", link.url))?;
    let mut response = link
        .agent
        .run(request)
        .map_err(|err| format!("{}: {err}", link.url))?;
    let status = response.status();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    if !status.is_success() {
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|answer| answer["error"].as_str().map(str::to_string))
            .unwrap_or(text);
        return Err(format!(
            "{} refused the push ({status}): {message}",
            link.url
        ));
    }
    serde_json::from_str::<Acked>(&text)
        .map(|answer| answer.acked)
        .map_err(|err| format!("{}: not an acknowledgement: {err}", link.url))
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
