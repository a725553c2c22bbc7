use super::*;
use crate::openai::{CompletionTokensDetails, PromptTokensDetails};
use crate::translate::carries_answer;
use serde_json::{Value, json};

const CREATED: u64 = 1_700_000_000;

/// `event: <type>` and `data: <event>` per event, as Anthropic frames them.
fn sse(events: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for event in events {
        let name = event["type"].as_str().unwrap();
        out.extend_from_slice(format!("event: {name}\ndata: {event}\n\n").as_bytes());
    }
    out
}

fn message_start(usage: Value) -> Value {
    json!({"type": "message_start", "message": {
        "id": "msg_014p7gG3wDgGV9EUtLvnow3U", "type": "message", "role": "assistant",
        "model": "claude-sonnet-4-5-20250929", "content": [], "stop_reason": null, "stop_sequence": null,
        "usage": usage
    }})
}

fn text_delta(index: u32, text: &str) -> Value {
    json!({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": text}})
}

fn json_delta(index: u32, partial_json: &str) -> Value {
    json!({"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": partial_json}})
}

fn tool_start(index: u32, id: &str, name: &str) -> Value {
    json!({"type": "content_block_start", "index": index,
           "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}}})
}

fn block_stop(index: u32) -> Value {
    json!({"type": "content_block_stop", "index": index})
}

fn message_delta(stop_reason: &str, output_tokens: u64) -> Value {
    json!({"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": null},
           "usage": {"output_tokens": output_tokens}})
}

/// A text block, then two tool calls, with pings, as Anthropic streams them.
fn text_then_two_tools() -> Vec<u8> {
    sse(&[
        message_start(json!({"input_tokens": 472, "output_tokens": 2, "cache_creation_input_tokens": 0,
                              "cache_read_input_tokens": 0})),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        json!({"type": "ping"}),
        text_delta(0, "Okay, let me check"),
        text_delta(0, " the weather — ☀️?"),
        block_stop(0),
        tool_start(1, "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather"),
        json_delta(1, ""),
        json_delta(1, "{\"location\":"),
        json_delta(1, " \"San Fra"),
        json_delta(1, "ncisco, CA\"}"),
        block_stop(1),
        tool_start(2, "toolu_02", "get_time"),
        json_delta(2, "{\"tz\": \"PST\"}"),
        block_stop(2),
        message_delta("tool_use", 89),
        json!({"type": "message_stop"}),
    ])
}

fn decode_pieces(pieces: &[&[u8]], json_mode: bool) -> (Vec<ChatChunk>, Result<(), Failure>, Option<Usage>) {
    let mut decoder = Decoder::new(CREATED, json_mode);
    let mut chunks = Vec::new();
    for piece in pieces {
        if let Err(failure) = decoder.feed(piece, &mut chunks) {
            return (chunks, Err(failure), decoder.usage());
        }
    }
    let end = decoder.finish(&mut chunks);
    (chunks, end, decoder.usage())
}

fn decode(bytes: &[u8], json_mode: bool) -> (Vec<ChatChunk>, Result<(), Failure>, Option<Usage>) {
    decode_pieces(&[bytes], json_mode)
}

fn deltas(chunks: &[ChatChunk]) -> Vec<Value> {
    chunks
        .iter()
        .map(|chunk| match chunk.choices.first() {
            Some(choice) => json!({"delta": choice.delta, "finish_reason": choice.finish_reason}),
            None => json!({"usage": chunk.usage}),
        })
        .collect()
}

#[test]
fn text_then_two_tool_calls_decode_in_order() {
    let (chunks, end, _) = decode(&text_then_two_tools(), false);
    end.unwrap();
    assert!(chunks.iter().all(|c| c.id == "msg_014p7gG3wDgGV9EUtLvnow3U"
        && c.model == "claude-sonnet-4-5-20250929"
        && c.created == CREATED
        && c.object == "chat.completion.chunk"));
    assert_eq!(
        deltas(&chunks),
        vec![
            json!({"delta": {"role": "assistant", "content": ""}, "finish_reason": null}),
            json!({"delta": {"content": "Okay, let me check"}, "finish_reason": null}),
            json!({"delta": {"content": " the weather — ☀️?"}, "finish_reason": null}),
            json!({"delta": {"tool_calls": [{"index": 0, "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "type": "function",
                                             "function": {"name": "get_weather", "arguments": ""}}]}, "finish_reason": null}),
            json!({"delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{\"location\":"}}]}, "finish_reason": null}),
            json!({"delta": {"tool_calls": [{"index": 0, "function": {"arguments": " \"San Fra"}}]}, "finish_reason": null}),
            json!({"delta": {"tool_calls": [{"index": 0, "function": {"arguments": "ncisco, CA\"}"}}]}, "finish_reason": null}),
            json!({"delta": {"tool_calls": [{"index": 1, "id": "toolu_02", "type": "function",
                                             "function": {"name": "get_time", "arguments": ""}}]}, "finish_reason": null}),
            json!({"delta": {"tool_calls": [{"index": 1, "function": {"arguments": "{\"tz\": \"PST\"}"}}]}, "finish_reason": null}),
            json!({"delta": {}, "finish_reason": "tool_calls"}),
            json!({"usage": {"prompt_tokens": 472, "completion_tokens": 89, "total_tokens": 561,
                             "prompt_tokens_details": {"cached_tokens": 0, "cache_creation_tokens": 0}}}),
        ]
    );
}

#[test]
fn every_split_of_the_bytes_gives_the_same_chunks() {
    let bytes = text_then_two_tools();
    let (whole, end, usage) = decode(&bytes, false);
    end.unwrap();
    let single: Vec<&[u8]> = bytes.chunks(1).collect();
    let (by_byte, end, by_byte_usage) = decode_pieces(&single, false);
    end.unwrap();
    assert_eq!(by_byte, whole);
    assert_eq!(by_byte_usage, usage);
    for cut in 0..=bytes.len() {
        let (halves, end, _) = decode_pieces(&[&bytes[..cut], &bytes[cut..]], false);
        assert!(end.is_ok(), "cut at {cut}");
        assert_eq!(halves, whole, "cut at {cut}");
    }
}

#[test]
fn a_stream_cut_anywhere_before_message_stop_is_a_connection_failure() {
    let bytes = text_then_two_tools();
    let stop_at = bytes.len() - "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n".len();
    for cut in 0..stop_at {
        let (_, end, _) = decode(&bytes[..cut], false);
        let failure = end.expect_err(&format!("cut at {cut}"));
        assert_eq!(failure.class, FailureClass::Connection, "cut at {cut}");
        assert_eq!(failure.error.status(), 502);
        assert!(failure.error.to_string().contains("message_stop"), "{}", failure.error);
    }
}

#[test]
fn an_error_before_any_content_fails_with_nothing_of_the_answer_sent() {
    let bytes = sse(&[
        message_start(json!({"input_tokens": 10, "output_tokens": 1})),
        json!({"type": "ping"}),
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    ]);
    let (chunks, end, _) = decode(&bytes, false);
    let failure = end.unwrap_err();
    assert_eq!((failure.class, failure.error.status()), (FailureClass::Internal, 503));
    assert_eq!(failure.error.to_string(), "Overloaded");
    assert_eq!(chunks.len(), 1);
    assert!(!chunks.iter().any(carries_answer), "another deployment may still answer");
}

#[test]
fn an_error_after_content_fails_after_the_content_it_sent() {
    let bytes = sse(&[
        message_start(json!({"input_tokens": 10, "output_tokens": 1})),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        text_delta(0, "Once upon"),
        json!({"type": "error", "error": {"type": "api_error", "message": "Internal server error"}}),
        text_delta(0, " a time"),
    ]);
    let (chunks, end, _) = decode(&bytes, false);
    let failure = end.unwrap_err();
    assert_eq!((failure.class, failure.error.status()), (FailureClass::Internal, 500));
    assert_eq!(deltas(&chunks).last().unwrap()["delta"], json!({"content": "Once upon"}));
    assert!(chunks.iter().any(carries_answer));
}

#[test]
fn usage_counts_cache_reads_and_the_last_cumulative_output() {
    let start = message_start(json!({"input_tokens": 472, "output_tokens": 2, "cache_creation_input_tokens": 50,
                                     "cache_read_input_tokens": 1000}));
    let mut decoder = Decoder::new(CREATED, false);
    let mut chunks = Vec::new();
    assert_eq!(decoder.usage(), None);
    decoder.feed(&sse(&[start]), &mut chunks).unwrap();
    let early = decoder.usage().unwrap();
    assert_eq!((early.prompt_tokens, early.completion_tokens), (1472, 2));
    let rest = sse(&[
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        text_delta(0, "Hi"),
        block_stop(0),
        json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null},
               "usage": {"output_tokens": 15}}),
        json!({"type": "message_delta", "delta": {"stop_reason": null, "stop_sequence": null},
               "usage": {"output_tokens": 40, "output_tokens_details": {"thinking_tokens": 12}}}),
        json!({"type": "message_stop"}),
    ]);
    decoder.feed(&rest, &mut chunks).unwrap();
    decoder.finish(&mut chunks).unwrap();
    let expected = Usage {
        prompt_tokens: 1472,
        completion_tokens: 40,
        total_tokens: 1512,
        prompt_tokens_details: Some(PromptTokensDetails { cached_tokens: 1000, cache_creation_tokens: Some(50) }),
        completion_tokens_details: Some(CompletionTokensDetails { reasoning_tokens: 12 }),
    };
    assert_eq!(decoder.usage(), Some(expected));
    assert_eq!(chunks.last().unwrap().usage, Some(expected));
    assert!(chunks.last().unwrap().choices.is_empty());
    // One finish, though two message_delta events came.
    assert_eq!(chunks.iter().filter(|c| c.choices.iter().any(|ch| ch.finish_reason.is_some())).count(), 1);
}

#[test]
fn message_delta_may_update_the_input_figures() {
    let bytes = sse(&[
        message_start(json!({"input_tokens": 0, "output_tokens": 1})),
        json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"},
               "usage": {"output_tokens": 7, "input_tokens": 30, "cache_read_input_tokens": 5}}),
        json!({"type": "message_stop"}),
    ]);
    let (_, end, usage) = decode(&bytes, false);
    end.unwrap();
    let usage = usage.unwrap();
    assert_eq!((usage.prompt_tokens, usage.completion_tokens, usage.total_tokens), (35, 7, 42));
}

#[test]
fn in_json_mode_the_json_tool_streams_as_content() {
    let bytes = sse(&[
        message_start(json!({"input_tokens": 20, "output_tokens": 1})),
        tool_start(0, "toolu_1", JSON_TOOL),
        json_delta(0, "{\"name\": "),
        json_delta(0, "\"Ada\"}"),
        block_stop(0),
        message_delta("tool_use", 12),
        json!({"type": "message_stop"}),
    ]);
    let (chunks, end, _) = decode(&bytes, true);
    end.unwrap();
    let deltas = deltas(&chunks);
    assert_eq!(deltas[1]["delta"], json!({"content": "{\"name\": "}));
    assert_eq!(deltas[2]["delta"], json!({"content": "\"Ada\"}"}));
    assert_eq!(deltas[3], json!({"delta": {}, "finish_reason": "stop"}));
    assert!(chunks.iter().all(|c| c.choices.iter().all(|ch| ch.delta.tool_calls.is_none())));
    // Outside JSON mode it is a tool call.
    let (plain, _, _) = decode(&bytes, false);
    assert_eq!(deltas_of_tool_calls(&plain), 3);
}

fn deltas_of_tool_calls(chunks: &[ChatChunk]) -> usize {
    chunks.iter().filter(|c| c.choices.iter().any(|ch| ch.delta.tool_calls.is_some())).count()
}

#[test]
fn thinking_streams_as_reasoning_content_and_thinking_block_pieces() {
    let bytes = sse(&[
        message_start(json!({"input_tokens": 20, "output_tokens": 1})),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": "", "signature": ""}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Let me add: 2 + 2 = 4."}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3h"}}),
        block_stop(0),
        json!({"type": "content_block_start", "index": 1, "content_block": {"type": "redacted_thinking", "data": "EmwKAhgB"}}),
        block_stop(1),
        json!({"type": "content_block_start", "index": 2, "content_block": {"type": "text", "text": ""}}),
        text_delta(2, "4"),
        block_stop(2),
        message_delta("end_turn", 30),
        json!({"type": "message_stop"}),
    ]);
    let (chunks, end, _) = decode(&bytes, false);
    end.unwrap();
    assert_eq!(
        deltas(&chunks)[1..6].to_vec(),
        vec![
            json!({"delta": {"reasoning_content": "Let me add: 2 + 2 = 4.",
                             "thinking_blocks": [{"type": "thinking", "thinking": "Let me add: 2 + 2 = 4."}]},
                   "finish_reason": null}),
            json!({"delta": {"thinking_blocks": [{"type": "thinking", "thinking": "",
                                                  "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3h"}]},
                   "finish_reason": null}),
            json!({"delta": {"thinking_blocks": [{"type": "redacted_thinking", "data": "EmwKAhgB"}]}, "finish_reason": null}),
            json!({"delta": {"content": "4"}, "finish_reason": null}),
            json!({"delta": {}, "finish_reason": "stop"}),
        ]
    );
}

#[test]
fn a_tool_call_without_argument_fragments_gets_empty_object_arguments() {
    let bytes = sse(&[
        message_start(json!({"input_tokens": 20, "output_tokens": 1})),
        tool_start(0, "toolu_1", "get_time"),
        json_delta(0, ""),
        block_stop(0),
        message_delta("tool_use", 9),
        json!({"type": "message_stop"}),
    ]);
    let (chunks, end, _) = decode(&bytes, false);
    end.unwrap();
    assert_eq!(deltas(&chunks)[2]["delta"], json!({"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}));
}

#[test]
fn server_tool_blocks_and_unknown_events_are_left_out() {
    let bytes = sse(&[
        message_start(json!({"input_tokens": 20, "output_tokens": 1})),
        json!({"type": "content_block_start", "index": 0, "content_block":
               {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}}),
        json_delta(0, "{\"query\": \"rust\"}"),
        block_stop(0),
        json!({"type": "content_block_start", "index": 1, "content_block":
               {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []}}),
        block_stop(1),
        json!({"type": "a_future_event", "index": 1}),
        tool_start(2, "toolu_9", "save"),
        json_delta(2, "{}"),
        block_stop(2),
        message_delta("tool_use", 9),
        json!({"type": "message_stop"}),
    ]);
    let (chunks, end, _) = decode(&bytes, false);
    end.unwrap();
    let deltas = deltas(&chunks);
    assert_eq!(deltas.len(), 5, "{deltas:#?}");
    // The client's tool call is the first: index 0.
    assert_eq!(deltas[1]["delta"]["tool_calls"][0]["index"], 0);
    assert_eq!(deltas[1]["delta"]["tool_calls"][0]["id"], "toolu_9");
}

#[test]
fn streams_that_are_not_anthropic_s_are_invalid_responses() {
    let before_start = sse(&[text_delta(0, "Hi")]);
    let (_, end, _) = decode(&before_start, false);
    assert_eq!(end.unwrap_err().class, FailureClass::InvalidResponse);
    let (_, end, _) = decode(b"data: {\"choices\": [\n\n", false);
    let failure = end.unwrap_err();
    assert_eq!((failure.class, failure.error.status()), (FailureClass::InvalidResponse, 502));
    let twice = sse(&[
        message_start(json!({"input_tokens": 1, "output_tokens": 1})),
        message_start(json!({"input_tokens": 1, "output_tokens": 1})),
    ]);
    assert_eq!(decode(&twice, false).1.unwrap_err().class, FailureClass::InvalidResponse);
}

#[test]
fn a_stop_without_message_delta_still_finishes_and_later_bytes_are_ignored() {
    let mut bytes =
        sse(&[message_start(json!({"input_tokens": 3, "output_tokens": 1})), json!({"type": "message_stop"})]);
    bytes.extend_from_slice(b"event: ping\ndata: garbage\n\n");
    let (chunks, end, _) = decode(&bytes, false);
    end.unwrap();
    assert_eq!(
        deltas(&chunks)[1..].to_vec(),
        vec![
            json!({"delta": {}, "finish_reason": "stop"}),
            json!({"usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}),
        ]
    );
}
