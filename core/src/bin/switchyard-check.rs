//! `make check CONFIG=file.yaml`: checks a config before it is put into KV or
//! deployed, with the gateway's own loader.
//!
//! Prints every error with its key path and every key that would be ignored, and
//! exits non-zero on an error. `os.environ/NAME` values are read from this
//! process's environment; a name it does not have stands for a Worker secret that
//! must be set before the config serves, and is checked with a placeholder.

use std::cell::RefCell;
use std::process::ExitCode;

use switchyard_core::config;

/// Valid wherever an `os.environ/` value may go (an API key, a base URL).
const PLACEHOLDER: &str = "https://os-environ-placeholder.invalid";

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: switchyard-check <config.yaml>");
        return ExitCode::from(2);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) => {
            eprintln!("{path}: {error}");
            return ExitCode::from(2);
        }
    };
    let unset = RefCell::new(Vec::new());
    let lookup = |name: &str| {
        Some(std::env::var(name).unwrap_or_else(|_| {
            unset.borrow_mut().push(name.to_owned());
            PLACEHOLDER.to_owned()
        }))
    };
    let (loaded, warnings) = config::check(&text, &lookup);
    for name in unset.into_inner() {
        println!("note: os.environ/{name} is not set here: set it with `wrangler secret put {name}` before deploying");
    }
    for warning in &warnings {
        println!("warning: {warning}");
    }
    match loaded {
        Ok(config) => {
            let groups = config.groups();
            let deployments: usize = groups.iter().map(|g| g.deployments.len()).sum();
            println!("{path}: ok ({} model groups, {deployments} deployments)", groups.len());
            ExitCode::SUCCESS
        }
        Err(error) => {
            println!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
