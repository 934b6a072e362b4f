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
/// The world's exports, found and type-checked in an instance.
pub(crate) type Exports = bindings::Pricing;

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
            // Checked: adjustments that only add up by wrapping or saturating (say
            // i64::MIN and i64::MAX on one line) would leave a receipt whose trail
            // does not add up.
            *slot = slot.checked_add(adjustment.amount).ok_or_else(|| {
                format!(
                    "adjustments of line {} overflow a 64-bit amount",
                    adjustment.line
                )
            })?;
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
            let change = input
                .unit_price
                .checked_mul(qty)
                .and_then(|before| priced.total.checked_sub(before))
                .ok_or_else(|| {
                    format!(
                        "line {index} (SKU {}): the change of its total overflows a 64-bit amount",
                        input.sku
                    )
                })?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::types::BasketLine;

    fn basket(unit_price: i64) -> QuoteRequest {
        QuoteRequest {
            lines: vec![BasketLine {
                sku: "6901".into(),
                qty: 1,
                unit_price,
                category: "household".into(),
                local_produce: false,
                batch: None,
                expires_at: None,
            }],
            customer: None,
        }
    }

    fn quote(unit_price: i64, amounts: &[i64]) -> PriceQuote {
        PriceQuote {
            lines: vec![LinePrice {
                sku: "6901".into(),
                unit_price,
                total: unit_price,
            }],
            adjustments: (amounts.iter())
                .map(|&amount| Adjustment {
                    line: 0,
                    amount,
                    reason: "x".into(),
                })
                .collect(),
        }
    }

    #[test]
    fn adjustments_that_add_up_only_by_overflowing_are_refused() {
        // Saturating, these summed to −1050 and "explained" a free line.
        let answer = quote(0, &[i64::MIN, -1, i64::MAX, -1049]);
        let err = basket(1050).check(&answer).unwrap_err();
        assert!(err.contains("overflow"), "{err}");
        // The honest trail of the same change passes.
        basket(1050).check(&quote(0, &[-1000, -50])).unwrap();
    }

    #[test]
    fn a_total_change_that_overflows_is_refused() {
        let err = basket(i64::MIN + 1)
            .check(&quote(i64::MAX, &[i64::MAX]))
            .unwrap_err();
        assert!(err.contains("overflow"), "{err}");
    }
}
