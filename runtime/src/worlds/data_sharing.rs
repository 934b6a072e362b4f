//! `data-sharing`: the anonymised report a store shares with the alliance. The host,
//! not this check, drops every row under k customers (the store's sharing rule).

use crate::bindings::types::PolicyError;
use crate::capabilities::CallState;
use crate::wire::wire_size;
use crate::world::{Failure, Function};
use wasmtime::Store;

mod bindings {
    crate::bindings::policy_bindings!("data-sharing");
}

pub use bindings::exports::linli::policy::data_sharing_policy::{
    Aggregate, Report, ReportRequest, ReportRow,
};
pub(crate) type Pre = bindings::DataSharingPre<CallState>;
/// The world's exports, found and type-checked in an instance.
pub(crate) type Exports = bindings::DataSharing;

impl Function for ReportRequest {
    type Pre = Pre;
    type Answer = Report;
    const NAME: &'static str = "build-report";

    fn call(
        &self,
        pre: &Pre,
        store: &mut Store<CallState>,
    ) -> Result<Result<Report, PolicyError>, Failure> {
        pre.instantiate(&mut *store)
            .map_err(Failure::Instantiate)?
            .linli_policy_data_sharing_policy()
            .call_build_report(store, self)
            .map_err(Failure::Run)
    }

    fn check(&self, report: &Report) -> Result<(), String> {
        for (index, row) in report.rows.iter().enumerate() {
            if row.revenue.is_some_and(|revenue| revenue < 0) {
                return Err(format!("row {index}: negative revenue"));
            }
        }
        Ok(())
    }
}

wire_size!(Aggregate, 24, |row| row.category.wire_size()
    + row.day.wire_size()
    + row.cohort.wire_size());
wire_size!(ReportRequest, 0, |request| request.first_day.wire_size()
    + request.last_day.wire_size()
    + request.rows.wire_size());
wire_size!(ReportRow, 32, |row| row.category.wire_size()
    + row.period.wire_size()
    + row.cohort.wire_size());
wire_size!(Report, 8, |report| report.rows.wire_size());
