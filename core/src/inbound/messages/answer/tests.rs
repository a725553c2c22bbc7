use super::*;
use crate::openai::{Choice, CompletionTokensDetails, FinishReason, FunctionCall, PromptTokensDetails, Usage};
use crate::provider::anthropic::answer::chat_response;
use serde_json::json;

fn response(message: ResponseMessage, finish: Option<FinishReason>, usage: Option<Usage>) -> ChatResponse {
    ChatResponse {
        id: "chatcmpl-9x".into(),
        object: "chat.completion".into(),
        created: 1_700_000_000,
        model: "gpt-4o-2024-08-06".into(),
        choices: vec![Choice { index: 0, message, finish_reason: finish, logprobs: None }],
        usage,
        system_fingerprint: None,
    }
}

fn assistant(content: Option<&str>) -> ResponseMessage {
    ResponseMessage {
        role: "assistant".into(),
        content: content.map(str::to_owned),
        tool_calls: None,
        refusal: None,
        reasoning_content: None,
        thinking_blocks: None,
    }
}

fn call(id: &str, name: &str, arguments: &str) -> ToolCall {
    ToolCall {
        id: id.into(),
        kind: "function".into(),
        function: FunctionCall { name: name.into(), arguments: arguments.into() },
    }
}

fn json_of(message: &MessagesResponse) -> Value {
    serde_json::to_value(message).unwrap()
}

#[test]
fn a_text_answer_is_anthropic_s_message() {
    let usage = Usage { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17, ..Usage::default() };
    let answer = response(assistant(Some("Hello!")), Some(FinishReason::Stop), Some(usage));
    assert_eq!(
        json_of(&message(&answer, "claude-sonnet-4-5")),
        json!({
            "id": "msg_chatcmpl-9x",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5",
            "content": [{"type": "text", "text": "Hello!"}],
            "stop_reason": "end_turn",
            "stop_sequence": null,
            "usage": {"input_tokens": 12, "output_tokens": 5}
        })
    );
}

#[test]
fn tool_calls_are_tool_use_blocks_after_the_text_with_parsed_inputs() {
    let mut message_with_calls = assistant(Some("Checking."));
    message_with_calls.tool_calls = Some(vec![
        call("call_1", "get_weather", r#"{"city":"Paris"}"#),
        call("call_2", "get_time", ""),
        call("call_3", "broken", r#"{"city": "Par"#),
        call("call_4", "bare", "42"),
    ]);
    let answer = response(message_with_calls, Some(FinishReason::ToolCalls), None);
    let value = json_of(&message(&answer, "m"));
    assert_eq!(value["stop_reason"], "tool_use");
    assert_eq!(
        value["content"],
        json!([
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "call_2", "name": "get_time", "input": {}},
            {"type": "tool_use", "id": "call_3", "name": "broken", "input": {}},
            {"type": "tool_use", "id": "call_4", "name": "bare", "input": {}}
        ])
    );
    assert_eq!(value["usage"], json!({"input_tokens": 0, "output_tokens": 0}));
}

#[test]
fn thinking_comes_first_with_its_signatures() {
    let mut thought = assistant(Some("97 is prime."));
    thought.reasoning_content = Some("Check divisors.".into());
    thought.thinking_blocks = Some(vec![
        ThinkingBlock::Thinking { thinking: "Check divisors.".into(), signature: Some("EqQB".into()) },
        ThinkingBlock::RedactedThinking { data: "EmwK".into() },
    ]);
    let value = json_of(&message(&response(thought, Some(FinishReason::Stop), None), "m"));
    assert_eq!(
        value["content"],
        json!([
            {"type": "thinking", "thinking": "Check divisors.", "signature": "EqQB"},
            {"type": "redacted_thinking", "data": "EmwK"},
            {"type": "text", "text": "97 is prime."}
        ])
    );
    // Reasoning without blocks (other providers) is one unsigned thinking block.
    let mut reasoned = assistant(Some("Yes."));
    reasoned.reasoning_content = Some("Think.".into());
    let value = json_of(&message(&response(reasoned, Some(FinishReason::Stop), None), "m"));
    assert_eq!(value["content"][0], json!({"type": "thinking", "thinking": "Think.", "signature": ""}));
}

#[test]
fn stop_reasons_come_from_the_reverse_table() {
    let cases = [
        (Some(FinishReason::Stop), "end_turn"),
        (Some(FinishReason::Length), "max_tokens"),
        (Some(FinishReason::ToolCalls), "tool_use"),
        (Some(FinishReason::ContentFilter), "refusal"),
        (None, "end_turn"),
    ];
    for (finish, stop) in cases {
        let value = json_of(&message(&response(assistant(Some("x")), finish, None), "m"));
        assert_eq!(value["stop_reason"], stop, "{finish:?}");
    }
}

#[test]
fn a_refusal_is_text_and_the_usage_details_the_cache() {
    let mut refused = assistant(None);
    refused.refusal = Some("I can't help with that.".into());
    let usage = Usage {
        prompt_tokens: 2000,
        completion_tokens: 30,
        total_tokens: 2030,
        prompt_tokens_details: Some(PromptTokensDetails { cached_tokens: 1800, cache_creation_tokens: Some(150) }),
        completion_tokens_details: Some(CompletionTokensDetails { reasoning_tokens: 10 }),
    };
    let value = json_of(&message(&response(refused, Some(FinishReason::ContentFilter), Some(usage)), "m"));
    assert_eq!(value["content"], json!([{"type": "text", "text": "I can't help with that."}]));
    assert_eq!(
        value["usage"],
        json!({"input_tokens": 200, "output_tokens": 30, "cache_creation_input_tokens": 150,
               "cache_read_input_tokens": 1800, "output_tokens_details": {"thinking_tokens": 10}})
    );
}

#[test]
fn anthropic_s_ids_are_kept_and_others_prefixed() {
    assert_eq!(message_id("msg_01XFDUDYJgAACzvnptvVoYEL"), "msg_01XFDUDYJgAACzvnptvVoYEL");
    assert_eq!(message_id("chatcmpl-abc"), "msg_chatcmpl-abc");
    let empty = ChatResponse { choices: Vec::new(), ..response(assistant(None), None, None) };
    let value = json_of(&message(&empty, "m"));
    assert_eq!((value["content"].clone(), value["stop_reason"].clone()), (json!([]), json!("end_turn")));
}

#[test]
fn an_anthropic_answer_read_as_chat_comes_back_as_it_was() {
    let original = json!({
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [
            {"type": "thinking", "thinking": "Two lookups.", "signature": "EqQBCkgIARAB"},
            {"type": "text", "text": "I'll check both."},
            {"type": "tool_use", "id": "toolu_01A", "name": "get_weather", "input": {"location": "San Francisco, CA"}},
            {"type": "tool_use", "id": "toolu_01B", "name": "get_time", "input": {}}
        ],
        "stop_reason": "tool_use",
        "stop_sequence": null,
        "usage": {"input_tokens": 25, "output_tokens": 90, "cache_creation_input_tokens": 100,
                  "cache_read_input_tokens": 1800}
    });
    let chat = chat_response(&serde_json::to_vec(&original).unwrap(), 1, false).unwrap();
    assert_eq!(json_of(&message(&chat, "claude-sonnet-4-5")), original);
}
