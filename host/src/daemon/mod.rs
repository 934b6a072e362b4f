//! `linli daemon`: the store host. Opens the store database in the data directory,
//! installs the reference plugins on first start, seeds the demo catalogue, and serves
//! the HTTP API until SIGTERM or ctrl-c, finishing requests in flight before it exits.

mod demo;
mod loops;

use crate::api::{self, AppState};
use crate::config::DaemonConfig;
use crate::install::{self, Installer};
use crate::now_ms;
use crate::reference::REFERENCE_PLUGINS;
use linli_runtime::pipeline::Pipeline;
use linli_runtime::{Compiler, Grants, Runtime, RuntimeConfig, World};
use linli_sdk::bundle::Manifest;
use linli_store::installs::{self, VersionRow};
use rusqlite::Connection;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The file in the data directory that holds the admin token.
pub const TOKEN_FILE: &str = "admin-token";

/// Start the daemon and serve until a shutdown signal.
pub fn run(config: DaemonConfig) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|err| format!("cannot start the async runtime: {err}"))?;
    runtime.block_on(serve(config))
}

async fn serve(config: DaemonConfig) -> Result<(), String> {
    config.check()?;
    let data_dir = &config.data_dir;
    std::fs::create_dir_all(data_dir).map_err(|err| {
        format!(
            "data directory {}: cannot create: {err}",
            data_dir.display()
        )
    })?;
    let mut conn = linli_store::open(data_dir).map_err(|err| err.to_string())?;
    let token = admin_token(data_dir)?;
    let now = now_ms();
    if config.demo {
        let seeded = demo::seed(&mut conn, now).map_err(|err| format!("demo catalogue: {err}"))?;
        if seeded > 0 {
            tracing::info!(skus = seeded, "demo catalogue seeded");
        }
    }
    install_reference_plugins(&mut conn, now)
        .map_err(|err| format!("installing the reference plugins: {err}"))?;
    let runtime = Runtime::new(runtime_config(&config)?)
        .map_err(|err| format!("cannot start the plugin runtime: {err:#}"))?;
    let kv_conn = linli_store::open(&config.data_dir).map_err(|err| err.to_string())?;
    let link = crate::alliance::Link::new(&config.alliance)?.map(Arc::new);
    let installer = Installer::new(runtime, kv_conn, config.limits, config.time_zone()?);
    let pipelines = load_pipelines(&conn, &installer, config.breaker_threshold)?;

    let state = AppState {
        db: Arc::new(linli_store::Db::new(conn).map_err(|err| err.to_string())?),
        sensor_queue: Arc::default(),
        stock: Arc::default(),
        pipelines: Arc::new(pipelines),
        installer: Arc::new(installer),
        token: Arc::from(token),
        metrics: Arc::default(),
        cold_chain: Arc::new(config.sensors.cold_chain.clone()),
        plugins: Arc::new(config.plugins.clone()),
        reports: Arc::new(config.reports.clone()),
        sharing: Arc::new(api::Sharing {
            k: config.sharing.k,
            time_zone: config.time_zone()?,
        }),
        alliance: link.clone(),
        quotes: Arc::default(),
    };
    tokio::spawn(loops::sensor_upkeep(state.clone(), config.sensors.clone()));
    tokio::spawn(loops::checkpoints(state.db.clone()));
    tokio::spawn(loops::daily_sales(state.clone()));
    if let Some(link) = link {
        tokio::spawn(crate::sync::sync(state.db.clone(), link));
    }
    let shutdown = shutdown_signal();
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|err| format!("cannot listen on {}: {err}", config.listen))?;
    let address = listener
        .local_addr()
        .map_err(|err| format!("listening socket: {err}"))?;
    // One line on stdout that scripts and tests wait for.
    println!("linli daemon listening on http://{address}");
    let _ = std::io::stdout().flush();
    tracing::info!(%address, data_dir = %data_dir.display(), "serving");
    axum::serve(api::JsonListener(listener), api::router(state))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|err| format!("server: {err}"))?;
    tracing::info!("stopped: requests in flight finished");
    Ok(())
}

/// The admin token: read from the data directory, or made and kept there (mode 0600)
/// on first start, and printed that once.
fn admin_token(data_dir: &Path) -> Result<String, String> {
    let path = data_dir.join(TOKEN_FILE);
    if let Ok(token) = std::fs::read_to_string(&path) {
        let token = token.trim().to_string();
        if !token.is_empty() {
            return Ok(token);
        }
    }
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|err| format!("cannot make an admin token: {err}"))?;
    let token = hex::encode(bytes);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&path)
        .map_err(|err| format!("admin token {}: cannot write: {err}", path.display()))?;
    writeln!(file, "{token}")
        .and_then(|_| file.sync_all())
        .map_err(|err| format!("admin token {}: cannot write: {err}", path.display()))?;
    eprintln!(
        "linli: admin token (shown once; kept in {}): {token}",
        path.display()
    );
    Ok(token)
}

/// Install the reference plugins the first time the store starts (later starts keep
/// whatever the owner made of them), and record them as versions of their installs so
/// an upgrade from a bundle can be rolled back to them.
fn install_reference_plugins(conn: &mut Connection, now: i64) -> Result<(), String> {
    let tx = conn.transaction().map_err(|err| err.to_string())?;
    let first_start = installs::count(&tx).map_err(|err| err.to_string())? == 0;
    for plugin in REFERENCE_PLUGINS {
        let manifest =
            Manifest::parse(plugin.manifest).map_err(|err| format!("{}: {err}", plugin.name))?;
        let version = VersionRow {
            version: manifest.version.to_string(),
            plugin: manifest.name.clone(),
            signer: None,
            installed_at: now,
            manifest: plugin.manifest.to_string(),
            wasm: plugin.wasm.to_vec(),
        };
        if first_start {
            installs::add_version(&tx, plugin.name, &version).map_err(|err| err.to_string())?;
            installs::insert(&tx, plugin.name, plugin.world, &[], &version)
                .map_err(|err| err.to_string())?;
        } else if installs::active(&tx, plugin.name)
            .map_err(|err| err.to_string())?
            .is_some_and(|(active, _)| active.is_none())
        {
            // A store from before versions were kept: its reference installs become
            // version records too.
            installs::add_version(&tx, plugin.name, &version).map_err(|err| err.to_string())?;
            installs::adopt(&tx, plugin.name, &version).map_err(|err| err.to_string())?;
        }
    }
    tx.commit().map_err(|err| err.to_string())
}

/// The plugin runtime of the daemon: components compiled in a child process (this
/// binary's `compile-component`), which is stopped when it runs past the timeout, and
/// kept compiled in the data directory.
fn runtime_config(config: &DaemonConfig) -> Result<RuntimeConfig, String> {
    let defaults = RuntimeConfig::default();
    let program = std::env::current_exe()
        .map_err(|err| format!("cannot find this program to compile plugins with: {err}"))?;
    let args = vec![
        "compile-component".to_string(),
        format!("--max-concurrent-calls={}", defaults.max_concurrent_calls),
        format!("--max-memory-bytes={}", defaults.max_memory_bytes),
    ];
    Ok(RuntimeConfig {
        cache_dir: Some(config.data_dir.join("cache")),
        max_component_bytes: config.plugins.max_component_bytes,
        compiler: Compiler::Subprocess {
            program,
            args,
            timeout: Duration::from_millis(config.plugins.compile_timeout_ms),
        },
        ..defaults
    })
}

/// Load every install from the database into its world's pipeline.
fn load_pipelines(
    conn: &Connection,
    installer: &Installer,
    breaker_threshold: u32,
) -> Result<BTreeMap<World, Pipeline>, String> {
    let pipelines: BTreeMap<World, Pipeline> = World::ALL
        .into_iter()
        .map(|world| (world, Pipeline::new(world, breaker_threshold)))
        .collect();
    let rows = installs::all(conn).map_err(|err| format!("plugin installs: {err}"))?;
    for row in rows {
        let id = &row.install;
        let world = World::from_name(&row.world)
            .ok_or_else(|| format!("plugin install {id}: unknown world {}", row.world))?;
        let grants =
            Grants::parse(&row.grants).map_err(|err| format!("plugin install {id}: {err}"))?;
        let plugin = installer
            .load(id, &row.wasm, world, &grants)
            .map_err(|err| format!("plugin install {id}: {err}"))?;
        let requested = match &row.version {
            Some(version) => installs::version(conn, id, version)
                .map_err(|err| format!("plugin install {id}: {err}"))?
                .map(|kept| install::requested_limits(&kept.manifest))
                .unwrap_or_default(),
            None => Default::default(),
        };
        let bundle = install::bundle_label(id, row.plugin.as_deref(), row.version.as_deref());
        let install = installer
            .install(id, &bundle, &plugin, row.config, &requested)
            .map_err(|err| format!("plugin install {id}: {err}"))?;
        if let Some(candidate) = &row.shadow {
            let version = installs::version(conn, id, candidate)
                .map_err(|err| format!("plugin install {id}: {err}"))?
                .ok_or_else(|| {
                    format!("plugin install {id}: shadow version {candidate} is not kept")
                })?;
            let plugin = installer
                .load(id, &version.wasm, world, &grants)
                .map_err(|err| format!("plugin install {id}: shadow {candidate}: {err}"))?;
            install.set_shadow(Some(installer.shadow(id, candidate, plugin)));
        }
        let pipeline = &pipelines[&world];
        pipeline.add(install);
        if !row.enabled {
            pipeline
                .set_enabled(id, false)
                .map_err(|err| err.to_string())?;
        }
    }
    Ok(pipelines)
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
        tracing::info!("shutting down: finishing requests in flight");
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
