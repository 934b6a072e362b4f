//! `linli trust add/list/remove`: the publisher keys whose bundles this store installs.

use super::finish;
use clap::{Args, Subcommand};
use linli_sdk::bundle::PublicKey;
use linli_store::{self, trust};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum TrustCommand {
    /// Trust a publisher's public key (a `.pub` file from `linli key new`).
    Add(AddArgs),
    /// The trusted keys.
    List(StoreArgs),
    /// Stop trusting a key (installed plugins stay; new bundles by it are refused).
    Remove(RemoveArgs),
}

#[derive(Args)]
pub struct StoreArgs {
    /// The store's data directory.
    #[arg(long, value_name = "DIR", default_value = "linli-data")]
    data_dir: PathBuf,
}

#[derive(Args)]
pub struct AddArgs {
    /// The public key file.
    file: PathBuf,
    /// Whose key it is (default: the label in the file).
    #[arg(long)]
    name: Option<String>,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Args)]
pub struct RemoveArgs {
    /// The key id (`ed25519:...`, as `linli trust list` shows it).
    key_id: String,
    #[command(flatten)]
    store: StoreArgs,
}

pub fn run(command: TrustCommand) -> ExitCode {
    let (name, result) = match command {
        TrustCommand::Add(args) => ("trust add", add(args)),
        TrustCommand::List(args) => ("trust list", list(args)),
        TrustCommand::Remove(args) => ("trust remove", remove(args)),
    };
    finish(name, result)
}

fn open(args: &StoreArgs) -> Result<rusqlite::Connection, String> {
    std::fs::create_dir_all(&args.data_dir)
        .map_err(|err| format!("{}: cannot create: {err}", args.data_dir.display()))?;
    linli_store::open(&args.data_dir).map_err(|err| err.to_string())
}

fn add(args: AddArgs) -> Result<(), String> {
    let (key, label) = PublicKey::read(&args.file).map_err(|err| err.to_string())?;
    let label = args.name.unwrap_or(label);
    let conn = open(&args.store)?;
    let now = jiff::Timestamp::now().as_millisecond();
    let added = trust::add(&conn, &key, label.trim(), now).map_err(|err| err.to_string())?;
    println!(
        "{}",
        serde_json::json!({"key_id": key.id(), "label": label, "added": added})
    );
    Ok(())
}

fn list(args: StoreArgs) -> Result<(), String> {
    let conn = open(&args)?;
    let keys = trust::list(&conn).map_err(|err| err.to_string())?;
    println!(
        "{}",
        serde_json::to_string_pretty(&keys).expect("JSON prints")
    );
    Ok(())
}

fn remove(args: RemoveArgs) -> Result<(), String> {
    let conn = open(&args.store)?;
    if !trust::remove(&conn, &args.key_id).map_err(|err| err.to_string())? {
        return Err(format!(
            "{}: not a trusted key; `linli trust list` shows the ids",
            args.key_id
        ));
    }
    println!(
        "{}",
        serde_json::json!({"key_id": args.key_id, "removed": true})
    );
    Ok(())
}
