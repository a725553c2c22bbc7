//! One attempt: a call to one deployment under its deadlines.
//!
//! A complete answer is read whole within the timeout (so a stall is cut, and the
//! usage it reports is known). A stream must send its first chunk within the
//! stream timeout; after that it is relayed chunk by chunk as it arrives, and a gap
//! longer than the stream timeout ends it with an SSE error event and no `[DONE]`.
//!
//! Both run in small JavaScript helpers (`fetchWhole`, `fetchStream`): Wasm awaits
//! one promise per attempt, and a stream's chunks never cross into Wasm and back
//! (only, once it ends, the whole stream when the cache keeps it, or its last few
//! KB where its usage is when the tokens count).

use std::cell::RefCell;
use std::collections::HashMap;

use js_sys::Uint8Array;
use switchyard_core::config::{Deployment, DeploymentId};
use switchyard_core::endpoint::Endpoint;
use switchyard_core::failure::{Failure, parse_retry_after};
use switchyard_core::serving::{Deadlines, Read};
use switchyard_core::shape::{self, StreamHead};
use switchyard_core::usage;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::Result;

use crate::respond::{self, Body, HeaderList};
use crate::runtime;

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
    /// A stream whose first chunk came: `body` relays it and the rest to the
    /// client; [`stream_end`] of `ended` says how it ended.
    Stream {
        status: u16,
        upstream: web_sys::Headers,
        body: web_sys::ReadableStream,
        ended: js_sys::Promise,
        ttft_ms: u64,
    },
}

/// How a relayed stream ended, for the coordinator and the cache.
pub enum StreamEnd {
    /// `whole`: the stream, when it was asked to read it whole; `tokens`: the usage
    /// its last event reported, when it was asked to read that.
    Finished {
        whole: Option<Vec<u8>>,
        tokens: Option<u64>,
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
    deployment: &Deployment,
    endpoint: Endpoint,
    body: Vec<u8>,
    stream: bool,
    read: Read,
    deadlines: Deadlines,
) -> Result<std::result::Result<Answer, Failure>> {
    let id = deployment.id.as_str();
    let url = format!("{}{}", deployment.api_base, endpoint.upstream_path());
    let headers = upstream_headers(deployment)?;
    let body = Uint8Array::from(body.as_slice());
    if stream {
        streamed(id, &url, &headers, &body, read, deadlines).await
    } else {
        complete(id, endpoint, &url, &headers, &body, read != Read::Nothing, deadlines.first_ms).await
    }
}

/// A stream: its head and first chunk within `first_ms`, then relayed.
async fn streamed(
    id: &str,
    url: &str,
    headers: &JsValue,
    body: &Uint8Array,
    read: Read,
    deadlines: Deadlines,
) -> Result<std::result::Result<Answer, Failure>> {
    let started = runtime::now_ms();
    let (timeout_event, broken_event) = end_events(id, deadlines.stall_ms);
    let (first_ms, stall_ms) = (deadlines.first_ms as f64, deadlines.stall_ms as f64);
    let keep = keep_mode(read);
    let promise = fetch_stream(url, headers, body, first_ms, stall_ms, keep, &timeout_event, &broken_event);
    let answer: js_sys::Array = JsFuture::from(promise).await?.unchecked_into();
    let response = answer.get(0).dyn_into::<web_sys::Response>().ok();
    if let Some(response) = &response
        && response.status() >= 400
    {
        return Ok(Err(upstream_error(response, answer.get(1).dyn_into().ok())?));
    }
    let (Some(response), Ok(body)) = (response, answer.get(1).dyn_into::<web_sys::ReadableStream>()) else {
        return Ok(Err(failure(id, &answer, deadlines.first_ms)));
    };
    let head = answer.get(3).dyn_into::<Uint8Array>().map(|head| head.to_vec()).unwrap_or_default();
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
    let ttft_ms = (runtime::now_ms() - started) as u64;
    let ended = answer.get(2).unchecked_into();
    Ok(Ok(Answer::Stream { status: response.status(), upstream: response.headers(), body, ended, ttft_ms }))
}

/// `fetchStream`'s `keep`: 0 nothing, 1 the stream's end (for its usage), 2 all of it.
fn keep_mode(read: Read) -> u8 {
    match read {
        Read::Nothing => 0,
        Read::Usage => 1,
        Read::Whole => 2,
    }
}

/// Stands for the upstream's message in a broken stream's event; `\u0001` in JSON.
const BROKEN_MARKER: &str = "\u{1}";

thread_local! {
    /// The events that end a stream cut after its first chunk, per deployment,
    /// with the stall timeout they say: the same for every stream, used by few.
    static END_EVENTS: RefCell<HashMap<String, (u64, js_sys::JsString, js_sys::JsString)>> =
        RefCell::new(HashMap::new());
}

/// A stream's end events, built in Rust so that the error stays in one shape:
/// a gap longer than `stall_ms`, and a break, whose upstream message JavaScript
/// puts in place of the marker (a control character, so never in a deployment's id).
fn end_events(id: &str, stall_ms: u64) -> (js_sys::JsString, js_sys::JsString) {
    let cached = END_EVENTS.with_borrow(|cache| {
        cache.get(id).filter(|(built_for, ..)| *built_for == stall_ms).map(|(_, t, b)| (t.clone(), b.clone()))
    });
    if let Some(events) = cached {
        return events;
    }
    let timeout: js_sys::JsString = sse_error(&Failure::timeout(id, stall_ms)).as_str().into();
    let broken: js_sys::JsString = sse_error(&Failure::unreachable(id, BROKEN_MARKER.into())).as_str().into();
    END_EVENTS.with_borrow_mut(|cache| cache.insert(id.to_owned(), (stall_ms, timeout.clone(), broken.clone())));
    (timeout, broken)
}

/// How the stream of an [`Answer::Stream`] called with `read` ended; `None` when
/// its client went away first (the deployment did its part).
pub async fn stream_end(ended: js_sys::Promise, id: &str, read: Read, stall_ms: u64) -> Option<StreamEnd> {
    let end: js_sys::Array = JsFuture::from(ended).await.ok()?.dyn_into().ok()?;
    if end.get(0).is_truthy() {
        let kept = end.get(1).dyn_into::<Uint8Array>().ok().map(|kept| kept.to_vec());
        let tokens = kept.as_deref().and_then(usage::of_stream_end);
        let whole = kept.filter(|_| read == Read::Whole);
        return Some(StreamEnd::Finished { whole, tokens });
    }
    let message = end.get(1).as_string().unwrap_or_default();
    Some(StreamEnd::Failed(if end.get(2).is_truthy() {
        Failure::timeout(id, stall_ms)
    } else {
        Failure::unreachable(id, message)
    }))
}

/// The failure a helper reported as `[response or null, null, message, timedOut]`.
fn failure(id: &str, answer: &js_sys::Array, timeout_ms: u64) -> Failure {
    match answer.get(2).as_string() {
        Some(_) if answer.get(3).is_truthy() => Failure::timeout(id, timeout_ms),
        Some(message) => Failure::unreachable(id, message),
        None => Failure::unreachable(id, "no answer".into()),
    }
}

/// A complete answer: its head and its whole body within `timeout_ms`. A success
/// whose body is not the endpoint's answer is the deployment's failure.
async fn complete(
    id: &str,
    endpoint: Endpoint,
    url: &str,
    headers: &JsValue,
    body: &Uint8Array,
    read: bool,
    timeout_ms: u64,
) -> Result<std::result::Result<Answer, Failure>> {
    let whole: js_sys::Array =
        JsFuture::from(fetch_whole(url, headers, body, timeout_ms as f64)).await?.unchecked_into();
    let Ok(response) = whole.get(0).dyn_into::<web_sys::Response>() else {
        return Ok(Err(failure(id, &whole, timeout_ms)));
    };
    let buffer = whole.get(1).dyn_into::<js_sys::ArrayBuffer>().ok();
    let status = response.status();
    if status >= 400 {
        return Ok(Err(upstream_error(&response, buffer)?));
    }
    let Some(buffer) = buffer else {
        return Ok(Err(failure(id, &whole, timeout_ms)));
    };
    // Copied in to be looked at; unless Wasm needs it, the client gets the
    // runtime's own buffer.
    let bytes = Uint8Array::new(&buffer).to_vec();
    if let Err(why) = shape::check_answer(endpoint, &bytes) {
        return Ok(Err(Failure::invalid_response(id, why)));
    }
    let (body, tokens) = if read {
        let tokens = usage::of_answer(&bytes);
        (Body::Bytes(bytes), tokens)
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
}

const TIMED_OUT = Symbol("timed out");
const later = (ms) => {
  let timer;
  const fired = new Promise((resolve) => { timer = setTimeout(resolve, ms, TIMED_OUT); });
  return [fired, timer];
};

export async function fetchStream(url, headers, body, firstMs, stallMs, keep, timeoutEvent, brokenEvent) {
  const controller = new AbortController();
  const [deadline, timer] = later(firstMs);
  let response = null;
  try {
    const head = await Promise.race([fetch(url, { method: "POST", headers, body, signal: controller.signal }), deadline]);
    if (head === TIMED_OUT) throw TIMED_OUT;
    response = head;
    if (response.status >= 400) {
      const error = await Promise.race([response.arrayBuffer(), deadline]);
      controller.abort();
      return [response, error === TIMED_OUT ? null : error];
    }
    if (!response.body) return [response, null, "the stream had no body", false];
    const reader = response.body.getReader();
    const first = await Promise.race([reader.read(), deadline]);
    if (first === TIMED_OUT) throw TIMED_OUT;
    if (first.done) return [response, null, "the stream ended before its first chunk", false];
    // Read on until the first event has ended, so that Wasm can tell an answer
    // from garbage before anything reaches the client.
    const opening = [first.value];
    let size = first.value.length;
    while (size < HEAD_BYTES && !eventEnded(opening.length === 1 ? opening[0] : joined(opening))) {
      const next = await Promise.race([reader.read(), deadline]);
      if (next === TIMED_OUT) throw TIMED_OUT;
      if (next.done) break;
      opening.push(next.value);
      size += next.value.length;
    }
    const read = opening.length === 1 ? opening[0] : joined(opening);
    return [response, ...relay(reader, read, controller, stallMs, keep, timeoutEvent, brokenEvent), read];
  } catch (error) {
    controller.abort();
    if (error === TIMED_OUT) return [response, null, "timed out", true];
    return [response, null, String(error?.message ?? error), false];
  } finally {
    clearTimeout(timer);
  }
}

// At least this much of a stream's end is kept for its usage: its last event
// (some hundred bytes) and `[DONE]`, however the chunks cut them.
const TAIL_BYTES = 4096;
// A stream's first event must end within this many bytes.
const HEAD_BYTES = 65536;

// Whether the bytes hold the end of an SSE event: a blank line.
function eventEnded(bytes) {
  for (let i = 1; i < bytes.length; i++) {
    const [before, at] = [bytes[i - 1], bytes[i]];
    if ((at === 10 && before === 10) || (at === 13 && before === 13)) return true;
    if (at === 10 && before === 13 && i >= 3 && bytes[i - 2] === 10 && bytes[i - 3] === 13) return true;
  }
  return false;
}
const KEEP_NOTHING = 0, KEEP_ALL = 2;

function relay(reader, first, controller, stallMs, keep, timeoutEvent, brokenEvent) {
  let settle;
  const ended = new Promise((resolve) => { settle = resolve; });
  const kept = keep === KEEP_NOTHING ? null : [first];
  let keptBytes = first.length;
  const push = (chunk) => {
    kept.push(chunk);
    keptBytes += chunk.length;
    while (keep !== KEEP_ALL && keptBytes - kept[0].length >= TAIL_BYTES) keptBytes -= kept.shift().length;
  };
  let pending = first;
  const stream = new ReadableStream({
    async pull(out) {
      if (pending) {
        out.enqueue(pending);
        pending = null;
        return;
      }
      const [stalled, timer] = later(stallMs);
      let next;
      try {
        next = await Promise.race([reader.read(), stalled]);
      } catch (error) {
        const message = String(error?.message ?? error);
        out.enqueue(new TextEncoder().encode(brokenEvent.replace("\\u0001", JSON.stringify(message).slice(1, -1))));
        out.close();
        return settle([false, message, false]);
      } finally {
        clearTimeout(timer);
      }
      if (next === TIMED_OUT) {
        controller.abort();
        out.enqueue(new TextEncoder().encode(timeoutEvent));
        out.close();
        return settle([false, "timed out", true]);
      }
      if (next.done) {
        out.close();
        return settle([true, kept && joined(kept)]);
      }
      if (kept) push(next.value);
      out.enqueue(next.value);
    },
    cancel() {
      controller.abort();
      settle(null);
    },
  });
  return [stream, ended];
}

function joined(chunks) {
  const all = new Uint8Array(chunks.reduce((n, chunk) => n + chunk.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.length;
  }
  return all;
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

    /// A streamed POST: its head and first event within `first_ms` (else the call
    /// is aborted). Never rejects: resolves to `[response, stream, ended, head]`, where
    /// `stream` relays the chunks with a gap of at most `stall_ms` between them
    /// (else it ends with `timeout_event`, or with `broken_event` when the upstream
    /// breaks, and the call is aborted) and `ended` resolves to `[true, kept or
    /// null]` (`keep`, a [`Read`]: nothing, the last chunks that make at least
    /// `TAIL_BYTES`, or all of it), `[false, message, timedOut]`, or `null` when
    /// the client cancelled it, and `head` is the bytes read before the call
    /// returned (the first event, when one ended within `HEAD_BYTES`); to
    /// `[response, error body or null]` for a status
    /// of 400 or more; or to `[response or null, null, message, timedOut]`.
    #[wasm_bindgen(js_name = fetchStream)]
    #[allow(clippy::too_many_arguments)]
    fn fetch_stream(
        url: &str,
        headers: &JsValue,
        body: &Uint8Array,
        first_ms: f64,
        stall_ms: f64,
        keep: u8,
        timeout_event: &js_sys::JsString,
        broken_event: &js_sys::JsString,
    ) -> js_sys::Promise;
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

/// The failure an answer of status 400 or more stands for, from its body (if it
/// came in time) and its `retry-after`.
fn upstream_error(response: &web_sys::Response, body: Option<js_sys::ArrayBuffer>) -> Result<Failure> {
    let body = body.map(|b| Uint8Array::new(&b).to_vec()).unwrap_or_default();
    let retry_after = response.headers().get("retry-after")?.and_then(|v| parse_retry_after(&v));
    Ok(Failure::from_upstream(response.status(), &body, retry_after))
}

/// The SSE event that ends a stream cut short.
fn sse_error(failure: &Failure) -> String {
    format!("data: {}\n\n", String::from_utf8_lossy(&failure.error.body()))
}
