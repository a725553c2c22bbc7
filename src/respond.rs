//! Responses: JSON bodies, OpenAI-shaped errors, and the headers that say who served.
//!
//! A [`Reply`] is assembled in Rust and handed to the runtime once, its headers as
//! one JSON object: a `Headers.set` per header decoded two strings across the
//! boundary each, the largest share of what a routed request allocated in
//! JavaScript (measured with V8's allocation sampling, BENCHMARKS.md).

use futures_channel::oneshot;
use js_sys::Uint8Array;
use serde::ser::{Serialize, Serializer};
use switchyard_core::config::{Deployment, ModelGroup};
use switchyard_core::endpoint::Endpoint;
use switchyard_core::error::ApiError;
use switchyard_core::inbound::client;
use switchyard_core::observe::record::StreamEnded;
use switchyard_core::plan::Attempts;
use wasm_bindgen::JsValue;
use wasm_bindgen::prelude::wasm_bindgen;
use worker::Result;

use crate::runtime;

/// A response's headers: the names are all known in advance.
pub type HeaderList = Vec<(&'static str, String)>;

pub enum Body {
    Bytes(Vec<u8>),
    /// A body the runtime read whole and Wasm had no need to see.
    Js(js_sys::ArrayBuffer),
    Stream(web_sys::ReadableStream),
}

/// A response on its way to the client.
pub struct Reply {
    status: u16,
    headers: HeaderList,
    /// The headers of the provider's answer, of which a few pass to the client.
    upstream: Option<web_sys::Headers>,
    body: Body,
    /// For a relayed stream: told how it ended, for the request's record.
    pub stream_end: Option<oneshot::Receiver<StreamEnded>>,
}

impl Reply {
    pub fn new(status: u16, headers: HeaderList, body: Body) -> Self {
        Self { status, headers, upstream: None, body, stream_end: None }
    }

    /// Gives the client the headers of the provider's answer that pass (see
    /// `respond` below): read by the runtime, never copied into Wasm.
    pub fn passing(mut self, upstream: Option<web_sys::Headers>) -> Self {
        self.upstream = upstream;
        self
    }

    /// A JSON body with the given status.
    pub fn json(status: u16, body: Vec<u8>) -> Self {
        Self::new(status, json_headers(), Body::Bytes(body))
    }

    /// The error in OpenAI's shape with its status, and `retry-after` where known.
    pub fn error(error: &ApiError) -> Self {
        Self::new(error.status(), error_headers(error), Body::Bytes(error.body()))
    }

    /// The error in the shape the clients of `endpoint` read (Anthropic's for the
    /// Messages API, OpenAI's for the others), and `retry-after` where known.
    pub fn error_for(endpoint: Endpoint, error: &ApiError) -> Self {
        let (status, body) = client::error_reply(endpoint, error);
        Self::new(status, error_headers(error), Body::Bytes(body))
    }

    pub fn status(&self) -> u16 {
        self.status
    }

    /// The same reply with another status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// Sets `name`, replacing any value it had.
    pub fn set(&mut self, name: &'static str, value: impl Into<String>) {
        let value = value.into();
        match self.headers.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.headers.push((name, value)),
        }
    }

    /// The runtime's `Response`.
    pub fn into_response(self) -> Result<web_sys::Response> {
        let headers = serde_json::to_string(&AsObject(&self.headers))?;
        let body: JsValue = match self.body {
            Body::Bytes(bytes) => Uint8Array::from(bytes.as_slice()).into(),
            Body::Js(buffer) => buffer.into(),
            Body::Stream(stream) => stream.into(),
        };
        Ok(respond(&body, self.status, &headers, self.upstream.as_ref())?)
    }
}

#[wasm_bindgen(module = "/src/js/respond.js")]
extern "C" {
    /// The secrets to mask in the provider's headers that pass: `[secret, masked]`
    /// pairs as JSON ([`switchyard_core::secret::Secrets::pairs`]).
    #[wasm_bindgen(js_name = setMasks)]
    pub fn set_masks(pairs: &str);

    /// The `Response`: `headers` is a JSON object, and of the provider's answer's
    /// `upstream` headers, `content-type`, `x-request-id` and
    /// `openai-processing-ms` pass, secrets masked. One call, where a
    /// `Headers.set` per header decoded two strings across the boundary each.
    #[wasm_bindgen(catch)]
    fn respond(
        body: &JsValue,
        status: u16,
        headers: &str,
        upstream: Option<&web_sys::Headers>,
    ) -> std::result::Result<web_sys::Response, JsValue>;
}

/// `headers` as a JavaScript object, for a `RequestInit` or `ResponseInit`: built
/// by one `JSON.parse`.
pub fn js_headers(headers: &HeaderList) -> Result<JsValue> {
    Ok(js_sys::JSON::parse(&serde_json::to_string(&AsObject(headers))?)?)
}

/// Headers serialized as one JSON object.
struct AsObject<'a>(&'a HeaderList);

impl Serialize for AsObject<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(name, value)| (name, value)))
    }
}

fn json_headers() -> HeaderList {
    vec![("content-type", "application/json".into())]
}

/// A JSON error's headers: `retry-after` where known.
fn error_headers(error: &ApiError) -> HeaderList {
    let mut headers = json_headers();
    headers.extend(error.retry_after_secs().map(|seconds| ("retry-after", seconds.to_string())));
    headers
}

/// A JSON response, for the answers of Durable Objects.
pub fn json(status: u16, body: Vec<u8>) -> Result<worker::Response> {
    object_answer(status, &json_headers(), body)
}

/// An error response, for the answers of Durable Objects.
pub fn error(error: &ApiError) -> Result<worker::Response> {
    object_answer(error.status(), &error_headers(error), error.body())
}

/// A Durable Object's answer, built as `worker`'s own type (which it must answer
/// with): converting a runtime `Response` into it would wrap its body in a second one.
fn object_answer(status: u16, headers: &HeaderList, body: Vec<u8>) -> Result<worker::Response> {
    let mut builder = worker::ResponseBuilder::new().with_status(status);
    for (name, value) in headers {
        builder = builder.with_header(name, value)?;
    }
    Ok(builder.fixed(body))
}

/// The deployment that answered (or, on an error, the last one tried).
pub struct Served<'a> {
    pub group: &'a ModelGroup,
    pub deployment: &'a Deployment,
    pub left: Limits,
}

/// What is left of a deployment's rpm and tpm this minute, as its ticket or
/// lease told: `None` where it has no such limit.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub requests: Option<u64>,
    pub tokens: Option<u64>,
}

/// Sets the headers LiteLLM's users read: who served, how many retries and
/// fallbacks it took, how long, and what is left of the deployment's limits.
/// `api_base` is cut at its query string: some providers put credentials there.
/// `group` is the group tried last, for answers where no deployment was granted.
/// `prioritized`: the request went by the priority queue's rules.
pub fn attempt_headers(
    reply: &mut Reply,
    group: &str,
    served: Option<Served<'_>>,
    attempts: Attempts,
    started_ms: f64,
    prioritized: bool,
) {
    reply.set("x-litellm-model-group", served.as_ref().map_or(group, |s| &s.group.name));
    if prioritized {
        reply.set("x-litellm-request-prioritization-used", "true");
    }
    if let Some(Served { deployment, left, .. }) = served {
        reply.set("x-litellm-model-id", deployment.id.as_str());
        let api_base = deployment.api_base.split('?').next().unwrap_or_default();
        if !api_base.is_empty() {
            reply.set("x-litellm-model-api-base", api_base);
        }
        if let Some(remaining) = left.requests {
            reply.set("x-ratelimit-remaining-requests", remaining.to_string());
        }
        if let Some(remaining) = left.tokens {
            reply.set("x-ratelimit-remaining-tokens", remaining.to_string());
        }
    }
    reply.set("x-litellm-attempted-retries", attempts.retries.to_string());
    reply.set("x-litellm-max-retries", attempts.max_retries.to_string());
    reply.set("x-litellm-attempted-fallbacks", attempts.fallbacks.to_string());
    let duration = (runtime::now_ms() - started_ms).max(0.0) as u64;
    reply.set("x-litellm-response-duration-ms", duration.to_string());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_become_one_json_object_with_their_values_escaped() {
        let headers: HeaderList = vec![("content-type", "application/json".into()), ("x-quote", "a \"b\"\n".into())];
        let json = serde_json::to_string(&AsObject(&headers)).unwrap();
        assert_eq!(json, r#"{"content-type":"application/json","x-quote":"a \"b\"\n"}"#);
    }

    #[test]
    fn an_errors_headers_carry_retry_after_where_it_is_known() {
        let busy = ApiError::GroupBusy { group: "g".into() };
        assert_eq!(
            error_headers(&busy),
            vec![("content-type", "application/json".into()), ("retry-after", "1".into())]
        );
        let bad = ApiError::InvalidParam { param: "model", message: "no".into() };
        assert_eq!(error_headers(&bad), json_headers());
    }
}
