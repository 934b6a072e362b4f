//! The store↔alliance protocol, typed once: what a store daemon (`linli`) and the
//! alliance server (`linli-registry`) say to each other, so neither side parses strings.
//!
//! - [`Event`]: what a store shares through its outbox, one payload type per kind;
//! - [`Push`] of [`Envelope`]s and the server's [`Acked`]: how the outbox travels;
//! - [`pool`]: the shared stock pool's offers, transfers and the calls about them;
//! - [`paths`]: the server's routes a store calls (a request's signature covers the path);
//! - [`ApiErrorBody`]: every error either side's HTTP API answers, with its [`ErrorCode`].
//!
//! The wire format is JSON and stays compatible with stores already deployed: an
//! envelope keeps its payload as raw JSON, so a server keeps (and acknowledges) an event
//! it cannot read instead of holding up the store's later ones.

pub mod error;
pub mod event;
pub mod paths;
pub mod pool;
pub mod push;

pub use error::{ApiErrorBody, ErrorCode, INTERNAL_MESSAGE};
pub use event::{
    CategorySales, DailySales, Event, ParseError, SharedRow, SharingReport, StockOfferWithdrawn,
};
pub use pool::{
    Decision, Item, MAX_RADIUS_KM, Offer, OfferSearch, Proposal, State, Transfer, TransferQuery,
};
pub use push::{Acked, Envelope, MAX_EVENTS, Push};
