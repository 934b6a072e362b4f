//! The host imports a plugin may use, one module per capability (as Spin's factors):
//! each module's per-call state implements [`HostImport`] — the interface it serves and
//! whether every install has it (checked at load), how it links its WIT functions (once
//! per runtime), and how it is built for a call from the call's context — and serves
//! the WIT functions itself. The table at the end of this file registers them: a new
//! capability is its WIT interface, its module, and one line there.

pub mod clock;
pub mod config;
pub mod inventory;
pub mod kv;
pub mod log;
pub mod sales;
pub mod wasi;

use crate::CallContext;
use crate::limits::MemoryCap;
use std::collections::BTreeSet;
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

/// What a call's host imports are built from.
pub struct CallSetup<'a> {
    /// The plugin's name, for its log lines and errors.
    pub plugin: &'a Arc<str>,
    pub context: &'a CallContext,
}

/// One capability: the per-call state of a host import, which serves its WIT functions.
pub trait HostImport: Send + Sized + 'static {
    const CAPABILITY: Capability;

    /// The state one call's host functions use, fresh for every call.
    fn for_call(setup: &CallSetup<'_>) -> Self;

    /// Link the interface's functions, served by the state `get` finds in a call's
    /// [`CallState`].
    fn add_to_linker(
        linker: &mut Linker<CallState>,
        get: fn(&mut CallState) -> &mut Self,
    ) -> wasmtime::Result<()>;
}

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

macro_rules! host_imports {
    ($($(#[doc = $doc:literal])* $field:ident: $state:ty,)+) => {
        /// Every `linli:policy` interface a plugin may import. `types` carries no
        /// functions.
        pub const CAPABILITIES: &[Capability] = &[
            Capability {
                interface: "types",
                always_granted: true,
            },
            $(<$state as HostImport>::CAPABILITY,)+
        ];

        /// Everything one call's host functions need. Built fresh for every call,
        /// dropped with the call's instance.
        pub struct CallState {
            pub(crate) memory: MemoryCap,
            /// The inert WASI that Rust's standard library imports (not a capability).
            pub(crate) wasi: wasi::CallWasi,
            $($(#[doc = $doc])* pub(crate) $field: $state,)+
        }

        impl CallState {
            pub(crate) fn new(setup: &CallSetup<'_>) -> CallState {
                CallState {
                    memory: MemoryCap {
                        cap: setup.context.limits.memory_bytes,
                    },
                    wasi: wasi::CallWasi::new(setup.context.now),
                    $($field: <$state as HostImport>::for_call(setup),)+
                }
            }
        }

        /// Link every host import into the runtime's linker.
        pub fn add_to_linker(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
            $(<$state as HostImport>::add_to_linker(linker, |state| &mut state.$field)?;)+
            wasi::add_to_linker(linker)
        }
    };
}

// The table: each host import's field in `CallState` and its per-call state.
host_imports! {
    log: log::CallLog,
    config: config::CallConfig,
    clock: clock::CallClock,
    kv: kv::CallKv,
    inventory: inventory::CallInventory,
    sales: sales::CallSales,
}
