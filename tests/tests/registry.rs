//! The real `linli-registry` over HTTP, driven by the real `linli` CLI: members and
//! namespaces, publishing signed bundles, immutable versions, search, download, yank,
//! restarts, concurrent publishes, refusals, and a mirror that verifies what it serves.

use linli_sdk::bundle::{Bundle, SecretKey};
use linli_tests::{Publishers, Registry, linli, reference, workspace};
use serde_json::Value;
use std::process::Command;

/// Member `green-lane` (key `alice`, namespace `green-lane`), member `bob` (key `bob`,
/// namespace `bob`), and `mallory`, whose key no member has.
fn setup() -> Publishers {
    Publishers::new(
        &[("green-lane", "alice", "green-lane"), ("bob", "bob", "bob")],
        &["mallory"],
    )
}

fn markdown() -> &'static [u8] {
    reference("markdown-pricing").wasm
}

fn unchanged(text: String) -> String {
    text
}

/// POST raw bytes to the registry, signed by `key` at `at` (or unsigned).
fn post_signed(
    registry: &Registry,
    path: &str,
    body: &[u8],
    key: Option<&SecretKey>,
    at: i64,
) -> (u16, Value) {
    let mut request = ureq::http::Request::builder()
        .method("POST")
        .uri(format!("{}{path}", registry.url));
    if let Some(key) = key {
        request = request.header("authorization", key.sign_request("POST", path, at, body));
    }
    registry.run(request.body(body.to_vec()).unwrap())
}

fn versions(registry: &Registry, name: &str) -> Vec<(String, bool)> {
    let (status, body) = registry.get(&format!("/v1/plugins/{name}"));
    if status == 404 {
        return Vec::new();
    }
    assert_eq!(status, 200, "{body}");
    body.as_array()
        .unwrap()
        .iter()
        .map(|version| {
            (
                version["version"].as_str().unwrap().to_string(),
                version["yanked"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[test]
fn members_publish_versions_that_stores_list_download_and_owners_yank() {
    let setup = setup();
    let registry = Registry::start(&setup.registry_data(), &[]);
    let first = setup.bundle(
        "green-lane/markdown",
        "1.0.0",
        markdown(),
        Some("alice"),
        unchanged,
    );
    let second = setup.bundle(
        "green-lane/markdown",
        "1.1.0",
        markdown(),
        Some("alice"),
        unchanged,
    );
    let published = setup.publish(&registry.url, &first, "alice").unwrap();
    assert_eq!(published["version"], "1.0.0");
    setup.publish(&registry.url, &second, "alice").unwrap();

    assert_eq!(
        versions(&registry, "green-lane/markdown"),
        [("1.1.0".to_string(), false), ("1.0.0".to_string(), false)]
    );
    let (_, listed) = registry.get("/v1/plugins?q=markdown");
    assert_eq!(listed[0]["name"], "green-lane/markdown");
    assert_eq!(listed[0]["latest"], "1.1.0");
    assert_eq!(listed[0]["world"], "pricing");
    let (_, none) = registry.get("/v1/plugins?q=sauna");
    assert_eq!(none, serde_json::json!([]));

    let (status, bytes) = registry.get_bytes("/v1/plugins/green-lane/markdown/1.0.0");
    assert_eq!(status, 200);
    assert_eq!(
        bytes,
        std::fs::read(&first).unwrap(),
        "the very bytes published"
    );
    let (status, body) = registry.get("/v1/plugins/green-lane/markdown/9.9.9");
    assert_eq!(status, 404, "{body}");

    // Published versions never change.
    let err = setup.publish(&registry.url, &first, "alice").unwrap_err();
    assert!(err.contains("already published"), "{err}");

    // The owner yanks and unyanks; the newest installable version follows.
    let yank = |args: &[&str]| {
        Command::new(linli())
            .args([
                "plugin",
                "yank",
                "green-lane/markdown@1.1.0",
                "--registry",
                &registry.url,
            ])
            .args(args)
            .output()
            .unwrap()
    };
    let output = yank(&["--key", &setup.key_file("alice", false)]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let (_, listed) = registry.get("/v1/plugins");
    assert_eq!(listed[0]["latest"], "1.0.0");
    let output = yank(&["--key", &setup.key_file("bob", false)]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("only its owner"));
    let output = yank(&["--key", &setup.key_file("alice", false), "--undo"]);
    assert!(output.status.success());

    // Everything survives a restart.
    registry.stop();
    let registry = Registry::start(&setup.registry_data(), &[]);
    assert_eq!(versions(&registry, "green-lane/markdown").len(), 2);
    let (_, listed) = registry.get("/v1/plugins");
    assert_eq!(listed[0]["latest"], "1.1.0");
}

#[test]
fn publishes_that_do_not_prove_who_and_what_are_refused_and_change_nothing() {
    let setup = setup();
    let registry = Registry::start(&setup.registry_data(), &[]);
    let now = jiff::Timestamp::now().as_millisecond();
    let good = std::fs::read(setup.bundle(
        "green-lane/markdown",
        "1.0.0",
        markdown(),
        Some("alice"),
        unchanged,
    ))
    .unwrap();

    // A key that is no member's.
    let mallory = setup.secret("mallory");
    let (status, body) = post_signed(&registry, "/v1/plugins", &good, Some(&mallory), now);
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("not a member key"),
        "{body}"
    );
    // Another member's namespace.
    let (status, body) = post_signed(
        &registry,
        "/v1/plugins",
        &good,
        Some(&setup.secret("bob")),
        now,
    );
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("belongs to member green-lane"),
        "{body}"
    );
    // Signed by a key that is not the namespace owner's, sent by the owner.
    let bobs = std::fs::read(setup.bundle(
        "green-lane/markdown",
        "1.0.0",
        markdown(),
        Some("bob"),
        unchanged,
    ))
    .unwrap();
    let (status, body) = post_signed(
        &registry,
        "/v1/plugins",
        &bobs,
        Some(&setup.secret("alice")),
        now,
    );
    assert_eq!(status, 403, "{body}");
    // No signature on the request, an old one, or one over other bytes.
    let (status, _) = post_signed(&registry, "/v1/plugins", &good, None, now);
    assert_eq!(status, 401);
    let (status, body) = post_signed(
        &registry,
        "/v1/plugins",
        &good,
        Some(&setup.secret("alice")),
        now - 3_600_000,
    );
    assert_eq!(status, 401, "{body}");
    assert!(body["error"].as_str().unwrap().contains("clock"), "{body}");
    let header = setup
        .secret("alice")
        .sign_request("POST", "/v1/plugins", now, b"something else");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let response = agent
        .post(format!("{}/v1/plugins", registry.url))
        .header("authorization", &header)
        .send(&good[..])
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    // Unsigned, tampered and broken bundles.
    let unsigned =
        std::fs::read(setup.bundle("green-lane/markdown", "1.0.0", markdown(), None, unchanged))
            .unwrap();
    let (status, body) = post_signed(
        &registry,
        "/v1/plugins",
        &unsigned,
        Some(&setup.secret("alice")),
        now,
    );
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("not signed"),
        "{body}"
    );
    let mut tampered = Bundle::read(&good).unwrap();
    tampered.wasm[100] ^= 1;
    let tampered = tampered.to_archive().unwrap();
    let (status, body) = post_signed(
        &registry,
        "/v1/plugins",
        &tampered,
        Some(&setup.secret("alice")),
        now,
    );
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("changed after signing"),
        "{body}"
    );
    let (status, body) = post_signed(
        &registry,
        "/v1/plugins",
        b"not a bundle",
        Some(&setup.secret("alice")),
        now,
    );
    assert_eq!(status, 422, "{body}");
    // The CLI refuses an unsigned bundle before it uploads.
    let unsigned_file = setup.bundle("green-lane/markdown", "1.0.0", markdown(), None, unchanged);
    let err = setup
        .publish(&registry.url, &unsigned_file, "alice")
        .unwrap_err();
    assert!(err.contains("not signed"), "{err}");

    assert!(
        versions(&registry, "green-lane/markdown").is_empty(),
        "nothing was published"
    );
    let blobs = std::fs::read_dir(setup.registry_data().join("blobs"))
        .unwrap()
        .count();
    assert_eq!(blobs, 0, "no bundle file was kept");
    // The good one still goes through.
    let (status, body) = post_signed(
        &registry,
        "/v1/plugins",
        &good,
        Some(&setup.secret("alice")),
        now,
    );
    assert_eq!(status, 201, "{body}");
}

#[test]
fn of_concurrent_publishes_of_one_version_exactly_one_wins() {
    let setup = setup();
    let registry = Registry::start(&setup.registry_data(), &[]);
    // Eight different bundles claiming the same version.
    let bundles: Vec<Vec<u8>> = (0..8)
        .map(|index| {
            let manifest =
                std::fs::read_to_string(workspace().join("plugins/markdown-pricing/plugin.toml"))
                    .unwrap()
                    .replace(
                        "name = \"linli/markdown-pricing\"",
                        "name = \"green-lane/race\"",
                    )
                    .replace("Marks down", &format!("Variant {index} marks down"));
            Bundle::new(
                &manifest,
                reference("markdown-pricing").wasm.to_vec(),
                Some(&setup.secret("alice")),
            )
            .unwrap()
            .to_archive()
            .unwrap()
        })
        .collect();
    let now = jiff::Timestamp::now().as_millisecond();
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = bundles
            .iter()
            .map(|bytes| {
                scope.spawn(|| {
                    post_signed(
                        &registry,
                        "/v1/plugins",
                        bytes,
                        Some(&setup.secret("alice")),
                        now,
                    )
                    .0
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap())
            .collect()
    });
    assert_eq!(
        statuses.iter().filter(|status| **status == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|status| **status == 409).count(),
        7,
        "{statuses:?}"
    );
    let (_, bytes) = registry.get_bytes("/v1/plugins/green-lane/race/0.1.0");
    let winner = statuses.iter().position(|status| *status == 201).unwrap();
    assert_eq!(bytes, bundles[winner]);
    let blobs = std::fs::read_dir(setup.registry_data().join("blobs"))
        .unwrap()
        .count();
    assert_eq!(blobs, 1, "the losers' files are gone");
}

#[test]
fn a_mirror_serves_what_it_verified_read_only_and_follows_yanks() {
    let setup = setup();
    let origin = Registry::start(&setup.registry_data(), &[]);
    let bundle = setup.bundle(
        "green-lane/markdown",
        "1.0.0",
        markdown(),
        Some("alice"),
        unchanged,
    );
    setup.publish(&origin.url, &bundle, "alice").unwrap();
    let bundle = setup.bundle(
        "green-lane/markdown",
        "1.1.0",
        markdown(),
        Some("alice"),
        unchanged,
    );
    setup.publish(&origin.url, &bundle, "alice").unwrap();
    let mirror_dir = setup.dir.path().join("mirror");
    let mirror = Registry::start(
        &mirror_dir,
        &["--mirror", &origin.url, "--mirror-interval", "1"],
    );
    let wait_for = |what: &dyn Fn() -> bool| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !what() {
            assert!(
                std::time::Instant::now() < deadline,
                "the mirror did not catch up"
            );
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    };
    wait_for(&|| versions(&mirror, "green-lane/markdown").len() == 2);
    let (_, from_origin) = origin.get_bytes("/v1/plugins/green-lane/markdown/1.1.0");
    let (_, from_mirror) = mirror.get_bytes("/v1/plugins/green-lane/markdown/1.1.0");
    assert_eq!(from_origin, from_mirror);
    let (_, members) = mirror.get("/v1/members");
    assert!(members.to_string().contains("green-lane"), "{members}");

    // Read-only.
    let now = jiff::Timestamp::now().as_millisecond();
    let bytes = std::fs::read(setup.bundle(
        "green-lane/markdown",
        "2.0.0",
        markdown(),
        Some("alice"),
        unchanged,
    ))
    .unwrap();
    let (status, body) = post_signed(
        &mirror,
        "/v1/plugins",
        &bytes,
        Some(&setup.secret("alice")),
        now,
    );
    assert_eq!(status, 405, "{body}");
    assert!(body["error"].as_str().unwrap().contains("mirror"), "{body}");

    // A yank at the origin reaches the mirror.
    let output = Command::new(linli())
        .args([
            "plugin",
            "yank",
            "green-lane/markdown@1.1.0",
            "--registry",
            &origin.url,
            "--key",
            &setup.key_file("alice", false),
        ])
        .output()
        .unwrap();
    assert!(output.status.success());
    wait_for(&|| versions(&mirror, "green-lane/markdown").contains(&("1.1.0".to_string(), true)));
}

#[test]
fn a_version_whose_bundle_file_is_gone_answers_404_in_the_error_body() {
    let setup = setup();
    let registry = Registry::start(&setup.registry_data(), &[]);
    let bundle = setup.bundle(
        "green-lane/markdown",
        "1.0.0",
        markdown(),
        Some("alice"),
        unchanged,
    );
    let published = setup.publish(&registry.url, &bundle, "alice").unwrap();
    let sha256 = published["sha256"].as_str().unwrap();
    let file = setup
        .registry_data()
        .join("blobs")
        .join(format!("{sha256}.linli"));
    std::fs::remove_file(&file).unwrap();
    let (status, body) = registry.get("/v1/plugins/green-lane/markdown/1.0.0");
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["code"], "not_found", "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("green-lane/markdown 1.0.0"), "{body}");
    assert!(!error.contains(&file.display().to_string()), "{body}");
}

/// `linli plugin publish`: a registry that is not there is named with how to point at
/// another; a registry that answered and refused is not suspected of not running.
#[test]
fn publish_errors_hint_at_the_registry_only_when_it_did_not_answer() {
    let setup = setup();
    let bundle = setup.bundle(
        "green-lane/markdown",
        "1.0.0",
        markdown(),
        Some("alice"),
        unchanged,
    );
    let nowhere = format!("http://127.0.0.1:{}", linli_tests::free_port());
    let err = setup.publish(&nowhere, &bundle, "alice").unwrap_err();
    assert!(err.contains(&nowhere), "{err}");
    assert!(err.contains("--registry"), "{err}");
    assert!(err.contains("linli-registry serve"), "{err}");

    let registry = Registry::start(&setup.registry_data(), &[]);
    setup.publish(&registry.url, &bundle, "alice").unwrap();
    let err = setup.publish(&registry.url, &bundle, "alice").unwrap_err();
    assert!(err.contains("(409"), "{err}");
    assert!(err.contains("already published"), "{err}");
    assert!(!err.contains("running"), "{err}");
    assert!(!err.contains("--registry"), "{err}");
}

/// What axum answers on its own — a body over the limit — is the registry's JSON error
/// body too, as every route's own errors are.
#[test]
fn a_body_over_the_limit_answers_413_in_the_error_body() {
    let setup = setup();
    let registry = Registry::start(&setup.registry_data(), &[]);
    let (line, head, body) = linli_tests::raw_http(
        &registry.url,
        format!(
            "POST /v1/plugins HTTP/1.1\r\nhost: x\r\ncontent-type: application/gzip\r\n\
             content-length: {}\r\nexpect: 100-continue\r\n\r\n",
            linli_sdk::bundle::MAX_BUNDLE_BYTES + 1
        )
        .as_bytes(),
    );
    assert!(line.starts_with("HTTP/1.1 413"), "{line}");
    assert!(head.contains("content-type: application/json"), "{head}");
    let answer: Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    assert_eq!(answer["code"], "payload_too_large", "{answer}");
    assert!(!answer["error"].as_str().unwrap().is_empty(), "{answer}");
}
