//! `linli:policy/inventory-read`: stock of a SKU by batch. Granted per install.

use super::{CallSetup, CallState, Capability, HostImport};
use crate::bindings::host::linli::policy::inventory_read as wit;
use std::collections::BTreeMap;
use std::sync::Arc;
use wasmtime::component::{HasSelf, Linker};

pub use wit::{BatchStock, SkuStock};

/// Where stock is read from (the store's database; a fixed table in tests).
pub trait InventoryReader: Send + Sync {
    fn stock(&self, sku: &str) -> Result<Option<SkuStock>, String>;
}

/// Stock given up front: `linli plugin run` examples and tests.
#[derive(Debug, Default)]
pub struct FixedInventory(pub BTreeMap<String, SkuStock>);

impl InventoryReader for FixedInventory {
    fn stock(&self, sku: &str) -> Result<Option<SkuStock>, String> {
        Ok(self.0.get(sku).cloned())
    }
}

#[derive(Default)]
pub struct CallInventory {
    pub reader: Option<Arc<dyn InventoryReader>>,
}

impl HostImport for CallInventory {
    const CAPABILITY: Capability = Capability {
        interface: "inventory-read",
        always_granted: false,
    };

    fn for_call(setup: &CallSetup<'_>) -> CallInventory {
        CallInventory {
            reader: setup.context.store.inventory.clone(),
        }
    }

    fn add_to_linker(
        linker: &mut Linker<CallState>,
        get: fn(&mut CallState) -> &mut Self,
    ) -> wasmtime::Result<()> {
        wit::add_to_linker::<CallState, HasSelf<Self>>(linker, get)
    }
}

impl wit::Host for CallInventory {
    fn stock(&mut self, sku: String) -> wasmtime::Result<Option<SkuStock>> {
        let reader = self.reader.as_ref().ok_or_else(|| {
            wasmtime::Error::msg("inventory-read is granted but this host has no inventory")
        })?;
        reader
            .stock(&sku)
            .map_err(|err| wasmtime::Error::msg(format!("inventory read failed: {err}")))
    }
}
