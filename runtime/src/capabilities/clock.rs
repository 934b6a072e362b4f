//! `linli:policy/clock`: the request time, supplied by the host. Always granted. There
//! is no wall clock inside a plugin, so a decision can be replayed exactly.

use super::{CallSetup, CallState, Capability, HostImport};
use crate::bindings::host::linli::policy::clock as wit;
use wasmtime::component::{HasSelf, Linker};

pub struct CallClock {
    /// Unix milliseconds of the request.
    pub now: i64,
}

impl HostImport for CallClock {
    const CAPABILITY: Capability = Capability {
        interface: "clock",
        always_granted: true,
    };

    fn for_call(setup: &CallSetup<'_>) -> CallClock {
        CallClock {
            now: setup.context.now,
        }
    }

    fn add_to_linker(
        linker: &mut Linker<CallState>,
        get: fn(&mut CallState) -> &mut Self,
    ) -> wasmtime::Result<()> {
        wit::add_to_linker::<CallState, HasSelf<Self>>(linker, get)
    }
}

impl wit::Host for CallClock {
    fn now(&mut self) -> wasmtime::Result<i64> {
        Ok(self.now)
    }
}
