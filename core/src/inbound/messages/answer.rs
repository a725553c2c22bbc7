//! An OpenAI answer as Anthropic's `message` object: the inverse of the provider
//! side's [`crate::provider::anthropic::answer`].
//!
//! The content is the thinking (LiteLLM's `thinking_blocks` with their signatures,
//! else `reasoning_content` as one unsigned block), then the text (a refusal is
//! text too), then one `tool_use` block per call, its input the parsed arguments.
//! Arguments that are not a JSON object (cut short, or a bare value) become `{}`:
//! Anthropic's input is always an object, and a tool given `{}` fails its own
//! checks, which the model sees and corrects, where a made-up object would be
//! silently wrong. The stop reason comes through [`stop_reason`] (a missing one is
//! `end_turn`), the usage through [`anthropic_usage`] (all zeros when the provider
//! reported none).

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::openai::{ChatResponse, ResponseMessage, ThinkingBlock, ToolCall};
use crate::provider::anthropic::wire::{ContentBlock, MessageKind, MessagesResponse, Role, StopReason};
use crate::provider::anthropic::{anthropic_usage, stop_reason};

/// Anthropic's answer for `response`, named as the client asked (`model`).
pub fn message(response: &ChatResponse, model: &str) -> MessagesResponse {
    let choice = response.choices.first();
    let content = choice.map(|choice| content(&choice.message)).unwrap_or_default();
    MessagesResponse {
        id: message_id(&response.id),
        kind: MessageKind::Message,
        role: Role::Assistant,
        model: model.to_owned(),
        content,
        stop_reason: Some(choice.and_then(|choice| choice.finish_reason).map_or(StopReason::EndTurn, stop_reason)),
        stop_sequence: None,
        usage: response.usage.as_ref().map(anthropic_usage).unwrap_or_default(),
    }
}

/// Anthropic's id for an answer's: Anthropic's own ids (`msg_...`, from an
/// Anthropic deployment) as they are, any other behind `msg_`.
pub fn message_id(id: &str) -> String {
    if id.starts_with("msg_") { id.to_owned() } else { format!("msg_{id}") }
}

fn content(message: &ResponseMessage) -> Vec<ContentBlock<'static>> {
    let mut blocks = Vec::new();
    match (&message.thinking_blocks, &message.reasoning_content) {
        (Some(thinking), _) => blocks.extend(thinking.iter().map(thinking_block)),
        (None, Some(reasoning)) if !reasoning.is_empty() => blocks
            .push(ContentBlock::Thinking { thinking: Cow::Owned(reasoning.clone()), signature: Cow::Borrowed("") }),
        (None, _) => {}
    }
    for text in [&message.content, &message.refusal].into_iter().flatten() {
        if !text.is_empty() {
            blocks.push(ContentBlock::Text { text: Cow::Owned(text.clone()), cache_control: None });
        }
    }
    blocks.extend(message.tool_calls.iter().flatten().map(tool_use));
    blocks
}

pub(super) fn thinking_block(block: &ThinkingBlock) -> ContentBlock<'static> {
    match block {
        ThinkingBlock::Thinking { thinking, signature } => ContentBlock::Thinking {
            thinking: Cow::Owned(thinking.clone()),
            signature: Cow::Owned(signature.clone().unwrap_or_default()),
        },
        ThinkingBlock::RedactedThinking { data } => ContentBlock::RedactedThinking { data: Cow::Owned(data.clone()) },
    }
}

fn tool_use(call: &ToolCall) -> ContentBlock<'static> {
    ContentBlock::ToolUse {
        id: Cow::Owned(call.id.clone()),
        name: Cow::Owned(call.function.name.clone()),
        input: Cow::Owned(input(&call.function.arguments)),
        cache_control: None,
    }
}

/// A call's arguments as Anthropic's input: the JSON object they are, else `{}`.
pub(super) fn input(arguments: &str) -> Value {
    match serde_json::from_str::<Value>(arguments) {
        Ok(object @ Value::Object(_)) => object,
        _ => Value::Object(Map::new()),
    }
}

#[cfg(test)]
mod tests;
