//! Responses: JSON bodies, OpenAI-shaped errors, and the headers that say who served.

use switchyard_core::config::{Deployment, ModelGroup};
use switchyard_core::coordinator::Grant;
use switchyard_core::error::ApiError;
use switchyard_core::plan::Attempts;
use worker::{Headers, Response, Result};

use crate::runtime;

/// A JSON response with the given status.
pub fn json(status: u16, body: Vec<u8>) -> Result<Response> {
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    Ok(Response::from_bytes(body)?.with_status(status).with_headers(headers))
}

/// The error in OpenAI's shape with its status, and `retry-after` where known.
pub fn error(error: &ApiError) -> Result<Response> {
    let response = json(error.status(), error.body())?;
    if let Some(seconds) = error.retry_after_secs() {
        response.headers().set("retry-after", &seconds.to_string())?;
    }
    Ok(response)
}

/// The deployment that answered (or, on an error, the last one tried).
pub struct Served<'a> {
    pub group: &'a ModelGroup,
    pub deployment: &'a Deployment,
    /// `None` for a deployment picked in the isolate, without a ticket.
    pub grant: Option<&'a Grant>,
}

/// Sets the headers LiteLLM's users read: who served, how many retries and
/// fallbacks it took, how long, and what is left of the deployment's limits.
/// `api_base` is cut at its query string: some providers put credentials there.
/// `group` is the group tried last, for answers where no deployment was granted.
/// `prioritized`: the request went by the priority queue's rules.
pub fn attempt_headers(
    headers: &mut Headers,
    group: &str,
    served: Option<Served<'_>>,
    attempts: Attempts,
    started_ms: f64,
    prioritized: bool,
) -> Result<()> {
    headers.set("x-litellm-model-group", served.as_ref().map_or(group, |s| &s.group.name))?;
    if prioritized {
        headers.set("x-litellm-request-prioritization-used", "true")?;
    }
    if let Some(Served { deployment, grant, .. }) = served {
        headers.set("x-litellm-model-id", deployment.id.as_str())?;
        let api_base = deployment.api_base.split('?').next().unwrap_or_default();
        if !api_base.is_empty() {
            headers.set("x-litellm-model-api-base", api_base)?;
        }
        if let Some(remaining) = grant.and_then(|g| g.remaining_requests) {
            headers.set("x-ratelimit-remaining-requests", &remaining.to_string())?;
        }
        if let Some(remaining) = grant.and_then(|g| g.remaining_tokens) {
            headers.set("x-ratelimit-remaining-tokens", &remaining.to_string())?;
        }
    }
    headers.set("x-litellm-attempted-retries", &attempts.retries.to_string())?;
    headers.set("x-litellm-max-retries", &attempts.max_retries.to_string())?;
    headers.set("x-litellm-attempted-fallbacks", &attempts.fallbacks.to_string())?;
    let duration = (runtime::now_ms() - started_ms).max(0.0) as u64;
    headers.set("x-litellm-response-duration-ms", &duration.to_string())?;
    Ok(())
}
