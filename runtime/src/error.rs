//! What can go wrong loading or calling a plugin. Every error names the plugin (or the
//! file) and says what to do; none of them takes the host down.

use super::world::World;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("plugin {path}: cannot read the file: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "plugin {path}: not a WebAssembly file (no `\\0asm` header); pass the .wasm the plugin build produced"
    )]
    NotWasm { path: PathBuf },
    #[error(
        "plugin {path}: a core WebAssembly module, not a component; build the plugin for wasm32-wasip2 (rustc emits a component) or wrap it with `wasm-tools component new`"
    )]
    CoreModule { path: PathBuf },
    #[error("plugin {path}: not a valid component: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error(
        "plugin {path}: the component is {size} bytes, over this host's {cap} byte cap on components (the daemon's `[plugins] max-component-bytes`)"
    )]
    TooLarge {
        path: PathBuf,
        size: usize,
        cap: usize,
    },
    #[error(
        "plugin {path}: compiling the component took longer than {seconds} s and was stopped (the daemon's `[plugins] compile-timeout-ms`); a policy's component compiles in well under a second"
    )]
    CompileTimeout { path: PathBuf, seconds: f64 },
    #[error("plugin {path}: the compiler process failed: {reason}")]
    Compiler { path: PathBuf, reason: String },
    #[error(
        "plugin {path}: exports no linli policy (expected one of the worlds {expected} of linli:policy@0.1)"
    )]
    NoWorld { path: PathBuf, expected: String },
    #[error(
        "plugin {path}: exports several policies ({found}); a plugin implements exactly one world"
    )]
    SeveralWorlds { path: PathBuf, found: String },
    #[error("plugin {path}: is a `{found}` plugin, not `{expected}`")]
    WrongWorld {
        path: PathBuf,
        expected: World,
        found: World,
    },
    #[error("plugin {path}: {what}")]
    Contract { path: PathBuf, what: String },
    #[error(
        "plugin {path}: uses {}, not granted to this install; grant {} if the plugin should have {}",
        quoted(.capabilities),
        grant_flags(.capabilities),
        if .capabilities.len() == 1 { "it" } else { "them" }
    )]
    NotGranted {
        path: PathBuf,
        capabilities: Vec<&'static str>,
    },
    #[error("plugin {path}: imports what a linli plugin may not use: {imports}")]
    ForbiddenImport { path: PathBuf, imports: String },
    #[error("plugin {path}: does not start within the default limits: {error}")]
    Start {
        path: PathBuf,
        error: Box<CallError>,
    },
}

/// Why a call did not produce an answer. The plugin's own refusals
/// (`policy-error`) are not errors of the call: they are its answer.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error(
        "plugin {plugin}: ran out of fuel after {budget} instructions (an endless loop, or raise `fuel` in the install's limits)"
    )]
    OutOfFuel { plugin: String, budget: u64 },
    #[error("plugin {plugin}: missed its {deadline_ms} ms deadline and was stopped")]
    Deadline { plugin: String, deadline_ms: u64 },
    #[error(
        "plugin {plugin}: tried to grow its memory to {requested} bytes, over its {cap} byte cap"
    )]
    MemoryLimit {
        plugin: String,
        requested: usize,
        cap: usize,
    },
    #[error("plugin {plugin}: overflowed its stack (runaway recursion)")]
    StackOverflow { plugin: String },
    #[error("plugin {plugin}: trapped: {trap}{said}", said = said(.stderr))]
    Trap {
        plugin: String,
        trap: String,
        stderr: String,
    },
    #[error("plugin {plugin}: bad output from `{function}`: {what}")]
    BadOutput {
        plugin: String,
        function: &'static str,
        what: String,
    },
    #[error("plugin {plugin}: {input} byte input is over the {cap} byte cap")]
    InputTooLarge {
        plugin: String,
        input: usize,
        cap: usize,
    },
    #[error("plugin {plugin}: is a `{world}` plugin and has no function `{function}`")]
    WrongCall {
        plugin: String,
        world: World,
        function: &'static str,
    },
    #[error("plugin {plugin}: {what}")]
    Host { plugin: String, what: String },
    #[error("plugin {plugin}: could not start an instance: {reason}")]
    Instantiate { plugin: String, reason: String },
    #[error("plugin {plugin}: its exports do not match linli:policy@0.1: {reason}")]
    Exports { plugin: String, reason: String },
}

fn quoted(capabilities: &[&str]) -> String {
    let each: Vec<String> = capabilities.iter().map(|cap| format!("`{cap}`")).collect();
    each.join(", ")
}

fn grant_flags(capabilities: &[&str]) -> String {
    let each: Vec<String> = capabilities
        .iter()
        .map(|cap| format!("`--grant {cap}`"))
        .collect();
    each.join(" ")
}

/// What the plugin wrote to stderr (a panic message, say), on one line.
fn said(stderr: &str) -> String {
    let words: Vec<&str> = stderr.split_whitespace().collect();
    if words.is_empty() {
        String::new()
    } else {
        format!(" — the plugin wrote: {}", words.join(" "))
    }
}
