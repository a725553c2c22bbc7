//! Fuzz targets: one per parser that takes outside input, each a `fn(&[u8])` that
//! must neither panic nor hang on any input. Errors are answers; a panic is a bug,
//! and so is a broken invariant, which each target asserts where one is easy to
//! state (an upstream body parses again, an SSE stream splits to the same events,
//! a snapshot survives its own round trip).
//!
//! Compiled for the core's tests and with the `fuzzing` feature only: the Worker
//! never has it. Three runners drive the same table, [`TARGETS`]:
//! - `make fuzz`: libFuzzer through cargo-fuzz (the `fuzz/` crate, its own
//!   workspace, on a nightly toolchain), else the same crate's seeded loop
//!   ([`mutate`]) on stable, for `FUZZ_SECONDS` per target;
//! - `cargo test`: the `fuzzing::tests` smoke run, each target on its committed
//!   seeds (`fuzz/seeds/<name>/`) and a fixed number of seeded mutations of them.
//!
//! Adding a target is one line in [`TARGETS`] and a folder of seeds.

#![allow(clippy::panic, reason = "a fuzz target reports a broken invariant by panicking")]

mod coordinator;
pub mod mutate;
mod parsers;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

/// A named fuzz target.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub name: &'static str,
    pub run: fn(&[u8]),
}

/// Every target, by the name the runners and the seed folders use.
pub const TARGETS: &[Target] = &[
    Target { name: "request", run: parsers::request },
    Target { name: "messages", run: parsers::messages },
    Target { name: "responses", run: parsers::responses },
    Target { name: "config", run: parsers::config },
    Target { name: "failure", run: parsers::failure },
    Target { name: "usage", run: parsers::usage },
    Target { name: "sse", run: parsers::sse },
    Target { name: "cache_stream", run: parsers::cache_stream },
    Target { name: "coordinator_message", run: coordinator::message },
    Target { name: "health_view", run: coordinator::health_view },
];

/// The target named `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// Where the committed seed corpus is: one folder per target.
pub fn seeds_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds")
}

/// The files of `dir`, in name order (none when it does not exist).
pub fn read_corpus(dir: &Path) -> std::io::Result<Vec<Vec<u8>>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut paths: Vec<PathBuf> = entries
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter(|path| path.is_file())
        .collect();
    paths.sort();
    paths.iter().map(std::fs::read).collect()
}
