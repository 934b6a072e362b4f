//! linli: the store daemon and its CLI, the composition root of the store side. The
//! plugin runtime (`linli-runtime`) and the database (`linli-store`) are libraries it
//! wires together; here are the HTTP API, the daemon's startup and loops, installs,
//! sensors, `sync` of the outbox to the alliance, and `reference`, the reference
//! plugins built with the binary.

pub mod api;
pub mod daemon;
pub mod install;
pub mod reference;
pub mod sensors;
pub mod sync;
