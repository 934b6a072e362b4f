//! One export macro per world. Each turns a type implementing the world's trait into
//! the component's exports. Off wasm the macro expands to nothing, so the same crate
//! builds natively for unit tests (the component's export names are not valid native
//! symbols).

/// Export a [`crate::pricing::Pricing`] implementation as this plugin's `pricing` world.
///
/// ```ignore
/// struct MyPricing;
/// impl linli_sdk::pricing::Pricing for MyPricing { /* ... */ }
/// linli_sdk::export_pricing!(MyPricing);
/// ```
#[macro_export]
macro_rules! export_pricing {
    ($plugin:ident) => {
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::pricing::export_component!($plugin with_types_in $crate::bindings::pricing);
    };
}

/// Export a [`crate::presale::Presale`] implementation as this plugin's `presale` world.
#[macro_export]
macro_rules! export_presale {
    ($plugin:ident) => {
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::presale::export_component!($plugin with_types_in $crate::bindings::presale);
    };
}

/// Export a [`crate::elderly_delivery::ElderlyDelivery`] implementation as this plugin's
/// `elderly-delivery` world.
#[macro_export]
macro_rules! export_elderly_delivery {
    ($plugin:ident) => {
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::elderly_delivery::export_component!($plugin with_types_in $crate::bindings::elderly_delivery);
    };
}

/// Export a [`crate::recycling_points::RecyclingPoints`] implementation as this plugin's
/// `recycling-points` world.
#[macro_export]
macro_rules! export_recycling_points {
    ($plugin:ident) => {
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::recycling_points::export_component!($plugin with_types_in $crate::bindings::recycling_points);
    };
}

/// Export a [`crate::data_sharing::DataSharing`] implementation as this plugin's
/// `data-sharing` world.
#[macro_export]
macro_rules! export_data_sharing {
    ($plugin:ident) => {
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::data_sharing::export_component!($plugin with_types_in $crate::bindings::data_sharing);
    };
}
