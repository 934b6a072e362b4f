//! linli: the store daemon and its CLI, the composition root of the store side. The
//! plugin runtime (`linli-runtime`) and the database (`linli-store`) are libraries it
//! wires together; here are the HTTP API, the daemon's `config`, startup and loops,
//! installs, sensors, the `alliance` client and `sync` of the outbox to it, and
//! `reference`, the reference plugins built with the binary. Imports point one way:
//! `daemon` composes the rest and nothing imports it; `api` and `sync` use `config`
//! and `alliance`, and `sync` does not use `api`.

pub mod alliance;
pub mod api;
pub mod config;
pub mod daemon;
pub mod install;
pub mod reference;
pub mod sensors;
pub mod sync;

/// The time now, in unix milliseconds: when a request is served, a loop ticks, a
/// request to the alliance is signed.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}
