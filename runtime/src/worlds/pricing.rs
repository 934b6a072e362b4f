//! `pricing`: dynamic prices at the till, with a reason for every change.

use crate::bindings::types::PolicyError;
use crate::capabilities::CallState;
use crate::wire::wire_size;
use crate::world::{Failure, Function};
use wasmtime::Store;

mod bindings {
    crate::bindings::policy_bindings!("pricing");
}

pub use bindings::exports::linli::policy::pricing_policy::{
    Adjustment, LinePrice, PriceQuote, QuoteRequest,
};
pub(crate) type Pre = bindings::PricingPre<CallState>;

impl Function for QuoteRequest {
    type Pre = Pre;
    type Answer = PriceQuote;
    const NAME: &'static str = "quote";

    fn call(
        &self,
        pre: &Pre,
        store: &mut Store<CallState>,
    ) -> Result<Result<PriceQuote, PolicyError>, Failure> {
        pre.instantiate(&mut *store)
            .map_err(Failure::Instantiate)?
            .linli_policy_pricing_policy()
            .call_quote(store, self)
            .map_err(Failure::Run)
    }

    fn check(&self, quote: &PriceQuote) -> Result<(), String> {
        let request = self;
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
}

wire_size!(QuoteRequest, 0, |request| request.lines.wire_size()
    + request.customer.wire_size());
wire_size!(LinePrice, 16, |line| line.sku.wire_size());
wire_size!(Adjustment, 16, |adjustment| adjustment.reason.wire_size());
wire_size!(PriceQuote, 0, |quote| quote.lines.wire_size()
    + quote.adjustments.wire_size());
