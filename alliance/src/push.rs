//! How a store's outbox travels: a signed [`Push`] of [`Envelope`]s, answered with the
//! highest seq the server has with no gap below it ([`Acked`]).

use crate::event::{Event, ParseError};
use serde::{Deserialize, Serialize};

/// The most events one push carries; the server refuses more.
pub const MAX_EVENTS: usize = 1000;

/// A batch of a store's events, oldest first (`POST` [`EVENTS`](crate::paths::EVENTS)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Push {
    /// The store's name at the alliance; the key that signs the push must be its key.
    pub store: String,
    pub events: Vec<Envelope>,
}

/// One event a store shares, as it pushes it. The payload stays raw JSON: a server
/// keeps an event of a kind it does not know, or whose payload it cannot read, rather
/// than refuse it and hold up the store's later events; [`Envelope::event`] reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    /// The store's sequence number, from 1, never reused.
    pub seq: i64,
    /// [`Event::kind`].
    pub kind: String,
    /// When the store recorded it, unix ms.
    pub at: i64,
    pub payload: serde_json::Value,
}

impl Envelope {
    pub fn new(seq: i64, at: i64, event: &Event) -> Envelope {
        Envelope {
            seq,
            kind: event.kind().to_string(),
            at,
            payload: event.payload(),
        }
    }

    /// The event, typed; why not when the kind is unknown or the payload unreadable.
    pub fn event(&self) -> Result<Event, ParseError> {
        Event::parse(&self.kind, &self.payload)
    }
}

/// The server's answer to a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acked {
    /// Every event 1..=acked of the store is kept.
    pub acked: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StockOfferWithdrawn;

    #[test]
    fn a_push_is_the_json_stores_already_send() {
        let text = r#"{"store":"corner","events":[{"seq":1,"kind":"stock-offer-withdrawn","at":5,"payload":{"offer":"o1"}}]}"#;
        let push: Push = serde_json::from_str(text).unwrap();
        let withdrawn = Event::StockOfferWithdrawn(StockOfferWithdrawn { offer: "o1".into() });
        assert_eq!(push.events, [Envelope::new(1, 5, &withdrawn)]);
        assert_eq!(push.events[0].event().unwrap(), withdrawn);
        assert_eq!(serde_json::to_string(&push).unwrap(), text);
        assert_eq!(
            serde_json::to_string(&Acked { acked: 3 }).unwrap(),
            r#"{"acked":3}"#
        );
    }

    #[test]
    fn an_unknown_field_in_an_envelope_is_refused() {
        let text = r#"{"seq":1,"kind":"daily-sales","at":5,"payload":{},"extra":1}"#;
        let err = serde_json::from_str::<Envelope>(text).unwrap_err();
        assert!(err.to_string().contains("extra"), "{err}");
    }
}
