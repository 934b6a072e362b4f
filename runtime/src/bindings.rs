//! Host-side bindings of `linli:policy`, generated from `wit/`.
//!
//! The `host` world — the shared `types` and every host import — is generated once,
//! here; each policy world's module (`worlds/`) generates its export and reuses these,
//! so a `BasketLine` is one Rust type in the whole runtime. Every generated type is
//! serde-serialisable: that is the JSON shape of `linli plugin run` inputs and outputs
//! (snake_case fields, variant names as in Rust), and with the `openapi` feature every
//! one is a `utoipa` schema for an HTTP API's OpenAPI document.

/// `bindgen!` for one world of `linli:policy` with the runtime's derives, and any
/// further options.
macro_rules! bindgen_linli {
    ($world:literal, $($option:tt)*) => {
        #[cfg(feature = "openapi")]
        wasmtime::component::bindgen!({
            path: "../wit",
            world: $world,
            additional_derives: [serde::Serialize, serde::Deserialize, PartialEq, utoipa::ToSchema],
            $($option)*
        });
        #[cfg(not(feature = "openapi"))]
        wasmtime::component::bindgen!({
            path: "../wit",
            world: $world,
            additional_derives: [serde::Serialize, serde::Deserialize, PartialEq],
            $($option)*
        });
    };
}

/// The bindings of a policy world: its export, with the host world's types and imports.
macro_rules! policy_bindings {
    ($world:literal) => {
        $crate::bindings::bindgen_linli!($world, with: {
            "linli:policy": crate::bindings::host::linli::policy,
        });
    };
}
pub(crate) use {bindgen_linli, policy_bindings};

pub mod host {
    // Every host function may fail on the host side (a locked database, a call over its
    // bounds): that traps the call rather than inventing an answer.
    super::bindgen_linli!("host", imports: { default: trappable },);
}

pub use host::linli::policy::types;
