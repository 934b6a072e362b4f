//! Store → alliance sync with real processes: a store's outbox pushed to the real
//! `linli-registry`, an outage of the server while the store keeps selling, and pushes
//! the server must refuse or keep once.

use linli_sdk::bundle::SecretKey;
use linli_tests::{Daemon, Publishers, Registry, free_port, linli_registry, now_ms};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const STORE: &str = "corner-shop";

/// Key `corner` registered as store `corner-shop`; `mallory`, a key of no store.
fn alliance() -> Publishers {
    let setup = Publishers::new(&[], &["corner", "mallory"]);
    let output = Command::new(linli_registry())
        .args([
            "store",
            "add",
            STORE,
            "--key",
            &setup.key_file("corner", true),
        ])
        .arg("--data-dir")
        .arg(setup.registry_data())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let added: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(added["name"], STORE);
    assert_eq!(added["acked"], 0);
    setup
}

/// A daemon that pushes its outbox to `server` every 200 ms as `corner-shop`.
fn store(setup: &Publishers, server: &str) -> (Daemon, PathBuf) {
    let config = setup.dir.path().join("linli.toml");
    std::fs::write(
        &config,
        format!(
            "time-zone = \"UTC\"\n[sensors]\nsimulator = false\n[alliance]\nserver = \"{server}\"\nkey = \"{}\"\nstore = \"{STORE}\"\npush-interval-ms = 200\n",
            setup.key_file("corner", false)
        ),
    )
    .unwrap();
    let data = setup.dir.path().join("store");
    let daemon = Daemon::start_with(&data, &["--config", config.to_str().unwrap()]);
    (daemon, data)
}

/// Two member sales and a data-sharing report of today: the report's seq.
fn sell_and_report(daemon: &Daemon, round: usize) -> i64 {
    for index in 0..2 {
        let sale = json!({
            "lines": [{"sku": "MILK-1L", "qty": 1}],
            "customer": {"pseudonym": format!("m-{round}-{index}"), "elderly_or_disabled": false, "tier": "Silver"},
        });
        let (status, body) = daemon.post("/v1/checkout/commit", &sale);
        assert_eq!(status, 201, "{body}");
    }
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .to_string();
    let (status, report) = daemon.post(
        "/v1/sharing/reports",
        &json!({"first_day": today, "last_day": today}),
    );
    assert_eq!(status, 201, "{report}");
    report["seq"].as_i64().unwrap()
}

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < timeout, "waited {timeout:?} for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The registry's view of the store.
fn seen(registry: &Registry) -> Value {
    let (status, stores) = registry.get("/v1/alliance/stores");
    assert_eq!(status, 200, "{stores}");
    stores
        .as_array()
        .unwrap()
        .iter()
        .find(|store| store["name"] == STORE)
        .cloned()
        .unwrap_or_else(|| panic!("{STORE} missing: {stores}"))
}

fn pending(daemon: &Daemon) -> i64 {
    let text = ureq::get(format!("{}/metrics", daemon.url))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix("linli_outbox_pending "))
        .expect("/metrics shows linli_outbox_pending")
        .parse()
        .unwrap()
}

/// (seq, kind, payload) of every event of the store, read from a database file.
fn events(db: &Path, sql: &str) -> Vec<(i64, String, Value)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.prepare(sql)
        .unwrap()
        .query_map([], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
            ))
        })
        .unwrap()
        .map(|row| {
            let (seq, kind, payload) = row.unwrap();
            (seq, kind, serde_json::from_str(&payload).unwrap())
        })
        .collect()
}

#[test]
fn a_registered_store_pushes_its_reports_and_marks_them_acknowledged() {
    let setup = alliance();
    let registry = Registry::start(&setup.registry_data(), &[]);
    let (daemon, _) = store(&setup, &registry.url);
    let seqs: Vec<i64> = (0..3)
        .map(|round| sell_and_report(&daemon, round))
        .collect();
    assert_eq!(
        seqs,
        [1, 2, 3],
        "the outbox numbers events from 1, without gaps"
    );

    wait_until(
        "the registry to acknowledge seq 3",
        Duration::from_secs(30),
        || seen(&registry)["acked"] == 3,
    );
    let view = seen(&registry);
    assert_eq!(view["events"], 3, "{view}");
    assert!(view["pushed_at"].as_i64().is_some(), "{view}");
    assert_eq!(
        view["key_id"],
        setup.secret("corner").public().id(),
        "{view}"
    );
    wait_until(
        "the store to mark its reports acknowledged",
        Duration::from_secs(10),
        || {
            let (_, reports) = daemon.get("/v1/sharing/reports");
            reports
                .as_array()
                .unwrap()
                .iter()
                .all(|report| report["acked"] == true)
        },
    );
    assert_eq!(pending(&daemon), 0);
}

#[test]
fn the_outbox_drains_after_an_outage_with_every_event_kept_exactly_once() {
    let setup = alliance();
    let listen = format!("127.0.0.1:{}", free_port());
    let registry = Registry::start_on(&listen, &setup.registry_data(), &[]);
    let (daemon, store_data) = store(&setup, &registry.url);
    assert_eq!(sell_and_report(&daemon, 0), 1);
    wait_until(
        "the first report acknowledged",
        Duration::from_secs(30),
        || seen(&registry)["acked"] == 1,
    );

    // The server goes away; the store keeps selling and reporting, all answered.
    assert!(registry.stop().success());
    let started = Instant::now();
    for round in 1..=5 {
        sell_and_report(&daemon, round);
    }
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "local flows do not wait on the alliance: {:?}",
        started.elapsed()
    );
    assert_eq!(pending(&daemon), 5);
    // Long enough for several failed pushes and a growing backoff.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        pending(&daemon),
        5,
        "nothing is acknowledged while the server is down"
    );

    let registry = Registry::start_on(&listen, &setup.registry_data(), &[]);
    wait_until("the outbox to drain", Duration::from_secs(90), || {
        seen(&registry)["acked"] == 6
    });
    wait_until(
        "the store to mark everything acknowledged",
        Duration::from_secs(10),
        || pending(&daemon) == 0,
    );
    let view = seen(&registry);
    assert_eq!(view["events"], 6, "{view}");

    // Every seq arrived once, as the store wrote it: no duplicate, no gap.
    let arrived = events(
        &setup.registry_data().join("registry.db"),
        &format!(
            "SELECT seq, kind, payload FROM alliance_event WHERE store = '{STORE}' ORDER BY seq"
        ),
    );
    let written = events(
        &store_data.join("linli.db"),
        "SELECT seq, kind, payload FROM outbox ORDER BY seq",
    );
    assert_eq!(
        arrived.iter().map(|event| event.0).collect::<Vec<_>>(),
        (1..=6).collect::<Vec<_>>()
    );
    assert_eq!(arrived, written);
}

/// A push of `events` for `store`, signed by `key` at `at`, with `body` as sent (the
/// signature over `signed`).
fn push(registry: &Registry, key: &SecretKey, at: i64, signed: &[u8], body: &[u8]) -> (u16, Value) {
    let path = "/v1/alliance/events";
    let request = ureq::http::Request::builder()
        .method("POST")
        .uri(format!("{}{path}", registry.url))
        .header("authorization", key.sign_request("POST", path, at, signed))
        .header("content-type", "application/json")
        .body(body.to_vec())
        .unwrap();
    registry.run(request)
}

fn batch(store: &str, seqs: &[i64]) -> Vec<u8> {
    let events: Vec<Value> = seqs
        .iter()
        .map(|seq| json!({"seq": seq, "kind": "sharing-report", "at": now_ms(), "payload": {"rows": []}}))
        .collect();
    json!({"store": store, "events": events})
        .to_string()
        .into_bytes()
}

fn stored(setup: &Publishers) -> i64 {
    let conn = rusqlite::Connection::open(setup.registry_data().join("registry.db")).unwrap();
    conn.query_row("SELECT COUNT(*) FROM alliance_event", [], |row| row.get(0))
        .unwrap()
}

#[test]
fn forged_and_foreign_pushes_are_refused_and_a_replayed_one_is_kept_once() {
    let setup = alliance();
    let registry = Registry::start(&setup.registry_data(), &[]);
    let corner = setup.secret("corner");
    let mallory = setup.secret("mallory");
    let body = batch(STORE, &[1, 2]);

    // A key that is no store's.
    let (status, answer) = push(&registry, &mallory, now_ms(), &body, &body);
    assert_eq!(status, 401, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("no store's key"),
        "{answer}"
    );
    // The store's key, but the signature is over another body.
    let other = batch(STORE, &[1, 2, 3]);
    let (status, answer) = push(&registry, &corner, now_ms(), &other, &body);
    assert_eq!(status, 401, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("does not match"),
        "{answer}"
    );
    // Signed long ago.
    let (status, answer) = push(&registry, &corner, now_ms() - 10 * 60_000, &body, &body);
    assert_eq!(status, 401, "{answer}");
    // Another store's batch under this store's key.
    let foreign = batch("market-hall", &[1]);
    let (status, answer) = push(&registry, &corner, now_ms(), &foreign, &foreign);
    assert_eq!(status, 403, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("market-hall"),
        "{answer}"
    );
    assert_eq!(stored(&setup), 0, "nothing refused is stored");

    // The same signed request twice: stored once, the same answer.
    let at = now_ms();
    let (status, first) = push(&registry, &corner, at, &body, &body);
    assert_eq!(status, 200, "{first}");
    assert_eq!(first, json!({"acked": 2}));
    let (status, again) = push(&registry, &corner, at, &body, &body);
    assert_eq!(status, 200, "{again}");
    assert_eq!(again, first);
    assert_eq!(stored(&setup), 2);

    // Seq 4 is kept but not acknowledged while 3 is missing.
    let gap = batch(STORE, &[4]);
    let (_, answer) = push(&registry, &corner, now_ms(), &gap, &gap);
    assert_eq!(answer, json!({"acked": 2}));
    let three = batch(STORE, &[3]);
    let (_, answer) = push(&registry, &corner, now_ms(), &three, &three);
    assert_eq!(answer, json!({"acked": 4}));
    let view = seen(&registry);
    assert_eq!(
        (view["acked"].clone(), view["events"].clone()),
        (json!(4), json!(4))
    );
}
