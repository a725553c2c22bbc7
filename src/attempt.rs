//! One attempt: a call to one deployment under its deadlines.
//!
//! A complete answer is read whole within the timeout (so a stall is cut, and the
//! usage it reports is known). A stream must send its first chunk within the
//! stream timeout; after that it is relayed chunk by chunk as it arrives, and a gap
//! longer than the stream timeout ends it with an SSE error event and no `[DONE]`.
//!
//! Both run in small JavaScript modules (src/js/fetch-whole.js and
//! src/js/fetch-stream.js): Wasm awaits one promise per attempt, and the chunks of
//! a stream in OpenAI's format never cross into Wasm and back (only, once it ends,
//! the whole stream when the cache keeps it, or its last few KB where its usage is
//! when the tokens count). A provider of another format is [`Translated`]: its
//! answer is read into Wasm and rewritten as OpenAI's, and its stream goes through a
//! [`Translator`] one chunk at a time as it arrives.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use js_sys::Uint8Array;
use serde::Serialize;
use switchyard_core::config::{Deployment, DeploymentId};
use switchyard_core::endpoint::Endpoint;
use switchyard_core::error::ApiError;
use switchyard_core::failure::{self, Failure};
use switchyard_core::inbound::client::Client;
use switchyard_core::openai::{ChatResponse, Usage};
use switchyard_core::provider::openai_stream;
use switchyard_core::secret::Secrets;
use switchyard_core::serving::{Deadlines, Read};
use switchyard_core::shape::{self, StreamHead};
use switchyard_core::translate::{ChunkEncoder, OpenAiSse};
use switchyard_core::upstream::{self, AnswerPart, Dialect, StreamTranslation};
use switchyard_core::usage;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::Result;

use crate::respond::{self, Body, HeaderList};
use crate::runtime;
use crate::translator::{self, Translator};

/// A successful answer.
pub enum Answer {
    /// The whole answer, and the usage it reports. Its body stays in JavaScript
    /// unless the call was asked to `read` it (see [`call`]).
    Complete {
        status: u16,
        /// Its own headers (a mock's), and the provider's answer's (see [`respond::Reply::passing`]).
        headers: HeaderList,
        upstream: Option<web_sys::Headers>,
        body: Body,
        usage: Option<Usage>,
        /// For a client of another API than Chat Completions, the chat answer its
        /// answer was made from (what the cache keeps, and a Responses client's
        /// stored response is made of); `None` when its deployment spoke its API.
        chat: Option<Box<ChatResponse>>,
    },
    /// A stream whose first chunk came: `body` relays it and the rest to the
    /// client; [`stream_end`] of `ended` says how it ended.
    Stream {
        status: u16,
        upstream: web_sys::Headers,
        body: web_sys::ReadableStream,
        ended: js_sys::Promise,
        ttft_ms: u64,
        /// A translated stream's translation, to read its failure and usage from.
        translation: Option<translator::Shared>,
    },
}

impl Answer {
    /// The usage a complete answer reports; a stream's is known at its end.
    pub fn usage(&self) -> Option<&Usage> {
        match self {
            Self::Complete { usage, .. } => usage.as_ref(),
            Self::Stream { .. } => None,
        }
    }
}

/// What an attempt sends: where, with which headers, which body, and for a
/// provider of another format than OpenAI's, how its answer is read.
pub struct Outbound {
    pub url: String,
    pub headers: JsValue,
    pub body: Vec<u8>,
    pub translated: Option<Translated>,
    /// Calls made beside the first, their answers read with its own: embeddings
    /// of a model that takes one text per call (Bedrock's Titan).
    pub beside: Vec<upstream::Call>,
}

/// How an answer that is not forwarded as it came is read: a translated
/// provider's, one written for a client of another API, or one in the client's
/// own API from a deployment that speaks it.
pub struct Translated {
    /// A translated provider's dialect; `None`: the deployment answers in OpenAI's
    /// format, or (`native`) in the client's.
    pub dialect: Option<Dialect>,
    /// The client's API, when it is not Chat Completions.
    pub client: Option<Rc<Client>>,
    /// The deployment speaks the client's API: its answers pass as they came.
    pub native: bool,
    /// Unix seconds, stamped on the answer.
    pub created: u64,
    /// The stream ends with its usage (`stream_options.include_usage`).
    pub include_usage: bool,
    /// The prompt's size in tokens, estimated: Anthropic's stream reports it first.
    pub estimated_tokens: u64,
    /// Masked in what the provider's stream says.
    pub secrets: Secrets,
}

impl Translated {
    /// What writes the client's stream.
    fn encoder(&self) -> Box<dyn ChunkEncoder> {
        match &self.client {
            Some(client) => client.encoder(self.estimated_tokens),
            None => Box::new(OpenAiSse::new(self.include_usage)),
        }
    }

    /// The stream's translation; `None` when the answer does not stream.
    pub fn stream(&self) -> Option<StreamTranslation> {
        let secrets = self.secrets.clone();
        match (&self.client, &self.dialect) {
            (Some(client), _) if self.native => {
                let watcher = client.native_watcher(self.created);
                Some(StreamTranslation::watching(watcher, self.encoder(), secrets))
            }
            (_, Some(dialect)) => dialect.stream(self.created, self.encoder(), secrets),
            (Some(_), None) => {
                Some(StreamTranslation::new(Box::new(openai_stream::Decoder::new()), self.encoder(), secrets))
            }
            (None, None) => None,
        }
    }

    /// The failure an error answer stands for, in the dialect it came in.
    fn failure(&self, status: u16, retry_after_ms: Option<u64>, body: &[u8], error_type: Option<&str>) -> Failure {
        match (&self.client, &self.dialect) {
            (Some(client), _) if self.native => client.native_failure(status, retry_after_ms, body),
            (_, Some(dialect)) => dialect.failure(status, retry_after_ms, body, error_type),
            _ => Failure::from_upstream(status, body, retry_after_ms),
        }
    }

    /// The calls' successful answers (one but for batched embeddings) as the
    /// client's answer.
    // A failure is the rare way out, taken once per attempt: boxing it buys nothing.
    #[allow(clippy::result_large_err)]
    fn answer(
        &self,
        id: &str,
        parts: &[AnswerPart<'_>],
        upstream: Option<web_sys::Headers>,
    ) -> std::result::Result<Answer, Failure> {
        let first = parts.first().map_or(&b""[..], |part| part.body);
        let json = || vec![("content-type", "application/json".into())];
        if let (Some(client), true) = (&self.client, self.native) {
            shape::check_answer(client.endpoint(), first).map_err(|why| Failure::invalid_response(id, why))?;
            let usage = client.native_usage(first);
            let body = Body::Bytes(first.to_vec());
            return Ok(Answer::Complete { status: 200, headers: json(), upstream, body, usage, chat: None });
        }
        let (bytes, usage) = match &self.dialect {
            Some(dialect) => {
                let answer = dialect.answer(id, parts, self.created)?;
                (answer.body, answer.usage)
            }
            None => {
                shape::check_answer(Endpoint::ChatCompletions, first)
                    .map_err(|why| Failure::invalid_response(id, why))?;
                (first.to_vec(), usage::of_answer(first))
            }
        };
        let Some(client) = &self.client else {
            return Ok(Answer::Complete {
                status: 200,
                headers: json(),
                upstream: None,
                body: Body::Bytes(bytes),
                usage,
                chat: None,
            });
        };
        let chat: ChatResponse =
            serde_json::from_slice(&bytes).map_err(|e| Failure::invalid_response(id, e.to_string()))?;
        let body = client.answer(&chat).map_err(|e| Failure::invalid_response(id, e.to_string()))?;
        let usage = chat.usage.or(usage);
        Ok(Answer::Complete {
            status: 200,
            headers: json(),
            upstream: None,
            body: Body::Bytes(body),
            usage,
            chat: Some(Box::new(chat)),
        })
    }
}

impl Outbound {
    /// The client's body to a deployment that takes it as it came, with its
    /// headers (built once per deployment and `bearer`, an Entra ID token);
    /// `translated` when the answer is read for a client of another API.
    pub fn forwarded(
        deployment: &Deployment,
        endpoint: Endpoint,
        body: Vec<u8>,
        bearer: Option<&str>,
        translated: Option<Translated>,
    ) -> Result<Self> {
        let headers = forward_headers(deployment, bearer)?;
        let url = upstream::forward_url(deployment, endpoint);
        Ok(Self { url, headers, body, translated, beside: Vec::new() })
    }

    /// Calls the core built in the provider's own format.
    pub fn translated(calls: Vec<upstream::Call>, translated: Translated) -> Result<Self> {
        let mut calls = calls.into_iter();
        let Some(first) = calls.next() else {
            return Err(worker::Error::RustError("a translation made no call".into()));
        };
        let headers = respond::js_headers(&first.headers)?;
        let beside = calls.collect();
        Ok(Self { url: first.url, headers, body: first.body, translated: Some(translated), beside })
    }
}

/// A chat answer made in the isolate (a mock's, a cache hit's): its JSON, or its
/// SSE when streamed.
pub struct ChatAnswer {
    pub body: Vec<u8>,
    pub stream: bool,
    pub usage: Option<Usage>,
}

/// A chat answer made in the isolate as `client`'s: its answer, or its stream
/// written whole. `id` names the deployment in a failure.
// A failure is the rare way out: boxing it buys nothing.
#[allow(clippy::result_large_err)]
pub fn for_client(
    client: &Client,
    chat: ChatAnswer,
    estimated_tokens: u64,
    secrets: &Secrets,
    id: &str,
) -> std::result::Result<Answer, Failure> {
    let invalid = |why: String| Failure::invalid_response(id, why);
    if !chat.stream {
        let parsed: ChatResponse = serde_json::from_slice(&chat.body).map_err(|e| invalid(e.to_string()))?;
        let body = client.answer(&parsed).map_err(|e| invalid(e.to_string()))?;
        let headers = vec![("content-type", "application/json".into())];
        return Ok(Answer::Complete {
            status: 200,
            headers,
            upstream: None,
            body: Body::Bytes(body),
            usage: chat.usage,
            chat: Some(Box::new(parsed)),
        });
    }
    let decoder = Box::new(openai_stream::Decoder::new());
    let mut translation = StreamTranslation::new(decoder, client.encoder(estimated_tokens), secrets.clone());
    let mut body = translation.feed(&chat.body);
    body.extend(translation.finish());
    if let Some(failure) = translation.failure() {
        return Err(failure.clone());
    }
    // The stream adds up to a complete chat answer: what a Responses client's
    // stored response is made of.
    let whole = switchyard_core::cache::assemble_stream(Endpoint::ChatCompletions, &chat.body)
        .and_then(|answer| serde_json::from_value::<ChatResponse>(answer).ok())
        .map(Box::new);
    let headers = vec![("content-type", "text/event-stream".into())];
    Ok(Answer::Complete {
        status: 200,
        headers,
        upstream: None,
        body: Body::Bytes(body),
        usage: chat.usage,
        chat: whole,
    })
}

/// How a relayed stream ended, for the coordinator and the cache.
pub enum StreamEnd {
    /// `whole`: the stream, when it was asked to read it whole; `usage`: what its
    /// last event reported, when it was asked to read that.
    Finished {
        whole: Option<Vec<u8>>,
        usage: Option<Usage>,
    },
    Failed(Failure),
}

/// Calls the deployment. The outer `Result` is a failure of the runtime itself.
/// `read`: what of the answer Wasm needs (see [`Read`]); the rest goes to the
/// client as the runtime read it, never copied into Wasm.
///
/// It calls `fetch` from JavaScript, not through `worker::Fetch`: building a
/// `Request` first, converting the answer into a `worker::Response`, reading a
/// body chunk by chunk from Wasm and a Rust timer per deadline cost more than the
/// rest of the routing (measured, BENCHMARKS.md).
pub async fn call(
    id: &str,
    endpoint: Endpoint,
    outbound: Outbound,
    stream: bool,
    read: Read,
    deadlines: Deadlines,
) -> Result<std::result::Result<Answer, Failure>> {
    let Outbound { url, headers, body, translated, beside } = outbound;
    let body = Uint8Array::from(body.as_slice());
    match (stream, translated) {
        (true, translated) => streamed(id, &url, &headers, &body, read, deadlines, translated).await,
        (false, Some(translated)) if !beside.is_empty() => {
            several(id, (&url, &headers, &body), beside, deadlines.first_ms, translated).await
        }
        (false, translated) => {
            complete(id, endpoint, &url, &headers, &body, read != Read::Nothing, deadlines.first_ms, translated).await
        }
    }
}

/// A stream: its head and first event (for a translated one, its answer's first
/// part) within `first_ms`, then relayed.
async fn streamed(
    id: &str,
    url: &str,
    headers: &JsValue,
    body: &Uint8Array,
    read: Read,
    deadlines: Deadlines,
    translated: Option<Translated>,
) -> Result<std::result::Result<Answer, Failure>> {
    let started = runtime::now_ms();
    let events = end_events(id, deadlines.stall_ms)?;
    let (first_ms, stall_ms) = (deadlines.first_ms as f64, deadlines.stall_ms as f64);
    let (translator, translation) = match translated.as_ref().map(Translated::stream) {
        Some(Some(translation)) => {
            let (translator, shared) = Translator::new(translation);
            (Some(translator), Some(shared))
        }
        Some(None) => {
            let message = "this endpoint's answers do not stream: leave `stream` out".to_owned();
            return Ok(Err(Failure::refused(ApiError::InvalidParam { param: "stream", message })));
        }
        None => (None, None),
    };
    // A translation knows its usage: the stream itself is kept only for the cache.
    let keep = match (&translation, read) {
        (Some(_), Read::Usage) => Read::Nothing,
        (_, read) => read,
    };
    let promise = fetch_stream(url, headers, body, first_ms, stall_ms, keep as u8, &events, translator);
    let answer: Streamed = JsFuture::from(promise).await?.unchecked_into();
    let response = answer.response();
    if let Some(response) = &response
        && response.status() >= 400
    {
        return Ok(Err(upstream_error(response, answer.error_body(), translated.as_ref())?));
    }
    let (Some(response), Some(body), Some(ended)) = (response, answer.stream(), answer.ended()) else {
        // The translation knows why it failed better than the relay does.
        if let Some(failure) = translation.as_ref().and_then(|t| t.try_borrow().ok()?.failure().cloned()) {
            return Ok(Err(failure));
        }
        return Ok(Err(failure(id, answer.message(), answer.timed_out(), deadlines.first_ms)));
    };
    if translation.is_none() {
        let head = answer.head().map(|head| head.to_vec()).unwrap_or_default();
        let content_type = response.headers().get("content-type")?;
        let garbage = match shape::check_stream_head(content_type.as_deref(), &head) {
            StreamHead::Answer => None,
            // `fetchStream` read on until an event ended, the stream ended or
            // `HEAD_BYTES` came: no event yet is no stream of events.
            StreamHead::Incomplete => Some("the stream sent no complete event".to_owned()),
            StreamHead::NotAnAnswer(why) => Some(why),
        };
        if let Some(why) = garbage {
            // Nothing reached the client yet: another deployment may still answer.
            let _ = body.cancel();
            return Ok(Err(Failure::invalid_response(id, why)));
        }
    }
    let ttft_ms = (runtime::now_ms() - started) as u64;
    Ok(Ok(Answer::Stream {
        status: response.status(),
        upstream: response.headers(),
        body,
        ended,
        ttft_ms,
        translation,
    }))
}

/// The SSE events that end a stream cut after its first chunk, given to
/// `fetchStream` as a JavaScript object: built in Rust, so that the error keeps
/// one shape.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EndEvents {
    /// A gap longer than the stall timeout.
    timeout: String,
    /// A break: the event up to the upstream's message, which JavaScript puts in
    /// between, escaped as in a JSON string, and the rest.
    broken_before: String,
    broken_after: String,
}

thread_local! {
    /// Each deployment's [`EndEvents`] as a JavaScript object, with the stall
    /// timeout they say: the same for every stream, used by few.
    static END_EVENTS: RefCell<HashMap<String, (u64, JsValue)>> = RefCell::new(HashMap::new());
}

fn end_events(id: &str, stall_ms: u64) -> Result<JsValue> {
    let cached = END_EVENTS
        .with_borrow(|cache| cache.get(id).filter(|(built_for, _)| *built_for == stall_ms).map(|(_, e)| e.clone()));
    if let Some(events) = cached {
        return Ok(events);
    }
    // The break's event is built around a marker and cut where it stands; its
    // message is the error's last text, so the marker is its last occurrence (a
    // deployment's id comes before it).
    const MARKER: &str = "\u{1}";
    let broken = sse_error(&Failure::unreachable(id, MARKER.into()));
    let escaped = serde_json::to_string(MARKER)?;
    let (before, after) = broken.rsplit_once(&escaped[1..escaped.len() - 1]).unwrap_or((&broken, ""));
    let events = EndEvents {
        timeout: sse_error(&Failure::timeout(id, stall_ms)),
        broken_before: before.to_owned(),
        broken_after: after.to_owned(),
    };
    let events = js_sys::JSON::parse(&serde_json::to_string(&events)?)?;
    END_EVENTS.with_borrow_mut(|cache| cache.insert(id.to_owned(), (stall_ms, events.clone())));
    Ok(events)
}

/// How the stream of an [`Answer::Stream`] called with `read` ended; `None` when
/// its client went away first (the deployment did its part). A translated stream's
/// failure and usage are its translation's.
pub async fn stream_end(
    ended: js_sys::Promise,
    id: &str,
    read: Read,
    stall_ms: u64,
    translation: Option<translator::Shared>,
) -> Option<StreamEnd> {
    let end: Ended = JsFuture::from(ended).await.ok()?.unchecked_into();
    if end.cancelled() {
        return None;
    }
    let translated = translation.as_ref().and_then(|t| t.try_borrow().ok().map(|t| (t.failure().cloned(), t.usage())));
    if let Some((Some(failure), _)) = translated {
        return Some(StreamEnd::Failed(failure));
    }
    if end.finished() {
        let kept = end.kept().map(|kept| kept.to_vec());
        let usage = match translated {
            Some((_, usage)) => usage,
            None => kept.as_deref().and_then(usage::of_stream_end),
        };
        let whole = kept.filter(|_| read == Read::Whole);
        return Some(StreamEnd::Finished { whole, usage });
    }
    Some(StreamEnd::Failed(if end.timed_out() {
        Failure::timeout(id, stall_ms)
    } else {
        Failure::unreachable(id, end.message().unwrap_or_default())
    }))
}

/// The failure a helper reported: `message` (none when it said nothing), and
/// whether because the deadline of `timeout_ms` passed.
fn failure(id: &str, message: Option<String>, timed_out: bool, timeout_ms: u64) -> Failure {
    match message {
        Some(_) if timed_out => Failure::timeout(id, timeout_ms),
        Some(message) => Failure::unreachable(id, message),
        None => Failure::unreachable(id, "no answer".into()),
    }
}

/// A plain POST, answered whole within `timeout_ms`: its status and body, or why
/// none came (for calls that are not attempts, such as a token exchange).
pub async fn post(
    url: &str,
    headers: &HeaderList,
    body: &[u8],
    timeout_ms: u64,
) -> std::result::Result<(u16, Vec<u8>), String> {
    let headers = respond::js_headers(headers).map_err(|e| e.to_string())?;
    let promise = fetch_whole(url, &headers, &Uint8Array::from(body), timeout_ms as f64);
    let whole: Whole = JsFuture::from(promise).await.map_err(|e| format!("{e:?}"))?.unchecked_into();
    match (whole.response(), whole.body()) {
        (Some(response), Some(body)) => Ok((response.status(), Uint8Array::new(&body).to_vec())),
        _ => Err(whole.message().unwrap_or_else(|| "no answer".to_owned())),
    }
}

/// A complete answer: its head and its whole body within `timeout_ms`. A success
/// whose body is not the endpoint's answer is the deployment's failure.
#[allow(clippy::too_many_arguments)]
async fn complete(
    id: &str,
    endpoint: Endpoint,
    url: &str,
    headers: &JsValue,
    body: &Uint8Array,
    read: bool,
    timeout_ms: u64,
    translated: Option<Translated>,
) -> Result<std::result::Result<Answer, Failure>> {
    let whole: Whole = JsFuture::from(fetch_whole(url, headers, body, timeout_ms as f64)).await?.unchecked_into();
    let Some(response) = whole.response() else {
        return Ok(Err(failure(id, whole.message(), whole.timed_out(), timeout_ms)));
    };
    let buffer = whole.body();
    let status = response.status();
    if status >= 400 {
        return Ok(Err(upstream_error(&response, buffer, translated.as_ref())?));
    }
    let Some(buffer) = buffer else {
        return Ok(Err(failure(id, whole.message(), whole.timed_out(), timeout_ms)));
    };
    // Copied in to be looked at; unless Wasm needs it, the client gets the
    // runtime's own buffer.
    let bytes = Uint8Array::new(&buffer).to_vec();
    if let Some(t) = translated {
        let part = AnswerPart { body: &bytes, input_tokens: input_tokens(&response)? };
        return Ok(t.answer(id, &[part], Some(response.headers())));
    }
    if let Err(why) = shape::check_answer(endpoint, &bytes) {
        return Ok(Err(Failure::invalid_response(id, why)));
    }
    let (body, usage) = if read {
        let usage = usage::of_answer(&bytes);
        (Body::Bytes(bytes), usage)
    } else {
        (Body::Js(buffer), None)
    };
    let (headers, upstream) = (HeaderList::new(), Some(response.headers()));
    Ok(Ok(Answer::Complete { status, headers, upstream, body, usage, chat: None }))
}

/// Bedrock's count of a call's input tokens (`x-amzn-bedrock-input-token-count`),
/// which its embedding answers do not all carry in their body.
fn input_tokens(response: &web_sys::Response) -> Result<Option<u64>> {
    Ok(response.headers().get("x-amzn-bedrock-input-token-count")?.and_then(|count| count.parse().ok()))
}

/// Several calls at once, all within `timeout_ms`, answered together: the first
/// failure is the attempt's, else their answers read in order.
async fn several(
    id: &str,
    (url, headers, body): (&str, &JsValue, &Uint8Array),
    beside: Vec<upstream::Call>,
    timeout_ms: u64,
    translated: Translated,
) -> Result<std::result::Result<Answer, Failure>> {
    let mut promises = vec![fetch_whole(url, headers, body, timeout_ms as f64)];
    for call in &beside {
        let headers = respond::js_headers(&call.headers)?;
        promises.push(fetch_whole(&call.url, &headers, &Uint8Array::from(call.body.as_slice()), timeout_ms as f64));
    }
    let mut answers = Vec::with_capacity(promises.len());
    for promise in promises {
        let whole: Whole = JsFuture::from(promise).await?.unchecked_into();
        let (Some(response), Some(buffer)) = (whole.response(), whole.body()) else {
            return Ok(Err(failure(id, whole.message(), whole.timed_out(), timeout_ms)));
        };
        if response.status() >= 400 {
            return Ok(Err(upstream_error(&response, Some(buffer), Some(&translated))?));
        }
        answers.push((Uint8Array::new(&buffer).to_vec(), input_tokens(&response)?));
    }
    let parts: Vec<AnswerPart<'_>> =
        answers.iter().map(|(body, input_tokens)| AnswerPart { body, input_tokens: *input_tokens }).collect();
    Ok(translated.answer(id, &parts, None))
}

#[wasm_bindgen(module = "/src/js/fetch-whole.js")]
extern "C" {
    /// A POST with `fetch`, then the whole body, both within `ms` (the deadline aborts the
    /// call, so the upstream stops working for us). Never rejects: resolves to a [`Whole`].
    #[wasm_bindgen(js_name = fetchWhole)]
    fn fetch_whole(url: &str, headers: &JsValue, body: &Uint8Array, ms: f64) -> js_sys::Promise;

    /// What `fetchWhole` resolves to, read by its fields' getters: one property read
    /// each, and no `instanceof` check as a `dyn_into` makes (`Reflect.get` on keys
    /// kept per isolate was 6% slower on the routed path, A/B).
    type Whole;
    /// The answer's head; `None` when none came.
    #[wasm_bindgen(method, getter)]
    fn response(this: &Whole) -> Option<web_sys::Response>;
    /// The whole body; `None` when it did not come.
    #[wasm_bindgen(method, getter)]
    fn body(this: &Whole) -> Option<js_sys::ArrayBuffer>;
    /// Why the call failed; `None` when it did not.
    #[wasm_bindgen(method, getter)]
    fn message(this: &Whole) -> Option<String>;
    /// Whether it failed because the deadline passed.
    #[wasm_bindgen(method, getter, js_name = timedOut)]
    fn timed_out(this: &Whole) -> bool;
}

#[wasm_bindgen(module = "/src/js/fetch-stream.js")]
extern "C" {
    /// A streamed POST: its head and first event within `first_ms` (else the call is
    /// aborted). Never rejects: resolves to a [`Streamed`], whose stream relays the
    /// chunks with a gap of at most `stall_ms` between them, and whose end keeps
    /// `keep` (a [`Read`] as `KEEP`). `events` is an [`EndEvents`] as a JavaScript
    /// object. A `translator` (given to the relay, which frees it) turns the
    /// provider's chunks into OpenAI's as they arrive.
    #[wasm_bindgen(js_name = fetchStream)]
    fn fetch_stream(
        url: &str,
        headers: &JsValue,
        body: &Uint8Array,
        first_ms: f64,
        stall_ms: f64,
        keep: u8,
        events: &JsValue,
        translator: Option<Translator>,
    ) -> js_sys::Promise;

    /// What `fetchStream` resolves to.
    type Streamed;
    /// The answer's head; `None` when none came.
    #[wasm_bindgen(method, getter)]
    fn response(this: &Streamed) -> Option<web_sys::Response>;
    /// The relay of a stream that began, to hand to the client.
    #[wasm_bindgen(method, getter)]
    fn stream(this: &Streamed) -> Option<web_sys::ReadableStream>;
    /// With `stream`: resolves to an [`Ended`] once the relay has ended.
    #[wasm_bindgen(method, getter)]
    fn ended(this: &Streamed) -> Option<js_sys::Promise>;
    /// With `stream`: the bytes read before the call returned (the first event,
    /// when one ended within `HEAD_BYTES`).
    #[wasm_bindgen(method, getter)]
    fn head(this: &Streamed) -> Option<Uint8Array>;
    /// For a status of 400 or more: its body, when it came within `first_ms`.
    #[wasm_bindgen(method, getter, js_name = errorBody)]
    fn error_body(this: &Streamed) -> Option<js_sys::ArrayBuffer>;
    /// Why the call failed before a stream began.
    #[wasm_bindgen(method, getter)]
    fn message(this: &Streamed) -> Option<String>;
    /// Whether it failed because `first_ms` passed.
    #[wasm_bindgen(method, getter, js_name = timedOut)]
    fn timed_out(this: &Streamed) -> bool;

    /// How a relayed stream ended.
    type Ended;
    /// It ended as the upstream ended it.
    #[wasm_bindgen(method, getter)]
    fn finished(this: &Ended) -> bool;
    /// Its client cancelled it (and the upstream call was aborted).
    #[wasm_bindgen(method, getter)]
    fn cancelled(this: &Ended) -> bool;
    /// When it finished: what `keep` asked for (`None` for nothing).
    #[wasm_bindgen(method, getter)]
    fn kept(this: &Ended) -> Option<Uint8Array>;
    /// When it broke: the upstream's error.
    #[wasm_bindgen(method, getter)]
    fn message(this: &Ended) -> Option<String>;
    /// A gap passed `stall_ms`.
    #[wasm_bindgen(method, getter, js_name = timedOut)]
    fn timed_out(this: &Ended) -> bool;
}

thread_local! {
    /// Each deployment's request headers as a JavaScript object, with the secret
    /// they were built for (its key, or its Entra ID token): the same on every call,
    /// so built once per isolate and secret.
    static UPSTREAM_HEADERS: RefCell<HashMap<DeploymentId, (Option<String>, JsValue)>> = RefCell::new(HashMap::new());
}

fn forward_headers(deployment: &Deployment, bearer: Option<&str>) -> Result<JsValue> {
    let secret = bearer.or(deployment.api_key.as_ref().map(|key| key.expose()));
    let cached = UPSTREAM_HEADERS.with_borrow(|cache| {
        cache
            .get(&deployment.id)
            .filter(|(built_for, _)| built_for.as_deref() == secret)
            .map(|(_, headers)| headers.clone())
    });
    if let Some(headers) = cached {
        return Ok(headers);
    }
    let headers = respond::js_headers(&upstream::forward_headers(deployment, bearer))?;
    UPSTREAM_HEADERS.with_borrow_mut(|cache| {
        cache.insert(deployment.id.clone(), (secret.map(str::to_owned), headers.clone()));
    });
    Ok(headers)
}

/// The failure an answer of status 400 or more stands for, from its body (if it
/// came in time) and when to try again, read in the provider's dialect.
fn upstream_error(
    response: &web_sys::Response,
    body: Option<js_sys::ArrayBuffer>,
    translated: Option<&Translated>,
) -> Result<Failure> {
    let body = body.map(|b| Uint8Array::new(&b).to_vec()).unwrap_or_default();
    let headers = response.headers();
    let retry_after =
        failure::retry_after(headers.get("retry-after-ms")?.as_deref(), headers.get("retry-after")?.as_deref());
    Ok(match translated {
        Some(translated) => {
            let error_type = headers.get("x-amzn-errortype")?;
            translated.failure(response.status(), retry_after, &body, error_type.as_deref())
        }
        None => Failure::from_upstream(response.status(), &body, retry_after),
    })
}

/// The SSE event that ends a stream cut short.
fn sse_error(failure: &Failure) -> String {
    format!("data: {}\n\n", String::from_utf8_lossy(&failure.error.body()))
}
