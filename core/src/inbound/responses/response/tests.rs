use serde_json::{Value, json};

use super::*;
use crate::inbound::responses::request::parse;
use crate::openai::{Choice, CompletionTokensDetails, FunctionCall, PromptTokensDetails, ResponseMessage, ToolCall};

const ID: &str = "resp_abc";

fn request(body: Value) -> Request {
    parse(body.to_string().as_bytes()).unwrap()
}

fn answer(message: ResponseMessage, finish: FinishReason, usage: Option<Usage>) -> ChatResponse {
    ChatResponse {
        id: "chatcmpl-1".into(),
        object: "chat.completion".into(),
        created: 1,
        model: "claude-sonnet-4".into(),
        choices: vec![Choice { index: 0, message, finish_reason: Some(finish), logprobs: None }],
        usage,
        system_fingerprint: None,
    }
}

fn message(content: Option<&str>) -> ResponseMessage {
    ResponseMessage {
        role: "assistant".into(),
        content: content.map(str::to_owned),
        tool_calls: None,
        refusal: None,
        reasoning_content: None,
        thinking_blocks: None,
    }
}

fn usage() -> Usage {
    Usage {
        prompt_tokens: 20,
        completion_tokens: 10,
        total_tokens: 30,
        prompt_tokens_details: Some(PromptTokensDetails { cached_tokens: 5, cache_creation_tokens: None }),
        completion_tokens_details: Some(CompletionTokensDetails { reasoning_tokens: 4 }),
    }
}

fn tool_call(id: &str, name: &str, arguments: &str) -> ToolCall {
    ToolCall {
        id: id.into(),
        kind: "function".into(),
        function: FunctionCall { name: name.into(), arguments: arguments.into() },
    }
}

#[test]
fn a_text_answer_is_a_completed_response_echoing_the_request() {
    let request = request(json!({"model": "my-group", "input": "Hi", "instructions": "Be brief.",
        "metadata": {"team": "a"}, "max_output_tokens": 64}));
    let got =
        response(&answer(message(Some("Hello!")), FinishReason::Stop, Some(usage())), &request, ID, 1_700_000_000);
    assert_eq!(
        serde_json::to_value(&got).unwrap(),
        json!({
            "id": "resp_abc",
            "object": "response",
            "created_at": 1_700_000_000,
            "status": "completed",
            "error": null,
            "incomplete_details": null,
            "instructions": "Be brief.",
            "max_output_tokens": 64,
            "model": "my-group",
            "output": [{
                "type": "message",
                "id": "msg_abc_0",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "Hello!", "annotations": [], "logprobs": []}]
            }],
            "parallel_tool_calls": true,
            "previous_response_id": null,
            "reasoning": {"effort": null, "summary": null},
            "store": true,
            "temperature": null,
            "text": {"format": {"type": "text"}},
            "tool_choice": "auto",
            "tools": [],
            "top_p": null,
            "truncation": "disabled",
            "usage": {
                "input_tokens": 20,
                "input_tokens_details": {"cached_tokens": 5},
                "output_tokens": 10,
                "output_tokens_details": {"reasoning_tokens": 4},
                "total_tokens": 30
            },
            "user": null,
            "metadata": {"team": "a"},
            "background": false
        })
    );
    let back: Response = serde_json::from_value(serde_json::to_value(&got).unwrap()).unwrap();
    assert_eq!(back, got);
}

#[test]
fn the_parameters_the_client_set_are_echoed() {
    let request = request(json!({"model": "m", "input": "x", "temperature": 0.3, "top_p": 0.8, "user": "u",
        "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}],
        "tool_choice": {"type": "function", "name": "f"}, "parallel_tool_calls": false, "store": false,
        "previous_response_id": "resp_0", "truncation": "auto", "reasoning": {"effort": "high", "generate_summary": "concise"},
        "text": {"verbosity": "low"}}));
    let got = serde_json::to_value(Response::in_progress(&request, ID, 5)).unwrap();
    assert_eq!(got["status"], "in_progress");
    assert_eq!(got["output"], json!([]));
    assert_eq!(got["usage"], Value::Null);
    assert_eq!((got["temperature"].clone(), got["top_p"].clone()), (json!(0.3), json!(0.8)));
    assert_eq!(
        got["tools"],
        json!([{"type": "function", "name": "f", "parameters": {"type": "object"}, "strict": null}])
    );
    assert_eq!(got["tool_choice"], json!({"type": "function", "name": "f"}));
    assert_eq!((got["parallel_tool_calls"].clone(), got["store"].clone()), (json!(false), json!(false)));
    assert_eq!(got["previous_response_id"], "resp_0");
    assert_eq!(got["truncation"], "auto");
    assert_eq!(got["reasoning"], json!({"effort": "high", "summary": "concise"}));
    assert_eq!(got["text"], json!({"format": {"type": "text"}, "verbosity": "low"}));
    assert_eq!(got["user"], "u");
}

#[test]
fn tool_calls_are_function_call_items_after_the_message() {
    let mut chat = message(Some("Checking."));
    chat.tool_calls =
        Some(vec![tool_call("toolu_1", "weather", "{\"city\":\"Paris\"}"), tool_call("toolu_2", "time", "{}")]);
    let got =
        response(&answer(chat, FinishReason::ToolCalls, None), &request(json!({"model": "m", "input": "x"})), ID, 1);
    assert_eq!(got.status, Status::Completed);
    assert_eq!(got.usage, None);
    assert_eq!(
        serde_json::to_value(&got.output).unwrap(),
        json!([
            {"type": "message", "id": "msg_abc_0", "status": "completed", "role": "assistant",
             "content": [{"type": "output_text", "text": "Checking.", "annotations": [], "logprobs": []}]},
            {"type": "function_call", "id": "fc_abc_1", "call_id": "toolu_1", "name": "weather",
             "arguments": "{\"city\":\"Paris\"}", "status": "completed"},
            {"type": "function_call", "id": "fc_abc_2", "call_id": "toolu_2", "name": "time", "arguments": "{}",
             "status": "completed"}
        ])
    );
    let mut only_calls = message(None);
    only_calls.tool_calls = Some(vec![tool_call("c", "f", "{}")]);
    let got = response(&answer(only_calls, FinishReason::ToolCalls, None), &request(json!({"model": "m"})), ID, 1);
    assert_eq!(got.output.len(), 1);
    assert_eq!(got.output[0].id(), "fc_abc_0");
}

#[test]
fn a_length_finish_is_incomplete_for_max_output_tokens_and_cuts_the_last_item() {
    let mut chat = message(Some("The answer is"));
    chat.reasoning_content = Some("Let me think".into());
    let got = response(&answer(chat, FinishReason::Length, Some(usage())), &request(json!({"model": "m"})), ID, 1);
    let value = serde_json::to_value(&got).unwrap();
    assert_eq!(value["status"], "incomplete");
    assert_eq!(value["incomplete_details"], json!({"reason": "max_output_tokens"}));
    assert_eq!(value["output"][0]["status"], "completed");
    assert_eq!(value["output"][1]["status"], "incomplete");
    assert_eq!(value["usage"]["output_tokens"], 10);
}

#[test]
fn a_content_filter_finish_is_incomplete_for_content_filter() {
    let mut chat = message(None);
    chat.refusal = Some("I can't help with that.".into());
    let got = response(&answer(chat, FinishReason::ContentFilter, None), &request(json!({"model": "m"})), ID, 1);
    let value = serde_json::to_value(&got).unwrap();
    assert_eq!(value["status"], "incomplete");
    assert_eq!(value["incomplete_details"], json!({"reason": "content_filter"}));
    assert_eq!(
        value["output"],
        json!([{"type": "message", "id": "msg_abc_0", "status": "incomplete", "role": "assistant",
                "content": [{"type": "refusal", "refusal": "I can't help with that."}]}])
    );
    let empty =
        response(&answer(message(None), FinishReason::ContentFilter, None), &request(json!({"model": "m"})), ID, 1);
    assert_eq!((empty.status, empty.output.len()), (Status::Incomplete, 0));
}

#[test]
fn reasoning_is_a_reasoning_item_with_its_text_and_signed_blocks_kept() {
    let mut chat = message(Some("42"));
    chat.reasoning_content = Some("Six times seven.".into());
    chat.thinking_blocks = Some(vec![
        ThinkingBlock::Thinking { thinking: "Six times seven.".into(), signature: Some("sig".into()) },
        ThinkingBlock::Thinking { thinking: "unsigned".into(), signature: None },
        ThinkingBlock::RedactedThinking { data: "xx".into() },
    ]);
    let kept = vec![
        ThinkingBlock::Thinking { thinking: "Six times seven.".into(), signature: Some("sig".into()) },
        ThinkingBlock::RedactedThinking { data: "xx".into() },
    ];
    let chat = answer(chat, FinishReason::Stop, None);
    let plain = response(&chat, &request(json!({"model": "m"})), ID, 1);
    let OutputItem::Reasoning(item) = &plain.output[0] else { panic!("{:?}", plain.output) };
    assert_eq!(item.thinking_blocks, kept);
    assert_eq!(
        serde_json::to_value(&plain.output[0]).unwrap(),
        json!({"type": "reasoning", "id": "rs_abc_0", "summary": [],
               "content": [{"type": "reasoning_text", "text": "Six times seven."}], "status": "completed"})
    );
    let included = response(&chat, &request(json!({"model": "m", "include": ["reasoning.encrypted_content"]})), ID, 1);
    let OutputItem::Reasoning(item) = &included.output[0] else { panic!("{:?}", included.output) };
    let encrypted = item.encrypted_content.as_deref().unwrap();
    assert_eq!(thinking_blocks(encrypted), Some(kept));
    assert_eq!(thinking_blocks("gAAAAAB-not-ours"), None);
    assert_eq!(thinking_blocks("[]"), None);
    assert_eq!(included.output[1].id(), "msg_abc_1");
}
