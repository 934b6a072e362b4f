//! The daemon's settings: the TOML `--config` file (`linli.toml`), every setting with
//! its default, and the checks that refuse settings that parse but cannot work.

use crate::sensors::SensorConfig;
use linli_runtime::pipeline::DEFAULT_BREAKER_THRESHOLD;
use linli_runtime::{Grants, Limits};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

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
    /// Components larger than this are refused before they are compiled.
    pub max_component_bytes: usize,
    /// A component still compiling after this long is stopped and refused. Compiling
    /// runs in a child process, off the database and the request path.
    pub compile_timeout_ms: u64,
}

impl Default for PluginsConfig {
    fn default() -> Self {
        PluginsConfig {
            registry: "http://127.0.0.1:7979".into(),
            grantable: vec!["kv".into(), "inventory-read".into()],
            max_component_bytes: 16 << 20,
            compile_timeout_ms: 60_000,
        }
    }
}

/// Settings of data-sharing reports.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct SharingConfig {
    /// Nothing fewer distinct customers bought leaves the store: such rows are dropped
    /// from every report whatever the plugin returns (the host counts the customers),
    /// and such categories from each day's sales. At least 2.
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The README shows every setting with its default: it must parse, and say what the
    /// defaults are.
    #[test]
    fn the_readme_config_is_the_default() {
        let readme = include_str!("../../README.md");
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
        let err = crate::alliance::Link::new(&config.alliance).err().unwrap();
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
