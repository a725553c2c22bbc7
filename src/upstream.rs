//! The call to a deployment, and its answer brought back to the client.

use js_sys::Uint8Array;
use switchyard_core::config::Deployment;
use switchyard_core::error::ApiError;
use switchyard_core::request::Endpoint;
use worker::{Fetch, Headers, Method, Request, RequestInit, Response, Result};

/// Headers of the provider's answer that the client is given back.
const PASSED_HEADERS: &[&str] = &["content-type", "cache-control", "x-request-id", "openai-processing-ms"];

/// Sends `body` to the deployment. A success is returned with its body still
/// streaming from the provider (an SSE stream reaches the client chunk by chunk,
/// never buffered whole); an error answer or a failed connection becomes an
/// [`ApiError`]. The outer `Result` is a failure of the runtime itself.
pub async fn send(
    deployment: &Deployment,
    endpoint: Endpoint,
    body: Vec<u8>,
) -> Result<std::result::Result<Response, ApiError>> {
    let url = format!("{}{}", deployment.api_base, endpoint.upstream_path());
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    if let Some(key) = &deployment.api_key {
        headers.set("authorization", &format!("Bearer {}", key.expose()))?;
    }
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_headers(headers).with_body(Some(Uint8Array::from(body.as_slice()).into()));
    let request = Request::new_with_init(&url, &init)?;

    let mut response = match Fetch::Request(request).send().await {
        Ok(response) => response,
        Err(error) => {
            let detail = error.to_string();
            return Ok(Err(ApiError::UpstreamUnreachable { deployment: deployment.id.to_string(), detail }));
        }
    };
    let status = response.status_code();
    if status >= 400 {
        let body = response.bytes().await.unwrap_or_default();
        return Ok(Err(ApiError::from_upstream(status, &body)));
    }
    let passed = Headers::new();
    for name in PASSED_HEADERS {
        if let Some(value) = response.headers().get(name)? {
            passed.set(name, &value)?;
        }
    }
    // The body stays the provider's stream: the runtime pipes it to the client.
    let (_, body) = response.into_parts();
    Ok(Ok(Response::builder().with_status(status).with_headers(passed).body(body)))
}
