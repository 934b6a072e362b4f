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

/// How much an install keeps in kv: its keys, and their bytes (each key's and value's
/// length), which its `kv-bytes` limit caps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KvUsage {
    pub keys: u64,
    pub bytes: u64,
}

impl KvUsage {
    /// What one entry counts against the quota.
    pub fn entry_bytes(key: &str, value: &[u8]) -> u64 {
        (key.len() + value.len()) as u64
    }
}

/// One install's keyspace, wherever it is kept (SQLite in the store, memory in tests).
pub trait KvStore: Send + Sync {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String>;
    /// Keys starting with `prefix`, sorted, at most `limit`.
    fn keys(&self, prefix: &str, limit: u32) -> Result<Vec<String>, String>;
    /// How much the keyspace holds.
    fn usage(&self) -> Result<KvUsage, String>;
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

    fn usage(&self) -> Result<KvUsage, String> {
        let map = self.0.lock().unwrap();
        Ok(KvUsage {
            keys: map.len() as u64,
            bytes: (map.iter())
                .map(|(key, value)| KvUsage::entry_bytes(key, value))
                .sum(),
        })
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
    /// The install's byte quota (`kv-bytes`).
    quota: u64,
    /// The keyspace as this call's writes would leave it: read at the first write,
    /// then kept up to date by each one.
    usage: Option<KvUsage>,
}

impl HostImport for CallKv {
    const CAPABILITY: Capability = Capability {
        interface: "kv",
        always_granted: false,
    };

    fn for_call(setup: &CallSetup<'_>) -> CallKv {
        CallKv::new(
            setup.context.store.kv.clone(),
            setup.context.limits.kv_bytes,
        )
    }

    fn add_to_linker(
        linker: &mut Linker<CallState>,
        get: fn(&mut CallState) -> &mut Self,
    ) -> wasmtime::Result<()> {
        wit::add_to_linker::<CallState, HasSelf<Self>>(linker, get)
    }
}

impl CallKv {
    pub fn new(store: Option<Arc<dyn KvStore>>, quota: u64) -> CallKv {
        CallKv {
            store,
            pending: BTreeMap::new(),
            quota,
            usage: None,
        }
    }

    fn store(&self) -> wasmtime::Result<&Arc<dyn KvStore>> {
        self.store.as_ref().ok_or_else(|| {
            wasmtime::Error::msg(
                "the kv capability is granted but this host has no kv store configured",
            )
        })
    }

    /// What `key`'s entry counts against the quota now (this call's writes included),
    /// or `None` when there is no such key.
    fn entry_bytes(&self, key: &str) -> wasmtime::Result<Option<u64>> {
        let value = match self.pending.get(key) {
            Some(pending) => pending.clone(),
            None => self.store()?.get(key).map_err(host_failure)?,
        };
        Ok(value.map(|value| KvUsage::entry_bytes(key, &value)))
    }

    /// The keyspace as this call's writes leave it.
    fn usage(&mut self) -> wasmtime::Result<KvUsage> {
        if let Some(usage) = self.usage {
            return Ok(usage);
        }
        let usage = self.store()?.usage().map_err(host_failure)?;
        self.usage = Some(usage);
        Ok(usage)
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
        if key.len() > MAX_KEY_BYTES {
            // No such key can have been stored.
            return Ok(None);
        }
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
        let before = self.entry_bytes(&key)?;
        let usage = self.usage()?;
        if before.is_none() && usage.keys >= MAX_KEYS as u64 {
            return Ok(Err(format!(
                "keyspace full: an install may keep {MAX_KEYS} keys"
            )));
        }
        let after = KvUsage {
            keys: usage.keys + u64::from(before.is_none()),
            // Saturating: another call of the install may have committed since
            // `usage` was read, and the quota is a bound, not a ledger.
            bytes: (usage.bytes.saturating_sub(before.unwrap_or(0)))
                .saturating_add(KvUsage::entry_bytes(&key, &value)),
        };
        if after.bytes > self.quota {
            return Ok(Err(format!(
                "keyspace full: this write would bring the install's kv to {} bytes, over its {} byte quota (`kv-bytes`); delete keys, or ask the store owner for a larger quota",
                after.bytes, self.quota
            )));
        }
        self.usage = Some(after);
        self.pending.insert(key, Some(value));
        Ok(Ok(()))
    }

    fn delete(&mut self, key: String) -> wasmtime::Result<()> {
        if let Some(before) = self.entry_bytes(&key)? {
            let usage = self.usage()?;
            self.usage = Some(KvUsage {
                keys: usage.keys.saturating_sub(1),
                bytes: usage.bytes.saturating_sub(before),
            });
        }
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
