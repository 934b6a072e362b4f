//! `linli daemon`: the store host. Opens the store database in the data directory,
//! installs the reference plugins on first start, seeds the demo catalogue, and serves
//! the HTTP API until SIGTERM or ctrl-c, finishing requests in flight before it exits.

mod demo;

use crate::api::{self, AppState};
use crate::install::{self, Installer};
use crate::reference::REFERENCE_PLUGINS;
use crate::sensors::SensorConfig;
use crate::sensors::simulator::Simulator;
use linli_runtime::pipeline::{DEFAULT_BREAKER_THRESHOLD, Pipeline};
use linli_runtime::{Grants, Limits, Runtime, RuntimeConfig, World};
use linli_sdk::bundle::Manifest;
use linli_store::installs::{self, VersionRow};
use rusqlite::Connection;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The daemon's settings. Every field has a default; a `--config` file replaces any of
/// them, `--listen` and `--data-dir` override the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct DaemonConfig {
    /// Address the HTTP API listens on.
    pub listen: SocketAddr,
    /// Where the database, the admin token and the compiled-plugin cache live.
    pub data_dir: PathBuf,
    /// Seed the demo catalogue into an empty store.
    pub demo: bool,
    /// Consecutive failures after which a plugin install is disabled.
    pub breaker_threshold: u32,
    /// The time zone the store's days are counted in (IANA name, e.g.
    /// "Asia/Shanghai"): data-sharing reports and plugins' daily sales. Default: the
    /// system's.
    pub time_zone: Option<String>,
    /// Limits of every plugin call, unless an install sets its own.
    pub limits: Limits,
    /// Sensor simulator, reading retention and the cold-chain rule.
    pub sensors: SensorConfig,
    /// Data-sharing reports.
    pub sharing: SharingConfig,
    /// Installing plugin bundles.
    pub plugins: PluginsConfig,
    /// The KPI targets the dashboard measures against.
    pub reports: ReportsConfig,
    /// Sync with the alliance server.
    pub alliance: AllianceConfig,
}

/// Sync with the alliance: where the outbox goes, as which store.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct AllianceConfig {
    /// The alliance server (`linli-registry serve`), e.g. "http://127.0.0.1:7979".
    /// None: sync is off and events wait in the outbox.
    pub server: Option<String>,
    /// The store's secret key file (`linli key new`); the alliance operator registers
    /// its `.pub` with `linli-registry store add`.
    pub key: Option<PathBuf>,
    /// The store's name at the alliance.
    pub store: Option<String>,
    /// How often the outbox is pushed while the server answers.
    pub push_interval_ms: u64,
}

impl Default for AllianceConfig {
    fn default() -> Self {
        AllianceConfig {
            server: None,
            key: None,
            store: None,
            push_interval_ms: 5000,
        }
    }
}

/// Settings of plugin installs from bundles.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct PluginsConfig {
    /// The registry `linli plugin install` resolves requirements against.
    pub registry: String,
    /// Capabilities this store grants to bundles that request them; a bundle
    /// requesting another is refused. `sales-read` (daily aggregates of the store's
    /// sales) is business data the owner grants on purpose.
    pub grantable: Vec<String>,
}

impl Default for PluginsConfig {
    fn default() -> Self {
        PluginsConfig {
            registry: "http://127.0.0.1:7979".into(),
            grantable: vec!["kv".into(), "inventory-read".into()],
        }
    }
}

/// Settings of data-sharing reports.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct SharingConfig {
    /// Rows with fewer distinct customers are dropped from every report, whatever the
    /// plugin returns. At least 2.
    pub k: u32,
}

impl Default for SharingConfig {
    fn default() -> Self {
        SharingConfig { k: 5 }
    }
}

/// Targets of the operating guide's KPIs that are the store's to set.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct ReportsConfig {
    /// The industry's weekly inventory turnover (units sold per unit on hand in a week);
    /// the guide's target is 1.5 times it. The default, 0.35, is about 18 turns a year,
    /// common for convenience stores; put your region's figure here.
    pub industry_weekly_turnover: f64,
    /// The packaging return rate to aim for (returned boxes per box sold). The guide
    /// names the KPI without a number, so there is none unless the owner sets one.
    pub packaging_return_target: Option<f64>,
}

impl Default for ReportsConfig {
    fn default() -> Self {
        ReportsConfig {
            industry_weekly_turnover: 0.35,
            packaging_return_target: None,
        }
    }
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 7878)),
            data_dir: PathBuf::from("linli-data"),
            demo: true,
            breaker_threshold: DEFAULT_BREAKER_THRESHOLD,
            time_zone: None,
            limits: Limits::default(),
            sensors: SensorConfig::default(),
            sharing: SharingConfig::default(),
            plugins: PluginsConfig::default(),
            reports: ReportsConfig::default(),
            alliance: AllianceConfig::default(),
        }
    }
}

impl DaemonConfig {
    /// Read a TOML config file; the error names the file and the setting.
    pub fn read(path: &Path) -> Result<DaemonConfig, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|err| format!("config {}: cannot read: {err}", path.display()))?;
        let config: DaemonConfig =
            toml::from_str(&text).map_err(|err| format!("config {}: {err}", path.display()))?;
        config
            .check()
            .map_err(|err| format!("config {}: {err}", path.display()))?;
        Ok(config)
    }

    /// Settings that parse but cannot work.
    pub fn check(&self) -> Result<(), String> {
        self.sensors.cold_chain.validate()?;
        if self.sensors.simulator_interval_ms < 100 {
            return Err(format!(
                "sensors.simulator-interval-ms = {}: at least 100",
                self.sensors.simulator_interval_ms
            ));
        }
        if self.sharing.k < 2 {
            return Err(format!(
                "sharing.k = {}: at least 2, or single customers could be singled out",
                self.sharing.k
            ));
        }
        if !(self.reports.industry_weekly_turnover.is_finite()
            && self.reports.industry_weekly_turnover > 0.0)
        {
            return Err(format!(
                "reports.industry-weekly-turnover = {}: a positive number of turns a week",
                self.reports.industry_weekly_turnover
            ));
        }
        if let Some(target) = self.reports.packaging_return_target
            && !(target.is_finite() && target > 0.0)
        {
            return Err(format!(
                "reports.packaging-return-target = {target}: a positive share, e.g. 0.8"
            ));
        }
        if self.alliance.server.is_some() {
            if self.alliance.key.is_none() {
                return Err("alliance.key: needed when alliance.server is set: the store's secret key file (`linli key new`)".into());
            }
            if self
                .alliance
                .store
                .as_deref()
                .is_none_or(|store| store.trim().is_empty())
            {
                return Err("alliance.store: needed when alliance.server is set: the store's name at the alliance (`linli-registry store add NAME`)".into());
            }
        }
        if self.alliance.push_interval_ms < 100 {
            return Err(format!(
                "alliance.push-interval-ms = {}: at least 100",
                self.alliance.push_interval_ms
            ));
        }
        Grants::parse(&self.plugins.grantable)
            .map_err(|err| format!("plugins.grantable: {err}"))?;
        self.time_zone().map(|_| ())
    }

    /// The time zone store days are counted in.
    pub fn time_zone(&self) -> Result<jiff::tz::TimeZone, String> {
        match &self.time_zone {
            Some(name) => jiff::tz::TimeZone::get(name).map_err(|err| {
                format!("time-zone = {name:?}: {err}; use an IANA name like \"Asia/Shanghai\"")
            }),
            None => Ok(jiff::tz::TimeZone::system()),
        }
    }
}

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
    let now = api::now_ms();
    if config.demo {
        let seeded = demo::seed(&mut conn, now).map_err(|err| format!("demo catalogue: {err}"))?;
        if seeded > 0 {
            tracing::info!(skus = seeded, "demo catalogue seeded");
        }
    }
    install_reference_plugins(&mut conn, now)
        .map_err(|err| format!("installing the reference plugins: {err}"))?;
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(config.data_dir.join("cache")),
        ..RuntimeConfig::default()
    })
    .map_err(|err| format!("cannot start the plugin runtime: {err:#}"))?;
    let kv_conn = linli_store::open(&config.data_dir).map_err(|err| err.to_string())?;
    let link = crate::sync::Link::new(&config.alliance)?.map(Arc::new);
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
    tokio::spawn(sensor_upkeep(state.clone(), config.sensors.clone()));
    tokio::spawn(checkpoints(state.db.clone()));
    tokio::spawn(daily_sales(state.clone()));
    if let Some(link) = link {
        tokio::spawn(crate::sync::sync(state.clone(), link));
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
    axum::serve(listener, api::router(state))
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
        let install = installer.install(id, plugin, row.config, &requested);
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

/// The sensor simulator's readings, and deleting readings past their retention.
async fn sensor_upkeep(state: AppState, config: SensorConfig) {
    let interval_ms = config.simulator_interval_ms;
    let mut ticks = tokio::time::interval(std::time::Duration::from_millis(interval_ms));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut simulator = Simulator::new(api::now_ms() as u64);
    let mut pruned_at: Option<i64> = None;
    loop {
        ticks.tick().await;
        let now = api::now_ms();
        let readings = if config.simulator {
            simulator.read(now, interval_ms)
        } else {
            Vec::new()
        };
        let prune_before = (config.retention_days > 0
            && pruned_at.is_none_or(|at| now - at >= 3_600_000))
        .then(|| now - i64::from(config.retention_days) * 86_400_000);
        if readings.is_empty() && prune_before.is_none() {
            continue;
        }
        let done = async {
            if !readings.is_empty() {
                state
                    .blocking(move |state| api::sensors::store_readings(state, readings))
                    .await?;
            }
            if let Some(before) = prune_before {
                let deleted = state
                    .with_db(move |conn, _| Ok(linli_store::sensors::prune(conn, before)?))
                    .await?;
                if deleted > 0 {
                    tracing::info!(deleted, "sensor readings past retention deleted");
                }
            }
            Ok::<(), api::ApiError>(())
        }
        .await;
        match done {
            Ok(()) => {
                if prune_before.is_some() {
                    pruned_at = Some(now);
                }
            }
            Err(err) => tracing::warn!("sensor upkeep: {err}"),
        }
    }
}

/// Once a minute, queue the sales of each store day that ended for the alliance.
async fn daily_sales(state: AppState) {
    let mut ticks = tokio::time::interval(std::time::Duration::from_secs(60));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let queued = state
            .with_db(|conn, state| {
                linli_store::outbox::queue_daily_sales(
                    conn,
                    &state.sharing.time_zone,
                    api::now_ms(),
                )
                .map_err(api::ApiError::Internal)
            })
            .await;
        match queued {
            Ok(0) => {}
            Ok(days) => tracing::info!(days, "daily sales queued for the alliance"),
            Err(err) => tracing::warn!("daily sales: {err}"),
        }
    }
}

/// Copy the database's log into its file every second, off the requests' path.
async fn checkpoints(db: Arc<linli_store::Db>) {
    let mut ticks = tokio::time::interval(std::time::Duration::from_secs(1));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let db = db.clone();
        match tokio::task::spawn_blocking(move || db.checkpoint()).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => tracing::warn!("database checkpoint: {err}"),
            Err(err) => tracing::warn!("database checkpoint task: {err}"),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The README shows every setting with its default: it must parse, and say what the
    /// defaults are.
    #[test]
    fn the_readme_config_is_the_default() {
        let readme = include_str!("../../../README.md");
        let start = readme
            .find("```toml\n# linli.toml")
            .expect("the README shows linli.toml");
        let block = &readme[start + "```toml\n".len()..];
        let block = &block[..block.find("```").unwrap()];
        let config: DaemonConfig = toml::from_str(block).unwrap();
        let default = DaemonConfig::default();
        assert_eq!(config.listen, default.listen);
        assert_eq!(config.data_dir, default.data_dir);
        assert_eq!(config.demo, default.demo);
        assert_eq!(config.breaker_threshold, default.breaker_threshold);
        assert_eq!(config.time_zone, default.time_zone);
        assert_eq!(config.limits, default.limits);
        assert_eq!(config.sensors, default.sensors);
        assert_eq!(config.sharing, default.sharing);
        assert_eq!(config.plugins, default.plugins);
        assert_eq!(config.reports, default.reports);
        assert_eq!(config.alliance, default.alliance);
        config.check().unwrap();
    }

    #[test]
    fn alliance_sync_needs_a_key_and_a_store_name() {
        for (text, setting) in [
            (
                "[alliance]\nserver = \"http://127.0.0.1:7979\"\nstore = \"corner\"\n",
                "alliance.key",
            ),
            (
                "[alliance]\nserver = \"http://127.0.0.1:7979\"\nkey = \"corner.key\"\n",
                "alliance.store",
            ),
            (
                "[alliance]\npush-interval-ms = 10\n",
                "alliance.push-interval-ms",
            ),
        ] {
            let config: DaemonConfig = toml::from_str(text).unwrap();
            let err = config.check().unwrap_err();
            assert!(err.starts_with(setting), "{err}");
        }
        let config: DaemonConfig = toml::from_str(
            "[alliance]\nserver = \"http://127.0.0.1:7979\"\nkey = \"corner.key\"\nstore = \"corner\"\n",
        )
        .unwrap();
        config.check().unwrap();
        let err = crate::sync::Link::new(&config.alliance).err().unwrap();
        assert!(
            err.starts_with("alliance.key:") && err.contains("corner.key: cannot read"),
            "{err}"
        );
    }

    #[test]
    fn kpi_targets_that_cannot_work_are_refused_naming_the_setting() {
        for (text, setting) in [
            (
                "[reports]\nindustry-weekly-turnover = 0.0\n",
                "reports.industry-weekly-turnover",
            ),
            (
                "[reports]\npackaging-return-target = -1.0\n",
                "reports.packaging-return-target",
            ),
        ] {
            let config: DaemonConfig = toml::from_str(text).unwrap();
            let err = config.check().unwrap_err();
            assert!(err.starts_with(setting), "{err}");
        }
        let config: DaemonConfig =
            toml::from_str("[reports]\npackaging-return-target = 0.8\n").unwrap();
        assert_eq!(config.reports.packaging_return_target, Some(0.8));
        config.check().unwrap();
    }
}
