//! Store → alliance sync with real processes: a store's outbox pushed to the real
//! `linli-registry`, an outage of the server while the store keeps selling, either side
//! killed mid-push, and pushes the server must refuse or keep once.

use linli_sdk::bundle::SecretKey;
use linli_tests::{Daemon, Publishers, Registry, free_port, linli_registry, now_ms, succeed};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const STORE: &str = "corner-shop";

/// Key `corner` registered as store `corner-shop`; `mallory`, a key of no store.
fn alliance() -> Publishers {
    let setup = Publishers::new(&[], &["corner", "mallory"]);
    let stdout = succeed(
        Command::new(linli_registry())
            .args([
                "store",
                "add",
                STORE,
                "--key",
                &setup.key_file("corner", true),
            ])
            .arg("--data-dir")
            .arg(setup.registry_data()),
    );
    let added: Value = serde_json::from_slice(&stdout).unwrap();
    assert_eq!(added["name"], STORE);
    assert_eq!(added["acked"], 0);
    setup
}

/// The stores' time zone: one where it is about noon as this test binary starts, so no
/// store day ends while the tests run. (The daemon queues each ended day's sales in the
/// outbox, and that `daily-sales` event would land among the events a test counts.)
/// `Etc/GMT-8` is UTC+8: the sign is POSIX's.
fn zone() -> &'static str {
    static ZONE: OnceLock<String> = OnceLock::new();
    ZONE.get_or_init(|| {
        let hour = jiff::Timestamp::now()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .hour();
        match 12 - i32::from(hour) {
            0 => "Etc/GMT".to_string(),
            east if east > 0 => format!("Etc/GMT-{east}"),
            west => format!("Etc/GMT+{}", -west),
        }
    })
}

/// The settings of a daemon that pushes its outbox to `server` every 200 ms as
/// `corner-shop`, and its data directory.
fn store_config(setup: &Publishers, server: &str) -> (PathBuf, PathBuf) {
    let config = setup.dir.path().join("linli.toml");
    std::fs::write(
        &config,
        format!(
            "time-zone = \"{}\"\n[sensors]\nsimulator = false\n[alliance]\nserver = \"{server}\"\nkey = \"{}\"\nstore = \"{STORE}\"\npush-interval-ms = 200\n",
            zone(),
            setup.key_file("corner", false)
        ),
    )
    .unwrap();
    (config, setup.dir.path().join("store"))
}

fn start_store(config: &Path, data: &Path) -> Daemon {
    Daemon::start_with(data, &["--config", config.to_str().unwrap()])
}

/// A daemon that pushes its outbox to `server` every 200 ms as `corner-shop`.
fn store(setup: &Publishers, server: &str) -> (Daemon, PathBuf) {
    let (config, data) = store_config(setup, server);
    (start_store(&config, &data), data)
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
        .to_zoned(jiff::tz::TimeZone::get(zone()).unwrap())
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

/// The registry's view of the store, asked with the store's key.
fn seen(registry: &Registry, setup: &Publishers) -> Value {
    let (status, stores) = registry.signed(
        "GET",
        "/v1/alliance/stores",
        Some(&setup.secret("corner")),
        b"",
    );
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
        || seen(&registry, &setup)["acked"] == 3,
    );
    let view = seen(&registry, &setup);
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
        || seen(&registry, &setup)["acked"] == 1,
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
        seen(&registry, &setup)["acked"] == 6
    });
    wait_until(
        "the store to mark everything acknowledged",
        Duration::from_secs(10),
        || pending(&daemon) == 0,
    );
    let view = seen(&registry, &setup);
    assert_eq!(view["events"], 6, "{view}");
    kept_exactly_once(&setup, &store_data, 6);
}

#[test]
fn a_server_restored_from_an_older_copy_gets_the_events_it_lost_again() {
    let setup = alliance();
    let listen = format!("127.0.0.1:{}", free_port());
    let registry = Registry::start_on(&listen, &setup.registry_data(), &[]);
    let (daemon, store_data) = store(&setup, &registry.url);
    for round in 0..2 {
        sell_and_report(&daemon, round);
    }
    wait_until("seq 2 acknowledged", Duration::from_secs(30), || {
        seen(&registry, &setup)["acked"] == 2
    });
    // The operator's nightly copy, taken with the server stopped.
    assert!(registry.stop().success());
    let backup = setup.dir.path().join("registry-backup");
    copy_dir(&setup.registry_data(), &backup);

    let registry = Registry::start_on(&listen, &setup.registry_data(), &[]);
    for round in 2..4 {
        sell_and_report(&daemon, round);
    }
    wait_until("seq 4 acknowledged", Duration::from_secs(30), || {
        seen(&registry, &setup)["acked"] == 4
    });
    wait_until("the store to mark seq 4", Duration::from_secs(10), || {
        pending(&daemon) == 0
    });

    // The server's disk is lost and the copy restored: it has seqs 1 and 2 only. The
    // store's next event shows the gap, and the store sends 3 and 4 again.
    assert!(registry.stop().success());
    std::fs::remove_dir_all(setup.registry_data()).unwrap();
    copy_dir(&backup, &setup.registry_data());
    let registry = Registry::start_on(&listen, &setup.registry_data(), &[]);
    assert_eq!(seen(&registry, &setup)["acked"], 2);
    sell_and_report(&daemon, 4);
    wait_until(
        "the lost events sent again",
        Duration::from_secs(60),
        || seen(&registry, &setup)["acked"] == 5,
    );
    wait_until(
        "the store to mark everything",
        Duration::from_secs(10),
        || pending(&daemon) == 0,
    );
    kept_exactly_once(&setup, &store_data, 5);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Every seq 1..=`written` of the store arrived at the server once, as the store wrote
/// it (kind and payload), no duplicate, no gap; and the store marked all of them
/// acknowledged. Both database files are read directly.
fn kept_exactly_once(setup: &Publishers, store_data: &Path, written: i64) {
    let arrived = events(
        &setup.registry_data().join("registry.db"),
        &format!(
            "SELECT seq, kind, payload FROM alliance_event WHERE store = '{STORE}' ORDER BY seq"
        ),
    );
    let outbox = events(
        &store_data.join("linli.db"),
        "SELECT seq, kind, payload FROM outbox ORDER BY seq",
    );
    let seqs: Vec<i64> = arrived.iter().map(|event| event.0).collect();
    if seqs != (1..=written).collect::<Vec<_>>() {
        let missing: Vec<i64> = (1..=written)
            .filter(|seq| seqs.binary_search(seq).is_err())
            .take(10)
            .collect();
        panic!(
            "the server holds {} events of {STORE}, not seqs 1..={written} once each; first missing: {missing:?}, last held: {:?}",
            seqs.len(),
            seqs.last()
        );
    }
    assert_eq!(
        outbox.len() as i64,
        written,
        "the store's outbox holds other events than the {written} the test wrote"
    );
    if let Some((store_event, server_event)) = outbox
        .iter()
        .zip(&arrived)
        .find(|(store_event, server_event)| store_event != server_event)
    {
        panic!("the server keeps {server_event:?}, but the store wrote {store_event:?}");
    }
    let unacked: i64 = rusqlite::Connection::open(store_data.join("linli.db"))
        .unwrap()
        .query_row("SELECT COUNT(*) FROM outbox WHERE acked = 0", [], |row| {
            row.get(0)
        })
        .unwrap();
    assert_eq!(
        unacked, 0,
        "the store's outbox has events it never marked acknowledged"
    );
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
    let view = seen(&registry, &setup);
    assert_eq!(
        (view["acked"].clone(), view["events"].clone()),
        (json!(4), json!(4))
    );
}

/// Which process a fault test kills mid-push.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Victim {
    Store,
    Server,
}

/// Put `backlog` events of past store days in the outbox of a stopped daemon, as
/// `daily-sales` writes them (categories with their sales, units and revenue, about 300
/// bytes each): seqs 1..=backlog.
fn seed_outbox(store_data: &Path, backlog: i64) {
    const CATEGORIES: [&str; 5] = ["bakery", "beverages", "dairy", "household", "produce"];
    let first_day = jiff::civil::date(2000, 1, 1);
    let mut conn = rusqlite::Connection::open(store_data.join("linli.db")).unwrap();
    let tx = conn.transaction().unwrap();
    {
        let mut insert = tx
            .prepare("INSERT INTO outbox (at, kind, payload) VALUES (?1, 'daily-sales', ?2)")
            .unwrap();
        for index in 0..backlog {
            let categories: Vec<Value> = CATEGORIES
                .iter()
                .enumerate()
                .map(|(rank, category)| {
                    let units = 3 + (index * 7 + rank as i64 * 13) % 90;
                    json!({"category": category, "sales": units / 2 + 1, "units": units, "revenue": units * 450})
                })
                .collect();
            let day = first_day
                .checked_add(jiff::Span::new().days(index))
                .unwrap();
            let payload = json!({"day": day.to_string(), "categories": categories});
            insert
                .execute(rusqlite::params![now_ms(), payload.to_string()])
                .unwrap();
        }
    }
    tx.commit().unwrap();
    let (first, last): (i64, i64) = conn
        .query_row("SELECT MIN(seq), MAX(seq) FROM outbox", [], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .unwrap();
    assert_eq!(
        (first, last),
        (1, backlog),
        "the daemon's first run left events in its outbox; the test seeds seqs from 1"
    );
}

/// The server's acknowledgement of the store, as its database file says (the server
/// is down).
fn acked_on_disk(setup: &Publishers) -> i64 {
    rusqlite::Connection::open(setup.registry_data().join("registry.db"))
        .unwrap()
        .query_row(
            "SELECT acked FROM alliance_store WHERE name = ?1",
            [STORE],
            |row| row.get(0),
        )
        .unwrap()
}

/// A store with `backlog` events in its outbox pushes them to the registry; `victim` is
/// SIGKILLed once the server has acknowledged a quarter of them, and started again on
/// the same data (the server on the same port). Then everything drains, each event kept
/// once. What the server had acknowledged when the kill landed; none when the kill came
/// too late to be mid-push (the drain had finished), so the caller retries with more.
fn killed_mid_push(victim: Victim, backlog: i64) -> Option<i64> {
    let setup = alliance();
    let listen = format!("127.0.0.1:{}", free_port());
    let mut registry = Registry::start_on(&listen, &setup.registry_data(), &[]);
    let (config, store_data) = store_config(&setup, &registry.url);
    // The first start makes the database; the backlog goes in while the daemon is down.
    let status = start_store(&config, &store_data).stop();
    assert!(status.success(), "the daemon's first run ended {status:?}");
    seed_outbox(&store_data, backlog);
    let mut daemon = start_store(&config, &store_data);

    // The kill lands once a quarter of the backlog is acknowledged: pushes are flowing,
    // and most of the backlog is still to go.
    let started = Instant::now();
    let mut acked = 0;
    while acked < backlog / 4 {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the server acknowledged {acked} of a backlog of {backlog} in {:?}, not a quarter",
            started.elapsed()
        );
        std::thread::sleep(Duration::from_millis(5));
        acked = seen(&registry, &setup)["acked"].as_i64().unwrap();
    }
    let acked_at_kill = match victim {
        Victim::Store => {
            daemon.kill();
            let unacked: i64 = rusqlite::Connection::open(store_data.join("linli.db"))
                .unwrap()
                .query_row("SELECT COUNT(*) FROM outbox WHERE acked = 0", [], |row| {
                    row.get(0)
                })
                .unwrap();
            let acked = seen(&registry, &setup)["acked"].as_i64().unwrap();
            if unacked == 0 || acked == backlog {
                return None;
            }
            daemon = start_store(&config, &store_data);
            acked
        }
        Victim::Server => {
            registry.kill();
            let acked = acked_on_disk(&setup);
            if acked == backlog {
                return None;
            }
            registry = Registry::start_on(&listen, &setup.registry_data(), &[]);
            acked
        }
    };
    assert!(
        0 < acked_at_kill && acked_at_kill < backlog,
        "the {victim:?} was killed mid-push: the server had {acked_at_kill} of {backlog}"
    );

    wait_until(
        &format!(
            "the server to acknowledge all {backlog} events after the {victim:?} was killed at {acked_at_kill}"
        ),
        Duration::from_secs(300),
        || seen(&registry, &setup)["acked"] == backlog,
    );
    wait_until(
        "the store to mark everything acknowledged",
        Duration::from_secs(30),
        || pending(&daemon) == 0,
    );
    let view = seen(&registry, &setup);
    assert_eq!(view["acked"], backlog, "{view}");
    assert_eq!(view["events"], backlog, "{view}");
    kept_exactly_once(&setup, &store_data, backlog);
    eprintln!(
        "{victim:?} killed with {acked_at_kill} of {backlog} acknowledged; all kept once after {:?}",
        started.elapsed()
    );
    Some(acked_at_kill)
}

/// `killed_mid_push`, with a backlog four times bigger each time the kill came after
/// the drain had finished.
fn survives_a_kill_mid_push(victim: Victim) {
    let mut backlog = 20_000;
    for _ in 0..3 {
        match killed_mid_push(victim, backlog) {
            Some(_) => return,
            None => {
                eprintln!(
                    "the {victim:?} was killed after a backlog of {backlog} had drained; again with more"
                );
                backlog *= 4;
            }
        }
    }
    panic!("the {victim:?} could not be killed mid-push: every backlog drained first");
}

#[test]
fn a_store_killed_mid_push_resends_and_nothing_is_lost_or_kept_twice() {
    survives_a_kill_mid_push(Victim::Store);
}

#[test]
fn a_server_killed_mid_apply_loses_nothing_and_keeps_nothing_twice() {
    survives_a_kill_mid_push(Victim::Server);
}

/// Each of `members` (pseudonyms) buys one `sku` at the store.
fn members_buy(daemon: &Daemon, sku: &str, members: &[String]) {
    for member in members {
        let sale = json!({
            "lines": [{"sku": sku, "qty": 1}],
            "customer": {"pseudonym": member, "elderly_or_disabled": false, "tier": "Silver"},
        });
        let (status, body) = daemon.post("/v1/checkout/commit", &sale);
        assert_eq!(status, 201, "{body}");
    }
}

fn pseudonyms(prefix: &str, count: usize) -> Vec<String> {
    (0..count)
        .map(|index| format!("{prefix}-{index}"))
        .collect()
}

/// The store's k is 5. Its data-sharing plugin is set to share groups of 2 and rounds
/// counts to 5 (its default): three customers of dairy would show as five, and pass
/// any check on that figure, at the store and at the alliance. The host counts them
/// itself, so the row stays home.
#[test]
fn a_plugin_rounding_small_groups_up_gets_none_of_them_past_the_host() {
    let setup = alliance();
    let registry = Registry::start(&setup.registry_data(), &[]);
    let (daemon, _) = store(&setup, &registry.url);
    let (status, install) = daemon.put("/v1/plugins/data-sharing/config", &json!({"k": 2}));
    assert_eq!(status, 200, "{install}");
    members_buy(&daemon, "MILK-1L", &pseudonyms("dairy", 3));
    members_buy(&daemon, "EGGS-10", &pseudonyms("fresh", 5));
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::get(zone()).unwrap())
        .date()
        .to_string();
    let (status, report) = daemon.post(
        "/v1/sharing/reports",
        &json!({"first_day": today, "last_day": today}),
    );
    assert_eq!(status, 201, "{report}");
    let categories: Vec<&str> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["category"].as_str().unwrap())
        .collect();
    assert_eq!(categories, ["fresh"], "{report}");
    assert_eq!(report["dropped_by_host"], 1, "{report}");

    let seq = report["seq"].as_i64().unwrap();
    wait_until(
        "the registry to acknowledge the report",
        Duration::from_secs(30),
        || seen(&registry, &setup)["acked"].as_i64() >= Some(seq),
    );
    let (status, seen) = registry.signed(
        "GET",
        "/v1/alliance/reports",
        Some(&setup.secret("corner")),
        b"",
    );
    assert_eq!(status, 200, "{seen}");
    let shared: Vec<&Value> = seen["reports"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|received| received["rows"].as_array().unwrap())
        .collect();
    assert!(!shared.is_empty(), "{seen}");
    assert!(
        shared.iter().all(|row| row["category"] != "dairy"),
        "three customers' dairy reached the alliance: {seen}"
    );
}

/// The store's k is 5. On one day a single customer bought household goods and five
/// bought dairy: the day's sales reach the alliance with dairy alone.
#[test]
fn a_day_s_sales_reach_the_alliance_without_categories_fewer_than_k_bought() {
    let setup = alliance();
    let registry = Registry::start(&setup.registry_data(), &[]);
    let (config, data) = store_config(&setup, &registry.url);
    let daemon = start_store(&config, &data);
    members_buy(&daemon, "TISSUE-10", &pseudonyms("household", 1));
    members_buy(&daemon, "MILK-1L", &pseudonyms("dairy", 5));
    assert!(daemon.stop().success());

    // The sales move to yesterday, and the store last queued the day before: the
    // daemon queues yesterday as it starts.
    let zone = jiff::tz::TimeZone::get(zone()).unwrap();
    let today = jiff::Timestamp::now().to_zoned(zone).date();
    let yesterday = today.yesterday().unwrap();
    let conn = rusqlite::Connection::open(data.join("linli.db")).unwrap();
    conn.execute("UPDATE sale SET at = at - 86400000", [])
        .unwrap();
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('outbox.daily-sales-through', ?1) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [yesterday.yesterday().unwrap().to_string()],
    )
    .unwrap();
    drop(conn);
    let _daemon = start_store(&config, &data);

    wait_until(
        "the day's sales to reach the alliance",
        Duration::from_secs(30),
        || seen(&registry, &setup)["acked"].as_i64() >= Some(1),
    );
    let arrived = events(
        &setup.registry_data().join("registry.db"),
        "SELECT seq, kind, payload FROM alliance_event",
    );
    let days: Vec<&Value> = arrived
        .iter()
        .filter(|(_, kind, _)| kind == "daily-sales")
        .map(|(_, _, payload)| payload)
        .collect();
    assert_eq!(days.len(), 1, "{arrived:?}");
    assert_eq!(days[0]["day"], yesterday.to_string(), "{arrived:?}");
    let categories: Vec<&str> = days[0]["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|category| category["category"].as_str().unwrap())
        .collect();
    assert_eq!(categories, ["dairy"], "{arrived:?}");
    assert_eq!(days[0]["categories"][0]["sales"], 5, "{arrived:?}");
}
