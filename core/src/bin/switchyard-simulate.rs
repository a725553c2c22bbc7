//! `cargo run --release -p switchyard-core --bin switchyard-simulate`: issue 19's
//! edge-scale simulation (`switchyard_core::simulation`), printed; figures are
//! written down in BENCHMARKS.md. Runs the issue's scenario (1,000 isolates,
//! 20,000 requests per second, a tenth of them with a priority) for one simulated
//! minute by default (`[minutes]`), or without priorities (`--without-priorities`:
//! nobody waits in the queue), or with a priority on every request
//! (`--all-priorities`: every request may wait, and the queue never empties),
//! with the scenario's random draws from its seed, or from another
//! (`--seed <n>`), and with the coordinator answering each message as it comes
//! or taking `--service-us <n>` of CPU time on each, one at a time (and
//! `--inner-us <n>` on each further message of a relay's batch), and with
//! `--relays <n>` relays between the isolates and the coordinator, each sending
//! a batch at most every `--relay-every-ms <n>` (100 unless given), always, or
//! with `--relay-above <n>` while the coordinator's views say so (from a second
//! in which it took n of the isolates' messages: automatic relays). Run times
//! per simulated minute are in BENCHMARKS.md. Exits non-zero when a limit was
//! exceeded.

use std::process::ExitCode;

use switchyard_core::simulation::{self, Scenario};

fn main() -> ExitCode {
    // `switchyard-simulate [minutes] [--without-priorities | --all-priorities] [--seed <n>] [--service-us <n>]
    // [--inner-us <n>] [--relays <n>] [--relay-every-ms <n>] [--relay-above <n>]`.
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut scenario = Scenario::issue();
    let mut relays = 0;
    let mut relay_above = 0;
    for (flag, field) in [
        ("--seed", &mut scenario.seed),
        ("--service-us", &mut scenario.service_us),
        ("--inner-us", &mut scenario.inner_us),
        ("--relays", &mut relays),
        ("--relay-every-ms", &mut scenario.relay_every_ms),
        ("--relay-above", &mut relay_above),
    ] {
        if let Some(at) = args.iter().position(|arg| arg == flag) {
            let Some(n) = args.get(at + 1).and_then(|n| n.parse().ok()) else {
                eprintln!("{flag} takes a number");
                return ExitCode::FAILURE;
            };
            *field = n;
            args.drain(at..=at + 1);
        }
    }
    let minutes = args.iter().find_map(|arg| arg.parse().ok()).unwrap_or(1);
    let relay_above_per_s = (relay_above > 0).then_some(relay_above);
    let scenario = Scenario { minutes, relays: relays as usize, relay_above_per_s, ..scenario };
    let scenario = match (args.contains(&"--without-priorities".into()), args.contains(&"--all-priorities".into())) {
        (false, false) => scenario,
        (true, false) => scenario.without_priorities(),
        (false, true) => scenario.all_priorities(),
        (true, true) => {
            eprintln!("--without-priorities and --all-priorities exclude each other");
            return ExitCode::FAILURE;
        }
    };
    let s = &scenario;
    println!(
        "{} isolates (mean life {} s), {} requests/s for {} min, delays {}..{} ms, rpm {} (a), tpm {} (b), \
         max_parallel_requests {} (c), {}% with a priority, {}% failures, {} µs a message at the coordinator \
         ({} µs each further one of a batch), {} relays (a batch at most every {} ms, {}), seed {}",
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
        s.service_us,
        s.inner_us,
        s.relays,
        s.relay_every_ms,
        s.relay_above_per_s.map_or("always".to_owned(), |above| format!("from {above} messages a second")),
        s.seed
    );
    match simulation::run(s) {
        Ok(report) => {
            println!("{report}");
            if report.limit_violations().is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}
