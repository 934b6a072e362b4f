//! The five policy worlds, what calling each looks like, and how the host checks a
//! plugin's answer before anyone relies on it.

use super::bindings::{data_sharing, elderly_delivery, presale, pricing, recycling_points};
use serde::Serialize;
use std::fmt;

pub use data_sharing::exports::linli::policy::data_sharing_policy::{
    Aggregate, Report, ReportRequest, ReportRow,
};
pub use elderly_delivery::exports::linli::policy::elderly_delivery_policy::{
    Courier, DeliveryPlan, DeliveryRequest, Priority,
};
pub use presale::exports::linli::policy::presale_policy::{Campaign, Decision, Evaluation};
pub use pricing::exports::linli::policy::pricing_policy::{
    Adjustment, LinePrice, PriceQuote, QuoteRequest,
};
pub use recycling_points::exports::linli::policy::recycling_points_policy::{
    Condition, RedemptionGrant, RedemptionRequest, ReturnAward, ReturnEvent, ReturnKind,
};

/// A policy kind: one WIT world, exporting one interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum World {
    Pricing,
    Presale,
    ElderlyDelivery,
    RecyclingPoints,
    DataSharing,
}

impl World {
    pub const ALL: [World; 5] = [
        World::Pricing,
        World::Presale,
        World::ElderlyDelivery,
        World::RecyclingPoints,
        World::DataSharing,
    ];

    /// The world's name in `wit/`, e.g. `elderly-delivery`.
    pub fn name(self) -> &'static str {
        match self {
            World::Pricing => "pricing",
            World::Presale => "presale",
            World::ElderlyDelivery => "elderly-delivery",
            World::RecyclingPoints => "recycling-points",
            World::DataSharing => "data-sharing",
        }
    }

    /// The interface the world exports, without package or version.
    pub fn interface(self) -> &'static str {
        match self {
            World::Pricing => "pricing-policy",
            World::Presale => "presale-policy",
            World::ElderlyDelivery => "elderly-delivery-policy",
            World::RecyclingPoints => "recycling-points-policy",
            World::DataSharing => "data-sharing-policy",
        }
    }

    /// The functions of the exported interface, as named in WIT.
    pub fn functions(self) -> &'static [&'static str] {
        match self {
            World::Pricing => &["quote"],
            World::Presale => &["evaluate"],
            World::ElderlyDelivery => &["plan"],
            World::RecyclingPoints => &["on-return", "on-redeem"],
            World::DataSharing => &["build-report"],
        }
    }

    pub fn from_name(name: &str) -> Option<World> {
        World::ALL.into_iter().find(|world| world.name() == name)
    }

    /// The world whose interface this is (`pricing-policy` → pricing).
    pub fn from_interface(interface: &str) -> Option<World> {
        World::ALL
            .into_iter()
            .find(|world| world.interface() == interface)
    }

    /// Every world's name, for error messages.
    pub fn names() -> String {
        World::ALL.map(World::name).join(", ")
    }
}

impl fmt::Display for World {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One call into a plugin: the function and its argument.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Call {
    Quote(QuoteRequest),
    Evaluate(Campaign),
    Plan(DeliveryRequest),
    OnReturn(ReturnEvent),
    OnRedeem(RedemptionRequest),
    BuildReport(ReportRequest),
}

impl Call {
    pub fn world(&self) -> World {
        match self {
            Call::Quote(_) => World::Pricing,
            Call::Evaluate(_) => World::Presale,
            Call::Plan(_) => World::ElderlyDelivery,
            Call::OnReturn(_) | Call::OnRedeem(_) => World::RecyclingPoints,
            Call::BuildReport(_) => World::DataSharing,
        }
    }

    /// The WIT name of the function called.
    pub fn function(&self) -> &'static str {
        match self {
            Call::Quote(_) => "quote",
            Call::Evaluate(_) => "evaluate",
            Call::Plan(_) => "plan",
            Call::OnReturn(_) => "on-return",
            Call::OnRedeem(_) => "on-redeem",
            Call::BuildReport(_) => "build-report",
        }
    }

    /// Read the argument of a call to `world` from JSON. With `function` unset, the
    /// world's function whose argument the JSON fits is called (recycling-points has
    /// two); the error says, for each function, why the JSON does not fit.
    pub fn from_json(
        world: World,
        function: Option<&str>,
        request: serde_json::Value,
    ) -> Result<Call, String> {
        let candidates: Vec<&str> = match function {
            Some(name) if world.functions().contains(&name) => vec![name],
            Some(name) => {
                return Err(format!(
                    "world {world} has no function `{name}` (it has: {})",
                    world.functions().join(", ")
                ));
            }
            None => world.functions().to_vec(),
        };
        let mut misfits = Vec::new();
        for name in candidates {
            match Self::parse(name, request.clone()) {
                Ok(call) => return Ok(call),
                Err(err) => misfits.push(format!("not an argument of `{name}`: {err}")),
            }
        }
        Err(misfits.join("; "))
    }

    fn parse(function: &str, request: serde_json::Value) -> serde_json::Result<Call> {
        use serde_json::from_value;
        Ok(match function {
            "quote" => Call::Quote(from_value(request)?),
            "evaluate" => Call::Evaluate(from_value(request)?),
            "plan" => Call::Plan(from_value(request)?),
            "on-return" => Call::OnReturn(from_value(request)?),
            "on-redeem" => Call::OnRedeem(from_value(request)?),
            "build-report" => Call::BuildReport(from_value(request)?),
            other => unreachable!("function {other} is not in any world"),
        })
    }
}

/// What a plugin answered to a [`Call`], after the host checked it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Answer {
    Quote(PriceQuote),
    Evaluation(Evaluation),
    Plan(DeliveryPlan),
    ReturnAward(ReturnAward),
    RedemptionGrant(RedemptionGrant),
    Report(Report),
}

/// The answer type of one call, taken out of a checked [`Answer`]: lets a caller that
/// made a call of one kind have that kind's answer without matching every variant.
pub trait AnswerOf: Sized {
    fn from_answer(answer: Answer) -> Option<Self>;
}

macro_rules! answer_of {
    ($($variant:ident($ty:ty)),* $(,)?) => {$(
        impl AnswerOf for $ty {
            fn from_answer(answer: Answer) -> Option<Self> {
                match answer {
                    Answer::$variant(value) => Some(value),
                    _ => None,
                }
            }
        }
    )*};
}

answer_of!(
    Quote(PriceQuote),
    Evaluation(Evaluation),
    Plan(DeliveryPlan),
    ReturnAward(ReturnAward),
    RedemptionGrant(RedemptionGrant),
    Report(Report),
);

impl Answer {
    /// Check a plugin's answer against the call it answers. A plugin is untrusted code:
    /// an answer that breaks the contract (a price for the wrong line, a negative fee,
    /// more points than the customer has) is a bad output, never passed on.
    pub fn check(&self, call: &Call) -> Result<(), String> {
        match (call, self) {
            (Call::Quote(request), Answer::Quote(quote)) => check_quote(request, quote),
            (Call::Evaluate(campaign), Answer::Evaluation(evaluation)) => {
                check_evaluation(campaign, evaluation)
            }
            (Call::Plan(request), Answer::Plan(plan)) => check_plan(request, plan),
            (Call::OnReturn(_), Answer::ReturnAward(award)) => {
                if award.refund < 0 {
                    return Err(format!("refund {} is negative", award.refund));
                }
                Ok(())
            }
            (Call::OnRedeem(request), Answer::RedemptionGrant(grant)) => {
                check_redemption(request, grant)
            }
            (Call::BuildReport(_), Answer::Report(report)) => check_report(report),
            (call, _) => Err(format!(
                "answer does not match the call `{}`",
                call.function()
            )),
        }
    }
}

fn check_quote(request: &QuoteRequest, quote: &PriceQuote) -> Result<(), String> {
    if quote.lines.len() != request.lines.len() {
        return Err(format!(
            "priced {} lines for a basket of {}",
            quote.lines.len(),
            request.lines.len()
        ));
    }
    let mut adjusted = vec![0i64; request.lines.len()];
    for adjustment in &quote.adjustments {
        let Some(slot) = adjusted.get_mut(adjustment.line as usize) else {
            return Err(format!(
                "adjustment for line {} of a basket of {}",
                adjustment.line,
                request.lines.len()
            ));
        };
        *slot = slot.saturating_add(adjustment.amount);
    }
    for (index, (input, priced)) in request.lines.iter().zip(&quote.lines).enumerate() {
        if priced.sku != input.sku {
            return Err(format!(
                "line {index}: priced SKU {} where the basket has {}",
                priced.sku, input.sku
            ));
        }
        if priced.unit_price < 0 {
            return Err(format!(
                "line {index} (SKU {}): negative unit price {}",
                input.sku, priced.unit_price
            ));
        }
        let qty = i64::from(input.qty);
        if priced.unit_price.checked_mul(qty) != Some(priced.total) {
            return Err(format!(
                "line {index} (SKU {}): total {} is not unit price {} × qty {}",
                input.sku, priced.total, priced.unit_price, input.qty
            ));
        }
        let change = priced.total - input.unit_price.saturating_mul(qty);
        if change != adjusted[index] {
            return Err(format!(
                "line {index} (SKU {}): total changed by {change} but the adjustments explain {}",
                input.sku, adjusted[index]
            ));
        }
    }
    Ok(())
}

fn check_evaluation(campaign: &Campaign, evaluation: &Evaluation) -> Result<(), String> {
    match evaluation.decision {
        Decision::Extend => match evaluation.new_deadline {
            Some(deadline) if deadline > campaign.deadline => Ok(()),
            Some(deadline) => Err(format!(
                "extends to {deadline}, not after the current deadline {}",
                campaign.deadline
            )),
            None => Err("decision extend without a new deadline".to_string()),
        },
        Decision::Go => Ok(()),
        Decision::NoGo | Decision::Wait if evaluation.supplier_qty != 0 => Err(format!(
            "orders {} units from the supplier on a {:?} decision",
            evaluation.supplier_qty, evaluation.decision
        )),
        Decision::NoGo | Decision::Wait => Ok(()),
    }
}

fn check_plan(request: &DeliveryRequest, plan: &DeliveryPlan) -> Result<(), String> {
    if plan.fee < 0 {
        return Err(format!("fee {} is negative", plan.fee));
    }
    if plan.fee_waived && plan.fee != 0 {
        return Err(format!("fee waived but {} charged", plan.fee));
    }
    if request.emergency && plan.meets_emergency_promise.is_none() {
        return Err("an emergency plan must say whether the 30-minute promise is met".into());
    }
    if let Some(courier) = &plan.courier
        && !request.couriers.iter().any(|known| &known.id == courier)
    {
        return Err(format!("assigns courier {courier}, who is not on shift"));
    }
    Ok(())
}

fn check_redemption(request: &RedemptionRequest, grant: &RedemptionGrant) -> Result<(), String> {
    if grant.points_used > request.requested || grant.points_used > request.balance {
        return Err(format!(
            "uses {} points; requested {}, balance {}",
            grant.points_used, request.requested, request.balance
        ));
    }
    if grant.discount < 0 || grant.discount > request.basket_total.max(0) {
        return Err(format!(
            "discount {} outside 0..={} (the basket total)",
            grant.discount, request.basket_total
        ));
    }
    Ok(())
}

fn check_report(report: &Report) -> Result<(), String> {
    for (index, row) in report.rows.iter().enumerate() {
        if row.revenue.is_some_and(|revenue| revenue < 0) {
            return Err(format!("row {index}: negative revenue"));
        }
    }
    Ok(())
}

/// The size of a value as the canonical ABI lays it out, roughly: what a call moves
/// across the sandbox boundary. Counted by walking the value, without encoding it, so
/// that the input and output caps cost next to nothing on every call.
pub trait WireSize {
    fn wire_size(&self) -> usize;
}

/// A string or list header (pointer and length).
const HEADER: usize = 8;

impl WireSize for String {
    fn wire_size(&self) -> usize {
        HEADER + self.len()
    }
}

impl<T: WireSize> WireSize for Option<T> {
    fn wire_size(&self) -> usize {
        8 + self.as_ref().map_or(0, WireSize::wire_size)
    }
}

impl<T: WireSize> WireSize for Vec<T> {
    fn wire_size(&self) -> usize {
        HEADER + self.iter().map(WireSize::wire_size).sum::<usize>()
    }
}

/// Records: the fixed part (numbers, flags, enums) plus their strings and lists.
macro_rules! wire_size {
    ($type:ty, $fixed:expr, |$value:ident| $variable:expr) => {
        impl WireSize for $type {
            fn wire_size(&self) -> usize {
                let $value = self;
                $fixed + $variable
            }
        }
    };
}

use super::bindings::types::{BasketLine, CustomerRef};

wire_size!(BasketLine, 40, |line| line.sku.wire_size()
    + line.category.wire_size()
    + line.batch.wire_size());
wire_size!(CustomerRef, 8, |customer| customer.pseudonym.wire_size());
wire_size!(QuoteRequest, 0, |request| request.lines.wire_size()
    + request.customer.wire_size());
wire_size!(Campaign, 48, |campaign| campaign.id.wire_size()
    + campaign.sku.wire_size()
    + campaign.product.wire_size()
    + campaign.supplier.wire_size());
wire_size!(Courier, 8, |courier| courier.id.wire_size());
wire_size!(DeliveryRequest, 32, |request| request.id.wire_size()
    + request.customer.wire_size()
    + request.items.wire_size()
    + request.couriers.wire_size());
wire_size!(ReturnEvent, 8, |event| event.customer.wire_size());
wire_size!(RedemptionRequest, 16, |request| request
    .customer
    .wire_size());
wire_size!(Aggregate, 24, |row| row.category.wire_size()
    + row.day.wire_size()
    + row.cohort.wire_size());
wire_size!(ReportRequest, 0, |request| request.first_day.wire_size()
    + request.last_day.wire_size()
    + request.rows.wire_size());
wire_size!(LinePrice, 16, |line| line.sku.wire_size());
wire_size!(Adjustment, 16, |adjustment| adjustment.reason.wire_size());
wire_size!(PriceQuote, 0, |quote| quote.lines.wire_size()
    + quote.adjustments.wire_size());
wire_size!(Evaluation, 32, |evaluation| evaluation.reason.wire_size());
wire_size!(DeliveryPlan, 40, |plan| plan.courier.wire_size()
    + plan.notes.wire_size());
wire_size!(ReturnAward, 16, |award| award.reason.wire_size());
wire_size!(RedemptionGrant, 16, |grant| grant.reason.wire_size());
wire_size!(ReportRow, 32, |row| row.category.wire_size()
    + row.period.wire_size()
    + row.cohort.wire_size());
wire_size!(Report, 8, |report| report.rows.wire_size());

impl WireSize for Call {
    fn wire_size(&self) -> usize {
        match self {
            Call::Quote(request) => request.wire_size(),
            Call::Evaluate(campaign) => campaign.wire_size(),
            Call::Plan(request) => request.wire_size(),
            Call::OnReturn(event) => event.wire_size(),
            Call::OnRedeem(request) => request.wire_size(),
            Call::BuildReport(request) => request.wire_size(),
        }
    }
}

impl WireSize for Answer {
    fn wire_size(&self) -> usize {
        match self {
            Answer::Quote(quote) => quote.wire_size(),
            Answer::Evaluation(evaluation) => evaluation.wire_size(),
            Answer::Plan(plan) => plan.wire_size(),
            Answer::ReturnAward(award) => award.wire_size(),
            Answer::RedemptionGrant(grant) => grant.wire_size(),
            Answer::Report(report) => report.wire_size(),
        }
    }
}
