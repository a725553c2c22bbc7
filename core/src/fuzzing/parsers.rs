//! The targets of the parsers that read a client's or a provider's bytes: the
//! request body (OpenAI's, Anthropic's and a Responses API request), the YAML
//! config, a provider's error answer, usage, SSE, and a provider's stream
//! assembled for the response cache.

use serde_json::Value;

use crate::cache::{self, Entry};
use crate::config;
use crate::config::CachePolicy;
use crate::endpoint::Endpoint;
use crate::error::ApiError;
use crate::failure::{Failure, FailureClass, parse_retry_after};
use crate::inbound::messages::{self, MessagesError, count_tokens};
use crate::inbound::responses::{self, Stored};
use crate::openai::{ChatResponse, Choice, ResponseMessage};
use crate::request::{GATEWAY_ONLY_KEYS, ParsedRequest};
use crate::sse::{Event, SseReader};
use crate::translate::{ChunkContext, ChunkEncoder};
use crate::usage;

use super::coordinator::route_every_group;

const ENDPOINTS: [Endpoint; 3] = [Endpoint::ChatCompletions, Endpoint::Completions, Endpoint::Embeddings];

/// A request body, for each endpoint. When it parses, its upstream body must parse
/// again, to the same routing fields with the deployment's model, and rewrite to
/// itself; its cache key is a SHA-256 in hex, the same each time.
pub fn request(data: &[u8]) {
    for endpoint in ENDPOINTS {
        let Ok(request) = ParsedRequest::parse(endpoint, data) else {
            continue;
        };
        // An empty input is refused: a request that parses has at least one.
        let count = request.input_count();
        assert!(count >= 1, "{endpoint:?} accepted an empty input");
        let upstream = request.upstream_body("upstream-model");
        let again = match ParsedRequest::parse(endpoint, &upstream) {
            Ok(again) => again,
            Err(error) => panic!("the upstream body of {endpoint:?} does not parse again: {error:?}"),
        };
        assert_eq!(again.model, "upstream-model");
        assert_eq!((again.stream, again.include_usage), (request.stream, request.include_usage));
        assert_eq!(again.prompt_tokens, request.prompt_tokens);
        assert_eq!(again.input_count(), count);
        assert_eq!(again.upstream_body("upstream-model"), upstream, "rewriting is idempotent");

        let controls = &request.cache;
        let _ = cache::ttl_s(controls, &CachePolicy::default());
        for policy in [
            CachePolicy::default(),
            CachePolicy { shared: true, namespace: Some("n".into()), ..CachePolicy::default() },
        ] {
            let key = cache::key(&policy, controls, Some("sk-caller"), "group", &request);
            assert!(key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit()), "{key}");
            assert_eq!(cache::key(&policy, controls, Some("sk-caller"), "group", &request), key);
        }
    }
}

/// An Anthropic Messages body, and the same as a `count_tokens` one. When it parses
/// and holds nothing only Anthropic serves, its chat request must parse as the
/// router parses a chat body (unless a gateway key's value is wrong, which the
/// router is the one to say), with the same model and stream, asking for the usage
/// when it streams; otherwise the mapping refuses it as Anthropic's own.
pub fn messages(data: &[u8]) {
    if let Ok(request) = messages::parse(data) {
        match messages::to_chat(&request) {
            Ok(chat) => {
                let body = serde_json::to_vec(&chat).unwrap_or_else(|e| panic!("the chat request does not write: {e}"));
                match ParsedRequest::parse(Endpoint::ChatCompletions, &body) {
                    Ok(parsed) => {
                        assert_eq!((parsed.model.as_str(), parsed.stream), (request.model.as_str(), request.stream));
                        assert_eq!(parsed.include_usage, request.stream);
                    }
                    Err(error) if !request.gateway.is_empty() => drop(error),
                    Err(error) => panic!("the chat request of a valid Messages request is refused: {error:?}"),
                }
            }
            Err(MessagesError::AnthropicOnly(_)) => assert!(request.anthropic_only.is_some()),
            Err(error) => panic!("a parsed Messages request does not map: {error:?}"),
        }
    }
    if let Ok(request) = count_tokens::parse_count(data) {
        let _ = count_tokens::estimate(&request);
    }
}

/// A `POST /v1/responses` body. When it parses and maps to Chat Completions, the
/// chat body passes the gateway's own validation (but for the gateway's keys,
/// which the Responses parser passes on unread); an answer to it makes a response,
/// whole and streamed, and a stored conversation that reads back.
pub fn responses(data: &[u8]) {
    let Ok(request) = responses::parse(data) else {
        return;
    };
    let Ok(chat) = responses::to_chat(&request, None) else {
        return;
    };
    assert!(request.previous_response_id.is_none(), "a previous response was continued without being given");
    let body = match serde_json::to_vec(&chat) {
        Ok(body) => body,
        Err(error) => panic!("the chat request does not serialize: {error}"),
    };
    match ParsedRequest::parse(Endpoint::ChatCompletions, &body) {
        Ok(parsed) => assert_eq!((parsed.model.as_str(), parsed.stream), (request.model.as_str(), request.stream)),
        Err(ApiError::InvalidParam { param, .. }) if GATEWAY_ONLY_KEYS.contains(&param) || param == "tags" => {}
        Err(error) => panic!("the chat request is refused: {error:?}"),
    }
    let message = ResponseMessage {
        role: "assistant".into(),
        content: Some("answer".into()),
        tool_calls: None,
        refusal: None,
        reasoning_content: Some("thought".into()),
        thinking_blocks: None,
    };
    let answer = ChatResponse {
        id: "chatcmpl-1".into(),
        object: "chat.completion".into(),
        created: 1,
        model: "m".into(),
        choices: vec![Choice { index: 0, message, finish_reason: None, logprobs: None }],
        usage: None,
        system_fingerprint: None,
    };
    let id = responses::response_id(1);
    let response = responses::response(&answer, &request, &id, 1);
    let kept = responses::stored(&chat, &response);
    let text = serde_json::to_vec(&kept).unwrap_or_default();
    match serde_json::from_slice::<Stored>(&text) {
        Ok(back) => assert_eq!(back.conversation.len(), kept.conversation.len()),
        Err(error) => panic!("a stored response does not read back: {error}"),
    }
    let context = ChunkContext { id: "chatcmpl-1".into(), created: 1, model: "m".into() };
    let mut encoder = responses::Encoder::new(&request, &id, 1);
    let mut out = Vec::new();
    for chunk in chat_chunks(&context) {
        encoder.encode(&chunk, &mut out);
    }
    encoder.finish(&mut out);
    assert!(encoder.response().is_some(), "a finished stream has its response");
}

/// A streamed answer with text and a tool call.
fn chat_chunks(context: &ChunkContext) -> Vec<crate::openai::ChatChunk> {
    use crate::openai::{Delta, FinishReason, FunctionCallDelta, ToolCallDelta};
    let call = ToolCallDelta {
        index: 0,
        id: Some("call_1".into()),
        kind: Some("function".into()),
        function: Some(FunctionCallDelta { name: Some("f".into()), arguments: Some("{}".into()) }),
    };
    vec![
        context.chunk(Delta { content: Some("a".into()), ..Delta::default() }, None),
        context.chunk(Delta { tool_calls: Some(vec![call]), ..Delta::default() }, None),
        context.chunk(Delta::default(), Some(FinishReason::ToolCalls)),
    ]
}

/// A YAML config, with every `os.environ/` reference set and with none. A config
/// that loads must name its groups, and each group must route: a ticket, a
/// failure, a cooldown and a local pick with the config's own numbers.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let with_env = config::load(text, &|_| Some("x".into()));
    let without_env = config::load(text, &|_| None);
    if let Ok(loaded) = &without_env {
        assert!(with_env.is_ok(), "a config that loads without its secrets loads with them");
        let names = loaded.config.listed_models();
        assert!(names.iter().all(|name| loaded.config.group(name).is_some()), "{names:?}");
    }
    if let Ok(loaded) = with_env {
        route_every_group(&loaded.config);
    }
}

/// A provider's error answer: two bytes of status, a `Retry-After` line, then the
/// body. Classified, rendered as OpenAI's error body, and the status rules hold
/// whatever the body says.
pub fn failure(data: &[u8]) {
    let (status, rest) = match data {
        [high, low, rest @ ..] => (u16::from_be_bytes([*high, *low]), rest),
        _ => (500, data),
    };
    let (retry_after, body) = match rest.iter().position(|&b| b == b'\n') {
        Some(end) => (&rest[..end], &rest[end + 1..]),
        None => (&rest[..0], rest),
    };
    let retry_after_ms = parse_retry_after(&String::from_utf8_lossy(retry_after));
    let failure = Failure::from_upstream(status, body, retry_after_ms);
    assert_eq!(failure.error.status(), status);
    let expected = match status {
        401 | 402 => Some(FailureClass::Authentication),
        404 => Some(FailureClass::NotFound),
        408 => Some(FailureClass::Timeout),
        429 => Some(FailureClass::RateLimit),
        500..=599 => Some(FailureClass::Internal),
        400 => None,
        _ => Some(FailureClass::BadRequest),
    };
    if let Some(class) = expected {
        assert_eq!(failure.class, class, "status {status}");
    }
    let rendered: serde_json::Value = match serde_json::from_slice(&failure.error.body()) {
        Ok(value) => value,
        Err(error) => panic!("the error body is not JSON: {error}"),
    };
    assert!(rendered["error"]["message"].is_string());
    let _ = failure.error.retry_after_secs();
}

/// Usage from a complete answer, and from a stream's end taken at every tenth of
/// its length (an end may begin anywhere in an event).
pub fn usage(data: &[u8]) {
    let _ = usage::of_answer(data);
    for tenth in 0..10 {
        let _ = usage::of_stream_end(&data[data.len() * tenth / 10..]);
    }
}

/// An SSE stream fed whole and in pieces: the first byte says how many piece
/// lengths follow (up to 15), each one byte, taken in turn (0 feeds an empty
/// piece); none means byte by byte. The rest is the stream. Every split must give
/// the same events, and leave the same event unfinished.
pub fn sse(data: &[u8]) {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let (lengths, stream) = rest.split_at(usize::from(n % 16).min(rest.len()));
    let mut pieces: Vec<&[u8]> = Vec::new();
    if lengths.iter().all(|&len| len == 0) {
        pieces.extend(lengths.iter().map(|_| &stream[..0]));
        pieces.extend(stream.chunks(1));
    } else {
        // Each turn of the lengths takes at least a byte: this ends.
        let mut rest = stream;
        for &len in lengths.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (piece, tail) = rest.split_at(usize::from(len).min(rest.len()));
            pieces.push(piece);
            rest = tail;
        }
    }
    if let (Some(whole), Some(split)) = (read(&[stream]), read(&pieces)) {
        assert_eq!(whole, split, "{pieces:?}");
    }
}

/// The events of a stream fed in `pieces`, and whether an event was left unfinished;
/// `None` when the reader refused the stream (an event past its bound).
fn read(pieces: &[&[u8]]) -> Option<(Vec<Event>, bool)> {
    let mut reader = SseReader::new();
    let mut events = Vec::new();
    for piece in pieces {
        reader.feed(piece, |event| events.push(event)).ok()?;
    }
    Some((events, reader.pending()))
}

/// A provider's stream, assembled into the answer the cache stores, for each
/// endpoint that streams. A stored answer replays as a stream that assembles
/// back into it (less its usage, which a replay does not send).
pub fn cache_stream(data: &[u8]) {
    for endpoint in [Endpoint::ChatCompletions, Endpoint::Completions] {
        let Some(mut response) = cache::assemble_stream(endpoint, data) else {
            continue;
        };
        if let Some(fields) = response.as_object_mut() {
            fields.remove("usage");
        }
        let Ok(raw) = serde_json::value::to_raw_value(&response) else {
            continue;
        };
        let entry = Entry { created_ms: 0, response: raw, native: false };
        let replayed = entry.replay(endpoint, true);
        let again = cache::assemble_stream(endpoint, &replayed);
        assert!(again.as_ref().is_some_and(|again| same(again, &response)), "{endpoint:?}: {again:?}");
        let _ = entry.replay(endpoint, false);
    }
}

/// Equal JSON, but for floats a few units in the last place apart: serde_json's
/// default parser reads about one 17-digit float in ten one unit off (its
/// `float_roundtrip` feature reads them exactly, at a cost), so a float does not
/// always survive printing and parsing.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            let (x, y) = (x.as_f64().unwrap_or(f64::NAN), y.as_f64().unwrap_or(f64::NAN));
            x == y || (x - y).abs() <= 4.0 * f64::EPSILON * x.abs().max(y.abs())
        }
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(key, x)| y.get(key).is_some_and(|y| same(x, y)))
        }
        _ => a == b,
    }
}
