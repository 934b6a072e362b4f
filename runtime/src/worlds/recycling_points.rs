//! `recycling-points`: deposit refunds and points for returned boxes and packaging,
//! discounts for points.

use crate::bindings::types::PolicyError;
use crate::capabilities::CallState;
use crate::wire::wire_size;
use crate::world::{Failure, Function};
use wasmtime::Store;

mod bindings {
    crate::bindings::policy_bindings!("recycling-points");
}

pub use bindings::exports::linli::policy::recycling_points_policy::{
    Condition, RedemptionGrant, RedemptionRequest, ReturnAward, ReturnEvent, ReturnKind,
};
pub(crate) type Pre = bindings::RecyclingPointsPre<CallState>;
/// The world's exports, found and type-checked in an instance.
pub(crate) type Exports = bindings::RecyclingPoints;

impl Function for ReturnEvent {
    type Pre = Pre;
    type Answer = ReturnAward;
    const NAME: &'static str = "on-return";

    fn call(
        &self,
        pre: &Pre,
        store: &mut Store<CallState>,
    ) -> Result<Result<ReturnAward, PolicyError>, Failure> {
        pre.instantiate(&mut *store)
            .map_err(Failure::Instantiate)?
            .linli_policy_recycling_points_policy()
            .call_on_return(store, self)
            .map_err(Failure::Run)
    }

    fn check(&self, award: &ReturnAward) -> Result<(), String> {
        if award.refund < 0 {
            return Err(format!("refund {} is negative", award.refund));
        }
        Ok(())
    }
}

impl Function for RedemptionRequest {
    type Pre = Pre;
    type Answer = RedemptionGrant;
    const NAME: &'static str = "on-redeem";

    fn call(
        &self,
        pre: &Pre,
        store: &mut Store<CallState>,
    ) -> Result<Result<RedemptionGrant, PolicyError>, Failure> {
        pre.instantiate(&mut *store)
            .map_err(Failure::Instantiate)?
            .linli_policy_recycling_points_policy()
            .call_on_redeem(store, self)
            .map_err(Failure::Run)
    }

    fn check(&self, grant: &RedemptionGrant) -> Result<(), String> {
        if grant.points_used > self.requested || grant.points_used > self.balance {
            return Err(format!(
                "uses {} points; requested {}, balance {}",
                grant.points_used, self.requested, self.balance
            ));
        }
        if grant.discount < 0 || grant.discount > self.basket_total.max(0) {
            return Err(format!(
                "discount {} outside 0..={} (the basket total)",
                grant.discount, self.basket_total
            ));
        }
        Ok(())
    }
}

wire_size!(ReturnEvent, 8, |event| event.customer.wire_size());
wire_size!(RedemptionRequest, 16, |request| request
    .customer
    .wire_size());
wire_size!(ReturnAward, 16, |award| award.reason.wire_size());
wire_size!(RedemptionGrant, 16, |grant| grant.reason.wire_size());
