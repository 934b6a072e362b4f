//! Talking to an alliance registry: `linli plugin publish` and `linli plugin yank`,
//! each request signed with a member key.

use super::bundle::read_bundle;
use super::finish;
use super::lifecycle::{ExchangeError, exchange};
use clap::Args;
use linli_sdk::bundle::SecretKey;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct PublishArgs {
    /// The signed bundle (.linli).
    bundle: PathBuf,
    /// The registry's URL.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:7979")]
    registry: String,
    /// A member key of the registry (the request is signed with it).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
}

#[derive(Args)]
pub struct YankArgs {
    /// `namespace/name@version`.
    plugin: String,
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:7979")]
    registry: String,
    /// A key of the member owning the namespace.
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// Make the version installable again.
    #[arg(long)]
    undo: bool,
}

pub fn publish(args: PublishArgs) -> ExitCode {
    let result = (|| {
        // Checked here first: a broken or unsigned bundle is refused before upload.
        let bundle = read_bundle(&args.bundle)?;
        bundle.verify_signature().map_err(|err| err.to_string())?;
        let bytes = std::fs::read(&args.bundle)
            .map_err(|err| format!("{}: cannot read: {err}", args.bundle.display()))?;
        let key = SecretKey::read(&args.key).map_err(|err| err.to_string())?;
        let answer = signed(&args.registry, "POST", "/v1/plugins", &key, bytes)?;
        println!("{answer}");
        Ok(())
    })();
    finish("plugin publish", result)
}

pub fn yank(args: YankArgs) -> ExitCode {
    let result = (|| {
        let (name, version) = args
            .plugin
            .split_once('@')
            .ok_or_else(|| format!("{}: name the version, `namespace/name@1.2.3`", args.plugin))?;
        let key = SecretKey::read(&args.key).map_err(|err| err.to_string())?;
        let action = if args.undo { "unyank" } else { "yank" };
        let path = format!("/v1/plugins/{name}/{version}/{action}");
        let answer = signed(&args.registry, "POST", &path, &key, Vec::new())?;
        println!("{answer}");
        Ok(())
    })();
    finish("plugin yank", result)
}

/// Send a request signed with `key`; the JSON answer, or the registry's error.
fn signed(
    registry: &str,
    method: &str,
    path: &str,
    key: &SecretKey,
    body: Vec<u8>,
) -> Result<serde_json::Value, String> {
    let url = format!("{}{path}", registry.trim_end_matches('/'));
    let at = jiff::Timestamp::now().as_millisecond();
    let request = ureq::http::Request::builder()
        .method(method)
        .uri(&url)
        .header("authorization", key.sign_request(method, path, at, &body))
        .header("content-type", "application/octet-stream")
        .body(body)
        .map_err(|err| format!("{url}: {err}"))?;
    exchange(request, "the registry").map_err(|err| match err {
        ExchangeError::Unreachable { .. } => format!(
            "{err} (is `linli-registry serve` running at {registry}? point at another registry with --registry URL)"
        ),
        ExchangeError::Refused { .. } => err.to_string(),
    })
}
