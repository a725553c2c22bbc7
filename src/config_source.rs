//! Where the configuration comes from, its cache in the isolate, and what keeps a
//! bad one from taking the gateway down.
//!
//! In order of precedence: the key `config` in the KV namespace bound as `CONFIG`
//! (changed at run time, no deploy), the Worker variable `SWITCHYARD_CONFIG` (set at
//! deploy time, or by `make dev CONFIG=...`), and `config/default.yaml` bundled at
//! build time. The result is kept for [`REFRESH_MS`] so that KV is not read on
//! every request, and is parsed again only when the text changed.
//!
//! Deployments without prices of their own are priced from LiteLLM's price map
//! when the operator stores one under the key `model_prices` in the same
//! namespace ([`prices`]), read each time a changed config loads.
//!
//! A config that fails to load does not replace the one in force: the isolate
//! keeps serving the last config that loaded, and says why the newer one could
//! not (in `/health/readiness`, the `x-switchyard-config-error` header and the
//! log). Each config that loads is also written to KV as [`LAST_GOOD_KEY`], where
//! an isolate that starts while the config is bad finds it. Only when no config
//! ever loaded do API calls answer 500.

use std::borrow::Cow;
use std::cell::RefCell;
use std::rc::Rc;

use switchyard_core::config::{self, Config};
use switchyard_core::cost::prices;
use switchyard_core::error::ApiError;
use worker::{Env, console_error, console_warn};

use crate::{respond, runtime};

const BUNDLED: &str = include_str!("../config/default.yaml");
const KV_BINDING: &str = "CONFIG";
const KV_KEY: &str = "config";
/// The last config that loaded, beside [`KV_KEY`], written by the gateway.
const LAST_GOOD_KEY: &str = "config.last-good";
const VAR: &str = "SWITCHYARD_CONFIG";
/// How long an isolate trusts its copy before looking at KV again.
const REFRESH_MS: f64 = 5_000.0;

/// The configuration in force.
#[derive(Clone)]
pub struct Current {
    pub config: Rc<Config>,
    /// Why the newest config could not be used: `config` is then the last one
    /// that loaded.
    pub error: Option<Rc<str>>,
}

/// The configuration in force, or the error when no config ever loaded.
type Loaded = Result<Current, ApiError>;

struct Kept {
    source: Cow<'static, str>,
    loaded: Loaded,
    checked_at_ms: f64,
}

thread_local! {
    static CACHE: RefCell<Option<Kept>> = const { RefCell::new(None) };
    /// The text this isolate last saw stored as [`LAST_GOOD_KEY`] (or stored there).
    static LAST_GOOD: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// The configuration in force.
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
    let loaded = match load(env, &source).await {
        Ok(config) => {
            remember_last_good(env, &source).await;
            Ok(Current { config, error: None })
        }
        Err(error) => {
            console_error!("{error}");
            let fallback = match in_force() {
                Some(config) => Some(config),
                None => last_good(env).await,
            };
            match fallback {
                Some(config) => {
                    let shown = config.secrets.mask(&error).into_owned();
                    console_error!("still serving the last config that loaded");
                    Ok(Current { config, error: Some(shown.into()) })
                }
                None => Err(ApiError::Config(error)),
            }
        }
    };
    CACHE.set(Some(Kept { source, loaded: loaded.clone(), checked_at_ms: now }));
    loaded
}

/// The configuration this isolate serves now, as last loaded (no I/O, no
/// refresh): `None` before the first [`current`] loaded one.
pub fn in_force() -> Option<Rc<Config>> {
    CACHE.with_borrow(|cache| match cache {
        Some(Kept { loaded: Ok(current), .. }) => Some(current.config.clone()),
        _ => None,
    })
}

/// Parses `text` and prices it, logging its warnings; the error as text when it
/// cannot be used.
async fn load(env: &Env, text: &str) -> Result<Rc<Config>, String> {
    let mut loaded = config::load(text, &|name| lookup(env, name)).map_err(|error| error.to_string())?;
    let map = price_map(env, &loaded.config).await;
    loaded.warnings.extend(prices::apply(&mut loaded.config, map.as_deref()));
    for warning in &loaded.warnings {
        console_warn!("config: {warning}");
    }
    respond::set_masks(&serde_json::to_string(loaded.config.secrets.pairs()).unwrap_or_default());
    Ok(Rc::new(loaded.config))
}

/// LiteLLM's price map from KV, when some deployment of `config` has no price.
async fn price_map(env: &Env, config: &Config) -> Option<String> {
    if !prices::wanted_by(config) {
        return None;
    }
    match env.kv(KV_BINDING).ok()?.get(prices::KEY).text().await {
        Ok(map) => map,
        Err(error) => {
            // Only costs are lost: the config serves without them.
            console_error!("reading the price map from KV failed: {error}");
            None
        }
    }
}

/// Stores `text`, a config that loaded, as the last good one, unless it is there
/// already (KV takes one write per second per key: each isolate writes at most
/// once per change it sees).
async fn remember_last_good(env: &Env, text: &str) {
    if LAST_GOOD.with_borrow(|known| known.as_deref() == Some(text)) {
        return;
    }
    let Ok(kv) = env.kv(KV_BINDING) else {
        return;
    };
    let stored = kv.get(LAST_GOOD_KEY).text().await.ok().flatten();
    if stored.as_deref() != Some(text) {
        let put = match kv.put(LAST_GOOD_KEY, text) {
            Ok(put) => put.execute().await,
            Err(error) => Err(error),
        };
        if let Err(error) = put {
            // Only a later isolate's fallback is lost.
            console_error!("storing the last good config failed: {error}");
            return;
        }
    }
    LAST_GOOD.set(Some(text.to_owned()));
}

/// The last good config from KV, for an isolate that never loaded one itself.
async fn last_good(env: &Env) -> Option<Rc<Config>> {
    let text = env.kv(KV_BINDING).ok()?.get(LAST_GOOD_KEY).text().await.ok().flatten()?;
    let config = load(env, &text).await.ok()?;
    LAST_GOOD.set(Some(text));
    Some(config)
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
