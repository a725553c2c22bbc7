//! One attempt: a call to one deployment under its deadlines.
//!
//! A complete answer is read whole within the timeout (so a stall is cut, and the
//! usage it reports is known). A stream must send its first chunk within the
//! stream timeout; after that it is relayed chunk by chunk as it arrives, and a gap
//! longer than the stream timeout ends it with an SSE error event and no `[DONE]`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::{Pin, pin};
use std::time::Duration;

use futures_channel::oneshot;
use futures_util::future::{Either, select};
use futures_util::{Stream, StreamExt, stream};
use js_sys::Uint8Array;
use serde::Deserialize;
use switchyard_core::config::{Deployment, DeploymentId};
use switchyard_core::failure::{Failure, parse_retry_after};
use switchyard_core::request::Endpoint;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::{ByteStream, Delay, Result};

use crate::respond::{self, Body, HeaderList};
use crate::runtime;

/// How long the attempt may take.
#[derive(Debug, Clone, Copy)]
pub struct Deadlines {
    /// For a complete answer: the whole call. For a stream: until its first chunk.
    pub first_ms: u64,
    /// For a stream: the longest gap allowed between chunks.
    pub stall_ms: u64,
}

/// A successful answer.
pub enum Answer {
    /// The whole answer, and the tokens it reports using. Its body stays in
    /// JavaScript unless the call was asked to `read` it (see [`call`]).
    Complete {
        status: u16,
        /// Its own headers (a mock's), and the provider's answer's (see [`respond::Reply::passing`]).
        headers: HeaderList,
        upstream: Option<web_sys::Headers>,
        body: Body,
        tokens: Option<u64>,
    },
    Stream {
        status: u16,
        upstream: web_sys::Headers,
        first: Vec<u8>,
        rest: ByteStream,
        ttft_ms: u64,
    },
}

/// How a relayed stream ended, for the coordinator (and the cache: the whole
/// stream, when it was asked to keep it).
pub enum StreamEnd {
    Finished(Option<Vec<u8>>),
    Failed(Failure),
}

/// Calls the deployment. The outer `Result` is a failure of the runtime itself.
/// `read`: a complete answer's body is wanted in Wasm (for the cache, or for the
/// tokens a ticket's report carries); else it goes to the client as the runtime
/// read it, never copied into Wasm and out again.
///
/// It calls `fetch` through `web_sys`, not `worker::Fetch`: building a `Request`
/// first, converting the answer into a `worker::Response` and reading a body chunk
/// by chunk from Wasm cost more than the rest of the routing (measured, BENCHMARKS.md).
pub async fn call(
    deployment: &Deployment,
    endpoint: Endpoint,
    body: Vec<u8>,
    stream: bool,
    read: bool,
    deadlines: Deadlines,
) -> Result<std::result::Result<Answer, Failure>> {
    let started = runtime::now_ms();
    let id = deployment.id.as_str();
    let url = format!("{}{}", deployment.api_base, endpoint.upstream_path());
    let headers = upstream_headers(deployment)?;
    let body = Uint8Array::from(body.as_slice());
    if !stream {
        return complete(id, &url, &headers, &body, read, deadlines.first_ms).await;
    }
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_headers(&headers);
    init.set_body(&body);

    // Aborting cuts the connection, so a timed-out upstream stops working for us.
    let controller = web_sys::AbortController::new()?;
    init.set_signal(Some(&controller.signal()));
    // One timer for the whole first deadline: the answer's head, then its first chunk.
    let mut deadline = pin!(Delay::from(Duration::from_millis(deadlines.first_ms)));
    let timed_out = || {
        controller.abort();
        Ok(Err(Failure::timeout(id, deadlines.first_ms)))
    };
    let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    let fetch = JsFuture::from(global.fetch_with_str_and_init(&url, &init));
    let response: web_sys::Response = match before(deadline.as_mut(), fetch).await {
        None => return timed_out(),
        Some(Err(error)) => return Ok(Err(Failure::unreachable(id, js_message(&error)))),
        Some(Ok(response)) => response.unchecked_into(),
    };
    let status = response.status();
    if status >= 400 {
        let body = before(deadline.as_mut(), runtime::whole_body(response.array_buffer())).await.and_then(|b| b.ok());
        controller.abort();
        return Ok(Err(Failure::from_upstream(status, &body.unwrap_or_default(), retry_after(&response)?)));
    }
    let upstream = response.headers();
    let Some(body) = response.body() else {
        return Ok(Err(Failure::unreachable(id, "the stream had no body".into())));
    };
    let mut rest = ByteStream::from(body);
    match before(deadline.as_mut(), rest.next()).await {
        None => timed_out(),
        Some(Some(Ok(first))) => {
            let ttft_ms = (runtime::now_ms() - started) as u64;
            Ok(Ok(Answer::Stream { status, upstream, first, rest, ttft_ms }))
        }
        Some(Some(Err(error))) => Ok(Err(Failure::unreachable(id, error.to_string()))),
        Some(None) => Ok(Err(Failure::unreachable(id, "the stream ended before its first chunk".into()))),
    }
}

/// A complete answer: its head and its whole body within `timeout_ms`.
async fn complete(
    id: &str,
    url: &str,
    headers: &JsValue,
    body: &Uint8Array,
    read: bool,
    timeout_ms: u64,
) -> Result<std::result::Result<Answer, Failure>> {
    let whole: js_sys::Array =
        JsFuture::from(fetch_whole(url, headers, body, timeout_ms as f64)).await?.unchecked_into();
    let failure = || match whole.get(2).as_string() {
        Some(_) if whole.get(3).is_truthy() => Failure::timeout(id, timeout_ms),
        Some(message) => Failure::unreachable(id, message),
        None => Failure::unreachable(id, "no answer".into()),
    };
    let Ok(response) = whole.get(0).dyn_into::<web_sys::Response>() else {
        return Ok(Err(failure()));
    };
    let buffer = whole.get(1).dyn_into::<js_sys::ArrayBuffer>().ok();
    let status = response.status();
    if status >= 400 {
        let body = buffer.map(|b| Uint8Array::new(&b).to_vec()).unwrap_or_default();
        return Ok(Err(Failure::from_upstream(status, &body, retry_after(&response)?)));
    }
    let Some(buffer) = buffer else {
        return Ok(Err(failure()));
    };
    let (body, tokens) = if read {
        let body = Uint8Array::new(&buffer).to_vec();
        let tokens = usage_tokens(&body);
        (Body::Bytes(body), tokens)
    } else {
        (Body::Js(buffer), None)
    };
    let (headers, upstream) = (HeaderList::new(), Some(response.headers()));
    Ok(Ok(Answer::Complete { status, headers, upstream, body, tokens }))
}

#[wasm_bindgen(inline_js = r#"
export async function fetchWhole(url, headers, body, ms) {
  let response = null;
  try {
    response = await fetch(url, { method: "POST", headers, body, signal: AbortSignal.timeout(ms) });
    return [response, await response.arrayBuffer()];
  } catch (error) {
    return [response, null, String(error?.message ?? error), error?.name === "TimeoutError"];
  }
}"#)]
extern "C" {
    /// A POST with `fetch`, then the whole body, both within `ms` (the deadline aborts the
    /// call, so the upstream stops working for us). Never rejects: resolves to
    /// `[response, body]`, or `[response or null, null, message, timedOut]`.
    ///
    /// One promise for Wasm to await and no timer of its own, where a `Delay`
    /// and two awaited promises cost three closures and their microtasks in
    /// wasm-bindgen's glue (measured, BENCHMARKS.md).
    #[wasm_bindgen(js_name = fetchWhole)]
    fn fetch_whole(url: &str, headers: &JsValue, body: &Uint8Array, ms: f64) -> js_sys::Promise;
}

thread_local! {
    /// Each deployment's request headers as a JavaScript object, with the key they
    /// were built for: the same on every call, so built once per isolate.
    static UPSTREAM_HEADERS: RefCell<HashMap<DeploymentId, (Option<String>, JsValue)>> = RefCell::new(HashMap::new());
}

fn upstream_headers(deployment: &Deployment) -> Result<JsValue> {
    let key = deployment.api_key.as_ref().map(|key| key.expose());
    let cached = UPSTREAM_HEADERS.with_borrow(|cache| {
        cache
            .get(&deployment.id)
            .filter(|(built_for, _)| built_for.as_deref() == key)
            .map(|(_, headers)| headers.clone())
    });
    if let Some(headers) = cached {
        return Ok(headers);
    }
    let mut headers: HeaderList = vec![("content-type", "application/json".into())];
    if let Some(key) = key {
        headers.push(("authorization", format!("Bearer {key}")));
    }
    let headers = respond::js_headers(&headers)?;
    UPSTREAM_HEADERS.with_borrow_mut(|cache| {
        cache.insert(deployment.id.clone(), (key.map(str::to_owned), headers.clone()));
    });
    Ok(headers)
}

fn retry_after(response: &web_sys::Response) -> Result<Option<u64>> {
    Ok(response.headers().get("retry-after")?.and_then(|v| parse_retry_after(&v)))
}

fn js_message(error: &JsValue) -> String {
    worker::Error::from(error.clone()).to_string()
}

/// Relays a stream to the client: the first chunk, then each as it arrives. A gap
/// over `stall_ms` (or a broken upstream) ends it with an SSE error event, so the
/// client knows the answer is cut; `end` learns how it ended.
pub fn relay(
    first: Vec<u8>,
    rest: ByteStream,
    stall_ms: u64,
    deployment: String,
    keep: bool,
    end: oneshot::Sender<StreamEnd>,
) -> impl Stream<Item = Result<Vec<u8>>> {
    struct Relay {
        first: Option<Vec<u8>>,
        rest: ByteStream,
        end: Option<oneshot::Sender<StreamEnd>>,
        /// A copy of everything relayed, for the cache.
        kept: Option<Vec<u8>>,
    }
    let kept = keep.then(|| first.clone());
    let relay = Relay { first: Some(first), rest, end: Some(end), kept };
    stream::unfold(relay, move |mut r| {
        let deployment = deployment.clone();
        async move {
            if let Some(first) = r.first.take() {
                return Some((Ok(first), r));
            }
            let end = r.end.take()?;
            let failure = match within(stall_ms, r.rest.next()).await {
                Some(Some(Ok(chunk))) => {
                    if let Some(kept) = r.kept.as_mut() {
                        kept.extend_from_slice(&chunk);
                    }
                    r.end = Some(end);
                    return Some((Ok(chunk), r));
                }
                Some(None) => {
                    let _ = end.send(StreamEnd::Finished(r.kept.take()));
                    return None;
                }
                Some(Some(Err(error))) => Failure::unreachable(&deployment, error.to_string()),
                None => Failure::timeout(&deployment, stall_ms),
            };
            let event = sse_error(&failure);
            let _ = end.send(StreamEnd::Failed(failure));
            Some((Ok(event), r))
        }
    })
}

fn sse_error(failure: &Failure) -> Vec<u8> {
    let mut event = b"data: ".to_vec();
    event.extend_from_slice(&failure.error.body());
    event.extend_from_slice(b"\n\n");
    event
}

/// `Some(output)` if `future` finishes within `ms`.
async fn within<F: Future>(ms: u64, future: F) -> Option<F::Output> {
    before(pin!(Delay::from(Duration::from_millis(ms))), future).await
}

/// `Some(output)` if `future` finishes before `deadline` fires.
async fn before<F: Future>(deadline: Pin<&mut Delay>, future: F) -> Option<F::Output> {
    match select(pin!(future), deadline).await {
        Either::Left((output, _)) => Some(output),
        Either::Right(_) => None,
    }
}

/// `usage.total_tokens` of a complete answer, without building a JSON tree.
fn usage_tokens(body: &[u8]) -> Option<u64> {
    #[derive(Deserialize)]
    struct Usage {
        total_tokens: Option<u64>,
    }
    #[derive(Deserialize)]
    struct Body {
        usage: Option<Usage>,
    }
    serde_json::from_slice::<Body>(body).ok()?.usage?.total_tokens
}
