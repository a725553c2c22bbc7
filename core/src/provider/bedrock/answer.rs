//! A `Converse` answer as an OpenAI chat completion.
//!
//! The output message's text blocks are joined into `content`, its `toolUse`
//! blocks become `tool_calls` (their input, kept as the JSON text it was sent
//! as, is the `arguments`), and its reasoning text becomes `reasoning_content`.
//! When the request asked for JSON ([`super::request::json_tool_name`]), the
//! call of that tool is the answer: its input is the `content`, and the
//! answer stops rather than asks for tool calls. A guardrail's intervention is
//! not an answer but a content-policy failure (which `content_policy_fallbacks`
//! may take), as LiteLLM raises it.

use super::wire::{ConverseResponse, StopReason};
use crate::failure::Failure;
use crate::openai::{ChatResponse, Choice, FinishReason, FunctionCall, ResponseMessage, ToolCall};
use crate::translate::Refusal;

/// The answer of `body`, stamped with `model` and `created` (Unix seconds);
/// `id_seed` makes its id, as Bedrock sends none. An `Err` when `body` is not a
/// Converse answer, or when a guardrail intervened: the prompt (or the answer)
/// was refused, a content-policy failure (its text is the guardrail's message).
pub fn chat_response(
    body: &[u8],
    model: &str,
    created: u64,
    id_seed: u64,
    json_tool: Option<&str>,
) -> Result<ChatResponse, Refusal> {
    let answer: ConverseResponse = serde_json::from_slice(body)
        .map_err(|e| Refusal::Invalid(format!("the answer is not a Converse response: {e}")))?;
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut json_answer: Option<String> = None;
    let mut tool_calls = Vec::new();
    for block in answer.output.message.map(|message| message.content).unwrap_or_default() {
        if let Some(block_text) = block.text {
            text.push_str(&block_text);
        }
        if let Some(tool) = block.tool_use {
            if json_tool == Some(tool.name.as_str()) {
                json_answer = Some(tool.input.get().to_owned());
            } else {
                tool_calls.push(ToolCall {
                    id: tool.tool_use_id,
                    kind: "function".to_owned(),
                    function: FunctionCall { name: tool.name, arguments: tool.input.get().to_owned() },
                });
            }
        }
        if let Some(thought) = block.reasoning_content.and_then(|reasoning| reasoning.reasoning_text) {
            reasoning.push_str(&thought.text);
        }
    }

    if answer.stop_reason == StopReason::GuardrailIntervened {
        let said = if text.is_empty() { String::new() } else { format!(": {text}") };
        let failure = Failure::content_policy(format!("Bedrock's guardrail intervened{said}"));
        return Err(Refusal::Blocked(Box::new(failure)));
    }
    let mut finish_reason = answer.stop_reason.finish_reason();
    if let Some(json) = json_answer {
        // What the model wrote around the call is not the JSON asked for.
        text = json;
        if tool_calls.is_empty() && finish_reason == FinishReason::ToolCalls {
            finish_reason = FinishReason::Stop;
        }
    }
    // OpenAI sends `content: null` with tool calls and no text.
    let content = (!text.is_empty() || tool_calls.is_empty()).then_some(text);
    Ok(ChatResponse {
        id: format!("chatcmpl-{id_seed:016x}"),
        object: "chat.completion".to_owned(),
        created,
        model: model.to_owned(),
        choices: vec![Choice {
            index: 0,
            message: ResponseMessage {
                role: "assistant".to_owned(),
                content,
                tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
                refusal: None,
                reasoning_content: (!reasoning.is_empty()).then_some(reasoning),
                thinking_blocks: None,
            },
            finish_reason: Some(finish_reason),
            logprobs: None,
        }],
        usage: answer.usage.map(|usage| usage.to_openai()),
        system_fingerprint: None,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn answer(body: Value, json_tool: Option<&str>) -> Value {
        let bytes = serde_json::to_vec(&body).unwrap();
        serde_json::to_value(chat_response(&bytes, "claude", 1_700_000_000, 0xabc, json_tool).unwrap()).unwrap()
    }

    #[test]
    fn a_text_answer_with_usage() {
        let response = answer(
            json!({
                "output": {"message": {"role": "assistant", "content": [{"text": "Hello, "}, {"text": "world."}]}},
                "stopReason": "end_turn",
                "usage": {"inputTokens": 12, "outputTokens": 4, "totalTokens": 16, "cacheReadInputTokens": 100},
                "metrics": {"latencyMs": 321}
            }),
            None,
        );
        assert_eq!(
            response,
            json!({
                "id": "chatcmpl-0000000000000abc",
                "object": "chat.completion",
                "created": 1_700_000_000,
                "model": "claude",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello, world."},
                    "finish_reason": "stop", "logprobs": null}],
                "usage": {"prompt_tokens": 112, "completion_tokens": 4, "total_tokens": 116,
                    "prompt_tokens_details": {"cached_tokens": 100}}
            })
        );
    }

    #[test]
    fn tool_use_becomes_tool_calls_with_json_text_arguments() {
        let response = answer(
            json!({
                "output": {"message": {"role": "assistant", "content": [
                    {"reasoningContent": {"reasoningText": {"text": "The user wants weather.", "signature": "sig"}}},
                    {"toolUse": {"toolUseId": "tooluse_a", "name": "weather", "input": {"city": "Paris", "days": [1, 2]}}},
                    {"toolUse": {"toolUseId": "tooluse_b", "name": "now", "input": {}}}
                ]}},
                "stopReason": "tool_use",
                "usage": {"inputTokens": 1, "outputTokens": 2, "totalTokens": 3}
            }),
            None,
        );
        let message = &response["choices"][0]["message"];
        assert_eq!(message["content"], Value::Null);
        assert_eq!(message["reasoning_content"], "The user wants weather.");
        assert_eq!(
            message["tool_calls"],
            json!([
                {"id": "tooluse_a", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\",\"days\":[1,2]}"}},
                {"id": "tooluse_b", "type": "function", "function": {"name": "now", "arguments": "{}"}}
            ])
        );
        assert_eq!(response["choices"][0]["finish_reason"], "tool_calls");
    }

    #[test]
    fn stop_reasons_map_to_finish_reasons() {
        for (stop, finish) in [
            ("end_turn", "stop"),
            ("stop_sequence", "stop"),
            ("max_tokens", "length"),
            ("model_context_window_exceeded", "length"),
            ("tool_use", "tool_calls"),
            ("content_filtered", "content_filter"),
            ("malformed_model_output", "stop"),
            ("something_new", "stop"),
        ] {
            let response = answer(
                json!({"output": {"message": {"role": "assistant", "content": [{"text": "x"}]}}, "stopReason": stop}),
                None,
            );
            assert_eq!(response["choices"][0]["finish_reason"], finish, "{stop}");
        }
    }

    #[test]
    fn the_json_tools_call_is_the_content() {
        let response = answer(
            json!({
                "output": {"message": {"role": "assistant", "content": [
                    {"text": "Here is the JSON:"},
                    {"toolUse": {"toolUseId": "t", "name": "animal", "input": {"name": "cat"}}}
                ]}},
                "stopReason": "tool_use"
            }),
            Some("animal"),
        );
        assert_eq!(response["choices"][0]["message"], json!({"role": "assistant", "content": "{\"name\":\"cat\"}"}));
        assert_eq!(response["choices"][0]["finish_reason"], "stop");
    }

    #[test]
    fn a_guardrails_intervention_is_a_content_policy_failure_with_its_message() {
        for (content, message) in [
            (
                json!([{"text": "Sorry, I cannot help with that."}]),
                "Bedrock's guardrail intervened: Sorry, I cannot help with that.",
            ),
            (json!([]), "Bedrock's guardrail intervened"),
        ] {
            let body = json!({"output": {"message": {"role": "assistant", "content": content}}, "stopReason": "guardrail_intervened"});
            let bytes = serde_json::to_vec(&body).unwrap();
            let Err(Refusal::Blocked(failure)) = chat_response(&bytes, "m", 0, 0, None) else { panic!("not refused") };
            assert_eq!(failure.class, crate::failure::FailureClass::ContentPolicy);
            assert_eq!(failure.error.to_string(), message);
        }
    }

    #[test]
    fn a_body_that_is_not_a_converse_answer_is_an_error() {
        assert!(chat_response(b"<html>", "m", 0, 0, None).is_err());
        let openai = br#"{"id":"x","choices":[]}"#;
        let Err(Refusal::Invalid(err)) = chat_response(openai, "m", 0, 0, None) else { panic!("not refused") };
        assert!(err.starts_with("the answer is not a Converse response"), "{err}");
    }
}
