//! Host-side bindings of the `linli:policy` worlds, generated from `wit/`.
//!
//! The shared interfaces (`types` and the host imports) are generated once, with
//! the pricing world, and every other world reuses them, so a `BasketLine` is one Rust
//! type in the whole host. Every generated type is serde-serialisable: that is the JSON
//! shape of `linli plugin run` inputs and outputs (snake_case fields, variant names as
//! in Rust), and every one is a `utoipa` schema for the HTTP API's OpenAPI document.

pub mod pricing {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "pricing",
        additional_derives: [serde::Serialize, serde::Deserialize, PartialEq, utoipa::ToSchema],
        // Store reads can fail on the host side (a locked database); that traps the
        // call rather than inventing an answer.
        imports: {
            "linli:policy/kv": trappable,
            "linli:policy/inventory-read": trappable,
            "linli:policy/sales-read": trappable,
        },
    });
}

macro_rules! world_bindings {
    ($module:ident, $world:literal) => {
        pub mod $module {
            wasmtime::component::bindgen!({
                path: "../wit",
                world: $world,
                additional_derives: [serde::Serialize, serde::Deserialize, PartialEq, utoipa::ToSchema],
                with: {
                    "linli:policy/types": crate::runtime::bindings::pricing::linli::policy::types,
                    "linli:policy/log": crate::runtime::bindings::pricing::linli::policy::log,
                    "linli:policy/config": crate::runtime::bindings::pricing::linli::policy::config,
                    "linli:policy/clock": crate::runtime::bindings::pricing::linli::policy::clock,
                    "linli:policy/kv": crate::runtime::bindings::pricing::linli::policy::kv,
                    "linli:policy/inventory-read": crate::runtime::bindings::pricing::linli::policy::inventory_read,
                    "linli:policy/sales-read": crate::runtime::bindings::pricing::linli::policy::sales_read,
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
