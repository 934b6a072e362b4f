//! The `linli` command line: argument parsing and one module per command group.

mod bundle;
mod lifecycle;
mod plugin_inspect;
mod plugin_new;
mod plugin_run;
mod registry;
mod trust;

use clap::{Parser, Subcommand};
use std::io::IsTerminal;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "linli",
    version,
    about = "The linli store host: runs policy plugins for a community store"
)]
struct Cli {
    /// Log as JSON lines instead of human-readable text.
    #[arg(long, global = true)]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the store host: the HTTP API on the store database, with the reference
    /// plugins installed and (by default) a demo catalogue.
    Daemon(DaemonArgs),
    /// Work with policy plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Publisher keys that sign plugin bundles.
    #[command(subcommand)]
    Key(KeyCommand),
    /// The store's trust store: whose signed bundles it installs.
    #[command(subcommand)]
    Trust(trust::TrustCommand),
    /// Compile a component for the daemon's runtime: the daemon runs this in a child
    /// process it stops after `[plugins] compile-timeout-ms`.
    #[command(hide = true)]
    CompileComponent(CompileArgs),
}

#[derive(clap::Args)]
struct CompileArgs {
    /// The runtime's instance pool size (as the daemon's).
    #[arg(long)]
    max_concurrent_calls: u32,
    /// The runtime's largest memory cap (as the daemon's).
    #[arg(long)]
    max_memory_bytes: usize,
    /// The component.
    input: std::path::PathBuf,
    /// Where the compiled component is written.
    output: std::path::PathBuf,
}

fn compile_component(args: CompileArgs) -> ExitCode {
    let config = linli_runtime::RuntimeConfig {
        max_concurrent_calls: args.max_concurrent_calls,
        max_memory_bytes: args.max_memory_bytes,
        ..linli_runtime::RuntimeConfig::default()
    };
    let result = std::fs::read(&args.input)
        .map_err(|err| format!("{}: {err}", args.input.display()))
        .and_then(|wasm| {
            linli_runtime::Runtime::precompile(&config, &wasm).map_err(|err| format!("{err:#}"))
        })
        .and_then(|compiled| {
            std::fs::write(&args.output, compiled)
                .map_err(|err| format!("{}: {err}", args.output.display()))
        });
    // The daemon shows what a failed compile printed: the reason alone.
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::from(2)
        }
    }
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Make a publisher key pair: NAME.key (secret, mode 0600) and NAME.pub (give this
    /// one to the stores and the registry).
    New(bundle::KeyNewArgs),
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Run a plugin once on a JSON input and print its answer and the fuel it used:
    /// how a plugin author checks a policy before shipping it.
    Run(plugin_run::RunArgs),
    /// Show what a plugin component is: its world, imports, the capabilities it needs,
    /// its digest.
    Inspect(plugin_inspect::InspectArgs),
    /// Start a plugin crate for one world: it builds, passes its tests and packs as is.
    New(plugin_new::NewArgs),
    /// Pack a plugin crate into a bundle (`<namespace>-<name>-<version>.linli`): build
    /// it for wasm32-wasip2, check the component against its plugin.toml, sign it.
    Pack(bundle::PackArgs),
    /// Sign a bundle, replacing any signature.
    Sign(bundle::SignArgs),
    /// Check a bundle: intact, signed by a trusted key, component matching manifest.
    Verify(bundle::VerifyArgs),
    /// Install a plugin into the running daemon — `namespace/name@requirement` from the
    /// registry, or a `.linli` file — after checking its signature against the trust
    /// store, its world and imports, and the capabilities the store grants.
    Install(lifecycle::InstallArgs),
    /// Upgrade an install to the newest version matching a requirement (or a given
    /// version): swapped in while the daemon serves; a downgrade needs
    /// `--allow-downgrade`.
    Upgrade(lifecycle::InstallArgs),
    /// Return an install to the version it ran before its last upgrade.
    Rollback(lifecycle::RollbackArgs),
    /// Run a candidate version beside an install on real calls: the active version
    /// decides, every call where they differ is recorded.
    Shadow(lifecycle::ShadowArgs),
    /// How the candidate compares: calls compared, how many differ, the latest
    /// differences.
    ShadowReport(lifecycle::RollbackArgs),
    /// Make the candidate the active version.
    Promote(lifecycle::RollbackArgs),
    /// Stop the candidate running beside an install.
    StopShadow(lifecycle::RollbackArgs),
    /// Publish a signed bundle to an alliance registry, as one of its members.
    Publish(registry::PublishArgs),
    /// Yank a published version from a registry (or `--undo` it): stores no longer
    /// pick it when resolving a requirement.
    Yank(registry::YankArgs),
}

/// Settings of `linli daemon`. Defaults: listen on 127.0.0.1:7878, data in
/// ./linli-data, demo catalogue on, circuit breaker after 5 consecutive failures, plugin
/// limits fuel 10M / 16 MiB / 50 ms / 1 MiB in and out, sensor simulator on, cold chain
/// 0–8 °C for at most 15 minutes, data-sharing k = 5.
#[derive(clap::Args)]
struct DaemonArgs {
    /// A TOML file replacing any default. Top level: listen = "127.0.0.1:7878",
    /// data-dir = "linli-data", demo = true, breaker-threshold = 5,
    /// time-zone = "Asia/Shanghai" (the store's days; default: the system's).
    /// [limits]: fuel, memory-bytes, deadline-ms, max-input-bytes, max-output-bytes,
    /// kv-bytes (an install's kv keyspace quota).
    /// [sensors]: simulator = true, simulator-interval-ms = 10000, retention-days = 90.
    /// [sensors.cold-chain]: min-celsius = 0.0, max-celsius = 8.0, after-minutes = 15;
    /// [sensors.cold-chain.devices.DEVICE]: min-celsius, max-celsius, after-minutes for one
    /// device (sim-freezer-1 holds -25 to -15 °C).
    /// [sharing]: k = 5 (nothing fewer customers bought leaves the store: report rows,
    /// daily sales per category).
    /// [plugins]: registry = "http://127.0.0.1:7979", grantable = ["kv", "inventory-read"],
    /// max-component-bytes = 16777216, compile-timeout-ms = 60000.
    #[arg(long, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
    /// Address to listen on (overrides the config file); port 0 picks a free port.
    #[arg(long, value_name = "ADDR")]
    listen: Option<std::net::SocketAddr>,
    /// The data directory: database, admin token, compiled-plugin cache (overrides the
    /// config file).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<std::path::PathBuf>,
}

fn daemon(args: DaemonArgs) -> ExitCode {
    let config = match &args.config {
        Some(path) => linli::config::DaemonConfig::read(path),
        None => Ok(linli::config::DaemonConfig::default()),
    };
    let result = config.and_then(|mut config| {
        if let Some(listen) = args.listen {
            config.listen = listen;
        }
        if let Some(data_dir) = args.data_dir {
            config.data_dir = data_dir;
        }
        linli::daemon::run(config)
    });
    finish("daemon", result)
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // The daemon reports what it serves; the other commands print their answer on
    // stdout (a plugin's own log lines come back in `plugin run`'s JSON), so stderr
    // keeps only what went wrong.
    let level = match cli.command {
        Command::Daemon(_) => "info",
        _ => "warn",
    };
    init_logging(cli.log_json, level);
    match cli.command {
        Command::Daemon(args) => daemon(args),
        Command::Plugin(PluginCommand::Run(args)) => plugin_run::run(args),
        Command::Plugin(PluginCommand::Inspect(args)) => plugin_inspect::run(args),
        Command::Plugin(PluginCommand::New(args)) => plugin_new::run(args),
        Command::Plugin(PluginCommand::Pack(args)) => bundle::pack(args),
        Command::Plugin(PluginCommand::Sign(args)) => bundle::sign(args),
        Command::Plugin(PluginCommand::Verify(args)) => bundle::verify(args),
        Command::Plugin(PluginCommand::Publish(args)) => registry::publish(args),
        Command::Plugin(PluginCommand::Install(args)) => lifecycle::install(args, "plugin install"),
        Command::Plugin(PluginCommand::Upgrade(args)) => lifecycle::install(args, "plugin upgrade"),
        Command::Plugin(PluginCommand::Rollback(args)) => lifecycle::about(args, "rollback"),
        Command::Plugin(PluginCommand::Shadow(args)) => lifecycle::shadow(args),
        Command::Plugin(PluginCommand::ShadowReport(args)) => {
            lifecycle::about(args, "shadow-report")
        }
        Command::Plugin(PluginCommand::Promote(args)) => lifecycle::about(args, "promote"),
        Command::Plugin(PluginCommand::StopShadow(args)) => lifecycle::about(args, "stop-shadow"),
        Command::Plugin(PluginCommand::Yank(args)) => registry::yank(args),
        Command::Key(KeyCommand::New(args)) => bundle::key_new(args),
        Command::Trust(command) => trust::run(command),
        Command::CompileComponent(args) => compile_component(args),
    }
}

/// Exit 0 on success; otherwise one line on stderr naming the command, and exit 2.
fn finish(command: &str, result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("linli {command}: {message}");
            ExitCode::from(2)
        }
    }
}

/// Logs go to stderr; `RUST_LOG` filters them (default: `default_level`).
fn init_logging(json: bool, default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
