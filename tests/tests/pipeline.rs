//! Pipelines of installs: pricing chains installs and keeps the trail; a failing
//! install falls back (the line keeps its price), is recorded, and is disabled by the
//! circuit breaker after consecutive failures until re-enabled.

use linli_runtime::pipeline::{Install, Pipeline, PipelineError};
use linli_runtime::{Answer, Call, Grants, Limits, Plugin, QuoteRequest, StoreAccess, World};
use linli_tests::{example, hostile, load, runtime};
use std::collections::BTreeMap;
use std::sync::Arc;

fn settings(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

fn install(id: &str, plugin: &Arc<Plugin>, config: &[(&str, &str)]) -> Install {
    Install::new(
        id,
        plugin.clone(),
        settings(config),
        Limits::default(),
        StoreAccess::default(),
    )
}

fn near_expiry_basket() -> (i64, QuoteRequest) {
    let (context, request) = example("markdown-pricing", "near-expiry-basket.json");
    let Call::Quote(request) = Call::from_json(World::Pricing, None, request).unwrap() else {
        unreachable!()
    };
    (context.now, request)
}

fn hostile_pricing() -> Arc<Plugin> {
    Arc::new(
        runtime()
            .load(&hostile("pricing"), None, &Grants::none())
            .unwrap(),
    )
}

#[test]
fn each_pricing_install_sees_the_previous_prices_and_the_trail_names_it() {
    let markdown = Arc::new(load("markdown-pricing"));
    let pipeline = Pipeline::new(World::Pricing, 5);
    // Expiry markdown only, then a 10% care discount only.
    pipeline.add(install("expiry", &markdown, &[("elderly-percent", "0")]));
    pipeline.add(install(
        "care",
        &markdown,
        &[
            ("last-day-percent", "0"),
            ("last-hours-percent", "0"),
            ("elderly-percent", "10"),
        ],
    ));
    let (now, basket) = near_expiry_basket();
    let priced = pipeline.quote(basket.clone(), now);
    // milk 1290 → 903 (−30%) → 813 (−10% of 903, rounded); bread 800 → 400 → 360.
    assert_eq!(priced.unit_prices[..2], [813, 360]);
    assert_eq!(priced.totals[0], 2 * 813);
    let by = |install: &str| {
        priced
            .trail
            .iter()
            .filter(|entry| entry.install == install)
            .count()
    };
    assert_eq!(by("expiry"), 2);
    assert_eq!(by("care"), 4);
    let milk: i64 = priced
        .trail
        .iter()
        .filter(|entry| entry.line == 0)
        .map(|entry| entry.amount)
        .sum();
    assert_eq!(
        milk,
        priced.totals[0] - 2 * 1290,
        "the trail explains every cent"
    );
    assert!(priced.skipped.is_empty() && priced.refusals.is_empty());
}

#[test]
fn a_failing_install_is_skipped_and_the_line_keeps_its_price() {
    let markdown = Arc::new(load("markdown-pricing"));
    let pipeline = Pipeline::new(World::Pricing, 5);
    pipeline.add(install("broken", &hostile_pricing(), &[("mode", "panic")]));
    pipeline.add(install("markdown", &markdown, &[]));
    let (now, basket) = near_expiry_basket();
    let priced = pipeline.quote(basket.clone(), now);
    assert_eq!(
        priced.unit_prices,
        [858, 380, 1425, 3790],
        "markdown still priced"
    );
    assert_eq!(priced.skipped.len(), 1);
    assert_eq!(priced.skipped[0].install, "broken");
    assert!(priced.skipped[0].error.contains("panics on purpose"));

    let alone = Pipeline::new(World::Pricing, 5);
    alone.add(install("broken", &hostile_pricing(), &[("mode", "spin")]));
    let priced = alone.quote(basket.clone(), now);
    let shelf: Vec<i64> = basket.lines.iter().map(|line| line.unit_price).collect();
    assert_eq!(priced.unit_prices, shelf, "every line keeps its price");
}

#[test]
fn the_circuit_breaker_disables_after_consecutive_failures_until_re_enabled() {
    let pipeline = Pipeline::new(World::Pricing, 3);
    pipeline.add(install(
        "broken",
        &hostile_pricing(),
        &[("mode", "unreachable")],
    ));
    let (now, basket) = near_expiry_basket();
    for _ in 0..3 {
        assert_eq!(pipeline.quote(basket.clone(), now).skipped.len(), 1);
    }
    let status = &pipeline.status()[0];
    assert!(status.tripped && !status.active, "{status:?}");
    assert_eq!(
        (status.calls, status.failures, status.consecutive_failures),
        (3, 3, 3)
    );
    assert!(
        status
            .last_error
            .as_deref()
            .unwrap()
            .contains("unreachable")
    );
    // Tripped: no longer called at all.
    assert!(pipeline.quote(basket.clone(), now).skipped.is_empty());
    assert_eq!(pipeline.status()[0].calls, 3);

    pipeline.set_enabled("broken", true).unwrap();
    let status = &pipeline.status()[0];
    assert!(status.active && !status.tripped && status.consecutive_failures == 0);
    assert_eq!(
        pipeline.quote(basket.clone(), now).skipped.len(),
        1,
        "called again"
    );
}

#[test]
fn a_success_resets_the_consecutive_count() {
    let pipeline = Pipeline::new(World::Pricing, 2);
    let plugin = hostile_pricing();
    let (now, basket) = near_expiry_basket();
    pipeline.add(install("flaky", &plugin, &[("mode", "panic")]));
    pipeline.quote(basket.clone(), now);
    pipeline.add(install("flaky", &plugin, &[]));
    pipeline.quote(basket.clone(), now);
    assert_eq!(pipeline.status()[0].consecutive_failures, 0);
    assert!(pipeline.status()[0].active);
}

#[test]
fn a_refusal_reaches_the_caller_and_does_not_trip_the_breaker() {
    let markdown = Arc::new(load("markdown-pricing"));
    let pipeline = Pipeline::new(World::Pricing, 1);
    pipeline.add(install("markdown", &markdown, &[]));
    let (context, request) = example("markdown-pricing", "expired-item.json");
    let Call::Quote(basket) = Call::from_json(World::Pricing, None, request).unwrap() else {
        unreachable!()
    };
    let priced = pipeline.quote(basket.clone(), context.now);
    assert_eq!(priced.refusals.len(), 1);
    assert!(pipeline.status()[0].active);
}

#[test]
fn installs_are_reordered_disabled_and_removed_by_id() {
    let markdown = Arc::new(load("markdown-pricing"));
    let pipeline = Pipeline::new(World::Pricing, 5);
    pipeline.add(install("a", &markdown, &[]));
    pipeline.add(install("b", &markdown, &[]));
    pipeline.reorder(&["b", "a"]).unwrap();
    let ids: Vec<String> = pipeline
        .status()
        .into_iter()
        .map(|status| status.id)
        .collect();
    assert_eq!(ids, ["b", "a"]);
    assert!(matches!(
        pipeline.reorder(&["b"]),
        Err(PipelineError::BadOrder { .. })
    ));
    assert!(matches!(
        pipeline.reorder(&["b", "b"]),
        Err(PipelineError::BadOrder { .. })
    ));
    assert!(matches!(
        pipeline.set_enabled("c", false),
        Err(PipelineError::UnknownInstall { .. })
    ));
    pipeline.set_enabled("a", false).unwrap();
    assert!(!pipeline.status()[1].active);
    pipeline.remove("a").unwrap();
    assert_eq!(pipeline.status().len(), 1);
}

#[test]
fn other_worlds_take_the_first_install_that_answers() {
    let presale = Arc::new(load("presale-threshold"));
    let pipeline = Pipeline::new(World::Presale, 5);
    let (context, request) = example("presale-threshold", "go.json");
    let call = Call::from_json(World::Presale, None, request).unwrap();
    assert!(matches!(
        pipeline.decide(&call, context.now),
        Err(PipelineError::NoInstall { .. })
    ));

    // The first install refuses its own settings: that install is skipped like a
    // failing one, and the next decides.
    pipeline.add(install("strict", &presale, &[("min-lead-days", "many")]));
    pipeline.add(install("standard", &presale, &[]));
    let decided = pipeline.decide(&call, context.now).unwrap();
    assert_eq!(decided.install, "standard");
    assert!(matches!(decided.answer, Answer::Evaluation(_)));
    assert_eq!(decided.skipped.len(), 1, "{:?}", decided.skipped);
    assert_eq!(decided.skipped[0].install, "strict");
    assert!(decided.skipped[0].error.contains("min-lead-days"));

    // With no other install, no working plugin decides.
    pipeline.set_enabled("standard", false).unwrap();
    let err = pipeline.decide(&call, context.now).unwrap_err();
    assert!(
        matches!(&err, PipelineError::AllFailed { skipped, .. } if skipped[0].install == "strict"),
        "{err}"
    );

    // A refusal of the request itself is the decision.
    pipeline.set_enabled("standard", true).unwrap();
    pipeline.set_enabled("strict", false).unwrap();
    let (context, request) = example("presale-threshold", "go.json");
    let Call::Evaluate(mut campaign) = Call::from_json(World::Presale, None, request).unwrap()
    else {
        unreachable!()
    };
    campaign.min_qty = 0;
    let err = pipeline
        .decide(&Call::Evaluate(campaign), context.now)
        .unwrap_err();
    assert!(matches!(err, PipelineError::Refused { ref install, .. } if install == "standard"));
}

#[test]
fn a_setting_the_plugin_refuses_skips_the_install_and_never_refuses_the_basket() {
    let markdown = Arc::new(load("markdown-pricing"));
    let pipeline = Pipeline::new(World::Pricing, 2);
    pipeline.add(install("misset", &markdown, &[("elderly-percent", "-50")]));
    pipeline.add(install("markdown", &markdown, &[]));
    let (now, basket) = near_expiry_basket();
    let priced = pipeline.quote(basket.clone(), now);
    assert!(priced.refusals.is_empty(), "{:?}", priced.refusals);
    assert_eq!(priced.skipped.len(), 1, "{:?}", priced.skipped);
    assert_eq!(priced.skipped[0].install, "misset");
    assert!(
        priced.skipped[0].error.contains("bad setting")
            && priced.skipped[0].error.contains("elderly-percent"),
        "{}",
        priced.skipped[0].error
    );
    assert_eq!(
        priced.unit_prices,
        [858, 380, 1425, 3790],
        "the other install still priced"
    );
    let status = &pipeline.status()[0];
    assert_eq!((status.calls, status.failures), (1, 1), "{status:?}");
    assert!(
        status
            .last_error
            .as_deref()
            .unwrap()
            .contains("elderly-percent")
    );
}
