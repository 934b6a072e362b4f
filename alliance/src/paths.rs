//! The alliance server's routes that a store calls. A request is signed over its path,
//! so both sides take the path from here.

use crate::pool::Decision;

/// `POST` a [`Push`](crate::Push) of events; answered with [`Acked`](crate::Acked).
pub const EVENTS: &str = "/v1/alliance/events";
/// `GET` with an [`OfferSearch`](crate::OfferSearch): open offers near the asking store.
pub const OFFERS: &str = "/v1/alliance/offers";
/// `POST` a [`Proposal`](crate::Proposal); `GET` with a
/// [`TransferQuery`](crate::TransferQuery).
pub const TRANSFERS: &str = "/v1/alliance/transfers";
/// The route of a decision as the server declares it; a store calls [`decision`].
pub const DECISION_ROUTE: &str = "/v1/alliance/transfers/{transfer}/{decision}";

/// The path on which the offering store accepts or declines a transfer.
pub fn decision(transfer: i64, decision: Decision) -> String {
    format!("{TRANSFERS}/{transfer}/{}", decision.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decision_path_fills_the_route_the_server_declares() {
        assert_eq!(
            DECISION_ROUTE
                .replace("{transfer}", "7")
                .replace("{decision}", "decline"),
            decision(7, Decision::Decline)
        );
        assert_eq!(
            decision(7, Decision::Accept),
            "/v1/alliance/transfers/7/accept"
        );
        assert_eq!(Decision::parse("accept"), Some(Decision::Accept));
        assert_eq!(Decision::parse("decline"), Some(Decision::Decline));
        assert_eq!(Decision::parse("approve"), None);
    }
}
