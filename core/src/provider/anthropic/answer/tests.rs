use super::*;
use serde_json::{Value, json};

fn answer(content: Value, stop_reason: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": null,
        "usage": {"input_tokens": 2095, "output_tokens": 503, "cache_creation_input_tokens": 0,
                  "cache_read_input_tokens": 0, "service_tier": "standard"}
    }))
    .unwrap()
}

fn openai(body: &[u8], json_mode: bool) -> Value {
    serde_json::to_value(chat_response(body, 1_700_000_000, json_mode).unwrap()).unwrap()
}

#[test]
fn a_text_answer_is_a_chat_completion() {
    let body = answer(json!([{"type": "text", "text": "Hi! My name is Claude.", "citations": null}]), "end_turn");
    assert_eq!(
        openai(&body, false),
        json!({
            "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": "claude-sonnet-4-5-20250929",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi! My name is Claude."},
                         "finish_reason": "stop", "logprobs": null}],
            "usage": {"prompt_tokens": 2095, "completion_tokens": 503, "total_tokens": 2598,
                      "prompt_tokens_details": {"cached_tokens": 0, "cache_creation_tokens": 0}}
        })
    );
}

#[test]
fn tool_use_blocks_become_tool_calls_with_json_arguments() {
    let body = answer(
        json!([
            {"type": "text", "text": "I'll check both."},
            {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather",
             "input": {"location": "San Francisco, CA", "unit": "celsius"}},
            {"type": "tool_use", "id": "toolu_01B", "name": "get_time", "input": {}}
        ]),
        "tool_use",
    );
    let value = openai(&body, false);
    let choice = &value["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], "I'll check both.");
    let calls = choice["message"]["tool_calls"].as_array().unwrap();
    assert_eq!(calls[0]["id"], "toolu_01A09q90qw90lq917835lq9");
    assert_eq!(calls[0]["type"], "function");
    assert_eq!(calls[0]["function"]["name"], "get_weather");
    let arguments: Value = serde_json::from_str(calls[0]["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(arguments, json!({"location": "San Francisco, CA", "unit": "celsius"}));
    assert_eq!(calls[1]["function"]["arguments"], "{}");
}

#[test]
fn an_answer_of_only_tool_calls_has_null_content() {
    let body = answer(json!([{"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}}]), "tool_use");
    let value = openai(&body, false);
    assert_eq!(value["choices"][0]["message"]["content"], Value::Null);
    let empty = openai(&answer(json!([]), "end_turn"), false);
    assert_eq!(empty["choices"][0]["message"]["content"], Value::Null);
    assert!(empty["choices"][0]["message"].get("tool_calls").is_none());
}

#[test]
fn thinking_blocks_become_reasoning_content_and_thinking_blocks() {
    let body = answer(
        json!([
            {"type": "thinking", "thinking": "The user wants a prime. ", "signature": "EqQBCgIYAhIM"},
            {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"},
            {"type": "thinking", "thinking": "7 is prime.", "signature": "EqQBCgIYAhIN"},
            {"type": "text", "text": "7"}
        ]),
        "end_turn",
    );
    let message = &openai(&body, false)["choices"][0]["message"];
    assert_eq!(message["reasoning_content"], "The user wants a prime. 7 is prime.");
    assert_eq!(message["content"], "7");
    assert_eq!(
        message["thinking_blocks"],
        json!([
            {"type": "thinking", "thinking": "The user wants a prime. ", "signature": "EqQBCgIYAhIM"},
            {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"},
            {"type": "thinking", "thinking": "7 is prime.", "signature": "EqQBCgIYAhIN"}
        ])
    );
}

#[test]
fn in_json_mode_the_json_tool_s_input_is_the_content() {
    let body = answer(
        json!([{"type": "tool_use", "id": "toolu_1", "name": JSON_TOOL, "input": {"name": "Shakespeare", "born": 1564}}]),
        "tool_use",
    );
    let choice = &openai(&body, true)["choices"][0];
    assert_eq!(choice["finish_reason"], "stop");
    assert!(choice["message"].get("tool_calls").is_none());
    let content: Value = serde_json::from_str(choice["message"]["content"].as_str().unwrap()).unwrap();
    assert_eq!(content, json!({"name": "Shakespeare", "born": 1564}));
    // Outside JSON mode, a tool of that name is a tool like any other.
    let plain = &openai(&body, false)["choices"][0];
    assert_eq!(plain["finish_reason"], "tool_calls");
    assert_eq!(plain["message"]["tool_calls"][0]["function"]["name"], JSON_TOOL);
}

#[test]
fn in_json_mode_a_preamble_is_left_out_and_a_cut_answer_stays_cut() {
    let body = answer(
        json!([
            {"type": "text", "text": "Here is the JSON:"},
            {"type": "tool_use", "id": "toolu_1", "name": JSON_TOOL, "input": {"ok": true}}
        ]),
        "max_tokens",
    );
    let choice = &openai(&body, true)["choices"][0];
    assert_eq!(choice["message"]["content"], "{\"ok\":true}");
    assert_eq!(choice["finish_reason"], "length");
}

#[test]
fn stop_reasons_become_finish_reasons() {
    for (stop, finish) in [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("refusal", "content_filter"),
        ("a_reason_from_the_future", "stop"),
    ] {
        let body = answer(json!([{"type": "text", "text": "x"}]), stop);
        assert_eq!(openai(&body, false)["choices"][0]["finish_reason"], finish, "{stop}");
    }
}

#[test]
fn cache_reads_count_as_prompt_tokens_and_writes_are_detailed() {
    let body = serde_json::to_vec(&json!({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-haiku-4-5",
        "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn", "stop_sequence": null,
        "usage": {"input_tokens": 21, "output_tokens": 393, "cache_creation_input_tokens": 188086,
                  "cache_read_input_tokens": 1500}
    }))
    .unwrap();
    assert_eq!(
        openai(&body, false)["usage"],
        json!({"prompt_tokens": 1521, "completion_tokens": 393, "total_tokens": 1914,
               "prompt_tokens_details": {"cached_tokens": 1500, "cache_creation_tokens": 188086}})
    );
}

#[test]
fn bodies_that_are_not_a_messages_answer_are_errors() {
    let whole = answer(json!([{"type": "text", "text": "Hello"}]), "end_turn");
    let cases: [&[u8]; 5] = [
        b"<html>502 Bad Gateway</html>",
        &whole[..whole.len() / 2],
        br#"{"id":"msg_1","type":"message","role":"assistant","model":"m","stop_reason":"end_turn","usage":{}}"#,
        br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        br#"{"id":"x","type":"completion","role":"assistant","model":"m","content":[],"usage":{}}"#,
    ];
    for body in cases {
        let reason = chat_response(body, 0, false).unwrap_err();
        assert!(reason.starts_with("not an Anthropic Messages answer"), "{reason}");
    }
}
