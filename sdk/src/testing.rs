//! A stand-in for the store host in native unit tests: settings, request time and a log
//! you can read back. Only compiled off wasm.
//!
//! ```
//! use linli_sdk::testing::TestHost;
//!
//! let host = TestHost::new().at(1_700_000_000_000).with_config("floor-percent", "40");
//! let floor = host.run(|| linli_sdk::config::parse_or("floor-percent", 30u32));
//! assert_eq!(floor.unwrap(), 40);
//! assert_eq!(host.run(linli_sdk::clock::now), 1_700_000_000_000);
//! ```

use crate::log::Level;
use crate::types::Timestamp;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;
use std::rc::Rc;

thread_local! {
    static CURRENT: RefCell<Option<Rc<TestHost>>> = const { RefCell::new(None) };
}

/// The host answers a plugin gets in a test: a fixed request time, settings, and the
/// messages the plugin logged.
#[derive(Debug, Default)]
pub struct TestHost {
    now: Timestamp,
    config: BTreeMap<String, String>,
    logs: RefCell<Vec<(Level, String)>>,
}

impl TestHost {
    /// A host at time 0 with no settings.
    pub fn new() -> Self {
        Self::default()
    }

    /// Set the request time (unix milliseconds).
    pub fn at(mut self, now: Timestamp) -> Self {
        self.now = now;
        self
    }

    /// Set one setting.
    pub fn with_config(mut self, key: &str, value: &str) -> Self {
        self.config.insert(key.to_string(), value.to_string());
        self
    }

    /// Run `call` (typically `MyPlugin::quote(request)`) with this host answering the
    /// plugin's `config`, `clock` and `log` calls.
    pub fn run<R>(self: &TestHost, call: impl FnOnce() -> R) -> R {
        let shared = Rc::new(self.snapshot());
        let previous = CURRENT.with(|current| current.replace(Some(shared.clone())));
        let result = call();
        CURRENT.with(|current| current.replace(previous));
        self.logs.borrow_mut().extend(shared.logs.take());
        result
    }

    /// Every message logged so far, oldest first.
    pub fn logs(&self) -> Vec<(Level, String)> {
        self.logs.borrow().clone()
    }

    fn snapshot(&self) -> TestHost {
        TestHost {
            now: self.now,
            config: self.config.clone(),
            logs: RefCell::default(),
        }
    }

    pub(crate) fn now(&self) -> Timestamp {
        self.now
    }

    pub(crate) fn setting(&self, key: &str) -> Option<String> {
        self.config.get(key).cloned()
    }

    pub(crate) fn settings(&self) -> Vec<(String, String)> {
        self.config
            .iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect()
    }

    pub(crate) fn record_log(&self, level: Level, message: &str) {
        self.logs.borrow_mut().push((level, message.to_string()));
    }
}

/// Answer a host call from the test host of the current thread.
///
/// Panics outside [`TestHost::run`]: a plugin function that reads its settings or the
/// clock needs a host, even in a unit test.
pub(crate) fn current<R>(answer: impl FnOnce(&TestHost) -> R) -> R {
    CURRENT.with(|current| match current.borrow().as_ref() {
        Some(host) => answer(host),
        None => panic!(
            "linli-sdk: a host call (config, clock or log) outside TestHost::run; \
             wrap the call to your policy in `TestHost::new().run(|| ...)`"
        ),
    })
}

/// An example call, in the file format `linli plugin run --input` reads:
///
/// ```json
/// { "now": 1764050400000, "config": { "floor-percent": 40 }, "request": { ... } }
/// ```
///
/// `now` and `config` are optional. Config values may be JSON strings, numbers or
/// booleans; the plugin sees them as text, as it does in the store.
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
    request: T,
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
    Example {
        host,
        request: file.request,
    }
}
