//! Each reference plugin through the real runtime (wasm component, fresh instance per
//! call, limits on): its main cases and its edge cases, on realistic inputs.

use linli_runtime::bindings::types::PolicyError;
use linli_runtime::{Answer, Call, CallContext, CallOutcome, Decision, Plugin, World};
use linli_tests::{example, load};
use serde_json::{Value, json};
use std::sync::Arc;

fn call(plugin: &Plugin, context: &CallContext, request: Value) -> CallOutcome {
    let call = Call::from_json(plugin.world(), None, request).expect("the request fits the world");
    plugin
        .call(&call, context)
        .unwrap_or_else(|err| panic!("{err}"))
}

fn run_example(plugin: &Plugin, crate_name: &str, file: &str) -> CallOutcome {
    let (context, request) = example(crate_name, file);
    call(plugin, &context, request)
}

fn refusal(outcome: &CallOutcome) -> String {
    match &outcome.answer {
        Err(
            PolicyError::InvalidInput(text)
            | PolicyError::BadConfig(text)
            | PolicyError::Refused(text),
        ) => text.clone(),
        Ok(answer) => panic!("expected a refusal, got {answer:?}"),
    }
}

#[test]
fn markdown_pricing_marks_down_near_expiry_and_explains_every_change() {
    let plugin = load("markdown-pricing");
    assert_eq!(plugin.world(), World::Pricing);
    let outcome = run_example(&plugin, "markdown-pricing", "near-expiry-basket.json");
    let Ok(Answer::Quote(quote)) = &outcome.answer else {
        panic!("{:?}", outcome.answer)
    };
    let totals: Vec<i64> = quote.lines.iter().map(|line| line.total).collect();
    // milk −30% (last day) then −5% care; bread −50% (last hours) then care; eggs and
    // rice only the care discount.
    assert_eq!(totals, [1716, 380, 1425, 3790]);
    assert_eq!(quote.adjustments.len(), 6);
    assert!(
        quote
            .adjustments
            .iter()
            .all(|adjustment| !adjustment.reason.is_empty())
    );
    assert!(outcome.fuel_used > 1_000, "fuel {}", outcome.fuel_used);
}

#[test]
fn markdown_pricing_prices_an_empty_basket_and_refuses_expired_goods() {
    let plugin = load("markdown-pricing");
    let outcome = run_example(&plugin, "markdown-pricing", "empty-basket.json");
    assert!(matches!(&outcome.answer, Ok(Answer::Quote(quote)) if quote.lines.is_empty()));
    let outcome = run_example(&plugin, "markdown-pricing", "expired-item.json");
    let text = refusal(&outcome);
    assert!(
        text.contains("YOGURT") && text.contains("expired"),
        "{text}"
    );
}

#[test]
fn markdown_pricing_respects_the_floor_and_names_a_bad_setting() {
    let plugin = load("markdown-pricing");
    let (mut context, request) = example("markdown-pricing", "near-expiry-basket.json");
    context.config = Arc::new([("floor-percent".to_string(), "80".to_string())].into());
    let outcome = call(&plugin, &context, request.clone());
    let Ok(Answer::Quote(quote)) = &outcome.answer else {
        panic!("{:?}", outcome.answer)
    };
    // bread 800 may not go below 640 however near its expiry.
    assert_eq!(quote.lines[1].unit_price, 640);
    context.config = Arc::new([("elderly-percent".to_string(), "five".to_string())].into());
    let text = refusal(&call(&plugin, &context, request));
    assert!(text.contains("elderly-percent"), "{text}");
}

#[test]
fn the_same_call_gives_the_same_answer_and_costs_the_same_fuel() {
    let plugin = load("markdown-pricing");
    let first = run_example(&plugin, "markdown-pricing", "near-expiry-basket.json");
    let second = run_example(&plugin, "markdown-pricing", "near-expiry-basket.json");
    assert_eq!(first.answer, second.answer);
    assert_eq!(first.fuel_used, second.fuel_used);
}

#[test]
fn presale_goes_extends_waits_and_cancels() {
    let plugin = load("presale-threshold");
    let decision = |file: &str| match run_example(&plugin, "presale-threshold", file).answer {
        Ok(Answer::Evaluation(evaluation)) => evaluation,
        other => panic!("{file}: {other:?}"),
    };
    let go = decision("go.json");
    assert_eq!(go.decision, Decision::Go);
    assert!(
        go.supplier_qty >= 36,
        "pre-orders plus a margin: {}",
        go.supplier_qty
    );
    assert!(go.meets_share_rule);
    let extend = decision("extend.json");
    assert_eq!(extend.decision, Decision::Extend);
    assert!(extend.new_deadline.is_some());
    assert_eq!(decision("wait.json").decision, Decision::Wait);
    let none = decision("no-go-zero-preorders.json");
    assert_eq!(none.decision, Decision::NoGo);
    assert_eq!(none.supplier_qty, 0);
    assert_eq!(
        decision("no-go-after-extension.json").decision,
        Decision::NoGo
    );
}

#[test]
fn presale_refuses_a_deadline_less_than_three_days_out() {
    let plugin = load("presale-threshold");
    let text = refusal(&run_example(
        &plugin,
        "presale-threshold",
        "bad-deadline.json",
    ));
    assert!(text.contains("3 days"), "{text}");
}

#[test]
fn elderly_delivery_says_when_the_thirty_minute_promise_cannot_be_met() {
    let plugin = load("elderly-delivery");
    let plan = |file: &str| match run_example(&plugin, "elderly-delivery", file).answer {
        Ok(Answer::Plan(plan)) => plan,
        other => panic!("{file}: {other:?}"),
    };
    let met = plan("emergency-met.json");
    assert_eq!(met.meets_emergency_promise, Some(true));
    let missed = plan("emergency-cannot-be-met.json");
    assert_eq!(missed.meets_emergency_promise, Some(false));
    assert!(
        missed.notes.iter().any(|note| note.contains("30")),
        "{:?}",
        missed.notes
    );
    let routine = plan("routine.json");
    assert_eq!(routine.meets_emergency_promise, None);
    assert!(routine.fee > 0 && !routine.fee_waived);
    let member = plan("member-fee-waived.json");
    assert!(member.fee_waived && member.fee == 0);
    let alone = plan("no-courier.json");
    assert!(alone.courier.is_none() && alone.eta.is_none());
}

#[test]
fn elderly_delivery_refuses_beyond_its_range() {
    let plugin = load("elderly-delivery");
    let text = refusal(&run_example(&plugin, "elderly-delivery", "too-far.json"));
    assert!(text.contains("6200"), "{text}");
}

#[test]
fn recycling_refunds_the_ten_yuan_deposit_and_caps_redemptions() {
    let plugin = load("recycling-points");
    let good = run_example(&plugin, "recycling-points", "return-box-good.json");
    let Ok(Answer::ReturnAward(award)) = good.answer else {
        panic!("{:?}", good.answer)
    };
    assert_eq!(award.refund, 2 * 1000);
    assert!(award.points > 0);
    let damaged = run_example(&plugin, "recycling-points", "return-box-damaged.json");
    let Ok(Answer::ReturnAward(award)) = damaged.answer else {
        panic!("{:?}", damaged.answer)
    };
    assert!(award.refund < 3 * 1000);
    let capped = run_example(&plugin, "recycling-points", "redeem-capped.json");
    let Ok(Answer::RedemptionGrant(grant)) = capped.answer else {
        panic!("{:?}", capped.answer)
    };
    assert_eq!(grant.discount, 4590 / 2, "at most half the basket");
    assert!(grant.points_used < 3000);
}

#[test]
fn recycling_refuses_a_zero_count_and_an_overdrawn_redemption() {
    let plugin = load("recycling-points");
    let context = CallContext::default();
    let customer = json!({"pseudonym": "p-1", "elderly_or_disabled": false, "tier": "Basic"});
    let zero = json!({"customer": customer, "kind": "DepositBox", "count": 0, "condition": "Good"});
    assert!(refusal(&call(&plugin, &context, zero)).contains("count"));
    let overdrawn =
        json!({"customer": customer, "balance": 50, "requested": 500, "basket_total": 10000});
    let text = refusal(&call(&plugin, &context, overdrawn));
    assert!(text.contains("500") && text.contains("50"), "{text}");
}

#[test]
fn data_sharing_drops_cohorts_below_k_and_keeps_only_allowed_fields() {
    let plugin = load("data-sharing");
    let outcome = run_example(&plugin, "data-sharing", "weekly-report.json");
    let Ok(Answer::Report(report)) = &outcome.answer else {
        panic!("{:?}", outcome.answer)
    };
    assert!(report.suppressed > 0, "the example has small cohorts");
    assert!(report.rows.iter().all(|row| row.customers >= 5));
    let minimal = run_example(&plugin, "data-sharing", "daily-minimal.json");
    let Ok(Answer::Report(report)) = &minimal.answer else {
        panic!("{:?}", minimal.answer)
    };
    assert!(!report.rows.is_empty());
    assert!(
        report
            .rows
            .iter()
            .all(|row| row.cohort.is_none() && row.revenue.is_none())
    );
}

#[test]
fn data_sharing_with_a_high_k_shares_nothing() {
    let plugin = load("data-sharing");
    let (mut context, request) = example("data-sharing", "weekly-report.json");
    context.config = Arc::new([("k".to_string(), "100000".to_string())].into());
    let outcome = call(&plugin, &context, request);
    let Ok(Answer::Report(report)) = &outcome.answer else {
        panic!("{:?}", outcome.answer)
    };
    assert!(report.rows.is_empty() && report.suppressed > 0);
}

#[test]
fn data_sharing_names_the_bad_row() {
    let plugin = load("data-sharing");
    let text = refusal(&run_example(&plugin, "data-sharing", "bad-date.json"));
    assert!(text.contains("rows[2]"), "{text}");
}
