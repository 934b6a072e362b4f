//! Elderly delivery: errand-and-delivery (代购+送达) for elderly or disabled residents.
//! A small service fee by distance, waived for some member tiers and for emergencies;
//! the courier free first takes the job; ordinary deliveries arrive in the requested
//! window, emergencies as soon as possible, and the plan says plainly whether the
//! 30-minute emergency response promise (30分钟应急响应) can be kept.
//!
//! Settings (all optional):
//! - `base-fee-cents` (300): service fee for every delivery.
//! - `per-km-fee-cents` (100) and `free-km` (1): added for every started kilometre
//!   beyond the first `free-km` kilometres.
//! - `max-distance-m` (5000): farther deliveries are refused.
//! - `waive-for-tiers` (`silver,gold`): comma-separated member tiers (`none`, `basic`,
//!   `silver`, `gold`) that pay no fee.
//! - `waive-emergency` (true): emergencies pay no fee.
//! - `speed-m-per-min` (200): courier speed for the arrival estimate.
//! - `prep-minutes` (5) and `emergency-prep-minutes` (2): time to pick and pack before
//!   the courier leaves.
//! - `emergency-promise-minutes` (30): the emergency response promise.
//! - `require-eligibility` (true): only residents registered as elderly or disabled may
//!   use the service.

use linli_sdk::config;
use linli_sdk::elderly_delivery::*;

pub struct ElderlyDeliveryPolicy;

linli_sdk::export_elderly_delivery!(ElderlyDeliveryPolicy);

impl ElderlyDelivery for ElderlyDeliveryPolicy {
    fn plan(request: DeliveryRequest) -> Result<DeliveryPlan, PolicyError> {
        let settings = Settings::from_config()?;
        plan(&request, &settings, linli_sdk::clock::now())
    }
}

/// The install's settings, parsed once per call.
#[derive(Debug, Clone)]
pub struct Settings {
    pub base_fee_cents: Cents,
    pub per_km_fee_cents: Cents,
    pub free_km: i64,
    pub max_distance_m: i64,
    pub waive_for_tiers: Vec<MemberTier>,
    pub waive_emergency: bool,
    pub speed_m_per_min: i64,
    pub prep_minutes: i64,
    pub emergency_prep_minutes: i64,
    pub emergency_promise_minutes: i64,
    pub require_eligibility: bool,
}

const TIERS: [MemberTier; 4] = [
    MemberTier::None,
    MemberTier::Basic,
    MemberTier::Silver,
    MemberTier::Gold,
];

impl Settings {
    pub fn from_config() -> Result<Self, PolicyError> {
        let settings = Settings {
            base_fee_cents: config::parse_or("base-fee-cents", 300)?,
            per_km_fee_cents: config::parse_or("per-km-fee-cents", 100)?,
            free_km: config::parse_or("free-km", 1)?,
            max_distance_m: config::parse_or("max-distance-m", 5000)?,
            waive_for_tiers: waive_for_tiers()?,
            waive_emergency: config::parse_or("waive-emergency", true)?,
            speed_m_per_min: config::parse_or("speed-m-per-min", 200)?,
            prep_minutes: config::parse_or("prep-minutes", 5)?,
            emergency_prep_minutes: config::parse_or("emergency-prep-minutes", 2)?,
            emergency_promise_minutes: config::parse_or("emergency-promise-minutes", 30)?,
            require_eligibility: config::parse_or("require-eligibility", true)?,
        };
        for (key, value) in [
            ("base-fee-cents", settings.base_fee_cents),
            ("per-km-fee-cents", settings.per_km_fee_cents),
            ("free-km", settings.free_km),
            ("max-distance-m", settings.max_distance_m),
            ("prep-minutes", settings.prep_minutes),
            ("emergency-prep-minutes", settings.emergency_prep_minutes),
        ] {
            if value < 0 {
                return Err(PolicyError::BadConfig(format!(
                    "setting `{key}` = {value}: must not be negative"
                )));
            }
        }
        for (key, value) in [
            ("speed-m-per-min", settings.speed_m_per_min),
            (
                "emergency-promise-minutes",
                settings.emergency_promise_minutes,
            ),
        ] {
            if value < 1 {
                return Err(PolicyError::BadConfig(format!(
                    "setting `{key}` = {value}: must be at least 1"
                )));
            }
        }
        Ok(settings)
    }
}

/// The `waive-for-tiers` setting as tiers; an unknown tier name is a config error rather
/// than a silently ignored waiver.
fn waive_for_tiers() -> Result<Vec<MemberTier>, PolicyError> {
    config::list_or("waive-for-tiers", &["silver", "gold"])
        .iter()
        .map(|name| {
            TIERS
                .into_iter()
                .find(|tier| tier_name(*tier) == name.to_lowercase())
                .ok_or_else(|| {
                    PolicyError::BadConfig(format!(
                        "setting `waive-for-tiers`: unknown tier {name:?}; tiers are none, basic, silver, gold"
                    ))
                })
        })
        .collect()
}

fn tier_name(tier: MemberTier) -> &'static str {
    match tier {
        MemberTier::None => "none",
        MemberTier::Basic => "basic",
        MemberTier::Silver => "silver",
        MemberTier::Gold => "gold",
    }
}

/// Plan a request received at `now`: the whole policy, free of host calls.
pub fn plan(
    request: &DeliveryRequest,
    settings: &Settings,
    now: Timestamp,
) -> Result<DeliveryPlan, PolicyError> {
    check(request)?;
    if settings.require_eligibility && !request.customer.elderly_or_disabled {
        return Err(PolicyError::Refused(format!(
            "request {}: customer {} is not registered as elderly or disabled; errand-and-delivery \
             (代购+送达) is a service for elderly and disabled residents",
            request.id, request.customer.pseudonym
        )));
    }
    let distance = i64::from(request.distance_m);
    if distance > settings.max_distance_m {
        return Err(PolicyError::Refused(format!(
            "request {}: distance {distance} m is beyond the delivery limit of {} m",
            request.id, settings.max_distance_m
        )));
    }

    let mut notes = Vec::new();
    let (fee, fee_waived) = fee(request, settings, &mut notes);
    let priority = if request.emergency {
        Priority::Emergency
    } else if request.window_start <= now + 60 * MINUTE_MS {
        Priority::High
    } else {
        Priority::Normal
    };

    let promise = settings.emergency_promise_minutes;
    let act_now = "call the resident and the community emergency contact now; \
                   for a medical emergency call 120";

    // The courier free first; `min_by_key` keeps the first of equals, so list order
    // breaks ties.
    let Some(courier) = request
        .couriers
        .iter()
        .min_by_key(|courier| courier.free_at)
    else {
        if request.emergency {
            notes.push(format!(
                "暂无配送员在班 no courier on shift: the {promise}-minute emergency promise \
                 cannot be met; {act_now}"
            ));
        } else {
            notes.push(
                "暂无配送员在班 no courier on shift: call in a courier or agree a later time \
                 with the resident"
                    .to_string(),
            );
        }
        return Ok(DeliveryPlan {
            fee,
            fee_waived,
            priority,
            courier: None,
            eta: None,
            meets_emergency_promise: request.emergency.then_some(false),
            notes,
        });
    };

    let travel_minutes = ceil_div(distance, settings.speed_m_per_min);
    let travel = travel_minutes * MINUTE_MS;
    let prep = if request.emergency {
        settings.emergency_prep_minutes
    } else {
        settings.prep_minutes
    };
    let mut departure = now.max(courier.free_at) + prep * MINUTE_MS;
    if !request.emergency {
        // Leave late enough not to knock before the resident expects us.
        departure = departure.max(request.window_start - travel);
    }
    let eta = departure + travel;
    notes.push(format!(
        "配送员 courier {}: leaves in {} min, {distance} m takes about {travel_minutes} min, \
         arrives in {} min",
        courier.id,
        minutes_after(departure, now),
        minutes_after(eta, now)
    ));
    // For an emergency the promise note below says when we arrive and what to do.
    if !request.emergency && eta > request.window_end {
        notes.push(format!(
            "cannot arrive within the requested window; earliest arrival in {} min, {} min after \
             the window ends: agree the time with the resident",
            minutes_after(eta, now),
            minutes_after(eta, request.window_end)
        ));
    }

    let promised_by = now + promise * MINUTE_MS;
    let meets_emergency_promise = request.emergency.then_some(eta <= promised_by);
    match meets_emergency_promise {
        Some(true) => notes.push(format!(
            "{promise}分钟应急响应 emergency: arrives in {} min, within the {promise}-minute promise",
            minutes_after(eta, now)
        )),
        Some(false) => notes.push(format!(
            "无法兑现{promise}分钟应急响应 the {promise}-minute emergency promise cannot be met: \
             earliest arrival in {} min (courier {} is free in {} min); {act_now}",
            minutes_after(eta, now),
            courier.id,
            minutes_after(courier.free_at.max(now), now)
        )),
        None => {}
    }

    Ok(DeliveryPlan {
        fee,
        fee_waived,
        priority,
        courier: Some(courier.id.clone()),
        eta: Some(eta),
        meets_emergency_promise,
        notes,
    })
}

/// Reject a request that cannot be planned as it stands.
fn check(request: &DeliveryRequest) -> Result<(), PolicyError> {
    let invalid = |text: String| {
        Err(PolicyError::InvalidInput(format!(
            "request {}: {text}",
            request.id
        )))
    };
    if request.window_end < request.window_start {
        return invalid("window-end is before window-start".to_string());
    }
    if request.items.is_empty() {
        return invalid("items: nothing to deliver".to_string());
    }
    if let Some((index, item)) = request
        .items
        .iter()
        .enumerate()
        .find(|(_, item)| item.qty == 0)
    {
        return invalid(format!("item {index} (SKU {}): qty is 0", item.sku));
    }
    Ok(())
}

/// The service fee and whether it was waived, with a note saying how it came about.
fn fee(request: &DeliveryRequest, settings: &Settings, notes: &mut Vec<String>) -> (Cents, bool) {
    let free_m = settings.free_km * 1000;
    let charged_km = ceil_div((i64::from(request.distance_m) - free_m).max(0), 1000);
    let fee = settings.base_fee_cents + settings.per_km_fee_cents * charged_km;
    let tier = request.customer.tier;
    let waived_why = if settings.waive_for_tiers.contains(&tier) {
        Some(format!("for {} members", tier_name(tier)))
    } else if request.emergency && settings.waive_emergency {
        Some("for an emergency".to_string())
    } else {
        None
    };
    if let Some(why) = waived_why {
        notes.push(format!("服务费免收 service fee {} waived {why}", yuan(fee)));
        return (0, true);
    }
    notes.push(if charged_km == 0 {
        format!(
            "服务费 service fee {}: base fee, within the first {} km",
            yuan(fee),
            settings.free_km
        )
    } else {
        format!(
            "服务费 service fee {}: {} base + {charged_km} km × {} beyond the first {} km",
            yuan(fee),
            yuan(settings.base_fee_cents),
            yuan(settings.per_km_fee_cents),
            settings.free_km
        )
    });
    (fee, false)
}

fn yuan(amount: Cents) -> String {
    format!("¥{}.{:02}", amount / 100, amount % 100)
}

/// Whole minutes from `from` to `to`, rounded up.
fn minutes_after(to: Timestamp, from: Timestamp) -> i64 {
    ceil_div(to - from, MINUTE_MS)
}

/// `value / by` rounded up, for a non-negative `value` and positive `by`.
fn ceil_div(value: i64, by: i64) -> i64 {
    (value + by - 1) / by
}

#[cfg(test)]
mod tests {
    use super::*;
    use linli_sdk::testing::{TestHost, load_example};

    const NOW: Timestamp = 1_795_572_000_000; // 2026-11-25T02:00:00Z, 10:00 in Beijing

    fn item(sku: &str, qty: u32, price: Cents, category: &str) -> BasketLine {
        BasketLine {
            sku: sku.to_string(),
            qty,
            unit_price: price,
            category: category.to_string(),
            local_produce: false,
            batch: None,
            expires_at: None,
        }
    }

    fn courier(id: &str, free_in: Timestamp) -> Courier {
        Courier {
            id: id.to_string(),
            free_at: NOW + free_in,
        }
    }

    /// A basic-tier elderly resident 2400 m away asking for 12:00–13:00, one courier free.
    fn request() -> DeliveryRequest {
        DeliveryRequest {
            id: "D-1125-07".to_string(),
            customer: CustomerRef {
                pseudonym: "p-7f3a19".to_string(),
                elderly_or_disabled: true,
                tier: MemberTier::Basic,
            },
            items: vec![
                item("RICE-5KG", 1, 3990, "staples"),
                item("OIL-1.8L", 1, 4590, "staples"),
            ],
            distance_m: 2400,
            window_start: NOW + 2 * HOUR_MS,
            window_end: NOW + 3 * HOUR_MS,
            emergency: false,
            couriers: vec![courier("C-01", 0)],
        }
    }

    fn emergency(distance_m: u32, couriers: Vec<Courier>) -> DeliveryRequest {
        DeliveryRequest {
            distance_m,
            window_start: NOW,
            window_end: NOW + 30 * MINUTE_MS,
            emergency: true,
            couriers,
            ..request()
        }
    }

    fn run(host: &TestHost, request: DeliveryRequest) -> Result<DeliveryPlan, PolicyError> {
        host.run(|| ElderlyDeliveryPolicy::plan(request))
    }

    fn at_now(request: DeliveryRequest) -> Result<DeliveryPlan, PolicyError> {
        run(&TestHost::new().at(NOW), request)
    }

    fn has_note(plan: &DeliveryPlan, text: &str) -> bool {
        plan.notes.iter().any(|note| note.contains(text))
    }

    #[test]
    fn fee_is_base_plus_each_started_km_beyond_the_free_km() {
        // 2400 m: 1400 m beyond the free km, so 2 started km.
        let plan = at_now(request()).unwrap();
        assert_eq!(plan.fee, 500);
        assert!(!plan.fee_waived);
        assert!(has_note(&plan, "¥5.00: ¥3.00 base + 2 km × ¥1.00"));
        let plan = at_now(DeliveryRequest {
            distance_m: 2000,
            ..request()
        })
        .unwrap();
        assert_eq!(plan.fee, 400);
    }

    #[test]
    fn within_the_free_km_only_the_base_fee_is_charged() {
        let plan = at_now(DeliveryRequest {
            distance_m: 800,
            ..request()
        })
        .unwrap();
        assert_eq!(plan.fee, 300);
        assert!(has_note(&plan, "within the first 1 km"));
    }

    #[test]
    fn silver_and_gold_members_pay_no_fee() {
        for tier in [MemberTier::Silver, MemberTier::Gold] {
            let mut member = request();
            member.customer.tier = tier;
            let plan = at_now(member).unwrap();
            assert_eq!((plan.fee, plan.fee_waived), (0, true));
            assert!(has_note(&plan, "¥5.00 waived for"));
        }
    }

    #[test]
    fn waived_tiers_follow_the_setting_case_insensitively() {
        let host = TestHost::new()
            .at(NOW)
            .with_config("waive-for-tiers", "Basic");
        let plan = run(&host, request()).unwrap();
        assert!(plan.fee_waived);
        let mut gold = request();
        gold.customer.tier = MemberTier::Gold;
        assert_eq!(run(&host, gold).unwrap().fee, 500);
    }

    #[test]
    fn emergencies_pay_no_fee_unless_configured() {
        let plan = at_now(emergency(1500, vec![courier("C-01", 0)])).unwrap();
        assert_eq!((plan.fee, plan.fee_waived), (0, true));
        assert!(has_note(&plan, "waived for an emergency"));
        let host = TestHost::new()
            .at(NOW)
            .with_config("waive-emergency", "false");
        let plan = run(&host, emergency(1500, vec![courier("C-01", 0)])).unwrap();
        assert_eq!((plan.fee, plan.fee_waived), (400, false));
    }

    #[test]
    fn ordinary_delivery_arrives_at_the_start_of_the_window() {
        // Travel 12 min; ready at 10:05 but leaves at 11:48 to arrive at 12:00.
        let plan = at_now(request()).unwrap();
        assert_eq!(plan.priority, Priority::Normal);
        assert_eq!(plan.courier.as_deref(), Some("C-01"));
        assert_eq!(plan.eta, Some(NOW + 2 * HOUR_MS));
        assert_eq!(plan.meets_emergency_promise, None);
        assert!(has_note(&plan, "leaves in 108 min"));
    }

    #[test]
    fn window_starting_within_the_hour_is_high_priority() {
        let soon = DeliveryRequest {
            window_start: NOW + 60 * MINUTE_MS,
            window_end: NOW + 2 * HOUR_MS,
            ..request()
        };
        assert_eq!(at_now(soon).unwrap().priority, Priority::High);
        let later = DeliveryRequest {
            window_start: NOW + 61 * MINUTE_MS,
            window_end: NOW + 2 * HOUR_MS,
            ..request()
        };
        assert_eq!(at_now(later).unwrap().priority, Priority::Normal);
    }

    #[test]
    fn courier_free_first_is_chosen_and_ties_go_to_the_first_listed() {
        let mut busy_first = request();
        busy_first.couriers = vec![
            courier("C-01", 40 * MINUTE_MS),
            courier("C-02", 10 * MINUTE_MS),
            courier("C-03", 10 * MINUTE_MS),
        ];
        assert_eq!(at_now(busy_first).unwrap().courier.as_deref(), Some("C-02"));
    }

    #[test]
    fn a_courier_free_in_the_past_leaves_from_now() {
        let mut ready = request();
        ready.window_start = NOW;
        ready.couriers = vec![courier("C-01", -HOUR_MS)];
        // now + 5 min prep + 12 min ride
        assert_eq!(at_now(ready).unwrap().eta, Some(NOW + 17 * MINUTE_MS));
    }

    #[test]
    fn late_arrival_is_explained() {
        let mut tight = request();
        tight.window_start = NOW;
        tight.window_end = NOW + 30 * MINUTE_MS;
        tight.couriers = vec![courier("C-01", 40 * MINUTE_MS)];
        let plan = at_now(tight).unwrap();
        assert_eq!(plan.eta, Some(NOW + 57 * MINUTE_MS));
        assert!(has_note(
            &plan,
            "cannot arrive within the requested window; earliest arrival in 57 min, 27 min after"
        ));
    }

    #[test]
    fn emergency_with_a_free_courier_meets_the_promise() {
        // 2 min prep + ceil(1500/200) = 8 min ride.
        let plan = at_now(emergency(1500, vec![courier("C-01", 0)])).unwrap();
        assert_eq!(plan.priority, Priority::Emergency);
        assert_eq!(plan.eta, Some(NOW + 10 * MINUTE_MS));
        assert_eq!(plan.meets_emergency_promise, Some(true));
        assert!(has_note(&plan, "within the 30-minute promise"));
    }

    #[test]
    fn emergency_ignores_a_later_window_start() {
        let mut request = emergency(1500, vec![courier("C-01", 0)]);
        request.window_start = NOW + HOUR_MS;
        request.window_end = NOW + 2 * HOUR_MS;
        assert_eq!(at_now(request).unwrap().eta, Some(NOW + 10 * MINUTE_MS));
    }

    #[test]
    fn emergency_arriving_exactly_at_the_promise_meets_it() {
        // 2 min prep + 10 min ride, courier free in 18 min: arrives at 30 min.
        let plan = at_now(emergency(2000, vec![courier("C-01", 18 * MINUTE_MS)])).unwrap();
        assert_eq!(plan.meets_emergency_promise, Some(true));
    }

    #[test]
    fn emergency_that_cannot_be_met_says_so_and_what_to_do() {
        let plan = at_now(emergency(3500, vec![courier("C-01", 20 * MINUTE_MS)])).unwrap();
        // 20 busy + 2 prep + 18 ride
        assert_eq!(plan.eta, Some(NOW + 40 * MINUTE_MS));
        assert_eq!(plan.meets_emergency_promise, Some(false));
        assert!(has_note(&plan, "30-minute emergency promise cannot be met"));
        assert!(has_note(&plan, "earliest arrival in 40 min"));
        assert!(has_note(
            &plan,
            "call the resident and the community emergency contact now"
        ));
        // Not also told to agree a later time: in an emergency there is none to agree.
        assert!(!has_note(&plan, "requested window"));
    }

    #[test]
    fn no_courier_gives_no_eta_and_says_so() {
        let mut alone = request();
        alone.couriers.clear();
        let plan = at_now(alone).unwrap();
        assert_eq!((plan.courier.as_deref(), plan.eta), (None, None));
        assert_eq!(plan.meets_emergency_promise, None);
        assert!(has_note(&plan, "no courier on shift"));
        assert_eq!(plan.fee, 500);
    }

    #[test]
    fn emergency_without_a_courier_cannot_meet_the_promise() {
        let plan = at_now(emergency(1500, vec![])).unwrap();
        assert_eq!(plan.meets_emergency_promise, Some(false));
        assert!(has_note(&plan, "no courier on shift"));
        assert!(has_note(&plan, "emergency promise cannot be met"));
    }

    #[test]
    fn customer_not_elderly_or_disabled_is_refused() {
        let mut walk_in = request();
        walk_in.customer.elderly_or_disabled = false;
        let err = at_now(walk_in.clone()).unwrap_err();
        assert!(
            matches!(err, PolicyError::Refused(text) if text.contains("not registered as elderly or disabled"))
        );
        let host = TestHost::new()
            .at(NOW)
            .with_config("require-eligibility", "false");
        assert!(run(&host, walk_in).is_ok());
    }

    #[test]
    fn too_far_is_refused_naming_distance_and_limit() {
        let far = DeliveryRequest {
            distance_m: 5001,
            ..request()
        };
        let err = at_now(far).unwrap_err();
        assert!(
            matches!(err, PolicyError::Refused(text) if text.contains("5001 m") && text.contains("5000 m"))
        );
        let limit = DeliveryRequest {
            distance_m: 5000,
            ..request()
        };
        assert_eq!(at_now(limit).unwrap().fee, 700);
    }

    #[test]
    fn window_ending_before_it_starts_is_invalid() {
        let mut backwards = request();
        backwards.window_end = backwards.window_start - MINUTE_MS;
        let err = at_now(backwards).unwrap_err();
        assert!(matches!(err, PolicyError::InvalidInput(text) if text.contains("window-end")));
    }

    #[test]
    fn empty_items_are_invalid() {
        let mut nothing = request();
        nothing.items.clear();
        let err = at_now(nothing).unwrap_err();
        assert!(
            matches!(err, PolicyError::InvalidInput(text) if text.contains("items: nothing to deliver"))
        );
    }

    #[test]
    fn item_with_zero_quantity_is_invalid() {
        let mut zero = request();
        zero.items[1].qty = 0;
        let err = at_now(zero).unwrap_err();
        assert!(
            matches!(err, PolicyError::InvalidInput(text) if text.contains("item 1 (SKU OIL-1.8L)"))
        );
    }

    #[test]
    fn bad_setting_names_the_key() {
        for (key, value) in [
            ("waive-for-tiers", "silver,platinum"),
            ("speed-m-per-min", "0"),
            ("waive-emergency", "yes"),
            ("base-fee-cents", "-100"),
        ] {
            let host = TestHost::new().at(NOW).with_config(key, value);
            let err = run(&host, request()).unwrap_err();
            assert!(
                matches!(&err, PolicyError::BadConfig(text) if text.contains(key)),
                "{key}: {err:?}"
            );
        }
    }

    fn example(name: &str) -> Result<DeliveryPlan, PolicyError> {
        let path = format!("{}/examples/{name}", env!("CARGO_MANIFEST_DIR"));
        let example = load_example::<DeliveryRequest>(path);
        example
            .host
            .run(|| ElderlyDeliveryPolicy::plan(example.request))
    }

    #[test]
    fn shipped_examples_plan_as_documented() {
        let routine = example("routine.json").unwrap();
        assert_eq!(routine.priority, Priority::Normal);
        assert_eq!((routine.fee, routine.fee_waived), (500, false));
        assert_eq!(routine.courier.as_deref(), Some("C-02"));
        // At the start of the 12:00–13:00 window.
        assert_eq!(routine.eta, Some(NOW + 2 * HOUR_MS));
        assert_eq!(routine.meets_emergency_promise, None);

        let met = example("emergency-met.json").unwrap();
        assert_eq!(met.priority, Priority::Emergency);
        assert!(met.fee_waived);
        assert_eq!(met.eta, Some(NOW + 15 * MINUTE_MS));
        assert_eq!(met.meets_emergency_promise, Some(true));

        let missed = example("emergency-cannot-be-met.json").unwrap();
        assert_eq!(missed.courier.as_deref(), Some("C-01"));
        assert_eq!(missed.eta, Some(NOW + 40 * MINUTE_MS));
        assert_eq!(missed.meets_emergency_promise, Some(false));
        assert!(has_note(
            &missed,
            "30-minute emergency promise cannot be met"
        ));

        let alone = example("no-courier.json").unwrap();
        assert_eq!(alone.priority, Priority::High);
        assert_eq!((alone.courier.as_deref(), alone.eta), (None, None));
        assert!(has_note(&alone, "no courier on shift"));

        let member = example("member-fee-waived.json").unwrap();
        assert_eq!((member.fee, member.fee_waived), (0, true));
        assert!(has_note(&member, "¥6.00 waived for silver members"));

        let far = example("too-far.json").unwrap_err();
        assert!(matches!(far, PolicyError::Refused(text) if text.contains("6200 m")));
    }
}
