//! Installing plugin bundles: checking that a bundle's manifest tells the truth about
//! its component (the world it implements, the capabilities it uses, the contract it
//! was built for) before it is packed, and before a store runs it.

use linli_runtime::pipeline::Install;
use linli_runtime::shadow::{DifferenceSink, Shadow};
use linli_runtime::{
    CallContext, CallError, Grants, Limits, LoadError, Plugin, Runtime, StoreAccess, World,
};
use linli_sdk::bundle::{Bundle, Manifest, ManifestLimits, POLICY_VERSION};
use linli_store::installs;
use linli_store::kv::SqliteKv;
use linli_store::readers::{SqliteInventory, SqliteSales};
use rusqlite::Connection;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error(
        "{name} {version} needs linli:policy {wanted}; this linli provides {POLICY_VERSION}: ask the publisher for a build against it"
    )]
    IncompatiblePolicy {
        name: String,
        version: String,
        wanted: String,
    },
    #[error("{0}")]
    Load(#[from] LoadError),
    #[error(
        "the component uses {}, which plugin.toml does not request: add {} to `capabilities`",
        .0.join(", "),
        if .0.len() == 1 { "it" } else { "them" }
    )]
    UnrequestedCapability(Vec<&'static str>),
}

/// Check a bundle's component against its manifest and load it: the same world, no
/// capability used that is not requested, a contract range this host provides.
pub fn check_bundle(runtime: &Runtime, bundle: &Bundle) -> Result<Plugin, InstallError> {
    let manifest = &bundle.manifest;
    if !manifest.policy_compatible() {
        return Err(InstallError::IncompatiblePolicy {
            name: manifest.name.clone(),
            version: manifest.version.to_string(),
            wanted: manifest.policy.to_string(),
        });
    }
    let world = World::from_name(&manifest.world)
        .expect("a checked manifest names a world of this contract");
    // Every capability granted, so that the load reports all the component uses; the
    // comparison with the manifest comes after.
    let all = Grants::parse(&Grants::grantable()).expect("grantable names parse");
    let label = format!("{}@{}", manifest.name, manifest.version);
    let plugin = runtime.load_bytes(&label, Path::new(&label), &bundle.wasm, Some(world), &all)?;
    let unrequested: Vec<&'static str> = plugin
        .capabilities()
        .into_iter()
        .filter(|used| !manifest.capabilities.iter().any(|asked| asked == used))
        .collect();
    if !unrequested.is_empty() {
        return Err(InstallError::UnrequestedCapability(unrequested));
    }
    Ok(plugin)
}

/// Builds the pipeline installs of a store: each with its component, settings, limits
/// and the store state it was granted (its kv keyspace in the store database).
pub struct Installer {
    pub runtime: Runtime,
    /// The kv capability's keyspaces live in the store file, through their own
    /// connection, so a plugin call never waits on a request's transaction.
    kv: Arc<Mutex<Connection>>,
    limits: Limits,
    /// The store's time zone: the days of the sales aggregates.
    zone: jiff::tz::TimeZone,
}

impl Installer {
    pub fn new(
        runtime: Runtime,
        kv: Connection,
        limits: Limits,
        zone: jiff::tz::TimeZone,
    ) -> Installer {
        Installer {
            runtime,
            kv: Arc::new(Mutex::new(kv)),
            limits,
            zone,
        }
    }

    /// An install of a loaded plugin, with the limits its manifest asks for as far as
    /// the store's allow (a bundle may ask for less, never for more). `bundle` names
    /// what it runs (`namespace/name@version`): the install's errors and log lines name
    /// both, so two installs of one bundle read apart. The plugin is started once with
    /// the install's own limits first: one that cannot start within them (a start-up
    /// that loops, memory over the cap) is refused here rather than failing every call.
    pub fn install(
        &self,
        id: &str,
        bundle: &str,
        plugin: &Plugin,
        settings: BTreeMap<String, String>,
        requested: &ManifestLimits,
    ) -> Result<Install, CallError> {
        // Each capability is there for every install; the grants checked at load decide
        // which a component may import.
        let access = StoreAccess {
            kv: Some(Arc::new(SqliteKv::new(self.kv.clone(), id.to_string()))),
            inventory: Some(Arc::new(SqliteInventory::new(self.kv.clone()))),
            sales: Some(Arc::new(SqliteSales::new(
                self.kv.clone(),
                self.zone.clone(),
            ))),
        };
        let limits = Limits {
            fuel: requested
                .fuel
                .map_or(self.limits.fuel, |fuel| fuel.min(self.limits.fuel)),
            memory_bytes: requested
                .memory_bytes
                .map_or(self.limits.memory_bytes, |bytes| {
                    usize::try_from(bytes)
                        .unwrap_or(usize::MAX)
                        .min(self.limits.memory_bytes)
                }),
            deadline_ms: requested.deadline_ms.map_or(self.limits.deadline_ms, |ms| {
                ms.min(self.limits.deadline_ms)
            }),
            ..self.limits
        };
        let plugin = Arc::new(plugin.named(&format!("{id} ({bundle})")));
        plugin.probe(&CallContext {
            now: crate::now_ms(),
            config: Arc::new(settings.clone()),
            limits,
            store: access.clone(),
        })?;
        Ok(Install::new(id, plugin, settings, limits, access))
    }

    /// Where shadow runs keep their differences: the store, through the kv connection.
    pub fn difference_sink(&self) -> DifferenceSink {
        let conn = self.kv.clone();
        Arc::new(move |difference| {
            let conn = linli_store::lock(&conn);
            if let Err(err) = installs::record_difference(&conn, &difference) {
                tracing::warn!(install = %difference.install, "shadow difference not kept: {err}");
            }
        })
    }

    /// Start a candidate beside an install.
    pub fn shadow(&self, id: &str, version: &str, plugin: Arc<Plugin>) -> Shadow {
        Shadow::start(
            id.to_string(),
            version.to_string(),
            plugin,
            self.difference_sink(),
        )
    }

    /// Load a stored component for an install.
    pub fn load(
        &self,
        id: &str,
        wasm: &[u8],
        world: World,
        grants: &Grants,
    ) -> Result<Arc<Plugin>, LoadError> {
        self.runtime
            .load_bytes(id, Path::new(id), wasm, Some(world), grants)
            .map(Arc::new)
    }
}

/// How an install names the bundle it runs: `namespace/name@version`, or the install
/// id for an install from before bundles were kept.
pub fn bundle_label(id: &str, plugin: Option<&str>, version: Option<&str>) -> String {
    match (plugin, version) {
        (Some(plugin), Some(version)) => format!("{plugin}@{version}"),
        _ => id.to_string(),
    }
}

/// The limits a kept version's manifest asks for (none for a manifest that does not
/// read, which only a store from before manifests were kept could hold).
pub fn requested_limits(manifest: &str) -> ManifestLimits {
    Manifest::parse(manifest)
        .map(|manifest| manifest.limits)
        .unwrap_or_default()
}

/// What to install from a registry: `namespace/name@<semver requirement>` (no `@`:
/// the newest version).
#[derive(Debug, Clone, PartialEq)]
pub struct Requirement {
    pub namespace: String,
    pub name: String,
    pub versions: semver::VersionReq,
}

impl Requirement {
    pub fn parse(text: &str) -> Result<Requirement, String> {
        let (plugin, versions) = text.split_once('@').unwrap_or((text, "*"));
        let (namespace, name) = plugin
            .split_once('/')
            .filter(|(namespace, name)| !namespace.is_empty() && !name.is_empty())
            .ok_or_else(|| {
                format!("{text:?}: name the plugin as `namespace/name@requirement`, e.g. `alliance/markdown@^1.2`")
            })?;
        let versions = semver::VersionReq::parse(versions)
            .map_err(|err| format!("{text:?}: version requirement {versions:?}: {err}"))?;
        Ok(Requirement {
            namespace: namespace.to_string(),
            name: name.to_string(),
            versions,
        })
    }

    /// An exact requirement (`=1.2.0`) names one version: it may pick a yanked one when
    /// allowed.
    fn exact(&self) -> bool {
        matches!(self.versions.comparators.as_slice(),
            [only] if only.op == semver::Op::Exact && only.minor.is_some() && only.patch.is_some())
    }
}

/// A version as a registry lists it.
#[derive(Debug, Clone, serde::Deserialize)]
struct Listed {
    version: String,
    sha256: String,
    yanked: bool,
}

/// Resolve a requirement against a registry — the newest version that matches and is
/// not yanked (a yanked one only when asked for exactly and allowed) — and download it,
/// checking the bytes against the registry's digest. Blocking.
pub fn fetch(registry: &str, wanted: &Requirement, allow_yanked: bool) -> Result<Vec<u8>, String> {
    let registry = registry.trim_end_matches('/');
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(60)))
        .http_status_as_error(false)
        .build()
        .into();
    let plugin = format!("{}/{}", wanted.namespace, wanted.name);
    let url = format!("{registry}/v1/plugins/{plugin}");
    let mut response = agent
        .get(&url)
        .call()
        .map_err(|err| format!("registry {registry}: {err}"))?;
    if response.status() == 404 {
        return Err(format!("registry {registry}: no plugin {plugin}"));
    }
    if !response.status().is_success() {
        return Err(format!(
            "registry {registry}: {url} answered {}",
            response.status()
        ));
    }
    let listed: Vec<Listed> = response
        .body_mut()
        .read_json()
        .map_err(|err| format!("registry {registry}: {url}: {err}"))?;
    let mut matching: Vec<(semver::Version, Listed)> = listed
        .into_iter()
        .filter_map(|listed| Some((semver::Version::parse(&listed.version).ok()?, listed)))
        .filter(|(version, _)| wanted.versions.matches(version))
        .collect();
    matching.sort_by(|a, b| b.0.cmp(&a.0));
    let chosen = match matching.iter().find(|(_, listed)| !listed.yanked) {
        Some(found) => found,
        None => match matching.first() {
            Some(found) if wanted.exact() && allow_yanked => found,
            Some((version, _)) if wanted.exact() => {
                return Err(format!(
                    "{plugin} {version} is yanked; install it anyway with allow-yanked (`--allow-yanked`)"
                ));
            }
            Some(_) => {
                return Err(format!(
                    "every version of {plugin} matching {} is yanked",
                    wanted.versions
                ));
            }
            None => {
                return Err(format!(
                    "no version of {plugin} matches {} at {registry}",
                    wanted.versions
                ));
            }
        },
    };
    let (version, listed) = chosen;
    let url = format!("{registry}/v1/plugins/{plugin}/{version}");
    let mut response = agent
        .get(&url)
        .call()
        .map_err(|err| format!("registry {registry}: {err}"))?;
    if !response.status().is_success() {
        return Err(format!(
            "registry {registry}: {url} answered {}",
            response.status()
        ));
    }
    let bytes = response
        .body_mut()
        .with_config()
        .limit(linli_sdk::bundle::MAX_WASM_BYTES + (1 << 20))
        .read_to_vec()
        .map_err(|err| format!("registry {registry}: {url}: {err}"))?;
    use sha2::Digest;
    if hex::encode(sha2::Sha256::digest(&bytes)) != listed.sha256 {
        return Err(format!(
            "registry {registry}: the download of {plugin} {version} does not match its digest; try again"
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements_name_a_plugin_and_a_range() {
        let wanted = Requirement::parse("alliance/markdown@^1.2").unwrap();
        assert_eq!(
            (wanted.namespace.as_str(), wanted.name.as_str()),
            ("alliance", "markdown")
        );
        assert!(wanted.versions.matches(&semver::Version::new(1, 4, 0)));
        assert!(!wanted.exact());
        assert!(
            Requirement::parse("alliance/markdown@=1.2.0")
                .unwrap()
                .exact()
        );
        assert!(
            Requirement::parse("alliance/markdown")
                .unwrap()
                .versions
                .matches(&semver::Version::new(9, 0, 0))
        );
        assert!(Requirement::parse("markdown@1").is_err());
        assert!(
            Requirement::parse("alliance/markdown@banana")
                .unwrap_err()
                .contains("banana")
        );
    }

    #[test]
    fn the_sdk_and_the_host_know_the_same_capabilities() {
        assert_eq!(
            Grants::grantable(),
            linli_sdk::bundle::CAPABILITIES.to_vec()
        );
    }

    #[test]
    fn the_sdk_the_runtime_and_the_reference_plugins_know_the_same_worlds() {
        let worlds: Vec<&str> = linli_runtime::World::ALL.map(|world| world.name()).to_vec();
        assert_eq!(worlds, linli_sdk::bundle::WORLDS.to_vec());
        for world in worlds {
            assert!(
                crate::reference::REFERENCE_PLUGINS
                    .iter()
                    .any(|plugin| plugin.world == world),
                "no reference plugin for {world}"
            );
        }
    }
}
