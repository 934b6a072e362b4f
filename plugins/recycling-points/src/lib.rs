//! Recycling points (押金制循环箱): a reusable box carries a deposit that comes back with
//! the box, returned boxes and packaging earn points, and points pay for discounts.
//!
//! Settings (all optional):
//! - `deposit-cents` (1000): the deposit on one box, in cents.
//! - `damaged-refund-percent` (50): share of the deposit refunded for a damaged box.
//! - `points-per-box` (10): points for each box returned good or damaged.
//! - `points-per-package` (2): points for each piece of packaging, and for a box too
//!   broken to reuse (it goes to recycling as packaging, without a refund).
//! - `points-per-yuan` (100): points that buy one yuan of discount; at least 1.
//! - `max-discount-percent` (50): the largest share of a basket's total points may pay.
//! - `min-redeem-points` (100): a request for fewer points is granted nothing.
//!
//! A redemption takes only the points the granted discount needs, so no points are lost
//! to rounding or to the cap.

use linli_sdk::config;
use linli_sdk::recycling_points::*;

pub struct RecyclingPointsPolicy;

linli_sdk::export_recycling_points!(RecyclingPointsPolicy);

impl RecyclingPoints for RecyclingPointsPolicy {
    fn on_return(event: ReturnEvent) -> Result<ReturnAward, PolicyError> {
        award(&event, &Settings::from_config()?)
    }

    fn on_redeem(request: RedemptionRequest) -> Result<RedemptionGrant, PolicyError> {
        grant(&request, &Settings::from_config()?)
    }
}

/// The install's settings, parsed once per call.
#[derive(Debug, Clone)]
pub struct Settings {
    pub deposit_cents: Cents,
    pub damaged_refund_percent: i64,
    pub points_per_box: u32,
    pub points_per_package: u32,
    pub points_per_yuan: u32,
    pub max_discount_percent: i64,
    pub min_redeem_points: u32,
}

impl Settings {
    pub fn from_config() -> Result<Self, PolicyError> {
        let settings = Settings {
            deposit_cents: config::parse_or("deposit-cents", 1000)?,
            damaged_refund_percent: config::parse_or("damaged-refund-percent", 50)?,
            points_per_box: config::parse_or("points-per-box", 10)?,
            points_per_package: config::parse_or("points-per-package", 2)?,
            points_per_yuan: config::parse_or("points-per-yuan", 100)?,
            max_discount_percent: config::parse_or("max-discount-percent", 50)?,
            min_redeem_points: config::parse_or("min-redeem-points", 100)?,
        };
        if settings.deposit_cents < 0 {
            return Err(PolicyError::BadConfig(format!(
                "setting `deposit-cents` = {}: a deposit cannot be negative",
                settings.deposit_cents
            )));
        }
        for (key, value) in [
            ("damaged-refund-percent", settings.damaged_refund_percent),
            ("max-discount-percent", settings.max_discount_percent),
        ] {
            if !(0..=100).contains(&value) {
                return Err(PolicyError::BadConfig(format!(
                    "setting `{key}` = {value}: a percentage must be between 0 and 100"
                )));
            }
        }
        if settings.points_per_yuan == 0 {
            return Err(PolicyError::BadConfig(
                "setting `points-per-yuan` = 0: must be at least 1".to_string(),
            ));
        }
        Ok(settings)
    }
}

/// The refund and points for one return.
pub fn award(event: &ReturnEvent, settings: &Settings) -> Result<ReturnAward, PolicyError> {
    let count = event.count;
    if count == 0 {
        return Err(PolicyError::InvalidInput(
            "count: must be at least 1".to_string(),
        ));
    }
    let totals = |refund_each: Cents, points_each: u32| {
        let refund = refund_each.checked_mul(i64::from(count));
        let points = points_each.checked_mul(count);
        refund.zip(points).ok_or_else(|| {
            PolicyError::InvalidInput(format!("count: {count} is too many to award in one return"))
        })
    };
    let (refund, points, reason) = match (event.kind, event.condition) {
        (ReturnKind::DepositBox, Condition::Good) => {
            let (refund, points) = totals(settings.deposit_cents, settings.points_per_box)?;
            let each = yuan(settings.deposit_cents);
            let reason = format!(
                "循环箱押金退还 {count} × {each}，积分 +{points} \
                 (deposit box returned in good condition: {count} × {each} refunded, +{points} points)"
            );
            (refund, points, reason)
        }
        (ReturnKind::DepositBox, Condition::Damaged) => {
            let percent = settings.damaged_refund_percent;
            let refund_each = percent_of(settings.deposit_cents, percent);
            let (refund, points) = totals(refund_each, settings.points_per_box)?;
            let each = yuan(refund_each);
            let reason = format!(
                "循环箱破损，押金退还 {percent}%：{count} × {each}，积分 +{points} \
                 (deposit box damaged: {percent}% of the deposit refunded, {count} × {each}, +{points} points)"
            );
            (refund, points, reason)
        }
        (ReturnKind::DepositBox, Condition::Unusable) => {
            let (refund, points) = totals(0, settings.points_per_package)?;
            let reason = format!(
                "循环箱 {count} 个无法再用，不退押金，按包装回收，积分 +{points} \
                 ({count} deposit box(es) unusable: no refund, recycled as packaging, +{points} points)"
            );
            (refund, points, reason)
        }
        (ReturnKind::Packaging, _) => {
            let (refund, points) = totals(0, settings.points_per_package)?;
            let reason = format!(
                "包装回收 {count} 件，积分 +{points} (packaging returned for recycling, +{points} points)"
            );
            (refund, points, reason)
        }
    };
    Ok(ReturnAward {
        refund,
        points,
        reason,
    })
}

/// The discount a redemption request buys, and the points it takes.
pub fn grant(
    request: &RedemptionRequest,
    settings: &Settings,
) -> Result<RedemptionGrant, PolicyError> {
    let requested = request.requested;
    if requested > request.balance {
        return Err(PolicyError::InvalidInput(format!(
            "requested: {requested} points is more than the balance of {} points",
            request.balance
        )));
    }
    if request.basket_total < 0 {
        return Err(PolicyError::InvalidInput(format!(
            "basket_total: {} cents is negative",
            request.basket_total
        )));
    }
    let minimum = settings.min_redeem_points;
    if requested < minimum {
        return Ok(RedemptionGrant {
            points_used: 0,
            discount: 0,
            reason: format!(
                "满 {minimum} 积分起兑，本次未使用积分 \
                 (at least {minimum} points are needed to redeem; {requested} requested, none used)"
            ),
        });
    }
    let per_yuan = i64::from(settings.points_per_yuan);
    let bought = i64::from(requested) * 100 / per_yuan;
    let percent = settings.max_discount_percent;
    let cap = share_of(request.basket_total, percent);
    let discount = bought.min(cap);
    // Rounded up so a point never buys more than it is worth. `discount` is at most
    // requested × 100 / points-per-yuan, so this is at most `requested` and fits a u32.
    let points_used = ((discount * per_yuan + 99) / 100) as u32;
    let kept = requested - points_used;
    let amount = yuan(discount);
    let mut zh = format!("积分抵扣 {amount}，使用 {points_used} 积分");
    let mut en = format!("{points_used} points for a {amount} discount");
    if cap < bought {
        let basket = yuan(request.basket_total);
        zh.push_str(&format!("，已按购物篮 {percent}% 封顶"));
        en.push_str(&format!(", capped at {percent}% of the {basket} basket"));
    }
    if kept > 0 {
        zh.push_str(&format!("，{kept} 积分保留"));
        en.push_str(&format!("; {kept} points stay on the account"));
    }
    Ok(RedemptionGrant {
        points_used,
        discount,
        reason: format!("{zh} ({en})"),
    })
}

// Both in i128 so that no deposit setting or basket total can wrap; with a percentage
// of at most 100 the result fits back in cents.

/// `percent`% of a non-negative `amount`, rounded half up to a cent.
fn percent_of(amount: Cents, percent: i64) -> Cents {
    ((i128::from(amount) * i128::from(percent) + 50) / 100) as Cents
}

/// `percent`% of a non-negative `amount`, rounded down so a cap is never exceeded.
fn share_of(amount: Cents, percent: i64) -> Cents {
    (i128::from(amount) * i128::from(percent) / 100) as Cents
}

/// Non-negative cents as the receipt shows them: "¥10.00".
fn yuan(cents: Cents) -> String {
    format!("¥{}.{:02}", cents / 100, cents % 100)
}

#[cfg(test)]
mod tests {
    use super::*;
    use linli_sdk::testing::{TestHost, load_example};

    fn customer() -> CustomerRef {
        CustomerRef {
            pseudonym: "p-41c07e".to_string(),
            elderly_or_disabled: false,
            tier: MemberTier::Basic,
        }
    }

    fn returned(kind: ReturnKind, condition: Condition, count: u32) -> ReturnEvent {
        ReturnEvent {
            customer: customer(),
            kind,
            count,
            condition,
        }
    }

    fn redeem(balance: u32, requested: u32, basket_total: Cents) -> RedemptionRequest {
        RedemptionRequest {
            customer: customer(),
            balance,
            requested,
            basket_total,
        }
    }

    fn on_return(host: &TestHost, event: ReturnEvent) -> Result<ReturnAward, PolicyError> {
        host.run(|| RecyclingPointsPolicy::on_return(event))
    }

    fn on_redeem(
        host: &TestHost,
        request: RedemptionRequest,
    ) -> Result<RedemptionGrant, PolicyError> {
        host.run(|| RecyclingPointsPolicy::on_redeem(request))
    }

    fn invalid_input(err: PolicyError) -> String {
        match err {
            PolicyError::InvalidInput(text) => text,
            other => panic!("expected invalid input, got {other:?}"),
        }
    }

    #[test]
    fn good_boxes_refund_the_whole_deposit_and_earn_box_points() {
        let award = on_return(
            &TestHost::new(),
            returned(ReturnKind::DepositBox, Condition::Good, 2),
        )
        .unwrap();
        assert_eq!((award.refund, award.points), (2000, 20));
        assert!(award.reason.contains("2 × ¥10.00"), "{}", award.reason);
        assert!(award.reason.contains("+20 points"), "{}", award.reason);
    }

    #[test]
    fn damaged_box_refunds_part_of_the_deposit_rounded_half_up() {
        let award = on_return(
            &TestHost::new(),
            returned(ReturnKind::DepositBox, Condition::Damaged, 3),
        )
        .unwrap();
        assert_eq!((award.refund, award.points), (1500, 30));
        assert!(award.reason.contains("50%"), "{}", award.reason);
        // 50% of ¥9.99 is 499.5 cents: 500 per box.
        let host = TestHost::new().with_config("deposit-cents", "999");
        let award = on_return(
            &host,
            returned(ReturnKind::DepositBox, Condition::Damaged, 2),
        )
        .unwrap();
        assert_eq!(award.refund, 1000);
    }

    #[test]
    fn unusable_box_is_recycled_as_packaging_without_refund() {
        let award = on_return(
            &TestHost::new(),
            returned(ReturnKind::DepositBox, Condition::Unusable, 3),
        )
        .unwrap();
        assert_eq!((award.refund, award.points), (0, 6));
        assert!(award.reason.contains("no refund"), "{}", award.reason);
    }

    #[test]
    fn packaging_earns_package_points_whatever_its_condition() {
        for condition in [Condition::Good, Condition::Damaged, Condition::Unusable] {
            let award = on_return(
                &TestHost::new(),
                returned(ReturnKind::Packaging, condition, 12),
            )
            .unwrap();
            assert_eq!((award.refund, award.points), (0, 24));
        }
    }

    #[test]
    fn settings_change_the_award() {
        let host = TestHost::new()
            .with_config("deposit-cents", "2000")
            .with_config("damaged-refund-percent", "30")
            .with_config("points-per-box", "15");
        let award = on_return(
            &host,
            returned(ReturnKind::DepositBox, Condition::Damaged, 1),
        )
        .unwrap();
        assert_eq!((award.refund, award.points), (600, 15));
    }

    #[test]
    fn return_of_zero_items_is_refused() {
        let err = on_return(
            &TestHost::new(),
            returned(ReturnKind::DepositBox, Condition::Good, 0),
        )
        .unwrap_err();
        assert_eq!(invalid_input(err), "count: must be at least 1");
    }

    #[test]
    fn count_whose_points_overflow_is_refused() {
        let err = on_return(
            &TestHost::new(),
            returned(ReturnKind::Packaging, Condition::Good, u32::MAX),
        )
        .unwrap_err();
        assert!(invalid_input(err).starts_with("count:"));
    }

    #[test]
    fn hundred_points_buy_one_yuan() {
        let grant = on_redeem(&TestHost::new(), redeem(860, 500, 6880)).unwrap();
        assert_eq!((grant.points_used, grant.discount), (500, 500));
        assert!(grant.reason.contains("¥5.00"), "{}", grant.reason);
        assert!(!grant.reason.contains("capped"), "{}", grant.reason);
    }

    #[test]
    fn discount_is_capped_at_half_the_basket_and_takes_only_the_points_needed() {
        let grant = on_redeem(&TestHost::new(), redeem(3000, 3000, 4590)).unwrap();
        assert_eq!((grant.points_used, grant.discount), (2295, 2295));
        assert!(
            grant.reason.contains("capped at 50% of the ¥45.90 basket"),
            "{}",
            grant.reason
        );
        assert!(grant.reason.contains("705 points stay"), "{}", grant.reason);
    }

    #[test]
    fn cap_rounds_down_so_it_is_never_exceeded() {
        // 50% of 4591 cents is 2295.5: the cap is 2295.
        let grant = on_redeem(&TestHost::new(), redeem(3000, 3000, 4591)).unwrap();
        assert_eq!(grant.discount, 2295);
    }

    #[test]
    fn points_lost_to_rounding_stay_on_the_account() {
        // 150 points a yuan: 100 points buy 66 cents, which needs only 99 points.
        let host = TestHost::new().with_config("points-per-yuan", "150");
        let grant = on_redeem(&host, redeem(100, 100, 10_000)).unwrap();
        assert_eq!((grant.points_used, grant.discount), (99, 66));
        // 3 points a yuan: 100 points buy 3333 cents, which need all 100 points.
        let host = TestHost::new().with_config("points-per-yuan", "3");
        let grant = on_redeem(&host, redeem(100, 100, 10_000)).unwrap();
        assert_eq!((grant.points_used, grant.discount), (100, 3333));
    }

    #[test]
    fn points_used_never_exceed_requested_nor_buy_more_than_their_worth() {
        for per_yuan in [1, 3, 7, 99, 100, 101, 150, 333, 1000] {
            let settings = Settings {
                deposit_cents: 1000,
                damaged_refund_percent: 50,
                points_per_box: 10,
                points_per_package: 2,
                points_per_yuan: per_yuan,
                max_discount_percent: 50,
                min_redeem_points: 0,
            };
            for requested in [0, 1, 99, 100, 101, 257, 1000, 4999] {
                for basket_total in [0, 1, 333, 4591, 100_000] {
                    let grant =
                        grant(&redeem(requested, requested, basket_total), &settings).unwrap();
                    let worth = i64::from(grant.points_used) * 100;
                    assert!(grant.points_used <= requested);
                    assert!(grant.discount * i64::from(per_yuan) <= worth);
                    assert!(grant.discount <= basket_total / 2);
                }
            }
        }
    }

    #[test]
    fn request_below_the_minimum_grants_nothing_and_says_the_minimum() {
        let grant = on_redeem(&TestHost::new(), redeem(80, 60, 3000)).unwrap();
        assert_eq!((grant.points_used, grant.discount), (0, 0));
        assert!(
            grant.reason.contains("at least 100 points"),
            "{}",
            grant.reason
        );
    }

    #[test]
    fn request_above_the_balance_is_refused_naming_both_numbers() {
        let err = on_redeem(&TestHost::new(), redeem(250, 300, 5000)).unwrap_err();
        let text = invalid_input(err);
        assert!(text.contains("300") && text.contains("250"), "{text}");
    }

    #[test]
    fn negative_basket_total_is_refused() {
        let err = on_redeem(&TestHost::new(), redeem(500, 200, -1)).unwrap_err();
        assert!(invalid_input(err).starts_with("basket_total:"));
    }

    #[test]
    fn empty_basket_gets_no_discount_and_keeps_the_points() {
        let grant = on_redeem(&TestHost::new(), redeem(500, 200, 0)).unwrap();
        assert_eq!((grant.points_used, grant.discount), (0, 0));
    }

    #[test]
    fn bad_setting_names_the_key() {
        for (key, value) in [
            ("deposit-cents", "-100"),
            ("damaged-refund-percent", "120"),
            ("max-discount-percent", "-1"),
            ("points-per-yuan", "0"),
            ("points-per-box", "ten"),
            ("min-redeem-points", "-5"),
        ] {
            let host = TestHost::new().with_config(key, value);
            let err = on_redeem(&host, redeem(500, 200, 5000)).unwrap_err();
            assert!(
                matches!(&err, PolicyError::BadConfig(text) if text.contains(key)),
                "{key} = {value}: {err:?}"
            );
        }
    }

    fn example_return(name: &str) -> ReturnAward {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");
        let path = format!("{dir}/{name}");
        let example = load_example::<ReturnEvent>(path);
        example
            .host
            .run(|| RecyclingPointsPolicy::on_return(example.request))
            .unwrap()
    }

    fn example_redeem(name: &str) -> RedemptionGrant {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");
        let path = format!("{dir}/{name}");
        let example = load_example::<RedemptionRequest>(path);
        example
            .host
            .run(|| RecyclingPointsPolicy::on_redeem(example.request))
            .unwrap()
    }

    #[test]
    fn shipped_examples_give_the_documented_results() {
        let award = example_return("return-box-good.json");
        assert_eq!((award.refund, award.points), (2000, 20));
        let award = example_return("return-box-damaged.json");
        assert_eq!((award.refund, award.points), (1500, 30));
        let award = example_return("return-box-unusable.json");
        assert_eq!((award.refund, award.points), (0, 2));
        let award = example_return("return-packaging.json");
        assert_eq!((award.refund, award.points), (0, 24));
        let grant = example_redeem("redeem-points.json");
        assert_eq!((grant.points_used, grant.discount), (500, 500));
        let grant = example_redeem("redeem-capped.json");
        assert_eq!((grant.points_used, grant.discount), (2295, 2295));
        let grant = example_redeem("redeem-below-minimum.json");
        assert_eq!((grant.points_used, grant.discount), (0, 0));
    }
}
