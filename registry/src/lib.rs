//! The alliance server as a library: its HTTP API, its database, the stock pool and
//! mirroring, which the `linli-registry` binary serves — and which `linli-bench` calls
//! in-process to measure applying pushed events (`db::receive_events`) against the same
//! events pushed over HTTP to `linli-registry serve`.

pub mod api;
pub mod db;
pub mod mirror;
pub mod pool;
