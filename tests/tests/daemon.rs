//! The real `linli daemon` over HTTP: start-up, checkout, inventory, trace, plugins,
//! bad input, and no acknowledged sale lost to a SIGKILL.

use linli_tests::{Daemon, now_ms};
use serde_json::{Value, json};

fn basket(lines: &[(&str, u32)]) -> Value {
    let lines: Vec<Value> = lines
        .iter()
        .map(|(sku, qty)| json!({"sku": sku, "qty": qty}))
        .collect();
    json!({ "lines": lines })
}

fn on_hand(daemon: &Daemon, sku: &str) -> u64 {
    let (status, body) = daemon.get(&format!("/v1/inventory/skus/{sku}"));
    assert_eq!(status, 200, "{body}");
    body["on_hand"].as_u64().unwrap()
}

#[test]
fn first_start_makes_and_prints_a_token_once_and_restarts_keep_it() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path());
    assert!(
        daemon.startup_stderr.contains(&daemon.token),
        "{}",
        daemon.startup_stderr
    );
    let token = daemon.token.clone();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("admin-token"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let (status, body) = daemon.get("/healthz");
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    let (_, plugins) = daemon.get("/v1/plugins");
    assert_eq!(plugins.as_array().unwrap().len(), 5, "{plugins}");
    assert!(daemon.stop().success(), "SIGTERM is a clean exit");

    let again = Daemon::start(dir.path());
    assert_eq!(again.token, token);
    assert!(!again.startup_stderr.contains(&token), "printed only once");
    let (_, skus) = again.get("/v1/inventory/skus");
    assert!(
        skus.as_array().unwrap().len() >= 30,
        "the demo catalogue is seeded once"
    );
}

#[test]
fn a_sale_is_priced_by_the_pipeline_recorded_and_takes_stock_fifo() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path());
    let (status, sku) = daemon.get("/v1/inventory/skus/EGGS-10");
    assert_eq!(status, 200);
    let oldest = sku["batches"][0]["batch"].as_str().unwrap().to_string();
    let in_oldest = sku["batches"][0]["qty_on_hand"].as_u64().unwrap() as u32;
    let before = on_hand(&daemon, "EGGS-10");

    let elderly = json!({"pseudonym": "p-4411", "elderly_or_disabled": true, "tier": "Silver"});
    let mut request = basket(&[("EGGS-10", in_oldest + 1), ("RICE-5KG", 1)]);
    request["customer"] = elderly;
    let (status, quote) = daemon.post_raw("/v1/checkout/quote", &request.to_string(), false);
    assert_eq!(status, 200, "quoting needs no token: {quote}");
    // The eggs span two batches: the oldest first.
    assert_eq!(quote["lines"][0]["batch"], oldest.as_str());
    assert_eq!(quote["lines"][0]["qty"], in_oldest);
    assert_eq!(quote["lines"][1]["qty"], 1);
    assert!(
        quote["total"].as_i64() < quote["shelf_total"].as_i64(),
        "care discount: {quote}"
    );
    let trail = quote["adjustments"].as_array().unwrap();
    assert!(
        trail
            .iter()
            .all(|entry| entry["install"] == "markdown-pricing"
                && entry["reason"].as_str().is_some())
    );
    assert_eq!(on_hand(&daemon, "EGGS-10"), before, "a quote takes nothing");

    let (status, sale) = daemon.post("/v1/checkout/commit", &request);
    assert_eq!(status, 201, "{sale}");
    assert_eq!(sale["total"], quote["total"]);
    assert_eq!(
        on_hand(&daemon, "EGGS-10"),
        before - u64::from(in_oldest) - 1
    );
    let (status, receipt) = daemon.get(&format!("/v1/checkout/sales/{}", sale["sale"]));
    assert_eq!(status, 200);
    assert_eq!(receipt["total"], sale["total"]);
    assert_eq!(
        receipt["adjustments"].as_array().unwrap().len(),
        trail.len()
    );

    let (status, trace) = daemon.get(&format!("/v1/trace/batches/{oldest}"));
    assert_eq!(status, 200, "{trace}");
    assert_eq!(trace["units_sold"], in_oldest);
    assert_eq!(trace["notify"], json!(["p-4411"]));
    let reasons: Vec<&str> = trace["movements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["received", "sold"]);

    let (status, metrics) = daemon.get("/metrics");
    assert_eq!(status, 200);
    let metrics = metrics.as_str().unwrap();
    assert!(
        metrics.contains(
            r#"linli_http_requests_total{method="POST",route="/v1/checkout/commit",status="201"} 1"#
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"route="/v1/trace/batches/{batch}""#),
        "routes, not raw paths: {metrics}"
    );
    assert!(
        metrics
            .contains(r#"linli_plugin_calls_total{install="markdown-pricing",world="pricing"} 2"#),
        "{metrics}"
    );
    assert!(
        metrics.contains("linli_http_request_duration_seconds_bucket"),
        "{metrics}"
    );
}

#[test]
fn bad_requests_name_what_is_wrong_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path());
    let before = on_hand(&daemon, "MILK-1L");

    let (status, body) = daemon.post("/v1/checkout/commit", &basket(&[("MILK-1L", 10_000)]));
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["code"], "conflict", "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("MILK-1L"),
        "{body}"
    );
    let (status, body) = daemon.post(
        "/v1/checkout/commit",
        &basket(&[("MILK-1L", 1), ("NO-SUCH", 1)]),
    );
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["code"], "not_found", "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("lines[1].sku"),
        "{body}"
    );
    let (status, body) = daemon.post("/v1/checkout/commit", &basket(&[("MILK-1L", 0)]));
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "unprocessable", "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("lines[0].qty"),
        "{body}"
    );
    let (status, body) = daemon.post("/v1/checkout/commit", &basket(&[]));
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "unprocessable", "{body}");
    let (status, body) = daemon.post_raw(
        "/v1/checkout/commit",
        r#"{"lines": [{"sku": "MILK-1L", "qty": "two"}]}"#,
        true,
    );
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "unprocessable", "{body}");
    assert!(body["error"].as_str().unwrap().contains("qty"), "{body}");
    let (status, body) = daemon.post_raw("/v1/checkout/commit", r#"{"lines": [{"sku": "#, true);
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "bad_request", "{body}");
    let (status, body) = daemon.post_raw(
        "/v1/checkout/commit",
        &basket(&[("MILK-1L", 1)]).to_string(),
        false,
    );
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["code"], "unauthorized", "{body}");
    assert!(body["error"].as_str().unwrap().contains("Bearer"), "{body}");
    let (status, body) = daemon.get("/v1/nothing-here");
    assert_eq!(status, 404);
    assert_eq!(body["code"], "not_found", "{body}");
    let (status, body) = daemon.get("/v1/trace/batches/NOPE-1");
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["code"], "not_found", "{body}");

    assert_eq!(
        on_hand(&daemon, "MILK-1L"),
        before,
        "no request left half-written state"
    );
}

#[test]
fn deliveries_add_batches_and_a_batch_is_received_once() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path());
    let before = on_hand(&daemon, "TOFU-500G");
    let delivery = json!({"sku": "TOFU-500G", "qty": 24, "batch": "TOFU-LOCAL-0001", "supplier": "豆腐坊", "expires_at": 4_102_444_800_000i64});
    let (status, batch) = daemon.post("/v1/inventory/deliveries", &delivery);
    assert_eq!(status, 201, "{batch}");
    assert_eq!(on_hand(&daemon, "TOFU-500G"), before + 24);
    let (status, body) = daemon.post("/v1/inventory/deliveries", &delivery);
    assert_eq!(status, 409, "{body}");
    let expired = json!({"sku": "TOFU-500G", "qty": 5, "expires_at": 1_000});
    let (status, body) = daemon.post("/v1/inventory/deliveries", &expired);
    assert_eq!(status, 422, "{body}");
    assert!(body["error"].as_str().unwrap().contains("expires_at"));

    // Six go to a neighbouring store, two are written off; the trace shows both.
    let movements = "/v1/inventory/batches/TOFU-LOCAL-0001/movements";
    let (status, moved) = daemon.post(
        movements,
        &json!({"kind": "transfer-out", "qty": 6, "to": "store-0712", "note": "stock pool"}),
    );
    assert_eq!(status, 201, "{moved}");
    assert_eq!(moved["qty_on_hand"], 18);
    let (status, moved) = daemon.post(
        movements,
        &json!({"kind": "write-off", "qty": 2, "note": "crushed box"}),
    );
    assert_eq!(status, 201, "{moved}");
    assert_eq!(on_hand(&daemon, "TOFU-500G"), before + 16);
    for (bad, status_wanted, field) in [
        (json!({"kind": "transfer-out", "qty": 1}), 422, "to"),
        (json!({"kind": "write-off", "qty": 1, "to": "x"}), 422, "to"),
        (json!({"kind": "write-off", "qty": 0}), 422, "qty"),
        (json!({"kind": "write-off", "qty": 99}), 409, "qty"),
        (json!({"kind": "gift", "qty": 1}), 422, "kind"),
    ] {
        let (status, body) = daemon.post(movements, &bad);
        assert_eq!(status, status_wanted, "{bad}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains(field),
            "{bad}: {body}"
        );
    }
    let (status, body) = daemon.post(
        "/v1/inventory/batches/NO-SUCH/movements",
        &json!({"kind": "write-off", "qty": 1}),
    );
    assert_eq!(status, 404, "{body}");
    assert_eq!(
        on_hand(&daemon, "TOFU-500G"),
        before + 16,
        "refusals moved nothing"
    );

    let (status, trace) = daemon.get("/v1/trace/batches/TOFU-LOCAL-0001");
    assert_eq!(status, 200, "{trace}");
    let reasons: Vec<&str> = trace["movements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|movement| movement["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["received", "transfer-out", "write-off"]);
    assert_eq!(trace["transfers"].as_array().unwrap().len(), 1, "{trace}");
    assert_eq!(trace["transfers"][0]["delta"], -6);
    assert_eq!(
        trace["transfers"][0]["reference"],
        "to store-0712: stock pool"
    );
}

#[test]
fn disabling_the_pricing_plugin_takes_it_out_of_the_pipeline_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path());
    let mut request = basket(&[("RICE-5KG", 1)]);
    request["customer"] = json!({"pseudonym": "p-1", "elderly_or_disabled": true, "tier": "None"});
    let (_, quote) = daemon.post("/v1/checkout/quote", &request);
    assert!(!quote["adjustments"].as_array().unwrap().is_empty());
    let (status, install) = daemon.post("/v1/plugins/markdown-pricing/disable", &json!({}));
    assert_eq!(status, 200, "{install}");
    assert_eq!(install["enabled"], false);
    let (_, quote) = daemon.post("/v1/checkout/quote", &request);
    assert!(
        quote["adjustments"].as_array().unwrap().is_empty(),
        "{quote}"
    );
    assert_eq!(quote["total"], 3990);
    let (status, _) = daemon.post("/v1/plugins/no-such-plugin/disable", &json!({}));
    assert_eq!(status, 404);
    drop(daemon);

    let daemon = Daemon::start(dir.path());
    let (_, plugins) = daemon.get("/v1/plugins");
    let markdown = plugins
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "markdown-pricing")
        .unwrap()
        .clone();
    assert_eq!(markdown["enabled"], false, "the owner's choice is kept");
}

#[test]
fn sigkill_during_a_write_load_loses_no_acknowledged_sale() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path());
    let acknowledged = std::sync::Mutex::new(Vec::new());
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        for sku in ["WATER-550", "SOAP-BAR", "SALT-LOW"] {
            let (daemon, acknowledged, stop) = (&daemon, &acknowledged, &stop);
            scope.spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let (status, sale) = daemon.post("/v1/checkout/commit", &basket(&[(sku, 1)]));
                    if status == 409 {
                        break; // sold out
                    }
                    assert_eq!(status, 201, "{sale}");
                    acknowledged
                        .lock()
                        .unwrap()
                        .push(sale["sale"].as_i64().unwrap());
                }
            });
        }
        while acknowledged.lock().unwrap().len() < 30 {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    let acknowledged = acknowledged.into_inner().unwrap();
    // Kill with writes possibly still in flight from the last requests.
    daemon.kill();

    let daemon = Daemon::start(dir.path());
    for sale in &acknowledged {
        let (status, receipt) = daemon.get(&format!("/v1/checkout/sales/{sale}"));
        assert_eq!(status, 200, "acknowledged sale {sale} lost: {receipt}");
    }
    assert!(acknowledged.len() >= 30);
}

#[test]
fn box_returns_earn_refunds_and_points_that_redeem_as_discounts() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path());
    let customer = json!({"pseudonym": "p-box-7", "elderly_or_disabled": false, "tier": "Basic"});
    let returned =
        json!({"customer": customer, "kind": "DepositBox", "count": 2, "condition": "Good"});
    let (status, entry) = daemon.post("/v1/recycling/returns", &returned);
    assert_eq!(status, 201, "{entry}");
    assert_eq!(entry["refund"], 2000, "10 yuan per box");
    let earned = entry["points"].as_i64().unwrap();
    assert!(earned > 0);
    assert_eq!(entry["balance"], earned);
    assert_eq!(entry["install"], "recycling-points");

    let packaging =
        json!({"customer": customer, "kind": "Packaging", "count": 60, "condition": "Good"});
    let (_, entry) = daemon.post("/v1/recycling/returns", &packaging);
    let balance = entry["balance"].as_i64().unwrap();
    assert!(balance > earned);

    let too_much = json!({"customer": customer, "requested": balance + 1, "basket_total": 10_000});
    let (status, body) = daemon.post("/v1/recycling/redemptions", &too_much);
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains(&balance.to_string()),
        "{body}"
    );

    let spend = json!({"customer": customer, "requested": 100, "basket_total": 10_000});
    let (status, entry) = daemon.post("/v1/recycling/redemptions", &spend);
    assert_eq!(status, 201, "{entry}");
    assert_eq!(entry["points"], -100);
    assert_eq!(entry["discount"], 100, "100 points buy one yuan");
    let (status, account) = daemon.get("/v1/recycling/accounts/p-box-7");
    assert_eq!(status, 200);
    assert_eq!(account["balance"], balance - 100);
    assert_eq!(account["entries"].as_array().unwrap().len(), 3);

    let (status, body) = daemon.post(
        "/v1/recycling/returns",
        &json!({"customer": customer, "kind": "Bottle", "count": 1, "condition": "Good"}),
    );
    assert_eq!(status, 422, "{body}");
    assert!(body["error"].as_str().unwrap().contains("kind"), "{body}");
    let (status, _) = daemon.post_raw("/v1/recycling/returns", &returned.to_string(), false);
    assert_eq!(status, 401);
}

#[test]
fn a_presale_campaign_collects_pre_orders_and_the_plugin_decides_at_close() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path());
    let now = now_ms();
    let day = 86_400_000i64;
    let too_soon = json!({"campaign": "straw-1", "sku": "STRAWBERRY-2KG", "supplier": "青山农场", "deadline": now + 2 * day, "min_qty": 5});
    let (status, body) = daemon.post("/v1/presale/campaigns", &too_soon);
    assert_eq!(status, 422, "{body}");
    assert!(body["error"].as_str().unwrap().contains("3 days"), "{body}");

    let opening = json!({"campaign": "straw-1", "sku": "STRAWBERRY-2KG", "supplier": "青山农场", "deadline": now + 4 * day, "min_qty": 5, "weekly_volume": 20});
    let (status, campaign) = daemon.post("/v1/presale/campaigns", &opening);
    assert_eq!(status, 201, "{campaign}");
    let (status, _) = daemon.post("/v1/presale/campaigns", &opening);
    assert_eq!(status, 409, "a campaign id is used once");

    for (customer, qty) in [("p-a", 2), ("p-b", 1)] {
        let (status, body) = daemon.post(
            "/v1/presale/campaigns/straw-1/orders",
            &json!({"customer": customer, "qty": qty}),
        );
        assert_eq!(status, 201, "{body}");
    }
    // Short of the minimum, before the deadline: keep collecting, nothing changes.
    let (status, closed) = daemon.post("/v1/presale/campaigns/straw-1/close", &json!({}));
    assert_eq!(status, 200, "{closed}");
    assert_eq!(closed["evaluation"]["decision"], "Wait");
    assert_eq!(closed["campaign"]["status"], "open");

    let (_, campaign) = daemon.post(
        "/v1/presale/campaigns/straw-1/orders",
        &json!({"customer": "p-c", "qty": 4}),
    );
    let cancelled = campaign["orders"][1]["preorder"].as_i64().unwrap();
    let (status, campaign) = daemon.post(
        &format!("/v1/presale/orders/{cancelled}/cancel"),
        &json!({}),
    );
    assert_eq!(status, 200, "{campaign}");
    assert_eq!(campaign["preordered_qty"], 6);

    let (status, closed) = daemon.post("/v1/presale/campaigns/straw-1/close", &json!({}));
    assert_eq!(status, 200, "{closed}");
    assert_eq!(closed["evaluation"]["decision"], "Go");
    assert!(closed["evaluation"]["supplier_qty"].as_u64().unwrap() >= 6);
    assert_eq!(
        closed["evaluation"]["meets_share_rule"], true,
        "6 of 20 a week is 30%"
    );
    assert_eq!(closed["install"], "presale-threshold");
    let statuses: Vec<&str> = closed["campaign"]["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["confirmed", "cancelled", "confirmed"],
        "pre-orders are notified of the decision"
    );

    let (status, body) = daemon.post(
        "/v1/presale/campaigns/straw-1/orders",
        &json!({"customer": "p-d", "qty": 1}),
    );
    assert_eq!(status, 409, "{body}");
    let (status, _) = daemon.get("/v1/presale/campaigns/nope");
    assert_eq!(status, 404);
}

#[test]
fn deliveries_are_planned_by_the_plugin_and_emergencies_come_first() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path());
    let now = now_ms();
    let minute = 60_000i64;
    let elderly = json!({"pseudonym": "p-grandma-3", "elderly_or_disabled": true, "tier": "Basic"});
    let routine = json!({
        "delivery": "d-routine", "customer": elderly,
        "items": [{"sku": "RICE-5KG", "qty": 1}, {"sku": "OIL-5L", "qty": 1}],
        "distance_m": 2400, "window_start": now + 180 * minute, "window_end": now + 240 * minute,
        "couriers": [{"id": "c-1", "free_at": now}]
    });
    let (status, planned) = daemon.post("/v1/delivery/requests", &routine);
    assert_eq!(status, 201, "{planned}");
    assert!(planned["plan"]["fee"].as_i64().unwrap() > 0);
    assert_eq!(planned["plan"]["meets_emergency_promise"], Value::Null);

    // Far, with the only courier busy for 40 minutes: the promise cannot be met, and the
    // plan says so.
    let emergency = json!({
        "delivery": "d-urgent", "customer": elderly, "emergency": true,
        "items": [{"sku": "WATER-550", "qty": 6}],
        "distance_m": 3000, "window_start": now, "window_end": now + 30 * minute,
        "couriers": [{"id": "c-1", "free_at": now + 40 * minute}]
    });
    let (status, planned) = daemon.post("/v1/delivery/requests", &emergency);
    assert_eq!(status, 201, "{planned}");
    assert_eq!(planned["plan"]["meets_emergency_promise"], false);
    assert!(!planned["plan"]["notes"].as_array().unwrap().is_empty());

    let (status, listed) = daemon.get("/v1/delivery/requests");
    assert_eq!(status, 200);
    let order: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["delivery"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["d-urgent", "d-routine"], "emergencies first");

    let (status, _) = daemon.post("/v1/delivery/requests/d-urgent/delivered", &json!({}));
    assert_eq!(status, 204);
    let (status, _) = daemon.post("/v1/delivery/requests/d-urgent/delivered", &json!({}));
    assert_eq!(status, 409);
    let (_, listed) = daemon.get("/v1/delivery/requests");
    assert_eq!(listed.as_array().unwrap().len(), 1);

    let too_far = json!({
        "delivery": "d-far", "customer": elderly, "items": [{"sku": "RICE-5KG", "qty": 1}],
        "distance_m": 9000, "window_start": now, "window_end": now + 60 * minute, "couriers": []
    });
    let (status, body) = daemon.post("/v1/delivery/requests", &too_far);
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("elderly-delivery refused"),
        "{body}"
    );
    let (status, _) = daemon.post("/v1/delivery/requests", &routine);
    assert_eq!(status, 409, "an id is used once");
}

/// A checkout customer: a pseudonym with a member card, or a care card.
fn customer(pseudonym: &str, elderly: bool) -> Value {
    json!({"pseudonym": pseudonym, "elderly_or_disabled": elderly, "tier": if elderly { "None" } else { "Silver" }})
}

#[test]
fn a_data_sharing_report_keeps_only_groups_of_k_customers_and_waits_in_the_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("linli.toml");
    std::fs::write(&config, "time-zone = \"UTC\"\n[sharing]\nk = 5\n").unwrap();
    let data = dir.path().join("data");
    let daemon = Daemon::start_with(&data, &["--config", config.to_str().unwrap()]);
    // Six members buy dairy; two care-card holders buy fresh food.
    for index in 0..6 {
        let mut sale = basket(&[("MILK-1L", 1)]);
        sale["customer"] = customer(&format!("m-{index}"), false);
        let (status, body) = daemon.post("/v1/checkout/commit", &sale);
        assert_eq!(status, 201, "{body}");
    }
    for index in 0..2 {
        let mut sale = basket(&[("TOFU-500G", 2)]);
        sale["customer"] = customer(&format!("e-{index}"), true);
        let (status, body) = daemon.post("/v1/checkout/commit", &sale);
        assert_eq!(status, 201, "{body}");
    }
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .to_string();
    let wanted = json!({"first_day": today, "last_day": today});

    let (status, report) = daemon.post("/v1/sharing/reports", &wanted);
    assert_eq!(status, 201, "{report}");
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{report}");
    assert_eq!(rows[0]["category"], "dairy");
    assert_eq!(rows[0]["cohort"], "member");
    assert_eq!(
        rows[0]["customers"], 5,
        "six, rounded to five by the plugin"
    );
    assert_eq!(
        report["suppressed"], 1,
        "the two care-card holders: {report}"
    );
    assert_eq!(report["dropped_by_host"], 0);
    assert_eq!(report["k"], 5);
    assert_eq!(report["install"], "data-sharing");

    // A plugin set to share small groups does not get them past the host.
    let (status, install) = daemon.put(
        "/v1/plugins/data-sharing/config",
        &json!({"k": 2, "round-to": 1}),
    );
    assert_eq!(status, 200, "{install}");
    assert_eq!(install["config"], json!({"k": "2", "round-to": "1"}));
    let (status, report) = daemon.post("/v1/sharing/reports", &wanted);
    assert_eq!(status, 201, "{report}");
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{report}");
    assert_eq!(rows[0]["customers"], 6);
    assert_eq!(report["dropped_by_host"], 1, "{report}");
    assert_eq!(report["suppressed"], 1);

    for (bad, field) in [
        (
            json!({"first_day": "2026-13-01", "last_day": today}),
            "first_day",
        ),
        (
            json!({"first_day": today, "last_day": "2020-01-01"}),
            "last_day",
        ),
        (
            json!({"first_day": "2026-01-01", "last_day": "2026-12-31"}),
            "last_day",
        ),
        (json!({"first_day": today}), "last_day"),
    ] {
        let (status, body) = daemon.post("/v1/sharing/reports", &bad);
        assert_eq!(status, 422, "{bad}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains(field),
            "{field}: {body}"
        );
    }
    // A setting the plugin would refuse is refused when it is set, naming it and what
    // it takes; the plugin goes on building reports with the settings it had.
    let (status, body) = daemon.put("/v1/plugins/data-sharing/config", &json!({"k": 1}));
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("`k`: 1 is not from 2"),
        "{body}"
    );
    let (status, body) = daemon.put(
        "/v1/plugins/data-sharing/config",
        &json!({"granularity": "month"}),
    );
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("one of week, day"),
        "{body}"
    );
    let (status, body) = daemon.post("/v1/sharing/reports", &wanted);
    assert_eq!(status, 201, "{body}");

    let (status, queued) = daemon.get("/v1/sharing/reports");
    assert_eq!(status, 200, "{queued}");
    let queued = queued.as_array().unwrap();
    assert_eq!(queued.len(), 3, "{queued:?}");
    assert!(
        queued[0]["seq"].as_i64() > queued[1]["seq"].as_i64(),
        "newest first"
    );
    assert_eq!(queued[0]["acked"], false);
    drop(daemon);
    // The outbox rows are in the store for sync to send, and nothing else is there.
    let conn = rusqlite::Connection::open(data.join("linli.db")).unwrap();
    let kinds: Vec<String> = conn
        .prepare("SELECT kind FROM outbox ORDER BY seq")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(kinds, ["sharing-report"; 3]);
}

#[test]
fn plugin_settings_and_pipeline_order_are_changed_over_http_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path());
    let (status, body) = daemon.put(
        "/v1/plugins/markdown-pricing/config",
        &json!({"last-hours": 8, "floor.MILK-1L": 500, "categories": "dairy,bakery"}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["config"]["last-hours"], "8");
    for (settings, field) in [
        (json!({"tiers": [1, 2]}), "tiers"),
        (json!({"": "x"}), "setting name"),
        (json!({"long": "x".repeat(2000)}), "long"),
        // What the plugin's manifest declares: its settings, their types and ranges.
        (
            json!({"elderly-percent": -50}),
            "`elderly-percent`: -50 is not from 0 to 100",
        ),
        (json!({"last-hours": "eight"}), "not an integer"),
        (json!({"floor.EGGS-10": -1}), "at least 0"),
        (
            json!({"near-expiry-hours": 48}),
            "not a setting of linli/markdown-pricing",
        ),
    ] {
        let (status, body) = daemon.put("/v1/plugins/markdown-pricing/config", &settings);
        assert_eq!(status, 422, "{settings}: {body}");
        assert!(body["error"].as_str().unwrap().contains(field), "{body}");
    }
    let (status, _) = daemon.put("/v1/plugins/nope/config", &json!({}));
    assert_eq!(status, 404);

    let (status, body) = daemon.put(
        "/v1/pipelines/pricing/order",
        &json!({"installs": ["markdown-pricing"]}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body[0]["id"], "markdown-pricing");
    for order in [
        json!({"installs": ["markdown-pricing", "markdown-pricing"]}),
        json!({"installs": []}),
        json!({"installs": ["presale-threshold"]}),
    ] {
        let (status, body) = daemon.put("/v1/pipelines/pricing/order", &order);
        assert_eq!(status, 422, "{order}: {body}");
    }
    let (status, body) = daemon.put("/v1/pipelines/gambling/order", &json!({"installs": []}));
    assert_eq!(status, 404, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("pricing"),
        "{body}"
    );

    daemon.stop();
    let daemon = Daemon::start(dir.path());
    let (_, plugins) = daemon.get("/v1/plugins");
    let markdown = plugins
        .as_array()
        .unwrap()
        .iter()
        .find(|install| install["id"] == "markdown-pricing")
        .unwrap();
    assert_eq!(
        markdown["config"],
        json!({"categories": "dairy,bakery", "floor.MILK-1L": "500", "last-hours": "8"})
    );
}

#[test]
fn a_config_file_replaces_the_defaults_and_a_bad_one_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("linli.toml");
    std::fs::write(
        &config,
        "demo = false\nbreaker-threshold = 2\n[limits]\nfuel = 5000000\n[sensors]\nsimulator = false\n",
    )
    .unwrap();
    let daemon = Daemon::start_with(
        &dir.path().join("data"),
        &["--config", config.to_str().unwrap()],
    );
    let (status, skus) = daemon.get("/v1/inventory/skus");
    assert_eq!(status, 200);
    assert_eq!(skus, json!([]), "demo = false: an empty catalogue");
    drop(daemon);

    for (text, named) in [
        ("listen = 7878\n", "listen"),
        ("colour = \"red\"\n", "colour"),
        (
            "[sensors.cold-chain]\nmin-celsius = 9.0\nmax-celsius = 2.0\n",
            "min-celsius",
        ),
        ("[sharing]\nk = 1\n", "sharing.k"),
        ("time-zone = \"Mars/Olympus\"\n", "time-zone"),
    ] {
        std::fs::write(&config, text).unwrap();
        let output = std::process::Command::new(linli_tests::linli())
            .args(["daemon", "--listen", "127.0.0.1:0", "--config"])
            .arg(&config)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{text}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(config.to_str().unwrap()) && stderr.contains(named),
            "{text}: {stderr}"
        );
    }
    let missing = dir.path().join("missing.toml");
    let output = std::process::Command::new(linli_tests::linli())
        .args(["daemon", "--config"])
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("missing.toml"));

    let help = std::process::Command::new(linli_tests::linli())
        .args(["daemon", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for setting in [
        "--config",
        "--listen",
        "--data-dir",
        "--log-json",
        "cold-chain",
        "sharing",
    ] {
        assert!(help.contains(setting), "{setting} in: {help}");
    }
}

#[test]
fn json_logs_are_one_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with(dir.path(), &["--log-json"]);
    let log_lines: Vec<&str> = daemon
        .startup_stderr
        .lines()
        .filter(|line| line.starts_with('{'))
        .collect();
    assert!(
        log_lines.iter().any(|line| line.contains("serving")),
        "{}",
        daemon.startup_stderr
    );
    for line in log_lines {
        let entry: Value = serde_json::from_str(line).unwrap();
        assert!(
            entry["level"].is_string() && entry["fields"].is_object(),
            "{line}"
        );
    }
}

#[test]
fn sigterm_finishes_the_request_in_flight_then_exits_cleanly() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path());
    let before = on_hand(&daemon, "MILK-1L");
    let body = basket(&[("MILK-1L", 1)]).to_string();
    let address = daemon.url.trim_start_matches("http://").to_string();
    let mut stream = std::net::TcpStream::connect(&address).unwrap();
    // The request arrives, but only half of its body.
    let (head, tail) = body.split_at(body.len() / 2);
    write!(
        stream,
        "POST /v1/checkout/commit HTTP/1.1\r\nhost: {address}\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{head}",
        daemon.token,
        body.len()
    )
    .unwrap();
    stream.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let pid = daemon.pid().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    // The daemon waits for the request it is serving.
    stream.write_all(tail.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    let status = daemon.stop();
    assert!(status.success(), "{status:?}");

    let daemon = Daemon::start(dir.path());
    assert_eq!(on_hand(&daemon, "MILK-1L"), before - 1);
}

/// One HTTP/1.1 request on an open connection; the head of the answer (status line and
/// headers, lower-cased) and its body.
fn exchange(stream: &mut std::net::TcpStream, request: &str) -> (String, String) {
    use std::io::{BufRead, BufReader, Read, Write};
    stream.write_all(request.as_bytes()).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut head = String::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        head.push_str(&line.to_lowercase());
    }
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .map(|value| value.trim().parse().unwrap())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    (head, String::from_utf8(body).unwrap())
}

#[test]
fn an_answer_sent_before_the_body_was_read_says_the_connection_closes() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path());
    let address = daemon.url.trim_start_matches("http://").to_string();
    let basket = r#"{"lines":[{"sku":"MILK-1L","qty":1}]}"#;
    let post = |path: &str, token: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nhost: {address}\r\ncontent-type: application/json\r\n{token}content-length: {}\r\n\r\n{basket}",
            basket.len()
        )
    };

    // A quote reads its body: the connection stays open for the next request.
    let mut stream = std::net::TcpStream::connect(&address).unwrap();
    let (head, body) = exchange(&mut stream, &post("/v1/checkout/quote", ""));
    assert!(head.starts_with("http/1.1 200"), "{head}{body}");
    assert!(!head.contains("connection: close"), "{head}");
    let (head, _) = exchange(
        &mut stream,
        &format!("GET /healthz HTTP/1.1\r\nhost: {address}\r\n\r\n"),
    );
    assert!(head.starts_with("http/1.1 200"), "{head}");

    // Refused for its token before its body was read: the answer says so.
    let (head, body) = exchange(&mut stream, &post("/v1/checkout/commit", ""));
    assert!(head.starts_with("http/1.1 401"), "{head}{body}");
    assert!(head.contains("connection: close"), "{head}");
    // With the token, the same request is read and sold, on a fresh connection.
    let mut stream = std::net::TcpStream::connect(&address).unwrap();
    let bearer = format!("authorization: Bearer {}\r\n", daemon.token);
    let (head, body) = exchange(&mut stream, &post("/v1/checkout/commit", &bearer));
    assert!(head.starts_with("http/1.1 201"), "{head}{body}");
    assert!(!head.contains("connection: close"), "{head}");
}

#[test]
fn a_sigterm_as_soon_as_the_daemon_says_it_listens_is_a_clean_exit() {
    // The signal used to be listened for only once the server was first polled, just
    // after the ready line: a SIGTERM in between killed the process (status 143). A few
    // starts, each stopped the moment it is ready, make that window show.
    let dir = tempfile::tempdir().unwrap();
    for start in 1..=5 {
        let status = Daemon::start(dir.path()).stop();
        assert!(status.success(), "start {start}: {status:?}");
    }
}

/// An error answer is JSON of the promised shape, with this code.
fn assert_json_error(what: &str, content_type: &str, body: &Value, code: &str) {
    assert!(
        content_type.starts_with("application/json"),
        "{what}: content-type {content_type:?}, body {body}"
    );
    assert_eq!(body["code"], code, "{what}: {body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|error| !error.is_empty()),
        "{what}: {body}"
    );
}

#[test]
fn every_error_is_json_with_its_code_whoever_refused_the_request() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path());
    let token = format!("Bearer {}", daemon.token);

    // Path parameters that are no number, or no UTF-8.
    let request = daemon
        .request("POST", "/v1/pool/transfers/9223372036854775808/accept")
        .header("authorization", &token)
        .body(Vec::new())
        .unwrap();
    let (status, content_type, body) = daemon.run(request);
    assert_eq!(status, 404, "{body}");
    assert_json_error("an i64 too large", &content_type, &body, "not_found");
    for path in [
        "/v1/checkout/sales/x",
        "/v1/checkout/sales/99999999999999999999",
    ] {
        let (status, content_type, body) =
            daemon.run(daemon.request("GET", path).body(Vec::new()).unwrap());
        assert_eq!(status, 404, "{path}: {body}");
        assert_json_error(path, &content_type, &body, "not_found");
    }
    for path in ["/v1/inventory/skus/%FF", "/v1/trace/batches/%C3%28"] {
        let (status, content_type, body) =
            daemon.run(daemon.request("GET", path).body(Vec::new()).unwrap());
        assert_eq!(status, 400, "{path}: {body}");
        assert_json_error(path, &content_type, &body, "bad_request");
    }

    // A method a route does not take, on open and on guarded routes: JSON and `Allow`.
    for (method, path, allowed) in [
        ("PUT", "/v1/checkout/quote", "POST"),
        ("DELETE", "/v1/checkout/commit", "POST"),
        ("PATCH", "/v1/presale/campaigns", "GET,HEAD,POST"),
        ("POST", "/healthz", "GET,HEAD"),
    ] {
        let request = daemon.request(method, path).body(Vec::new()).unwrap();
        let (status, content_type, body) = daemon.run(request);
        assert_eq!(status, 405, "{method} {path}: {body}");
        assert_json_error(path, &content_type, &body, "method_not_allowed");
        let (_, head, _) = daemon.raw(
            format!("{method} {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: 0\r\n\r\n")
                .as_bytes(),
        );
        let allow = head
            .lines()
            .find_map(|line| line.strip_prefix("allow: "))
            .unwrap_or_default()
            .replace(' ', "");
        let mut allow: Vec<&str> = allow.split(',').collect();
        allow.sort();
        assert_eq!(
            allow.join(","),
            allowed.to_lowercase(),
            "{method} {path}: {head}"
        );
    }

    // A body past the router's limit is 413, not 400, and says the limit: answered
    // before the body is sent (the client asked to be told first).
    let (line, head, body) = daemon.raw(
        format!(
            "POST /v1/checkout/quote HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
             content-length: {}\r\nexpect: 100-continue\r\n\r\n",
            3 << 20
        )
        .as_bytes(),
    );
    assert!(line.starts_with("HTTP/1.1 413"), "{line}");
    assert!(head.contains("content-type: application/json"), "{head}");
    let body: Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{body:?}"));
    assert_eq!(body["code"], "payload_too_large", "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("2097152"),
        "{body}"
    );

    // What hyper answers itself, before any route: a URI past what it reads, a request
    // line that is no HTTP.
    let long = format!(
        "GET /v1/inventory/skus/{} HTTP/1.1\r\nhost: x\r\n\r\n",
        "a".repeat(70_000)
    );
    for (request, status, code) in [
        (long.into_bytes(), "414", "uri_too_long"),
        (b"\x01\x02 nonsense\r\n\r\n".to_vec(), "400", "bad_request"),
    ] {
        let (line, head, body) = daemon.raw(&request);
        assert!(line.starts_with(&format!("HTTP/1.1 {status}")), "{line}");
        assert!(head.contains("content-type: application/json"), "{head}");
        let body: Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{body:?}"));
        assert_eq!(body["code"], code, "{body}");
    }

    // And still: an unknown route, a refused token.
    let (status, content_type, body) = daemon.run(
        daemon
            .request("GET", "/v2/nothing")
            .body(Vec::new())
            .unwrap(),
    );
    assert_eq!(status, 404);
    assert_json_error("an unknown route", &content_type, &body, "not_found");
    let (status, body) = daemon.post_raw("/v1/checkout/commit", "{}", false);
    assert_eq!(
        (status, &body["code"]),
        (401, &json!("unauthorized")),
        "{body}"
    );
}

#[test]
fn the_bearer_scheme_is_case_insensitive_and_every_paged_route_refuses_a_limit_out_of_range() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path());
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let request = daemon
            .request("POST", "/v1/plugins/markdown-pricing/enable")
            .header("authorization", format!("{scheme} {}", daemon.token))
            .body(Vec::new())
            .unwrap();
        let (status, _, body) = daemon.run(request);
        assert_eq!(status, 200, "{scheme}: {body}");
    }
    let request = daemon
        .request("POST", "/v1/plugins/markdown-pricing/enable")
        .header("authorization", format!("Basic {}", daemon.token))
        .body(Vec::new())
        .unwrap();
    assert_eq!(daemon.run(request).0, 401);

    let (status, body) = daemon.post(
        "/v1/sensors/readings",
        &json!({"readings": [{"device": "fridge-1", "kind": "temperature", "value": 4.0, "at": now_ms()}]}),
    );
    assert_eq!(status, 201, "{body}");
    for (path, limit, most) in [
        ("/v1/sensors/alerts", 1000, "1000"),
        ("/v1/sensors/devices/fridge-1/readings", 10_000, "10000"),
    ] {
        for wrong in [0, limit + 1] {
            let (status, body) = daemon.get(&format!("{path}?limit={wrong}"));
            assert_eq!(status, 400, "{path}?limit={wrong}: {body}");
            assert_eq!(body["code"], "bad_request");
            let error = body["error"].as_str().unwrap();
            assert!(error.contains("limit") && error.contains(most), "{error}");
        }
        let (status, body) = daemon.get(&format!("{path}?limit={limit}"));
        assert_eq!(status, 200, "{path}?limit={limit}: {body}");
    }
}

#[test]
fn free_text_is_limited_and_the_error_names_the_field_and_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path());
    let long = "B".repeat(100_000);
    let customer = |pseudonym: &str| json!({"pseudonym": pseudonym, "elderly_or_disabled": false, "tier": "None"});
    let deadline = now_ms() + 5 * 86_400_000;
    for (path, body, field) in [
        (
            "/v1/inventory/deliveries",
            json!({"sku": "MILK-1L", "qty": 1, "batch": long}),
            "batch",
        ),
        (
            "/v1/inventory/deliveries",
            json!({"sku": "MILK-1L", "qty": 1, "supplier": long}),
            "supplier",
        ),
        (
            "/v1/inventory/deliveries",
            json!({"sku": "MILK-1L", "qty": 1, "batch": "B\n1"}),
            "batch",
        ),
        (
            "/v1/checkout/quote",
            json!({"lines": [{"sku": "MILK-1L", "qty": 1}], "customer": customer(&long)}),
            "customer.pseudonym",
        ),
        (
            "/v1/checkout/commit",
            json!({"lines": [{"sku": long, "qty": 1}]}),
            "lines[0].sku",
        ),
        (
            "/v1/recycling/returns",
            json!({"customer": customer(&long), "kind": "DepositBox", "count": 1, "condition": "Good"}),
            "customer.pseudonym",
        ),
        (
            "/v1/presale/campaigns",
            json!({"campaign": long, "sku": "MILK-1L", "supplier": "farm", "deadline": deadline, "min_qty": 1}),
            "campaign",
        ),
        (
            "/v1/inventory/batches/NOPE/movements",
            json!({"kind": "write-off", "qty": 1, "note": long}),
            "note",
        ),
        ("/v1/sensors/alerts/1/ack", json!({"by": long}), "by"),
    ] {
        let (status, answer) = daemon.post(path, &body);
        assert_eq!(status, 422, "{path} {field}: {answer}");
        let error = answer["error"].as_str().unwrap();
        assert!(error.starts_with(&format!("{field}: ")), "{path}: {error}");
        assert!(
            error.contains("at most 64")
                || error.contains("at most 500")
                || error.contains("control"),
            "{path}: {error}"
        );
        assert!(
            error.len() < 300,
            "the error does not echo the text: {error}"
        );
    }
    let (status, body) = daemon.post(
        "/v1/inventory/deliveries",
        &json!({"sku": "MILK-1L", "qty": 1, "batch": "B".repeat(64)}),
    );
    assert_eq!(status, 201, "64 characters are fine: {body}");
}

#[test]
fn quantities_are_summed_checked_and_a_campaign_that_could_never_close_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path());
    let deadline = now_ms() + 5 * 86_400_000;
    let opening = |campaign: &str, min_qty: u32| json!({"campaign": campaign, "sku": "STRAWBERRY-2KG", "supplier": "青山农场", "deadline": deadline, "min_qty": min_qty, "weekly_volume": 20});
    let (status, body) = daemon.post("/v1/presale/campaigns", &opening("never", 0));
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"].as_str().unwrap().starts_with("min_qty"),
        "{body}"
    );
    let far = json!({"campaign": "far", "sku": "STRAWBERRY-2KG", "supplier": "青山农场", "deadline": i64::MAX, "min_qty": 1});
    let (status, body) = daemon.post("/v1/presale/campaigns", &far);
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"].as_str().unwrap().starts_with("deadline"),
        "{body}"
    );
    let (_, campaigns) = daemon.get("/v1/presale/campaigns");
    assert_eq!(campaigns, json!([]), "nothing was created");

    // Two pre-orders of u32::MAX: the second is refused, never wrapped into a Go.
    let (status, body) = daemon.post("/v1/presale/campaigns", &opening("big", 10));
    assert_eq!(status, 201, "{body}");
    let order = |customer: &str| json!({"customer": customer, "qty": u32::MAX});
    let (status, body) = daemon.post("/v1/presale/campaigns/big/orders", &order("p-1"));
    assert_eq!(status, 201, "{body}");
    let (status, body) = daemon.post("/v1/presale/campaigns/big/orders", &order("p-2"));
    assert_eq!(status, 422, "{body}");
    assert!(body["error"].as_str().unwrap().starts_with("qty"), "{body}");
    let (_, campaign) = daemon.get("/v1/presale/campaigns/big");
    assert_eq!(campaign["preordered_qty"], u32::MAX, "{campaign}");
    assert_eq!(campaign["preorder_count"], 1, "{campaign}");

    // A SKU's units on hand stay within what plugins read (`inventory-read`: u32).
    let before = on_hand(&daemon, "RICE-5KG");
    let delivery = json!({"sku": "RICE-5KG", "qty": u32::MAX - before as u32});
    let (status, body) = daemon.post("/v1/inventory/deliveries", &delivery);
    assert_eq!(status, 201, "{body}");
    let (status, body) = daemon.post(
        "/v1/inventory/deliveries",
        &json!({"sku": "RICE-5KG", "qty": 1}),
    );
    assert_eq!(status, 422, "{body}");
    assert!(body["error"].as_str().unwrap().starts_with("qty"), "{body}");
    assert_eq!(on_hand(&daemon, "RICE-5KG"), u64::from(u32::MAX));
}
