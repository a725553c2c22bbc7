//! Responses: JSON bodies, OpenAI-shaped errors, and the headers that say who served.

use switchyard_core::config::{Deployment, ModelGroup};
use switchyard_core::error::ApiError;
use worker::{Headers, Response, Result};

/// A JSON response with the given status.
pub fn json(status: u16, body: Vec<u8>) -> Result<Response> {
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    Ok(Response::from_bytes(body)?.with_status(status).with_headers(headers))
}

/// The error in OpenAI's shape with its status.
pub fn error(error: &ApiError) -> Result<Response> {
    json(error.status(), error.body())
}

/// Sets the headers LiteLLM's users read to see which deployment served.
/// `api_base` is cut at its query string: some providers put credentials there.
pub fn served_by(headers: &Headers, group: &ModelGroup, deployment: &Deployment) -> Result<()> {
    headers.set("x-litellm-model-id", deployment.id.as_str())?;
    headers.set("x-litellm-model-group", &group.name)?;
    let api_base = deployment.api_base.split('?').next().unwrap_or_default();
    if !api_base.is_empty() {
        headers.set("x-litellm-model-api-base", api_base)?;
    }
    Ok(())
}
