//! What the server enforces of each field, stated in the OpenAPI document: a generated
//! client or a fuzzer that keeps to the document is refused for nothing the document
//! does not say. The derived schemas know a field's type; the limits the handlers and
//! the store check (an id's length, `qty` at least 1, a query parameter's range) are
//! written here once, from the same constants the checks use, and applied to the
//! document as it is served. A rule naming a schema, field or parameter the document
//! does not have fails the daemon's start (and so its tests).
//!
//! Integers are stated as they are on the wire: utoipa gives Rust's unsigned integers
//! formats of its own (`u-int32`), which no client knows; here a `u32` is an `int64`
//! from 0 to 4294967295, a `u8` or `u16` an `int32` within its range, a `u64` or `usize`
//! an `int64` from 0.

use super::plugins::{MAX_REQUIREMENT_CHARS, MAX_URL_CHARS};
use crate::sensors::{DEVICE_PATTERN, EARLIEST_MS, KINDS, MAX_BATCH};
use linli_sdk::bundle::IDENTIFIER_PATTERN;
use linli_store::text::{ID_PATTERN, MAX_ID_CHARS, MAX_TEXT_CHARS};
use serde_json::{Map, Value, json};

/// A limit the server enforces.
#[derive(Debug, Clone)]
enum Rule {
    /// An id or name: 1 to [`MAX_ID_CHARS`] characters, not blank, no control
    /// characters (`linli_store::text::id`).
    Id,
    /// Free text of at most [`MAX_TEXT_CHARS`] characters.
    Text,
    /// A name as a plugin's is: an install id.
    Identifier,
    /// Not empty.
    NonEmpty,
    /// 1 to this many characters.
    Chars(usize),
    /// A device id.
    Device,
    /// A number from, to (inclusive; `Value::Null` for no bound).
    Range(Value, Value),
    /// A number above the first (exclusive) and at most the second.
    Above(Value, Value),
    /// An array of this many items, at least and at most.
    Items(usize, Option<usize>),
    /// One of these strings.
    OneOf(Vec<&'static str>),
    /// A day, `YYYY-MM-DD`.
    Date,
}

impl Rule {
    fn apply(&self, schema: &mut Map<String, Value>) {
        let mut set = |key: &str, value: Value| {
            if !value.is_null() {
                schema.insert(key.to_string(), value);
            }
        };
        match self {
            Rule::Id => {
                set("minLength", json!(1));
                set("maxLength", json!(MAX_ID_CHARS));
                set("pattern", json!(ID_PATTERN));
            }
            Rule::Text => set("maxLength", json!(MAX_TEXT_CHARS)),
            Rule::Identifier => {
                set("minLength", json!(1));
                set("maxLength", json!(64));
                set("pattern", json!(IDENTIFIER_PATTERN));
            }
            Rule::NonEmpty => set("minLength", json!(1)),
            Rule::Chars(most) => {
                set("minLength", json!(1));
                set("maxLength", json!(most));
            }
            Rule::Device => set("pattern", json!(DEVICE_PATTERN)),
            Rule::Range(minimum, maximum) => {
                set("minimum", minimum.clone());
                set("maximum", maximum.clone());
            }
            Rule::Above(minimum, maximum) => {
                set("exclusiveMinimum", minimum.clone());
                set("maximum", maximum.clone());
            }
            Rule::Items(least, most) => {
                set("minItems", json!(least));
                set("maxItems", json!(most));
            }
            Rule::OneOf(values) => set("enum", json!(values)),
            Rule::Date => {
                set("format", json!("date"));
                set("pattern", json!(r"^\d{4}-\d{2}-\d{2}$"));
            }
        }
    }
}

/// At least 1: a quantity, a count.
fn at_least_one() -> Rule {
    Rule::Range(json!(1), Value::Null)
}

/// Fields of the request bodies: (schema, property, rule).
fn fields() -> Vec<(&'static str, &'static str, Rule)> {
    let kinds: Vec<&'static str> = KINDS.iter().map(|(kind, ..)| *kind).collect();
    vec![
        ("BasketItem", "sku", Rule::Id),
        ("BasketItem", "qty", at_least_one()),
        ("CustomerRef", "pseudonym", Rule::Id),
        ("StockDelivery", "sku", Rule::Id),
        ("StockDelivery", "qty", at_least_one()),
        ("StockDelivery", "batch", Rule::Id),
        ("StockDelivery", "supplier", Rule::Id),
        ("StockOut", "qty", at_least_one()),
        ("StockOut", "to", Rule::Id),
        ("StockOut", "note", Rule::Text),
        ("CampaignOpening", "campaign", Rule::Id),
        ("CampaignOpening", "sku", Rule::Id),
        ("CampaignOpening", "supplier", Rule::Id),
        ("CampaignOpening", "min_qty", at_least_one()),
        ("PreorderRequest", "customer", Rule::Id),
        ("PreorderRequest", "qty", at_least_one()),
        ("DeliveryRequested", "delivery", Rule::Id),
        ("DeliveryRequested", "items", Rule::Items(1, None)),
        ("DeliveryItem", "sku", Rule::Id),
        ("DeliveryItem", "qty", at_least_one()),
        ("Courier", "id", Rule::Id),
        ("RecyclingReturn", "count", at_least_one()),
        (
            "PointsRedemption",
            "basket_total",
            Rule::Range(json!(0), Value::Null),
        ),
        ("ReadingBatch", "readings", Rule::Items(1, Some(MAX_BATCH))),
        ("IncomingReading", "device", Rule::Device),
        ("IncomingReading", "kind", Rule::OneOf(kinds)),
        (
            "IncomingReading",
            "at",
            Rule::Range(json!(EARLIEST_MS), Value::Null),
        ),
        ("Acknowledgement", "by", Rule::Id),
        ("Acknowledgement", "note", Rule::Text),
        ("PoolOfferRequest", "batch", Rule::NonEmpty),
        ("PoolOfferRequest", "qty", at_least_one()),
        ("PoolProposal", "store", Rule::Id),
        ("PoolProposal", "offer", Rule::Id),
        ("PoolProposal", "qty", at_least_one()),
        ("ReportDays", "first_day", Rule::Date),
        ("ReportDays", "last_day", Rule::Date),
        ("FromRegistry", "plugin", Rule::Chars(MAX_REQUIREMENT_CHARS)),
        ("FromRegistry", "registry", Rule::Chars(MAX_URL_CHARS)),
        ("FromRegistry", "as", Rule::Identifier),
        (
            "CandidateFromRegistry",
            "plugin",
            Rule::Chars(MAX_REQUIREMENT_CHARS),
        ),
        (
            "CandidateFromRegistry",
            "registry",
            Rule::Chars(MAX_URL_CHARS),
        ),
    ]
}

/// Query parameters: (path, parameter, rule).
fn parameters() -> Vec<(&'static str, &'static str, Rule)> {
    use super::{inventory, sensors};
    let kinds: Vec<&'static str> = KINDS.iter().map(|(kind, ..)| *kind).collect();
    vec![
        (
            "/v1/inventory/expiring",
            "within_hours",
            Rule::Range(json!(1), json!(inventory::MAX_WITHIN_HOURS)),
        ),
        (
            "/v1/inventory/slow-movers",
            "days",
            Rule::Range(json!(1), json!(inventory::MAX_DAYS)),
        ),
        (
            "/v1/sensors/devices/{device}/readings",
            "limit",
            Rule::Range(json!(1), json!(sensors::MAX_HISTORY)),
        ),
        (
            "/v1/sensors/devices/{device}/readings",
            "kind",
            Rule::OneOf(kinds),
        ),
        (
            "/v1/sensors/alerts",
            "limit",
            Rule::Range(json!(1), json!(sensors::MAX_ALERTS)),
        ),
        ("/v1/pool/search", "sku", Rule::Id),
        (
            "/v1/pool/search",
            "radius_km",
            Rule::Above(json!(0), json!(linli_alliance::MAX_RADIUS_KM)),
        ),
        ("/v1/plugins/install/bundle", "as", Rule::Identifier),
    ]
}

/// State every constraint in `document` (the OpenAPI document as JSON).
pub fn declare(document: &mut Value) {
    integers(document);
    for (schema, property, rule) in fields() {
        let found = document
            .pointer_mut(&format!(
                "/components/schemas/{schema}/properties/{property}"
            ))
            .and_then(Value::as_object_mut)
            .unwrap_or_else(|| panic!("constraints: no field {schema}.{property} in the document"));
        rule.apply(found);
    }
    for (path, name, rule) in parameters() {
        let operations = document
            .pointer_mut(&format!("/paths/{}", path.replace('/', "~1")))
            .and_then(Value::as_object_mut)
            .unwrap_or_else(|| panic!("constraints: no path {path} in the document"));
        let mut applied = false;
        for operation in operations.values_mut() {
            let parameters = operation
                .get_mut("parameters")
                .and_then(Value::as_array_mut);
            for parameter in parameters.into_iter().flatten() {
                if parameter["name"] == name && parameter["in"] == "query" {
                    let schema = parameter["schema"]
                        .as_object_mut()
                        .expect("a parameter's schema");
                    rule.apply(schema);
                    applied = true;
                }
            }
        }
        assert!(applied, "constraints: no query parameter {name} of {path}");
    }
    readings(document);
}

/// A reading's value is within what its kind can physically be: one branch per kind.
fn readings(document: &mut Value) {
    let reading = document
        .pointer_mut("/components/schemas/IncomingReading")
        .and_then(Value::as_object_mut)
        .expect("constraints: no IncomingReading in the document");
    let branches: Vec<Value> = KINDS
        .iter()
        .map(|(kind, unit, low, high)| {
            json!({
                "title": kind,
                "description": format!("A {kind} reading, in {unit}"),
                "properties": {
                    "kind": {"const": kind},
                    "value": {"minimum": low, "maximum": high},
                },
            })
        })
        .collect();
    reading.insert("oneOf".into(), Value::Array(branches));
}

/// Every integer with a format a client knows and the range its Rust type holds.
fn integers(value: &mut Value) {
    match value {
        Value::Object(schema) => {
            let range = match schema.get("format").and_then(Value::as_str) {
                Some("u-int8") => Some(("int32", json!(u8::MAX))),
                Some("u-int16") => Some(("int32", json!(u16::MAX))),
                Some("u-int32") => Some(("int64", json!(u32::MAX))),
                Some("u-int64") => Some(("int64", Value::Null)),
                // `usize`: no format at all.
                None if is_integer(schema) && schema.get("minimum") == Some(&json!(0)) => {
                    Some(("int64", Value::Null))
                }
                _ => None,
            };
            if let Some((format, maximum)) = range {
                schema.insert("format".into(), json!(format));
                schema.insert("minimum".into(), json!(0));
                if !maximum.is_null() {
                    schema.insert("maximum".into(), maximum);
                }
            }
            schema.values_mut().for_each(integers);
        }
        Value::Array(items) => items.iter_mut().for_each(integers),
        _ => {}
    }
}

fn is_integer(schema: &Map<String, Value>) -> bool {
    match schema.get("type") {
        Some(Value::String(kind)) => kind == "integer",
        Some(Value::Array(kinds)) => kinds.iter().any(|kind| kind == "integer"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsigned_integers_get_a_known_format_and_their_range() {
        let mut document = json!({
            "a": {"type": "integer", "format": "u-int32", "minimum": 0},
            "b": {"type": ["integer", "null"], "format": "u-int8", "minimum": 0},
            "c": {"type": "integer", "minimum": 0},
            "d": {"type": "integer", "format": "u-int64", "minimum": 0},
            "e": [{"type": "integer", "format": "int64"}],
        });
        integers(&mut document);
        assert_eq!(
            document,
            json!({
                "a": {"type": "integer", "format": "int64", "minimum": 0, "maximum": 4294967295u32},
                "b": {"type": ["integer", "null"], "format": "int32", "minimum": 0, "maximum": 255},
                "c": {"type": "integer", "format": "int64", "minimum": 0},
                "d": {"type": "integer", "format": "int64", "minimum": 0},
                "e": [{"type": "integer", "format": "int64"}],
            })
        );
    }
}
