//! Answers for `mock_response`: well-formed OpenAI bodies, built without a network call.
//!
//! A streamed mock is a complete SSE body (role chunk, one chunk per word, a final
//! chunk with `finish_reason`, then `[DONE]`), so clients exercise their stream
//! parsing exactly as against a provider.

use serde_json::{Value, json};

use crate::endpoint::Endpoint;
use crate::request::ParsedRequest;

/// What a mock answer needs besides the request: the clock and an id source.
pub struct MockContext<'r> {
    pub now_secs: u64,
    pub rng: &'r mut fastrand::Rng,
}

/// A mock answer: its body and whether it is an SSE stream.
pub struct MockAnswer {
    pub body: Vec<u8>,
    pub is_stream: bool,
}

/// Builds the answer `content` to `request`, as `model`, in the endpoint's shape.
pub fn answer(request: &ParsedRequest<'_>, model: &str, content: &str, ctx: MockContext<'_>) -> MockAnswer {
    let completion_tokens = (content.len() as u64).div_ceil(4);
    let usage = json!({
        "prompt_tokens": request.prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": request.prompt_tokens + completion_tokens,
    });
    let created = ctx.now_secs;
    match request.endpoint {
        Endpoint::Embeddings => {
            let data: Vec<Value> = (0..request.input_count())
                .map(|index| json!({"object": "embedding", "index": index, "embedding": embedding(content, index)}))
                .collect();
            let usage = json!({"prompt_tokens": request.prompt_tokens, "total_tokens": request.prompt_tokens});
            let body = json!({"object": "list", "data": data, "model": model, "usage": usage});
            MockAnswer { body: to_vec(&body), is_stream: false }
        }
        // A Messages or Responses client gets the chat answer in its own API (the
        // shell turns it), its stream always with the usage those APIs report.
        Endpoint::ChatCompletions | Endpoint::Messages | Endpoint::Responses if request.stream => {
            let id = format!("chatcmpl-{}", hex_id(ctx.rng));
            let chunk = |delta: Value, finish: Option<&str>| {
                json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                       "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
            };
            let mut events = vec![chunk(json!({"role": "assistant", "content": ""}), None)];
            events.extend(words(content).map(|word| chunk(json!({"content": word}), None)));
            events.push(chunk(json!({}), Some("stop")));
            if request.include_usage || request.endpoint.through_chat() {
                events.push(usage_event(&id, "chat.completion.chunk", created, model, usage));
            }
            MockAnswer { body: sse(&events), is_stream: true }
        }
        Endpoint::ChatCompletions | Endpoint::Messages | Endpoint::Responses => {
            let body = json!({
                "id": format!("chatcmpl-{}", hex_id(ctx.rng)), "object": "chat.completion",
                "created": created, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                             "finish_reason": "stop"}],
                "usage": usage,
            });
            MockAnswer { body: to_vec(&body), is_stream: false }
        }
        Endpoint::Completions if request.stream => {
            let id = format!("cmpl-{}", hex_id(ctx.rng));
            let chunk = |text: &str, finish: Option<&str>| {
                json!({"id": id, "object": "text_completion", "created": created, "model": model,
                       "choices": [{"index": 0, "text": text, "logprobs": null, "finish_reason": finish}]})
            };
            let mut events: Vec<Value> = words(content).map(|word| chunk(word, None)).collect();
            events.push(chunk("", Some("stop")));
            if request.include_usage {
                events.push(usage_event(&id, "text_completion", created, model, usage));
            }
            MockAnswer { body: sse(&events), is_stream: true }
        }
        Endpoint::Completions => {
            let body = json!({
                "id": format!("cmpl-{}", hex_id(ctx.rng)), "object": "text_completion",
                "created": created, "model": model,
                "choices": [{"index": 0, "text": content, "logprobs": null, "finish_reason": "stop"}],
                "usage": usage,
            });
            MockAnswer { body: to_vec(&body), is_stream: false }
        }
    }
}

/// Splits text into words that keep their leading space, so chunks concatenate back.
fn words(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let start = rest.len() - rest.trim_start().len();
        let end = rest[start..].find(char::is_whitespace).map_or(rest.len(), |i| start + i);
        let (word, tail) = rest.split_at(end);
        rest = tail;
        Some(word)
    })
}

/// The last event of a stream asked for its usage, as OpenAI sends it: no choices.
fn usage_event(id: &str, object: &str, created: u64, model: &str, usage: Value) -> Value {
    json!({"id": id, "object": object, "created": created, "model": model, "choices": [], "usage": usage})
}

fn sse(events: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for event in events {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(&to_vec(event));
        out.extend_from_slice(b"\n\n");
    }
    out.extend_from_slice(b"data: [DONE]\n\n");
    out
}

/// A small deterministic vector per (text, index), so tests can compare answers.
fn embedding(text: &str, index: usize) -> Vec<f64> {
    let mut rng = fastrand::Rng::with_seed(text.bytes().fold(index as u64, |h, b| h.wrapping_mul(31) ^ u64::from(b)));
    (0..8).map(|_| (rng.f64() * 2.0 - 1.0) / 8.0).collect()
}

fn hex_id(rng: &mut fastrand::Rng) -> String {
    format!("{:016x}{:08x}", rng.u64(..), rng.u32(..))
}

fn to_vec(value: &Value) -> Vec<u8> {
    // Serializing a Value into a Vec cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(endpoint: Endpoint, body: &str, content: &str) -> (Vec<u8>, bool) {
        let request = ParsedRequest::parse(endpoint, body.as_bytes()).unwrap();
        let mut rng = fastrand::Rng::with_seed(1);
        let answer = answer(&request, "mock-model", content, MockContext { now_secs: 1_700_000_000, rng: &mut rng });
        (answer.body, answer.is_stream)
    }

    fn events(body: &[u8]) -> Vec<String> {
        String::from_utf8(body.to_vec())
            .unwrap()
            .split("\n\n")
            .filter(|e| !e.is_empty())
            .map(|e| e.strip_prefix("data: ").unwrap().to_owned())
            .collect()
    }

    #[test]
    fn chat_completion_is_well_formed() {
        let (body, is_stream) = run(
            Endpoint::ChatCompletions,
            r#"{"model":"m","messages":[{"role":"user","content":"hello there"}]}"#,
            "Hi!",
        );
        assert!(!is_stream);
        let value: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["object"], "chat.completion");
        assert_eq!(value["model"], "mock-model");
        assert_eq!(value["created"], 1_700_000_000);
        assert_eq!(value["choices"][0]["message"]["content"], "Hi!");
        assert_eq!(value["choices"][0]["finish_reason"], "stop");
        assert!(value["id"].as_str().unwrap().starts_with("chatcmpl-"));
        let usage = &value["usage"];
        assert_eq!(
            usage["total_tokens"],
            usage["prompt_tokens"].as_u64().unwrap() + usage["completion_tokens"].as_u64().unwrap()
        );
    }

    #[test]
    fn chat_stream_reassembles_to_the_content() {
        let (body, is_stream) = run(
            Endpoint::ChatCompletions,
            r#"{"model":"m","messages":[{"role":"user"}],"stream":true}"#,
            "Hello  big world",
        );
        assert!(is_stream);
        let events = events(&body);
        assert_eq!(events.last().unwrap(), "[DONE]");
        let chunks: Vec<Value> = events[..events.len() - 1].iter().map(|e| serde_json::from_str(e).unwrap()).collect();
        assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
        let text: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
        assert_eq!(text, "Hello  big world");
        assert_eq!(chunks.len(), 5, "role, three words, finish");
        assert_eq!(chunks.last().unwrap()["choices"][0]["finish_reason"], "stop");
        assert!(chunks.iter().all(|c| c["id"] == chunks[0]["id"] && c["object"] == "chat.completion.chunk"));
    }

    #[test]
    fn a_stream_asked_for_its_usage_ends_with_it_as_openai_does() {
        let ask = r#"{"model":"m","messages":[{"role":"user"}],"stream":true,"stream_options":{"include_usage":true}}"#;
        let (body, _) = run(Endpoint::ChatCompletions, ask, "Hello world");
        let chat = events(&body);
        let last: Value = serde_json::from_str(&chat[chat.len() - 2]).unwrap();
        assert_eq!(last["choices"], json!([]));
        assert_eq!(last["usage"]["completion_tokens"], 3);
        assert_eq!(crate::usage::of_stream_end(&body).map(|u| u.total_tokens), last["usage"]["total_tokens"].as_u64());
        let completion = r#"{"model":"m","prompt":"Say","stream":true,"stream_options":{"include_usage":true}}"#;
        let (body, _) = run(Endpoint::Completions, completion, "a b");
        assert_eq!(events(&body).len(), 5, "two words, finish, usage, [DONE]");
        let unasked =
            r#"{"model":"m","messages":[{"role":"user"}],"stream":true,"stream_options":{"include_usage":false}}"#;
        let (body, _) = run(Endpoint::ChatCompletions, unasked, "Hello world");
        assert_eq!(crate::usage::of_stream_end(&body), None);
    }

    #[test]
    fn completions_and_embeddings() {
        let (body, _) = run(Endpoint::Completions, r#"{"model":"m","prompt":"Say"}"#, "ok");
        let value: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["choices"][0]["text"], "ok");
        let (body, is_stream) = run(Endpoint::Completions, r#"{"model":"m","prompt":"Say","stream":true}"#, "a b");
        assert!(is_stream);
        assert_eq!(events(&body).len(), 4);
        let (body, _) = run(Endpoint::Embeddings, r#"{"model":"m","input":["a","b","c"]}"#, "x");
        let value: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["data"].as_array().unwrap().len(), 3);
        assert_eq!(value["data"][2]["index"], 2);
        assert_eq!(value["data"][0]["embedding"].as_array().unwrap().len(), 8);
        let (body, _) = run(Endpoint::Embeddings, r#"{"model":"m","input":"one"}"#, "x");
        assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["data"].as_array().unwrap().len(), 1);
    }
}
