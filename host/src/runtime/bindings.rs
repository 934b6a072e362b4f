//! Host-side bindings of the `linli:policy` worlds, generated from `wit/`.
//!
//! The shared interfaces (`types`, `log`, `config`, `clock`) are generated once, with
//! the pricing world, and every other world reuses them, so a `BasketLine` is one Rust
//! type in the whole host. Every generated type is serde-serialisable: that is the JSON
//! shape of `linli plugin run` inputs and outputs (snake_case fields, variant names as
//! in Rust).

pub mod pricing {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "pricing",
        additional_derives: [serde::Serialize, serde::Deserialize, PartialEq],
    });
}

macro_rules! world_bindings {
    ($module:ident, $world:literal) => {
        pub mod $module {
            wasmtime::component::bindgen!({
                path: "../wit",
                world: $world,
                additional_derives: [serde::Serialize, serde::Deserialize, PartialEq],
                with: {
                    "linli:policy/types": crate::runtime::bindings::pricing::linli::policy::types,
                    "linli:policy/log": crate::runtime::bindings::pricing::linli::policy::log,
                    "linli:policy/config": crate::runtime::bindings::pricing::linli::policy::config,
                    "linli:policy/clock": crate::runtime::bindings::pricing::linli::policy::clock,
                },
            });
        }
    };
}

world_bindings!(presale, "presale");
world_bindings!(elderly_delivery, "elderly-delivery");
world_bindings!(recycling_points, "recycling-points");
world_bindings!(data_sharing, "data-sharing");

pub use pricing::linli::policy::types;
