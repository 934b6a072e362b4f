//! `linli:policy/sales-read`: daily sales aggregates of a SKU or a category — never a
//! single sale or a customer. Granted per install.

use super::{CallSetup, CallState, Capability, HostImport};
use crate::bindings::host::linli::policy::sales_read as wit;
use std::collections::BTreeMap;
use std::sync::Arc;
use wasmtime::component::{HasSelf, Linker};

pub use wit::DailySales;

/// A year and a day: enough for any seasonal policy, bounded for the host.
pub const MAX_DAYS: u32 = 366;

/// What is aggregated: one SKU or one category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SalesScope {
    Sku,
    Category,
}

/// Where daily aggregates come from (the store's sales tables; fixed days in tests).
pub trait SalesReader: Send + Sync {
    /// The `days` days up to and including the local day of `now`, oldest first, with
    /// zero rows for days without sales.
    fn daily(
        &self,
        scope: SalesScope,
        name: &str,
        days: u32,
        now: i64,
    ) -> Result<Vec<DailySales>, String>;
}

/// Days given up front, oldest first: `linli plugin run` examples and tests. The last
/// `days` of them are returned, whatever the request time.
#[derive(Debug, Default)]
pub struct FixedSales(pub BTreeMap<(SalesScope, String), Vec<DailySales>>);

impl SalesReader for FixedSales {
    fn daily(
        &self,
        scope: SalesScope,
        name: &str,
        days: u32,
        _now: i64,
    ) -> Result<Vec<DailySales>, String> {
        let all = self.0.get(&(scope, name.to_string()));
        let all = all.map(Vec::as_slice).unwrap_or_default();
        Ok(all[all.len().saturating_sub(days as usize)..].to_vec())
    }
}

pub struct CallSales {
    reader: Option<Arc<dyn SalesReader>>,
    /// The request time: days are counted back from its local day.
    now: i64,
}

impl HostImport for CallSales {
    const CAPABILITY: Capability = Capability {
        interface: "sales-read",
        always_granted: false,
    };

    fn for_call(setup: &CallSetup<'_>) -> CallSales {
        CallSales {
            reader: setup.context.store.sales.clone(),
            now: setup.context.now,
        }
    }

    fn add_to_linker(
        linker: &mut Linker<CallState>,
        get: fn(&mut CallState) -> &mut Self,
    ) -> wasmtime::Result<()> {
        wit::add_to_linker::<CallState, HasSelf<Self>>(linker, get)
    }
}

impl CallSales {
    fn sales_daily(
        &mut self,
        scope: SalesScope,
        name: String,
        days: u32,
    ) -> wasmtime::Result<Vec<DailySales>> {
        let reader = self.reader.as_ref().ok_or_else(|| {
            wasmtime::Error::msg("sales-read is granted but this host has no sales data")
        })?;
        reader
            .daily(scope, &name, days.min(MAX_DAYS), self.now)
            .map_err(|err| wasmtime::Error::msg(format!("sales read failed: {err}")))
    }
}

impl wit::Host for CallSales {
    fn sku_daily(&mut self, sku: String, days: u32) -> wasmtime::Result<Vec<DailySales>> {
        self.sales_daily(SalesScope::Sku, sku, days)
    }

    fn category_daily(&mut self, category: String, days: u32) -> wasmtime::Result<Vec<DailySales>> {
        self.sales_daily(SalesScope::Category, category, days)
    }
}
