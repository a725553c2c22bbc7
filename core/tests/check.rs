//! `switchyard-check` (`make check CONFIG=...`), run as a user runs it.

// A test file: its helpers may unwrap as its tests do.
#![allow(clippy::unwrap_used)]

use std::process::Command;

fn check(yaml: &str) -> (bool, String) {
    let dir = std::env::temp_dir().join(format!("switchyard-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{:x}.yaml", yaml.len() * 31 + yaml.bytes().map(usize::from).sum::<usize>()));
    std::fs::write(&path, yaml).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_switchyard-check"))
        .arg(&path)
        .env_remove("SWITCHYARD_TEST_UNSET")
        .env("SWITCHYARD_TEST_SET", "sk-test")
        .output()
        .unwrap();
    (output.status.success(), String::from_utf8_lossy(&output.stdout).into_owned())
}

#[test]
fn a_good_config_passes_with_its_ignored_keys_and_unset_secrets_named() {
    let (ok, out) = check(
        "model_list:\n  - model_name: m\n    litellm_params: { model: openai/x, api_key: os.environ/SWITCHYARD_TEST_UNSET, tpm_limit: 5 }\n  - model_name: n\n    litellm_params: { model: openai/y, api_key: os.environ/SWITCHYARD_TEST_SET }\n",
    );
    assert!(ok, "{out}");
    assert!(out.contains("warning: `model_list[0].litellm_params.tpm_limit` is not supported yet"), "{out}");
    assert!(out.contains("note: os.environ/SWITCHYARD_TEST_UNSET is not set here"), "{out}");
    assert!(!out.contains("SWITCHYARD_TEST_SET is not set"), "{out}");
    assert!(out.contains("ok (2 model groups, 2 deployments)"), "{out}");
}

#[test]
fn a_bad_config_fails_naming_the_key_path() {
    let (ok, out) = check("model_list:\n  - model_name: m\n    litellm_params: { model: openai/x, rpm: many }\n");
    assert!(!ok);
    assert!(out.contains("error: config error at `model_list[0].litellm_params.rpm`"), "{out}");
    let (ok, out) = check("model_list:\n  - model_name: m\n    litellm_params: { model: nowhere/x }\n");
    assert!(!ok);
    assert!(out.contains("model_list[0].litellm_params.model"), "{out}");
}
