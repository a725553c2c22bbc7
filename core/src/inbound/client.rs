//! What serving a client of another API than Chat Completions takes, whatever the
//! deployment ([`Client`]):
//! - a deployment that speaks the client's API (an Anthropic deployment for a
//!   Messages client, OpenAI's own for a Responses client) gets the client's body
//!   as it came, the model renamed, and its answer passes back as it came, watched
//!   for its usage and for a failure before the answer starts;
//! - any other gets the request as OpenAI chat (then forwarded or translated as a
//!   chat completion is), and its chat answer, whole or streamed, is turned into
//!   the client's;
//! - errors are written in the client's shape.

use crate::config::Deployment;
use crate::endpoint::Endpoint;
use crate::error::ApiError;
use crate::failure::Failure;
use crate::openai::{ChatRequest, ChatResponse, Usage};
use crate::provider::{Kind, anthropic};
use crate::translate::{ChunkEncoder, StreamDecoder};
use crate::upstream::{Call, Headers};

use super::messages::{self, MessagesError};
use super::responses::{self, Stored};

/// A client of Anthropic's Messages API or OpenAI's Responses API.
pub enum Client {
    Messages(Box<MessagesClient>),
    Responses(Box<ResponsesClient>),
}

pub struct MessagesClient {
    request: messages::Request,
    /// The request as OpenAI chat's body; `Err`: what only an Anthropic deployment serves.
    chat: Result<Vec<u8>, String>,
    /// The client's `anthropic-version` and `anthropic-beta`, passed to Anthropic.
    headers: AnthropicHeaders,
    /// Makes the message id of an answer that comes as chat.
    seed: u64,
}

pub struct ResponsesClient {
    request: responses::Request,
    /// The request as OpenAI chat, and its body; `Err`: why only OpenAI's own
    /// deployments can serve it (a built-in tool, an unknown previous response).
    chat: Result<(ChatRequest, Vec<u8>), ApiError>,
    /// The id of the response the gateway makes, when not OpenAI's own.
    id: String,
    created_at: u64,
}

/// What Anthropic's SDKs send beside the body.
#[derive(Debug, Clone, Default)]
pub struct AnthropicHeaders {
    pub version: Option<String>,
    pub beta: Option<String>,
}

impl Client {
    /// A Messages client's request, checked as Anthropic checks it.
    pub fn messages(body: &[u8], headers: AnthropicHeaders, seed: u64) -> Result<Self, ApiError> {
        let request = messages::parse(body)?;
        let chat = match messages::to_chat(&request) {
            Ok(chat) => Ok(serde_json::to_vec(&chat).map_err(|e| ApiError::Internal(e.to_string()))?),
            Err(MessagesError::AnthropicOnly(why)) => Err(why),
            Err(invalid @ MessagesError::Invalid(_)) => return Err(invalid.into()),
        };
        Ok(Self::Messages(Box::new(MessagesClient { request, chat, headers, seed })))
    }

    /// A Responses client's request, parsed already (to find the response it
    /// continues), with that response when the gateway keeps it. `id` is the
    /// response's own, made up when the answer comes as chat.
    pub fn responses(request: responses::Request, previous: Option<&Stored>, id: String, created_at: u64) -> Self {
        let chat = match responses::builtin_tool(&request) {
            Some(tool) => Err(ApiError::InvalidParam {
                param: "tools",
                message: format!("the built-in tool `{tool}` runs only on OpenAI's own deployments"),
            }),
            None => responses::to_chat(&request, previous).and_then(|chat| {
                let body = serde_json::to_vec(&chat).map_err(|e| ApiError::Internal(e.to_string()))?;
                Ok((chat, body))
            }),
        };
        Self::Responses(Box::new(ResponsesClient { request, chat, id, created_at }))
    }

    /// The endpoint the client called.
    pub fn endpoint(&self) -> Endpoint {
        match self {
            Self::Messages(_) => Endpoint::Messages,
            Self::Responses(_) => Endpoint::Responses,
        }
    }

    /// The status and body of `error` in the client's shape.
    pub fn error_reply(&self, error: &ApiError) -> (u16, Vec<u8>) {
        error_reply(self.endpoint(), error)
    }

    /// Whether `deployment` speaks the client's API: it gets the client's body.
    pub fn speaks(&self, deployment: &Deployment) -> bool {
        match self {
            Self::Messages(_) => deployment.kind == Kind::Anthropic,
            Self::Responses(_) => deployment.responses_api,
        }
    }

    /// The chat body for a deployment that does not speak the client's API;
    /// `Err`: the request only such a deployment can serve, as a 400.
    pub fn chat_body(&self) -> Result<&[u8], ApiError> {
        match self {
            Self::Messages(client) => client.chat.as_deref().map_err(|why| ApiError::InvalidParam {
                param: "body",
                message: format!("{why}: only an Anthropic deployment can serve this request"),
            }),
            Self::Responses(client) => client.chat.as_ref().map(|(_, body)| body.as_slice()).map_err(Clone::clone),
        }
    }

    /// The call of a deployment that speaks the client's API, with `body` (the
    /// client's, its model renamed and the gateway's own fields left out).
    pub fn native_call(&self, deployment: &Deployment, body: Vec<u8>) -> Call {
        let path = self.endpoint().upstream_path();
        match self {
            Self::Messages(client) => anthropic_call(deployment, path, &client.headers, body),
            Self::Responses(_) => {
                let mut headers: Headers = vec![("content-type", "application/json".into())];
                if let Some(key) = &deployment.api_key {
                    headers.push(("authorization", format!("Bearer {}", key.expose())));
                }
                Call { url: format!("{}{path}", deployment.api_base), headers, body }
            }
        }
    }

    /// The failure an error answer of such a deployment stands for.
    pub fn native_failure(&self, status: u16, retry_after_ms: Option<u64>, body: &[u8]) -> Failure {
        match self {
            Self::Messages(_) => anthropic::error::failure(status, retry_after_ms, body),
            Self::Responses(_) => Failure::from_upstream(status, body, retry_after_ms),
        }
    }

    /// The usage a complete answer of such a deployment reports.
    pub fn native_usage(&self, body: &[u8]) -> Option<Usage> {
        #[derive(serde::Deserialize)]
        struct WithUsage<U> {
            usage: U,
        }
        match self {
            Self::Messages(_) => serde_json::from_slice::<WithUsage<anthropic::wire::Usage>>(body)
                .ok()
                .map(|answer| anthropic::usage(&answer.usage)),
            Self::Responses(_) => serde_json::from_slice::<WithUsage<responses::watch::ResponseUsage>>(body)
                .ok()
                .map(|answer| answer.usage.to_openai()),
        }
    }

    /// What watches such a deployment's stream, begun at `created`.
    pub fn native_watcher(&self, created: u64) -> Box<dyn StreamDecoder> {
        match self {
            Self::Messages(_) => Box::new(anthropic::stream::Decoder::new(created, false)),
            Self::Responses(_) => Box::new(responses::watch::Watcher::new()),
        }
    }

    /// What writes the client's stream from chat chunks. `estimated_tokens`: the
    /// prompt's size, which Anthropic's `message_start` reports before the usage.
    pub fn encoder(&self, estimated_tokens: u64) -> Box<dyn ChunkEncoder> {
        match self {
            Self::Messages(client) => {
                Box::new(messages::stream::Encoder::new(&client.request.model, client.seed, estimated_tokens))
            }
            Self::Responses(client) => {
                Box::new(responses::Encoder::new(&client.request, &client.id, client.created_at))
            }
        }
    }

    /// A chat answer as the client's.
    pub fn answer(&self, chat: &ChatResponse) -> Result<Vec<u8>, ApiError> {
        let written = match self {
            Self::Messages(client) => serde_json::to_vec(&messages::answer::message(chat, &client.request.model)),
            Self::Responses(client) => {
                serde_json::to_vec(&responses::response(chat, &client.request, &client.id, client.created_at))
            }
        };
        written.map_err(|e| ApiError::Internal(format!("the answer could not be written: {e}")))
    }

    /// What to keep of the response a Responses client got (whole, `answer`; or
    /// streamed, the stream's `encoder` once it ended): `None` for a client of
    /// another API, a request with `store: false`, or a response not made here.
    pub fn stored(&self, answer: Option<&ChatResponse>, encoder: Option<&dyn ChunkEncoder>) -> Option<Stored> {
        let Self::Responses(client) = self else {
            return None;
        };
        let (chat, _) = client.chat.as_ref().ok()?;
        if !client.request.store {
            return None;
        }
        let response = match (answer, encoder) {
            (Some(answer), _) => responses::response(answer, &client.request, &client.id, client.created_at),
            (None, Some(encoder)) => encoder.as_any().downcast_ref::<responses::Encoder>()?.response()?.clone(),
            (None, None) => return None,
        };
        Some(responses::stored(chat, &response))
    }

    /// The id of the response this request makes, when it is made here.
    pub fn response_id(&self) -> Option<&str> {
        match self {
            Self::Messages(_) => None,
            Self::Responses(client) => Some(&client.id),
        }
    }
}

/// A call of an Anthropic deployment at `path` (`/v1/messages`, or its
/// `count_tokens`) with `body`, passing the client's version and betas.
pub fn anthropic_call(deployment: &Deployment, path: &str, client: &AnthropicHeaders, body: Vec<u8>) -> Call {
    let version = client.version.clone().unwrap_or_else(|| anthropic::wire::API_VERSION.to_owned());
    let mut headers: Headers = vec![("content-type", "application/json".into()), ("anthropic-version", version)];
    headers.extend(client.beta.clone().map(|beta| ("anthropic-beta", beta)));
    headers.extend(deployment.api_key.as_ref().map(|key| ("x-api-key", key.expose().to_owned())));
    Call { url: format!("{}{path}", deployment.api_base), headers, body }
}

/// The status and body of `error` for a client of `endpoint`: Anthropic's shape
/// for a Messages client, OpenAI's for the others.
pub fn error_reply(endpoint: Endpoint, error: &ApiError) -> (u16, Vec<u8>) {
    match endpoint {
        Endpoint::Messages => messages::error::error_reply(error),
        Endpoint::ChatCompletions | Endpoint::Completions | Endpoint::Embeddings | Endpoint::Responses => {
            (error.status(), error.body())
        }
    }
}

#[cfg(test)]
mod tests;
