//! # linli-sdk
//!
//! Write a linli store policy — pricing, presale, elderly delivery, recycling points or
//! data sharing — in plain Rust, and build it to a WebAssembly component the store host
//! runs in its sandbox. See the crate README for the tutorial.
//!
//! A plugin is a type that implements one policy trait ([`pricing::Pricing`],
//! [`presale::Presale`], [`elderly_delivery::ElderlyDelivery`],
//! [`recycling_points::RecyclingPoints`] or [`data_sharing::DataSharing`]) and is
//! exported with that world's macro ([`export_pricing!`], [`export_presale!`],
//! [`export_elderly_delivery!`], [`export_recycling_points!`], [`export_data_sharing!`]).
//!
//! Inside a call, a plugin may read its install's settings ([`config`]), the request
//! time ([`clock`]) and write to the store's log ([`log`]); with the capability granted,
//! keep state ([`kv`]), read stock ([`inventory`]) and daily sales ([`sales`]). Nothing
//! else: no files, no network, no wall clock. The same request with the same settings
//! and store state at the same time always gets the same answer.
//!
//! Off wasm (in `cargo test`), all of these are answered by a [`testing::TestHost`], so
//! the very same trait implementation can be unit-tested natively.

#[cfg(all(feature = "arena", any(target_arch = "wasm32", test)))]
mod arena;
#[doc(hidden)]
pub mod bindings;
mod host;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

/// Plugin bundles: the manifest, the signed archive, publisher keys (feature `bundle`).
#[cfg(all(feature = "bundle", not(target_arch = "wasm32")))]
pub mod bundle;

pub use host::{clock, config, inventory, kv, log, sales};

#[cfg(all(feature = "arena", target_arch = "wasm32"))]
#[global_allocator]
static ALLOCATOR: arena::Arena = {
    static ROOM: arena::Room = arena::Room::new();
    // SAFETY: the only arena over this room.
    unsafe { arena::Arena::new(&ROOM) }
};

mod export;

/// The vocabulary shared by every policy: money, time, basket lines, customers, errors.
pub mod types {
    pub use crate::bindings::pricing::linli::policy::types::{
        BasketLine, Cents, CustomerRef, MemberTier, PolicyError, Timestamp,
    };

    /// One minute, one hour and one day in the unit of [`Timestamp`] (milliseconds).
    pub const MINUTE_MS: Timestamp = 60_000;
    pub const HOUR_MS: Timestamp = 60 * MINUTE_MS;
    pub const DAY_MS: Timestamp = 24 * HOUR_MS;
}

/// The `pricing` world: price a basket at the till, with a reason for every change.
pub mod pricing {
    pub use crate::bindings::pricing::exports::linli::policy::pricing_policy::{
        Adjustment, Guest as Pricing, LinePrice, PriceQuote, QuoteRequest,
    };
    pub use crate::types::*;
}

/// The `presale` world: decide whether a community presale campaign goes ahead.
pub mod presale {
    pub use crate::bindings::presale::exports::linli::policy::presale_policy::{
        Campaign, Decision, Evaluation, Guest as Presale,
    };
    pub use crate::types::*;
}

/// The `elderly-delivery` world: plan an errand-and-delivery for an elderly or disabled
/// resident.
pub mod elderly_delivery {
    pub use crate::bindings::elderly_delivery::exports::linli::policy::elderly_delivery_policy::{
        Courier, DeliveryPlan, DeliveryRequest, Guest as ElderlyDelivery, Priority,
    };
    pub use crate::types::*;
}

/// The `recycling-points` world: deposit refunds and points for returns, discounts for
/// points.
pub mod recycling_points {
    pub use crate::bindings::recycling_points::exports::linli::policy::recycling_points_policy::{
        Condition, Guest as RecyclingPoints, RedemptionGrant, RedemptionRequest, ReturnAward,
        ReturnEvent, ReturnKind,
    };
    pub use crate::types::*;
}

/// The `data-sharing` world: shape the anonymised report the store shares with the
/// alliance.
pub mod data_sharing {
    pub use crate::bindings::data_sharing::exports::linli::policy::data_sharing_policy::{
        Aggregate, Guest as DataSharing, Report, ReportRequest, ReportRow,
    };
    pub use crate::types::*;
}
