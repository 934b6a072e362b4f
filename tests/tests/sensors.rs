//! Sensors through the real daemon: batches of readings, latest per device, history,
//! the cold-chain rule raising alerts that a clerk acknowledges, and bad batches that
//! change nothing.

use linli_tests::{Daemon, now_ms};
use serde_json::{Value, json};

const MINUTE: i64 = 60_000;

/// A daemon without the simulator, with a freezer of its own range and a 15-minute
/// cold-chain allowance.
fn daemon(dir: &std::path::Path) -> Daemon {
    let config = dir.join("linli.toml");
    std::fs::write(
        &config,
        r#"
[sensors]
simulator = false

[sensors.cold-chain]
min-celsius = 0.0
max-celsius = 8.0
after-minutes = 15

[sensors.cold-chain.devices.test-freezer]
min-celsius = -25.0
max-celsius = -15.0
after-minutes = 5
"#,
    )
    .unwrap();
    Daemon::start_with(&dir.join("data"), &["--config", config.to_str().unwrap()])
}

/// Temperatures of one device, a minute apart, ending a minute ago.
fn temperatures(device: &str, values: &[f64]) -> Value {
    let start = now_ms() - (values.len() as i64 + 1) * MINUTE;
    let readings: Vec<Value> = values
        .iter()
        .enumerate()
        .map(|(index, value)| {
            json!({"device": device, "kind": "temperature", "value": value, "at": start + index as i64 * MINUTE})
        })
        .collect();
    json!({ "readings": readings })
}

fn alerts(daemon: &Daemon, query: &str) -> Vec<Value> {
    let (status, body) = daemon.get(&format!("/v1/sensors/alerts{query}"));
    assert_eq!(status, 200, "{body}");
    body.as_array().unwrap().clone()
}

#[test]
fn readings_are_stored_in_batches_and_read_back_latest_and_by_range() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = daemon(dir.path());
    let now = now_ms();
    let batch = json!({"readings": [
        {"device": "shelf-3", "kind": "shelf-weight", "value": 5400.0, "at": now - 2 * MINUTE},
        {"device": "shelf-3", "kind": "shelf-weight", "value": 5100.0, "at": now - MINUTE},
        {"device": "cooler-1", "kind": "temperature", "value": 4.2, "at": now - MINUTE},
        {"device": "cooler-1", "kind": "humidity", "value": 71.5, "at": now - MINUTE},
        // Late: sent after a newer reading, it never becomes the latest.
        {"device": "shelf-3", "kind": "shelf-weight", "value": 5600.0, "at": now - 3 * MINUTE},
    ]});
    let (status, body) = daemon.post("/v1/sensors/readings", &batch);
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["stored"], 5);
    assert_eq!(body["alerts_raised"], json!([]));

    let (status, latest) = daemon.get("/v1/sensors/latest");
    assert_eq!(status, 200, "{latest}");
    let shelf = latest
        .as_array()
        .unwrap()
        .iter()
        .find(|reading| reading["device"] == "shelf-3")
        .unwrap();
    assert_eq!(shelf["value"], 5100.0);
    assert_eq!(
        latest
            .as_array()
            .unwrap()
            .iter()
            .filter(|reading| reading["device"] == "cooler-1")
            .count(),
        2,
        "one latest reading per device and kind: {latest}"
    );

    let (status, history) = daemon.get("/v1/sensors/devices/shelf-3/readings");
    assert_eq!(status, 200, "{history}");
    let values: Vec<f64> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|reading| reading["value"].as_f64().unwrap())
        .collect();
    assert_eq!(values, [5600.0, 5400.0, 5100.0], "oldest first");
    let (_, narrowed) = daemon.get(&format!(
        "/v1/sensors/devices/shelf-3/readings?from={}&to={}",
        now - 2 * MINUTE,
        now - MINUTE
    ));
    assert_eq!(narrowed.as_array().unwrap().len(), 1, "{narrowed}");
    let (_, humidity) = daemon.get("/v1/sensors/devices/cooler-1/readings?kind=humidity");
    assert_eq!(humidity.as_array().unwrap().len(), 1, "{humidity}");

    let (_, metrics) = daemon.get("/metrics");
    let metrics = metrics.as_str().unwrap();
    assert!(
        metrics.contains("linli_sensor_readings_total 5"),
        "{metrics}"
    );
}

#[test]
fn a_fridge_too_warm_for_longer_than_allowed_raises_an_alert_until_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = daemon(dir.path());
    // Ten minutes warm: within the allowance.
    let mut short = vec![4.0; 5];
    short.extend([9.5; 10]);
    short.push(5.0);
    let (status, body) = daemon.post("/v1/sensors/readings", &temperatures("fridge-a", &short));
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["alerts_raised"], json!([]));

    // Twenty minutes warm, then back in range: one alert, from the first warm reading.
    let mut long = vec![4.0; 5];
    long.extend([10.0, 11.0, 12.5, 11.0]);
    long.extend([10.0; 16]);
    long.extend([6.0, 5.0]);
    let batch = temperatures("fridge-b", &long);
    let (status, body) = daemon.post("/v1/sensors/readings", &batch);
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["alerts_raised"].as_array().unwrap().len(), 1, "{body}");
    let readings = batch["readings"].as_array().unwrap();

    let open = alerts(&daemon, "");
    assert_eq!(open.len(), 1, "{open:?}");
    let alert = &open[0];
    assert_eq!(alert["device"], "fridge-b");
    assert_eq!(alert["started_at"], readings[5]["at"]);
    assert_eq!(
        alert["raised_at"], readings[20]["at"],
        "15 minutes after the start"
    );
    assert_eq!(alert["last_at"], readings[24]["at"]);
    assert_eq!(alert["ended_at"], readings[25]["at"]);
    assert_eq!(alert["worst"], 12.5);
    assert_eq!(alert["max_celsius"], 8.0);
    assert_eq!(alert["acknowledged_at"], Value::Null);

    let (_, metrics) = daemon.get("/metrics");
    assert!(
        metrics
            .as_str()
            .unwrap()
            .contains("linli_cold_chain_alerts_open 1"),
        "{metrics}"
    );

    // The freezer has its own range and a 5-minute allowance.
    let mut freezer = vec![-18.0; 3];
    freezer.extend([-12.0; 7]);
    let (status, body) = daemon.post(
        "/v1/sensors/readings",
        &temperatures("test-freezer", &freezer),
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["alerts_raised"].as_array().unwrap().len(), 1, "{body}");
    let freezer_alert = &alerts(&daemon, "")[0];
    assert_eq!(freezer_alert["device"], "test-freezer");
    assert_eq!(freezer_alert["min_celsius"], -25.0);
    assert_eq!(freezer_alert["ended_at"], Value::Null, "still too warm");

    let id = alert["alert"].as_i64().unwrap();
    let path = format!("/v1/sensors/alerts/{id}/ack");
    let (status, body) = daemon.post(&path, &json!({"by": "  "}));
    assert_eq!(status, 422, "{body}");
    let (status, body) = daemon.post(
        &path,
        &json!({"by": "王店长", "note": "door was left open; yogurt moved to fridge-a"}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["acknowledged_by"], "王店长");
    assert!(body["acknowledged_at"].as_i64().unwrap() > 0);
    let (status, body) = daemon.post(&path, &json!({"by": "someone else"}));
    assert_eq!(status, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("王店长"), "{body}");
    let (status, body) = daemon.post("/v1/sensors/alerts/999999/ack", &json!({"by": "x"}));
    assert_eq!(status, 404, "{body}");
    let (status, body) = daemon.post("/v1/sensors/alerts/first/ack", &json!({"by": "x"}));
    assert_eq!(status, 404, "{body}");

    let open = alerts(&daemon, "");
    assert_eq!(open.len(), 1, "only the freezer's is open: {open:?}");
    assert_eq!(alerts(&daemon, "?open=false").len(), 2);

    // Alerts and readings are in the database: a restart keeps them.
    daemon.stop();
    let daemon = self::daemon(dir.path());
    assert_eq!(alerts(&daemon, "?open=false").len(), 2);
}

#[test]
fn a_bad_reading_names_itself_and_its_batch_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = daemon(dir.path());
    let now = now_ms();
    let good =
        json!({"device": "cooler-9", "kind": "temperature", "value": 3.0, "at": now - MINUTE});
    let cases = [
        (
            json!({"device": "cooler-9", "kind": "pressure", "value": 1.0, "at": now}),
            "readings[1].kind",
        ),
        (
            json!({"device": "cooler-9", "kind": "humidity", "value": 140.0, "at": now}),
            "readings[1].value",
        ),
        (
            json!({"device": "cooler 9!", "kind": "humidity", "value": 40.0, "at": now}),
            "readings[1].device",
        ),
        (
            json!({"device": "cooler-9", "kind": "temperature", "value": 3.0, "at": now + 3_600_000}),
            "readings[1].at",
        ),
        (
            json!({"device": "cooler-9", "kind": "temperature", "value": 3.0, "at": 1_000}),
            "readings[1].at",
        ),
    ];
    for (bad, field) in cases {
        let (status, body) = daemon.post("/v1/sensors/readings", &json!({"readings": [good, bad]}));
        assert_eq!(status, 422, "{bad}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains(field),
            "{field}: {body}"
        );
    }
    let (status, body) = daemon.post("/v1/sensors/readings", &json!({"readings": []}));
    assert_eq!(status, 422, "{body}");
    let (status, body) = daemon.post(
        "/v1/sensors/readings",
        &json!({"readings": [{"device": "cooler-9", "kind": "temperature", "value": "cold", "at": now}]}),
    );
    assert_eq!(status, 422, "{body}");
    let (status, body) = daemon.post_raw("/v1/sensors/readings", r#"{"readings": [{"#, true);
    assert_eq!(status, 400, "{body}");
    let (status, body) = daemon.post_raw(
        "/v1/sensors/readings",
        &json!({"readings": [good]}).to_string(),
        false,
    );
    assert_eq!(status, 401, "{body}");

    // Nothing of any refused batch was stored.
    let (status, body) = daemon.get("/v1/sensors/devices/cooler-9/readings");
    assert_eq!(status, 404, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("cooler-9"),
        "{body}"
    );
    let (_, latest) = daemon.get("/v1/sensors/latest");
    assert_eq!(latest, json!([]), "the simulator is off in this store");

    let (status, _) = daemon.post("/v1/sensors/readings", &json!({"readings": [good]}));
    assert_eq!(status, 201);
    for (query, field) in [
        ("?from=20&to=10", "from"),
        ("?limit=0", "limit"),
        ("?kind=pressure", "kind"),
        ("?since=10", "since"),
        ("?from=yesterday", "from"),
    ] {
        let (status, body) = daemon.get(&format!("/v1/sensors/devices/cooler-9/readings{query}"));
        assert_eq!(status, 400, "{query}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains(field),
            "{query}: {body}"
        );
    }
}

#[test]
fn the_simulator_feeds_the_demo_devices() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("linli.toml");
    std::fs::write(&config, "[sensors]\nsimulator-interval-ms = 200\n").unwrap();
    let daemon = Daemon::start_with(
        &dir.path().join("data"),
        &["--config", config.to_str().unwrap()],
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (_, history) = daemon.get("/v1/sensors/devices/sim-freezer-1/readings");
        if history
            .as_array()
            .is_some_and(|readings| readings.len() >= 3)
        {
            for reading in history.as_array().unwrap() {
                let celsius = reading["value"].as_f64().unwrap();
                assert!((-25.0..=-15.0).contains(&celsius), "{reading}");
            }
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no simulated readings: {history}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let (_, latest) = daemon.get("/v1/sensors/latest");
    let devices: std::collections::BTreeSet<&str> = latest
        .as_array()
        .unwrap()
        .iter()
        .map(|reading| reading["device"].as_str().unwrap())
        .collect();
    assert_eq!(
        devices.into_iter().collect::<Vec<_>>(),
        [
            "sim-freezer-1",
            "sim-fridge-1",
            "sim-fridge-2",
            "sim-produce-humidity",
            "sim-shelf-eggs"
        ]
    );
}

/// Devices posting at once: their batches may share a commit (group commit), and each
/// is still answered for itself, stored whole and checked against the rule in order.
#[test]
fn batches_posted_at_once_are_each_stored_and_answered() {
    const DEVICES: usize = 8;
    const BATCHES: usize = 10;
    const PER_BATCH: usize = 100;
    let dir = tempfile::tempdir().unwrap();
    let daemon = daemon(dir.path());
    let start = now_ms() - 2 * 60 * MINUTE;
    std::thread::scope(|scope| {
        for device in 0..DEVICES {
            let daemon = &daemon;
            scope.spawn(move || {
                // The last device is a fridge left open: 12 °C for 16 minutes.
                let value = if device == DEVICES - 1 { 12.0 } else { 4.0 };
                for batch in 0..BATCHES {
                    let readings: Vec<Value> = (0..PER_BATCH)
                        .map(|index| {
                            let second = (batch * PER_BATCH + index) as i64;
                            json!({"device": format!("fridge-{device}"), "kind": "temperature",
                                   "value": value, "at": start + second * 1000})
                        })
                        .collect();
                    let (status, body) =
                        daemon.post("/v1/sensors/readings", &json!({ "readings": readings }));
                    assert_eq!(status, 201, "{body}");
                    assert_eq!(body["stored"], PER_BATCH, "{body}");
                }
            });
        }
    });
    for device in 0..DEVICES {
        let (status, history) = daemon.get(&format!(
            "/v1/sensors/devices/fridge-{device}/readings?from={start}&to={}",
            now_ms()
        ));
        assert_eq!(status, 200, "{history}");
        assert_eq!(history.as_array().unwrap().len(), BATCHES * PER_BATCH);
    }
    let open = alerts(&daemon, "");
    let devices: Vec<&str> = open
        .iter()
        .map(|alert| alert["device"].as_str().unwrap())
        .collect();
    assert_eq!(devices, [format!("fridge-{}", DEVICES - 1)], "{open:?}");
    let (_, metrics) = daemon.get("/metrics");
    let total = format!(
        "linli_sensor_readings_total {}",
        DEVICES * BATCHES * PER_BATCH
    );
    assert!(metrics.as_str().unwrap().contains(&total), "{metrics}");
}
