//! Bundles from the command line: `linli key new`, `linli plugin pack`, `linli plugin
//! sign`, `linli plugin verify`.

use super::finish;
use clap::Args;
use linli::install::check_bundle;
use linli_runtime::{Runtime, RuntimeConfig};
use linli_sdk::bundle::{Bundle, MANIFEST_FILE, PublicKey, SecretKey};
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

#[derive(Args)]
pub struct KeyNewArgs {
    /// The key's name: the files are NAME.key (secret, mode 0600) and NAME.pub.
    name: String,
    /// Where to write the two files.
    #[arg(long, default_value = ".")]
    dir: PathBuf,
}

/// `linli key new`: a publisher key pair.
pub fn key_new(args: KeyNewArgs) -> ExitCode {
    let result = (|| {
        let key = SecretKey::generate().map_err(|err| err.to_string())?;
        let secret = args.dir.join(format!("{}.key", args.name));
        let public = args.dir.join(format!("{}.pub", args.name));
        for path in [&secret, &public] {
            if path.exists() {
                return Err(format!(
                    "{} exists; a key is never overwritten (pick another name or remove it)",
                    path.display()
                ));
            }
        }
        write_new(&secret, key.to_text().as_bytes(), 0o600)?;
        write_new(&public, key.public().to_text(&args.name).as_bytes(), 0o644)?;
        println!(
            "{}",
            json!({
                "key_id": key.public().id(),
                "secret_key": secret,
                "public_key": public,
            })
        );
        Ok(())
    })();
    finish("key new", result)
}

#[derive(Args)]
pub struct PackArgs {
    /// The plugin crate: its `plugin.toml` is the manifest and its wasm32-wasip2
    /// release build the component.
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Sign with this secret key (from `linli key new`); without it the bundle is
    /// unsigned until `linli plugin sign`.
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// Pack this component instead of building the crate.
    #[arg(long, value_name = "FILE")]
    wasm: Option<PathBuf>,
    /// Where to write the bundle.
    #[arg(long, value_name = "DIR", default_value = ".")]
    out: PathBuf,
}

/// `linli plugin pack`: build the crate, check the component against its manifest,
/// sign, and write `<namespace>-<name>-<version>.linli`.
pub fn pack(args: PackArgs) -> ExitCode {
    let result = (|| {
        let manifest_path = args.dir.join(MANIFEST_FILE);
        let manifest = std::fs::read_to_string(&manifest_path).map_err(|err| {
            format!(
                "{}: cannot read: {err}; a plugin crate has a plugin.toml beside its Cargo.toml",
                manifest_path.display()
            )
        })?;
        let wasm_path = match &args.wasm {
            Some(path) => path.clone(),
            None => build(&args.dir)?,
        };
        let wasm = std::fs::read(&wasm_path)
            .map_err(|err| format!("{}: cannot read: {err}", wasm_path.display()))?;
        let key = args
            .key
            .as_deref()
            .map(SecretKey::read)
            .transpose()
            .map_err(|err| err.to_string())?;
        let bundle = Bundle::new(&manifest, wasm, key.as_ref())
            .map_err(|err| format!("{}: {err}", manifest_path.display()))?;
        let runtime = runtime()?;
        check_bundle(&runtime, &bundle).map_err(|err| {
            format!(
                "{} does not match its component: {err}",
                manifest_path.display()
            )
        })?;
        let out = args.out.join(bundle.manifest.file_name());
        let archive = bundle.to_archive().map_err(|err| err.to_string())?;
        std::fs::write(&out, archive)
            .map_err(|err| format!("{}: cannot write: {err}", out.display()))?;
        println!(
            "{}",
            json!({
                "bundle": out,
                "name": bundle.manifest.name,
                "version": bundle.manifest.version.to_string(),
                "world": bundle.manifest.world,
                "signed_by": key.map(|key| key.public().id()),
                "wasm_sha256": bundle.wasm_digest(),
            })
        );
        Ok(())
    })();
    finish("plugin pack", result)
}

#[derive(Args)]
pub struct SignArgs {
    /// The bundle (.linli); signed in place.
    bundle: PathBuf,
    /// The secret key (from `linli key new`).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
}

/// `linli plugin sign`: sign a bundle (again), replacing any signature.
pub fn sign(args: SignArgs) -> ExitCode {
    let result = (|| {
        let mut bundle = read_bundle(&args.bundle)?;
        let key = SecretKey::read(&args.key).map_err(|err| err.to_string())?;
        bundle.sign(&key);
        let archive = bundle.to_archive().map_err(|err| err.to_string())?;
        // Write beside and rename: a crash never leaves half a bundle.
        let partial = args.bundle.with_extension("linli.partial");
        std::fs::write(&partial, archive)
            .and_then(|()| std::fs::rename(&partial, &args.bundle))
            .map_err(|err| format!("{}: cannot write: {err}", args.bundle.display()))?;
        println!(
            "{}",
            json!({"bundle": args.bundle, "signed_by": key.public().id()})
        );
        Ok(())
    })();
    finish("plugin sign", result)
}

#[derive(Args)]
pub struct VerifyArgs {
    /// The bundle (.linli).
    bundle: PathBuf,
    /// Trust this public key (.pub file); repeat for more. Without any, the trust store
    /// of the data directory decides.
    #[arg(long = "key", value_name = "FILE")]
    keys: Vec<PathBuf>,
    /// The store whose trust store decides.
    #[arg(long, value_name = "DIR", default_value = "linli-data")]
    data_dir: PathBuf,
}

/// `linli plugin verify`: is the bundle intact, signed by a trusted key, and does its
/// component match its manifest.
pub fn verify(args: VerifyArgs) -> ExitCode {
    let result = (|| {
        let bundle = read_bundle(&args.bundle)?;
        let signer = if args.keys.is_empty() {
            let signer = bundle.verify_signature().map_err(|err| err.to_string())?;
            // No store there yet: nothing is trusted (and nothing is created).
            let trusted = args.data_dir.join(linli_store::DB_FILE).exists() && {
                let conn = linli_store::open(&args.data_dir).map_err(|err| err.to_string())?;
                linli_store::trust::is_trusted(&conn, &signer)
                    .map_err(|err| format!("trust store: {err}"))?
            };
            bundle.verify(|_| trusted).map_err(|err| err.to_string())?
        } else {
            let trusted = args
                .keys
                .iter()
                .map(|path| PublicKey::read(path).map(|(key, _)| key))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|err| err.to_string())?;
            bundle
                .verify(|key| trusted.contains(key))
                .map_err(|err| err.to_string())?
        };
        let plugin = check_bundle(&runtime()?, &bundle).map_err(|err| err.to_string())?;
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "bundle": args.bundle,
                "name": bundle.manifest.name,
                "version": bundle.manifest.version.to_string(),
                "world": plugin.world(),
                "capabilities": bundle.manifest.capabilities,
                "signed_by": signer.id(),
                "wasm_sha256": bundle.wasm_digest(),
            }))
            .expect("JSON prints")
        );
        Ok(())
    })();
    finish("plugin verify", result)
}

/// Read a bundle file; the error names the file.
pub fn read_bundle(path: &Path) -> Result<Bundle, String> {
    let bytes =
        std::fs::read(path).map_err(|err| format!("{}: cannot read: {err}", path.display()))?;
    Bundle::read(&bytes).map_err(|err| format!("{}: {err}", path.display()))
}

fn runtime() -> Result<Runtime, String> {
    Runtime::new(RuntimeConfig::default())
        .map_err(|err| format!("cannot start the plugin runtime: {err:#}"))
}

/// Build a plugin crate for wasm32-wasip2 (release) and find its component.
fn build(dir: &Path) -> Result<PathBuf, String> {
    let cargo_toml = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&cargo_toml)
        .map_err(|err| format!("{}: cannot read: {err}", cargo_toml.display()))?;
    let parsed: toml::Table =
        toml::from_str(&text).map_err(|err| format!("{}: {err}", cargo_toml.display()))?;
    let package = parsed
        .get("package")
        .and_then(|package| package.get("name"))
        .and_then(|name| name.as_str())
        .ok_or_else(|| format!("{}: no [package] name", cargo_toml.display()))?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let metadata = Command::new(&cargo)
        .current_dir(dir)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .map_err(|err| format!("cannot run cargo: {err}"))?;
    if !metadata.status.success() {
        return Err(format!(
            "cargo metadata in {}: {}",
            dir.display(),
            String::from_utf8_lossy(&metadata.stderr).trim()
        ));
    }
    let metadata: serde_json::Value =
        serde_json::from_slice(&metadata.stdout).map_err(|err| format!("cargo metadata: {err}"))?;
    let target_dir = metadata["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .ok_or("cargo metadata: no target directory")?;
    eprintln!("building {package} for wasm32-wasip2 (release)");
    let status = Command::new(&cargo)
        .current_dir(dir)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--package",
            package,
        ])
        .status()
        .map_err(|err| format!("cannot run cargo: {err}"))?;
    if !status.success() {
        return Err(format!(
            "building {package} failed (is the target installed? `rustup target add wasm32-wasip2`)"
        ));
    }
    let wasm = target_dir
        .join("wasm32-wasip2")
        .join("release")
        .join(format!("{}.wasm", package.replace('-', "_")));
    if !wasm.exists() {
        return Err(format!(
            "{} was not built; is the crate a cdylib (`[lib] crate-type = [\"cdylib\", \"rlib\"]`)?",
            wasm.display()
        ));
    }
    Ok(wasm)
}

/// Create a file that must not exist yet, with `mode` on unix.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), String> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    options
        .open(path)
        .and_then(|mut file| file.write_all(bytes).and_then(|()| file.sync_all()))
        .map_err(|err| format!("{}: cannot write: {err}", path.display()))
}
