//! A pricing plugin that misbehaves as its `mode` setting says. Without a mode it
//! prices honestly (every line unchanged), so the same component also serves as a
//! well-behaved neighbour.

use linli_sdk::config;
use linli_sdk::pricing::*;
use std::hint::black_box;

/// WASI's random interface called directly, as a hostile author can.
mod wasi_random {
    wit_bindgen::generate!({
        inline: "
            package wasi:random@0.2.0;

            interface random {
                get-random-bytes: func(len: u64) -> list<u8>;
                get-random-u64: func() -> u64;
            }

            world imports {
                import random;
            }
        ",
    });
}

pub struct Hostile;

linli_sdk::export_pricing!(Hostile);

impl Pricing for Hostile {
    fn quote(request: QuoteRequest) -> Result<PriceQuote, PolicyError> {
        match config::get("mode").as_deref() {
            None => Ok(unchanged(&request)),
            Some("spin") => spin(),
            Some("host-loop") => loop {
                // Cheap in instructions, costly in host time: only the deadline stops it.
                black_box(config::get("mode"));
            },
            Some("memory-bomb") => {
                // Megabyte after megabyte, barely touched: memory, not fuel, runs out.
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    let mut block = Vec::with_capacity(1 << 20);
                    block.push(0xa5u8);
                    hoard.push(black_box(block));
                }
            }
            Some("recursion") => {
                let depth = config::parse_or("depth", u64::MAX)?;
                Err(PolicyError::Refused(format!("reached {}", descend(depth))))
            }
            Some("random-bomb") => {
                // Asks the host for 64 MiB of randomness in one call: host work that no
                // deadline interrupts, unless the host bounds the call.
                let bytes = wasi_random::wasi::random::random::get_random_bytes(64 << 20);
                Err(PolicyError::Refused(format!("got {} bytes", bytes.len())))
            }
            Some("panic") => panic!("hostile plugin panics on purpose"),
            Some("unreachable") => trap(),
            Some("huge-output") => {
                let mut quote = unchanged(&request);
                quote.adjustments.push(Adjustment {
                    line: 0,
                    amount: 0,
                    reason: "x".repeat(3 << 20),
                });
                Ok(quote)
            }
            Some("wrong-lines") => Ok(PriceQuote {
                lines: Vec::new(),
                adjustments: Vec::new(),
            }),
            Some("free-lunch") => {
                // Prices everything at 0 without a word of explanation.
                let mut quote = unchanged(&request);
                for line in &mut quote.lines {
                    line.unit_price = 0;
                    line.total = 0;
                }
                Ok(quote)
            }
            Some(other) => Err(PolicyError::BadConfig(format!("unknown mode {other}"))),
        }
    }
}

fn unchanged(request: &QuoteRequest) -> PriceQuote {
    let lines = request.lines.iter().map(|line| LinePrice {
        sku: line.sku.clone(),
        unit_price: line.unit_price,
        total: line.unit_price * i64::from(line.qty),
    });
    PriceQuote {
        lines: lines.collect(),
        adjustments: Vec::new(),
    }
}

fn spin() -> ! {
    let mut counter = 0u64;
    loop {
        counter = black_box(counter.wrapping_add(1));
    }
}

/// Recursion the compiler cannot turn into a loop: each frame combines its result in a
/// way that is not an accumulation.
fn descend(depth: u64) -> u64 {
    if depth == 0 {
        return 1;
    }
    descend(depth - 1).rotate_left(7) ^ depth
}

#[cfg(target_arch = "wasm32")]
fn trap() -> ! {
    core::arch::wasm32::unreachable()
}

#[cfg(not(target_arch = "wasm32"))]
fn trap() -> ! {
    std::process::abort()
}
