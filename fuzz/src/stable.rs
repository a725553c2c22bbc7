//! The fuzz targets driven by the seeded generator (`switchyard_core::fuzzing::mutate`),
//! for where libFuzzer cannot be had (it needs a nightly toolchain). No coverage
//! feedback: inputs are the seeds (and any corpus libFuzzer grew) changed by
//! format-aware mutations.
//!
//! `stable <target> [--seconds N] [--seed S] [--seeds DIR] [--corpus DIR] [--artifacts DIR]`
//!
//! Prints the inputs it ran. A panic, or an input that runs longer than
//! [`HANG_SECONDS`], leaves the input in `--artifacts` (`crash-*`, `timeout-*`) and
//! exits 1; a run without either exits 0. `--seed` repeats a run exactly.
#![allow(
    clippy::disallowed_methods,
    reason = "a native runner: its deadline, watchdog and default seed read the clock, which the core never does"
)]

use std::hash::{DefaultHasher, Hash, Hasher};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use switchyard_core::fuzzing::{self, mutate::Mutator};

/// One input running longer than this is a hang.
const HANG_SECONDS: u64 = 10;

struct Options {
    target: String,
    seconds: u64,
    seed: u64,
    seeds: PathBuf,
    corpus: Option<PathBuf>,
    artifacts: PathBuf,
}

fn options() -> Result<Options, String> {
    let mut args = std::env::args().skip(1);
    let target = args
        .next()
        .ok_or("usage: stable <target> [--seconds N] [--seed S] [--seeds DIR] [--corpus DIR] [--artifacts DIR]")?;
    let clock = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let mut options = Options {
        seeds: fuzzing::seeds_dir().join(&target),
        target,
        seconds: 60,
        seed: clock,
        corpus: None,
        artifacts: PathBuf::from("fuzz/artifacts"),
    };
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let number = || value.parse::<u64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--seconds" => options.seconds = number()?,
            "--seed" => options.seed = number()?,
            "--seeds" => options.seeds = PathBuf::from(&value),
            "--corpus" => options.corpus = Some(PathBuf::from(&value)),
            "--artifacts" => options.artifacts = PathBuf::from(&value),
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(options)
}

/// Writes the input that failed where the runner's report says.
fn keep(artifacts: &Path, kind: &str, input: &[u8]) -> PathBuf {
    let mut hasher = DefaultHasher::new();
    input.hash(&mut hasher);
    let path = artifacts.join(format!("{kind}-{:016x}", hasher.finish()));
    if let Err(error) = std::fs::create_dir_all(artifacts).and_then(|()| std::fs::write(&path, input)) {
        eprintln!("could not write {}: {error}", path.display());
    }
    path
}

fn main() -> ExitCode {
    let options = match options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let Some(target) = fuzzing::target(&options.target) else {
        let names: Vec<&str> = fuzzing::TARGETS.iter().map(|t| t.name).collect();
        eprintln!("no target `{}`; targets: {}", options.target, names.join(", "));
        return ExitCode::from(2);
    };
    let mut pool = match fuzzing::read_corpus(&options.seeds) {
        Ok(pool) => pool,
        Err(error) => {
            eprintln!("{}: {error}", options.seeds.display());
            return ExitCode::from(2);
        }
    };
    if let Some(corpus) = &options.corpus {
        pool.extend(fuzzing::read_corpus(corpus).unwrap_or_default());
    }

    // The watchdog: an input that runs too long is kept, and the run ends.
    let started = Instant::now();
    let running_since_ms = Arc::new(AtomicU64::new(u64::MAX));
    let current = Arc::new(Mutex::new(Vec::new()));
    {
        let (running_since_ms, current, artifacts) =
            (running_since_ms.clone(), current.clone(), options.artifacts.clone());
        let name = target.name;
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(Duration::from_millis(200));
                let since = running_since_ms.load(Ordering::Relaxed);
                let now = started.elapsed().as_millis() as u64;
                if since != u64::MAX && now.saturating_sub(since) > HANG_SECONDS * 1000 {
                    let input = current.lock().map(|input| input.clone()).unwrap_or_default();
                    let path = keep(&artifacts, "timeout", &input);
                    println!("{name}: HANG: an input ran over {HANG_SECONDS} s: input kept in {}", path.display());
                    std::process::exit(1);
                }
            }
        });
    }

    let mut mutator = Mutator::new(options.seed);
    let deadline = Duration::from_secs(options.seconds);
    let mut executed: u64 = 0;
    let inputs = pool.clone().into_iter().map(Some).chain(std::iter::repeat(None));
    for seed_input in inputs {
        if started.elapsed() >= deadline && executed >= pool.len() as u64 {
            break;
        }
        let input = seed_input.unwrap_or_else(|| mutator.input(&pool));
        if let Ok(mut slot) = current.lock() {
            slot.clone_from(&input);
        }
        running_since_ms.store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
        let outcome = catch_unwind(AssertUnwindSafe(|| (target.run)(&input)));
        running_since_ms.store(u64::MAX, Ordering::Relaxed);
        executed += 1;
        if outcome.is_err() {
            let path = keep(&options.artifacts, "crash", &input);
            println!(
                "{}: CRASH after {executed} inputs in {:.1} s (seed {}): input kept in {}",
                target.name,
                started.elapsed().as_secs_f64(),
                options.seed,
                path.display()
            );
            return ExitCode::from(1);
        }
    }
    println!(
        "{}: {executed} inputs in {:.1} s (seed {}, {} seeds), ok",
        target.name,
        started.elapsed().as_secs_f64(),
        options.seed,
        pool.len()
    );
    ExitCode::SUCCESS
}
