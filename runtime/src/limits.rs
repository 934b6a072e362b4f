//! Per-install limits of a plugin call, and the memory cap that enforces one of them.

use serde::{Deserialize, Serialize};

/// What one call of one install may use. The defaults suit a policy that prices a few
/// hundred basket lines: generous for honest code, small enough that a runaway plugin
/// costs the store box nothing noticeable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Limits {
    /// Instruction budget (wasmtime fuel). ~10M is milliseconds of work.
    pub fuel: u64,
    /// Linear memory cap in bytes. 16 MiB holds any basket many times over.
    pub memory_bytes: usize,
    /// Wall-clock deadline in milliseconds, enforced by epoch interruption: a plugin
    /// blocked in a host call or spinning cheaply still stops.
    pub deadline_ms: u64,
    /// Cap on the serialised size of the argument, in bytes.
    pub max_input_bytes: usize,
    /// Cap on the serialised size of the answer, in bytes.
    pub max_output_bytes: usize,
    /// Quota of the install's kv keyspace in bytes (every key's and value's length): a
    /// write that would go over it is refused with the reason.
    pub kv_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: 10_000_000,
            memory_bytes: 16 << 20,
            deadline_ms: 50,
            max_input_bytes: 1 << 20,
            max_output_bytes: 1 << 20,
            kv_bytes: 4 << 20,
        }
    }
}

/// The error a refused `memory.grow` traps with, so the host can say "memory cap"
/// instead of a bare trap.
#[derive(Debug)]
pub struct MemoryCapExceeded {
    pub requested: usize,
    pub cap: usize,
}

impl std::fmt::Display for MemoryCapExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "memory grow to {} bytes over the {} byte cap",
            self.requested, self.cap
        )
    }
}

impl std::error::Error for MemoryCapExceeded {}

/// Caps one instance's memories and tables. Growing past the cap traps (rather than
/// returning -1, which Rust's allocator would turn into an abort with no message).
pub struct MemoryCap {
    pub cap: usize,
}

/// Tables hold function references; a policy needs a handful. The cap stops a plugin
/// from using table growth as a memory bomb.
const MAX_TABLE_ELEMENTS: usize = 100_000;

impl wasmtime::ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.cap {
            return Err(wasmtime::Error::new(MemoryCapExceeded {
                requested: desired,
                cap: self.cap,
            }));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}
