//! Configuration: LiteLLM's YAML turned once into runtime types that cannot be invalid.
//!
//! [`load`] parses the YAML into the raw form (`raw`), reports every key it does
//! not act on as a warning, resolves `os.environ/NAME` references, applies defaults
//! and builds the model-group index. A config error names the key path and what
//! is wrong with it.

mod access;
mod cache;
mod callbacks;
mod location;
mod policy;
mod raw;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;

use sha2::{Digest, Sha256};

pub use access::{Access, AwsCredential, AzureAccess, AzureCredential, BedrockAccess, VertexAccess};
pub use cache::CachePolicy;
pub use callbacks::{Callbacks, LangfuseSink, OtelSink, Outcomes};
pub use location::LOCATION_HINTS;
pub use policy::{
    CooldownPolicy, DEFAULT_COOLDOWN_MS, DEFAULT_RELAY_ABOVE_PER_S, DEFAULT_RELAY_MS, FallbackKind, Relaying,
    RetryPolicy, RouterPolicy, RoutingStrategy,
};

use crate::cors::AllowedOrigins;
use crate::endpoint::Endpoint;
use crate::provider::{self, Kind};
use crate::secret::{Secret, Secrets};
use cache::{DEFAULT_TTL_S, endpoint_of_call_type};
use raw::{RawAlias, RawConfig, RawDeployment};

/// Identifies one deployment: `model_info.id` when the config sets it, else a hash
/// of where it points (never of its key). Sent to clients as `x-litellm-model-id`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct DeploymentId(String);

impl DeploymentId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DeploymentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One upstream that can serve a model group.
#[derive(Debug, Clone)]
pub struct Deployment {
    pub id: DeploymentId,
    /// The model name sent upstream: the provider prefix stripped.
    pub model: String,
    /// The wire format it speaks.
    pub kind: Kind,
    /// LiteLLM's name of its provider (`model`'s prefix: `openai`, `groq`, `bedrock`, ...).
    pub provider: &'static str,
    /// It serves OpenAI's Responses API itself (OpenAI's own deployments): a
    /// Responses client's request goes to it as it came.
    pub responses_api: bool,
    /// What its provider needs besides the base URL and the key.
    pub access: Access,
    /// Fields its provider cannot take are dropped (`drop_params`), not refused.
    pub drop_params: bool,
    /// Where it runs (`region_name`), for requests that allow only some regions.
    pub region: Option<String>,
    /// The model it serves (`model_info.base_model`), where its name says nothing.
    pub base_model: Option<String>,
    /// Base URL without a trailing slash; the endpoint path is appended to it.
    pub api_base: String,
    pub api_key: Option<Secret>,
    /// When set, the deployment answers with this text and calls nobody.
    pub mock_response: Option<String>,
    /// Relative share of traffic under simple-shuffle (see [`load`] for its source).
    pub weight: f64,
    /// Requests per minute this deployment may receive, across every isolate.
    pub rpm: Option<u64>,
    /// Tokens per minute this deployment may receive, across every isolate.
    pub tpm: Option<u64>,
    /// Tier: only the lowest `order` with a deployment available is used. Unset is last.
    pub order: u32,
    pub timeout_ms: Option<u64>,
    pub stream_timeout_ms: Option<u64>,
    /// This deployment's own `cooldown_time`: beats the upstream's `Retry-After`.
    pub cooldown_ms: Option<u64>,
    /// Requests in flight at once at most, across every isolate.
    pub max_parallel_requests: Option<u32>,
    pub input_cost_per_token: Option<f64>,
    pub output_cost_per_token: Option<f64>,
    pub max_input_tokens: Option<u64>,
}

/// The deployments that serve one public model name.
#[derive(Debug, Clone)]
pub struct ModelGroup {
    pub name: String,
    pub deployments: Vec<Deployment>,
    /// Where its coordinator should be created: a Durable Objects location hint
    /// (`router_settings.coordinator_locations`, else `coordinator_location`; see
    /// [`LOCATION_HINTS`]). `None`: near the isolate that first calls it.
    pub coordinator_location: Option<&'static str>,
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    groups: Vec<ModelGroup>,
    /// Group names and aliases, each to its index in `groups`.
    names: HashMap<String, usize>,
    /// What `GET /v1/models` lists: groups, then aliases not marked `hidden`.
    listed: Vec<String>,
    pub master_key: Option<Secret>,
    pub router: RouterPolicy,
    pub cache: CachePolicy,
    /// Every secret above, to mask in what providers say (see [`Secrets`]).
    pub secrets: Secrets,
    /// Browser origins allowed to call the gateway.
    pub allowed_origins: AllowedOrigins,
    /// How long a Responses API response is kept (`general_settings.responses_ttl`,
    /// else [`DEFAULT_RESPONSES_TTL_MS`]).
    pub responses_ttl_ms: u64,
    /// Each request's line in the Worker's log (`general_settings.request_log`,
    /// default on): what Workers Logs indexes, at a cost per request (BENCHMARKS.md).
    pub request_log: bool,
    /// Where each request's record goes (`litellm_settings.callbacks` and kin).
    pub callbacks: Callbacks,
}

/// OpenAI keeps a response 30 days: so does Switchyard, unless told otherwise.
pub const DEFAULT_RESPONSES_TTL_MS: u64 = 30 * 24 * 3_600_000;

impl Config {
    /// The group a client's `model` names, directly or through `model_group_alias`.
    pub fn group(&self, model: &str) -> Option<&ModelGroup> {
        self.names.get(model).and_then(|&i| self.groups.get(i))
    }

    /// Every model group, in config order.
    pub fn groups(&self) -> &[ModelGroup] {
        &self.groups
    }

    /// Every deployment of every group, to complete from outside the config
    /// (prices from LiteLLM's price map, [`crate::cost::prices`]).
    pub fn deployments_mut(&mut self) -> impl Iterator<Item = &mut Deployment> {
        self.groups.iter_mut().flat_map(|group| &mut group.deployments)
    }

    /// Public model names, in config order.
    pub fn listed_models(&self) -> &[String] {
        &self.listed
    }
}

/// A config and what the loader noticed but did not act on.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<String>,
}

/// A config that cannot be used: where, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("config error at `{path}`: {message}")]
pub struct ConfigError {
    pub path: String,
    pub message: String,
}

impl ConfigError {
    fn at(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self { path: path.into(), message: message.into() }
    }
}

/// Reads a Worker variable or secret by name, for `os.environ/NAME` values.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

const ENV_PREFIX: &str = "os.environ/";

/// Parses and validates a LiteLLM-shaped YAML config.
///
/// Simple-shuffle weights follow LiteLLM: the first of `weight`, `rpm`, `tpm` that
/// any deployment of the group sets is the weight of all of them (a deployment
/// without it weighs 0); when none is set, or all weigh 0, the choice is uniform.
pub fn load(yaml: &str, env: EnvLookup<'_>) -> Result<Loaded, ConfigError> {
    let (config, warnings) = check(yaml, env);
    config.map(|config| Loaded { config, warnings })
}

/// [`load`], with the warnings for ignored keys even when the config has an
/// error (for `make check`, which prints both).
pub fn check(yaml: &str, env: EnvLookup<'_>) -> (Result<Config, ConfigError>, Vec<String>) {
    let mut warnings = Vec::new();
    let raw: Result<RawConfig, ConfigError> = {
        let de = serde_yaml_ng::Deserializer::from_str(yaml);
        let mut report = |path: serde_ignored::Path<'_>| {
            warnings.push(format!("`{}` is not supported yet and is ignored", dotted(&path)));
        };
        let de = serde_ignored::Deserializer::new(de, &mut report);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let message = e.into_inner().to_string();
            // serde_yaml_ng already starts its message with the path: say it once.
            let message = message.strip_prefix(&format!("{path}: ")).map_or(message.clone(), str::to_owned);
            ConfigError::at(if path == "." { "(document)".to_owned() } else { path }, message)
        })
    };
    let config = raw.and_then(|raw| build_with_secrets(raw, env, &mut warnings));
    (config, warnings)
}

/// [`build`], then every secret the config holds gathered for masking.
fn build_with_secrets(
    mut raw: RawConfig,
    env: EnvLookup<'_>,
    warnings: &mut Vec<String>,
) -> Result<Config, ConfigError> {
    // Read with the plain lookup: of the sinks' settings, only the keys and the
    // headers are secrets (an endpoint masked in every provider message would hide
    // nothing and confuse).
    let callbacks = callbacks::build(&mut raw.litellm_settings, env, warnings)?;
    // Every value an `os.environ/` reference resolves to is a secret, whatever key holds it.
    let resolved = std::cell::RefCell::new(Vec::new());
    let recording = |name: &str| {
        let value = env(name);
        if let Some(value) = &value {
            resolved.borrow_mut().push(value.clone());
        }
        value
    };
    let mut config = build(raw, &recording)?;
    config.callbacks = callbacks;
    let resolved = resolved.into_inner();
    let deployments = config.groups.iter().flat_map(|g| g.deployments.iter());
    let keys = deployments.clone().filter_map(|d| d.api_key.as_ref()).chain(config.master_key.as_ref());
    let held = deployments.flat_map(|d| d.access.secrets());
    let sinks = config.callbacks.secrets();
    let secrets = resolved.iter().map(String::as_str).chain(keys.map(Secret::expose)).chain(held).chain(sinks);
    config.secrets = Secrets::new(secrets);
    Ok(config)
}

fn build(raw: RawConfig, env: EnvLookup<'_>) -> Result<Config, ConfigError> {
    if raw.model_list.is_empty() {
        return Err(ConfigError::at("model_list", "no deployments: add at least one entry"));
    }
    let strategy = routing_strategy(raw.router_settings.routing_strategy.as_deref())?;
    let mut router_settings = raw.router_settings;
    let aliases = std::mem::take(&mut router_settings.model_group_alias);
    let mut litellm = raw.litellm_settings;
    let cache = cache_policy(&router_settings, &mut litellm)?;

    // Shares are resolved per group once the whole group is known.
    let mut groups: Vec<(ModelGroup, Vec<Shares>)> = Vec::new();
    let mut names = HashMap::new();
    let mut ids = HashMap::new();
    for (index, entry) in raw.model_list.into_iter().enumerate() {
        let path = format!("model_list[{index}]");
        let name = entry.model_name.clone();
        if name.trim().is_empty() {
            return Err(ConfigError::at(format!("{path}.model_name"), "must not be empty"));
        }
        let shares = Shares::of(&path, &entry)?;
        let deployment = deployment(index, &path, entry, litellm.drop_params.unwrap_or(false), env)?;
        if let Some(previous) = ids.insert(deployment.id.clone(), index) {
            return Err(ConfigError::at(
                format!("{path}.model_info.id"),
                format!("`{}` is already the id of model_list[{previous}]", deployment.id),
            ));
        }
        let slot = *names.entry(name.clone()).or_insert_with(|| {
            groups.push((ModelGroup { name, deployments: Vec::new(), coordinator_location: None }, Vec::new()));
            groups.len() - 1
        });
        if let Some((group, group_shares)) = groups.get_mut(slot) {
            group.deployments.push(deployment);
            group_shares.push(shares);
        }
    }
    let mut groups: Vec<ModelGroup> = groups
        .into_iter()
        .map(|(mut group, shares)| {
            for (deployment, weight) in group.deployments.iter_mut().zip(Shares::weights(&shares)) {
                deployment.weight = weight;
            }
            group
        })
        .collect();
    let per_group = std::mem::take(&mut router_settings.coordinator_locations);
    location::assign(&mut groups, router_settings.coordinator_location.take().as_deref(), per_group)?;

    let mut listed: Vec<String> = groups.iter().map(|g| g.name.clone()).collect();
    let router = policy::build(router_settings, litellm, strategy, &|name| names.contains_key(name))?;
    for (alias, target) in aliases {
        let path = format!("router_settings.model_group_alias.{alias}");
        let (target, hidden) = match target {
            RawAlias::Name(model) => (model, false),
            RawAlias::Detailed { model, hidden } => (model, hidden),
        };
        let Some(&group) = names.get(&target) else {
            return Err(ConfigError::at(path, format!("names `{target}`, which is not a model_name in model_list")));
        };
        if names.contains_key(&alias) {
            return Err(ConfigError::at(path, format!("`{alias}` is already a model_name")));
        }
        names.insert(alias.clone(), group);
        if !hidden {
            listed.push(alias);
        }
    }

    let allowed_origins = raw.general_settings.allowed_origins.map_or(AllowedOrigins::Any, AllowedOrigins::from_list);
    let responses_ttl_ms = seconds_to_ms("general_settings.responses_ttl", raw.general_settings.responses_ttl)?
        .unwrap_or(DEFAULT_RESPONSES_TTL_MS);
    let master_key = raw
        .general_settings
        .master_key
        .map(|value| resolve("general_settings.master_key", &value, env).map(Secret::new))
        .transpose()?;
    Ok(Config {
        groups,
        names,
        listed,
        master_key,
        router,
        cache,
        secrets: Secrets::default(),
        allowed_origins,
        responses_ttl_ms,
        request_log: raw.general_settings.request_log.unwrap_or(true),
        callbacks: Callbacks::default(),
    })
}

fn routing_strategy(value: Option<&str>) -> Result<RoutingStrategy, ConfigError> {
    Ok(match value {
        None | Some("simple-shuffle") => RoutingStrategy::SimpleShuffle,
        Some("usage-based-routing" | "usage-based-routing-v2") => RoutingStrategy::UsageBased,
        Some("latency-based-routing") => RoutingStrategy::LatencyBased,
        Some("least-busy") => RoutingStrategy::LeastBusy,
        Some("cost-based-routing") => RoutingStrategy::CostBased,
        Some(other) => {
            return Err(ConfigError::at(
                "router_settings.routing_strategy",
                format!(
                    "unknown strategy `{other}`; expected one of simple-shuffle, usage-based-routing, \
                     usage-based-routing-v2, latency-based-routing, least-busy, cost-based-routing"
                ),
            ));
        }
    })
}

/// The response cache: on with `router_settings.cache_responses` or
/// `litellm_settings.cache`; TTL from `default_cache_time_seconds`, else
/// `cache_params.ttl`, else 600 s.
fn cache_policy(
    router: &raw::RawRouterSettings,
    litellm: &mut raw::RawLitellmSettings,
) -> Result<CachePolicy, ConfigError> {
    let params = litellm.cache_params.take().unwrap_or_default();
    let ttl = seconds_to_ms("router_settings.default_cache_time_seconds", router.default_cache_time_seconds)?
        .or(seconds_to_ms("litellm_settings.cache_params.ttl", params.ttl)?)
        .map_or(DEFAULT_TTL_S, |ms| ms / 1000);
    let endpoints = match params.supported_call_types {
        // Messages and Responses clients are served chat answers: cached alike.
        None => vec![
            Endpoint::ChatCompletions,
            Endpoint::Completions,
            Endpoint::Embeddings,
            Endpoint::Messages,
            Endpoint::Responses,
        ],
        Some(types) => types
            .iter()
            .enumerate()
            .filter_map(|(i, t)| match endpoint_of_call_type(t) {
                Some(endpoint) => Some(Ok(endpoint)),
                // Call types Switchyard has no endpoint for (transcription, ...) cache nothing.
                None if t.contains("transcription") || t.contains("speech") || t.contains("image") => None,
                None => Some(Err(ConfigError::at(
                    format!("litellm_settings.cache_params.supported_call_types[{i}]"),
                    format!("unknown call type `{t}`; expected completion, acompletion, text_completion, atext_completion, embedding, aembedding, anthropic_messages, responses or aresponses"),
                ))),
            })
            .collect::<Result<_, _>>()?,
    };
    Ok(CachePolicy {
        enabled: router.cache_responses.unwrap_or(false) || litellm.cache.unwrap_or(false),
        default_ttl_s: ttl,
        namespace: params.namespace,
        endpoints,
        shared: params.shared.unwrap_or(false),
    })
}

/// Seconds as LiteLLM writes them, to milliseconds; negative or not finite is an error.
fn seconds_to_ms(path: &str, seconds: Option<f64>) -> Result<Option<u64>, ConfigError> {
    match seconds {
        None => Ok(None),
        Some(s) if s.is_finite() && s >= 0.0 => Ok(Some((s * 1000.0).round() as u64)),
        Some(s) => Err(ConfigError::at(path, format!("must be a number of seconds >= 0, got {s}"))),
    }
}

fn deployment(
    index: usize,
    path: &str,
    entry: RawDeployment,
    drop_params: bool,
    env: EnvLookup<'_>,
) -> Result<Deployment, ConfigError> {
    let params = entry.litellm_params;
    let parsed = provider::parse(&params.model)
        .map_err(|e| ConfigError::at(format!("{path}.litellm_params.model"), e.to_string()))?;
    let api_key = params
        .api_key
        .as_deref()
        .map(|value| resolve(&format!("{path}.litellm_params.api_key"), value, env).map(Secret::new))
        .transpose()?;
    let access = access::access(path, parsed.kind, &params, api_key.is_some(), env)?;
    let endpoint = params.aws_bedrock_runtime_endpoint.as_ref().filter(|_| parsed.kind == provider::Kind::Bedrock);
    let api_base = match (&params.api_base, endpoint) {
        (Some(value), _) => resolve(&format!("{path}.litellm_params.api_base"), value, env)?,
        (None, Some(value)) => resolve(&format!("{path}.litellm_params.aws_bedrock_runtime_endpoint"), value, env)?,
        // A mock calls nobody: it has no endpoint to report.
        (None, None) if params.mock_response.is_some() => String::new(),
        (None, None) => match access.default_api_base() {
            Some(base) => base,
            None => parsed.default_api_base.unwrap_or_default().to_owned(),
        },
    };
    // A self-hosted server's root is completed with where its OpenAI endpoints live.
    let api_base = match parsed.openai_root {
        Some(root) if !api_base.is_empty() && !api_base.trim_end_matches('/').ends_with(root) => {
            format!("{}{root}", api_base.trim_end_matches('/'))
        }
        _ => api_base,
    };
    if api_base.is_empty() && params.mock_response.is_none() {
        return Err(ConfigError::at(
            format!("{path}.litellm_params.api_base"),
            format!("provider `{}` has no default endpoint: set api_base", parsed.provider),
        ));
    }
    if !api_base.is_empty() {
        check_http_url(&format!("{path}.litellm_params.api_base"), &api_base)?;
    }
    let id = match entry.model_info.id.clone() {
        Some(id) if id.trim().is_empty() => {
            return Err(ConfigError::at(format!("{path}.model_info.id"), "must not be empty"));
        }
        Some(id) => id,
        // Index included: two identical entries are still two deployments.
        None => hashed_id(&[&entry.model_name, &params.model, &api_base, &index.to_string()]),
    };
    let info = entry.model_info;
    // Vertex AI's location and Bedrock's region say where the deployment runs.
    let region = params.region_name.clone().or_else(|| access.region().map(str::to_owned));
    let params_path = format!("{path}.litellm_params");
    Ok(Deployment {
        id: DeploymentId(id),
        model: parsed.model.to_owned(),
        kind: parsed.kind,
        provider: parsed.provider,
        responses_api: parsed.provider == "openai",
        access,
        drop_params: params.drop_params.unwrap_or(drop_params),
        region,
        base_model: info.base_model,
        api_base: api_base.trim_end_matches('/').to_owned(),
        api_key,
        mock_response: params.mock_response,
        weight: 1.0,
        rpm: params.rpm,
        tpm: params.tpm,
        order: params.order.unwrap_or(u32::MAX),
        timeout_ms: seconds_to_ms(&format!("{params_path}.timeout"), params.timeout)?,
        stream_timeout_ms: seconds_to_ms(&format!("{params_path}.stream_timeout"), params.stream_timeout)?,
        cooldown_ms: seconds_to_ms(&format!("{params_path}.cooldown_time"), params.cooldown_time)?,
        max_parallel_requests: params.max_parallel_requests,
        input_cost_per_token: info.input_cost_per_token,
        output_cost_per_token: info.output_cost_per_token,
        max_input_tokens: info.max_input_tokens,
    })
}

/// An endpoint must be an absolute http(s) URL: checked here, so that a typo is a
/// config error at load rather than a failed call later.
fn check_http_url(path: &str, value: &str) -> Result<(), ConfigError> {
    match url::Url::parse(value) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => Ok(()),
        // The value may be a resolved secret: name the problem, not the value.
        Ok(_) => Err(ConfigError::at(path, "must be an http:// or https:// URL")),
        Err(error) => Err(ConfigError::at(path, format!("is not a valid URL: {error}"))),
    }
}

fn hashed_id(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hasher.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Replaces an `os.environ/NAME` value by the Worker variable or secret `NAME`.
fn resolve(path: &str, value: &str, env: EnvLookup<'_>) -> Result<String, ConfigError> {
    let Some(name) = value.strip_prefix(ENV_PREFIX) else {
        return Ok(value.to_owned());
    };
    env(name)
        .ok_or_else(|| ConfigError::at(path, format!("`{value}`: no Worker secret or variable named `{name}` is set")))
}

/// serde_ignored writes sequence indexes as `?`-less dotted segments (`model_list.0.x`);
/// the rest of the loader writes `model_list[0].x`, so warnings match errors.
fn dotted(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", dotted(parent)),
        Path::Map { parent, key } => match dotted(parent) {
            p if p.is_empty() => key.clone(),
            p => format!("{p}.{key}"),
        },
        Path::Some { parent } | Path::NewtypeStruct { parent } | Path::NewtypeVariant { parent } => dotted(parent),
    }
}

/// The traffic-share keys of one deployment, kept until its whole group is known.
#[derive(Debug, Clone, Copy)]
struct Shares {
    weight: Option<f64>,
    rpm: Option<u64>,
    tpm: Option<u64>,
}

impl Shares {
    fn of(path: &str, entry: &RawDeployment) -> Result<Self, ConfigError> {
        let params = &entry.litellm_params;
        if let Some(weight) = params.weight
            && (!weight.is_finite() || weight < 0.0)
        {
            return Err(ConfigError::at(
                format!("{path}.litellm_params.weight"),
                format!("must be a number >= 0, got {weight}"),
            ));
        }
        Ok(Self { weight: params.weight, rpm: params.rpm, tpm: params.tpm })
    }

    /// The weights of a group, in LiteLLM's order of precedence (see [`load`]).
    fn weights(shares: &[Shares]) -> Vec<f64> {
        let keys: [fn(&Shares) -> Option<f64>; 3] =
            [|s| s.weight, |s| s.rpm.map(|v| v as f64), |s| s.tpm.map(|v| v as f64)];
        if let Some(key) = keys.into_iter().find(|key| shares.iter().any(|s| key(s).is_some())) {
            let weights: Vec<f64> = shares.iter().map(|s| key(s).unwrap_or(0.0)).collect();
            if weights.iter().any(|&w| w > 0.0) {
                return weights;
            }
        }
        vec![1.0; shares.len()]
    }
}
