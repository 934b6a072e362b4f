//! The host imports a plugin may use, one module per capability, each with the same
//! shape: `add_to_linker` (link the WIT functions once per runtime), the grant check
//! (at load: `CAPABILITY` says which interface it serves and whether every install has
//! it), and the per-call state the host functions read, a field of [`CallState`].

pub mod clock;
pub mod config;
pub mod inventory;
pub mod kv;
pub mod log;
pub mod sales;
pub mod wasi;

use super::limits::MemoryCap;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use wasmtime::component::Linker;

/// A host import, as the load-time check sees it.
pub struct Capability {
    /// The `linli:policy` interface, without version.
    pub interface: &'static str,
    /// Granted to every install (`log`, `config`, `clock`); others must be requested in
    /// the plugin's manifest and granted by the store.
    pub always_granted: bool,
}

/// Every `linli:policy` interface a plugin may import. `types` carries no functions.
pub const CAPABILITIES: &[Capability] = &[
    Capability {
        interface: "types",
        always_granted: true,
    },
    log::CAPABILITY,
    config::CAPABILITY,
    clock::CAPABILITY,
    kv::CAPABILITY,
    inventory::CAPABILITY,
    sales::CAPABILITY,
];

/// The capabilities beyond the always-granted ones that the store grants an install.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants(BTreeSet<&'static str>);

impl Grants {
    /// Nothing beyond `log`, `config` and `clock`.
    pub fn none() -> Grants {
        Grants::default()
    }

    /// Grants by interface name (`kv`, `inventory-read`, `sales-read`); an unknown name
    /// is an error that lists the known ones.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Grants, String> {
        let mut grants = BTreeSet::new();
        for name in names {
            let name = name.as_ref().trim();
            match CAPABILITIES
                .iter()
                .find(|cap| !cap.always_granted && cap.interface == name)
            {
                Some(cap) => grants.insert(cap.interface),
                None => {
                    return Err(format!(
                        "unknown capability `{name}` (grantable: {})",
                        Grants::grantable().join(", ")
                    ));
                }
            };
        }
        Ok(Grants(grants))
    }

    /// Every capability that needs a grant.
    pub fn grantable() -> Vec<&'static str> {
        let grantable = CAPABILITIES.iter().filter(|cap| !cap.always_granted);
        grantable.map(|cap| cap.interface).collect()
    }

    pub fn allows(&self, capability: &Capability) -> bool {
        capability.always_granted || self.0.contains(capability.interface)
    }

    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.0.iter().copied()
    }
}

/// Link every capability into the runtime's linker.
pub fn add_to_linker(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    log::add_to_linker(linker)?;
    config::add_to_linker(linker)?;
    clock::add_to_linker(linker)?;
    kv::add_to_linker(linker)?;
    inventory::add_to_linker(linker)?;
    sales::add_to_linker(linker)?;
    wasi::add_to_linker(linker)?;
    Ok(())
}

/// Everything one call's host functions need. Built fresh for every call, dropped with
/// the call's instance.
pub struct CallState {
    pub(super) memory: MemoryCap,
    pub(super) clock: clock::CallClock,
    pub(super) config: config::CallConfig,
    pub(super) log: log::CallLog,
    pub(super) kv: kv::CallKv,
    pub(super) inventory: inventory::CallInventory,
    pub(super) sales: sales::CallSales,
    pub(super) wasi: wasi::CallWasi,
}

/// The store state a call may read (and, for kv, write), as far as the install was
/// granted it. Unset parts are absent from this host: a granted call that reaches for
/// one traps with a message saying so.
#[derive(Clone, Default)]
pub struct StoreAccess {
    /// This install's keyspace.
    pub kv: Option<Arc<dyn kv::KvStore>>,
    pub inventory: Option<Arc<dyn inventory::InventoryReader>>,
    pub sales: Option<Arc<dyn sales::SalesReader>>,
}

impl std::fmt::Debug for StoreAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreAccess")
            .field("kv", &self.kv.is_some())
            .field("inventory", &self.inventory.is_some())
            .field("sales", &self.sales.is_some())
            .finish()
    }
}

impl CallState {
    pub(super) fn new(
        plugin: Arc<str>,
        now: i64,
        settings: Arc<BTreeMap<String, String>>,
        memory_cap: usize,
        store: &StoreAccess,
    ) -> CallState {
        CallState {
            memory: MemoryCap { cap: memory_cap },
            clock: clock::CallClock { now },
            config: config::CallConfig { settings },
            log: log::CallLog::new(plugin),
            kv: kv::CallKv::new(store.kv.clone()),
            inventory: inventory::CallInventory {
                reader: store.inventory.clone(),
            },
            sales: sales::CallSales {
                reader: store.sales.clone(),
            },
            wasi: wasi::CallWasi::new(now),
        }
    }
}
