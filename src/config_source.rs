//! Where the configuration comes from, and its cache in the isolate.
//!
//! In order of precedence: the key `config` in the KV namespace bound as `CONFIG`
//! (changed at run time, no deploy), the Worker variable `SWITCHYARD_CONFIG` (set at
//! deploy time, or by `make dev CONFIG=...`), and `config/default.yaml` bundled at
//! build time. The result, errors included, is kept for [`REFRESH_MS`] so that KV
//! is not read on every request, and is parsed again only when the text changed.

use std::borrow::Cow;
use std::cell::RefCell;
use std::rc::Rc;

use switchyard_core::config::{self, Config};
use switchyard_core::error::ApiError;
use worker::{Env, console_error, console_warn};

use crate::runtime;

const BUNDLED: &str = include_str!("../config/default.yaml");
const KV_BINDING: &str = "CONFIG";
const KV_KEY: &str = "config";
const VAR: &str = "SWITCHYARD_CONFIG";
/// How long an isolate trusts its copy before looking at KV again.
const REFRESH_MS: f64 = 5_000.0;

type Loaded = Result<Rc<Config>, ApiError>;

struct Cached {
    source: Cow<'static, str>,
    loaded: Loaded,
    checked_at_ms: f64,
}

thread_local! {
    static CACHE: RefCell<Option<Cached>> = const { RefCell::new(None) };
}

/// The configuration in force, or the error that makes the current one unusable.
pub async fn current(env: &Env) -> Loaded {
    let now = runtime::now_ms();
    let fresh = CACHE
        .with_borrow(|cache| cache.as_ref().filter(|c| now - c.checked_at_ms < REFRESH_MS).map(|c| c.loaded.clone()));
    if let Some(loaded) = fresh {
        return loaded;
    }
    let source = read_source(env).await;
    let unchanged = CACHE.with_borrow_mut(|cache| match cache {
        Some(cached) if cached.source == source => {
            cached.checked_at_ms = now;
            Some(cached.loaded.clone())
        }
        _ => None,
    });
    if let Some(loaded) = unchanged {
        return loaded;
    }
    let loaded = match config::load(&source, &|name| lookup(env, name)) {
        Ok(loaded) => {
            for warning in &loaded.warnings {
                console_warn!("config: {warning}");
            }
            Ok(Rc::new(loaded.config))
        }
        Err(error) => {
            console_error!("{error}");
            Err(ApiError::Config(error.to_string()))
        }
    };
    CACHE.set(Some(Cached { source, loaded: loaded.clone(), checked_at_ms: now }));
    loaded
}

async fn read_source(env: &Env) -> Cow<'static, str> {
    if let Ok(kv) = env.kv(KV_BINDING) {
        match kv.get(KV_KEY).text().await {
            Ok(Some(text)) => return Cow::Owned(text),
            Ok(None) => {}
            // A KV outage must not take the gateway down: the deployed config serves.
            Err(error) => console_error!("reading the config from KV failed, using the deployed one: {error}"),
        }
    }
    match env.var(VAR) {
        Ok(var) => Cow::Owned(var.to_string()),
        Err(_) => Cow::Borrowed(BUNDLED),
    }
}

/// `os.environ/NAME`: a secret first, then a plain variable.
fn lookup(env: &Env, name: &str) -> Option<String> {
    env.secret(name).map(|s| s.to_string()).or_else(|_| env.var(name).map(|v| v.to_string())).ok()
}
