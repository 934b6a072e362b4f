//! The host imports a plugin may use, one module per capability, each with the same
//! shape: `add_to_linker` (link the WIT functions once per runtime), the grant check
//! (at load: `CAPABILITY` says which interface it serves and whether every install has
//! it), and the per-call state the host functions read, a field of [`CallState`].

pub mod clock;
pub mod config;
pub mod log;
pub mod wasi;

use super::limits::MemoryCap;
use std::collections::BTreeMap;
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
];

/// Link every capability into the runtime's linker.
pub fn add_to_linker(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    log::add_to_linker(linker)?;
    config::add_to_linker(linker)?;
    clock::add_to_linker(linker)?;
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
    pub(super) wasi: wasi::CallWasi,
}

impl CallState {
    pub(super) fn new(
        plugin: Arc<str>,
        now: i64,
        settings: Arc<BTreeMap<String, String>>,
        memory_cap: usize,
    ) -> CallState {
        CallState {
            memory: MemoryCap { cap: memory_cap },
            clock: clock::CallClock { now },
            config: config::CallConfig { settings },
            log: log::CallLog::new(plugin),
            wasi: wasi::CallWasi::new(now),
        }
    }
}
