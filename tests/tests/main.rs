//! The end-to-end tests, one module per area, linked as one test binary: each area
//! linking wasmtime, axum and SQLite into a binary of its own cost CI minutes of linking.

mod bad_input;
mod bundles;
mod daemon;
mod dashboard;
mod examples;
mod hostile;
mod isolation;
mod lifecycle;
mod openapi;
mod pipeline;
mod plugins;
mod pool;
mod registry;
mod sensors;
mod sync;
