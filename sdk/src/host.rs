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
        return crate::bindings::pricing::linli::policy::config::get(key);
        #[cfg(not(target_arch = "wasm32"))]
        return crate::testing::current(|host| host.setting(key));
    }

    /// Every setting, sorted by key.
    pub fn entries() -> Vec<(String, String)> {
        #[cfg(target_arch = "wasm32")]
        return crate::bindings::pricing::linli::policy::config::entries();
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
