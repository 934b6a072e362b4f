//! Every shipped example of every reference plugin, through the real `linli plugin run`:
//! the printed answer is the documented one (`examples/expected/<name>.json`) and a fuel
//! figure comes with it. Regenerate an expected file only for a deliberate change of a
//! policy.

use linli::reference::REFERENCE_PLUGINS;
use linli_tests::{linli, workspace};
use std::process::Command;

#[test]
fn plugin_run_prints_the_documented_answer_for_every_example() {
    let mut checked = 0;
    for plugin in REFERENCE_PLUGINS {
        let examples = workspace()
            .join("plugins")
            .join(plugin.name)
            .join("examples");
        let mut inputs: Vec<_> = std::fs::read_dir(&examples)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
            .collect();
        inputs.sort();
        assert!(!inputs.is_empty(), "{} ships examples", plugin.name);
        for input in inputs {
            let output = Command::new(linli())
                .args(["plugin", "run", plugin.file, "--input"])
                .arg(&input)
                .output()
                .unwrap();
            let name = input.file_name().unwrap();
            let printed: serde_json::Value =
                serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
                    panic!(
                        "{}: {err}: {}",
                        input.display(),
                        String::from_utf8_lossy(&output.stderr)
                    )
                });
            let mut answer = printed.clone();
            let fuel = answer.as_object_mut().unwrap().remove("fuel");
            assert!(
                fuel.and_then(|fuel| fuel.as_u64())
                    .is_some_and(|fuel| fuel > 0),
                "{printed}"
            );
            let expected_file = examples.join("expected").join(name);
            let expected: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&expected_file).unwrap()).unwrap();
            assert_eq!(answer, expected, "{}", input.display());
            let refused = expected.get("err").is_some();
            assert_eq!(
                output.status.code(),
                Some(if refused { 1 } else { 0 }),
                "{}",
                input.display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 25, "{checked} examples");
}
