//! `cargo run --release -p switchyard-core --bin switchyard-simulate`: issue 19's
//! edge-scale simulation (`switchyard_core::simulation`), printed; figures are
//! written down in BENCHMARKS.md. Runs the issue's scenario (1,000 isolates,
//! 20,000 requests per second, a tenth of them with a priority), then the same
//! without priorities (nobody waits in the queue). Exits non-zero when a limit
//! was exceeded.

use std::process::ExitCode;

use switchyard_core::simulation::{self, Scenario};

fn main() -> ExitCode {
    let mut held = true;
    for (name, scenario) in
        [("with priorities", Scenario::issue()), ("without priorities", Scenario::issue().without_priorities())]
    {
        let s = &scenario;
        println!(
            "== {name}: {} isolates (mean life {} s), {} requests/s for {} min, delays {}..{} ms, \
             rpm {} (a), tpm {} (b), max_parallel_requests {} (c), {}% with a priority, {}% failures, seed {}",
            s.isolates,
            s.isolate_life_s,
            s.requests_per_s,
            s.minutes,
            s.delay_ms.0,
            s.delay_ms.1,
            s.rpm,
            s.tpm,
            s.max_parallel,
            s.priority_share * 100.0,
            s.failure_rate * 100.0,
            s.seed
        );
        match simulation::run(s) {
            Ok(report) => {
                println!("{report}");
                held &= report.limit_violations().is_empty();
            }
            Err(error) => {
                eprintln!("{error}");
                return ExitCode::FAILURE;
            }
        }
    }
    if held { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
