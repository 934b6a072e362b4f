//! Shadow runs: a candidate version of an install answers the same calls as the active
//! version, on a worker thread beside the request path, and every call where the two
//! answers differ is recorded — so the owner sees what an upgrade would change before
//! promoting it. The active version alone decides; the candidate's kv writes are
//! discarded; when the worker falls behind, calls are skipped (and counted), never
//! queued without bound.

use super::capabilities::kv::{KvStore, KvUsage};
use super::{Answer, Call, CallContext, Plugin};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};

/// Calls waiting for the candidate at most.
const QUEUE: usize = 256;

/// One call on which the candidate answered differently from the active version.
#[derive(Debug, Clone, Serialize)]
pub struct Difference {
    pub install: String,
    /// The candidate's version.
    pub candidate: String,
    pub at: i64,
    pub call: Call,
    /// The active version's answer (`{"ok": ..}`, `{"refused": ..}` or `{"failed": ..}`).
    pub active: serde_json::Value,
    /// The candidate's.
    pub shadow: serde_json::Value,
}

/// Where differences go (the daemon keeps them in the store).
pub type DifferenceSink = Arc<dyn Fn(Difference) + Send + Sync>;

/// How a shadow run is going.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShadowCounts {
    /// The candidate's version.
    pub candidate: String,
    /// Calls both versions answered.
    pub compared: u64,
    /// Of those, calls where the answers differ.
    pub differing: u64,
    /// Calls skipped because the candidate fell behind.
    pub skipped: u64,
}

#[derive(Default)]
struct Counters {
    compared: AtomicU64,
    differing: AtomicU64,
    skipped: AtomicU64,
}

struct Job {
    call: Call,
    context: CallContext,
    active: serde_json::Value,
}

/// A candidate running in the shadow of an install. Dropping it stops the worker.
pub struct Shadow {
    version: String,
    sender: SyncSender<Job>,
    counters: Arc<Counters>,
}

impl Shadow {
    pub fn start(
        install: String,
        version: String,
        plugin: Arc<Plugin>,
        sink: DifferenceSink,
    ) -> Shadow {
        let (sender, receiver) = std::sync::mpsc::sync_channel::<Job>(QUEUE);
        let counters = Arc::new(Counters::default());
        let worker_counters = counters.clone();
        let candidate = version.clone();
        std::thread::Builder::new()
            .name(format!("shadow {install}"))
            .spawn(move || {
                for job in receiver {
                    let shadow = outcome(
                        plugin
                            .call(&job.call, &job.context)
                            .map(|outcome| outcome.answer),
                    );
                    worker_counters.compared.fetch_add(1, Ordering::Relaxed);
                    if shadow != job.active {
                        worker_counters.differing.fetch_add(1, Ordering::Relaxed);
                        sink(Difference {
                            install: install.clone(),
                            candidate: candidate.clone(),
                            at: job.context.now,
                            call: job.call,
                            active: job.active,
                            shadow,
                        });
                    }
                }
            })
            .expect("start a shadow worker");
        Shadow {
            version,
            sender,
            counters,
        }
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    /// Hand a call the active version answered to the candidate.
    pub(crate) fn offer(
        &self,
        call: &Call,
        context: &CallContext,
        active: Result<Result<Answer, super::bindings::types::PolicyError>, &super::CallError>,
    ) {
        let mut context = context.clone();
        if let Some(kv) = context.store.kv.take() {
            context.store.kv = Some(Arc::new(DiscardWrites(kv)));
        }
        let job = Job {
            call: call.clone(),
            context,
            active: outcome(active),
        };
        match self.sender.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.counters.skipped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub fn counts(&self) -> ShadowCounts {
        ShadowCounts {
            candidate: self.version.clone(),
            compared: self.counters.compared.load(Ordering::Relaxed),
            differing: self.counters.differing.load(Ordering::Relaxed),
            skipped: self.counters.skipped.load(Ordering::Relaxed),
        }
    }
}

/// An answer as compared and recorded.
fn outcome<E: std::fmt::Display>(
    result: Result<Result<Answer, super::bindings::types::PolicyError>, E>,
) -> serde_json::Value {
    match result {
        Ok(Ok(answer)) => serde_json::json!({ "ok": answer }),
        Ok(Err(refusal)) => serde_json::json!({ "refused": refusal }),
        Err(err) => serde_json::json!({ "failed": err.to_string() }),
    }
}

/// The candidate reads the install's kv state but never changes it.
struct DiscardWrites(Arc<dyn KvStore>);

impl KvStore for DiscardWrites {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        self.0.get(key)
    }

    fn keys(&self, prefix: &str, limit: u32) -> Result<Vec<String>, String> {
        self.0.keys(prefix, limit)
    }

    fn usage(&self) -> Result<KvUsage, String> {
        self.0.usage()
    }

    fn apply(&self, _writes: &BTreeMap<String, Option<Vec<u8>>>) -> Result<(), String> {
        Ok(())
    }
}
