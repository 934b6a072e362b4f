//! The wit-bindgen output for each world of `linli:policy`. Plugin authors never name
//! these modules: the rest of the SDK re-exports what they need.
//!
//! Every world is generated here, once; the shared interfaces (`types` and the host
//! imports) are generated with the first world and reused by the others, so a
//! `BasketLine` is one type whichever policy uses it. A plugin binary only carries the
//! world it exports: wit-bindgen emits each world's component type from its export macro.

pub mod pricing {
    wit_bindgen::generate!({
        path: concat!(env!("CARGO_MANIFEST_DIR"), "/../wit"),
        world: "pricing",
        pub_export_macro: true,
        export_macro_name: "export_component",
        default_bindings_module: "linli_sdk::bindings::pricing",
        additional_derives: [serde::Serialize, serde::Deserialize, PartialEq],
    });
}

macro_rules! world_bindings {
    ($module:ident, $world:literal, $bindings:literal) => {
        pub mod $module {
            wit_bindgen::generate!({
                path: concat!(env!("CARGO_MANIFEST_DIR"), "/../wit"),
                world: $world,
                pub_export_macro: true,
                export_macro_name: "export_component",
                default_bindings_module: $bindings,
                additional_derives: [serde::Serialize, serde::Deserialize, PartialEq],
                with: {
                    "linli:policy/types@0.1.0": crate::bindings::pricing::linli::policy::types,
                    "linli:policy/log@0.1.0": crate::bindings::pricing::linli::policy::log,
                    "linli:policy/config@0.1.0": crate::bindings::pricing::linli::policy::config,
                    "linli:policy/clock@0.1.0": crate::bindings::pricing::linli::policy::clock,
                    "linli:policy/kv@0.1.0": crate::bindings::pricing::linli::policy::kv,
                    "linli:policy/inventory-read@0.1.0": crate::bindings::pricing::linli::policy::inventory_read,
                    "linli:policy/sales-read@0.1.0": crate::bindings::pricing::linli::policy::sales_read,
                },
            });
        }
    };
}

world_bindings!(presale, "presale", "linli_sdk::bindings::presale");
world_bindings!(
    elderly_delivery,
    "elderly-delivery",
    "linli_sdk::bindings::elderly_delivery"
);
world_bindings!(
    recycling_points,
    "recycling-points",
    "linli_sdk::bindings::recycling_points"
);
world_bindings!(
    data_sharing,
    "data-sharing",
    "linli_sdk::bindings::data_sharing"
);
