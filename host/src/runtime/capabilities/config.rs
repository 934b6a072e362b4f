//! `linli:policy/config`: the store's settings for this install. Always granted.

use super::{CallState, Capability};
use crate::runtime::bindings::pricing::linli::policy::config as wit;
use std::collections::BTreeMap;
use std::sync::Arc;
use wasmtime::component::{HasSelf, Linker};

pub const CAPABILITY: Capability = Capability {
    interface: "config",
    always_granted: true,
};

pub fn add_to_linker(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    wit::add_to_linker::<CallState, HasSelf<CallState>>(linker, |state| state)
}

/// The install's settings, shared by every call of the install.
pub struct CallConfig {
    pub settings: Arc<BTreeMap<String, String>>,
}

impl wit::Host for CallState {
    fn get(&mut self, key: String) -> Option<String> {
        self.config.settings.get(&key).cloned()
    }

    fn entries(&mut self) -> Vec<(String, String)> {
        self.config
            .settings
            .iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect()
    }
}
