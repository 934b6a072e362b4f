//! The alliance server as a library: its HTTP API, its database, event intake, the stock
//! pool, the operator's reports, bundle storage and mirroring, which the
//! `linli-registry` binary serves — and which `linli-bench` calls in-process to measure
//! applying pushed events (`events::receive`) against the same events pushed over HTTP
//! to `linli-registry serve`.
//!
//! Imports point one way: `api` → `events`, `pool`, `reports`, `blobs`, `db`;
//! `events` → `pool`, `db`; `blobs` → `db`; `pool`, `reports` and `db` import no other
//! module of the crate. `mirror` pulls another registry's index into `blobs` and `db`.

pub mod api;
pub mod blobs;
pub mod db;
pub mod events;
pub mod mirror;
pub mod pool;
pub mod reports;
