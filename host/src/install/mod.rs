//! Installing plugin bundles: checking that a bundle's manifest tells the truth about
//! its component (the world it implements, the capabilities it uses, the contract it
//! was built for) before it is packed, and before a store runs it.

use crate::runtime::{Grants, LoadError, Plugin, Runtime, World};
use linli_sdk::bundle::{Bundle, POLICY_VERSION};
use std::path::Path;

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
