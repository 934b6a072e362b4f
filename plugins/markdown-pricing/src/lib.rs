//! Markdown pricing: fresh goods near expiry are marked down in steps (−30% on the last
//! day, −50% in the last hours), elderly and disabled residents get a care discount, and
//! no price ever goes below the floor.
//!
//! Settings (all optional):
//! - `last-day-percent` (30): markdown when the batch expires within 24 hours.
//! - `last-hours` (4) and `last-hours-percent` (50): markdown in the final hours.
//! - `categories` (unset = every line with an expiry): comma-separated categories that
//!   get the markdown.
//! - `elderly-percent` (5): care discount for elderly or disabled customers.
//! - `floor-percent` (40): no unit price goes below this share of its price before
//!   this policy.
//! - `floor.<SKU>` (unset): a floor unit price in cents for one SKU; the higher floor wins.
//!
//! An expired line is refused: expired goods must not be sold.

use linli_sdk::config;
use linli_sdk::pricing::*;
use std::collections::BTreeMap;

pub struct MarkdownPricing;

linli_sdk::export_pricing!(MarkdownPricing);

impl Pricing for MarkdownPricing {
    fn quote(request: QuoteRequest) -> Result<PriceQuote, PolicyError> {
        let settings = Settings::from_config()?;
        quote(&request, &settings, linli_sdk::clock::now())
    }
}

/// The install's settings, parsed once per call.
#[derive(Debug, Clone)]
pub struct Settings {
    pub last_day_percent: i64,
    pub last_hours: i64,
    pub last_hours_percent: i64,
    pub categories: Option<Vec<String>>,
    pub elderly_percent: i64,
    pub floor_percent: i64,
    /// `floor.<SKU>` settings: floor unit prices in cents.
    pub floors: BTreeMap<String, Cents>,
}

impl Settings {
    pub fn from_config() -> Result<Self, PolicyError> {
        let settings = Settings {
            last_day_percent: config::parse_or("last-day-percent", 30)?,
            last_hours: config::parse_or("last-hours", 4)?,
            last_hours_percent: config::parse_or("last-hours-percent", 50)?,
            categories: config::get("categories").map(|_| config::list_or("categories", &[])),
            elderly_percent: config::parse_or("elderly-percent", 5)?,
            floor_percent: config::parse_or("floor-percent", 40)?,
            floors: floor_settings()?,
        };
        for (key, value) in [
            ("last-day-percent", settings.last_day_percent),
            ("last-hours-percent", settings.last_hours_percent),
            ("elderly-percent", settings.elderly_percent),
            ("floor-percent", settings.floor_percent),
        ] {
            if !(0..=100).contains(&value) {
                return Err(PolicyError::BadConfig(format!(
                    "setting `{key}` = {value}: a percentage must be between 0 and 100"
                )));
            }
        }
        if !(1..=24).contains(&settings.last_hours) {
            return Err(PolicyError::BadConfig(format!(
                "setting `last-hours` = {}: must be between 1 and 24",
                settings.last_hours
            )));
        }
        Ok(settings)
    }

    fn marks_down(&self, category: &str) -> bool {
        match &self.categories {
            None => true,
            Some(list) => list.iter().any(|listed| listed == category),
        }
    }
}

/// Every `floor.<SKU>` setting, parsed.
fn floor_settings() -> Result<BTreeMap<String, Cents>, PolicyError> {
    let mut floors = BTreeMap::new();
    for (key, value) in config::entries() {
        if let Some(sku) = key.strip_prefix("floor.") {
            let floor = value.trim().parse::<Cents>().map_err(|err| {
                PolicyError::BadConfig(format!("setting `{key}` = {value:?}: {err}"))
            })?;
            floors.insert(sku.to_string(), floor);
        }
    }
    Ok(floors)
}

/// The receipt texts, written at most once per call (when a first line is adjusted)
/// rather than once per line.
struct Reasons {
    last_hours: String,
    last_day: String,
    care: String,
}

impl Reasons {
    fn new(settings: &Settings) -> Reasons {
        Reasons {
            last_hours: format!(
                "临期折扣 −{}% (expires within hours)",
                settings.last_hours_percent
            ),
            last_day: format!("临期折扣 −{}% (expires today)", settings.last_day_percent),
            care: format!(
                "敬老助残折扣 −{}% (elderly/disabled care)",
                settings.elderly_percent
            ),
        }
    }
}

/// A line's markdown step.
#[derive(Clone, Copy)]
enum Step {
    LastHours,
    LastDay,
}

/// Price a basket at `now`: the whole policy, free of host calls.
pub fn quote(
    request: &QuoteRequest,
    settings: &Settings,
    now: Timestamp,
) -> Result<PriceQuote, PolicyError> {
    let elderly = request
        .customer
        .as_ref()
        .is_some_and(|customer| customer.elderly_or_disabled);
    let reasons = std::cell::OnceCell::new();
    let reasons = || reasons.get_or_init(|| Reasons::new(settings));
    let mut lines = Vec::with_capacity(request.lines.len());
    let mut adjustments = Vec::new();
    for (index, line) in request.lines.iter().enumerate() {
        if line.unit_price < 0 {
            return Err(PolicyError::InvalidInput(format!(
                "line {index} (SKU {}): unit price {} is negative",
                line.sku, line.unit_price
            )));
        }
        let markdown = markdown_step(line, settings, now, index)?;
        let shelf = line.unit_price;
        let after_markdown = match markdown {
            Some(Step::LastHours) => shelf - percent_of(shelf, settings.last_hours_percent),
            Some(Step::LastDay) => shelf - percent_of(shelf, settings.last_day_percent),
            None => shelf,
        };
        let after_care = if elderly {
            after_markdown - percent_of(after_markdown, settings.elderly_percent)
        } else {
            after_markdown
        };
        let floor = floor_price(line, settings);
        // The floor limits discounts; it never raises a price above the shelf price.
        let unit_price = after_care.max(floor).min(shelf);
        let limited = unit_price > after_care;
        let allowed = shelf - unit_price;
        let markdown_unit = (shelf - after_markdown).min(allowed);
        let care_unit = allowed - markdown_unit;
        let qty = i64::from(line.qty);
        let line_index = index as u32;
        let reason = |text: &String| {
            if limited {
                format!("{text}，已按底价封顶 (floor price)")
            } else {
                text.clone()
            }
        };
        if let Some(step) = markdown
            && markdown_unit > 0
        {
            let text = match step {
                Step::LastHours => &reasons().last_hours,
                Step::LastDay => &reasons().last_day,
            };
            adjustments.push(Adjustment {
                line: line_index,
                amount: -markdown_unit * qty,
                reason: reason(text),
            });
        }
        if care_unit > 0 {
            adjustments.push(Adjustment {
                line: line_index,
                amount: -care_unit * qty,
                reason: reason(&reasons().care),
            });
        }
        lines.push(LinePrice {
            sku: line.sku.clone(),
            unit_price,
            total: unit_price * qty,
        });
    }
    Ok(PriceQuote { lines, adjustments })
}

/// The markdown step of a line at `now`, or `None`.
fn markdown_step(
    line: &BasketLine,
    settings: &Settings,
    now: Timestamp,
    index: usize,
) -> Result<Option<Step>, PolicyError> {
    let Some(expires_at) = line.expires_at else {
        return Ok(None);
    };
    let left = expires_at - now;
    if left <= 0 {
        return Err(PolicyError::InvalidInput(format!(
            "line {index} (SKU {}, batch {}): expired {} minutes ago; expired goods must not be sold — take it off the basket and the shelf",
            line.sku,
            line.batch.as_deref().unwrap_or("unknown"),
            -left / MINUTE_MS
        )));
    }
    if !settings.marks_down(&line.category) {
        return Ok(None);
    }
    Ok(if left <= settings.last_hours * HOUR_MS {
        Some(Step::LastHours)
    } else if left <= DAY_MS {
        Some(Step::LastDay)
    } else {
        None
    })
}

/// The lowest unit price this policy may charge for a line.
fn floor_price(line: &BasketLine, settings: &Settings) -> Cents {
    let by_share = ceil_percent_of(line.unit_price, settings.floor_percent);
    let by_sku = settings.floors.get(&line.sku).copied().unwrap_or(0);
    by_share.max(by_sku)
}

/// `percent`% of `amount`, rounded half up to a cent.
fn percent_of(amount: Cents, percent: i64) -> Cents {
    (amount * percent + 50) / 100
}

fn ceil_percent_of(amount: Cents, percent: i64) -> Cents {
    (amount * percent + 99) / 100
}

#[cfg(test)]
mod tests {
    use super::*;
    use linli_sdk::testing::{TestHost, load_example};

    const NOW: Timestamp = 1_764_036_000_000; // 2025-11-25T02:00:00Z, 10:00 in Beijing

    fn line(sku: &str, price: Cents, qty: u32, expires_in: Option<Timestamp>) -> BasketLine {
        BasketLine {
            sku: sku.to_string(),
            qty,
            unit_price: price,
            category: "fresh".to_string(),
            local_produce: true,
            batch: Some(format!("{sku}-B1")),
            expires_at: expires_in.map(|delta| NOW + delta),
        }
    }

    fn request(lines: Vec<BasketLine>, elderly: bool) -> QuoteRequest {
        QuoteRequest {
            lines,
            customer: Some(CustomerRef {
                pseudonym: "p-7f3a".to_string(),
                elderly_or_disabled: elderly,
                tier: MemberTier::Basic,
            }),
        }
    }

    fn run(host: &TestHost, request: QuoteRequest) -> Result<PriceQuote, PolicyError> {
        host.run(|| MarkdownPricing::quote(request))
    }

    #[test]
    fn last_day_takes_thirty_percent_off() {
        let quote = run(
            &TestHost::new().at(NOW),
            request(vec![line("MILK-1L", 1290, 2, Some(20 * HOUR_MS))], false),
        )
        .unwrap();
        assert_eq!(quote.lines[0].unit_price, 903);
        assert_eq!(quote.lines[0].total, 1806);
        assert_eq!(quote.adjustments.len(), 1);
        assert_eq!(quote.adjustments[0].amount, -774);
        assert!(quote.adjustments[0].reason.contains("30%"));
    }

    #[test]
    fn last_hours_take_half_off() {
        let quote = run(
            &TestHost::new().at(NOW),
            request(vec![line("BREAD", 800, 1, Some(3 * HOUR_MS))], false),
        )
        .unwrap();
        assert_eq!(quote.lines[0].unit_price, 400);
    }

    #[test]
    fn fresh_far_from_expiry_keeps_its_price() {
        let quote = run(
            &TestHost::new().at(NOW),
            request(vec![line("EGGS", 1500, 1, Some(5 * DAY_MS))], false),
        )
        .unwrap();
        assert_eq!(quote.lines[0].unit_price, 1500);
        assert!(quote.adjustments.is_empty());
    }

    #[test]
    fn elderly_discount_stacks_on_markdown_and_is_explained() {
        let quote = run(
            &TestHost::new().at(NOW),
            request(
                vec![
                    line("MILK-1L", 1000, 1, Some(20 * HOUR_MS)),
                    line("RICE", 5000, 1, None),
                ],
                true,
            ),
        )
        .unwrap();
        // 1000 → 700 (markdown) → 665 (5% care); rice 5000 → 4750.
        assert_eq!(quote.lines[0].unit_price, 665);
        assert_eq!(quote.lines[1].unit_price, 4750);
        let on_milk: Cents = quote
            .adjustments
            .iter()
            .filter(|a| a.line == 0)
            .map(|a| a.amount)
            .sum();
        assert_eq!(on_milk, -335);
        assert_eq!(quote.adjustments.len(), 3);
    }

    #[test]
    fn floor_price_limits_the_discount() {
        let host = TestHost::new().at(NOW).with_config("floor-percent", "60");
        let quote = run(
            &host,
            request(vec![line("FISH", 2000, 1, Some(HOUR_MS))], true),
        )
        .unwrap();
        assert_eq!(quote.lines[0].unit_price, 1200);
        assert!(quote.adjustments[0].reason.contains("底价"));
        let host = TestHost::new().at(NOW).with_config("floor.FISH", "1800");
        let quote = run(
            &host,
            request(vec![line("FISH", 2000, 1, Some(HOUR_MS))], false),
        )
        .unwrap();
        assert_eq!(quote.lines[0].unit_price, 1800);
    }

    #[test]
    fn expired_line_is_refused_naming_the_sku() {
        let err = run(
            &TestHost::new().at(NOW),
            request(vec![line("TOFU", 300, 1, Some(-HOUR_MS))], false),
        )
        .unwrap_err();
        match err {
            PolicyError::InvalidInput(text) => {
                assert!(text.contains("TOFU") && text.contains("expired"))
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn empty_basket_gives_an_empty_quote() {
        let quote = run(&TestHost::new().at(NOW), request(vec![], true)).unwrap();
        assert!(quote.lines.is_empty() && quote.adjustments.is_empty());
    }

    #[test]
    fn only_configured_categories_are_marked_down() {
        let host = TestHost::new().at(NOW).with_config("categories", "bakery");
        let quote = run(
            &host,
            request(vec![line("MILK-1L", 1000, 1, Some(HOUR_MS))], false),
        )
        .unwrap();
        assert_eq!(quote.lines[0].unit_price, 1000);
    }

    #[test]
    fn bad_setting_names_the_key() {
        let host = TestHost::new()
            .at(NOW)
            .with_config("elderly-percent", "lots");
        let err = run(&host, request(vec![], false)).unwrap_err();
        assert!(matches!(err, PolicyError::BadConfig(text) if text.contains("elderly-percent")));
    }

    #[test]
    fn shipped_examples_price_as_documented() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");
        let example = load_example::<QuoteRequest>(format!("{dir}/near-expiry-basket.json"));
        let quote = example
            .host
            .run(|| MarkdownPricing::quote(example.request))
            .unwrap();
        let total: Cents = quote.lines.iter().map(|line| line.total).sum();
        // milk 2×858, bread 380, eggs 1425, rice 3790 (markdown, then 5% care)
        assert_eq!(total, 7311);
    }
}
