use serde_json::{Value, json};

use super::*;
use crate::inbound::responses::chat::to_chat;
use crate::inbound::responses::request::parse;
use crate::inbound::responses::response::response;
use crate::openai::{ChatResponse, Choice, FinishReason, ResponseMessage, ThinkingBlock};

fn request(body: Value) -> crate::inbound::responses::request::Request {
    parse(body.to_string().as_bytes()).unwrap()
}

fn answer(content: Option<&str>, tool_calls: Option<Vec<ToolCall>>, finish: FinishReason) -> ChatResponse {
    ChatResponse {
        id: "chatcmpl-1".into(),
        object: "chat.completion".into(),
        created: 1,
        model: "claude".into(),
        choices: vec![Choice {
            index: 0,
            message: ResponseMessage {
                role: "assistant".into(),
                content: content.map(str::to_owned),
                tool_calls,
                refusal: None,
                reasoning_content: None,
                thinking_blocks: None,
            },
            finish_reason: Some(finish),
            logprobs: None,
        }],
        usage: None,
        system_fingerprint: None,
    }
}

fn weather_call() -> ToolCall {
    ToolCall {
        id: "toolu_1".into(),
        kind: "function".into(),
        function: openai::FunctionCall { name: "weather".into(), arguments: "{\"city\":\"Paris\"}".into() },
    }
}

/// Through JSON, as the caller keeps it.
fn kept(stored: &Stored) -> Stored {
    serde_json::from_slice(&serde_json::to_vec(stored).unwrap()).unwrap()
}

#[test]
fn a_two_turn_function_calling_conversation_chains_through_stored() {
    let tools = json!([{"type": "function", "name": "weather", "parameters": {"type": "object"}}]);
    // Turn 1: the model calls the function.
    let first =
        request(json!({"model": "m", "instructions": "You forecast.", "input": "Weather in Paris?", "tools": tools}));
    let first_chat = to_chat(&first, None).unwrap();
    let first_response =
        response(&answer(None, Some(vec![weather_call()]), FinishReason::ToolCalls), &first, "resp_1", 1);
    assert_eq!(first_response.output[0].id(), "fc_1_0");
    let first_stored = kept(&stored(&first_chat, &first_response));
    assert_eq!(
        serde_json::to_value(&first_stored.conversation).unwrap(),
        json!([
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "tool_calls": [
                {"id": "toolu_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}
            ]}
        ])
    );
    assert_eq!(first_stored.response, first_response);

    // Turn 2: the client answers the call, with new instructions.
    let second = request(json!({"model": "m", "previous_response_id": "resp_1", "instructions": "Answer in French.",
        "tools": tools, "input": [{"type": "function_call_output", "call_id": "toolu_1", "output": "{\"sky\":\"clear\"}"}]}));
    let second_chat = to_chat(&second, Some(&first_stored)).unwrap();
    // A client that sends the call back too gets the same conversation.
    let resent = request(json!({"model": "m", "previous_response_id": "resp_1", "instructions": "Answer in French.",
    "tools": tools, "input": [
        {"type": "function_call", "id": "fc_1_0", "call_id": "toolu_1", "name": "weather",
         "arguments": "{\"city\":\"Paris\"}", "status": "completed"},
        {"type": "function_call_output", "call_id": "toolu_1", "output": "{\"sky\":\"clear\"}"}
    ]}));
    assert_eq!(to_chat(&resent, Some(&first_stored)).unwrap(), second_chat);
    assert_eq!(
        serde_json::to_value(&second_chat.messages).unwrap(),
        json!([
            {"role": "system", "content": "Answer in French."},
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "tool_calls": [
                {"id": "toolu_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}
            ]},
            {"role": "tool", "tool_call_id": "toolu_1", "content": "{\"sky\":\"clear\"}"}
        ])
    );
    let second_response = response(&answer(Some("Ciel dégagé."), None, FinishReason::Stop), &second, "resp_2", 2);
    assert_eq!(second_response.previous_response_id.as_deref(), Some("resp_1"));
    let second_stored = kept(&stored(&second_chat, &second_response));

    // Turn 3: a plain follow-up sees the whole conversation, no instructions of before.
    let third = request(json!({"model": "m", "previous_response_id": "resp_2", "input": "Merci !"}));
    let third_chat = to_chat(&third, Some(&second_stored)).unwrap();
    assert_eq!(
        serde_json::to_value(&third_chat.messages).unwrap(),
        json!([
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "tool_calls": [
                {"id": "toolu_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}
            ]},
            {"role": "tool", "tool_call_id": "toolu_1", "content": "{\"sky\":\"clear\"}"},
            {"role": "assistant", "content": "Ciel dégagé."},
            {"role": "user", "content": "Merci !"}
        ])
    );
}

#[test]
fn the_answer_keeps_its_refusal_and_signed_thinking_and_an_empty_one_adds_nothing() {
    let request = request(json!({"model": "m", "input": "Q"}));
    let chat = to_chat(&request, None).unwrap();
    let mut thinking = answer(Some("A"), Some(vec![weather_call()]), FinishReason::ToolCalls);
    let message = &mut thinking.choices[0].message;
    message.reasoning_content = Some("hm".into());
    message.thinking_blocks =
        Some(vec![ThinkingBlock::Thinking { thinking: "hm".into(), signature: Some("s".into()) }]);
    message.refusal = Some("partly".into());
    let kept = kept(&stored(&chat, &response(&thinking, &request, "resp_1", 1)));
    assert_eq!(
        serde_json::to_value(&kept.conversation[1]).unwrap(),
        json!({"role": "assistant", "content": "A", "refusal": "partly",
            "tool_calls": [{"id": "toolu_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}],
            "thinking_blocks": [{"type": "thinking", "thinking": "hm", "signature": "s"}]})
    );
    let empty = stored(&chat, &response(&answer(None, None, FinishReason::Stop), &request, "resp_2", 1));
    assert_eq!(serde_json::to_value(&empty.conversation).unwrap(), json!([{"role": "user", "content": "Q"}]));
}

#[test]
fn only_the_instructions_are_left_out_not_an_equal_system_message_of_the_input() {
    let input = json!([{"role": "system", "content": "Rules."}, {"role": "user", "content": "Q"}]);
    let expected = json!([
        {"role": "system", "content": "Rules."},
        {"role": "user", "content": "Q"},
        {"role": "assistant", "content": "A"}
    ]);
    for body in [json!({"model": "m", "input": input}), json!({"model": "m", "instructions": "Rules.", "input": input})]
    {
        let request = request(body.clone());
        let chat = to_chat(&request, None).unwrap();
        let kept = stored(&chat, &response(&answer(Some("A"), None, FinishReason::Stop), &request, "resp_1", 1));
        assert_eq!(serde_json::to_value(&kept.conversation).unwrap(), expected, "{body}");
    }
}
