//! The fuzz targets in every `cargo test`: each on its committed seeds, then on a
//! fixed number of seeded mutations of them. Quick and the same every run; the
//! long runs with coverage feedback are `make fuzz`'s.

use std::panic::{AssertUnwindSafe, catch_unwind};

use super::mutate::Mutator;
use super::*;

/// Mutated inputs per target: the whole run takes a few seconds in a debug build.
const MUTATIONS: usize = 2_500;

/// Runs `target` on `input`; a panic fails the test naming the target and the input.
fn survives(target: &Target, input: &[u8], what: &str) {
    if catch_unwind(AssertUnwindSafe(|| (target.run)(input))).is_err() {
        panic!("fuzz target `{}` panicked on {what}: b\"{}\"", target.name, input.escape_ascii());
    }
}

#[test]
fn every_target_survives_its_seeds_and_their_mutations() {
    for (i, target) in TARGETS.iter().enumerate() {
        let seeds = read_corpus(&seeds_dir().join(target.name)).unwrap();
        for (n, seed) in seeds.iter().enumerate() {
            survives(target, seed, &format!("seed {n}"));
        }
        let mut mutator = Mutator::new(0x5eed + i as u64);
        for n in 0..MUTATIONS {
            survives(target, &mutator.input(&seeds), &format!("mutation {n}"));
        }
    }
}

#[test]
fn every_target_has_seeds_and_every_seed_folder_a_target() {
    for target in TARGETS {
        let seeds = read_corpus(&seeds_dir().join(target.name)).unwrap();
        assert!(seeds.len() >= 3, "`{}` has {} seeds", target.name, seeds.len());
    }
    for entry in std::fs::read_dir(seeds_dir()).unwrap() {
        let name = entry.unwrap().file_name();
        let name = name.to_string_lossy();
        assert!(target(&name).is_some(), "fuzz/seeds/{name} names no target");
    }
}

#[test]
fn the_same_seed_makes_the_same_inputs() {
    let pool = vec![br#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#.to_vec()];
    let inputs = |seed| {
        let mut mutator = Mutator::new(seed);
        (0..50).map(|_| mutator.input(&pool)).collect::<Vec<_>>()
    };
    assert_eq!(inputs(1), inputs(1));
    assert_ne!(inputs(1), inputs(2));
}

/// Seeds that no longer decode (a message's shape changed) would leave the
/// coordinator's targets fuzzing only their decoder.
#[test]
fn every_line_of_the_message_and_view_seeds_decodes() {
    fn check<T: serde::de::DeserializeOwned>(target: &str) {
        for (n, seed) in read_corpus(&seeds_dir().join(target)).unwrap().iter().enumerate() {
            if serde_json::from_slice::<T>(seed).is_ok() {
                continue;
            }
            for line in seed.split(|&b| b == b'\n').filter(|line| !line.is_empty()) {
                let text = std::str::from_utf8(line).unwrap();
                if text.parse::<u64>().is_err() {
                    serde_json::from_str::<T>(text).unwrap_or_else(|e| panic!("{target} seed {n}: {e}: {text}"));
                }
            }
        }
    }
    check::<crate::coordinator::Message>("coordinator_message");
    check::<crate::coordinator::local::HealthView>("health_view");
}
