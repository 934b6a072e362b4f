//! `plugin.toml`: what a bundle says about its plugin — name, version, world, the
//! contract range it was built for, the capabilities it asks for, its limits and its
//! settings with their defaults.

use super::BundleError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The policy kinds a plugin can implement (the worlds of `linli:policy`).
pub const WORLDS: [&str; 5] = [
    "pricing",
    "presale",
    "elderly-delivery",
    "recycling-points",
    "data-sharing",
];

/// Capabilities a bundle may request beyond `log`, `config` and `clock`, which every
/// plugin has.
pub const CAPABILITIES: [&str; 3] = ["kv", "inventory-read", "sales-read"];

/// The version of the `linli:policy` contract this SDK builds against.
pub const POLICY_VERSION: &str = "0.1.0";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Manifest {
    /// `namespace/name`: the namespace is the publishing member's.
    pub name: String,
    pub version: semver::Version,
    /// The policy kind: one of [`WORLDS`].
    pub world: String,
    /// The `linli:policy` versions the plugin works with, e.g. `^0.1`.
    pub policy: semver::VersionReq,
    /// Capabilities the plugin needs the store to grant: any of [`CAPABILITIES`].
    #[serde(default)]
    pub capabilities: Vec<String>,
    pub description: String,
    pub license: String,
    #[serde(default)]
    pub authors: Vec<String>,
    /// Limits the plugin asks for; the store may grant less.
    #[serde(default, skip_serializing_if = "ManifestLimits::is_empty")]
    pub limits: ManifestLimits,
    /// The settings the plugin reads, with their types and defaults.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, Setting>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ManifestLimits {
    /// Instructions (fuel) per call.
    pub fuel: Option<u64>,
    pub memory_bytes: Option<u64>,
    pub deadline_ms: Option<u64>,
}

impl ManifestLimits {
    fn is_empty(&self) -> bool {
        *self == ManifestLimits::default()
    }
}

/// One setting a plugin reads through `config`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Setting {
    #[serde(rename = "type")]
    pub kind: SettingKind,
    /// The value used when the store sets none, as the plugin reads it (text).
    pub default: Option<String>,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SettingKind {
    String,
    Integer,
    Number,
    Boolean,
    /// Comma-separated values.
    List,
}

impl SettingKind {
    /// Whether `value` reads as this kind.
    pub fn accepts(self, value: &str) -> bool {
        match self {
            SettingKind::String | SettingKind::List => true,
            SettingKind::Integer => value.trim().parse::<i64>().is_ok(),
            SettingKind::Number => value.trim().parse::<f64>().is_ok_and(f64::is_finite),
            SettingKind::Boolean => matches!(value.trim(), "true" | "false"),
        }
    }
}

impl Manifest {
    /// Read and check a `plugin.toml`.
    pub fn parse(text: &str) -> Result<Manifest, BundleError> {
        let manifest: Manifest = toml::from_str(text)
            .map_err(|err| BundleError::Manifest(err.to_string().trim().to_string()))?;
        manifest.check()?;
        Ok(manifest)
    }

    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a manifest serialises")
    }

    /// `namespace` and `name` of `namespace/name`.
    pub fn split_name(&self) -> (&str, &str) {
        self.name
            .split_once('/')
            .expect("a checked name has a namespace")
    }

    /// The bundle's file name: `<namespace>-<name>-<version>.linli`.
    pub fn file_name(&self) -> String {
        let (namespace, name) = self.split_name();
        format!("{namespace}-{name}-{}.linli", self.version)
    }

    /// Whether the plugin was built for a contract this SDK (and the store built with
    /// it) provides.
    pub fn policy_compatible(&self) -> bool {
        let current = semver::Version::parse(POLICY_VERSION).expect("a valid version");
        self.policy.matches(&current)
    }

    fn check(&self) -> Result<(), BundleError> {
        let bad = |text: String| Err(BundleError::Manifest(text));
        match self.name.split_once('/') {
            Some((namespace, name)) if is_identifier(namespace) && is_identifier(name) => {}
            _ => {
                return bad(format!(
                    "name {:?}: must be `namespace/name`, each 1 to 64 lowercase letters, digits or `-`, starting with a letter or digit",
                    self.name
                ));
            }
        }
        if !WORLDS.contains(&self.world.as_str()) {
            return bad(format!(
                "world {:?}: not a policy kind; one of {}",
                self.world,
                WORLDS.join(", ")
            ));
        }
        for capability in &self.capabilities {
            if !CAPABILITIES.contains(&capability.as_str()) {
                return bad(format!(
                    "capabilities: {capability:?} is not a capability; request any of {} (log, config and clock need no request)",
                    CAPABILITIES.join(", ")
                ));
            }
        }
        if self.description.trim().is_empty() {
            return bad("description: empty; say what the policy does".into());
        }
        if self.license.trim().is_empty() {
            return bad("license: empty; name the license (an SPDX id)".into());
        }
        for (key, setting) in &self.config {
            if !is_identifier(key) {
                return bad(format!(
                    "config.{key}: a setting name is lowercase letters, digits and `-`"
                ));
            }
            if let Some(default) = &setting.default
                && !setting.kind.accepts(default)
            {
                return bad(format!(
                    "config.{key}.default: {default:?} is not a {:?}",
                    setting.kind
                ));
            }
        }
        Ok(())
    }
}

fn is_identifier(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !text.starts_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "alliance/markdown"
version = "1.2.0"
world = "pricing"
policy = "^0.1"
capabilities = ["kv"]
description = "Marks down fresh goods near expiry"
license = "Apache-2.0"
authors = ["Alliance tech team"]

[limits]
fuel = 5000000

[config.discount-percent]
type = "integer"
default = "30"
description = "Discount on the last day"
"#;

    #[test]
    fn a_good_manifest_reads_and_round_trips() {
        let manifest = Manifest::parse(GOOD).unwrap();
        assert_eq!(manifest.file_name(), "alliance-markdown-1.2.0.linli");
        assert!(manifest.policy_compatible());
        assert_eq!(Manifest::parse(&manifest.to_toml()).unwrap(), manifest);
    }

    #[test]
    fn a_bad_manifest_names_the_field() {
        for (from, to, field) in [
            ("alliance/markdown", "markdown", "name"),
            ("alliance/markdown", "Alliance/Markdown", "name"),
            ("\"1.2.0\"", "\"1.2\"", "version"),
            ("\"pricing\"", "\"gambling\"", "world"),
            ("[\"kv\"]", "[\"network\"]", "network"),
            ("\"30\"", "\"thirty\"", "config.discount-percent.default"),
            ("license = \"Apache-2.0\"", "", "license"),
            ("fuel = 5000000", "fuel = 5000000\ncolour = 1", "colour"),
        ] {
            let text = GOOD.replace(from, to);
            let err = Manifest::parse(&text).unwrap_err().to_string();
            assert!(err.contains(field), "{field}: {err}");
        }
    }
}
