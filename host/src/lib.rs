//! linli-host: the store side of linli. The plugin runtime (`runtime`) runs policy
//! components in a sandbox; `reference` holds the reference plugins built with the
//! host; the `linli` binary wraps them in the store CLI; `sync` pushes the outbox to
//! the alliance.

pub mod api;
pub mod daemon;
pub mod install;
pub mod reference;
pub mod runtime;
pub mod sensors;
pub mod store;
pub mod sync;

/// Take a lock even when a thread panicked while holding it: each of the host's mutexes
/// guards a connection, a queue or a cache that a panic leaves usable.
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
