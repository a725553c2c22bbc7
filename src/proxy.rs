//! The OpenAI endpoints: parse the body once, resolve the model group, choose a
//! deployment, and answer with its response (or a mock, or the error).

use switchyard_core::config::Config;
use switchyard_core::error::ApiError;
use switchyard_core::mock::{self, MockContext};
use switchyard_core::request::{Endpoint, ParsedRequest};
use switchyard_core::select;
use worker::{Headers, Request, Response, Result};

use crate::{respond, runtime, upstream};

pub async fn handle(endpoint: Endpoint, mut req: Request, config: &Config) -> Result<Response> {
    let body = req.bytes().await?;
    let request = match ParsedRequest::parse(endpoint, &body) {
        Ok(request) => request,
        Err(error) => return respond::error(&error),
    };
    let Some(group) = config.group(&request.model) else {
        let error = ApiError::ModelNotFound { model: request.model, available: config.listed_models().to_vec() };
        return respond::error(&error);
    };
    let mut rng = runtime::rng();
    let Some(deployment) = select::simple_shuffle(&group.deployments, &mut rng) else {
        return respond::error(&ApiError::Internal(format!("model group `{}` has no deployments", group.name)));
    };

    // A mock in the request wins over the deployment's, as in LiteLLM.
    let mock = request.mock_response.as_deref().or(deployment.mock_response.as_deref());
    let response = match mock {
        Some(content) => {
            let ctx = MockContext { now_secs: (runtime::now_ms() / 1000.0) as u64, rng: &mut rng };
            let answer = mock::answer(&request, &deployment.model, content, ctx);
            let headers = Headers::new();
            if answer.is_stream {
                headers.set("content-type", "text/event-stream")?;
                headers.set("cache-control", "no-cache")?;
            } else {
                headers.set("content-type", "application/json")?;
            }
            Response::from_bytes(answer.body)?.with_headers(headers)
        }
        None => match upstream::send(deployment, endpoint, request.upstream_body(&deployment.model)).await? {
            Ok(response) => response,
            Err(error) => respond::error(&error)?,
        },
    };
    respond::served_by(response.headers(), group, deployment)?;
    Ok(response)
}
