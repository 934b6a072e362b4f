//! `linli plugin inspect`: what a component is, as the store sees it at load.

use clap::Args;
use linli_runtime::{Grants, Runtime, RuntimeConfig};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct InspectArgs {
    /// The plugin component (.wasm).
    file: PathBuf,
}

pub fn run(args: InspectArgs) -> ExitCode {
    let loaded = Runtime::new(RuntimeConfig::default())
        .map_err(|err| format!("cannot start the plugin runtime: {err:#}"))
        .and_then(|runtime| {
            // Every capability granted: inspecting shows what the plugin would need.
            let all = Grants::parse(&Grants::grantable()).expect("grantable names parse");
            runtime
                .load(&args.file, None, &all)
                .map_err(|err| err.to_string())
        });
    let plugin = match loaded {
        Ok(plugin) => plugin,
        Err(message) => {
            eprintln!("linli plugin inspect: {message}");
            return ExitCode::from(2);
        }
    };
    let size = std::fs::metadata(&args.file)
        .map(|meta| meta.len())
        .unwrap_or(0);
    let report = json!({
        "plugin": plugin.name(),
        "world": plugin.world(),
        "functions": plugin.world().functions(),
        "capabilities": plugin.capabilities(),
        "imports": plugin.imports(),
        "sha256": plugin.digest(),
        "bytes": size,
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&report).expect("JSON prints")
    );
    ExitCode::SUCCESS
}
