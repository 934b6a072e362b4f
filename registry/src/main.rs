//! linli-registry: the alliance's server. Members publish signed bundles under their
//! namespaces; stores search, list versions and download, and push the events they
//! share; a registry can mirror another (federation between alliances).

use clap::{Args, Parser, Subcommand};
use linli_registry::api::AppState;
use linli_registry::blobs::Blobs;
use linli_registry::{api, db, mirror, pool, reports};
use linli_sdk::bundle::PublicKey;
use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

#[derive(Parser)]
#[command(
    name = "linli-registry",
    version,
    about = "The linli alliance registry: signed plugin bundles, members and their namespaces"
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
    /// Serve the registry over HTTP until SIGTERM or ctrl-c.
    Serve(ServeArgs),
    /// Alliance members: who may publish under which namespace.
    #[command(subcommand)]
    Member(MemberCommand),
    /// Alliance stores: whose signed pushes of shared events the server takes.
    #[command(subcommand)]
    Store(StoreCommand),
    /// Transfers of the shared stock pool, newest first.
    Transfers(TransfersArgs),
    /// The stores' shared figures: sales per category and week, data-sharing reports.
    Reports(ReportsArgs),
}

#[derive(Args)]
struct TransfersArgs {
    /// Only transfers in this state: proposed (pending), accepted or declined.
    #[arg(long, value_parser = pool::State::parse)]
    state: Option<pool::State>,
    /// Only transfers this store sends or receives.
    #[arg(long, value_name = "NAME")]
    store: Option<String>,
    #[command(flatten)]
    data: DataArgs,
}

#[derive(Args)]
struct ReportsArgs {
    #[command(flatten)]
    k: KArgs,
    #[command(flatten)]
    data: DataArgs,
}

#[derive(Args)]
struct KArgs {
    /// No figure shown counts fewer than k sales or customers.
    #[arg(long, value_name = "K", default_value_t = 5, value_parser = clap::value_parser!(u32).range(2..))]
    k: u32,
}

#[derive(Args)]
struct DataArgs {
    /// Where the database and the bundles live.
    #[arg(long, value_name = "DIR", default_value = "linli-registry-data")]
    data_dir: PathBuf,
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7979")]
    listen: SocketAddr,
    #[command(flatten)]
    data: DataArgs,
    /// Mirror this registry: pull its index and bundles (verifying every signature)
    /// and serve them read-only.
    #[arg(long, value_name = "URL")]
    mirror: Option<String>,
    /// How often a mirror pulls, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    mirror_interval: u64,
    #[command(flatten)]
    k: KArgs,
}

#[derive(Subcommand)]
enum MemberCommand {
    /// Add a member, or more keys and namespaces to one.
    Add(MemberAddArgs),
    /// The members with their keys and namespaces.
    List(DataArgs),
}

#[derive(Args)]
struct MemberAddArgs {
    /// The member's name (a store chain, a cooperative, a developer).
    name: String,
    /// A public key that speaks for the member (a `.pub` file from `linli key new`);
    /// repeat for more.
    #[arg(long = "key", value_name = "FILE")]
    keys: Vec<PathBuf>,
    /// A namespace the member publishes under; repeat for more.
    #[arg(long = "namespace", value_name = "NAMESPACE")]
    namespaces: Vec<String>,
    #[command(flatten)]
    data: DataArgs,
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Register a store and the key its daemon signs pushes with; again, with the same
    /// key, to set where it is.
    Add(StoreAddArgs),
    /// The stores, with how far their events arrived.
    List(DataArgs),
}

#[derive(Args)]
struct StoreAddArgs {
    /// The store's name, as its daemon's `[alliance] store` setting says it.
    name: String,
    /// The store's public key (the `.pub` file of the key in its `[alliance] key`).
    #[arg(long = "key", value_name = "FILE")]
    key: PathBuf,
    /// Where the store is (degrees north), for the stock pool's radius.
    #[arg(
        long = "lat",
        value_name = "DEGREES",
        requires = "longitude",
        allow_negative_numbers = true
    )]
    latitude: Option<f64>,
    /// Where the store is (degrees east).
    #[arg(
        long = "lon",
        value_name = "DEGREES",
        requires = "latitude",
        allow_negative_numbers = true
    )]
    longitude: Option<f64>,
    #[command(flatten)]
    data: DataArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_json);
    let (command, result) = match cli.command {
        Command::Serve(args) => ("serve", serve(args)),
        Command::Member(MemberCommand::Add(args)) => ("member add", member_add(args)),
        Command::Member(MemberCommand::List(args)) => ("member list", member_list(args)),
        Command::Store(StoreCommand::Add(args)) => ("store add", store_add(args)),
        Command::Store(StoreCommand::List(args)) => ("store list", store_list(args)),
        Command::Transfers(args) => ("transfers", transfers(args)),
        Command::Reports(args) => ("reports", reports(args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("linli-registry {command}: {message}");
            ExitCode::from(2)
        }
    }
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
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

fn open(data: &DataArgs) -> Result<rusqlite::Connection, String> {
    std::fs::create_dir_all(data.data_dir.join("blobs")).map_err(|err| {
        format!(
            "data directory {}: cannot create: {err}",
            data.data_dir.display()
        )
    })?;
    db::open(&data.data_dir)
}

fn is_namespace(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && !text.starts_with('-')
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn member_add(args: MemberAddArgs) -> Result<(), String> {
    if args.name.trim().is_empty() {
        return Err("the member needs a name".into());
    }
    if let Some(bad) = args
        .namespaces
        .iter()
        .find(|namespace| !is_namespace(namespace))
    {
        return Err(format!(
            "namespace {bad:?}: lowercase letters, digits and `-`"
        ));
    }
    let keys = args
        .keys
        .iter()
        .map(|path| {
            PublicKey::read(path)
                .map(|(key, _)| (key.to_hex(), key.id()))
                .map_err(|err| err.to_string())
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut conn = open(&args.data)?;
    let at = jiff::Timestamp::now().as_millisecond();
    db::add_member(&mut conn, args.name.trim(), &keys, &args.namespaces, at)?;
    let members = db::members(&conn).map_err(|err| err.to_string())?;
    let member = members
        .iter()
        .find(|member| member.member == args.name.trim())
        .expect("the member just added");
    println!("{}", serde_json::to_string(member).expect("JSON prints"));
    Ok(())
}

fn member_list(args: DataArgs) -> Result<(), String> {
    let conn = open(&args)?;
    let members = db::members(&conn).map_err(|err| err.to_string())?;
    println!(
        "{}",
        serde_json::to_string_pretty(&members).expect("JSON prints")
    );
    Ok(())
}

fn store_add(args: StoreAddArgs) -> Result<(), String> {
    let name = args.name.trim();
    if name.is_empty() {
        return Err("the store needs a name".into());
    }
    let (key, _) = PublicKey::read(&args.key).map_err(|err| err.to_string())?;
    let conn = open(&args.data)?;
    db::add_store(&conn, name, &key, jiff::Timestamp::now().as_millisecond())?;
    if let (Some(latitude), Some(longitude)) = (args.latitude, args.longitude) {
        pool::locate(&conn, name, latitude, longitude)?;
    }
    let stores = db::stores(&conn).map_err(|err| err.to_string())?;
    let store = stores
        .iter()
        .find(|store| store.name == name)
        .expect("the store just added");
    println!("{}", serde_json::to_string(store).expect("JSON prints"));
    Ok(())
}

fn store_list(args: DataArgs) -> Result<(), String> {
    let conn = open(&args)?;
    let stores = db::stores(&conn).map_err(|err| err.to_string())?;
    println!(
        "{}",
        serde_json::to_string_pretty(&stores).expect("JSON prints")
    );
    Ok(())
}

fn transfers(args: TransfersArgs) -> Result<(), String> {
    let conn = open(&args.data)?;
    let transfers = pool::transfers(&conn, args.store.as_deref(), args.state, None)
        .map_err(|err| err.to_string())?;
    println!(
        "{}",
        serde_json::to_string_pretty(&transfers).expect("JSON prints")
    );
    Ok(())
}

fn reports(args: ReportsArgs) -> Result<(), String> {
    let conn = open(&args.data)?;
    let reports = reports::reports(&conn, args.k.k).map_err(|err| err.to_string())?;
    println!(
        "{}",
        serde_json::to_string_pretty(&reports).expect("JSON prints")
    );
    Ok(())
}

fn serve(args: ServeArgs) -> Result<(), String> {
    let conn = open(&args.data)?;
    let state = AppState {
        db: Arc::new(Mutex::new(conn)),
        blobs: Blobs::new(args.data.data_dir.join("blobs")),
        mirror_of: args.mirror.clone(),
        k: args.k.k,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|err| format!("cannot start the async runtime: {err}"))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|err| format!("cannot listen on {}: {err}", args.listen))?;
        let address = listener
            .local_addr()
            .map_err(|err| format!("listening socket: {err}"))?;
        if let Some(origin) = args.mirror.clone() {
            let state = state.clone();
            let every = std::time::Duration::from_secs(args.mirror_interval.max(1));
            tokio::spawn(async move {
                let mut ticks = tokio::time::interval(every);
                loop {
                    ticks.tick().await;
                    let (state, origin) = (state.clone(), origin.clone());
                    let pulled =
                        tokio::task::spawn_blocking(move || mirror::pull(&state, &origin)).await;
                    match pulled {
                        Ok(Ok(pulled)) if pulled.fetched > 0 || pulled.yank_changes > 0 => {
                            tracing::info!(fetched = pulled.fetched, yank_changes = pulled.yank_changes, "mirror pulled")
                        }
                        Ok(Ok(_)) => {}
                        Ok(Err(err)) => tracing::warn!("mirror: {err}"),
                        Err(err) => tracing::error!("mirror task: {err}"),
                    }
                }
            });
        }
        let shutdown = shutdown_signal();
        println!("linli-registry listening on http://{address}");
        let _ = std::io::stdout().flush();
        tracing::info!(%address, data_dir = %args.data.data_dir.display(), mirror = ?args.mirror, "serving");
        axum::serve(listener, api::router(state))
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|err| format!("server: {err}"))
    })
}

/// SIGTERM or ctrl-c, listened for from this call on rather than from the first poll:
/// the server is polled only after it printed that it listens, and a signal sent in
/// between would otherwise end the process uncleanly (the default action).
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let (mut terminate, mut interrupt) = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::terminate()).ok(),
            signal(SignalKind::interrupt()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        tokio::select! {
            _ = received(terminate.as_mut()) => {},
            _ = received(interrupt.as_mut()) => {},
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The next delivery of a signal; never, when it could not be listened for.
#[cfg(unix)]
async fn received(signal: Option<&mut tokio::signal::unix::Signal>) {
    match signal {
        Some(signal) => {
            signal.recv().await;
        }
        None => std::future::pending().await,
    }
}
