//! The inert parts of WASI that Rust's standard library imports (stdio for panic
//! messages, environment, exit, wall clock, random). They are provided empty or
//! deterministic: no environment, no arguments, no files, no network; the wall clock
//! stands still at the request time; "random" bytes are a fixed sequence. stderr is kept (a
//! panic message explains a trap), stdout is discarded. Every call into them is bounded
//! in size (random bytes, stream writes, resources held), so none runs long in the host,
//! where the deadline cannot interrupt it.
//!
//! Which WASI interfaces a plugin may import at all is decided at load
//! (`ALLOWED_INTERFACES`); the linker holds all of WASI p2 only so that the check, not
//! a link failure, is what names the refused import.

use super::CallState;
use std::time::Duration;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{Deterministic, HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// WASI interfaces (without version) a plugin may import. Everything else is refused at
/// load: the filesystem, sockets and HTTP (the outside world), and the monotonic clock,
/// whose pollables would let a plugin block the host thread in a sleep that no
/// deadline interrupts (host calls are not interruptible).
pub const ALLOWED_INTERFACES: &[&str] = &[
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:clocks/wall-clock",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
];

/// Why a WASI interface outside `ALLOWED_INTERFACES` is refused, for the error message.
pub fn refusal(interface: &str) -> &'static str {
    if interface == "wasi:clocks/monotonic-clock" {
        "a plugin may not sleep or time itself; the request time is `clock.now`"
    } else {
        "plugins have no files, network or outside world"
    }
}

/// How much of a plugin's stderr is kept: enough for a panic message and its location.
const STDERR_BYTES: usize = 4096;

/// The most random bytes one WASI call hands out: a hash seed needs 16. Without the
/// bound, `get-random-bytes(64 MiB)` ran seconds in the host, where no deadline
/// interrupts it.
pub const MAX_RANDOM_BYTES: u64 = 4096;

/// The most WASI resources (streams, pollables) one call may hold at once: each lives
/// in host memory until the call ends.
pub const MAX_RESOURCES: usize = 1024;

pub fn add_to_linker(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_sync(linker)
}

/// A call's WASI state, built the first time the plugin reaches for WASI (most calls
/// never do: a policy that does not panic or read its environment touches none of it),
/// so a call that does not use it does not pay for seeding random generators and
/// setting up streams.
pub struct CallWasi {
    now: Duration,
    ctx: Option<WasiCtx>,
    table: ResourceTable,
    stderr: Option<MemoryOutputPipe>,
}

impl CallWasi {
    pub fn new(now_ms: i64) -> CallWasi {
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_RESOURCES);
        CallWasi {
            now: Duration::from_millis(now_ms.max(0) as u64),
            ctx: None,
            table,
            stderr: None,
        }
    }

    fn ctx(&mut self) -> WasiCtxView<'_> {
        let ctx = self.ctx.get_or_insert_with(|| {
            let stderr = MemoryOutputPipe::new(STDERR_BYTES);
            self.stderr = Some(stderr.clone());
            WasiCtxBuilder::new()
                .stderr(stderr)
                .wall_clock(FrozenClock(self.now))
                .secure_random(Deterministic::new(vec![0x6c, 0x69, 0x6e, 0x6c, 0x69]))
                .insecure_random(Deterministic::new(vec![0x6c, 0x69, 0x6e, 0x6c, 0x69]))
                .insecure_random_seed(0x6c696e6c69)
                .max_random_size(MAX_RANDOM_BYTES)
                .build()
        });
        WasiCtxView {
            ctx,
            table: &mut self.table,
        }
    }

    /// What the plugin wrote to stderr, lossily decoded.
    pub fn stderr(&self) -> String {
        let written = self.stderr.as_ref().map(MemoryOutputPipe::contents);
        String::from_utf8_lossy(written.as_deref().unwrap_or_default()).into_owned()
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        self.wasi.ctx()
    }
}

/// A clock that reads the request time, whenever it is read.
struct FrozenClock(Duration);

impl HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_millis(1)
    }

    fn now(&self) -> Duration {
        self.0
    }
}
