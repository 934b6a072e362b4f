//! What a plugin may ask of the store host during a call: its settings, the request
//! time, the log. On wasm these are the component's imports; off wasm (unit tests) they
//! are answered by the thread's [`crate::testing::TestHost`].

/// The store's log. Messages are tagged with the plugin's name by the host.
pub mod log {
    pub use crate::bindings::pricing::linli::policy::log::Level;

    /// Write one message at `level`.
    pub fn write(level: Level, message: &str) {
        #[cfg(target_arch = "wasm32")]
        crate::bindings::pricing::linli::policy::log::log(level, message);
        #[cfg(not(target_arch = "wasm32"))]
        crate::testing::current(|host| host.record_log(level, message));
    }

    pub fn trace(message: &str) {
        write(Level::Trace, message)
    }

    pub fn debug(message: &str) {
        write(Level::Debug, message)
    }

    pub fn info(message: &str) {
        write(Level::Info, message)
    }

    pub fn warn(message: &str) {
        write(Level::Warn, message)
    }

    pub fn error(message: &str) {
        write(Level::Error, message)
    }
}

/// This install's settings, as the store owner set them (or the manifest's defaults).
pub mod config {
    use crate::types::PolicyError;
    use std::fmt::Display;
    use std::str::FromStr;

    /// The raw text of one setting, or `None` when it is not set.
    pub fn get(key: &str) -> Option<String> {
        #[cfg(target_arch = "wasm32")]
        return cached::get(key);
        #[cfg(not(target_arch = "wasm32"))]
        return crate::testing::current(|host| host.setting(key));
    }

    /// The settings, fetched from the host once per call and kept in their sorted
    /// order: every call runs in a fresh instance, so this cache lives exactly as long
    /// as the call, and reading many settings (or all of them, several times) costs one
    /// host call.
    #[cfg(target_arch = "wasm32")]
    mod cached {
        use std::cell::OnceCell;

        thread_local! {
            static SETTINGS: OnceCell<Vec<(String, String)>> = const { OnceCell::new() };
        }

        pub fn with<R>(read: impl FnOnce(&[(String, String)]) -> R) -> R {
            SETTINGS.with(|settings| {
                read(settings.get_or_init(|| {
                    let mut entries = crate::bindings::pricing::linli::policy::config::entries();
                    // The host sends them sorted; sorting again costs nothing then and
                    // keeps `get`'s binary search right whatever it sends.
                    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                    entries
                }))
            })
        }

        pub fn get(key: &str) -> Option<String> {
            with(|settings| {
                let found = settings.binary_search_by(|(k, _)| k.as_str().cmp(key));
                found.ok().map(|index| settings[index].1.clone())
            })
        }
    }

    /// Every setting, sorted by key.
    pub fn entries() -> Vec<(String, String)> {
        #[cfg(target_arch = "wasm32")]
        return cached::with(<[_]>::to_vec);
        #[cfg(not(target_arch = "wasm32"))]
        return crate::testing::current(|host| host.settings());
    }

    /// One setting parsed as `T`, or `default` when it is not set. A value that does not
    /// parse is a [`PolicyError::BadConfig`] naming the key and the value, so the store
    /// owner sees which setting to fix.
    pub fn parse_or<T>(key: &str, default: T) -> Result<T, PolicyError>
    where
        T: FromStr,
        T::Err: Display,
    {
        match get(key) {
            None => Ok(default),
            Some(raw) => raw
                .trim()
                .parse()
                .map_err(|err| PolicyError::BadConfig(format!("setting `{key}` = {raw:?}: {err}"))),
        }
    }

    /// A comma-separated list setting (`"category, period"`), or `default` when unset.
    /// Empty items are dropped.
    pub fn list_or(key: &str, default: &[&str]) -> Vec<String> {
        match get(key) {
            None => default.iter().map(|item| item.to_string()).collect(),
            Some(raw) => raw
                .split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(str::to_string)
                .collect(),
        }
    }
}

/// The time of the request, supplied by the host.
pub mod clock {
    use crate::types::Timestamp;

    /// The time of the request being served, in unix milliseconds.
    pub fn now() -> Timestamp {
        #[cfg(target_arch = "wasm32")]
        return crate::bindings::pricing::linli::policy::clock::now();
        #[cfg(not(target_arch = "wasm32"))]
        return crate::testing::current(|host| host.now());
    }
}

/// This install's own persistent state (capability `kv`, which the plugin's manifest
/// must request and the store must grant). Writes made during a call are kept only if
/// the call succeeds.
pub mod kv {
    /// The value stored under `key`.
    pub fn get(key: &str) -> Option<Vec<u8>> {
        #[cfg(target_arch = "wasm32")]
        return crate::bindings::pricing::linli::policy::kv::get(key);
        #[cfg(not(target_arch = "wasm32"))]
        return crate::testing::current(|host| host.kv_get(key));
    }

    /// Store `value` under `key`. The error says why the store refused (key over 256
    /// bytes, value over 64 KiB, keyspace full).
    pub fn set(key: &str, value: &[u8]) -> Result<(), String> {
        #[cfg(target_arch = "wasm32")]
        return crate::bindings::pricing::linli::policy::kv::set(key, value);
        #[cfg(not(target_arch = "wasm32"))]
        return crate::testing::current(|host| host.kv_set(key, value));
    }

    /// Remove `key`.
    pub fn delete(key: &str) {
        #[cfg(target_arch = "wasm32")]
        crate::bindings::pricing::linli::policy::kv::delete(key);
        #[cfg(not(target_arch = "wasm32"))]
        crate::testing::current(|host| host.kv_delete(key));
    }

    /// Keys starting with `prefix`, sorted, at most `limit`.
    pub fn keys(prefix: &str, limit: u32) -> Vec<String> {
        #[cfg(target_arch = "wasm32")]
        return crate::bindings::pricing::linli::policy::kv::keys(prefix, limit);
        #[cfg(not(target_arch = "wasm32"))]
        return crate::testing::current(|host| host.kv_keys(prefix, limit));
    }
}

/// Stock by batch (capability `inventory-read`).
pub mod inventory {
    pub use crate::bindings::pricing::linli::policy::inventory_read::{BatchStock, SkuStock};

    /// The stock of `sku` now; `None` when the store does not carry it.
    pub fn stock(sku: &str) -> Option<SkuStock> {
        #[cfg(target_arch = "wasm32")]
        return crate::bindings::pricing::linli::policy::inventory_read::stock(sku);
        #[cfg(not(target_arch = "wasm32"))]
        return crate::testing::current(|host| host.stock(sku));
    }
}

/// Daily sales aggregates (capability `sales-read`): never single sales or customers.
pub mod sales {
    pub use crate::bindings::pricing::linli::policy::sales_read::DailySales;

    /// Sales of `sku` per day over the last `days` days (up to the request's day),
    /// oldest first, days without sales included as zeros.
    pub fn sku_daily(sku: &str, days: u32) -> Vec<DailySales> {
        #[cfg(target_arch = "wasm32")]
        return crate::bindings::pricing::linli::policy::sales_read::sku_daily(sku, days);
        #[cfg(not(target_arch = "wasm32"))]
        return crate::testing::current(|host| host.sales("sku", sku, days));
    }

    /// The same for a whole category.
    pub fn category_daily(category: &str, days: u32) -> Vec<DailySales> {
        #[cfg(target_arch = "wasm32")]
        return crate::bindings::pricing::linli::policy::sales_read::category_daily(category, days);
        #[cfg(not(target_arch = "wasm32"))]
        return crate::testing::current(|host| host.sales("category", category, days));
    }
}
