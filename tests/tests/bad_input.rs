//! Bad input to the runtime and to `linli plugin run`: each is a clear error naming the
//! file and what is wrong, never a panic.

use linli_runtime::{Call, Grants, LoadError, World};
use linli_tests::{linli, reference, runtime};
use serde_json::json;
use std::path::Path;
use std::process::{Command, Output};

const CORE_MODULE: &[u8] = b"\0asm\x01\0\0\0";
const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\0\x01\0";

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn load_error(path: &Path, world: Option<World>) -> LoadError {
    match runtime().load(path, world, &Grants::none()) {
        Ok(plugin) => panic!("{} loaded as {}", path.display(), plugin.world()),
        Err(err) => err,
    }
}

#[test]
fn a_file_that_is_not_wasm_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "notes.wasm", b"price list: milk 12.90");
    let err = load_error(&path, None);
    assert!(matches!(err, LoadError::NotWasm { .. }));
    assert!(err.to_string().contains("notes.wasm"), "{err}");
    let missing = dir.path().join("missing.wasm");
    assert!(
        load_error(&missing, None)
            .to_string()
            .contains("missing.wasm")
    );
}

#[test]
fn a_core_module_is_told_to_become_a_component() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "core.wasm", CORE_MODULE);
    let err = load_error(&path, None);
    assert!(matches!(err, LoadError::CoreModule { .. }));
    assert!(err.to_string().contains("wasm32-wasip2"), "{err}");
}

#[test]
fn a_broken_or_empty_component_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut broken = EMPTY_COMPONENT.to_vec();
    broken.extend_from_slice(&[0xff; 16]);
    let path = write(dir.path(), "broken.wasm", &broken);
    assert!(matches!(load_error(&path, None), LoadError::Invalid { .. }));
    let path = write(dir.path(), "empty.wasm", EMPTY_COMPONENT);
    let err = load_error(&path, None);
    assert!(matches!(err, LoadError::NoWorld { .. }));
    assert!(
        err.to_string().contains("pricing"),
        "names the worlds: {err}"
    );
}

#[test]
fn a_component_of_another_world_is_refused_when_a_world_is_required() {
    let path = Path::new(reference("presale-threshold").file);
    let err = load_error(path, Some(World::Pricing));
    assert!(
        matches!(
            err,
            LoadError::WrongWorld {
                expected: World::Pricing,
                found: World::Presale,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn json_that_does_not_fit_the_world_names_the_field() {
    let err =
        Call::from_json(World::Pricing, None, json!({"lines": [{"sku": "MILK"}]})).unwrap_err();
    assert!(
        err.contains("qty") || err.contains("missing field"),
        "{err}"
    );
    let err = Call::from_json(World::RecyclingPoints, None, json!({"count": 1})).unwrap_err();
    assert!(
        err.contains("on-return") && err.contains("on-redeem"),
        "{err}"
    );
    let err = Call::from_json(World::Presale, Some("quote"), json!({})).unwrap_err();
    assert!(err.contains("no function `quote`"), "{err}");
}

fn plugin_run(args: &[&str]) -> Output {
    Command::new(linli())
        .args(["plugin", "run"])
        .args(args)
        .output()
        .unwrap()
}

/// A failed `plugin run` exits 2 with one line on stderr that contains `needle`.
fn assert_one_line_error(output: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains(needle), "{needle:?} in {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn plugin_run_gives_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(
        dir.path(),
        "input.json",
        br#"{"lines": [], "customer": null}"#,
    );
    let input = input.to_str().unwrap();
    let text = write(dir.path(), "readme.wasm", b"hello");
    assert_one_line_error(
        &plugin_run(&[text.to_str().unwrap(), "-i", input]),
        "readme.wasm: not a WebAssembly file",
    );
    let core = write(dir.path(), "core.wasm", CORE_MODULE);
    assert_one_line_error(
        &plugin_run(&[core.to_str().unwrap(), "-i", input]),
        "core.wasm: a core WebAssembly module",
    );

    let markdown = reference("markdown-pricing").file;
    assert_one_line_error(
        &plugin_run(&[markdown, "-i", input, "--world", "presale"]),
        "not `presale`",
    );
    assert_one_line_error(
        &plugin_run(&[markdown, "-i", input, "--world", "payroll"]),
        "no such world",
    );

    let broken = write(dir.path(), "broken.json", b"{\"lines\": [");
    assert_one_line_error(
        &plugin_run(&[markdown, "-i", broken.to_str().unwrap()]),
        "broken.json: not valid JSON",
    );
    let misfit = write(
        dir.path(),
        "misfit.json",
        br#"{"lines": [{"sku": "MILK", "qty": "two"}]}"#,
    );
    assert_one_line_error(
        &plugin_run(&[markdown, "-i", misfit.to_str().unwrap()]),
        "does not fit the `pricing` world",
    );
    assert_one_line_error(
        &plugin_run(&[markdown, "-i", input, "--now", "yesterday"]),
        "time \"yesterday\"",
    );
}

#[test]
fn plugin_run_prints_the_answer_and_the_fuel() {
    let example =
        linli_tests::workspace().join("plugins/markdown-pricing/examples/walk-in-basket.json");
    let output = plugin_run(&[
        reference("markdown-pricing").file,
        "-i",
        example.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(printed["world"], "pricing");
    assert_eq!(printed["function"], "quote");
    assert!(printed["fuel"].as_u64().unwrap() > 0);
    // tofu expires within 10 hours: 350 → 245 (−30%), three of them.
    assert_eq!(printed["ok"]["lines"][0]["total"], 735);

    let expired =
        linli_tests::workspace().join("plugins/markdown-pricing/examples/expired-item.json");
    let output = plugin_run(&[
        reference("markdown-pricing").file,
        "-i",
        expired.to_str().unwrap(),
    ]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "a refusal is the plugin's answer"
    );
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        printed["err"]["InvalidInput"]
            .as_str()
            .unwrap()
            .contains("YOGURT")
    );
}

#[test]
fn plugin_run_takes_settings_and_time_from_flags() {
    let example =
        linli_tests::workspace().join("plugins/markdown-pricing/examples/walk-in-basket.json");
    let example = example.to_str().unwrap();
    let markdown = reference("markdown-pricing").file;
    let output = plugin_run(&[markdown, "-i", example, "-c", "last-day-percent=10"]);
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(printed["ok"]["lines"][0]["total"], 3 * 315);
    // A day earlier the tofu is not near expiry.
    let output = plugin_run(&[
        markdown,
        "-i",
        example,
        "--now",
        "2026-11-24T10:00:00+08:00",
    ]);
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(printed["ok"]["lines"][0]["total"], 3 * 350);
}
