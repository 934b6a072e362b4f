//! The reference plugins, built from `plugins/` by the build script and embedded in the
//! binary: the store daemon installs them by default, and tests run them.

/// One reference plugin component.
pub struct ReferencePlugin {
    /// The crate name, e.g. `markdown-pricing`.
    pub name: &'static str,
    /// The world it implements, e.g. `pricing`.
    pub world: &'static str,
    /// Where the build left the `.wasm` (for `linli plugin run` and tests).
    pub file: &'static str,
    /// The component's bytes.
    pub wasm: &'static [u8],
    /// Its bundle manifest, `plugin.toml`.
    pub manifest: &'static str,
}

pub const REFERENCE_PLUGINS: &[ReferencePlugin] =
    include!(concat!(env!("OUT_DIR"), "/reference_plugins.rs"));

/// The reference plugin called `name`.
pub fn reference_plugin(name: &str) -> Option<&'static ReferencePlugin> {
    REFERENCE_PLUGINS.iter().find(|plugin| plugin.name == name)
}
