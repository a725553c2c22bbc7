use std::collections::BTreeMap;

use super::*;
use crate::error::ApiError;
use crate::failure::FailureClass;
use crate::openai::{FunctionCallDelta, PromptTokensDetails};
use crate::provider::anthropic::stream::Decoder;
use crate::translate::{ChunkContext, StreamDecoder};
use serde_json::{Value, json};

const MODEL: &str = "claude-sonnet-4-5";

fn context() -> ChunkContext {
    ChunkContext { id: "chatcmpl-7a".into(), created: 1_700_000_000, model: "gpt-4o".into() }
}

fn chunk(delta: Delta) -> ChatChunk {
    context().chunk(delta, None)
}

fn role() -> ChatChunk {
    chunk(Delta { role: Some("assistant".into()), content: Some(String::new()), ..Delta::default() })
}

fn text(text: &str) -> ChatChunk {
    chunk(Delta { content: Some(text.into()), ..Delta::default() })
}

fn reasoning(text: &str) -> ChatChunk {
    chunk(Delta { reasoning_content: Some(text.into()), ..Delta::default() })
}

fn call_start(index: u32, id: &str, name: &str) -> ChatChunk {
    let call = ToolCallDelta {
        index,
        id: Some(id.into()),
        kind: Some("function".into()),
        function: Some(FunctionCallDelta { name: Some(name.into()), arguments: Some(String::new()) }),
    };
    chunk(Delta { tool_calls: Some(vec![call]), ..Delta::default() })
}

fn arguments(index: u32, fragment: &str) -> ChatChunk {
    let call = ToolCallDelta {
        index,
        function: Some(FunctionCallDelta { name: None, arguments: Some(fragment.into()) }),
        ..ToolCallDelta::default()
    };
    chunk(Delta { tool_calls: Some(vec![call]), ..Delta::default() })
}

fn finish(reason: FinishReason) -> ChatChunk {
    context().chunk(Delta::default(), Some(reason))
}

fn usage(prompt: u64, completion: u64) -> Usage {
    Usage::of(prompt, completion)
}

fn encode(chunks: &[ChatChunk]) -> Vec<u8> {
    let mut encoder = Encoder::new(MODEL, 0xfeed, 42);
    let mut out = Vec::new();
    for chunk in chunks {
        encoder.encode(chunk, &mut out);
    }
    encoder.finish(&mut out);
    out
}

/// The events written, each checked to name its own type.
fn events(bytes: &[u8]) -> Vec<Value> {
    let text = std::str::from_utf8(bytes).unwrap();
    assert!(text.ends_with("\n\n"), "{text}");
    text.trim_end()
        .split("\n\n")
        .map(|frame| {
            let (name, data) = frame.split_once('\n').unwrap();
            let name = name.strip_prefix("event: ").unwrap();
            let data: Value = serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
            assert_eq!(data["type"], name, "{frame}");
            data
        })
        .collect()
}

/// Checks Anthropic's order: `message_start`; blocks numbered from 0, one open at a
/// time, each delta to the open block; one `message_delta` with no block open, then
/// `message_stop`.
fn assert_valid(events: &[Value]) {
    assert_eq!(events[0]["type"], "message_start", "{events:?}");
    let mut open: Option<u64> = None;
    let mut next = 0;
    let mut delta_seen = false;
    for (i, event) in events.iter().enumerate().skip(1) {
        match event["type"].as_str().unwrap() {
            "content_block_start" => {
                assert!(open.is_none() && !delta_seen, "block started while {open:?} open: {events:#?}");
                assert_eq!(event["index"], next, "{events:#?}");
                open = Some(next);
                next += 1;
            }
            "content_block_delta" => assert_eq!(event["index"].as_u64(), open, "{events:#?}"),
            "content_block_stop" => {
                assert_eq!(event["index"].as_u64(), open, "{events:#?}");
                open = None;
            }
            "message_delta" => {
                assert!(open.is_none() && !delta_seen, "{events:#?}");
                delta_seen = true;
            }
            "message_stop" => assert!(delta_seen && i == events.len() - 1, "{events:#?}"),
            other => panic!("unexpected event {other}"),
        }
    }
}

/// What a stream of chunks says, whatever its split.
#[derive(Debug, Default, PartialEq)]
struct Said {
    text: String,
    reasoning: String,
    signatures: Vec<String>,
    calls: BTreeMap<u32, (String, String, String)>,
    finish: Option<FinishReason>,
    usage: Option<Usage>,
}

fn said(chunks: &[ChatChunk]) -> Said {
    let mut said = Said::default();
    for chunk in chunks {
        said.usage = chunk.usage.or(said.usage);
        for choice in &chunk.choices {
            let delta = &choice.delta;
            said.text.push_str(delta.content.as_deref().unwrap_or_default());
            said.reasoning.push_str(delta.reasoning_content.as_deref().unwrap_or_default());
            for block in delta.thinking_blocks.iter().flatten() {
                if let ThinkingBlock::Thinking { signature: Some(signature), .. } = block {
                    said.signatures.push(signature.clone());
                }
            }
            for call in delta.tool_calls.iter().flatten() {
                let entry = said.calls.entry(call.index).or_default();
                if let Some(id) = &call.id {
                    entry.0 = id.clone();
                }
                if let Some(function) = &call.function {
                    entry.1.push_str(function.name.as_deref().unwrap_or_default());
                    entry.2.push_str(function.arguments.as_deref().unwrap_or_default());
                }
            }
            said.finish = choice.finish_reason.or(said.finish);
        }
    }
    said
}

/// The chunks the provider side reads back from the bytes.
fn decoded(bytes: &[u8]) -> Vec<ChatChunk> {
    let mut decoder = Decoder::new(1, false);
    let mut chunks = Vec::new();
    decoder.feed(bytes, &mut chunks).unwrap();
    decoder.finish(&mut chunks).unwrap();
    chunks
}

#[test]
fn a_text_answer_streams_as_one_text_block() {
    let chunks =
        [role(), text("Hello"), text(", world"), finish(FinishReason::Stop), context().usage_chunk(usage(12, 3))];
    assert_eq!(
        events(&encode(&chunks)),
        vec![
            json!({"type": "message_start", "message": {"id": "msg_chatcmpl-7a", "type": "message", "role": "assistant",
                "model": MODEL, "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": 42, "output_tokens": 0}}}),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": ", world"}}),
            json!({"type": "content_block_stop", "index": 0}),
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null},
                "usage": {"output_tokens": 3, "input_tokens": 12}}),
            json!({"type": "message_stop"}),
        ]
    );
}

#[test]
fn two_parallel_calls_with_interleaved_fragments_become_two_whole_blocks() {
    let chunks = [
        role(),
        text("Checking both."),
        call_start(0, "call_a", "get_weather"),
        arguments(0, "{\"city\":"),
        call_start(1, "call_b", "get_time"),
        arguments(1, "{\"tz\":"),
        arguments(0, "\"Paris\"}"),
        arguments(1, "\"CET\"}"),
        finish(FinishReason::ToolCalls),
        context().usage_chunk(usage(80, 20)),
    ];
    let bytes = encode(&chunks);
    let events = events(&bytes);
    assert_valid(&events);
    let starts: Vec<&Value> = events.iter().filter(|e| e["type"] == "content_block_start").collect();
    assert_eq!(
        starts[1]["content_block"],
        json!({"type": "tool_use", "id": "call_a", "name": "get_weather", "input": {}})
    );
    assert_eq!(
        starts[2]["content_block"],
        json!({"type": "tool_use", "id": "call_b", "name": "get_time", "input": {}})
    );
    // The first call streams as it comes; the second, held while the first was
    // open, is written whole after it.
    let fragments: Vec<(u64, &str)> = events
        .iter()
        .filter(|e| e["delta"]["type"] == "input_json_delta")
        .map(|e| (e["index"].as_u64().unwrap(), e["delta"]["partial_json"].as_str().unwrap()))
        .collect();
    assert_eq!(fragments, [(1, "{\"city\":"), (1, "\"Paris\"}"), (2, "{\"tz\":\"CET\"}")]);
    let delta = events.iter().find(|e| e["type"] == "message_delta").unwrap();
    assert_eq!(delta["delta"]["stop_reason"], "tool_use");
    assert_eq!(said(&decoded(&bytes)), said(&chunks));
}

#[test]
fn thinking_streams_as_a_thinking_block_with_its_signature() {
    let piece = |thinking: &str, signature: Option<&str>| {
        let block = ThinkingBlock::Thinking { thinking: thinking.into(), signature: signature.map(str::to_owned) };
        let reasoning = (!thinking.is_empty()).then(|| thinking.to_owned());
        chunk(Delta { reasoning_content: reasoning, thinking_blocks: Some(vec![block]), ..Delta::default() })
    };
    let redacted = chunk(Delta {
        thinking_blocks: Some(vec![ThinkingBlock::RedactedThinking { data: "EmwK".into() }]),
        ..Delta::default()
    });
    let chunks = [
        role(),
        piece("Let me ", None),
        piece("think.", None),
        piece("", Some("EqQBCkgI")),
        redacted,
        text("97 is prime."),
        finish(FinishReason::Stop),
    ];
    let bytes = encode(&chunks);
    let written = events(&bytes);
    assert_valid(&written);
    assert_eq!(
        written[1..9],
        [
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": "", "signature": ""}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Let me "}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "think."}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "EqQBCkgI"}}),
            json!({"type": "content_block_stop", "index": 0}),
            json!({"type": "content_block_start", "index": 1, "content_block": {"type": "redacted_thinking", "data": "EmwK"}}),
            json!({"type": "content_block_stop", "index": 1}),
            json!({"type": "content_block_start", "index": 2, "content_block": {"type": "text", "text": ""}}),
        ]
    );
    let back = said(&decoded(&bytes));
    assert_eq!((back.reasoning.as_str(), back.signatures.as_slice()), ("Let me think.", &["EqQBCkgI".to_owned()][..]));
    assert_eq!(back.text, "97 is prime.");
    // Reasoning without thinking blocks (other providers) is a thinking block too.
    let plain = events(&encode(&[role(), reasoning("Hmm."), text("Yes."), finish(FinishReason::Stop)]));
    assert_valid(&plain);
    assert_eq!(plain[2]["delta"], json!({"type": "thinking_delta", "thinking": "Hmm."}));
}

#[test]
fn a_stream_without_usage_ends_with_an_estimate_at_its_finish() {
    let chunks = [role(), text("12345678"), finish(FinishReason::Length)];
    let events = events(&encode(&chunks));
    assert_valid(&events);
    assert_eq!(
        events[events.len() - 2],
        json!({"type": "message_delta", "delta": {"stop_reason": "max_tokens", "stop_sequence": null},
               "usage": {"output_tokens": 2}})
    );
}

#[test]
fn message_delta_waits_for_the_usage_that_follows_the_finish() {
    let mut encoder = Encoder::new(MODEL, 1, 10);
    let mut out = Vec::new();
    encoder.encode(&role(), &mut out);
    encoder.encode(&text("Hi"), &mut out);
    encoder.encode(&finish(FinishReason::Stop), &mut out);
    assert!(!String::from_utf8_lossy(&out).contains("message_delta"));
    let cached = Usage {
        prompt_tokens_details: Some(PromptTokensDetails { cached_tokens: 1800, cache_creation_tokens: Some(0) }),
        ..usage(2000, 7)
    };
    encoder.encode(&context().usage_chunk(cached), &mut out);
    let written = events(&out);
    assert_eq!(
        written.last().unwrap()["usage"],
        json!({"output_tokens": 7, "input_tokens": 200, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 1800})
    );
    encoder.finish(&mut out);
    let all = events(&out);
    assert_valid(&all);
    assert_eq!(all.iter().filter(|e| e["type"] == "message_delta").count(), 1);
    // A provider that puts the usage on the finish chunk itself.
    let mut with_usage = finish(FinishReason::Stop);
    with_usage.usage = Some(usage(5, 1));
    let at_once = events(&encode(&[role(), text("Hi"), with_usage]));
    assert_valid(&at_once);
    assert_eq!(at_once[at_once.len() - 2]["usage"], json!({"output_tokens": 1, "input_tokens": 5}));
}

#[test]
fn a_failure_after_content_ends_with_anthropic_s_error_event() {
    let mut encoder = Encoder::new(MODEL, 1, 10);
    let mut out = Vec::new();
    encoder.encode(&role(), &mut out);
    encoder.encode(&text("Partial"), &mut out);
    let failure = Failure {
        class: FailureClass::Internal,
        error: ApiError::Upstream {
            status: 503,
            message: "Overloaded".into(),
            kind: "api_error".into(),
            param: None,
            code: Some("overloaded_error".into()),
            retry_after_ms: None,
        },
        retry_after_ms: None,
        slow_down: true,
    };
    encoder.fail(&failure, &mut out);
    encoder.finish(&mut out);
    let events = events(&out);
    assert_eq!(events.len(), 4, "{events:#?}");
    assert_eq!(
        events.last().unwrap(),
        &json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    );
    // The provider side reads it as the failure it is.
    let mut decoder = Decoder::new(1, false);
    let mut chunks = Vec::new();
    let failed = decoder.feed(&out, &mut chunks).unwrap_err();
    assert!(failed.slow_down);
    assert_eq!(said(&chunks).text, "Partial");
}

#[test]
fn chunks_fed_one_by_one_or_merged_say_the_same() {
    let one_by_one = [
        role(),
        text("The "),
        text("answer"),
        call_start(0, "call_1", "lookup"),
        arguments(0, "{\"q\":"),
        arguments(0, "\"x\"}"),
        finish(FinishReason::ToolCalls),
        context().usage_chunk(usage(9, 4)),
    ];
    let merged_call = ToolCallDelta {
        index: 0,
        id: Some("call_1".into()),
        kind: Some("function".into()),
        function: Some(FunctionCallDelta { name: Some("lookup".into()), arguments: Some("{\"q\":\"x\"}".into()) }),
    };
    let mut last = context().chunk(
        Delta { content: Some("The answer".into()), tool_calls: Some(vec![merged_call]), ..Delta::default() },
        Some(FinishReason::ToolCalls),
    );
    last.usage = Some(usage(9, 4));
    let merged = [role(), last];
    let (a, b) = (encode(&one_by_one), encode(&merged));
    let (events_a, events_b) = (events(&a), events(&b));
    assert_valid(&events_a);
    assert_valid(&events_b);
    assert_eq!(said(&decoded(&a)), said(&decoded(&b)));
    assert_eq!(said(&decoded(&a)), said(&one_by_one));
    let types = |events: &[Value]| -> Vec<String> {
        events.iter().filter(|e| e["type"] != "content_block_delta").map(|e| e["type"].to_string()).collect()
    };
    assert_eq!(types(&events_a), types(&events_b));
}

#[test]
fn the_provider_side_reads_back_what_was_written() {
    let chunks = [
        role(),
        text("Let me look."),
        call_start(0, "toolu_01", "search"),
        arguments(0, "{\"query\": \"rust ☀️\"}"),
        call_start(1, "toolu_02", "fetch"),
        arguments(1, "{\"url\": \"https://example.com\"}"),
        finish(FinishReason::ToolCalls),
        context().usage_chunk(usage(120, 40)),
    ];
    let back = decoded(&encode(&chunks));
    let said_back = said(&back);
    assert_eq!(said_back, said(&chunks));
    assert_eq!(said_back.usage, Some(usage(120, 40)));
    assert_eq!(back[0].id, "msg_chatcmpl-7a");
}

#[test]
fn an_empty_stream_is_still_a_whole_message() {
    let events = events(&encode(&[]));
    assert_valid(&events);
    assert_eq!(events[0]["message"]["id"], format!("msg_{:016x}", 0xfeed));
    assert_eq!(events.len(), 3);
    assert_eq!(events[1]["delta"]["stop_reason"], "end_turn");
}

#[test]
fn only_the_first_choice_is_written_and_nothing_after_the_end() {
    let mut second = text("other choice");
    second.choices[0].index = 1;
    let mut encoder = Encoder::new(MODEL, 1, 1);
    let mut out = Vec::new();
    for chunk in [role(), second, text("mine"), finish(FinishReason::Stop)] {
        encoder.encode(&chunk, &mut out);
    }
    encoder.finish(&mut out);
    let length = out.len();
    encoder.encode(&text("late"), &mut out);
    encoder.finish(&mut out);
    assert_eq!(out.len(), length);
    let events = events(&out);
    assert_valid(&events);
    assert_eq!(said(&decoded(&out)).text, "mine");
}

#[test]
fn what_comes_while_a_call_is_open_follows_it_in_order() {
    // Claude's order through the provider side: text, a call, more text, a call.
    let chunks = [
        role(),
        text("First."),
        call_start(0, "toolu_1", "a"),
        arguments(0, "{}"),
        text("Then."),
        call_start(1, "toolu_2", "b"),
        arguments(1, "{\"x\":1}"),
        finish(FinishReason::ToolCalls),
        context().usage_chunk(usage(30, 12)),
    ];
    let events = events(&encode(&chunks));
    assert_valid(&events);
    let blocks: Vec<Value> = events
        .iter()
        .filter(|e| e["type"] == "content_block_start")
        .map(|e| e["content_block"]["type"].clone())
        .collect();
    assert_eq!(blocks, [json!("text"), json!("tool_use"), json!("text"), json!("tool_use")]);
    assert_eq!(said(&decoded(&encode(&chunks))), said(&chunks));
}
