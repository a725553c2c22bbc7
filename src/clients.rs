//! Clients of another API than Chat Completions: Anthropic's Messages API and
//! OpenAI's Responses API. Their requests are read here into a
//! `switchyard_core::inbound::client::Client` before the router serves them
//! (`proxy::serve`); and the two calls of theirs that the router does not serve:
//! `POST /v1/messages/count_tokens` and `GET /v1/responses/{id}`.

use std::rc::Rc;

use switchyard_core::config::Config;
use switchyard_core::endpoint::Endpoint;
use switchyard_core::error::ApiError;
use switchyard_core::inbound::client::{AnthropicHeaders, Client, anthropic_call};
use switchyard_core::inbound::messages::count_tokens;
use switchyard_core::inbound::responses;
use switchyard_core::provider::Kind;
use switchyard_core::request::ParsedRequest;
use worker::{Env, Result};

use crate::respond::Reply;
use crate::{attempt, responses_store, runtime};

/// How long a deployment may take to count a prompt's tokens.
const COUNT_TIMEOUT_MS: u64 = 10_000;

/// The client a request to `endpoint` comes from: `Ok(None)` for a Chat
/// Completions client; `Err` is the reply refusing its request, in its shape.
pub async fn of(
    endpoint: Endpoint,
    req: &web_sys::Request,
    body: &[u8],
    api_key: Option<&str>,
    env: &Env,
) -> Result<std::result::Result<Option<Rc<Client>>, Reply>> {
    let client = match endpoint {
        Endpoint::Messages => Client::messages(body, anthropic_headers(req), runtime::rng().u64(..)),
        Endpoint::Responses => match responses::parse(body) {
            Ok(request) => {
                // A response Switchyard kept is continued here; one it did not keep
                // may be OpenAI's own, which only OpenAI's deployments can continue.
                let previous = match &request.previous_response_id {
                    Some(id) => responses_store::load(env, id, api_key).await?,
                    None => None,
                };
                let id = responses_store::new_id().map_err(|e| worker::Error::RustError(e.to_string()))?;
                let created_at = (runtime::now_ms() / 1000.0) as u64;
                Ok(Client::responses(request, previous.as_ref(), id, created_at))
            }
            Err(error) => Err(error),
        },
        Endpoint::ChatCompletions | Endpoint::Completions | Endpoint::Embeddings => return Ok(Ok(None)),
    };
    Ok(match client {
        Ok(client) => Ok(Some(Rc::new(client))),
        Err(error) => Err(Reply::error_for(endpoint, &error)),
    })
}

/// What an Anthropic SDK sends beside the body, passed on to Anthropic.
fn anthropic_headers(req: &web_sys::Request) -> AnthropicHeaders {
    let header = |name: &str| req.headers().get(name).ok().flatten();
    AnthropicHeaders { version: header("anthropic-version"), beta: header("anthropic-beta") }
}

/// `POST /v1/messages/count_tokens`: counted by the group's first Anthropic
/// deployment when it has one, else estimated as the router estimates a prompt;
/// `x-switchyard-token-count` says which (`anthropic` or `estimate`).
pub async fn count_tokens(req: &web_sys::Request, body: &[u8], config: &Config) -> Result<Reply> {
    let refused = |error: &ApiError| Ok(Reply::error_for(Endpoint::Messages, error));
    let request = match count_tokens::parse_count(body) {
        Ok(request) => request,
        Err(error) => return refused(&error.into()),
    };
    let Some(group) = config.group(&request.model) else {
        return refused(&ApiError::ModelNotFound { model: request.model, available: config.listed_models().to_vec() });
    };
    if let Some(deployment) = group.deployments.iter().find(|d| d.kind == Kind::Anthropic && d.mock_response.is_none())
        && let Ok(parsed) = ParsedRequest::parse(Endpoint::Messages, body)
    {
        let body = parsed.upstream_body(&deployment.model);
        let call = anthropic_call(deployment, "/v1/messages/count_tokens", &anthropic_headers(req), body);
        let counted = attempt::post(&call.url, &call.headers, &call.body, COUNT_TIMEOUT_MS).await;
        // Anthropic's count, or, when it cannot count, the estimate.
        if let Ok((200, answer)) = counted {
            let mut reply = Reply::json(200, answer);
            reply.set("x-switchyard-token-count", "anthropic");
            return Ok(reply);
        }
    }
    let mut reply = Reply::json(200, count_tokens::count_body(count_tokens::estimate(&request)));
    reply.set("x-switchyard-token-count", "estimate");
    Ok(reply)
}

/// `GET /v1/responses/{id}`: a response Switchyard made and kept, to the key
/// that made it only (any other is told it does not exist).
pub async fn stored_response(id: &str, api_key: Option<&str>, env: &Env) -> Result<Reply> {
    match responses_store::load(env, id, api_key).await? {
        Some(stored) => Ok(Reply::json(200, serde_json::to_vec(&stored.response)?)),
        None => Ok(Reply::error(&ApiError::ResponseNotFound { id: id.to_owned() })),
    }
}
