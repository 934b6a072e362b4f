//! Sync with the alliance: a background task pushes the outbox, oldest first, in signed
//! batches to the alliance server (`linli-registry serve`) and marks what the server
//! acknowledged, then pulls the stock pool's accepted transfers this store sends or
//! receives and records each once. Local flows never wait on it; while the server is
//! unreachable it backs off with jitter, and the events wait in the outbox.

use crate::alliance::Link;
use linli_alliance::{Acked, Envelope, MAX_EVENTS, Push, State, Transfer, paths};
use linli_store::{Db, outbox, pool};
use std::sync::Arc;
use std::time::Duration;

/// Events in one push: well inside the server's limit.
const BATCH: usize = MAX_EVENTS / 2;
/// The wait after the first failed push; it doubles up to `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Push the outbox and pull the pool's transfers for as long as the daemon runs.
pub async fn sync(db: Arc<Db>, link: Arc<Link>) {
    // While sync fails: the current backoff and the attempts so far.
    let mut failing: Option<(Duration, u32)> = None;
    loop {
        let synced = match push_once(&db, &link).await {
            Ok(more) => pull_transfers(&db, &link).await.map(|()| more),
            Err(err) => Err(err),
        };
        let wait = match synced {
            Ok(more) => {
                if let Some((_, attempts)) = failing.take() {
                    tracing::info!(
                        attempts,
                        server = link.server(),
                        "alliance server reachable again; pushing the outbox"
                    );
                }
                if more {
                    continue;
                }
                link.interval()
            }
            Err(err) => {
                let backoff = match failing {
                    None => {
                        tracing::warn!(
                            server = link.server(),
                            "alliance sync failing, events wait in the outbox (retrying with backoff): {err}"
                        );
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
async fn push_once(db: &Arc<Db>, link: &Arc<Link>) -> Result<bool, String> {
    let pending = blocking(db, |db| db.read(|conn| Ok(outbox::pending(conn, BATCH)?))).await?;
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
        store: link.store().to_string(),
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
        let waiting = blocking(db, move |db| {
            let conn = db.writer();
            outbox::acknowledge(&conn, acked)?;
            Ok(outbox::resend_after(&conn, acked)?)
        })
        .await?;
        return Err(format!(
            "{} acknowledged events of store {} only up to seq {acked}, sent {first}..={last}; \
             it lost events it had acknowledged (restored from an older copy?): \
             {waiting} events are sent again from seq {}",
            link.server(),
            link.store(),
            acked + 1
        ));
    }
    blocking(db, move |db| Ok(outbox::acknowledge(&db.writer(), acked)?)).await?;
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
async fn pull_transfers(db: &Arc<Db>, link: &Arc<Link>) -> Result<(), String> {
    let through = blocking(db, |db| db.read(|conn| Ok(pool::pulled_through(conn)?))).await?;
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
    let store = link.store().to_string();
    let recorded = blocking(db, move |db| {
        let now = crate::now_ms();
        Ok(pool::record_pulled(
            &mut db.writer(),
            &accepted,
            &store,
            now,
        )?)
    })
    .await?;
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

/// Why the store's own database failed sync.
type DbError = Box<dyn std::error::Error + Send + Sync>;

/// Database work on the blocking pool, off the async executor.
async fn blocking<T, F>(db: &Arc<Db>, work: F) -> Result<T, String>
where
    T: Send + 'static,
    F: FnOnce(&Db) -> Result<T, DbError> + Send + 'static,
{
    let db = db.clone();
    tokio::task::spawn_blocking(move || work(&db))
        .await
        .map_err(|err| format!("database task failed: {err}"))?
        .map_err(|err| format!("database: {err}"))
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
