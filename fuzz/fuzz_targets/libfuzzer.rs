//! libFuzzer's entry point: the target named by `SWITCHYARD_FUZZ_TARGET` (see
//! `switchyard_core::fuzzing::TARGETS`), read once.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use switchyard_core::fuzzing::{self, Target};

static TARGET: LazyLock<&'static Target> = LazyLock::new(|| {
    let name = std::env::var("SWITCHYARD_FUZZ_TARGET").unwrap_or_default();
    match fuzzing::target(&name) {
        Some(target) => target,
        None => {
            let names: Vec<&str> = fuzzing::TARGETS.iter().map(|t| t.name).collect();
            eprintln!("SWITCHYARD_FUZZ_TARGET must name a target, one of: {}", names.join(", "));
            std::process::exit(2);
        }
    }
});

fuzz_target!(|data: &[u8]| (TARGET.run)(data));
