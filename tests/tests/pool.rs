//! The alliance's shared stock pool with real processes: two store daemons 2 km apart
//! and a third 30 km off, the real `linli-registry` between them. An offer travels
//! through the outbox, a nearby store finds it, asks for units twice, the offering store
//! accepts once and the same units are refused the second time; both stores record the
//! transfer as a stock movement of the batch, and the batch trace follows it across.

use linli_tests::{Daemon, Publishers, Registry, linli_registry, now_ms, succeed};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Stores, their keys and where they are: `market` is 2 km north of `corner`, `far`
/// 30 km off.
const STORES: [(&str, f64, f64); 3] = [
    ("corner", 31.2304, 121.4737),
    ("market", 31.2484, 121.4737),
    ("far", 31.5004, 121.4737),
];

/// `linli-registry ARGS --data-dir DIR`, which must succeed: its JSON output.
fn registry_cli(data: &Path, args: &[&str]) -> Value {
    let output = succeed(
        Command::new(linli_registry())
            .args(args)
            .arg("--data-dir")
            .arg(data),
    );
    serde_json::from_slice(&output).unwrap()
}

/// Every store registered with its key and location.
fn alliance() -> Publishers {
    stores_of(Publishers::new(&[], &["corner", "market", "far"]))
}

/// `setup` with every store registered with its key (named as the store) and location.
fn stores_of(setup: Publishers) -> Publishers {
    for (name, lat, lon) in STORES {
        let added = registry_cli(
            &setup.registry_data(),
            &[
                "store",
                "add",
                name,
                "--key",
                &setup.key_file(name, true),
                "--lat",
                &lat.to_string(),
                "--lon",
                &lon.to_string(),
            ],
        );
        assert_eq!(added["latitude"], lat, "{added}");
    }
    setup
}

/// A store daemon syncing with `server` every 200 ms.
fn store(setup: &Publishers, name: &str, server: &str) -> Daemon {
    let config = setup.dir.path().join(format!("{name}.toml"));
    std::fs::write(
        &config,
        format!(
            "time-zone = \"UTC\"\n[sensors]\nsimulator = false\n[alliance]\nserver = \"{server}\"\nkey = \"{}\"\nstore = \"{name}\"\npush-interval-ms = 200\n",
            setup.key_file(name, false)
        ),
    )
    .unwrap();
    Daemon::start_with(
        &setup.dir.path().join(name),
        &["--config", config.to_str().unwrap()],
    )
}

fn wait_for(what: &str, mut found: impl FnMut() -> Option<Value>) -> Value {
    let started = Instant::now();
    loop {
        if let Some(value) = found() {
            return value;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "waited 30 s for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn on_hand(daemon: &Daemon, batch: &str) -> Value {
    let (status, trace) = daemon.get(&format!("/v1/trace/batches/{batch}"));
    assert_eq!(status, 200, "{trace}");
    trace["batch"]["qty_on_hand"].clone()
}

#[test]
fn an_offer_is_found_nearby_accepted_once_and_recorded_on_both_sides() {
    let setup = alliance();
    let registry = Registry::start(&setup.registry_data(), &[]);
    let corner = store(&setup, "corner", &registry.url);
    let market = store(&setup, "market", &registry.url);
    let far = store(&setup, "far", &registry.url);

    // The market has surplus eggs and offers 10 of its new batch.
    let expires = linli_tests::now_ms() + 5 * 86_400_000;
    let (status, batch) = market.post(
        "/v1/inventory/deliveries",
        &json!({"sku": "EGGS-10", "batch": "EGG-LOT-77", "qty": 24, "expires_at": expires, "supplier": "farm"}),
    );
    assert_eq!(status, 201, "{batch}");
    let (status, refused) = market.post(
        "/v1/pool/offers",
        &json!({"batch": "EGG-LOT-77", "qty": 25}),
    );
    assert_eq!(status, 409, "more than on hand: {refused}");
    assert!(
        refused["error"].as_str().unwrap().contains("24 on hand"),
        "{refused}"
    );
    let (status, offer) = market.post(
        "/v1/pool/offers",
        &json!({"batch": "EGG-LOT-77", "qty": 10}),
    );
    assert_eq!(status, 201, "{offer}");
    let offer_id = offer["offer"].as_str().unwrap().to_string();
    let (_, offers) = market.get("/v1/pool/offers");
    assert_eq!(offers[0]["offer"], offer_id.as_str(), "{offers}");

    // The corner store, 2 km away, finds it once the market's push carried it; the far
    // store does not within 5 km, but does within 50.
    let found = wait_for("the offer to reach the alliance", || {
        let (status, found) = corner.get("/v1/pool/search?sku=EGGS-10&radius_km=5");
        assert_eq!(status, 200, "{found}");
        (found.as_array().unwrap().len() == 1).then_some(found)
    });
    assert_eq!(found[0]["store"], "market", "{found}");
    assert_eq!(found[0]["batch"], "EGG-LOT-77", "{found}");
    assert_eq!(found[0]["available"], 10, "{found}");
    assert_eq!(found[0]["expires_at"], expires, "{found}");
    let distance = found[0]["distance_km"].as_f64().unwrap();
    assert!((1.9..2.1).contains(&distance), "{found}");
    let (_, near_far) = far.get("/v1/pool/search?sku=EGGS-10&radius_km=5");
    assert_eq!(near_far, json!([]), "30 km is outside 5 km");
    let (_, wide) = far.get("/v1/pool/search?sku=EGGS-10&radius_km=50");
    assert_eq!(wide.as_array().unwrap().len(), 1, "{wide}");
    // Out of its range, as every query parameter: 400, before the alliance is asked.
    let (status, bad) = corner.get("/v1/pool/search?radius_km=0");
    assert_eq!(status, 400, "{bad}");
    assert!(
        bad["error"].as_str().unwrap().contains("radius_km"),
        "{bad}"
    );

    // The corner asks for 6, and the far store asks for 6 of the same 10.
    let ask = json!({"store": "market", "offer": offer_id, "qty": 6});
    let (status, first) = corner.post("/v1/pool/transfers", &ask);
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["state"], "proposed", "{first}");
    let (status, second) = far.post("/v1/pool/transfers", &ask);
    assert_eq!(status, 201, "{second}");
    let (status, greedy) = corner.post(
        "/v1/pool/transfers",
        &json!({"store": "market", "offer": offer_id, "qty": 11}),
    );
    assert_eq!(status, 409, "{greedy}");

    // Both wait for the market, as it (signed) and the operator see it.
    let (status, pending) = registry.signed(
        "GET",
        "/v1/alliance/transfers?state=proposed",
        Some(&setup.secret("market")),
        b"",
    );
    assert_eq!(status, 200, "{pending}");
    assert_eq!(pending.as_array().unwrap().len(), 2, "{pending}");
    let listed = registry_cli(
        &setup.registry_data(),
        &["transfers", "--state", "proposed"],
    );
    assert_eq!(listed, pending);

    // Only the offering store decides; the market sees what waits for it.
    let (status, not_mine) = corner.post(
        &format!("/v1/pool/transfers/{}/accept", first["transfer"]),
        &json!({}),
    );
    assert_eq!(status, 422, "{not_mine}");
    let (status, waiting) = market.get("/v1/pool/transfers?state=proposed");
    assert_eq!(status, 200, "{waiting}");
    assert_eq!(waiting.as_array().unwrap().len(), 2, "{waiting}");

    let accept = |transfer: &Value| {
        market.post(
            &format!("/v1/pool/transfers/{}/accept", transfer["transfer"]),
            &json!({}),
        )
    };
    let (status, accepted) = accept(&first);
    assert_eq!(status, 200, "{accepted}");
    assert_eq!(accepted["transfer"]["state"], "accepted", "{accepted}");
    assert_eq!(accepted["recorded"]["direction"], "out", "{accepted}");
    assert_eq!(accepted["recorded"]["qty"], 6, "{accepted}");
    assert_eq!(on_hand(&market, "EGG-LOT-77"), 18);
    // The same units cannot be accepted twice: 4 are left for the far store's 6.
    let (status, refused) = accept(&second);
    assert_eq!(status, 409, "{refused}");
    assert!(
        refused["error"].as_str().unwrap().contains("4 left"),
        "{refused}"
    );
    // A retried accept (a lost answer) moves nothing again.
    let (status, again) = accept(&first);
    assert_eq!(status, 200, "{again}");
    assert_eq!(on_hand(&market, "EGG-LOT-77"), 18);
    let (status, declined) = market.post(
        &format!("/v1/pool/transfers/{}/decline", second["transfer"]),
        &json!({}),
    );
    assert_eq!(status, 200, "{declined}");
    assert_eq!(declined["state"], "declined", "{declined}");

    // The corner records the units as they arrive, as a batch of the same code.
    let trace = wait_for("the corner store to record the transfer", || {
        let (status, trace) = corner.get("/v1/trace/batches/EGG-LOT-77");
        (status == 200).then_some(trace)
    });
    assert_eq!(trace["batch"]["qty_on_hand"], 6, "{trace}");
    assert_eq!(trace["batch"]["sku"], "EGGS-10", "{trace}");
    assert_eq!(trace["batch"]["expires_at"], expires, "{trace}");
    assert_eq!(trace["batch"]["supplier"], "alliance:market", "{trace}");
    let arrived = &trace["transfers"][0];
    assert_eq!(arrived["reason"], "transfer-in", "{trace}");
    assert_eq!(arrived["delta"], 6, "{trace}");
    assert!(
        arrived["reference"]
            .as_str()
            .unwrap()
            .contains("from market batch EGG-LOT-77"),
        "{trace}"
    );
    let (_, sent) = market.get("/v1/trace/batches/EGG-LOT-77");
    let left = &sent["transfers"][0];
    assert_eq!(left["reason"], "transfer-out", "{sent}");
    assert_eq!(left["delta"], -6, "{sent}");
    assert!(
        left["reference"].as_str().unwrap().contains("to corner"),
        "{sent}"
    );
    // Recorded once each side, whatever the pulls that followed.
    std::thread::sleep(Duration::from_millis(600));
    let (_, trace) = corner.get("/v1/trace/batches/EGG-LOT-77");
    assert_eq!(trace["transfers"].as_array().unwrap().len(), 1, "{trace}");
    assert_eq!(on_hand(&market, "EGG-LOT-77"), 18);
    let (_, transfers) = corner.get("/v1/pool/transfers?state=accepted");
    assert_eq!(transfers[0]["recorded"]["direction"], "in", "{transfers}");
    // The arrived units sell at the corner like its own.
    let (status, sale) = corner.post(
        "/v1/checkout/commit",
        &json!({"lines": [{"sku": "EGGS-10", "qty": 1}]}),
    );
    assert_eq!(status, 201, "{sale}");

    // Withdrawn, the offer's last 4 units are no longer found, and a proposal made
    // before is not accepted, even while the alliance has not heard of it yet.
    let (status, before) = far.post(
        "/v1/pool/transfers",
        &json!({"store": "market", "offer": offer_id, "qty": 1}),
    );
    assert_eq!(status, 201, "{before}");
    let (status, withdrawn) =
        market.post(&format!("/v1/pool/offers/{offer_id}/withdraw"), &json!({}));
    assert_eq!(status, 200, "{withdrawn}");
    assert!(withdrawn["withdrawn_at"].as_i64().is_some(), "{withdrawn}");
    let (status, refused) = accept(&before);
    assert_eq!(status, 409, "{refused}");
    assert!(
        refused["error"].as_str().unwrap().contains("withdrawn"),
        "{refused}"
    );
    wait_for("the withdrawal to reach the alliance", || {
        let (_, found) = corner.get("/v1/pool/search?sku=EGGS-10");
        (found == json!([])).then_some(found)
    });
    let (status, late) = far.post(
        "/v1/pool/transfers",
        &json!({"store": "market", "offer": offer_id, "qty": 1}),
    );
    assert_eq!(status, 409, "{late}");
    assert!(
        late["error"].as_str().unwrap().contains("withdrawn"),
        "{late}"
    );
}

#[test]
fn the_pool_says_what_it_needs_when_the_alliance_is_off_or_away() {
    let setup = alliance();
    let registry = Registry::start(&setup.registry_data(), &[]);
    let corner = store(&setup, "corner", &registry.url);
    let (status, found) = corner.get("/v1/pool/search?sku=EGGS-10");
    assert_eq!(status, 200, "{found}");

    // The server goes away: the pool says so, the till keeps working, and an offer
    // waits in the outbox.
    assert!(registry.stop().success());
    let (status, away) = corner.get("/v1/pool/search?sku=EGGS-10");
    assert_eq!(status, 502, "{away}");
    let message = away["error"].as_str().unwrap();
    assert!(
        message.contains("alliance server") && message.contains("try again"),
        "{away}"
    );
    let (status, sale) = corner.post(
        "/v1/checkout/commit",
        &json!({"lines": [{"sku": "MILK-1L", "qty": 1}]}),
    );
    assert_eq!(status, 201, "{sale}");
    let (_, stock) = corner.get("/v1/inventory/skus/MILK-1L");
    let batch = stock["batches"][0]["batch"].as_str().unwrap().to_string();
    let (status, offer) = corner.post("/v1/pool/offers", &json!({"batch": batch, "qty": 1}));
    assert_eq!(status, 201, "{offer}");

    // A store without [alliance] has no pool to ask.
    let lone = Daemon::start(&setup.dir.path().join("lone"));
    let (status, off) = lone.get("/v1/pool/search");
    assert_eq!(status, 503, "{off}");
    assert!(
        off["error"].as_str().unwrap().contains("[alliance]"),
        "{off}"
    );
    let (status, off) = lone.post(
        "/v1/pool/transfers",
        &json!({"store": "market", "offer": "1", "qty": 1}),
    );
    assert_eq!(status, 503, "{off}");
}

#[test]
fn the_operator_sees_shared_figures_never_below_k() {
    let setup = alliance();
    let registry = Registry::start(&setup.registry_data(), &["--k", "3"]);
    let corner = store(&setup, "corner", &registry.url);
    // Five members buy milk today; one of them also buys eggs.
    for index in 0..5 {
        let mut lines = vec![json!({"sku": "MILK-1L", "qty": 1})];
        if index == 0 {
            lines.push(json!({"sku": "EGGS-10", "qty": 1}));
        }
        let (status, sale) = corner.post(
            "/v1/checkout/commit",
            &json!({"lines": lines, "customer": {"pseudonym": format!("m-{index}"), "elderly_or_disabled": false, "tier": "Silver"}}),
        );
        assert_eq!(status, 201, "{sale}");
    }
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .to_string();
    let (status, report) = corner.post(
        "/v1/sharing/reports",
        &json!({"first_day": today, "last_day": today}),
    );
    assert_eq!(status, 201, "{report}");
    let seen = wait_for("the report to reach the alliance", || {
        let (status, seen) = registry.signed(
            "GET",
            "/v1/alliance/reports",
            Some(&setup.secret("corner")),
            b"",
        );
        assert_eq!(status, 200, "{seen}");
        (!seen["reports"].as_array().unwrap().is_empty()).then_some(seen)
    });
    assert_eq!(seen["k"], 3, "{seen}");
    let received = &seen["reports"][0];
    assert_eq!(received["store"], "corner", "{seen}");
    let rows = received["rows"].as_array().unwrap();
    assert!(!rows.is_empty(), "{seen}");
    assert!(
        rows.iter()
            .all(|row| row["customers"].as_u64().unwrap() >= 3),
        "{seen}"
    );
    assert_eq!(
        registry_cli(&setup.registry_data(), &["reports", "--k", "3"]),
        seen
    );
}

/// The alliance's stores, transfers and shared figures answer a request signed by a
/// member or a store, and nobody else; a store sees its own transfers only.
#[test]
fn the_alliance_s_data_answers_only_its_members_and_stores() {
    let setup = stores_of(Publishers::new(
        &[("green-lane", "alice", "green-lane")],
        &["corner", "market", "far", "mallory"],
    ));
    let registry = Registry::start(&setup.registry_data(), &[]);
    let [corner, market, far, alice, mallory] =
        ["corner", "market", "far", "alice", "mallory"].map(|key| setup.secret(key));

    // The market offers eggs (pushed as its outbox would), the corner asks for one.
    let offer = json!({"offer": "1", "sku": "EGGS-10", "name": "eggs", "category": "fresh",
        "unit_price": 1500, "batch": "B1", "qty": 10, "expires_at": null});
    let push = json!({"store": "market", "events": [
        {"seq": 1, "kind": "stock-offer", "at": now_ms(), "payload": offer}]});
    let push = push.to_string().into_bytes();
    let (status, acked) = registry.signed("POST", "/v1/alliance/events", Some(&market), &push);
    assert_eq!(status, 200, "{acked}");
    let ask = json!({"store": "market", "offer": "1", "qty": 1})
        .to_string()
        .into_bytes();
    let (status, proposed) = registry.signed("POST", "/v1/alliance/transfers", Some(&corner), &ask);
    assert_eq!(status, 201, "{proposed}");

    let routes = [
        "/v1/alliance/stores",
        "/v1/alliance/reports",
        "/v1/alliance/transfers",
        "/v1/alliance/transfers?store=corner&state=proposed",
    ];
    for path in routes {
        for (who, key) in [("nobody", None), ("an unknown key", Some(&mallory))] {
            let (status, body) = registry.signed("GET", path, key, b"");
            assert_eq!(status, 401, "{path} by {who}: {body}");
            assert_eq!(body["code"], "unauthorized", "{path} by {who}: {body}");
            assert!(body["error"].as_str().is_some(), "{path} by {who}: {body}");
        }
        for (who, key) in [("a member", &alice), ("a store", &corner)] {
            let (status, body) = registry.signed("GET", path, Some(key), b"");
            assert_eq!(status, 200, "{path} by {who}: {body}");
        }
    }
    // A signature is good for its path only.
    let for_reports = alice.sign_request("GET", "/v1/alliance/reports", now_ms(), b"");
    let request = ureq::http::Request::builder()
        .uri(format!("{}/v1/alliance/stores", registry.url))
        .header("authorization", for_reports)
        .body(Vec::new())
        .unwrap();
    let (status, body) = registry.run(request);
    assert_eq!(status, 401, "{body}");

    let transfers = |key, path: &str| -> Vec<i64> {
        let (status, body) = registry.signed("GET", path, Some(key), b"");
        assert_eq!(status, 200, "{path}: {body}");
        body.as_array()
            .unwrap()
            .iter()
            .map(|transfer| transfer["transfer"].as_i64().unwrap())
            .collect()
    };
    let id = proposed["transfer"].as_i64().unwrap();
    assert_eq!(transfers(&corner, "/v1/alliance/transfers"), [id]);
    assert_eq!(
        transfers(&market, "/v1/alliance/transfers?store=market"),
        [id]
    );
    assert_eq!(transfers(&far, "/v1/alliance/transfers"), Vec::<i64>::new());
    assert_eq!(transfers(&alice, "/v1/alliance/transfers"), [id]);
    assert_eq!(
        transfers(&alice, "/v1/alliance/transfers?store=far"),
        Vec::<i64>::new()
    );
    let (status, body) = registry.signed(
        "GET",
        "/v1/alliance/transfers?store=market",
        Some(&far),
        b"",
    );
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["code"], "forbidden", "{body}");

    // What is not there is a 404 in the error body, never a failure of the server.
    let (status, body) = registry.signed(
        "POST",
        "/v1/alliance/transfers/abc/accept",
        Some(&market),
        b"",
    );
    assert_eq!(
        (status, &body["code"]),
        (404, &json!("not_found")),
        "{body}"
    );
    let (status, body) = registry.signed(
        "POST",
        "/v1/alliance/transfers/999/accept",
        Some(&market),
        b"",
    );
    assert_eq!(
        (status, &body["code"]),
        (404, &json!("not_found")),
        "{body}"
    );
    let (status, body) = registry.signed("DELETE", "/v1/alliance/stores", Some(&alice), b"");
    assert_eq!(
        (status, &body["code"]),
        (405, &json!("method_not_allowed")),
        "{body}"
    );
}
