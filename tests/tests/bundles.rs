//! Bundles through the real `linli` binary: publisher keys, a scaffolded plugin crate
//! that tests and packs as is, signing and verifying against keys and the store's trust
//! store — and every way a bundle is refused, each with its reason and nothing changed.

use linli_sdk::bundle::{Bundle, SecretKey};
use linli_tests::{hostile, linli, reference, workspace};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn run(args: &[&str], dir: &Path) -> Output {
    Command::new(linli())
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run linli")
}

/// Run and expect success; the JSON it printed.
fn ok(args: &[&str], dir: &Path) -> Value {
    let output = run(args, dir);
    assert!(
        output.status.success(),
        "linli {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or(Value::Null)
}

/// Run and expect refusal (exit 2) with `reason` on stderr.
fn refused(args: &[&str], dir: &Path, reason: &str) {
    let output = run(args, dir);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "linli {args:?}: {stderr}");
    assert!(
        stderr.contains(reason),
        "linli {args:?}: wanted {reason:?} in: {stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
}

fn manifest(name: &str) -> String {
    std::fs::read_to_string(workspace().join("plugins").join(name).join("plugin.toml")).unwrap()
}

/// A signed bundle of a reference plugin with its manifest edited by `edit`.
fn bundle_file(dir: &Path, key: &SecretKey, edit: impl Fn(String) -> String) -> PathBuf {
    let plugin = reference("markdown-pricing");
    let bundle = Bundle::new(
        &edit(manifest("markdown-pricing")),
        plugin.wasm.to_vec(),
        Some(key),
    )
    .unwrap();
    let path = dir.join(bundle.manifest.file_name());
    std::fs::write(&path, bundle.to_archive().unwrap()).unwrap();
    path
}

fn key_pair(dir: &Path, name: &str) -> (SecretKey, PathBuf) {
    ok(&["key", "new", name], dir);
    let secret = SecretKey::read(&dir.join(format!("{name}.key"))).unwrap();
    (secret, dir.join(format!("{name}.pub")))
}

#[test]
fn every_reference_plugin_manifest_tells_the_truth_about_its_component() {
    for plugin in linli::reference::REFERENCE_PLUGINS {
        let bundle = Bundle::new(&manifest(plugin.name), plugin.wasm.to_vec(), None).unwrap();
        assert_eq!(bundle.manifest.world, plugin.world);
        assert_eq!(bundle.manifest.name, format!("linli/{}", plugin.name));
        linli::install::check_bundle(linli_tests::runtime(), &bundle)
            .unwrap_or_else(|err| panic!("{}: {err}", plugin.name));
    }
}

#[test]
fn a_new_key_is_private_to_its_owner_and_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let made = ok(&["key", "new", "alliance"], dir.path());
    assert!(made["key_id"].as_str().unwrap().starts_with("ed25519:"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("alliance.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let before = std::fs::read(dir.path().join("alliance.key")).unwrap();
    refused(&["key", "new", "alliance"], dir.path(), "never overwritten");
    assert_eq!(
        std::fs::read(dir.path().join("alliance.key")).unwrap(),
        before
    );
}

#[test]
fn a_bundle_verifies_against_its_signers_key_and_the_trust_store() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = key_pair(dir.path(), "alliance");
    let (_, stranger) = key_pair(dir.path(), "stranger");
    let bundle = bundle_file(dir.path(), &key, |text| text);
    let bundle = bundle.to_str().unwrap();
    let public = public.to_str().unwrap();

    let verified = ok(&["plugin", "verify", bundle, "--key", public], dir.path());
    assert_eq!(verified["name"], "linli/markdown-pricing");
    assert_eq!(verified["world"], "pricing");
    assert_eq!(verified["signed_by"], key.public().id());
    refused(
        &[
            "plugin",
            "verify",
            bundle,
            "--key",
            stranger.to_str().unwrap(),
        ],
        dir.path(),
        "does not trust",
    );

    // The store's trust store decides when no key is given.
    let store = dir.path().join("store");
    let store = store.to_str().unwrap();
    refused(
        &["plugin", "verify", bundle, "--data-dir", store],
        dir.path(),
        "linli trust add",
    );
    let added = ok(&["trust", "add", public, "--data-dir", store], dir.path());
    assert_eq!(added["label"], "alliance");
    assert_eq!(added["added"], true);
    ok(
        &["plugin", "verify", bundle, "--data-dir", store],
        dir.path(),
    );
    let listed = ok(&["trust", "list", "--data-dir", store], dir.path());
    assert_eq!(listed[0]["key_id"], key.public().id());
    let id = key.public().id();
    ok(&["trust", "remove", &id, "--data-dir", store], dir.path());
    refused(
        &["trust", "remove", &id, "--data-dir", store],
        dir.path(),
        "not a trusted key",
    );
    refused(
        &["plugin", "verify", bundle, "--data-dir", store],
        dir.path(),
        "does not trust",
    );
    refused(
        &[
            "trust",
            "add",
            dir.path().join("alliance.key").to_str().unwrap(),
            "--data-dir",
            store,
        ],
        dir.path(),
        "secret key",
    );
}

#[test]
fn unsigned_tampered_and_lying_bundles_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = key_pair(dir.path(), "alliance");
    let public = public.to_str().unwrap();
    let verify = |bundle: &Path, reason: &str| {
        refused(
            &[
                "plugin",
                "verify",
                bundle.to_str().unwrap(),
                "--key",
                public,
            ],
            dir.path(),
            reason,
        )
    };

    // Unsigned until signed.
    let plugin = reference("markdown-pricing");
    let unsigned = Bundle::new(&manifest("markdown-pricing"), plugin.wasm.to_vec(), None).unwrap();
    let path = dir.path().join("unsigned.linli");
    std::fs::write(&path, unsigned.to_archive().unwrap()).unwrap();
    verify(&path, "not signed");
    ok(
        &[
            "plugin",
            "sign",
            path.to_str().unwrap(),
            "--key",
            "alliance.key",
        ],
        dir.path(),
    );
    ok(
        &["plugin", "verify", path.to_str().unwrap(), "--key", public],
        dir.path(),
    );

    // One byte of the component, or of the manifest, changed after signing.
    let mut tampered = Bundle::read(&std::fs::read(&path).unwrap()).unwrap();
    let middle = tampered.wasm.len() / 2;
    tampered.wasm[middle] ^= 0x01;
    std::fs::write(&path, tampered.to_archive().unwrap()).unwrap();
    verify(&path, "changed after signing");
    let mut tampered = Bundle::read(&std::fs::read(&path).unwrap()).unwrap();
    tampered.wasm[middle] ^= 0x01;
    tampered.manifest_bytes = String::from_utf8(tampered.manifest_bytes)
        .unwrap()
        .replace("version = \"0.1.0\"", "version = \"9.0.0\"")
        .into_bytes();
    std::fs::write(&path, tampered.to_archive().unwrap()).unwrap();
    verify(&path, "changed after signing");

    // Signed, but the manifest does not describe the component.
    let wrong_world = bundle_file(dir.path(), &key, |text| {
        text.replace("world = \"pricing\"", "world = \"presale\"")
            .replace(
                "name = \"linli/markdown-pricing\"",
                "name = \"linli/wrong-world\"",
            )
    });
    verify(&wrong_world, "is a `pricing` plugin, not `presale`");
    let future = bundle_file(dir.path(), &key, |text| {
        text.replace("policy = \"^0.1\"", "policy = \"^0.2\"")
            .replace(
                "name = \"linli/markdown-pricing\"",
                "name = \"linli/future\"",
            )
    });
    verify(&future, "needs linli:policy ^0.2");

    // A component using kv that its manifest does not request.
    let kv_counter = std::fs::read(hostile("kv-counter")).unwrap();
    let text = manifest("markdown-pricing").replace(
        "name = \"linli/markdown-pricing\"",
        "name = \"linli/counter\"",
    );
    let quiet = Bundle::new(&text, kv_counter.clone(), Some(&key)).unwrap();
    let path = dir.path().join("quiet.linli");
    std::fs::write(&path, quiet.to_archive().unwrap()).unwrap();
    verify(&path, "uses kv, which plugin.toml does not request");

    // Not a bundle at all, and a truncated one.
    let path = dir.path().join("junk.linli");
    std::fs::write(&path, b"PK\x03\x04 a zip file, say").unwrap();
    verify(&path, "not a bundle");
    let whole = std::fs::read(bundle_file(dir.path(), &key, |text| text)).unwrap();
    std::fs::write(&path, &whole[..whole.len() / 3]).unwrap();
    verify(&path, "not a bundle");
    verify(&dir.path().join("missing.linli"), "cannot read");
}

#[test]
fn a_scaffolded_plugin_tests_packs_and_verifies_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let (_, public) = key_pair(dir.path(), "me");
    let made = ok(
        &[
            "plugin",
            "new",
            "local-greens",
            "--world",
            "pricing",
            "--namespace",
            "green-lane",
        ],
        dir.path(),
    );
    assert_eq!(made["world"], "pricing");
    let crate_dir = dir.path().join("local-greens");
    // Builds share one target directory across runs, so only the first is slow.
    let target = linli_tests::target_dir().join("scaffold");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let tested = Command::new(&cargo)
        .args(["test", "--quiet"])
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(&crate_dir)
        .output()
        .unwrap();
    assert!(
        tested.status.success(),
        "{}{}",
        String::from_utf8_lossy(&tested.stdout),
        String::from_utf8_lossy(&tested.stderr)
    );
    let packed = Command::new(linli())
        .args(["plugin", "pack", "--key", "../me.key", "--out", ".."])
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(&crate_dir)
        .output()
        .unwrap();
    assert!(
        packed.status.success(),
        "{}",
        String::from_utf8_lossy(&packed.stderr)
    );
    let bundle = dir.path().join("green-lane-local-greens-0.1.0.linli");
    let verified = ok(
        &[
            "plugin",
            "verify",
            bundle.to_str().unwrap(),
            "--key",
            public.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(verified["name"], "green-lane/local-greens");

    // Each world's scaffold at least starts; a wrong world or an existing folder is
    // refused and writes nothing.
    for world in [
        "presale",
        "elderly-delivery",
        "recycling-points",
        "data-sharing",
    ] {
        ok(
            &["plugin", "new", &format!("p-{world}"), "--world", world],
            dir.path(),
        );
        assert!(dir.path().join(format!("p-{world}/src/lib.rs")).exists());
    }
    refused(
        &["plugin", "new", "x", "--world", "gambling"],
        dir.path(),
        "--world",
    );
    refused(
        &["plugin", "new", "local-greens", "--world", "pricing"],
        dir.path(),
        "exists",
    );
    refused(
        &["plugin", "new", "Bad_Name", "--world", "pricing"],
        dir.path(),
        "name",
    );
}

#[test]
fn every_world_scaffold_passes_its_own_tests() {
    let dir = tempfile::tempdir().unwrap();
    let target = linli_tests::target_dir().join("scaffold");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    for world in [
        "presale",
        "elderly-delivery",
        "recycling-points",
        "data-sharing",
    ] {
        let name = format!("s-{world}");
        ok(&["plugin", "new", &name, "--world", world], dir.path());
        let tested = Command::new(&cargo)
            .args(["test", "--quiet"])
            .env("CARGO_TARGET_DIR", &target)
            .current_dir(dir.path().join(&name))
            .output()
            .unwrap();
        assert!(
            tested.status.success(),
            "{world}: {}{}",
            String::from_utf8_lossy(&tested.stdout),
            String::from_utf8_lossy(&tested.stderr)
        );
    }
}
