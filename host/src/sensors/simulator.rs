//! Simulated devices for the demo store, so the dashboard and the cold-chain rule have
//! something to show: two fridges, a freezer, a produce-humidity sensor and an egg
//! shelf. The second fridge's door is now and then left open for about twenty minutes,
//! which is long enough to raise a cold-chain alert.

use super::IncomingReading;

pub const FRIDGE: &str = "sim-fridge-1";
pub const PRODUCE_FRIDGE: &str = "sim-fridge-2";
pub const FREEZER: &str = "sim-freezer-1";
pub const HUMIDITY: &str = "sim-produce-humidity";
pub const SHELF: &str = "sim-shelf-eggs";

/// A full egg shelf, in grams (30 trays of 10 eggs).
const FULL_SHELF_GRAMS: f64 = 30.0 * 10.0 * 55.0;
/// About one door left open every two hours.
const EXCURSION_PER_HOUR: f64 = 0.5;
const EXCURSION_MS: i64 = 22 * 60_000;

pub struct Simulator {
    rng: u64,
    /// When the produce fridge's door was left open, while it is.
    door_open_since: Option<i64>,
    shelf_grams: f64,
}

impl Simulator {
    pub fn new(seed: u64) -> Simulator {
        Simulator {
            rng: seed | 1,
            door_open_since: None,
            shelf_grams: FULL_SHELF_GRAMS,
        }
    }

    /// A uniform number in [0, 1) (xorshift64*).
    fn uniform(&mut self) -> f64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Noise of about ±`spread`.
    fn noise(&mut self, spread: f64) -> f64 {
        (self.uniform() - 0.5) * 2.0 * spread
    }

    /// Every device's reading at `now`, `interval_ms` after the previous ones.
    pub fn read(&mut self, now: i64, interval_ms: u64) -> Vec<IncomingReading> {
        let hours = interval_ms as f64 / 3_600_000.0;
        let draw = self.uniform();
        match self.door_open_since {
            Some(since) if now - since > EXCURSION_MS => self.door_open_since = None,
            None if draw < EXCURSION_PER_HOUR * hours => self.door_open_since = Some(now),
            _ => {}
        }
        // The compressor cycles over about twenty minutes.
        let cycle = (now as f64 / 1_200_000.0 * std::f64::consts::TAU).sin();
        let produce = match self.door_open_since {
            // Warms towards the room, about 0.6 °C a minute, up to 14 °C.
            Some(since) => (5.0 + (now - since) as f64 / 100_000.0).min(14.0),
            None => 4.5 + cycle * 0.8,
        } + self.noise(0.2);
        // Customers take eggs; the clerk refills the shelf when it runs low.
        self.shelf_grams -= (self.uniform() * 120.0 * hours * 60.0).round();
        if self.shelf_grams < FULL_SHELF_GRAMS * 0.2 {
            self.shelf_grams = FULL_SHELF_GRAMS;
        }
        let reading = |device: &str, kind: &str, value: f64| IncomingReading {
            device: device.to_string(),
            kind: kind.to_string(),
            value: (value * 10.0).round() / 10.0,
            at: now,
        };
        vec![
            reading(FRIDGE, "temperature", 3.5 + cycle + self.noise(0.2)),
            reading(PRODUCE_FRIDGE, "temperature", produce),
            reading(FREEZER, "temperature", -18.5 + cycle + self.noise(0.3)),
            reading(HUMIDITY, "humidity", 88.0 + self.noise(2.0)),
            reading(SHELF, "shelf-weight", self.shelf_grams.max(0.0)),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sensors::{ColdChain, validate};

    #[test]
    fn simulated_readings_are_valid_and_the_chilled_ones_hold_their_range_with_the_door_shut() {
        let cold_chain = ColdChain::default();
        let mut simulator = Simulator::new(42);
        let start = 1_800_000_000_000;
        let mut excursions = 0;
        for tick in 0..(24 * 360) {
            let now = start + tick * 10_000;
            let readings = simulator.read(now, 10_000);
            validate(&readings, now).unwrap();
            for reading in &readings {
                if reading.kind != "temperature" {
                    continue;
                }
                let rule = cold_chain.rule(&reading.device);
                let in_range = (rule.min..=rule.max).contains(&reading.value);
                if reading.device == PRODUCE_FRIDGE && simulator.door_open_since.is_some() {
                    excursions += usize::from(!in_range);
                } else {
                    assert!(in_range, "{reading:?} out of {rule:?}");
                }
            }
        }
        // A day has some door-open excursions, but the fridge is mostly cold.
        assert!(excursions > 0 && excursions < 24 * 360 / 4, "{excursions}");
    }
}
