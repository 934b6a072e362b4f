//! The store's client of the alliance server (`linli-registry serve`): requests signed
//! with the store's key, answers read as the protocol's types or the server's refusal.

use crate::config::AllianceConfig;
use linli_sdk::bundle::SecretKey;
use std::time::Duration;

/// The store's link to the alliance server: where, as whom, how often.
pub struct Link {
    /// The server's base URL, without a trailing slash.
    server: String,
    store: String,
    key: SecretKey,
    interval: Duration,
    agent: ureq::Agent,
}

impl Link {
    /// The link the settings describe; none when sync is off (no `server`).
    pub fn new(config: &AllianceConfig) -> Result<Option<Link>, String> {
        let Some(server) = &config.server else {
            return Ok(None);
        };
        let (Some(key), Some(store)) = (&config.key, &config.store) else {
            return Err("alliance: `key` and `store` are needed when `server` is set".into());
        };
        let key = SecretKey::read(key).map_err(|err| format!("alliance.key: {err}"))?;
        Ok(Some(Link {
            server: server.trim_end_matches('/').to_string(),
            store: store.clone(),
            key,
            interval: Duration::from_millis(config.push_interval_ms),
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(30)))
                .build()
                .into(),
        }))
    }

    /// The store's name at the alliance.
    pub fn store(&self) -> &str {
        &self.store
    }

    /// The server's base URL.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// How often the outbox is pushed while the server answers.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// A request to the alliance server signed with the store's key (the signature
    /// covers the method, the path and the body): the status and the answer's text, or
    /// why the server could not be reached. Blocking.
    fn request(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<(u16, String), String> {
        let authorization = self.key.sign_request(method, path, crate::now_ms(), &body);
        let mut uri = format!("{}{path}", self.server);
        if !query.is_empty() {
            uri.push('?');
            uri.push_str(
                &form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(query)
                    .finish(),
            );
        }
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(&uri)
            .header("authorization", authorization)
            .header("content-type", "application/json")
            .body(body)
            .map_err(|err| format!("{uri}: {err}"))?;
        let mut response = self
            .agent
            .run(request)
            .map_err(|err| format!("alliance server {}: {err}", self.server))?;
        let text = response.body_mut().read_to_string().unwrap_or_default();
        Ok((response.status().as_u16(), text))
    }

    /// A signed request whose answer must be a success: the answer parsed, or the
    /// server's own error message.
    pub fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<T, CallError> {
        let (status, text) = self
            .request(method, path, query, body)
            .map_err(CallError::Unreachable)?;
        if !(200..300).contains(&status) {
            let message = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|answer| answer["error"].as_str().map(str::to_string))
                .unwrap_or(text);
            return Err(CallError::Refused { status, message });
        }
        serde_json::from_str(&text).map_err(|err| {
            CallError::Unreachable(format!(
                "alliance server {}: {method} {path}: not the answer expected: {err}",
                self.server
            ))
        })
    }
}

/// Why a call to the alliance server failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// No answer, or not one the store understands.
    #[error("{0}")]
    Unreachable(String),
    /// The server answered with an error status and said why.
    #[error("the alliance server refused ({status}): {message}")]
    Refused { status: u16, message: String },
}
