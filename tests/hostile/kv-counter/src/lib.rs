//! A pricing plugin that counts the baskets it priced in `kv`, and traps after writing
//! when its `trap-after-write` setting is on: the kv capability, and proof that a failed
//! call's writes are dropped. With `fill = N` it also writes N values of 64 KiB: the
//! install's byte quota must stop it.

use linli_sdk::pricing::*;
use linli_sdk::{config, kv};

pub struct KvCounter;

linli_sdk::export_pricing!(KvCounter);

impl Pricing for KvCounter {
    fn quote(request: QuoteRequest) -> Result<PriceQuote, PolicyError> {
        let seen: u64 = kv::get("baskets")
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .and_then(|text| text.parse().ok())
            .unwrap_or(0);
        kv::set("baskets", (seen + 1).to_string().as_bytes()).map_err(PolicyError::Refused)?;
        // `fill`: write that many 64 KiB values, as a plugin hoarding the store's disk.
        for index in 0..config::parse_or("fill", 0u32)? {
            kv::set(&format!("hoard/{index}"), &[0xa5; 64 << 10]).map_err(PolicyError::Refused)?;
        }
        if config::parse_or("trap-after-write", false)? {
            panic!("trapping after a kv write");
        }
        let lines = request.lines.iter().map(|line| LinePrice {
            sku: line.sku.clone(),
            unit_price: line.unit_price,
            total: line.unit_price * i64::from(line.qty),
        });
        Ok(PriceQuote {
            lines: lines.collect(),
            adjustments: Vec::new(),
        })
    }
}
