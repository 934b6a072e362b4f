//! The `linli` command line: argument parsing and one module per command group.

mod plugin_inspect;
mod plugin_run;

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
    /// Work with policy plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Run a plugin once on a JSON input and print its answer and the fuel it used:
    /// how a plugin author checks a policy before shipping it.
    Run(plugin_run::RunArgs),
    /// Show what a plugin component is: its world, imports, the capabilities it needs,
    /// its digest.
    Inspect(plugin_inspect::InspectArgs),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Plugin(PluginCommand::Run(args)) => {
            // The plugin's own log lines come back in the printed JSON; stderr keeps
            // only what went wrong.
            init_logging(cli.log_json, "warn");
            plugin_run::run(args)
        }
        Command::Plugin(PluginCommand::Inspect(args)) => {
            init_logging(cli.log_json, "warn");
            plugin_inspect::run(args)
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
