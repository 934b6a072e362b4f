//! Presale threshold: a community presale (社区预售) goes ahead when residents have
//! pre-ordered the minimum quantity; a campaign that falls just short at the deadline is
//! extended once; the supplier is ordered the pre-orders plus a safety margin. Every
//! evaluation also reports whether presale covers the alliance's minimum share of the
//! product's normal weekly volume.
//!
//! Settings (all optional):
//! - `extend-threshold-percent` (80): a campaign short of its minimum at the deadline is
//!   extended once when pre-orders reach this share of the minimum.
//! - `extend-days` (2): days an extension adds to the deadline.
//! - `safety-margin-percent` (5): ordered from the supplier on top of the pre-orders,
//!   rounded up to a whole unit, so a damaged box does not leave a resident without.
//! - `min-share-percent` (20): the alliance rule — presale should cover at least this
//!   share of the product's normal weekly volume.
//! - `min-lead-days` (3): residents pre-order at least this many days ahead, so the
//!   deadline must be at least this long after pre-orders opened.
//!
//! A campaign whose dates or counts cannot be right is refused as invalid input.

use linli_sdk::config;
use linli_sdk::presale::*;

pub struct PresaleThreshold;

linli_sdk::export_presale!(PresaleThreshold);

impl Presale for PresaleThreshold {
    fn evaluate(campaign: Campaign) -> Result<Evaluation, PolicyError> {
        let settings = Settings::from_config()?;
        evaluate(&campaign, &settings, linli_sdk::clock::now())
    }
}

/// The install's settings, parsed once per call.
#[derive(Debug, Clone)]
pub struct Settings {
    pub extend_threshold_percent: i64,
    pub extend_days: i64,
    pub safety_margin_percent: i64,
    pub min_share_percent: i64,
    pub min_lead_days: i64,
}

impl Settings {
    pub fn from_config() -> Result<Self, PolicyError> {
        let settings = Settings {
            extend_threshold_percent: config::parse_or("extend-threshold-percent", 80)?,
            extend_days: config::parse_or("extend-days", 2)?,
            safety_margin_percent: config::parse_or("safety-margin-percent", 5)?,
            min_share_percent: config::parse_or("min-share-percent", 20)?,
            min_lead_days: config::parse_or("min-lead-days", 3)?,
        };
        for (key, value) in [
            (
                "extend-threshold-percent",
                settings.extend_threshold_percent,
            ),
            ("safety-margin-percent", settings.safety_margin_percent),
            ("min-share-percent", settings.min_share_percent),
        ] {
            if !(0..=100).contains(&value) {
                return Err(PolicyError::BadConfig(format!(
                    "setting `{key}` = {value}: a percentage must be between 0 and 100"
                )));
            }
        }
        for (key, value) in [
            ("extend-days", settings.extend_days),
            ("min-lead-days", settings.min_lead_days),
        ] {
            if !(1..=30).contains(&value) {
                return Err(PolicyError::BadConfig(format!(
                    "setting `{key}` = {value}: must be between 1 and 30 days"
                )));
            }
        }
        Ok(settings)
    }
}

/// Evaluate a campaign at `now`: the whole policy, free of host calls.
pub fn evaluate(
    campaign: &Campaign,
    settings: &Settings,
    now: Timestamp,
) -> Result<Evaluation, PolicyError> {
    check(campaign, settings)?;
    let preordered = i64::from(campaign.preordered_qty);
    let min_qty = i64::from(campaign.min_qty);
    let presale_share_permille = share_permille(campaign);
    let meets_share_rule = i64::from(presale_share_permille) >= settings.min_share_percent * 10;

    let (decision, supplier_qty, new_deadline, why) = if preordered >= min_qty {
        let margin = ceil_percent_of(preordered, settings.safety_margin_percent);
        // Saturate rather than wrap: an order that large is for the owner to question.
        let qty = u32::try_from(preordered + margin).unwrap_or(u32::MAX);
        let why = format!(
            "成团 go: {preordered} units pre-ordered in {} orders (minimum {min_qty}); \
             order {qty} from {} ({preordered} + {}% safety margin)",
            campaign.preorder_count, campaign.supplier, settings.safety_margin_percent
        );
        (Decision::Go, qty, None, why)
    } else if now < campaign.deadline {
        let why = format!(
            "继续预售 wait: {preordered} of minimum {min_qty} units pre-ordered; \
             {} left until the deadline",
            time_left(campaign.deadline - now)
        );
        (Decision::Wait, 0, None, why)
    } else if !campaign.extended && preordered * 100 >= min_qty * settings.extend_threshold_percent
    {
        let why = format!(
            "延期 extend: pre-orders {preordered} of minimum {min_qty} ({}%) at the deadline, \
             at least the {}% needed to extend; deadline extended once by {} days",
            preordered * 100 / min_qty,
            settings.extend_threshold_percent,
            settings.extend_days
        );
        let new_deadline = campaign.deadline + settings.extend_days * DAY_MS;
        (Decision::Extend, 0, Some(new_deadline), why)
    } else {
        let why = if preordered == 0 {
            "不成团 no-go: no pre-orders by the deadline; the campaign is cancelled".to_string()
        } else if campaign.extended {
            format!(
                "不成团 no-go: pre-orders {preordered} of minimum {min_qty} by the deadline, \
                 already extended once; pre-orders are released"
            )
        } else {
            format!(
                "不成团 no-go: pre-orders {preordered} of minimum {min_qty} by the deadline, \
                 below the {}% needed to extend; pre-orders are released",
                settings.extend_threshold_percent
            )
        };
        (Decision::NoGo, 0, None, why)
    };

    Ok(Evaluation {
        decision,
        supplier_qty,
        new_deadline,
        presale_share_permille,
        meets_share_rule,
        reason: format!(
            "{why}; {}",
            share_text(campaign, presale_share_permille, meets_share_rule, settings)
        ),
    })
}

/// Reject a campaign whose fields contradict each other or the presale rules.
fn check(campaign: &Campaign, settings: &Settings) -> Result<(), PolicyError> {
    let invalid = |text: String| {
        Err(PolicyError::InvalidInput(format!(
            "campaign {}: {text}",
            campaign.id
        )))
    };
    if campaign.sku.trim().is_empty() {
        return invalid("sku is empty: name the SKU being pre-sold".to_string());
    }
    if campaign.supplier.trim().is_empty() {
        return invalid("supplier is empty: name the local supplier to order from".to_string());
    }
    if campaign.min_qty == 0 {
        return invalid("min-qty is 0: a campaign needs a minimum of at least 1 unit".to_string());
    }
    let lead = campaign.deadline - campaign.opened_at;
    if lead <= 0 {
        return invalid("deadline must be after opened-at".to_string());
    }
    if lead < settings.min_lead_days * DAY_MS {
        return invalid(format!(
            "deadline must be at least {days} days after opened-at: residents pre-order \
             {days} days ahead (it is {} after)",
            time_left(lead),
            days = settings.min_lead_days
        ));
    }
    if campaign.preorder_count > campaign.preordered_qty {
        return invalid(format!(
            "preorder-count {} is more than preordered-qty {}: every pre-order is for at least 1 unit",
            campaign.preorder_count, campaign.preordered_qty
        ));
    }
    Ok(())
}

/// Pre-ordered units per mille of the normal weekly volume. With no volume on record,
/// any pre-order counts as the whole of it.
fn share_permille(campaign: &Campaign) -> u32 {
    let preordered = u64::from(campaign.preordered_qty);
    if campaign.weekly_volume == 0 {
        return if preordered > 0 { 1000 } else { 0 };
    }
    let permille = preordered * 1000 / u64::from(campaign.weekly_volume);
    u32::try_from(permille).unwrap_or(u32::MAX)
}

/// The share rule in words, for the end of the reason.
fn share_text(campaign: &Campaign, permille: u32, meets: bool, settings: &Settings) -> String {
    let share = format!("{}.{}%", permille / 10, permille % 10);
    let covers = if campaign.weekly_volume == 0 {
        format!("no weekly volume on record, so presale counts as {share} of it")
    } else {
        format!("presale covers {share} of weekly volume")
    };
    let rule = settings.min_share_percent;
    if meets {
        format!("预售占比 {covers} (rule: ≥{rule}%)")
    } else {
        format!("预售占比 {covers}, below the alliance rule of ≥{rule}%")
    }
}

/// A positive duration in days, hours and minutes, rounded up to a minute.
fn time_left(ms: Timestamp) -> String {
    let minutes = (ms + MINUTE_MS - 1) / MINUTE_MS;
    let (days, hours, mins) = (minutes / (24 * 60), minutes % (24 * 60) / 60, minutes % 60);
    if days > 0 {
        format!("{days} d {hours} h")
    } else if hours > 0 {
        format!("{hours} h {mins} min")
    } else {
        format!("{mins} min")
    }
}

fn ceil_percent_of(amount: i64, percent: i64) -> i64 {
    (amount * percent + 99) / 100
}

#[cfg(test)]
mod tests {
    use super::*;
    use linli_sdk::testing::{TestHost, load_example};

    const NOW: Timestamp = 1_795_572_000_000; // 2026-11-25T02:00:00Z, 10:00 in Beijing

    /// 30 boxes minimum, 150 a week normally, pre-orders opened 4 days before the deadline.
    fn campaign(preordered: u32, count: u32, deadline_in: Timestamp) -> Campaign {
        let deadline = NOW + deadline_in;
        Campaign {
            id: "PS-2611-STRAW".to_string(),
            sku: "STRAW-2KG".to_string(),
            product: "Strawberries 2 kg box".to_string(),
            supplier: "Qingshan Farm".to_string(),
            opened_at: deadline - 4 * DAY_MS,
            deadline,
            min_qty: 30,
            preordered_qty: preordered,
            preorder_count: count,
            weekly_volume: 150,
            extended: false,
        }
    }

    fn run(host: &TestHost, campaign: Campaign) -> Result<Evaluation, PolicyError> {
        host.run(|| PresaleThreshold::evaluate(campaign))
    }

    fn at_now(campaign: Campaign) -> Result<Evaluation, PolicyError> {
        run(&TestHost::new().at(NOW), campaign)
    }

    fn invalid_text(result: Result<Evaluation, PolicyError>) -> String {
        match result {
            Err(PolicyError::InvalidInput(text)) => text,
            other => panic!("expected invalid input, got {other:?}"),
        }
    }

    #[test]
    fn minimum_reached_goes_and_orders_preorders_plus_margin_rounded_up() {
        let evaluation = at_now(campaign(36, 21, -HOUR_MS)).unwrap();
        assert_eq!(evaluation.decision, Decision::Go);
        // 36 + ceil(36 × 5%) = 36 + ceil(1.8) = 38
        assert_eq!(evaluation.supplier_qty, 38);
        assert_eq!(evaluation.new_deadline, None);
        assert!(evaluation.reason.contains("order 38 from Qingshan Farm"));
    }

    #[test]
    fn minimum_reached_before_the_deadline_goes_at_once() {
        let evaluation = at_now(campaign(30, 30, DAY_MS)).unwrap();
        assert_eq!(evaluation.decision, Decision::Go);
        assert_eq!(evaluation.supplier_qty, 32);
    }

    #[test]
    fn safety_margin_setting_changes_the_supplier_quantity() {
        let host = TestHost::new()
            .at(NOW)
            .with_config("safety-margin-percent", "0");
        let evaluation = run(&host, campaign(36, 21, -HOUR_MS)).unwrap();
        assert_eq!(evaluation.supplier_qty, 36);
    }

    #[test]
    fn short_of_minimum_before_the_deadline_waits() {
        let evaluation = at_now(campaign(12, 9, 2 * DAY_MS + 4 * HOUR_MS)).unwrap();
        assert_eq!(evaluation.decision, Decision::Wait);
        assert_eq!(evaluation.supplier_qty, 0);
        assert_eq!(evaluation.new_deadline, None);
        assert!(evaluation.reason.contains("12 of minimum 30"));
        assert!(evaluation.reason.contains("2 d 4 h left"));
    }

    #[test]
    fn close_to_minimum_at_the_deadline_extends_once() {
        // 24 of 30 is exactly 80%.
        let evaluation = at_now(campaign(24, 15, -HOUR_MS)).unwrap();
        assert_eq!(evaluation.decision, Decision::Extend);
        assert_eq!(evaluation.supplier_qty, 0);
        assert_eq!(evaluation.new_deadline, Some(NOW - HOUR_MS + 2 * DAY_MS));
        assert!(
            evaluation
                .reason
                .contains("pre-orders 24 of minimum 30 (80%)")
        );
    }

    #[test]
    fn the_deadline_itself_counts_as_passed() {
        let evaluation = at_now(campaign(24, 15, 0)).unwrap();
        assert_eq!(evaluation.decision, Decision::Extend);
    }

    #[test]
    fn extend_days_setting_sets_the_new_deadline() {
        let host = TestHost::new().at(NOW).with_config("extend-days", "3");
        let evaluation = run(&host, campaign(27, 15, -HOUR_MS)).unwrap();
        assert_eq!(evaluation.new_deadline, Some(NOW - HOUR_MS + 3 * DAY_MS));
    }

    #[test]
    fn close_but_already_extended_is_no_go() {
        let mut extended = campaign(26, 15, -HOUR_MS);
        extended.extended = true;
        let evaluation = at_now(extended).unwrap();
        assert_eq!(evaluation.decision, Decision::NoGo);
        assert_eq!(evaluation.new_deadline, None);
        assert!(evaluation.reason.contains("pre-orders 26 of minimum 30"));
        assert!(evaluation.reason.contains("already extended once"));
    }

    #[test]
    fn below_the_extend_threshold_at_the_deadline_is_no_go() {
        // 23 of 30 is 76.7%, under 80%.
        let evaluation = at_now(campaign(23, 15, -HOUR_MS)).unwrap();
        assert_eq!(evaluation.decision, Decision::NoGo);
        assert_eq!(evaluation.supplier_qty, 0);
        assert!(evaluation.reason.contains("pre-orders 23 of minimum 30"));
    }

    #[test]
    fn zero_preorders_at_the_deadline_says_no_preorders() {
        let evaluation = at_now(campaign(0, 0, -HOUR_MS)).unwrap();
        assert_eq!(evaluation.decision, Decision::NoGo);
        assert!(evaluation.reason.contains("no pre-orders"));
        assert_eq!(evaluation.presale_share_permille, 0);
        assert!(!evaluation.meets_share_rule);
    }

    #[test]
    fn share_is_permille_of_weekly_volume_and_checked_against_the_rule() {
        let mut strawberries = campaign(47, 30, -HOUR_MS);
        strawberries.weekly_volume = 200;
        let evaluation = at_now(strawberries).unwrap();
        assert_eq!(evaluation.presale_share_permille, 235);
        assert!(evaluation.meets_share_rule);
        assert!(
            evaluation
                .reason
                .contains("presale covers 23.5% of weekly volume (rule: ≥20%)")
        );

        let evaluation = at_now(campaign(29, 20, -HOUR_MS)).unwrap();
        assert_eq!(evaluation.presale_share_permille, 193);
        assert!(!evaluation.meets_share_rule);
        assert!(
            evaluation
                .reason
                .contains("below the alliance rule of ≥20%")
        );
    }

    #[test]
    fn share_rule_is_met_at_exactly_the_minimum_share() {
        let evaluation = at_now(campaign(30, 20, -HOUR_MS)).unwrap();
        assert_eq!(evaluation.presale_share_permille, 200);
        assert!(evaluation.meets_share_rule);
    }

    #[test]
    fn no_weekly_volume_counts_any_preorder_as_the_whole_volume() {
        let mut new_product = campaign(5, 5, DAY_MS);
        new_product.weekly_volume = 0;
        let evaluation = at_now(new_product.clone()).unwrap();
        assert_eq!(evaluation.presale_share_permille, 1000);
        assert!(evaluation.meets_share_rule);
        assert!(evaluation.reason.contains("no weekly volume on record"));

        new_product.preordered_qty = 0;
        new_product.preorder_count = 0;
        let evaluation = at_now(new_product).unwrap();
        assert_eq!(evaluation.presale_share_permille, 0);
        assert!(!evaluation.meets_share_rule);
    }

    #[test]
    fn huge_counts_saturate_instead_of_overflowing() {
        let mut huge = campaign(u32::MAX, 1, -HOUR_MS);
        huge.weekly_volume = 1;
        let evaluation = at_now(huge).unwrap();
        assert_eq!(evaluation.presale_share_permille, u32::MAX);
        assert_eq!(evaluation.supplier_qty, u32::MAX);
    }

    #[test]
    fn deadline_less_than_three_days_after_opening_is_invalid() {
        let mut rushed = campaign(10, 5, DAY_MS);
        rushed.opened_at = rushed.deadline - 2 * DAY_MS;
        let text = invalid_text(at_now(rushed));
        assert!(text.contains("deadline must be at least 3 days after opened-at"));
        assert!(text.contains("residents pre-order 3 days ahead"));
    }

    #[test]
    fn exactly_three_days_of_lead_is_enough() {
        let mut tight = campaign(10, 5, DAY_MS);
        tight.opened_at = tight.deadline - 3 * DAY_MS;
        assert_eq!(at_now(tight).unwrap().decision, Decision::Wait);
    }

    #[test]
    fn min_lead_days_setting_is_honoured() {
        let mut rushed = campaign(10, 5, DAY_MS);
        rushed.opened_at = rushed.deadline - 2 * DAY_MS;
        let host = TestHost::new().at(NOW).with_config("min-lead-days", "2");
        assert_eq!(run(&host, rushed).unwrap().decision, Decision::Wait);
    }

    #[test]
    fn deadline_not_after_opening_is_invalid() {
        let mut backwards = campaign(10, 5, DAY_MS);
        backwards.opened_at = backwards.deadline;
        let text = invalid_text(at_now(backwards));
        assert!(text.contains("deadline must be after opened-at"));
    }

    #[test]
    fn more_orders_than_units_is_invalid() {
        let text = invalid_text(at_now(campaign(10, 11, DAY_MS)));
        assert!(text.contains("preorder-count 11") && text.contains("preordered-qty 10"));
    }

    #[test]
    fn empty_sku_or_supplier_is_invalid() {
        let mut no_sku = campaign(10, 5, DAY_MS);
        no_sku.sku = " ".to_string();
        assert!(invalid_text(at_now(no_sku)).contains("sku"));
        let mut no_supplier = campaign(10, 5, DAY_MS);
        no_supplier.supplier = String::new();
        assert!(invalid_text(at_now(no_supplier)).contains("supplier"));
    }

    #[test]
    fn zero_minimum_is_invalid() {
        let mut no_minimum = campaign(10, 5, DAY_MS);
        no_minimum.min_qty = 0;
        assert!(invalid_text(at_now(no_minimum)).contains("min-qty"));
    }

    #[test]
    fn bad_setting_names_the_key() {
        let host = TestHost::new()
            .at(NOW)
            .with_config("extend-threshold-percent", "120");
        let err = run(&host, campaign(10, 5, DAY_MS)).unwrap_err();
        assert!(
            matches!(err, PolicyError::BadConfig(text) if text.contains("extend-threshold-percent"))
        );
        let host = TestHost::new().at(NOW).with_config("extend-days", "two");
        let err = run(&host, campaign(10, 5, DAY_MS)).unwrap_err();
        assert!(matches!(err, PolicyError::BadConfig(text) if text.contains("extend-days")));
        let host = TestHost::new().at(NOW).with_config("min-lead-days", "0");
        let err = run(&host, campaign(10, 5, DAY_MS)).unwrap_err();
        assert!(matches!(err, PolicyError::BadConfig(text) if text.contains("min-lead-days")));
    }

    fn example(name: &str) -> Result<Evaluation, PolicyError> {
        let path = format!("{}/examples/{name}", env!("CARGO_MANIFEST_DIR"));
        let example = load_example::<Campaign>(path);
        example
            .host
            .run(|| PresaleThreshold::evaluate(example.request))
    }

    #[test]
    fn shipped_examples_decide_as_documented() {
        let go = example("go.json").unwrap();
        assert_eq!(go.decision, Decision::Go);
        // 36 boxes + ceil(1.8) safety margin; 36 of 150 a week is 24.0%.
        assert_eq!(go.supplier_qty, 38);
        assert_eq!(go.presale_share_permille, 240);
        assert!(go.meets_share_rule);

        let extend = example("extend.json").unwrap();
        assert_eq!(extend.decision, Decision::Extend);
        // Deadline 2026-11-25T08:00+08:00, plus 2 days.
        assert_eq!(extend.new_deadline, Some(1_795_737_600_000));

        let wait = example("wait.json").unwrap();
        assert_eq!(wait.decision, Decision::Wait);
        assert_eq!(wait.supplier_qty, 0);

        let zero = example("no-go-zero-preorders.json").unwrap();
        assert_eq!(zero.decision, Decision::NoGo);
        assert!(zero.reason.contains("no pre-orders"));

        let after_extension = example("no-go-after-extension.json").unwrap();
        assert_eq!(after_extension.decision, Decision::NoGo);
        assert!(after_extension.reason.contains("already extended once"));

        let text = invalid_text(example("bad-deadline.json"));
        assert!(text.contains("deadline must be at least 3 days after opened-at"));
    }
}
