use serde_json::{Value, json};

use super::*;
use crate::failure::FailureClass;
use crate::provider::bedrock::eventstream::{HeaderValue, encode};

/// An event frame as Bedrock writes it, with the `p` padding its payloads carry.
fn event(name: &str, mut payload: Value) -> Vec<u8> {
    payload["p"] = json!("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ");
    encode(
        &[
            (":event-type", HeaderValue::String(name)),
            (":content-type", HeaderValue::String("application/json")),
            (":message-type", HeaderValue::String("event")),
        ],
        payload.to_string().as_bytes(),
    )
}

fn exception(name: &str, message: &str) -> Vec<u8> {
    encode(
        &[
            (":exception-type", HeaderValue::String(name)),
            (":content-type", HeaderValue::String("application/json")),
            (":message-type", HeaderValue::String("exception")),
        ],
        json!({ "message": message }).to_string().as_bytes(),
    )
}

fn text(index: u32, text: &str) -> Vec<u8> {
    event("contentBlockDelta", json!({"contentBlockIndex": index, "delta": {"text": text}}))
}

fn stop(reason: &str) -> Vec<u8> {
    event("messageStop", json!({ "stopReason": reason }))
}

fn metadata() -> Vec<u8> {
    event(
        "metadata",
        json!({"usage": {"inputTokens": 20, "outputTokens": 8, "totalTokens": 28}, "metrics": {"latencyMs": 400}}),
    )
}

fn stream(frames: &[Vec<u8>]) -> Vec<u8> {
    frames.concat()
}

/// Feeds `pieces` in order, then ends the stream; the chunks as JSON, and the outcome.
fn run<'a>(pieces: impl IntoIterator<Item = &'a [u8]>, json_tool: Option<&str>) -> (Vec<Value>, Result<(), Failure>) {
    let mut decoder = Decoder::new("claude", 1_700_000_000, 7, json_tool);
    let mut out = Vec::new();
    let mut outcome = Ok(());
    for piece in pieces {
        outcome = decoder.feed(piece, &mut out);
        if outcome.is_err() {
            break;
        }
    }
    if outcome.is_ok() {
        outcome = decoder.finish(&mut out);
    }
    (out.iter().map(|chunk| serde_json::to_value(chunk).unwrap()).collect(), outcome)
}

/// The same bytes fed whole, byte by byte, and cut in two at every position give
/// the same chunks and outcome; those are returned.
fn decode(bytes: &[u8], json_tool: Option<&str>) -> (Vec<Value>, Result<(), Failure>) {
    let whole = run([bytes], json_tool);
    assert_eq!(run(bytes.chunks(1), json_tool), whole, "byte by byte");
    for cut in 0..=bytes.len() {
        assert_eq!(run([&bytes[..cut], &bytes[cut..]], json_tool), whole, "cut at {cut}");
    }
    whole
}

fn deltas(chunks: &[Value]) -> Vec<Value> {
    chunks.iter().map(|chunk| chunk["choices"][0]["delta"].clone()).collect()
}

#[test]
fn a_text_answer_streams_role_content_finish_and_usage() {
    let bytes = stream(&[
        event("messageStart", json!({"role": "assistant"})),
        text(0, "Hel"),
        text(0, "lo"),
        event("contentBlockStop", json!({"contentBlockIndex": 0})),
        stop("end_turn"),
        metadata(),
    ]);
    let (chunks, outcome) = decode(&bytes, None);
    outcome.unwrap();
    assert_eq!(chunks.len(), 5);
    assert_eq!(
        chunks[0],
        json!({"id": "chatcmpl-0000000000000007", "object": "chat.completion.chunk", "created": 1_700_000_000,
            "model": "claude", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]})
    );
    assert_eq!(deltas(&chunks[1..3]), [json!({"content": "Hel"}), json!({"content": "lo"})]);
    assert_eq!(chunks[3]["choices"][0], json!({"index": 0, "delta": {}, "finish_reason": "stop"}));
    assert_eq!(chunks[4]["choices"], json!([]));
    assert_eq!(chunks[4]["usage"], json!({"prompt_tokens": 20, "completion_tokens": 8, "total_tokens": 28}));
}

#[test]
fn a_tool_call_streams_its_arguments_in_fragments() {
    let bytes = stream(&[
        event("messageStart", json!({"role": "assistant"})),
        text(0, "Let me check."),
        event("contentBlockStop", json!({"contentBlockIndex": 0})),
        event(
            "contentBlockStart",
            json!({"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "tooluse_A", "name": "weather"}}}),
        ),
        event("contentBlockDelta", json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": "{\"city\":"}}})),
        event("contentBlockDelta", json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": "\"Paris\"}"}}})),
        event("contentBlockStop", json!({"contentBlockIndex": 1})),
        event(
            "contentBlockStart",
            json!({"contentBlockIndex": 2, "start": {"toolUse": {"toolUseId": "tooluse_B", "name": "now"}}}),
        ),
        event("contentBlockDelta", json!({"contentBlockIndex": 2, "delta": {"toolUse": {"input": ""}}})),
        event("contentBlockStop", json!({"contentBlockIndex": 2})),
        stop("tool_use"),
        metadata(),
    ]);
    let (chunks, outcome) = decode(&bytes, None);
    outcome.unwrap();
    assert_eq!(
        deltas(&chunks[..8]),
        [
            json!({"role": "assistant", "content": ""}),
            json!({"content": "Let me check."}),
            json!({"tool_calls": [{"index": 0, "id": "tooluse_A", "type": "function",
                "function": {"name": "weather", "arguments": ""}}]}),
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\":"}}]}),
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"Paris\"}"}}]}),
            json!({"tool_calls": [{"index": 1, "id": "tooluse_B", "type": "function",
                "function": {"name": "now", "arguments": ""}}]}),
            json!({"tool_calls": [{"index": 1, "function": {"arguments": ""}}]}),
            json!({}),
        ]
    );
    assert_eq!(chunks[7]["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(chunks.len(), 9);
}

#[test]
fn reasoning_streams_as_reasoning_content() {
    let bytes = stream(&[
        event("messageStart", json!({"role": "assistant"})),
        event("contentBlockDelta", json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "Hmm."}}})),
        event(
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"signature": "EqoBCkgIARABGAIiQL"}}}),
        ),
        text(1, "42"),
        stop("end_turn"),
        metadata(),
    ]);
    let (chunks, outcome) = decode(&bytes, None);
    outcome.unwrap();
    assert_eq!(deltas(&chunks[1..3]), [json!({"reasoning_content": "Hmm."}), json!({"content": "42"})]);
}

#[test]
fn the_json_tools_input_streams_as_content() {
    let bytes = stream(&[
        event("messageStart", json!({"role": "assistant"})),
        event(
            "contentBlockStart",
            json!({"contentBlockIndex": 0, "start": {"toolUse": {"toolUseId": "t", "name": "animal"}}}),
        ),
        event("contentBlockDelta", json!({"contentBlockIndex": 0, "delta": {"toolUse": {"input": "{\"name\":"}}})),
        event("contentBlockDelta", json!({"contentBlockIndex": 0, "delta": {"toolUse": {"input": "\"cat\"}"}}})),
        stop("tool_use"),
        metadata(),
    ]);
    let (chunks, outcome) = decode(&bytes, Some("animal"));
    outcome.unwrap();
    assert_eq!(deltas(&chunks[1..3]), [json!({"content": "{\"name\":"}), json!({"content": "\"cat\"}"})]);
    assert_eq!(chunks[3]["choices"][0]["finish_reason"], "stop");
}

#[test]
fn an_exception_frame_fails_the_stream_with_its_class() {
    let bytes = stream(&[
        event("messageStart", json!({"role": "assistant"})),
        text(0, "partial"),
        exception("throttlingException", "Too many requests, please wait before trying again."),
    ]);
    let (chunks, outcome) = decode(&bytes, None);
    assert_eq!(deltas(&chunks), [json!({"role": "assistant", "content": ""}), json!({"content": "partial"})]);
    let failure = outcome.unwrap_err();
    assert_eq!(failure.class, FailureClass::RateLimit);
    assert_eq!(failure.error.status(), 429);
    assert!(failure.error.to_string().starts_with("Too many requests"));

    for (name, class) in [
        ("modelStreamErrorException", FailureClass::Internal),
        ("internalServerException", FailureClass::Internal),
        ("serviceUnavailableException", FailureClass::Internal),
        ("validationException", FailureClass::BadRequest),
    ] {
        let (chunks, outcome) = run([exception(name, "failed").as_slice()], None);
        assert!(chunks.is_empty(), "{name}");
        assert_eq!(outcome.unwrap_err().class, class, "{name}");
    }
    let (_, outcome) =
        run([exception("validationException", "Input is too long for requested model.").as_slice()], None);
    assert_eq!(outcome.unwrap_err().class, FailureClass::ContextWindow);
}

#[test]
fn a_stream_cut_before_its_end_is_an_error() {
    let start = event("messageStart", json!({"role": "assistant"}));
    let no_stop = stream(&[start.clone(), text(0, "Hi")]);
    let (chunks, outcome) = decode(&no_stop, None);
    assert_eq!(chunks.len(), 2);
    let failure = outcome.unwrap_err();
    assert_eq!(failure.class, FailureClass::InvalidResponse);
    assert!(failure.error.to_string().contains("before its messageStop"), "{}", failure.error);

    let no_metadata = stream(&[start.clone(), text(0, "Hi"), stop("end_turn")]);
    let failure = decode(&no_metadata, None).1.unwrap_err();
    assert!(failure.error.to_string().contains("without its metadata"), "{}", failure.error);

    let whole = stream(&[start, text(0, "Hi"), stop("end_turn"), metadata()]);
    for cut in 0..whole.len() {
        let (_, outcome) = run([&whole[..cut]], None);
        assert_eq!(outcome.unwrap_err().class, FailureClass::InvalidResponse, "cut at {cut}");
    }
}

#[test]
fn corrupted_or_malformed_frames_are_invalid_responses() {
    let mut bytes = stream(&[event("messageStart", json!({"role": "assistant"})), text(0, "Hi")]);
    let last = bytes.len() - 8;
    bytes[last] ^= 1;
    let (chunks, outcome) = run([bytes.as_slice()], None);
    assert_eq!(chunks.len(), 1);
    let failure = outcome.unwrap_err();
    assert_eq!(failure.class, FailureClass::InvalidResponse);
    assert!(failure.error.to_string().contains("checksum"), "{}", failure.error);

    let not_json = encode(&[(":event-type", HeaderValue::String("contentBlockDelta"))], b"{oops");
    let failure = run([not_json.as_slice()], None).1.unwrap_err();
    assert!(failure.error.to_string().contains("contentBlockDelta event that does not parse"), "{}", failure.error);

    let orphan = event("contentBlockDelta", json!({"contentBlockIndex": 3, "delta": {"toolUse": {"input": "{}"}}}));
    let failure = run([orphan.as_slice()], None).1.unwrap_err();
    assert!(failure.error.to_string().contains("content block 3"), "{}", failure.error);

    let nameless = encode(&[(":message-type", HeaderValue::String("event"))], b"{}");
    assert_eq!(run([nameless.as_slice()], None).1.unwrap_err().class, FailureClass::InvalidResponse);
}

#[test]
fn an_error_frame_fails_the_stream() {
    let frame = encode(
        &[
            (":message-type", HeaderValue::String("error")),
            (":error-code", HeaderValue::String("InternalFailure")),
            (":error-message", HeaderValue::String("An internal error occurred")),
        ],
        b"",
    );
    let failure = run([frame.as_slice()], None).1.unwrap_err();
    assert_eq!(failure.class, FailureClass::Internal);
    assert_eq!(failure.error.to_string(), "An internal error occurred");
}

#[test]
fn the_usage_is_known_once_metadata_came() {
    let mut decoder = Decoder::new("claude", 0, 0, None);
    let mut out = Vec::new();
    decoder.feed(&stream(&[text(0, "x"), stop("max_tokens")]), &mut out).unwrap();
    assert_eq!(decoder.usage(), None);
    decoder.feed(&metadata(), &mut out).unwrap();
    assert_eq!(decoder.usage().map(|u| u.total_tokens), Some(28));
    decoder.finish(&mut out).unwrap();
    // A delta before messageStart still comes after the role chunk.
    assert_eq!(out[0].choices[0].delta.role.as_deref(), Some("assistant"));
    assert_eq!(out[2].choices[0].finish_reason, Some(FinishReason::Length));
}
