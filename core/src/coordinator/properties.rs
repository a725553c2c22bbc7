//! Properties of the coordinator, checked on random sequences of steps with
//! proptest: the queue's order ([`queue`]), the rate limits and the settling of
//! leases ([`limits`]).
//!
//! Proptest rather than a seeded loop: these are stateful sequences, and when one
//! fails, shrinking cuts a run of a hundred steps to the few that matter, which is
//! what makes the failure readable. The seed is fixed, so `cargo test` runs the
//! same cases every time; `PROPTEST_RNG_SEED` and `PROPTEST_CASES` explore more.

mod limits;
mod queue;

use proptest::test_runner::{Config, RngSeed};

/// `cases` cases from a fixed seed, unless the environment asks for others;
/// nothing written to disk (a failure prints its shrunk input).
fn config(cases: u32) -> Config {
    let from_env = Config::default();
    let set = |name: &str| std::env::var_os(name).is_some();
    Config {
        cases: if set("PROPTEST_CASES") { from_env.cases } else { cases },
        rng_seed: if set("PROPTEST_RNG_SEED") { from_env.rng_seed } else { RngSeed::Fixed(0x5717_c4a2) },
        failure_persistence: None,
        ..from_env
    }
}
