//! `linli plugin new`: a plugin crate for one world that builds, passes its tests and
//! packs as it is — the starting point the SDK tutorial describes.

use super::finish;
use clap::Args;
use linli_sdk::bundle::{MANIFEST_FILE, WORLDS};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args)]
pub struct NewArgs {
    /// The plugin's name: lowercase letters, digits and `-` (also the crate's name).
    name: String,
    /// The policy kind: pricing, presale, elderly-delivery, recycling-points or
    /// data-sharing.
    #[arg(long)]
    world: String,
    /// The publisher's namespace in the bundle name (`namespace/name`).
    #[arg(long, default_value = "my-store")]
    namespace: String,
    /// The folder to create the crate in (default: ./NAME).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// The linli SDK the crate depends on (default: the SDK of this linli's sources).
    #[arg(long, value_name = "DIR")]
    sdk: Option<PathBuf>,
}

pub fn run(args: NewArgs) -> ExitCode {
    finish("plugin new", scaffold(args))
}

fn scaffold(args: NewArgs) -> Result<(), String> {
    let valid = |text: &str| {
        !text.is_empty()
            && text.len() <= 64
            && text.starts_with(|c: char| c.is_ascii_lowercase())
            && text
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    for (what, text) in [("name", &args.name), ("--namespace", &args.namespace)] {
        if !valid(text) {
            return Err(format!(
                "{what} {text:?}: lowercase letters, digits and `-`, starting with a letter"
            ));
        }
    }
    let source = template(&args.world).ok_or_else(|| {
        format!(
            "--world {:?}: not a policy kind; one of {}",
            args.world,
            WORLDS.join(", ")
        )
    })?;
    let sdk = match args.sdk {
        Some(sdk) => sdk,
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk"),
    };
    let sdk = sdk.canonicalize().map_err(|err| {
        format!(
            "the linli SDK at {}: {err}; give its folder with --sdk",
            sdk.display()
        )
    })?;
    let dir = args.dir.unwrap_or_else(|| PathBuf::from(&args.name));
    if dir.exists() {
        return Err(format!(
            "{} exists; pick a new folder (nothing was written)",
            dir.display()
        ));
    }
    let sdk_path = sdk.display().to_string().replace('\\', "/");
    let files = [
        (
            "Cargo.toml",
            format!(
                r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"

[lib]
# cdylib: the wasm component the store runs; rlib: native tests.
crate-type = ["cdylib", "rlib"]

[dependencies]
linli-sdk = {{ path = "{sdk_path}" }}

# A crate of its own, even inside another workspace.
[workspace]
"#,
                name = args.name
            ),
        ),
        (
            MANIFEST_FILE,
            format!(
                r#"# The bundle manifest `linli plugin pack` signs with the component.
name = "{namespace}/{name}"
version = "0.1.0"
world = "{world}"
policy = "^0.1"
# Capabilities the store must grant: any of "kv", "inventory-read", "sales-read".
capabilities = []
description = "A {world} policy: say here what it does for the store."
license = "Apache-2.0"
authors = []

# Every setting the plugin reads, with its type and default.
{settings}"#,
                namespace = args.namespace,
                name = args.name,
                world = args.world,
                settings = source.settings
            ),
        ),
        (".gitignore", "/target\n".to_string()),
        ("src/lib.rs", source.code.to_string()),
    ];
    std::fs::create_dir_all(dir.join("src"))
        .map_err(|err| format!("{}: cannot create: {err}", dir.display()))?;
    for (file, text) in files {
        let path = dir.join(file);
        std::fs::write(&path, text)
            .map_err(|err| format!("{}: cannot write: {err}", path.display()))?;
    }
    println!(
        "{}",
        serde_json::json!({
            "crate": dir,
            "world": args.world,
            "next": format!(
                "cd {} && cargo test && linli plugin pack --key YOUR.key",
                dir.display()
            ),
        })
    );
    Ok(())
}

struct Template {
    code: &'static str,
    settings: &'static str,
}

fn template(world: &str) -> Option<Template> {
    Some(match world {
        "pricing" => Template {
            code: PRICING,
            settings: "[config.percent]\ntype = \"integer\"\ndefault = \"10\"\ndescription = \"Discount on local produce, in percent\"\n",
        },
        "presale" => Template {
            code: PRESALE,
            settings: "",
        },
        "elderly-delivery" => Template {
            code: ELDERLY_DELIVERY,
            settings: "[config.fee-cents]\ntype = \"integer\"\ndefault = \"300\"\ndescription = \"Delivery fee in cents, waived for emergencies\"\n",
        },
        "recycling-points" => Template {
            code: RECYCLING_POINTS,
            settings: "[config.points-per-box]\ntype = \"integer\"\ndefault = \"10\"\ndescription = \"Points for each box returned in good condition\"\n",
        },
        "data-sharing" => Template {
            code: DATA_SHARING,
            settings: "[config.k]\ntype = \"integer\"\ndefault = \"5\"\ndescription = \"Rows with fewer customers are left out\"\n",
        },
        _ => return None,
    })
}

const PRICING: &str = r#"//! A pricing policy: local produce is discounted by the `percent` setting (10).

use linli_sdk::config;
use linli_sdk::pricing::*;

pub struct Policy;

linli_sdk::export_pricing!(Policy);

impl Pricing for Policy {
    fn quote(request: QuoteRequest) -> Result<PriceQuote, PolicyError> {
        let percent: i64 = config::parse_or("percent", 10)?;
        if !(0..=100).contains(&percent) {
            return Err(PolicyError::BadConfig(format!(
                "setting `percent` = {percent}: must be between 0 and 100"
            )));
        }
        let mut lines = Vec::new();
        let mut adjustments = Vec::new();
        for (index, line) in request.lines.iter().enumerate() {
            let mut unit_price = line.unit_price;
            if line.local_produce {
                let off = (unit_price * percent + 50) / 100;
                unit_price -= off;
                adjustments.push(Adjustment {
                    line: index as u32,
                    amount: -off * i64::from(line.qty),
                    reason: format!("本地农产品 −{percent}% (local produce)"),
                });
            }
            lines.push(LinePrice {
                sku: line.sku.clone(),
                unit_price,
                total: unit_price * i64::from(line.qty),
            });
        }
        Ok(PriceQuote { lines, adjustments })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use linli_sdk::testing::TestHost;

    fn line(sku: &str, local_produce: bool) -> BasketLine {
        BasketLine {
            sku: sku.into(),
            qty: 2,
            unit_price: 1000,
            category: "fresh".into(),
            local_produce,
            batch: None,
            expires_at: None,
        }
    }

    #[test]
    fn local_produce_is_discounted_and_the_rest_keeps_its_price() {
        let request = QuoteRequest {
            lines: vec![line("GREENS", true), line("SALT", false)],
            customer: None,
        };
        let quote = TestHost::new().run(|| Policy::quote(request)).unwrap();
        assert_eq!(quote.lines[0].unit_price, 900);
        assert_eq!(quote.lines[0].total, 1800);
        assert_eq!(quote.adjustments[0].amount, -200);
        assert_eq!(quote.lines[1].unit_price, 1000);
        assert_eq!(quote.adjustments.len(), 1);
    }

    #[test]
    fn a_bad_setting_names_the_key() {
        let host = TestHost::new().with_config("percent", "200");
        let request = QuoteRequest { lines: vec![], customer: None };
        let err = host.run(|| Policy::quote(request)).unwrap_err();
        assert!(matches!(err, PolicyError::BadConfig(text) if text.contains("percent")));
    }
}
"#;

const PRESALE: &str = r#"//! A presale policy: order from the supplier when the pre-orders reach the campaign's
//! minimum; at the deadline without it, call the campaign off.

use linli_sdk::clock;
use linli_sdk::presale::*;

pub struct Policy;

linli_sdk::export_presale!(Policy);

impl Presale for Policy {
    fn evaluate(campaign: Campaign) -> Result<Evaluation, PolicyError> {
        let reached = campaign.preordered_qty >= campaign.min_qty;
        let closed = clock::now() >= campaign.deadline;
        let share = if campaign.weekly_volume == 0 {
            0
        } else {
            campaign.preordered_qty.saturating_mul(1000) / campaign.weekly_volume
        };
        let (decision, supplier_qty, reason) = match (reached, closed) {
            (true, _) => (
                Decision::Go,
                campaign.preordered_qty,
                format!("{} pre-ordered, minimum {}", campaign.preordered_qty, campaign.min_qty),
            ),
            (false, true) => (
                Decision::NoGo,
                0,
                format!("only {} of {} pre-ordered by the deadline", campaign.preordered_qty, campaign.min_qty),
            ),
            (false, false) => (Decision::Wait, 0, "waiting for pre-orders".to_string()),
        };
        Ok(Evaluation {
            decision,
            supplier_qty,
            new_deadline: None,
            presale_share_permille: share,
            meets_share_rule: true,
            reason,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use linli_sdk::testing::TestHost;

    fn campaign(preordered_qty: u32) -> Campaign {
        Campaign {
            id: "c-1".into(),
            sku: "PEACHES".into(),
            product: "peaches".into(),
            supplier: "orchard".into(),
            opened_at: 0,
            deadline: 10 * DAY_MS,
            min_qty: 20,
            preordered_qty,
            preorder_count: preordered_qty,
            weekly_volume: 100,
            extended: false,
        }
    }

    #[test]
    fn enough_pre_orders_go_ahead() {
        let evaluation = TestHost::new().at(DAY_MS).run(|| Policy::evaluate(campaign(25))).unwrap();
        assert_eq!(evaluation.decision, Decision::Go);
        assert_eq!(evaluation.supplier_qty, 25);
    }

    #[test]
    fn too_few_wait_then_are_called_off_at_the_deadline() {
        let waiting = TestHost::new().at(DAY_MS).run(|| Policy::evaluate(campaign(5))).unwrap();
        assert_eq!(waiting.decision, Decision::Wait);
        let closed = TestHost::new().at(10 * DAY_MS).run(|| Policy::evaluate(campaign(5))).unwrap();
        assert_eq!(closed.decision, Decision::NoGo);
    }
}
"#;

const ELDERLY_DELIVERY: &str = r#"//! An elderly-delivery policy: a flat fee (`fee-cents`, 300) waived for emergencies,
//! the first free courier, and an ETA twenty minutes after the courier is free.

use linli_sdk::config;
use linli_sdk::elderly_delivery::*;

pub struct Policy;

linli_sdk::export_elderly_delivery!(Policy);

impl ElderlyDelivery for Policy {
    fn plan(request: DeliveryRequest) -> Result<DeliveryPlan, PolicyError> {
        let fee: i64 = config::parse_or("fee-cents", 300)?;
        if fee < 0 {
            return Err(PolicyError::BadConfig(format!(
                "setting `fee-cents` = {fee}: must not be negative"
            )));
        }
        let courier = request.couriers.iter().min_by_key(|courier| courier.free_at);
        let eta = courier.map(|courier| courier.free_at.max(request.window_start) + 20 * MINUTE_MS);
        Ok(DeliveryPlan {
            fee: if request.emergency { 0 } else { fee },
            fee_waived: request.emergency,
            priority: if request.emergency { Priority::Emergency } else { Priority::Normal },
            courier: courier.map(|courier| courier.id.clone()),
            eta,
            meets_emergency_promise: request
                .emergency
                .then(|| eta.is_some_and(|eta| eta <= request.window_start + 30 * MINUTE_MS)),
            notes: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use linli_sdk::testing::TestHost;
    use linli_sdk::types::{CustomerRef, MemberTier};

    fn request(emergency: bool) -> DeliveryRequest {
        DeliveryRequest {
            id: "d-1".into(),
            customer: CustomerRef {
                pseudonym: "p-1".into(),
                elderly_or_disabled: true,
                tier: MemberTier::None,
            },
            items: vec![],
            distance_m: 800,
            window_start: 0,
            window_end: HOUR_MS,
            emergency,
            couriers: vec![Courier { id: "c-1".into(), free_at: 0 }],
        }
    }

    #[test]
    fn a_normal_delivery_pays_the_fee_and_an_emergency_does_not() {
        let normal = TestHost::new().run(|| Policy::plan(request(false))).unwrap();
        assert_eq!(normal.fee, 300);
        let emergency = TestHost::new().run(|| Policy::plan(request(true))).unwrap();
        assert_eq!((emergency.fee, emergency.fee_waived), (0, true));
        assert_eq!(emergency.meets_emergency_promise, Some(true));
    }
}
"#;

const RECYCLING_POINTS: &str = r#"//! A recycling-points policy: `points-per-box` (10) for each box in good condition,
//! and one yuan off per 100 points.

use linli_sdk::config;
use linli_sdk::recycling_points::*;

pub struct Policy;

linli_sdk::export_recycling_points!(Policy);

impl RecyclingPoints for Policy {
    fn on_return(event: ReturnEvent) -> Result<ReturnAward, PolicyError> {
        let per_box: u32 = config::parse_or("points-per-box", 10)?;
        let points = match event.condition {
            Condition::Good => per_box.saturating_mul(event.count),
            Condition::Damaged | Condition::Unusable => 0,
        };
        Ok(ReturnAward {
            refund: 0,
            points,
            reason: format!("{} returned: {points} points", event.count),
        })
    }

    fn on_redeem(request: RedemptionRequest) -> Result<RedemptionGrant, PolicyError> {
        let usable = request.requested.min(request.balance) / 100 * 100;
        let discount = (i64::from(usable) / 100 * 100).min(request.basket_total);
        let points_used = u32::try_from(discount).unwrap_or(0);
        Ok(RedemptionGrant {
            points_used,
            discount,
            reason: format!("{points_used} points: {discount} cents off"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use linli_sdk::testing::TestHost;
    use linli_sdk::types::{CustomerRef, MemberTier};

    fn customer() -> CustomerRef {
        CustomerRef { pseudonym: "p-1".into(), elderly_or_disabled: false, tier: MemberTier::None }
    }

    #[test]
    fn good_boxes_earn_points() {
        let event = ReturnEvent { customer: customer(), kind: ReturnKind::DepositBox, count: 3, condition: Condition::Good };
        let award = TestHost::new().run(|| Policy::on_return(event)).unwrap();
        assert_eq!(award.points, 30);
    }

    #[test]
    fn points_redeem_by_the_hundred_up_to_the_basket() {
        let request = RedemptionRequest { customer: customer(), balance: 250, requested: 250, basket_total: 5000 };
        let grant = TestHost::new().run(|| Policy::on_redeem(request)).unwrap();
        assert_eq!((grant.points_used, grant.discount), (200, 200));
    }
}
"#;

const DATA_SHARING: &str = r#"//! A data-sharing policy: units and customers per category and day, every row with
//! fewer than `k` (5) customers left out.

use linli_sdk::config;
use linli_sdk::data_sharing::*;

pub struct Policy;

linli_sdk::export_data_sharing!(Policy);

impl DataSharing for Policy {
    fn build_report(request: ReportRequest) -> Result<Report, PolicyError> {
        let k: u32 = config::parse_or("k", 5)?;
        let mut rows = Vec::new();
        let mut suppressed = 0;
        for row in request.rows {
            if row.customers < k {
                suppressed += 1;
                continue;
            }
            rows.push(ReportRow {
                category: Some(row.category),
                period: Some(row.day),
                cohort: None,
                customers: row.customers,
                units: row.units,
                revenue: None,
            });
        }
        Ok(Report { rows, suppressed })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use linli_sdk::testing::TestHost;

    fn aggregate(customers: u32) -> Aggregate {
        Aggregate {
            category: "dairy".into(),
            day: "2026-11-23".into(),
            cohort: "member".into(),
            customers,
            units: customers * 2,
            revenue: 1000,
        }
    }

    #[test]
    fn small_groups_are_left_out() {
        let request = ReportRequest {
            first_day: "2026-11-23".into(),
            last_day: "2026-11-23".into(),
            rows: vec![aggregate(7), aggregate(2)],
        };
        let report = TestHost::new().run(|| Policy::build_report(request)).unwrap();
        assert_eq!(report.rows.len(), 1);
        assert_eq!(report.suppressed, 1);
    }
}
"#;

#[cfg(test)]
mod tests {
    #[test]
    fn every_world_has_a_template() {
        for world in linli_runtime::World::ALL {
            assert!(super::template(world.name()).is_some(), "{world}");
        }
    }
}
