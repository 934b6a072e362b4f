//! A pricing plugin that sleeps: in the host, that would block a thread in a host call
//! no deadline can interrupt, so the store refuses to load it.

use linli_sdk::pricing::*;

pub struct Sleeper;

linli_sdk::export_pricing!(Sleeper);

impl Pricing for Sleeper {
    fn quote(_request: QuoteRequest) -> Result<PriceQuote, PolicyError> {
        std::thread::sleep(std::time::Duration::from_secs(3600));
        Err(PolicyError::Refused("woke up".into()))
    }
}
