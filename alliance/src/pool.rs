//! What a store daemon and the alliance server say to each other about the shared
//! stock pool: offers, transfers, and the calls a store makes to search, ask and decide.

use serde::{Deserialize, Serialize};

/// What a store offers: a batch of a SKU, described well enough for a store that does
/// not stock the SKU to add it to its catalogue.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = PoolItem))]
pub struct Item {
    /// The offering store's id for the offer.
    pub offer: String,
    pub sku: String,
    pub name: String,
    pub category: String,
    /// The offering store's shelf price, in cents.
    pub unit_price: i64,
    #[serde(default)]
    pub local_produce: bool,
    #[serde(default)]
    pub fresh: bool,
    #[serde(default)]
    pub reusable_box: bool,
    pub batch: String,
    pub qty: u32,
    /// Unix ms; none for goods that keep.
    pub expires_at: Option<i64>,
}

/// An open offer as a searching store sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = PoolOffer))]
pub struct Offer {
    /// The offering store.
    pub store: String,
    #[serde(flatten)]
    pub item: Item,
    /// Units not yet taken by accepted transfers.
    pub available: u32,
    /// From the searching store, rounded to 10 m.
    pub distance_km: f64,
    pub offered_at: i64,
}

/// Where a transfer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = TransferState))]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Waiting for the offering store.
    Proposed,
    /// The units are the receiving store's; both stores record the movement.
    Accepted,
    Declined,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Proposed => "proposed",
            State::Accepted => "accepted",
            State::Declined => "declined",
        }
    }

    pub fn parse(text: &str) -> Result<State, String> {
        match text {
            "proposed" => Ok(State::Proposed),
            "accepted" => Ok(State::Accepted),
            "declined" => Ok(State::Declined),
            other => Err(format!(
                "state {other:?}: one of proposed, accepted, declined"
            )),
        }
    }
}

/// A transfer of units of an offer from one store to another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = PoolTransfer))]
pub struct Transfer {
    pub transfer: i64,
    /// The offering store, which sends the units.
    pub from_store: String,
    /// The store that asked, which receives them.
    pub to_store: String,
    pub qty: u32,
    pub state: State,
    pub proposed_at: i64,
    pub decided_at: Option<i64>,
    /// The alliance-wide number of the decision, in the order decisions were made: a
    /// store pulls the transfers decided after the last one it recorded.
    pub decision: Option<i64>,
    /// The offer, with its batch and SKU.
    pub item: Item,
}

/// The farthest a search for offers reaches, in km.
pub const MAX_RADIUS_KM: f64 = 100.0;

/// The routes' query for offers near the asking store (`GET` [`OFFERS`](crate::paths::OFFERS)).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfferSearch {
    /// Offers of this SKU; every SKU without it.
    pub sku: Option<String>,
    /// From the asking store's location, in km (default 5).
    pub radius_km: Option<f64>,
}

/// A store asks another for units of its offer (`POST` [`TRANSFERS`](crate::paths::TRANSFERS)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = PoolProposal))]
#[serde(deny_unknown_fields)]
pub struct Proposal {
    /// The offering store.
    pub store: String,
    /// Its offer's id.
    pub offer: String,
    pub qty: u32,
}

/// The query for transfers (`GET` [`TRANSFERS`](crate::paths::TRANSFERS)), signed by a
/// store (which sees its own transfers only) or a member (any store's).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferQuery {
    /// Transfers this store sends or receives: for a store, itself (or left out).
    pub store: Option<String>,
    /// proposed (pending), accepted or declined: text, so the server can answer a state
    /// it does not know with the three it does ([`State::parse`]).
    pub state: Option<String>,
    /// Only transfers decided after this decision number, in the order decided.
    pub decided_after: Option<i64>,
}

/// What the offering store decides about a proposed transfer: the last segment of
/// [`paths::decision`](crate::paths::decision).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Accept,
    Decline,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Accept => "accept",
            Decision::Decline => "decline",
        }
    }

    /// The decision a path segment names; none for any other segment.
    pub fn parse(text: &str) -> Option<Decision> {
        [Decision::Accept, Decision::Decline]
            .into_iter()
            .find(|decision| decision.as_str() == text)
    }
}
