//! The install lifecycle from the command line — `linli plugin install`, `upgrade`,
//! `rollback` — done by the running daemon over its HTTP API, so a swap happens while
//! it serves and calls in flight finish on the old version.

use super::finish;
use clap::Args;
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
            call(&args.daemon, "POST", &base, "application/json", body)?
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
        let answer = call(&args.daemon, method, &path, "application/json", body)?;
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

/// A request to the daemon with its admin token; the JSON answer or the daemon's error.
fn call(
    daemon: &DaemonArgs,
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
    exchange(request, "the daemon")
        .map_err(|err| format!("{err} (is `linli daemon` running at {}?)", daemon.daemon))
}

/// Send a request and read its JSON answer; a refusal is the server's own words.
pub fn exchange(
    request: ureq::http::Request<Vec<u8>>,
    server: &str,
) -> Result<serde_json::Value, String> {
    let url = request.uri().to_string();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(120)))
        .build()
        .into();
    let mut response = agent.run(request).map_err(|err| format!("{url}: {err}"))?;
    let status = response.status();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    let answer: serde_json::Value =
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
    if !status.is_success() {
        let message = answer["error"]
            .as_str()
            .map(str::to_string)
            .unwrap_or(answer.to_string());
        return Err(format!("{server} refused ({status}): {message}"));
    }
    Ok(answer)
}
