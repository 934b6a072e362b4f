//! `elderly-delivery`: errand-and-delivery for elderly or disabled residents — fee,
//! priority, ETA, and the 30-minute promise for emergencies.

use crate::bindings::types::PolicyError;
use crate::capabilities::CallState;
use crate::wire::wire_size;
use crate::world::{Failure, Function};
use wasmtime::Store;

mod bindings {
    crate::bindings::policy_bindings!("elderly-delivery");
}

pub use bindings::exports::linli::policy::elderly_delivery_policy::{
    Courier, DeliveryPlan, DeliveryRequest, Priority,
};
pub(crate) type Pre = bindings::ElderlyDeliveryPre<CallState>;
/// The world's exports, found and type-checked in an instance.
pub(crate) type Exports = bindings::ElderlyDelivery;

impl Function for DeliveryRequest {
    type Pre = Pre;
    type Answer = DeliveryPlan;
    const NAME: &'static str = "plan";

    fn call(
        &self,
        pre: &Pre,
        store: &mut Store<CallState>,
    ) -> Result<Result<DeliveryPlan, PolicyError>, Failure> {
        pre.instantiate(&mut *store)
            .map_err(Failure::Instantiate)?
            .linli_policy_elderly_delivery_policy()
            .call_plan(store, self)
            .map_err(Failure::Run)
    }

    fn check(&self, plan: &DeliveryPlan) -> Result<(), String> {
        if plan.fee < 0 {
            return Err(format!("fee {} is negative", plan.fee));
        }
        if plan.fee_waived && plan.fee != 0 {
            return Err(format!("fee waived but {} charged", plan.fee));
        }
        if self.emergency && plan.meets_emergency_promise.is_none() {
            return Err("an emergency plan must say whether the 30-minute promise is met".into());
        }
        if let Some(courier) = &plan.courier
            && !self.couriers.iter().any(|known| &known.id == courier)
        {
            return Err(format!("assigns courier {courier}, who is not on shift"));
        }
        Ok(())
    }
}

wire_size!(Courier, 8, |courier| courier.id.wire_size());
wire_size!(DeliveryRequest, 32, |request| request.id.wire_size()
    + request.customer.wire_size()
    + request.items.wire_size()
    + request.couriers.wire_size());
wire_size!(DeliveryPlan, 40, |plan| plan.courier.wire_size()
    + plan.notes.wire_size());
