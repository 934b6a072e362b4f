//! A stand-in for the store host in native unit tests: settings, request time, a kv
//! store, stock and sales you set up, and a log you can read back. Only compiled off
//! wasm.
//!
//! ```
//! use linli_sdk::testing::TestHost;
//!
//! let host = TestHost::new().at(1_700_000_000_000).with_config("floor-percent", "40");
//! let floor = host.run(|| linli_sdk::config::parse_or("floor-percent", 30u32));
//! assert_eq!(floor.unwrap(), 40);
//! assert_eq!(host.run(linli_sdk::clock::now), 1_700_000_000_000);
//! host.run(|| linli_sdk::kv::set("visits", b"1")).unwrap();
//! assert_eq!(host.kv_value("visits"), Some(b"1".to_vec()));
//! ```

use crate::inventory::SkuStock;
use crate::log::Level;
use crate::sales::DailySales;
use crate::types::Timestamp;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;
use std::rc::Rc;

thread_local! {
    static CURRENT: RefCell<Option<Rc<State>>> = const { RefCell::new(None) };
}

/// The host a plugin sees in a test. Cloning gives another handle to the same host, so
/// kv writes of one call are seen by the next.
#[derive(Debug, Clone, Default)]
pub struct TestHost {
    state: Rc<State>,
}

#[derive(Debug, Default)]
struct State {
    now: Timestamp,
    config: BTreeMap<String, String>,
    kv: RefCell<BTreeMap<String, Vec<u8>>>,
    stock: BTreeMap<String, SkuStock>,
    /// ("sku" | "category", name) → days, oldest first.
    sales: BTreeMap<(String, String), Vec<DailySales>>,
    logs: RefCell<Vec<(Level, String)>>,
}

impl TestHost {
    /// A host at time 0 with no settings, no stock, no sales, an empty kv store.
    pub fn new() -> Self {
        Self::default()
    }

    fn edit(mut self, change: impl FnOnce(&mut State)) -> Self {
        let state = Rc::get_mut(&mut self.state)
            .expect("set a TestHost up before cloning it or running calls");
        change(state);
        self
    }

    /// Set the request time (unix milliseconds).
    pub fn at(self, now: Timestamp) -> Self {
        self.edit(|state| state.now = now)
    }

    /// Set one setting.
    pub fn with_config(self, key: &str, value: &str) -> Self {
        self.edit(|state| {
            state.config.insert(key.to_string(), value.to_string());
        })
    }

    /// Put a value in the kv store.
    pub fn with_kv(self, key: &str, value: &[u8]) -> Self {
        self.edit(|state| {
            state
                .kv
                .borrow_mut()
                .insert(key.to_string(), value.to_vec());
        })
    }

    /// The stock the plugin reads for `stock.sku`.
    pub fn with_stock(self, stock: SkuStock) -> Self {
        self.edit(|state| {
            state.stock.insert(stock.sku.clone(), stock);
        })
    }

    /// Daily sales of a SKU, oldest first, as `sales::sku_daily` returns them.
    pub fn with_sku_sales(self, sku: &str, days: Vec<DailySales>) -> Self {
        self.edit(|state| {
            state.sales.insert(("sku".into(), sku.into()), days);
        })
    }

    /// Daily sales of a category, oldest first.
    pub fn with_category_sales(self, category: &str, days: Vec<DailySales>) -> Self {
        self.edit(|state| {
            state
                .sales
                .insert(("category".into(), category.into()), days);
        })
    }

    /// Run `call` (typically `MyPlugin::quote(request)`) with this host answering the
    /// plugin's host calls.
    pub fn run<R>(&self, call: impl FnOnce() -> R) -> R {
        let previous = CURRENT.with(|current| current.replace(Some(self.state.clone())));
        let result = call();
        CURRENT.with(|current| current.replace(previous));
        result
    }

    /// Every message logged so far, oldest first.
    pub fn logs(&self) -> Vec<(Level, String)> {
        self.state.logs.borrow().clone()
    }

    /// What the kv store holds under `key` now.
    pub fn kv_value(&self, key: &str) -> Option<Vec<u8>> {
        self.state.kv.borrow().get(key).cloned()
    }
}

/// The host calls, as the SDK's wrappers make them off wasm.
pub(crate) struct Answers<'a>(&'a State);

impl Answers<'_> {
    pub(crate) fn now(&self) -> Timestamp {
        self.0.now
    }

    pub(crate) fn setting(&self, key: &str) -> Option<String> {
        self.0.config.get(key).cloned()
    }

    pub(crate) fn settings(&self) -> Vec<(String, String)> {
        let config = &self.0.config;
        config
            .iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect()
    }

    pub(crate) fn record_log(&self, level: Level, message: &str) {
        self.0.logs.borrow_mut().push((level, message.to_string()));
    }

    pub(crate) fn kv_get(&self, key: &str) -> Option<Vec<u8>> {
        self.0.kv.borrow().get(key).cloned()
    }

    pub(crate) fn kv_set(&self, key: &str, value: &[u8]) -> Result<(), String> {
        // The store's limits, so a test fails where the store would refuse.
        if key.len() > 256 {
            return Err(format!(
                "key of {} bytes is over the 256 byte limit",
                key.len()
            ));
        }
        if value.len() > 64 << 10 {
            return Err(format!(
                "value of {} bytes is over the 64 KiB limit",
                value.len()
            ));
        }
        self.0
            .kv
            .borrow_mut()
            .insert(key.to_string(), value.to_vec());
        Ok(())
    }

    pub(crate) fn kv_delete(&self, key: &str) {
        self.0.kv.borrow_mut().remove(key);
    }

    pub(crate) fn kv_keys(&self, prefix: &str, limit: u32) -> Vec<String> {
        let kv = self.0.kv.borrow();
        kv.keys()
            .filter(|key| key.starts_with(prefix))
            .take(limit as usize)
            .cloned()
            .collect()
    }

    pub(crate) fn stock(&self, sku: &str) -> Option<SkuStock> {
        self.0.stock.get(sku).cloned()
    }

    pub(crate) fn sales(&self, kind: &str, name: &str, days: u32) -> Vec<DailySales> {
        let all = self.0.sales.get(&(kind.to_string(), name.to_string()));
        let all = all.map(Vec::as_slice).unwrap_or_default();
        all[all.len().saturating_sub(days as usize)..].to_vec()
    }
}

/// Answer a host call from the test host of the current thread.
///
/// Panics outside [`TestHost::run`]: a plugin function that reads its settings or the
/// clock needs a host, even in a unit test.
pub(crate) fn current<R>(answer: impl FnOnce(&Answers) -> R) -> R {
    CURRENT.with(|current| match current.borrow().as_ref() {
        Some(state) => answer(&Answers(state)),
        None => panic!(
            "linli-sdk: a host call (config, clock, log, kv, inventory, sales) outside \
             TestHost::run; wrap the call to your policy in `TestHost::new().run(|| ...)`"
        ),
    })
}

/// An example call, in the file format `linli plugin run --input` reads:
///
/// ```json
/// {
///   "now": 1764050400000,
///   "config": { "floor-percent": 40 },
///   "kv": { "visits": "3" },
///   "stock": [ { "sku": "MILK-1L", "on_hand": 12, "batches": [] } ],
///   "sales": { "sku": { "MILK-1L": [ { "day": "2026-11-24", "units": 9, "revenue": 11610, "baskets": 8 } ] } },
///   "request": { ... }
/// }
/// ```
///
/// Everything but `request` is optional. Config values may be JSON strings, numbers or
/// booleans; the plugin sees them as text, as it does in the store. kv values are text
/// (the plugin sees their UTF-8 bytes). `sales` has `sku` and `category` maps of days,
/// oldest first.
pub struct Example<T> {
    pub host: TestHost,
    pub request: T,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExampleFile<T> {
    #[serde(default)]
    now: Timestamp,
    #[serde(default)]
    config: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    kv: BTreeMap<String, String>,
    #[serde(default)]
    stock: Vec<SkuStock>,
    #[serde(default)]
    sales: ExampleSales,
    request: T,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ExampleSales {
    #[serde(default)]
    sku: BTreeMap<String, Vec<DailySales>>,
    #[serde(default)]
    category: BTreeMap<String, Vec<DailySales>>,
}

/// Read an example file (see [`Example`]); panics with the path and the reason when the
/// file is missing or does not fit `T`, which is what a test wants.
pub fn load_example<T: DeserializeOwned>(path: impl AsRef<Path>) -> Example<T> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|err| panic!("example {}: {err}", path.display()));
    let file: ExampleFile<T> = serde_json::from_str(&text)
        .unwrap_or_else(|err| panic!("example {}: {err}", path.display()));
    let mut host = TestHost::new().at(file.now);
    for (key, value) in file.config {
        let text = match value {
            serde_json::Value::String(text) => text,
            other => other.to_string(),
        };
        host = host.with_config(&key, &text);
    }
    for (key, value) in file.kv {
        host = host.with_kv(&key, value.as_bytes());
    }
    for stock in file.stock {
        host = host.with_stock(stock);
    }
    for (sku, days) in file.sales.sku {
        host = host.with_sku_sales(&sku, days);
    }
    for (category, days) in file.sales.category {
        host = host.with_category_sales(&category, days);
    }
    Example {
        host,
        request: file.request,
    }
}
