//! The alliance server's database as a library, so that `linli-bench` can measure
//! applying pushed events in-process (`db::receive_events`) against the same events
//! pushed over HTTP to `linli-registry serve`.

pub mod db;
