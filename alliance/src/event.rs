//! What a store shares with the alliance through its outbox: one [`Event`] variant per
//! kind, each with its payload type. The kind names are declared once, in the table at
//! the bottom of this file; every list of them derives from it.

use crate::pool::Item;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// One ended store day's sales per category.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DailySales {
    /// The store's local day, "YYYY-MM-DD".
    pub day: String,
    /// In category order; a day without sales has none, and a category bought by fewer
    /// than the store's k distinct customers is left out.
    pub categories: Vec<CategorySales>,
}

/// A category's sales on one day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CategorySales {
    pub category: String,
    /// Baskets with the category.
    pub sales: i64,
    pub units: i64,
    /// Cents.
    pub revenue: i64,
}

/// An offer taken back: no more transfers of it are proposed or accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StockOfferWithdrawn {
    /// The offering store's id for the offer.
    pub offer: String,
}

/// A data-sharing report as the store's host queued it: the data-sharing plugin's rows
/// with every row under the store's k dropped. Fields missing from a stored report read
/// as empty, as they always have.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct SharingReport {
    /// First and last day of the report, inclusive, "YYYY-MM-DD".
    pub first_day: Option<String>,
    pub last_day: Option<String>,
    /// The k the store's host enforced.
    pub k: u32,
    /// The install that built the report.
    pub install: String,
    pub rows: Vec<SharedRow>,
    /// Rows left out below k, by the plugin and by the host.
    pub suppressed: u32,
    /// Of those, rows the plugin returned and the host dropped.
    pub dropped_by_host: u32,
}

/// A row of a data-sharing report (the `report-row` of the `data-sharing` world).
/// Dimensions the policy does not share are none.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct SharedRow {
    pub category: Option<String>,
    /// A day "YYYY-MM-DD" or an ISO week "YYYY-Www", as the policy chose.
    pub period: Option<String>,
    pub cohort: Option<String>,
    /// Distinct customers behind the row (the k-anonymity measure).
    pub customers: u32,
    pub units: u32,
    /// Cents.
    pub revenue: Option<i64>,
}

/// Why an event could not be read: its kind, and the field of its payload.
#[derive(Debug, Clone, PartialEq)]
pub enum ParseError {
    /// No event has this kind (a newer store, or a mistake).
    UnknownKind(String),
    /// The payload does not fit the kind's type.
    Payload {
        kind: &'static str,
        /// The path of the field within the payload, as `categories[0].sales`; empty
        /// for the payload as a whole.
        field: String,
        message: String,
    },
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::UnknownKind(kind) => write!(
                f,
                "event kind {kind:?}: not a kind this side knows ({})",
                Event::KINDS.join(", ")
            ),
            ParseError::Payload {
                kind,
                field,
                message,
            } if field.is_empty() => write!(f, "{kind} payload: {message}"),
            ParseError::Payload {
                kind,
                field,
                message,
            } => write!(f, "{kind} payload: {field}: {message}"),
        }
    }
}

impl std::error::Error for ParseError {}

/// A payload read as the type of its kind, or which field does not fit.
fn read<T: serde::de::DeserializeOwned>(
    kind: &'static str,
    payload: &Value,
) -> Result<T, ParseError> {
    serde_path_to_error::deserialize(payload).map_err(|err| {
        let field = err.path().to_string();
        ParseError::Payload {
            kind,
            field: if field == "." { String::new() } else { field },
            message: err.into_inner().to_string(),
        }
    })
}

/// Declares [`Event`] from one table: each variant, its payload type, and its kind's
/// name (with the constant that names it), so `kind`, `parse`, `payload` and `KINDS`
/// cannot disagree.
macro_rules! events {
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident($payload:ty) = $constant:ident($kind:literal),
    )*) => {
        /// An event a store shares with the alliance, queued in its outbox in the same
        /// transaction as the change it tells of.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Event {
            $( $(#[doc = $doc])* $variant($payload), )*
        }

        impl Event {
            $(
                #[doc = concat!("The kind of [`Event::", stringify!($variant), "`].")]
                pub const $constant: &'static str = $kind;
            )*

            /// Every kind, in declaration order.
            pub const KINDS: &'static [&'static str] = &[$($kind),*];

            /// The kind's name on the wire and in the outbox.
            pub fn kind(&self) -> &'static str {
                match self {
                    $( Event::$variant(_) => $kind, )*
                }
            }

            /// The event an envelope's kind and payload describe.
            pub fn parse(kind: &str, payload: &Value) -> Result<Event, ParseError> {
                match kind {
                    $( $kind => read($kind, payload).map(Event::$variant), )*
                    other => Err(ParseError::UnknownKind(other.to_string())),
                }
            }

            /// The payload as JSON.
            pub fn payload(&self) -> Value {
                match self {
                    $( Event::$variant(payload) => serde_json::to_value(payload), )*
                }
                .expect("event payloads serialise")
            }

            /// The payload as JSON text, as the outbox keeps it.
            pub fn to_payload(&self) -> String {
                match self {
                    $( Event::$variant(payload) => serde_json::to_string(payload), )*
                }
                .expect("event payloads serialise")
            }
        }
    };
}

events! {
    /// One ended store day's sales per category (the operator's weekly figures).
    DailySales(DailySales) = DAILY_SALES("daily-sales"),
    /// Surplus of a batch offered to the stock pool.
    StockOffer(Item) = STOCK_OFFER("stock-offer"),
    /// An offer taken back.
    StockOfferWithdrawn(StockOfferWithdrawn) = STOCK_OFFER_WITHDRAWN("stock-offer-withdrawn"),
    /// A k-anonymised data-sharing report.
    SharingReport(SharingReport) = SHARING_REPORT("sharing-report"),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each kind's payload exactly as today's stores write it.
    const WRITTEN: &[(&str, &str)] = &[
        (
            "daily-sales",
            r#"{"day":"2026-03-10","categories":[{"category":"dairy","sales":2,"units":3,"revenue":300}]}"#,
        ),
        (
            "stock-offer",
            r#"{"offer":"1","sku":"MILK-1L","name":"milk","category":"dairy","unit_price":1200,"local_produce":false,"fresh":true,"reusable_box":false,"batch":"B1","qty":10,"expires_at":1780086400000}"#,
        ),
        ("stock-offer-withdrawn", r#"{"offer":"1"}"#),
        (
            "sharing-report",
            r#"{"first_day":"2026-03-01","last_day":"2026-03-07","k":5,"install":"data-sharing","rows":[{"category":"dairy","period":"2026-W10","cohort":null,"customers":7,"units":12,"revenue":null}],"suppressed":2,"dropped_by_host":1}"#,
        ),
    ];

    #[test]
    fn every_kind_reads_and_writes_the_json_stores_already_send() {
        assert_eq!(
            WRITTEN.iter().map(|(kind, _)| *kind).collect::<Vec<_>>(),
            Event::KINDS
        );
        for (kind, text) in WRITTEN {
            let payload: Value = serde_json::from_str(text).unwrap();
            let event = Event::parse(kind, &payload).unwrap();
            assert_eq!(event.kind(), *kind);
            assert_eq!(event.to_payload(), *text, "{kind}");
            assert_eq!(event.payload(), payload, "{kind}");
        }
    }

    #[test]
    fn an_unreadable_payload_names_its_kind_and_field() {
        let payload = serde_json::json!({"day": "2026-03-10", "categories": [{"category": "dairy", "sales": "two"}]});
        let err = Event::parse(Event::DAILY_SALES, &payload).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("daily-sales payload: categories[0].sales: "),
            "{err}"
        );
        let err = Event::parse(Event::STOCK_OFFER_WITHDRAWN, &serde_json::json!({})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "stock-offer-withdrawn payload: missing field `offer`"
        );
        let err = Event::parse("price-change", &serde_json::json!({})).unwrap_err();
        assert_eq!(err, ParseError::UnknownKind("price-change".into()));
        assert!(err.to_string().contains("sharing-report"), "{err}");
    }

    #[test]
    fn a_sharing_report_missing_fields_reads_as_empty() {
        let event = Event::parse(
            Event::SHARING_REPORT,
            &serde_json::json!({"rows": [{"customers": 3}]}),
        )
        .unwrap();
        let Event::SharingReport(report) = event else {
            panic!("{event:?}")
        };
        assert_eq!(report.first_day, None);
        assert_eq!(report.rows[0].customers, 3);
        assert_eq!(report.suppressed, 0);
    }
}
