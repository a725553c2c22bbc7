//! The response cache's configuration (`cache_responses`, `litellm_settings.cache`
//! and `cache_params`).

use crate::endpoint::Endpoint;

/// LiteLLM's in-memory cache default.
pub const DEFAULT_TTL_S: u64 = 600;
/// The cache's configuration.
#[derive(Debug, Clone, Default)]
pub struct CachePolicy {
    pub enabled: bool,
    pub default_ttl_s: u64,
    pub namespace: Option<String>,
    /// Endpoints cached (`cache_params.supported_call_types`).
    pub endpoints: Vec<Endpoint>,
    /// One cache for every API key (`cache_params.shared: true`).
    pub shared: bool,
}

impl CachePolicy {
    pub fn applies_to(&self, endpoint: Endpoint) -> bool {
        self.enabled && self.endpoints.contains(&endpoint)
    }
}

/// LiteLLM's `supported_call_types` names for an endpoint's calls.
pub fn endpoint_of_call_type(call_type: &str) -> Option<Endpoint> {
    match call_type {
        "completion" | "acompletion" => Some(Endpoint::ChatCompletions),
        "text_completion" | "atext_completion" => Some(Endpoint::Completions),
        "embedding" | "aembedding" => Some(Endpoint::Embeddings),
        "anthropic_messages" => Some(Endpoint::Messages),
        "responses" | "aresponses" => Some(Endpoint::Responses),
        _ => None,
    }
}
