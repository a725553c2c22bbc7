//! The configuration as the user wrote it: LiteLLM's YAML shape, key for key.
//!
//! Only the keys Switchyard acts on are fields here. Every other key is collected
//! by `serde_ignored` into the load warnings, so that a LiteLLM config brought as
//! it is never loses a setting silently.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
pub struct RawConfig {
    #[serde(default)]
    pub model_list: Vec<RawDeployment>,
    #[serde(default)]
    pub router_settings: RawRouterSettings,
    #[serde(default)]
    pub litellm_settings: RawLitellmSettings,
    #[serde(default)]
    pub general_settings: RawGeneralSettings,
}

#[derive(Debug, Deserialize)]
pub struct RawDeployment {
    pub model_name: String,
    pub litellm_params: RawLitellmParams,
    #[serde(default)]
    pub model_info: RawModelInfo,
}

#[derive(Debug, Deserialize)]
pub struct RawLitellmParams {
    pub model: String,
    pub api_base: Option<String>,
    pub api_key: Option<String>,
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
    pub weight: Option<f64>,
    pub mock_response: Option<String>,
    pub order: Option<u32>,
    /// Seconds.
    pub timeout: Option<f64>,
    /// Seconds.
    pub stream_timeout: Option<f64>,
    /// Seconds.
    pub cooldown_time: Option<f64>,
    pub max_parallel_requests: Option<u32>,
    /// Fields the provider cannot take are dropped instead of refused.
    pub drop_params: Option<bool>,
    /// Where the deployment runs, for `allowed_model_region` (`eu`, ...).
    pub region_name: Option<String>,
    // Azure OpenAI.
    pub api_version: Option<String>,
    pub azure_ad_token: Option<String>,
    pub tenant_id: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    // Vertex AI.
    #[serde(alias = "vertex_ai_project")]
    pub vertex_project: Option<String>,
    #[serde(alias = "vertex_ai_location")]
    pub vertex_location: Option<String>,
    /// A service account key: its JSON as text (usually `os.environ/...`), or
    /// written inline as a mapping.
    #[serde(alias = "vertex_ai_credentials")]
    pub vertex_credentials: Option<serde_json::Value>,
    // AWS Bedrock.
    pub aws_access_key_id: Option<String>,
    pub aws_secret_access_key: Option<String>,
    pub aws_session_token: Option<String>,
    pub aws_region_name: Option<String>,
    pub aws_bedrock_runtime_endpoint: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawModelInfo {
    pub id: Option<String>,
    pub input_cost_per_token: Option<f64>,
    pub output_cost_per_token: Option<f64>,
    pub max_input_tokens: Option<u64>,
    /// The model the deployment serves (an Azure deployment's own name says nothing).
    pub base_model: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawRouterSettings {
    pub routing_strategy: Option<String>,
    #[serde(default)]
    pub routing_strategy_args: RawStrategyArgs,
    #[serde(default)]
    pub model_group_alias: BTreeMap<String, RawAlias>,
    pub num_retries: Option<u32>,
    pub retry_policy: Option<RawRetryPolicy>,
    #[serde(default)]
    pub model_group_retry_policy: BTreeMap<String, RawRetryPolicy>,
    pub fallbacks: Option<Vec<BTreeMap<String, Vec<String>>>>,
    pub context_window_fallbacks: Option<Vec<BTreeMap<String, Vec<String>>>>,
    pub content_policy_fallbacks: Option<Vec<BTreeMap<String, Vec<String>>>>,
    pub default_fallbacks: Option<Vec<String>>,
    pub max_fallbacks: Option<u32>,
    /// Seconds.
    pub timeout: Option<f64>,
    /// Seconds.
    pub stream_timeout: Option<f64>,
    pub allowed_fails: Option<u32>,
    pub allowed_fails_policy: Option<RawAllowedFailsPolicy>,
    /// Seconds.
    pub cooldown_time: Option<f64>,
    pub disable_cooldowns: Option<bool>,
    pub enable_pre_call_checks: Option<bool>,
    pub default_priority: Option<u32>,
    pub max_queue_size: Option<usize>,
    /// Seconds per step of priority a waiting request gains.
    pub priority_aging_s: Option<f64>,
    /// Seconds an async job's result is kept.
    pub job_ttl: Option<f64>,
    pub cache_responses: Option<bool>,
    /// Seconds.
    pub default_cache_time_seconds: Option<f64>,
    /// A Durable Objects location hint for every group's coordinator.
    pub coordinator_location: Option<String>,
    /// A location hint per model group, over `coordinator_location`.
    #[serde(default)]
    pub coordinator_locations: BTreeMap<String, String>,
    /// Milliseconds: isolates reach each group's coordinator through a relay
    /// in their location, which batches their messages this often at most; 0:
    /// never.
    pub coordinator_relay_ms: Option<u64>,
    /// Messages a second: isolates relay while they send a group's coordinator
    /// this many or more.
    pub coordinator_relay_above: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawStrategyArgs {
    /// Seconds of latency history that latency-based routing averages over.
    pub ttl: Option<f64>,
    /// Deployments within this fraction of the fastest are chosen among at random.
    pub lowest_latency_buffer: Option<f64>,
}

/// LiteLLM's `RetryPolicy`: retries per error class.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RawRetryPolicy {
    pub bad_request_error_retries: Option<u32>,
    pub authentication_error_retries: Option<u32>,
    pub timeout_error_retries: Option<u32>,
    pub rate_limit_error_retries: Option<u32>,
    pub content_policy_violation_error_retries: Option<u32>,
    pub internal_server_error_retries: Option<u32>,
}

/// LiteLLM's `AllowedFailsPolicy`: failures tolerated per error class before a cooldown.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RawAllowedFailsPolicy {
    pub bad_request_error_allowed_fails: Option<u32>,
    pub authentication_error_allowed_fails: Option<u32>,
    pub timeout_error_allowed_fails: Option<u32>,
    pub rate_limit_error_allowed_fails: Option<u32>,
    pub content_policy_violation_error_allowed_fails: Option<u32>,
    pub internal_server_error_allowed_fails: Option<u32>,
}

/// LiteLLM accepts an alias as a bare group name or as `{model, hidden}`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawAlias {
    Name(String),
    Detailed {
        model: String,
        #[serde(default)]
        hidden: bool,
    },
}

#[derive(Debug, Default, Deserialize)]
pub struct RawLitellmSettings {
    pub cache: Option<bool>,
    pub cache_params: Option<RawCacheParams>,
    // LiteLLM's proxy also reads these here; `router_settings` wins when both set one.
    pub num_retries: Option<u32>,
    /// Seconds: the proxy-wide default timeout.
    pub request_timeout: Option<f64>,
    pub fallbacks: Option<Vec<BTreeMap<String, Vec<String>>>>,
    pub context_window_fallbacks: Option<Vec<BTreeMap<String, Vec<String>>>>,
    pub content_policy_fallbacks: Option<Vec<BTreeMap<String, Vec<String>>>>,
    pub default_fallbacks: Option<Vec<String>>,
    /// Every deployment drops the fields its provider cannot take.
    pub drop_params: Option<bool>,
    /// Sinks given every request's record (see `config::callbacks`).
    pub callbacks: Option<Vec<String>>,
    /// Sinks given the records of requests that succeeded.
    pub success_callback: Option<Vec<String>>,
    /// Sinks given the records of requests that failed.
    pub failure_callback: Option<Vec<String>>,
    /// No sink is given messages or answers.
    pub turn_off_message_logging: Option<bool>,
}

/// LiteLLM's `cache_params`; the store is always the `CACHE` KV namespace.
#[derive(Debug, Default, Deserialize)]
pub struct RawCacheParams {
    /// Seconds.
    pub ttl: Option<f64>,
    pub namespace: Option<String>,
    pub supported_call_types: Option<Vec<String>>,
    /// Switchyard's: one cache for every API key instead of one per key.
    pub shared: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawGeneralSettings {
    pub master_key: Option<String>,
    /// Browser origins allowed to call the gateway (CORS); unset: every origin.
    pub allowed_origins: Option<Vec<String>>,
    /// Seconds a Responses API response is kept for `previous_response_id` and
    /// `GET /v1/responses/{id}` (Switchyard's own key).
    pub responses_ttl: Option<f64>,
    /// One JSON line per request in the Worker's log (Switchyard's own key;
    /// default on).
    pub request_log: Option<bool>,
}
