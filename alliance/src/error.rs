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
    /// 413: the body is larger than the route takes.
    PayloadTooLarge,
    /// 414: the URI (path and query) is longer than the server reads.
    UriTooLong,
    /// 415: the body is not of a media type the route takes.
    UnsupportedMediaType,
    /// 422: a field is missing or invalid, or a plugin refused.
    Unprocessable,
    /// 431: the request's headers are larger than the server reads.
    HeadersTooLarge,
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
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::UriTooLong => 414,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::Unprocessable => 422,
            ErrorCode::HeadersTooLarge => 431,
            ErrorCode::BadGateway => 502,
            ErrorCode::Unavailable => 503,
            ErrorCode::Internal => 500,
        }
    }

    /// The code of an error answered with `status`: the one that goes with it, else
    /// the most general code of its class (a 4xx no code names is the client's
    /// [`ErrorCode::BadRequest`], a 5xx the server's [`ErrorCode::Internal`]).
    pub fn of_status(status: u16) -> ErrorCode {
        ErrorCode::ALL
            .into_iter()
            .find(|code| code.status() == status)
            .unwrap_or(if status < 500 {
                ErrorCode::BadRequest
            } else {
                ErrorCode::Internal
            })
    }

    /// Every code.
    pub const ALL: [ErrorCode; 14] = [
        ErrorCode::BadRequest,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::Conflict,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UriTooLong,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::Unprocessable,
        ErrorCode::HeadersTooLarge,
        ErrorCode::BadGateway,
        ErrorCode::Unavailable,
        ErrorCode::Internal,
    ];
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

/// Both servers' answers as axum sees them.
#[cfg(feature = "axum")]
mod answers {
    use super::{ApiErrorBody, ErrorCode};
    use axum::extract::Request;
    use axum::http::header;
    use axum::middleware::Next;
    use axum::response::Response;

    /// The most of a non-JSON error body [`json_errors`] reads to say what it said.
    const MAX_PLAIN_ERROR: usize = 4096;

    /// Every error answer is an [`ApiErrorBody`]: an error response that is not JSON (one an
    /// extractor or a layer wrote as text, or with no body at all) is answered as one, with
    /// the code its status goes with and its text, or the status's reason when it had none.
    /// Its headers (`Allow`, `Connection`) stay.
    pub async fn json_errors(request: Request, next: Next) -> Response {
        let response = next.run(request).await;
        let status = response.status();
        let json = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("application/json"));
        if !(status.is_client_error() || status.is_server_error()) || json {
            return response;
        }
        let (mut parts, body) = response.into_parts();
        let text = axum::body::to_bytes(body, MAX_PLAIN_ERROR)
            .await
            .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_string())
            .unwrap_or_default();
        let message = if text.is_empty() {
            status.canonical_reason().unwrap_or("error").to_lowercase()
        } else {
            text
        };
        let code = ErrorCode::of_status(status.as_u16());
        let body = serde_json::to_vec(&ApiErrorBody::answer(code, message))
            .expect("an error body serialises");
        parts.headers.remove(header::CONTENT_LENGTH);
        parts.headers.insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/json"),
        );
        Response::from_parts(parts, axum::body::Body::from(body))
    }
}

#[cfg(feature = "axum")]
pub use answers::json_errors;

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
    fn each_status_has_its_code_and_others_their_class() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::of_status(code.status()), code, "{code:?}");
        }
        assert_eq!(ErrorCode::of_status(418), ErrorCode::BadRequest);
        assert_eq!(ErrorCode::of_status(504), ErrorCode::Internal);
        let json = serde_json::to_value(ErrorCode::PayloadTooLarge).unwrap();
        assert_eq!(json, "payload_too_large");
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
