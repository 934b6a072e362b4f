//! The owner's dashboard: the report routes it reads, checked against the sales, returns
//! and readings made through the API; and the page itself in a real headless Chromium —
//! its numbers are the API's, acknowledging an alert and toggling a plugin by clicking
//! change the store, and a screenshot is kept.

use linli_tests::browser::Browser;
use linli_tests::{Daemon, now_ms};
use serde_json::{Value, json};

const MINUTE: i64 = 60_000;

/// A daemon with the demo catalogue and the reference plugins, without the sensor
/// simulator (the test makes every reading).
fn daemon(dir: &std::path::Path) -> Daemon {
    let config = dir.join("linli.toml");
    std::fs::write(
        &config,
        "[sensors]\nsimulator = false\n\n[reports]\npackaging-return-target = 0.8\n",
    )
    .unwrap();
    Daemon::start_with(&dir.join("data"), &["--config", config.to_str().unwrap()])
}

fn sell(daemon: &Daemon, lines: &[(&str, u32)]) -> Value {
    let lines: Vec<Value> = lines
        .iter()
        .map(|(sku, qty)| json!({"sku": sku, "qty": qty}))
        .collect();
    let (status, sale) = daemon.post("/v1/checkout/commit", &json!({ "lines": lines }));
    assert_eq!(status, 201, "{sale}");
    sale
}

fn return_boxes(daemon: &Daemon, count: u32) -> Value {
    let customer = json!({"pseudonym": "p-77", "elderly_or_disabled": false, "tier": "Basic"});
    let body =
        json!({"customer": customer, "kind": "DepositBox", "count": count, "condition": "Good"});
    let (status, entry) = daemon.post("/v1/recycling/returns", &body);
    assert_eq!(status, 201, "{entry}");
    entry
}

/// A device too warm for 20 minutes, ending a minute ago: one cold-chain alert.
fn raise_alert(daemon: &Daemon, device: &str) -> i64 {
    let mut values = vec![4.0; 5];
    values.extend([11.5; 22]);
    values.push(5.0);
    let start = now_ms() - (values.len() as i64 + 1) * MINUTE;
    let readings: Vec<Value> = values
        .iter()
        .enumerate()
        .flat_map(|(index, value)| {
            let at = start + index as i64 * MINUTE;
            [
                json!({"device": device, "kind": "temperature", "value": value, "at": at}),
                json!({"device": device, "kind": "humidity", "value": 60.0 + index as f64 / 2.0, "at": at}),
            ]
        })
        .collect();
    let (status, body) = daemon.post("/v1/sensors/readings", &json!({ "readings": readings }));
    assert_eq!(status, 201, "{body}");
    let raised = body["alerts_raised"].as_array().unwrap();
    assert_eq!(raised.len(), 1, "{body}");
    raised[0].as_i64().unwrap()
}

/// The SKUs of the catalogue that are local produce.
fn local_skus(daemon: &Daemon) -> Vec<String> {
    let (_, skus) = daemon.get("/v1/inventory/skus");
    skus.as_array()
        .unwrap()
        .iter()
        .filter(|sku| sku["local_produce"] == true)
        .map(|sku| sku["sku"].as_str().unwrap().to_string())
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn today_counts_the_sales_presales_and_returns_made_through_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = daemon(dir.path());
    let (status, empty) = daemon.get("/v1/reports/today");
    assert_eq!(status, 200, "{empty}");
    assert_eq!(empty["sales"]["baskets"], 0);
    assert_eq!(empty["local_share"], Value::Null, "no sales, no share");
    assert_eq!(empty["kpis"]["fulfilment_accuracy"]["value"], Value::Null);

    let first = sell(&daemon, &[("MILK-1L", 2), ("RICE-5KG", 1)]);
    let second = sell(&daemon, &[("VEG-BOX", 1), ("SOAP-BAR", 3)]);
    let returned = return_boxes(&daemon, 1);
    let deadline = now_ms() + 4 * 86_400_000;
    let (status, body) = daemon.post(
        "/v1/presale/campaigns",
        &json!({"campaign": "honey-dec", "sku": "HONEY-500G", "supplier": "养蜂合作社", "deadline": deadline, "min_qty": 10}),
    );
    assert_eq!(status, 201, "{body}");
    let (status, body) = daemon.post(
        "/v1/presale/campaigns/honey-dec/orders",
        &json!({"customer": "p-9", "qty": 4}),
    );
    assert_eq!(status, 201, "{body}");

    let local = local_skus(&daemon);
    let (total, local_total) = [&first, &second]
        .iter()
        .flat_map(|sale| sale["lines"].as_array().unwrap().iter())
        .fold((0, 0), |(total, local_total), line| {
            let amount = line["total"].as_i64().unwrap();
            let is_local = local.iter().any(|sku| line["sku"] == sku.as_str());
            (
                total + amount,
                local_total + if is_local { amount } else { 0 },
            )
        });
    assert_eq!(
        total,
        first["total"].as_i64().unwrap() + second["total"].as_i64().unwrap()
    );

    let (status, today) = daemon.get("/v1/reports/today");
    assert_eq!(status, 200, "{today}");
    let sales = &today["sales"];
    assert_eq!(sales["total"], total, "{today}");
    assert_eq!(sales["baskets"], 2);
    assert_eq!(sales["units"], 2 + 1 + 1 + 3);
    assert_eq!(sales["local_total"], local_total);
    assert_eq!(sales["presale_units"], 4);
    let share = today["local_share"].as_f64().unwrap();
    assert!(close(share, local_total as f64 / total as f64), "{share}");
    assert!(close(
        today["presale_share"].as_f64().unwrap(),
        4.0 / (7.0 + 4.0)
    ));
    assert_eq!(today["recycling"]["boxes_returned"], 1);
    assert_eq!(today["recycling"]["points_issued"], returned["points"]);
    assert_eq!(today["recycling"]["refunds"], returned["refund"]);

    let kpis = &today["kpis"];
    // Every sale was today: the week's local share is today's.
    let local_kpi = &kpis["local_sales_share"];
    assert!(
        close(local_kpi["value"].as_f64().unwrap(), share),
        "{local_kpi}"
    );
    assert_eq!(local_kpi["target"], 0.4);
    assert_eq!(local_kpi["met"], share >= 0.4);
    // One box back of the one vegetable box sold; the store's own target.
    let packaging = &kpis["packaging_return_rate"];
    assert_eq!(packaging["value"], 1.0, "{packaging}");
    assert_eq!(packaging["target"], 0.8);
    assert_eq!(packaging["met"], true);
    let turnover = &kpis["inventory_turnover"];
    assert!(turnover["value"].as_f64().unwrap() > 0.0, "{turnover}");
    assert!(close(turnover["target"].as_f64().unwrap(), 0.35 * 1.5));
    assert!(
        turnover["basis"].as_str().unwrap().contains("7 units sold"),
        "{turnover}"
    );
    assert_eq!(kpis["fulfilment_accuracy"]["target"], 0.995);

    let (status, campaigns) = daemon.get("/v1/presale/campaigns");
    assert_eq!(status, 200, "{campaigns}");
    assert_eq!(campaigns[0]["campaign"], "honey-dec");
    assert_eq!(campaigns[0]["preordered_qty"], 4);
}

#[test]
fn slow_movers_are_the_slowest_tenth_and_expiring_batches_carry_the_markdown_now() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = daemon(dir.path());
    sell(&daemon, &[("WATER-550", 10), ("MILK-1L", 1)]);

    let (status, slow) = daemon.get("/v1/inventory/slow-movers");
    assert_eq!(status, 200, "{slow}");
    let ranked = slow["ranked"].as_u64().unwrap();
    let skus = slow["skus"].as_array().unwrap();
    assert!(ranked >= 30, "every stocked demo SKU is ranked: {slow}");
    assert_eq!(skus.len() as u64, ranked.div_ceil(10), "{slow}");
    assert!(
        skus.iter()
            .all(|row| row["sku"] != "WATER-550" && row["sku"] != "MILK-1L"),
        "what sold is not among the slowest: {slow}"
    );
    let turnovers: Vec<f64> = skus
        .iter()
        .map(|row| row["turnover"].as_f64().unwrap())
        .collect();
    assert!(
        turnovers.windows(2).all(|pair| pair[0] <= pair[1]),
        "{slow}"
    );
    let (status, body) = daemon.get("/v1/inventory/slow-movers?days=0");
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("days"), "{body}");

    let (status, expiring) = daemon.get("/v1/inventory/expiring?within_hours=48");
    assert_eq!(status, 200, "{expiring}");
    let batches = expiring.as_array().unwrap();
    assert!(!batches.is_empty(), "the demo has fresh goods near expiry");
    let expiries: Vec<i64> = batches
        .iter()
        .map(|batch| batch["expires_at"].as_i64().unwrap())
        .collect();
    assert!(
        expiries.windows(2).all(|pair| pair[0] <= pair[1]),
        "soonest first"
    );
    assert!(expiries.iter().all(|at| *at < now_ms() + 48 * 60 * MINUTE));
    for batch in batches.iter().filter(|batch| batch["expired"] == false) {
        let shelf = batch["shelf_price"].as_i64().unwrap();
        let now = batch["price_now"].as_i64().unwrap();
        assert_eq!(batch["markdown"].as_i64().unwrap(), shelf - now, "{batch}");
    }
    let marked = batches
        .iter()
        .find(|batch| {
            batch["markdown"]
                .as_i64()
                .is_some_and(|markdown| markdown > 0)
        })
        .unwrap_or_else(|| panic!("some batch is marked down: {expiring}"));
    let reasons = marked["reasons"].as_array().unwrap();
    assert!(
        reasons
            .iter()
            .any(|reason| reason.as_str().unwrap().contains("临期")),
        "the pricing plugin's reason: {marked}"
    );
    // The preview is exactly what the till charges for that batch now.
    let (status, quote) = daemon.post_raw(
        "/v1/checkout/quote",
        &json!({"lines": [{"sku": marked["sku"], "qty": 1}]}).to_string(),
        false,
    );
    assert_eq!(status, 200, "{quote}");
    if quote["lines"][0]["batch"] == marked["batch"] {
        assert_eq!(quote["lines"][0]["unit_price"], marked["price_now"]);
    }
    let (status, _) = daemon.get("/v1/inventory/expiring?within_hours=9999");
    assert_eq!(status, 400);
}

#[test]
fn devices_list_their_latest_readings_and_the_cold_chain_range_that_applies() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = daemon(dir.path());
    raise_alert(&daemon, "fridge-1");
    let at = now_ms() - MINUTE;
    let (status, body) = daemon.post(
        "/v1/sensors/readings",
        &json!({"readings": [
            {"device": "sim-freezer-1", "kind": "temperature", "value": -18.0, "at": at},
            {"device": "shelf-2", "kind": "shelf-weight", "value": 3200.0, "at": at},
        ]}),
    );
    assert_eq!(status, 201, "{body}");
    let (status, devices) = daemon.get("/v1/sensors/devices");
    assert_eq!(status, 200, "{devices}");
    let device = |name: &str| {
        devices
            .as_array()
            .unwrap()
            .iter()
            .find(|device| device["device"] == name)
            .unwrap_or_else(|| panic!("{name}: {devices}"))
            .clone()
    };
    let fridge = device("fridge-1");
    assert_eq!(fridge["latest"].as_array().unwrap().len(), 2, "{fridge}");
    assert_eq!(
        fridge["cold_chain"],
        json!({"min_celsius": 0.0, "max_celsius": 8.0, "after_minutes": 15})
    );
    assert_eq!(device("sim-freezer-1")["cold_chain"]["max_celsius"], -15.0);
    assert_eq!(
        device("shelf-2")["cold_chain"],
        Value::Null,
        "no temperature"
    );
}

#[test]
fn the_page_and_its_assets_are_served_with_their_content_types() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = daemon(dir.path());
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    for (path, content_type, needle) in [
        ("/", "text/html", "id=\"kpi-local-share\""),
        ("/dashboard.js", "text/javascript", "/v1/reports/today"),
        ("/dashboard.css", "text/css", ".chart"),
    ] {
        let mut response = agent.get(format!("{}{path}", daemon.url)).call().unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let header = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(header.starts_with(content_type), "{path}: {header}");
        let body = response.body_mut().read_to_string().unwrap();
        assert!(body.contains(needle), "{path}");
    }
    // Nothing the page loads comes from elsewhere: the store may be offline.
    let (_, page) = daemon.get("/");
    assert!(!page.as_str().unwrap().contains("http"), "{page}");
}

/// Money as the page shows it.
fn yuan(cents: &Value) -> String {
    format!("¥{:.2}", cents.as_i64().unwrap() as f64 / 100.0)
}

/// A share as the page shows it.
fn percent(share: &Value) -> String {
    match share.as_f64() {
        Some(share) => format!("{:.1}%", share * 100.0),
        None => "—".into(),
    }
}

/// Wait until the page shows `expected` in the element `css`.
fn shows(browser: &Browser, css: &str, expected: &str) {
    browser.wait_for(
        &format!("{css} to show {expected}"),
        |browser| match browser.text(css) {
            Some(text) if text.trim() == expected => Ok(()),
            other => Err(format!("it shows {other:?}")),
        },
    );
}

#[test]
fn the_dashboard_in_a_browser_shows_the_apis_numbers_and_acts_on_clicks() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let daemon = daemon(dir.path());
    sell(&daemon, &[("MILK-1L", 2), ("RICE-5KG", 1)]);
    sell(&daemon, &[("VEG-BOX", 1), ("TEA-GREEN", 1)]);
    sell(&daemon, &[("WATER-550", 6)]);
    return_boxes(&daemon, 1);
    let first_alert = raise_alert(&daemon, "fridge-a");
    raise_alert(&daemon, "fridge-b");
    let now = now_ms();
    let (status, body) = daemon.post(
        "/v1/delivery/requests",
        &json!({
            "delivery": "d-urgent", "emergency": true,
            "customer": {"pseudonym": "p-5", "elderly_or_disabled": true, "tier": "Silver"},
            "items": [{"sku": "WATER-550", "qty": 2}], "distance_m": 600,
            "window_start": now, "window_end": now + 30 * MINUTE,
            "couriers": [{"id": "c-1", "free_at": now}]
        }),
    );
    assert_eq!(status, 201, "{body}");

    let (_, milk) = daemon.get("/v1/inventory/skus/MILK-1L");
    let (status, offer) = daemon.post(
        "/v1/pool/offers",
        &json!({"batch": milk["batches"][0]["batch"], "qty": 1}),
    );
    assert_eq!(status, 201, "{offer}");
    let offer = offer["offer"].as_str().unwrap().to_string();

    browser.goto(&format!("{}/", daemon.url));
    let (_, today) = daemon.get("/v1/reports/today");
    shows(&browser, "#today-baskets", "3");
    shows(&browser, "#today-sales", &yuan(&today["sales"]["total"]));
    shows(
        &browser,
        "#today-local-share",
        &percent(&today["local_share"]),
    );
    shows(
        &browser,
        "#today-points",
        &today["recycling"]["points_issued"].to_string(),
    );
    let kpis = &today["kpis"];
    shows(
        &browser,
        "#kpi-local-share",
        &percent(&kpis["local_sales_share"]["value"]),
    );
    shows(&browser, "#kpi-local-share-target", "≥ 40.0%");
    shows(
        &browser,
        "#kpi-packaging",
        &percent(&kpis["packaging_return_rate"]["value"]),
    );
    shows(&browser, "#kpi-fulfilment-target", "≥ 99.5%");
    // Turnover is time-weighted: it drifts a little between two reads.
    let page_turnover: f64 = browser
        .text("#kpi-turnover")
        .unwrap()
        .parse()
        .expect("the turnover is a number");
    let api_turnover = kpis["inventory_turnover"]["value"].as_f64().unwrap();
    assert!(
        (page_turnover - api_turnover).abs() < 0.011,
        "{page_turnover} vs {api_turnover}"
    );

    let (_, milk) = daemon.get("/v1/inventory/skus/MILK-1L");
    shows(
        &browser,
        "#stock-on-hand-MILK-1L",
        &milk["on_hand"].to_string(),
    );
    let (_, open) = daemon.get("/v1/sensors/alerts?open=true");
    assert_eq!(open.as_array().unwrap().len(), 2, "{open}");
    shows(&browser, "#alerts-open", "2");
    assert!(
        browser.find("#device-fridge-a svg polyline").is_some(),
        "a chart per device"
    );
    assert!(
        browser.find("#device-fridge-a svg rect.band").is_some(),
        "with the range drawn"
    );
    assert!(
        browser.find("#delivery-d-urgent").is_some(),
        "the delivery in progress"
    );
    assert!(browser.find("#expiring-body tr").is_some());
    assert!(browser.find("#slow-body tr").is_some());

    let (_, plugins) = daemon.get("/v1/plugins");
    let recycling = plugins
        .as_array()
        .unwrap()
        .iter()
        .find(|install| install["world"] == "recycling-points")
        .unwrap_or_else(|| panic!("a recycling install: {plugins}"))
        .clone();
    let install = recycling["id"].as_str().unwrap();
    assert_eq!(recycling["calls"], 1, "{recycling}");
    shows(&browser, &format!("#plugin-calls-{install}"), "1");

    // No token stored yet: the page asks for it; then the clicks act.
    assert!(browser.displayed("#token-box"), "the token box is shown");
    browser.type_text("#token-input", &daemon.token).unwrap();
    browser.click("#token-save").unwrap();
    assert!(!browser.displayed("#token-box"));
    let stored = browser.execute("return localStorage.getItem('linli-token')");
    assert_eq!(stored, daemon.token.as_str());

    browser.click(&format!("#ack-{first_alert}")).unwrap();
    let acknowledged = browser.wait_for("the alert to be acknowledged", |_| {
        let (_, all) = daemon.get("/v1/sensors/alerts?open=false");
        all.as_array()
            .unwrap()
            .iter()
            .find(|alert| alert["alert"] == first_alert && alert["acknowledged_at"].is_i64())
            .cloned()
            .ok_or_else(|| format!("not yet: {all}"))
    });
    assert_eq!(acknowledged["acknowledged_by"], "店员 clerk");
    shows(&browser, "#alerts-open", "1");
    assert!(browser.find(&format!("#alert-{first_alert}")).is_none());

    let toggle = format!("#toggle-{install}");
    browser.click(&toggle).unwrap();
    browser.wait_for("the install to be disabled", |_| {
        let (_, plugins) = daemon.get("/v1/plugins");
        let found = plugins
            .as_array()
            .unwrap()
            .iter()
            .any(|row| row["id"] == install && row["enabled"] == false);
        if found {
            Ok(())
        } else {
            Err(plugins.to_string())
        }
    });
    shows(
        &browser,
        &format!("#plugin-state-{install}"),
        "停用 disabled",
    );
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard");
    std::fs::create_dir_all(&path).unwrap();
    let screenshot = path.join("dashboard.png");
    let png = browser.screenshot();
    assert!(png.len() > 10_000, "{} bytes", png.len());
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    std::fs::write(&screenshot, &png).unwrap();
    println!("dashboard screenshot: {}", screenshot.display());

    // And back on.
    browser.click(&toggle).unwrap();
    browser.wait_for("the install to be enabled again", |_| {
        let (_, plugins) = daemon.get("/v1/plugins");
        let found = plugins
            .as_array()
            .unwrap()
            .iter()
            .any(|row| row["id"] == install && row["enabled"] == true);
        if found {
            Ok(())
        } else {
            Err(plugins.to_string())
        }
    });
    shows(
        &browser,
        &format!("#plugin-state-{install}"),
        "启用 enabled",
    );

    // The stock pool: this daemon has no [alliance], and the page says so rather than
    // failing; its own offer is listed and withdrawn with a click.
    shows(
        &browser,
        "#pool-status",
        "未接入联盟 not connected to the alliance",
    );
    browser.click(&format!("#withdraw-{offer}")).unwrap();
    browser.wait_for("the offer to be withdrawn", |_| {
        let (_, offers) = daemon.get("/v1/pool/offers");
        if offers[0]["withdrawn_at"].is_i64() {
            Ok(())
        } else {
            Err(offers.to_string())
        }
    });
    // The row updates after the click: withdrawn, with no button left.
    browser.wait_for(
        "the offer's row to show it withdrawn",
        |browser| match browser.find(&format!("#withdraw-{offer}")) {
            None => Ok(()),
            Some(_) => Err("the Withdraw button is still there".into()),
        },
    );
}
