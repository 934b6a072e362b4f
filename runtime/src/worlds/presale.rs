//! `presale`: whether a community presale campaign goes ahead, and what to order.

use crate::bindings::types::PolicyError;
use crate::capabilities::CallState;
use crate::wire::wire_size;
use crate::world::{Failure, Function};
use wasmtime::Store;

mod bindings {
    crate::bindings::policy_bindings!("presale");
}

pub use bindings::exports::linli::policy::presale_policy::{Campaign, Decision, Evaluation};
pub(crate) type Pre = bindings::PresalePre<CallState>;
/// The world's exports, found and type-checked in an instance.
pub(crate) type Exports = bindings::Presale;

impl Function for Campaign {
    type Pre = Pre;
    type Answer = Evaluation;
    const NAME: &'static str = "evaluate";

    fn call(
        &self,
        pre: &Pre,
        store: &mut Store<CallState>,
    ) -> Result<Result<Evaluation, PolicyError>, Failure> {
        pre.instantiate(&mut *store)
            .map_err(Failure::Instantiate)?
            .linli_policy_presale_policy()
            .call_evaluate(store, self)
            .map_err(Failure::Run)
    }

    fn check(&self, evaluation: &Evaluation) -> Result<(), String> {
        match evaluation.decision {
            Decision::Extend => match evaluation.new_deadline {
                Some(deadline) if deadline > self.deadline => Ok(()),
                Some(deadline) => Err(format!(
                    "extends to {deadline}, not after the current deadline {}",
                    self.deadline
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
}

wire_size!(Campaign, 48, |campaign| campaign.id.wire_size()
    + campaign.sku.wire_size()
    + campaign.product.wire_size()
    + campaign.supplier.wire_size());
wire_size!(Evaluation, 32, |evaluation| evaluation.reason.wire_size());
