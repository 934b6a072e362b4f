//! linli-host: the store side of linli. The plugin runtime (`runtime`) runs policy
//! components in a sandbox; the `linli` binary wraps it in the store CLI.

pub mod runtime;
