//! Builds the reference plugins (`plugins/*`) to wasm32-wasip2 components, so the
//! `linli` binary can embed them (the daemon's default install) and tests can run them
//! through the real runtime.
//!
//! The nested cargo uses its own target directory (`<target>/plugins`): sharing the
//! outer build's would wait forever on its lock.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The reference plugins: crate name and the world each implements.
const PLUGINS: &[(&str, &str)] = &[
    ("markdown-pricing", "pricing"),
    ("presale-threshold", "presale"),
    ("elderly-delivery", "elderly-delivery"),
    ("recycling-points", "recycling-points"),
    ("data-sharing", "data-sharing"),
];

const TARGET: &str = "wasm32-wasip2";

fn main() {
    // utoipa's macros read their config from each crate's OUT_DIR: the daemon's API
    // types name `Cents` and `Timestamp` too, integers in its OpenAPI document as they
    // are in linli-runtime's.
    utoipa_config::Config::new()
        .alias_for("Cents", "i64")
        .alias_for("Timestamp", "i64")
        .write_to_file();

    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let workspace = manifest_dir.parent().unwrap().to_owned();
    for watched in ["plugins", "sdk", "wit", "Cargo.lock"] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(watched).display()
        );
    }

    // OUT_DIR is <target>/<profile>/build/<pkg>-<hash>/out.
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    let target_dir = out_dir.ancestors().nth(4).unwrap().join("plugins");
    ensure_wasm_target();

    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .current_dir(&workspace)
        .args([
            "build",
            "--locked",
            "--profile",
            "plugin",
            "--target",
            TARGET,
        ])
        .arg("--target-dir")
        .arg(&target_dir)
        // Flags meant for the host build must not leak into the wasm build.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS");
    for (name, _) in PLUGINS {
        build.args(["-p", name]);
    }
    let status = build
        .status()
        .expect("run cargo to build the reference plugins");
    assert!(
        status.success(),
        "building the reference plugins for {TARGET} failed (see above)"
    );

    let wasm_dir = target_dir.join(TARGET).join("plugin");
    let mut table = String::from("&[\n");
    for (name, world) in PLUGINS {
        let file = wasm_dir.join(format!("{}.wasm", name.replace('-', "_")));
        assert!(file.exists(), "{} was not built", file.display());
        let manifest = workspace.join("plugins").join(name).join("plugin.toml");
        assert!(manifest.exists(), "{} is missing", manifest.display());
        table.push_str(&format!(
            "    ReferencePlugin {{ name: {name:?}, world: {world:?}, file: {file:?}, wasm: include_bytes!({file:?}), manifest: include_str!({manifest:?}) }},\n",
            file = file.display().to_string(),
            manifest = manifest.display().to_string(),
        ));
    }
    table.push(']');
    std::fs::write(out_dir.join("reference_plugins.rs"), table).unwrap();
}

/// The wasm target is not on a fresh machine; add it rather than fail with rustc's
/// "can't find crate for `core`".
fn ensure_wasm_target() {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .expect("run rustc --print sysroot");
    let sysroot = String::from_utf8_lossy(&sysroot.stdout).trim().to_string();
    if Path::new(&sysroot)
        .join("lib/rustlib")
        .join(TARGET)
        .exists()
    {
        return;
    }
    let added = Command::new("rustup")
        .args(["target", "add", TARGET])
        .status();
    assert!(
        matches!(added, Ok(status) if status.success()),
        "the {TARGET} target is missing and `rustup target add {TARGET}` failed; install it and build again"
    );
}
