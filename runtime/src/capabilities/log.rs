//! `linli:policy/log`: a plugin's messages, tagged with its name, go to the host's
//! tracing output and back to the caller with the answer. Always granted.

use super::{CallSetup, CallState, Capability, HostImport};
use crate::bindings::host::linli::policy::log::{self as wit, Level};
use serde::Serialize;
use std::sync::Arc;
use wasmtime::component::{HasSelf, Linker};

/// A chatty or hostile plugin must not flood the store's log: past these, messages are
/// counted, not kept.
const MAX_LINES: usize = 64;
const MAX_LINE_BYTES: usize = 1024;

/// One message a plugin logged during a call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogLine {
    pub level: &'static str,
    pub message: String,
}

pub struct CallLog {
    plugin: Arc<str>,
    pub(crate) lines: Vec<LogLine>,
    pub(crate) dropped: usize,
}

impl CallLog {
    pub fn new(plugin: Arc<str>) -> CallLog {
        CallLog {
            plugin,
            lines: Vec::new(),
            dropped: 0,
        }
    }
}

impl HostImport for CallLog {
    const CAPABILITY: Capability = Capability {
        interface: "log",
        always_granted: true,
    };

    fn for_call(setup: &CallSetup<'_>) -> CallLog {
        CallLog::new(setup.plugin.clone())
    }

    fn add_to_linker(
        linker: &mut Linker<CallState>,
        get: fn(&mut CallState) -> &mut Self,
    ) -> wasmtime::Result<()> {
        wit::add_to_linker::<CallState, HasSelf<Self>>(linker, get)
    }
}

impl wit::Host for CallLog {
    fn log(&mut self, level: Level, mut message: String) -> wasmtime::Result<()> {
        let log = self;
        if log.lines.len() >= MAX_LINES {
            log.dropped += 1;
            return Ok(());
        }
        if message.len() > MAX_LINE_BYTES {
            let mut cut = MAX_LINE_BYTES;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        let plugin = &*log.plugin;
        let level = match level {
            Level::Trace => {
                tracing::trace!(plugin, "{message}");
                "trace"
            }
            Level::Debug => {
                tracing::debug!(plugin, "{message}");
                "debug"
            }
            Level::Info => {
                tracing::info!(plugin, "{message}");
                "info"
            }
            Level::Warn => {
                tracing::warn!(plugin, "{message}");
                "warn"
            }
            Level::Error => {
                tracing::error!(plugin, "{message}");
                "error"
            }
        };
        log.lines.push(LogLine { level, message });
        Ok(())
    }
}
