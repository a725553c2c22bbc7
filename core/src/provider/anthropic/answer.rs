//! A complete Messages answer as an OpenAI `chat.completion`.
//!
//! Text blocks are joined into `content` (null when there is none), `tool_use`
//! blocks become `tool_calls` with their input as JSON text, thinking blocks become
//! LiteLLM's `reasoning_content` (their text) and `thinking_blocks` (the blocks with
//! their signatures, and redacted thinking, for the client to send back). In JSON mode, the call of [`JSON_TOOL`] is the
//! answer: its input becomes `content` (the text around it, a preamble the client
//! did not ask for, is left out) and the answer stops rather than calls a tool.
//! Blocks of server tools (web search, code execution) have no place in an OpenAI
//! answer and are left out.

use super::wire::{ContentBlock, MessagesResponse, StopReason};
use super::{JSON_TOOL, finish_reason, usage};
use crate::openai::{ChatResponse, Choice, FinishReason, FunctionCall, ResponseMessage, ThinkingBlock, ToolCall};

/// The OpenAI answer for Anthropic's answer `body`, stamped `created` (unix
/// seconds). `Err` when the body is not a Messages answer (not JSON, cut short, of
/// another shape): the caller's `upstream_invalid_response` failure.
pub fn chat_response(body: &[u8], created: u64, json_mode: bool) -> Result<ChatResponse, String> {
    let answer: MessagesResponse =
        serde_json::from_slice(body).map_err(|e| format!("not an Anthropic Messages answer: {e}"))?;
    let mut text = String::new();
    let mut reasoning: Option<String> = None;
    let mut thinking_blocks = Vec::new();
    let mut tool_calls = Vec::new();
    let mut json_content: Option<String> = None;
    for block in answer.content {
        match block {
            ContentBlock::Text { text: piece, .. } => text.push_str(&piece),
            ContentBlock::Thinking { thinking, signature } => {
                reasoning.get_or_insert_default().push_str(&thinking);
                thinking_blocks.push(ThinkingBlock::Thinking {
                    thinking: thinking.into_owned(),
                    signature: (!signature.is_empty()).then(|| signature.into_owned()),
                });
            }
            ContentBlock::RedactedThinking { data } => {
                thinking_blocks.push(ThinkingBlock::RedactedThinking { data: data.into_owned() });
            }
            ContentBlock::ToolUse { id, name, input, .. } => {
                // Writing a JSON value to a string cannot fail.
                let arguments = serde_json::to_string(&input).unwrap_or_default();
                if json_mode && json_content.is_none() && name == JSON_TOOL {
                    json_content = Some(arguments);
                } else {
                    tool_calls.push(ToolCall {
                        id: id.into_owned(),
                        kind: "function".to_owned(),
                        function: FunctionCall { name: name.into_owned(), arguments },
                    });
                }
            }
            ContentBlock::Image { .. }
            | ContentBlock::Document { .. }
            | ContentBlock::ToolResult { .. }
            | ContentBlock::Unsupported => {}
        }
    }
    let stop = answer.stop_reason.unwrap_or(StopReason::EndTurn);
    let finish = match (&json_content, finish_reason(&stop)) {
        // The JSON tool's call is the answer, not a call for the client to make.
        (Some(_), FinishReason::ToolCalls) if tool_calls.is_empty() => FinishReason::Stop,
        (_, finish) => finish,
    };
    let content = match json_content {
        Some(json) => Some(json),
        None => (!text.is_empty()).then_some(text),
    };
    Ok(ChatResponse {
        id: answer.id,
        object: "chat.completion".to_owned(),
        created,
        model: answer.model,
        choices: vec![Choice {
            index: 0,
            message: ResponseMessage {
                role: "assistant".to_owned(),
                content,
                tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
                refusal: None,
                reasoning_content: reasoning,
                thinking_blocks: (!thinking_blocks.is_empty()).then_some(thinking_blocks),
            },
            finish_reason: Some(finish),
            logprobs: None,
        }],
        usage: Some(usage(&answer.usage)),
        system_fingerprint: None,
    })
}

#[cfg(test)]
mod tests;
