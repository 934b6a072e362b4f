//! The body of every error the store daemon's and the alliance server's HTTP APIs
//! answer: a stable machine-readable [`ErrorCode`] beside a message naming what is
//! wrong. A client switches on the code; a person reads the message. When a server
//! fails itself (500), the message says so and the details stay in that server's log.

use serde::{Deserialize, Serialize};

/// What kind of error it is, for a client to act on without reading the message.
/// Each goes with one HTTP status ([`ErrorCode::status`]); codes are only ever added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: the request is malformed (not JSON, an unknown or mistyped query parameter).
    BadRequest,
    /// 401: the credentials (bearer token, request signature) are missing or wrong.
    Unauthorized,
    /// 403: the caller may not do this to that (another store's offer).
    Forbidden,
    /// 404: the route or the thing named does not exist.
    NotFound,
    /// 405: not here (a read-only mirror takes no publish).
    MethodNotAllowed,
    /// 409: the request conflicts with the current state (not enough stock, already done).
    Conflict,
    /// 422: a field is missing or invalid, or a plugin refused.
    Unprocessable,
    /// 502: a server this one relies on (the registry, the alliance) failed.
    BadGateway,
    /// 503: nothing could decide (no working plugin); the operator has to fix it.
    Unavailable,
    /// 500: the server itself failed; the details are in its log.
    Internal,
}

impl ErrorCode {
    /// The HTTP status this code is answered with.
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::BadRequest => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::Conflict => 409,
            ErrorCode::Unprocessable => 422,
            ErrorCode::BadGateway => 502,
            ErrorCode::Unavailable => 503,
            ErrorCode::Internal => 500,
        }
    }
}

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiErrorBody {
    pub code: ErrorCode,
    /// What is wrong, naming the field, the route or the thing not found.
    pub error: String,
}

impl ApiErrorBody {
    /// What a client is told of an error of `code` that says `message`: a failure of
    /// the server itself ([`ErrorCode::Internal`]) is logged with its details (SQL text,
    /// paths) and answered without them.
    pub fn answer(code: ErrorCode, message: String) -> ApiErrorBody {
        let error = if code == ErrorCode::Internal {
            tracing::error!("{message}");
            INTERNAL_MESSAGE.to_string()
        } else {
            message
        };
        ApiErrorBody { code, error }
    }
}

/// What a client is told of a failure of the server itself.
pub const INTERNAL_MESSAGE: &str =
    "the server failed to serve this request; the details are in its log";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_of_the_server_keeps_its_details_in_the_log() {
        let details = "database: no such table: sales (/var/lib/linli/linli.db)".to_string();
        let body = ApiErrorBody::answer(ErrorCode::Internal, details);
        assert_eq!(body.error, INTERNAL_MESSAGE);
        let body = ApiErrorBody::answer(ErrorCode::Conflict, "only 3 on hand".into());
        assert_eq!(body.error, "only 3 on hand");
    }

    #[test]
    fn the_code_is_snake_case_on_the_wire_and_reads_back() {
        let body = ApiErrorBody {
            code: ErrorCode::MethodNotAllowed,
            error: "read-only mirror".into(),
        };
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(json["code"], "method_not_allowed");
        assert_eq!(serde_json::from_value::<ApiErrorBody>(json).unwrap(), body);
    }
}
