//! A plugin spinning on one thread must not slow calls to another plugin on the other
//! thread by more than a small factor. A bounded count of calls, compared with the same
//! count measured in the same run without the spinner; alone in its test binary so no
//! other test competes for the two cores.

use linli_runtime::{Call, CallContext, Grants, World};
use linli_tests::{example, hostile, load, runtime};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

const CALLS: u32 = 300;

#[test]
fn a_spinning_plugin_does_not_slow_its_neighbour_much() {
    let neighbour = load("markdown-pricing");
    let (context, request) = example("markdown-pricing", "near-expiry-basket.json");
    let call = Call::from_json(World::Pricing, None, request).unwrap();
    let time_calls = || {
        let started = Instant::now();
        for _ in 0..CALLS {
            neighbour.call(&call, &context).unwrap();
        }
        started.elapsed()
    };
    time_calls(); // warm up: pool slots, caches

    let alone = time_calls();

    let spinner = runtime()
        .load(&hostile("pricing"), None, &Grants::none())
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let spins = Arc::new(AtomicU64::new(0));
    let spinning = {
        let (stop, spins) = (stop.clone(), spins.clone());
        thread::spawn(move || {
            let basket = Call::from_json(
                World::Pricing,
                None,
                serde_json::json!({"lines": [], "customer": null}),
            )
            .unwrap();
            let context = CallContext {
                config: Arc::new([("mode".to_string(), "spin".to_string())].into()),
                ..CallContext::default()
            };
            while !stop.load(Ordering::Relaxed) {
                assert!(spinner.call(&basket, &context).is_err());
                spins.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    // Let the spinner get going before measuring.
    while spins.load(Ordering::Relaxed) == 0 {
        thread::sleep(Duration::from_millis(1));
    }
    let beside_spinner = time_calls();
    stop.store(true, Ordering::Relaxed);
    spinning.join().unwrap();

    let factor = beside_spinner.as_secs_f64() / alone.as_secs_f64();
    eprintln!(
        "{CALLS} calls: {alone:?} alone, {beside_spinner:?} beside a spinning plugin ({factor:.2}×, {} spins)",
        spins.load(Ordering::Relaxed)
    );
    assert!(factor < 3.0, "slowed {factor:.2}× by a spinning plugin");
}
