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
