//! Hostile plugins (real components, `tests/hostile/`): each is contained with a typed
//! error naming the plugin, and the host keeps serving a well-behaved plugin on another
//! thread while it happens.

use linli_runtime::bindings::types::PolicyError;
use linli_runtime::capabilities::kv::MemoryKv;
use linli_runtime::{
    Answer, Call, CallContext, CallError, Grants, Limits, LoadError, Plugin, StoreAccess, World,
};
use linli_tests::{example, hostile, load, runtime};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::thread;

fn hostile_pricing() -> Plugin {
    runtime()
        .load(&hostile("pricing"), None, &Grants::none())
        .unwrap_or_else(|err| panic!("{err}"))
}

fn basket() -> Call {
    let request = json!({
        "lines": [
            {"sku": "MILK-1L", "qty": 2, "unit_price": 1290, "category": "dairy",
             "local_produce": true, "batch": null, "expires_at": null}
        ],
        "customer": null
    });
    Call::from_json(World::Pricing, None, request).unwrap()
}

fn in_mode(mode: &str) -> CallContext {
    CallContext {
        config: Arc::new([("mode".to_string(), mode.to_string())].into()),
        ..CallContext::default()
    }
}

/// Run the hostile call on its own thread and, while it runs, price a real basket with
/// the reference markdown plugin: the neighbour must be served, and correctly.
fn contained(mode: &str, context: CallContext) -> CallError {
    let plugin = hostile_pricing();
    let neighbour = load("markdown-pricing");
    let (neighbour_context, request) = example("markdown-pricing", "near-expiry-basket.json");
    let neighbour_call = Call::from_json(World::Pricing, None, request).unwrap();
    let context = CallContext {
        config: in_mode(mode).config,
        ..context
    };
    let attacker = thread::spawn(move || plugin.call(&basket(), &context));
    let mut served = 0;
    while !attacker.is_finished() || served == 0 {
        let outcome = neighbour.call(&neighbour_call, &neighbour_context).unwrap();
        assert!(matches!(outcome.answer, Ok(Answer::Quote(_))));
        served += 1;
    }
    match attacker.join().expect("the host thread survives") {
        Ok(outcome) => panic!(
            "mode {mode}: the hostile call answered {:?}",
            outcome.answer
        ),
        Err(err) => {
            assert!(
                err.to_string().contains("hostile_pricing"),
                "names the plugin: {err}"
            );
            err
        }
    }
}

#[test]
fn an_endless_loop_runs_out_of_fuel() {
    let err = contained("spin", CallContext::default());
    assert!(
        matches!(
            err,
            CallError::OutOfFuel {
                budget: 10_000_000,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_loop_over_a_host_call_misses_its_deadline() {
    // Fuel plentiful, so only the wall-clock deadline can stop it.
    let limits = Limits {
        fuel: u64::MAX / 2,
        ..Limits::default()
    };
    let started = std::time::Instant::now();
    let err = contained(
        "host-loop",
        CallContext {
            limits,
            ..CallContext::default()
        },
    );
    assert!(
        matches!(
            err,
            CallError::Deadline {
                deadline_ms: 50,
                ..
            }
        ),
        "{err}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn a_memory_bomb_hits_the_memory_cap() {
    let err = contained("memory-bomb", CallContext::default());
    match err {
        CallError::MemoryLimit { requested, cap, .. } => {
            assert_eq!(cap, 16 << 20);
            assert!(requested > cap);
        }
        other => panic!("{other}"),
    }
}

#[test]
fn runaway_recursion_overflows_the_stack() {
    let err = contained("recursion", CallContext::default());
    assert!(matches!(err, CallError::StackOverflow { .. }), "{err}");
}

#[test]
fn a_panic_traps_with_the_panic_message() {
    let err = contained("panic", CallContext::default());
    assert!(matches!(err, CallError::Trap { .. }), "{err}");
    assert!(err.to_string().contains("panics on purpose"), "{err}");
    assert_eq!(err.to_string().lines().count(), 1, "{err}");
}

#[test]
fn an_unreachable_instruction_traps() {
    let err = contained("unreachable", CallContext::default());
    assert!(matches!(err, CallError::Trap { .. }), "{err}");
    assert!(err.to_string().contains("unreachable"), "{err}");
}

#[test]
fn a_huge_output_is_over_the_output_cap() {
    let err = contained("huge-output", CallContext::default());
    assert!(matches!(err, CallError::BadOutput { .. }), "{err}");
    assert!(err.to_string().contains("cap"), "{err}");
}

#[test]
fn answers_that_break_the_contract_are_bad_output() {
    let plugin = hostile_pricing();
    let err = plugin.call(&basket(), &in_mode("wrong-lines")).unwrap_err();
    assert!(
        err.to_string().contains("priced 0 lines for a basket of 1"),
        "{err}"
    );
    let err = plugin.call(&basket(), &in_mode("free-lunch")).unwrap_err();
    assert!(err.to_string().contains("adjustments explain 0"), "{err}");
    // Without a mode, the same component is well-behaved.
    let outcome = plugin.call(&basket(), &CallContext::default()).unwrap();
    assert!(matches!(outcome.answer, Ok(Answer::Quote(_))));
}

#[test]
fn a_capability_that_was_not_granted_is_refused_at_load() {
    let err = runtime()
        .load(&hostile("kv-counter"), None, &Grants::none())
        .err()
        .unwrap();
    assert!(
        matches!(&err, LoadError::NotGranted { capabilities, .. } if capabilities == &["kv"]),
        "{err}"
    );
    assert!(err.to_string().contains("`kv`"), "{err}");
    let granted = Grants::parse(&["kv"]).unwrap();
    assert!(
        runtime()
            .load(&hostile("kv-counter"), None, &granted)
            .is_ok()
    );
}

#[test]
fn kv_keeps_writes_of_calls_that_answer_and_drops_those_of_calls_that_fail() {
    let granted = Grants::parse(&["kv"]).unwrap();
    let plugin = runtime()
        .load(&hostile("kv-counter"), None, &granted)
        .unwrap();
    let kv = Arc::new(MemoryKv::default());
    let mut context = CallContext {
        store: StoreAccess {
            kv: Some(kv.clone()),
            ..StoreAccess::default()
        },
        ..CallContext::default()
    };
    for _ in 0..3 {
        plugin.call(&basket(), &context).unwrap();
    }
    assert_eq!(
        kv.entries(),
        BTreeMap::from([("baskets".to_string(), b"3".to_vec())])
    );
    context.config = Arc::new([("trap-after-write".to_string(), "true".to_string())].into());
    assert!(matches!(
        plugin.call(&basket(), &context),
        Err(CallError::Trap { .. })
    ));
    assert_eq!(
        kv.entries()["baskets"],
        b"3",
        "the failed call's write is gone"
    );
}

#[test]
fn files_and_sockets_are_refused_at_load() {
    let err = runtime()
        .load(&hostile("escape"), None, &Grants::none())
        .err()
        .unwrap();
    let text = err.to_string();
    assert!(matches!(err, LoadError::ForbiddenImport { .. }), "{text}");
    assert!(
        text.contains("wasi:filesystem") || text.contains("wasi:sockets"),
        "{text}"
    );
    assert!(text.contains("hostile_escape"), "{text}");
}

#[test]
fn a_plugin_that_sleeps_is_refused_at_load() {
    let err = runtime()
        .load(&hostile("sleeper"), None, &Grants::none())
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("wasi:clocks/monotonic-clock"),
        "{err}"
    );
    assert!(err.to_string().contains("may not sleep"), "{err}");
}

#[test]
fn a_component_of_another_world_is_not_a_policy() {
    let err = runtime()
        .load(&hostile("other-world"), None, &Grants::none())
        .err()
        .unwrap();
    assert!(matches!(err, LoadError::NoWorld { .. }), "{err}");
}

#[test]
fn an_export_of_the_wrong_type_is_refused_at_load() {
    let err = runtime()
        .load(&hostile("wrong-signature"), None, &Grants::none())
        .err()
        .unwrap();
    assert!(matches!(err, LoadError::Contract { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("`pricing` exports do not match"), "{text}");
    assert!(text.contains("hostile_wrong_signature"), "{text}");
}

#[test]
fn start_up_code_that_never_ends_is_refused_at_load() {
    let wasm = linli_tests::start_loop_component();
    let err = runtime()
        .load_bytes(
            "start-loop",
            std::path::Path::new("start-loop.wasm"),
            &wasm,
            None,
            &Grants::none(),
        )
        .err()
        .unwrap();
    let LoadError::Start { error, .. } = &err else {
        panic!("{err}");
    };
    assert!(
        matches!(
            **error,
            CallError::OutOfFuel { .. } | CallError::Deadline { .. }
        ),
        "{err}"
    );
}

#[test]
fn a_host_call_asking_for_megabytes_of_randomness_is_refused_at_once() {
    // Before the bound, the host made 64 MiB (5 s, 98 MiB) before the guest could not
    // take them.
    let err = contained("random-bomb", CallContext::default());
    assert!(matches!(err, CallError::Trap { .. }), "{err}");
    assert!(err.to_string().contains("exceeds limit 4096"), "{err}");
}

#[test]
fn kv_writes_over_the_installs_byte_quota_are_refused_and_the_rest_kept() {
    let granted = Grants::parse(&["kv"]).unwrap();
    let plugin = runtime()
        .load(&hostile("kv-counter"), None, &granted)
        .unwrap();
    let kv = Arc::new(MemoryKv::default());
    let quota: u64 = 1 << 20;
    let context = CallContext {
        config: Arc::new([("fill".to_string(), "100".to_string())].into()),
        // A generous deadline: the test is of the quota, not of a debug build's speed.
        limits: Limits {
            kv_bytes: quota,
            deadline_ms: 10_000,
            ..Limits::default()
        },
        store: StoreAccess {
            kv: Some(kv.clone()),
            ..StoreAccess::default()
        },
        ..CallContext::default()
    };
    let outcome = plugin.call(&basket(), &context).unwrap();
    let Err(PolicyError::Refused(reason)) = &outcome.answer else {
        panic!("{:?}", outcome.answer);
    };
    assert!(reason.contains("quota"), "{reason}");
    // A refusal is an answer: the writes before the refused one are kept, within the
    // quota; the next call cannot add a byte more.
    let usage = linli_runtime::capabilities::kv::KvStore::usage(&*kv).unwrap();
    assert!(
        usage.bytes <= quota && usage.bytes > quota - (64 << 10),
        "{usage:?}"
    );
    let outcome = plugin.call(&basket(), &context).unwrap();
    assert!(matches!(outcome.answer, Err(PolicyError::Refused(_))));
    let after = linli_runtime::capabilities::kv::KvStore::usage(&*kv).unwrap();
    assert_eq!(after.keys, usage.keys);
    assert!(after.bytes <= quota, "{after:?}");
}

#[test]
fn a_refusal_is_an_answer_not_a_failure() {
    let plugin = hostile_pricing();
    let outcome = plugin.call(&basket(), &in_mode("no-such-mode")).unwrap();
    assert!(matches!(outcome.answer, Err(PolicyError::BadConfig(_))));
}

fn plugin_run(plugin: &std::path::Path, args: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("basket.json");
    std::fs::write(&input, r#"{"lines": [], "customer": null}"#).unwrap();
    std::process::Command::new(linli_tests::linli())
        .args(["plugin", "run"])
        .arg(plugin)
        .arg("--input")
        .arg(&input)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn plugin_run_contains_hostile_components_with_one_line_errors() {
    let cases: [(&str, &[&str], &str); 5] = [
        ("pricing", &["-c", "mode=spin"], "ran out of fuel"),
        (
            "pricing",
            &["-c", "mode=memory-bomb"],
            "over its 16777216 byte cap",
        ),
        ("pricing", &["-c", "mode=panic"], "panics on purpose"),
        ("escape", &[], "wasi:filesystem"),
        ("kv-counter", &[], "`--grant kv`"),
    ];
    for (name, args, expected) in cases {
        let output = plugin_run(&hostile(name), args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{name} {args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(expected), "{name} {args:?}: {stderr}");
    }
}

#[test]
fn plugin_run_keeps_kv_in_a_sqlite_file_between_runs() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kv.db");
    let db = db.to_str().unwrap();
    for expected in ["1", "2"] {
        let output = plugin_run(&hostile("kv-counter"), &["--grant", "kv", "--kv-db", db]);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let printed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(printed["kv"]["baskets"], expected);
    }
}
