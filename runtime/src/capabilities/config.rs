//! `linli:policy/config`: the store's settings for this install. Always granted.

use super::{CallSetup, CallState, Capability, HostImport};
use crate::bindings::host::linli::policy::config as wit;
use std::collections::BTreeMap;
use std::sync::Arc;
use wasmtime::component::{HasSelf, Linker};

/// The install's settings, shared by every call of the install.
pub struct CallConfig {
    pub settings: Arc<BTreeMap<String, String>>,
}

impl HostImport for CallConfig {
    const CAPABILITY: Capability = Capability {
        interface: "config",
        always_granted: true,
    };

    fn for_call(setup: &CallSetup<'_>) -> CallConfig {
        CallConfig {
            settings: setup.context.config.clone(),
        }
    }

    fn add_to_linker(
        linker: &mut Linker<CallState>,
        get: fn(&mut CallState) -> &mut Self,
    ) -> wasmtime::Result<()> {
        wit::add_to_linker::<CallState, HasSelf<Self>>(linker, get)
    }
}

impl wit::Host for CallConfig {
    fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        Ok(self.settings.get(&key).cloned())
    }

    fn entries(&mut self) -> wasmtime::Result<Vec<(String, String)>> {
        Ok(self
            .settings
            .iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect())
    }
}
