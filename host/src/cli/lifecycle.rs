//! The install lifecycle from the command line — `linli plugin install`, `upgrade`,
//! `rollback` — done by the running daemon over its HTTP API, so a swap happens while
//! it serves and calls in flight finish on the old version.

use super::finish;
use clap::Args;
use linli_alliance::{ApiErrorBody, ErrorCode};
use std::path::PathBuf;
use std::process::ExitCode;

/// Which daemon, and its admin token.
#[derive(Args)]
pub struct DaemonArgs {
    /// The daemon's URL.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:7878")]
    daemon: String,
    /// The daemon's data directory, where its admin token is kept.
    #[arg(long, value_name = "DIR", default_value = "linli-data")]
    data_dir: PathBuf,
}

#[derive(Args)]
pub struct InstallArgs {
    /// `namespace/name@requirement` from the registry (e.g. `alliance/markdown@^1.2`),
    /// or a `.linli` bundle file.
    plugin: String,
    /// The registry to resolve against (default: the daemon's `[plugins] registry`).
    #[arg(long, value_name = "URL")]
    registry: Option<String>,
    /// The install id (default: the plugin's name without its namespace).
    #[arg(long = "as", value_name = "ID")]
    install_as: Option<String>,
    /// Accept a version older than the one running.
    #[arg(long)]
    allow_downgrade: bool,
    /// Accept a yanked version asked for exactly (`=1.2.0`).
    #[arg(long)]
    allow_yanked: bool,
    #[command(flatten)]
    daemon: DaemonArgs,
}

#[derive(Args)]
pub struct RollbackArgs {
    /// The install id.
    install: String,
    #[command(flatten)]
    daemon: DaemonArgs,
}

#[derive(Args)]
pub struct ShadowArgs {
    /// The candidate: `namespace/name@requirement` from the registry, or a `.linli` file.
    plugin: String,
    /// The install to run it beside.
    #[arg(long = "install", value_name = "ID")]
    install: String,
    #[arg(long, value_name = "URL")]
    registry: Option<String>,
    #[arg(long)]
    allow_yanked: bool,
    #[command(flatten)]
    daemon: DaemonArgs,
}

pub fn install(args: InstallArgs, command: &str) -> ExitCode {
    let result = (|| {
        let answer = if is_file(&args.plugin) {
            let bytes = std::fs::read(&args.plugin)
                .map_err(|err| format!("{}: cannot read: {err}", args.plugin))?;
            let mut query = vec![format!("allow_downgrade={}", args.allow_downgrade)];
            if let Some(id) = &args.install_as {
                query.push(format!("as={id}"));
            }
            let path = format!("/v1/plugins/install/bundle?{}", query.join("&"));
            call(
                &args.daemon,
                Reaches::Daemon,
                "POST",
                &path,
                "application/octet-stream",
                bytes,
            )?
        } else {
            let body = serde_json::json!({
                "plugin": args.plugin,
                "registry": args.registry,
                "as": args.install_as,
                "allow_downgrade": args.allow_downgrade,
                "allow_yanked": args.allow_yanked,
            });
            let body = body.to_string().into_bytes();
            call(
                &args.daemon,
                Reaches::Registry(args.registry.as_deref()),
                "POST",
                "/v1/plugins/install",
                "application/json",
                body,
            )?
        };
        print(&answer);
        Ok(())
    })();
    finish(command, result)
}

/// `linli plugin shadow`: run a candidate beside an install.
pub fn shadow(args: ShadowArgs) -> ExitCode {
    let result = (|| {
        let base = format!("/v1/plugins/{}/shadow", args.install);
        let answer = if is_file(&args.plugin) {
            let bytes = std::fs::read(&args.plugin)
                .map_err(|err| format!("{}: cannot read: {err}", args.plugin))?;
            let path = format!("{base}/bundle");
            call(
                &args.daemon,
                Reaches::Daemon,
                "POST",
                &path,
                "application/octet-stream",
                bytes,
            )?
        } else {
            let body = serde_json::json!({
                "plugin": args.plugin,
                "registry": args.registry,
                "allow_yanked": args.allow_yanked,
            });
            let body = body.to_string().into_bytes();
            let reaches = Reaches::Registry(args.registry.as_deref());
            call(
                &args.daemon,
                reaches,
                "POST",
                &base,
                "application/json",
                body,
            )?
        };
        print(&answer);
        Ok(())
    })();
    finish("plugin shadow", result)
}

/// `linli plugin rollback`, `promote`, `shadow-report` and `stop-shadow`: one request
/// about an install.
pub fn about(args: RollbackArgs, action: &str) -> ExitCode {
    let result = (|| {
        let install = &args.install;
        let (method, path) = match action {
            "shadow-report" => ("GET", format!("/v1/plugins/{install}/shadow")),
            "stop-shadow" => ("DELETE", format!("/v1/plugins/{install}/shadow")),
            _ => ("POST", format!("/v1/plugins/{install}/{action}")),
        };
        let body = b"{}".to_vec();
        let answer = call(
            &args.daemon,
            Reaches::Daemon,
            method,
            &path,
            "application/json",
            body,
        )?;
        print(&answer);
        Ok(())
    })();
    finish(&format!("plugin {action}"), result)
}

/// A bundle file rather than a registry requirement.
fn is_file(plugin: &str) -> bool {
    plugin.ends_with(".linli") || std::path::Path::new(plugin).is_file()
}

fn print(answer: &serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(answer).expect("JSON prints")
    );
}

/// Where a request to the daemon leads.
#[derive(Clone, Copy)]
enum Reaches<'a> {
    /// The daemon alone.
    Daemon,
    /// A registry, through the daemon: the one asked for with `--registry`, or none for
    /// the daemon's own (`[plugins] registry`).
    Registry(Option<&'a str>),
}

/// A request to the daemon with its admin token; the JSON answer or the daemon's error.
/// Where a hint helps, it says what to check: whether the daemon runs there when nothing
/// answered, how to name another registry when the daemon could not reach one.
fn call(
    daemon: &DaemonArgs,
    reaches: Reaches<'_>,
    method: &str,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Result<serde_json::Value, String> {
    let token_file = daemon.data_dir.join(linli::daemon::TOKEN_FILE);
    let token = std::fs::read_to_string(&token_file).map_err(|err| {
        format!(
            "admin token {}: {err}; give the daemon's data directory with --data-dir",
            token_file.display()
        )
    })?;
    let url = format!("{}{path}", daemon.daemon.trim_end_matches('/'));
    let request = ureq::http::Request::builder()
        .method(method)
        .uri(&url)
        .header("authorization", format!("Bearer {}", token.trim()))
        .header("content-type", content_type)
        .body(body)
        .map_err(|err| format!("{url}: {err}"))?;
    exchange(request, "the daemon").map_err(|err| match (&err, reaches) {
        (ExchangeError::Unreachable { .. }, _) => format!(
            "{err} (is `linli daemon` running at {}? name another with --daemon URL)",
            daemon.daemon
        ),
        (
            ExchangeError::Refused {
                code: Some(ErrorCode::BadGateway),
                ..
            },
            Reaches::Registry(registry),
        ) => {
            let which = match registry {
                Some(registry) => format!("the registry {registry}"),
                None => "its registry (`[plugins] registry` in its config)".to_string(),
            };
            format!(
                "{err} (the daemon could not use {which}; point at another with --registry URL)"
            )
        }
        (ExchangeError::Refused { .. }, _) => err.to_string(),
    })
}

/// Why a request got no answer to use.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    /// Nothing answered: the connection was refused or broke, or the URL is wrong.
    #[error("{url}: {message}")]
    Unreachable { url: String, message: String },
    /// The server answered with an error status and said why.
    #[error("{server} refused ({status}): {message}")]
    Refused {
        server: &'static str,
        status: ureq::http::StatusCode,
        /// The error body's code, when the answer was one.
        code: Option<ErrorCode>,
        message: String,
    },
}

/// Send a request and read its JSON answer; a refusal is the server's own words.
pub fn exchange(
    request: ureq::http::Request<Vec<u8>>,
    server: &'static str,
) -> Result<serde_json::Value, ExchangeError> {
    let url = request.uri().to_string();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(120)))
        .build()
        .into();
    let mut response = agent
        .run(request)
        .map_err(|err| ExchangeError::Unreachable {
            url,
            message: err.to_string(),
        })?;
    let status = response.status();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    let answer: serde_json::Value =
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
    if !status.is_success() {
        return Err(
            match serde_json::from_value::<ApiErrorBody>(answer.clone()) {
                Ok(body) => ExchangeError::Refused {
                    server,
                    status,
                    code: Some(body.code),
                    message: body.error,
                },
                Err(_) => ExchangeError::Refused {
                    server,
                    status,
                    code: None,
                    message: answer.as_str().map_or(answer.to_string(), str::to_string),
                },
            },
        );
    }
    Ok(answer)
}
