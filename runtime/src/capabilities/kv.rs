//! `linli:policy/kv`: plugin-scoped persistent state. Granted per install. A call's
//! writes are buffered and applied together only when the call succeeds, so a trap or
//! a bad output leaves the store as it was.

use super::{CallSetup, CallState, Capability, HostImport};
use crate::bindings::host::linli::policy::kv as wit;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use wasmtime::component::{HasSelf, Linker};

pub const MAX_KEY_BYTES: usize = 256;
pub const MAX_VALUE_BYTES: usize = 64 << 10;
/// Keys one install may hold: state for a policy, not a database.
pub const MAX_KEYS: usize = 10_000;
/// Keys `keys` returns at most, whatever `limit` asks.
const MAX_LISTED: u32 = 1_000;

/// One install's keyspace, wherever it is kept (SQLite in the store, memory in tests).
pub trait KvStore: Send + Sync {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String>;
    /// Keys starting with `prefix`, sorted, at most `limit`.
    fn keys(&self, prefix: &str, limit: u32) -> Result<Vec<String>, String>;
    /// How many keys the keyspace holds.
    fn key_count(&self) -> Result<usize, String>;
    /// Apply a call's writes (`None` deletes) atomically.
    fn apply(&self, writes: &BTreeMap<String, Option<Vec<u8>>>) -> Result<(), String>;
}

/// A keyspace in memory: `linli plugin run` without a database, and tests.
#[derive(Debug, Default)]
pub struct MemoryKv(Mutex<BTreeMap<String, Vec<u8>>>);

impl MemoryKv {
    pub fn new(entries: BTreeMap<String, Vec<u8>>) -> MemoryKv {
        MemoryKv(Mutex::new(entries))
    }

    /// A copy of everything stored.
    pub fn entries(&self) -> BTreeMap<String, Vec<u8>> {
        self.0.lock().unwrap().clone()
    }
}

impl KvStore for MemoryKv {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        Ok(self.0.lock().unwrap().get(key).cloned())
    }

    fn keys(&self, prefix: &str, limit: u32) -> Result<Vec<String>, String> {
        let map = self.0.lock().unwrap();
        let keys = map.range(prefix.to_string()..).map(|(key, _)| key);
        let keys = keys.take_while(|key| key.starts_with(prefix));
        Ok(keys.take(limit as usize).cloned().collect())
    }

    fn key_count(&self) -> Result<usize, String> {
        Ok(self.0.lock().unwrap().len())
    }

    fn apply(&self, writes: &BTreeMap<String, Option<Vec<u8>>>) -> Result<(), String> {
        let mut map = self.0.lock().unwrap();
        for (key, value) in writes {
            match value {
                Some(value) => map.insert(key.clone(), value.clone()),
                None => map.remove(key),
            };
        }
        Ok(())
    }
}

/// The per-call view of the install's keyspace: reads go through the buffer of this
/// call's writes.
#[derive(Default)]
pub struct CallKv {
    store: Option<Arc<dyn KvStore>>,
    pending: BTreeMap<String, Option<Vec<u8>>>,
}

impl HostImport for CallKv {
    const CAPABILITY: Capability = Capability {
        interface: "kv",
        always_granted: false,
    };

    fn for_call(setup: &CallSetup<'_>) -> CallKv {
        CallKv::new(setup.context.store.kv.clone())
    }

    fn add_to_linker(
        linker: &mut Linker<CallState>,
        get: fn(&mut CallState) -> &mut Self,
    ) -> wasmtime::Result<()> {
        wit::add_to_linker::<CallState, HasSelf<Self>>(linker, get)
    }
}

impl CallKv {
    pub fn new(store: Option<Arc<dyn KvStore>>) -> CallKv {
        CallKv {
            store,
            pending: BTreeMap::new(),
        }
    }

    fn store(&self) -> wasmtime::Result<&Arc<dyn KvStore>> {
        self.store.as_ref().ok_or_else(|| {
            wasmtime::Error::msg(
                "the kv capability is granted but this host has no kv store configured",
            )
        })
    }

    /// Apply the call's writes; called once the call has succeeded.
    pub fn commit(&mut self) -> Result<(), String> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let store = self.store.as_ref().ok_or("no kv store")?;
        store.apply(&std::mem::take(&mut self.pending))
    }
}

fn host_failure(err: String) -> wasmtime::Error {
    wasmtime::Error::msg(format!("kv store failed: {err}"))
}

impl wit::Host for CallKv {
    fn get(&mut self, key: String) -> wasmtime::Result<Option<Vec<u8>>> {
        if let Some(pending) = self.pending.get(&key) {
            return Ok(pending.clone());
        }
        self.store()?.get(&key).map_err(host_failure)
    }

    fn set(&mut self, key: String, value: Vec<u8>) -> wasmtime::Result<Result<(), String>> {
        if key.len() > MAX_KEY_BYTES {
            return Ok(Err(format!(
                "key of {} bytes is over the {MAX_KEY_BYTES} byte limit",
                key.len()
            )));
        }
        if value.len() > MAX_VALUE_BYTES {
            return Ok(Err(format!(
                "value of {} bytes is over the 64 KiB limit",
                value.len()
            )));
        }
        let store = self.store()?;
        let is_new = match self.pending.get(&key) {
            Some(pending) => pending.is_none(),
            None => store.get(&key).map_err(host_failure)?.is_none(),
        };
        if is_new {
            let added = self
                .pending
                .values()
                .filter(|value| value.is_some())
                .count();
            if store.key_count().map_err(host_failure)? + added >= MAX_KEYS {
                return Ok(Err(format!(
                    "keyspace full: an install may keep {MAX_KEYS} keys"
                )));
            }
        }
        self.pending.insert(key, Some(value));
        Ok(Ok(()))
    }

    fn delete(&mut self, key: String) -> wasmtime::Result<()> {
        self.store()?;
        self.pending.insert(key, None);
        Ok(())
    }

    fn keys(&mut self, prefix: String, limit: u32) -> wasmtime::Result<Vec<String>> {
        let limit = limit.min(MAX_LISTED);
        let stored = self
            .store()?
            .keys(&prefix, limit + self.pending.len() as u32);
        let mut keys: std::collections::BTreeSet<String> =
            stored.map_err(host_failure)?.into_iter().collect();
        for (key, value) in self.pending.range(prefix.clone()..) {
            if !key.starts_with(&prefix) {
                break;
            }
            match value {
                Some(_) => keys.insert(key.clone()),
                None => keys.remove(key),
            };
        }
        Ok(keys.into_iter().take(limit as usize).collect())
    }
}
