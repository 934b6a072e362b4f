//! `linli:policy/clock`: the request time, supplied by the host. Always granted. There
//! is no wall clock inside a plugin, so a decision can be replayed exactly.

use super::{CallState, Capability};
use crate::runtime::bindings::pricing::linli::policy::clock as wit;
use wasmtime::component::{HasSelf, Linker};

pub const CAPABILITY: Capability = Capability {
    interface: "clock",
    always_granted: true,
};

pub fn add_to_linker(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    wit::add_to_linker::<CallState, HasSelf<CallState>>(linker, |state| state)
}

pub struct CallClock {
    /// Unix milliseconds of the request.
    pub now: i64,
}

impl wit::Host for CallState {
    fn now(&mut self) -> i64 {
        self.clock.now
    }
}
