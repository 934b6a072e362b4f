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

/// One setting a plugin reads through `config`, with the values it takes: a store
/// refuses any other when its owner sets it, so a setting can never stop the plugin.
///
/// A name ending in `.*` declares a family of settings: `floor.*` is every setting
/// named `floor.` and something (`floor.MILK-1L`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Setting {
    #[serde(rename = "type")]
    pub kind: SettingKind,
    /// The value used when the store sets none, as the plugin reads it (text).
    pub default: Option<String>,
    #[serde(default)]
    pub description: String,
    /// The least value an integer or number setting takes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum: Option<f64>,
    /// The greatest value an integer or number setting takes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum: Option<f64>,
    /// The values a string setting, or each item of a list, takes (any when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub one_of: Vec<String>,
}

impl Setting {
    /// Check a value the store would set: of the setting's type and within what it
    /// declares. The error says what is allowed.
    pub fn check(&self, value: &str) -> Result<(), String> {
        if !self.kind.accepts(value) {
            return Err(format!("{value:?} is not {}", self.kind.described()));
        }
        let number = match self.kind {
            SettingKind::Integer | SettingKind::Number => value.trim().parse::<f64>().ok(),
            _ => None,
        };
        if let Some(number) = number {
            let below = self.minimum.is_some_and(|minimum| number < minimum);
            let above = self.maximum.is_some_and(|maximum| number > maximum);
            if below || above {
                return Err(format!("{} is not {}", value.trim(), self.range()));
            }
        }
        if !self.one_of.is_empty() {
            let items: Vec<&str> = match self.kind {
                SettingKind::List => value
                    .split(',')
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .collect(),
                _ => vec![value.trim()],
            };
            if let Some(item) = items
                .iter()
                .find(|item| !self.one_of.iter().any(|allowed| allowed == *item))
            {
                return Err(format!("{item:?} is not one of {}", self.one_of.join(", ")));
            }
        }
        Ok(())
    }

    /// The declared range, as text: `from 0 to 100`, `at least 1`.
    fn range(&self) -> String {
        match (self.minimum, self.maximum) {
            (Some(minimum), Some(maximum)) => format!("from {minimum} to {maximum}"),
            (Some(minimum), None) => format!("at least {minimum}"),
            (None, Some(maximum)) => format!("at most {maximum}"),
            (None, None) => "any".into(),
        }
    }

    /// What a value of this setting must be, as text.
    pub fn allowed(&self) -> String {
        let mut allowed = self.kind.described().to_string();
        if self.minimum.is_some() || self.maximum.is_some() {
            allowed.push(' ');
            allowed.push_str(&self.range());
        }
        if !self.one_of.is_empty() {
            let each = if self.kind == SettingKind::List {
                " each"
            } else {
                ""
            };
            allowed.push_str(&format!(",{each} one of {}", self.one_of.join(", ")));
        }
        allowed
    }
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
    /// The kind as a value of it is described: `an integer`.
    pub fn described(self) -> &'static str {
        match self {
            SettingKind::String => "a string",
            SettingKind::Integer => "an integer",
            SettingKind::Number => "a number",
            SettingKind::Boolean => "true or false",
            SettingKind::List => "a comma-separated list",
        }
    }

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

    /// The declared setting a store's setting `key` is: one of that name, or of the
    /// family (`floor.*`) it belongs to.
    pub fn setting(&self, key: &str) -> Option<&Setting> {
        self.config.get(key).or_else(|| {
            self.config.iter().find_map(|(name, setting)| {
                let prefix = name.strip_suffix('*')?;
                (key.len() > prefix.len() && key.starts_with(prefix)).then_some(setting)
            })
        })
    }

    /// Check a setting the store would give the plugin: a setting it declares, with a
    /// value it takes. The error names the setting and says what is allowed.
    pub fn check_setting(&self, key: &str, value: &str) -> Result<(), String> {
        let Some(setting) = self.setting(key) else {
            let names: Vec<&str> = self.config.keys().map(String::as_str).collect();
            return Err(format!(
                "`{key}` is not a setting of {}; its settings are {}",
                self.name,
                if names.is_empty() {
                    "none".into()
                } else {
                    names.join(", ")
                }
            ));
        };
        setting
            .check(value)
            .map_err(|err| format!("`{key}`: {err}; it takes {}", setting.allowed()))
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
            let family = key.strip_suffix(".*");
            if !family.map_or_else(|| is_identifier(key), is_identifier) {
                return bad(format!(
                    "config.{key}: a setting name is lowercase letters, digits and `-`, or such a name and `.*` for a family of settings"
                ));
            }
            let numeric = matches!(setting.kind, SettingKind::Integer | SettingKind::Number);
            let bounded = setting.minimum.is_some() || setting.maximum.is_some();
            if bounded && !numeric {
                return bad(format!(
                    "config.{key}: minimum and maximum bound integer and number settings only"
                ));
            }
            if let (Some(minimum), Some(maximum)) = (setting.minimum, setting.maximum)
                && minimum > maximum
            {
                return bad(format!(
                    "config.{key}: minimum {minimum} is above maximum {maximum}"
                ));
            }
            if !setting.one_of.is_empty()
                && !matches!(setting.kind, SettingKind::String | SettingKind::List)
            {
                return bad(format!(
                    "config.{key}.one-of: lists the values of string and list settings only"
                ));
            }
            if let Some(default) = &setting.default
                && let Err(err) = setting.check(default)
            {
                return bad(format!("config.{key}.default: {err}"));
            }
        }
        Ok(())
    }
}

/// [`is_identifier`] as a JSON Schema pattern.
pub const IDENTIFIER_PATTERN: &str = "^[a-z0-9][a-z0-9-]{0,63}$";

/// Whether `text` is a name as a namespace, a plugin's name, a setting's name or an
/// install's id is: 1 to 64 lowercase ASCII letters, digits or `-`, not starting with
/// `-`.
pub fn is_identifier(text: &str) -> bool {
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
    fn settings_are_checked_against_what_the_manifest_declares() {
        let text = GOOD.replace(
            "description = \"Discount on the last day\"",
            "description = \"Discount on the last day\"\nminimum = 0\nmaximum = 100",
        ) + r#"
[config.period]
type = "string"
default = "week"
one-of = ["week", "day"]

[config.fields]
type = "list"
one-of = ["category", "revenue"]

[config."floor.*"]
type = "integer"
minimum = 0
"#;
        let manifest = Manifest::parse(&text).unwrap();
        assert_eq!(Manifest::parse(&manifest.to_toml()).unwrap(), manifest);
        for (key, value) in [
            ("discount-percent", "0"),
            ("discount-percent", " 100 "),
            ("period", "day"),
            ("fields", "category, revenue"),
            ("floor.MILK-1L", "250"),
        ] {
            manifest.check_setting(key, value).unwrap();
        }
        for (key, value, says) in [
            (
                "discount-percent",
                "-50",
                "`discount-percent`: -50 is not from 0 to 100",
            ),
            ("discount-percent", "101", "from 0 to 100"),
            ("discount-percent", "lots", "not an integer"),
            ("period", "month", "\"month\" is not one of week, day"),
            ("fields", "category,cohort", "\"cohort\" is not one of"),
            ("floor.MILK-1L", "-1", "at least 0"),
            ("floor.", "1", "not a setting"),
            (
                "colour",
                "red",
                "its settings are discount-percent, fields, floor.*, period",
            ),
        ] {
            let err = manifest.check_setting(key, value).unwrap_err();
            assert!(err.contains(says), "{key}={value}: {err}");
        }
        for (from, to, field) in [
            ("maximum = 100", "maximum = -1", "above maximum"),
            (
                "default = \"30\"",
                "default = \"300\"",
                "config.discount-percent.default",
            ),
            (
                "default = \"week\"",
                "default = \"year\"",
                "config.period.default",
            ),
            ("type = \"list\"", "type = \"integer\"", "one-of"),
            ("[config.\"floor.*\"]", "[config.\"floor.**\"]", "family"),
        ] {
            let err = Manifest::parse(&text.replace(from, to))
                .unwrap_err()
                .to_string();
            assert!(err.contains(field), "{field}: {err}");
        }
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
