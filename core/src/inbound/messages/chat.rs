//! A Messages request as an OpenAI chat request: the inverse of the provider side's
//! mapping ([`crate::provider::anthropic::request`]), so that a request going
//! through both comes back as it was, but for the form (a string content comes back
//! as one text block, assistant text before its tool calls).
//!
//! - `system` is the first message, a system message (text parts with their cache
//!   marks when given as blocks);
//! - a user turn's `tool_result` blocks are `tool` messages, in order, before a user
//!   message with the turn's other blocks: text, images (base64 data as a `data:`
//!   URL), PDFs (OpenAI's `file` part, the document's title as its file name); a
//!   lone text without a cache mark is a string content, which every
//!   OpenAI-compatible server reads;
//! - an assistant turn's thinking blocks are LiteLLM's `thinking_blocks`, its text
//!   the content, its `tool_use` blocks `tool_calls` (the input as JSON text);
//! - tools are function tools (`strict` kept); `tool_choice` `any` is `required`,
//!   `tool` the named function, `disable_parallel_tool_use` the inverse of
//!   `parallel_tool_calls`; `stop_sequences` is `stop`, `metadata.user_id` is
//!   `user`, `output_config.format` a `json_schema` response format;
//! - `thinking` is kept as LiteLLM's `thinking` (what the provider side reads) and
//!   `output_config.effort` is `reasoning_effort` (`max`, which OpenAI lacks, is its
//!   highest, `xhigh`);
//! - a stream asks for the usage (`stream_options.include_usage`): Anthropic's
//!   stream ends with it;
//! - the gateway's keys go into the request unchanged, for the router.
//!
//! `is_error` on a tool result has no counterpart: the result's text says what went
//! wrong, and is kept.

use serde_json::{Value, json};

use super::MessagesError;
use super::request::{Effort, Request};
use crate::openai::{
    self, AssistantMessage, ChatRequest, Content, FunctionCall, FunctionDefinition, FunctionName, ImageUrl, JsonSchema,
    NamedFunction, Part, ResponseFormat, Stop, StreamOptions, SystemMessage, ThinkingBlock, ToolCall, ToolMessage,
    UserMessage,
};
use crate::provider::anthropic::wire::{
    ContentBlock, DocumentSource, ImageSource, Message, MessageContent, Role, System, SystemBlock, ToolChoice,
    ToolResultContent,
};

/// The name of the schema a JSON answer follows (Anthropic's format has none).
const SCHEMA_NAME: &str = "response";

/// `request` as an OpenAI chat request; [`MessagesError::AnthropicOnly`] when it
/// holds what only an Anthropic deployment can serve.
pub fn to_chat(request: &Request) -> Result<ChatRequest, MessagesError> {
    if let Some(what) = &request.anthropic_only {
        return Err(MessagesError::AnthropicOnly(what.clone()));
    }
    let mut messages = Vec::with_capacity(request.messages.len() + 1);
    if let Some(system) = request.system.as_ref().and_then(system_message) {
        messages.push(system);
    }
    for message in &request.messages {
        match message.role {
            Role::User => user_messages(message, &mut messages),
            Role::Assistant => messages.extend(assistant_message(message)),
        }
    }
    let mut extra = request.gateway.clone();
    if let Some(thinking) = &request.thinking {
        // Serializing a plain enum cannot fail.
        extra.insert("thinking".to_owned(), serde_json::to_value(thinking).unwrap_or_default());
    }
    if let Some(effort) = request.effort {
        extra.insert("reasoning_effort".to_owned(), Value::String(reasoning_effort(effort).to_owned()));
    }
    let (tool_choice, parallel_tool_calls) = tool_choice(request.tool_choice.as_ref());
    Ok(ChatRequest {
        model: request.model.clone(),
        messages,
        stream: request.stream,
        stream_options: request.stream.then_some(StreamOptions { include_usage: Some(true) }),
        max_tokens: Some(request.max_tokens),
        max_completion_tokens: None,
        temperature: request.temperature,
        top_p: request.top_p,
        top_k: request.top_k,
        n: None,
        stop: (!request.stop_sequences.is_empty()).then(|| Stop::Many(request.stop_sequences.clone())),
        tools: (!request.tools.is_empty()).then(|| request.tools.iter().map(tool).collect()),
        tool_choice,
        parallel_tool_calls,
        response_format: request.output_schema.as_ref().map(|schema| ResponseFormat::JsonSchema {
            json_schema: JsonSchema {
                name: SCHEMA_NAME.to_owned(),
                description: None,
                schema: Some(schema.clone()),
                strict: Some(true),
            },
        }),
        user: request.user_id.clone(),
        seed: None,
        extra,
    })
}

/// OpenAI's `reasoning_effort` for Anthropic's effort.
fn reasoning_effort(effort: Effort) -> &'static str {
    match effort {
        Effort::Low => "low",
        Effort::Medium => "medium",
        Effort::High => "high",
        Effort::XHigh | Effort::Max => "xhigh",
    }
}

fn system_message(system: &System<'_>) -> Option<openai::Message> {
    let content = match system {
        System::Text(text) if text.is_empty() => return None,
        System::Text(text) => Content::Text(text.to_string()),
        System::Blocks(blocks) if blocks.is_empty() => return None,
        System::Blocks(blocks) => Content::Parts(
            blocks
                .iter()
                .map(|SystemBlock::Text { text, cache_control }| Part::Text {
                    text: text.to_string(),
                    cache_control: cache_control.as_deref().cloned(),
                })
                .collect(),
        ),
    };
    Some(openai::Message::System(SystemMessage { content, name: None, cache_control: None }))
}

/// A user turn: its tool results as `tool` messages, then its other blocks.
fn user_messages(message: &Message<'_>, out: &mut Vec<openai::Message>) {
    let blocks = match &message.content {
        MessageContent::Text(text) => {
            out.push(user(Content::Text(text.to_string())));
            return;
        }
        MessageContent::Blocks(blocks) => blocks,
    };
    let mut parts = Vec::with_capacity(blocks.len());
    for block in blocks {
        match block {
            ContentBlock::ToolResult { tool_use_id, content, cache_control, .. } => {
                let content = match content {
                    None => Content::Text(String::new()),
                    Some(ToolResultContent::Text(text)) => Content::Text(text.to_string()),
                    Some(ToolResultContent::Blocks(blocks)) => Content::Parts(blocks.iter().filter_map(part).collect()),
                };
                out.push(openai::Message::Tool(ToolMessage {
                    content,
                    tool_call_id: tool_use_id.to_string(),
                    cache_control: cache_control.as_deref().cloned(),
                }));
            }
            other => parts.extend(part(other)),
        }
    }
    if !parts.is_empty() {
        out.push(user(content(parts)));
    }
}

/// Parts as a content: one plain text as a string (which every OpenAI-compatible
/// server reads), else the parts.
fn content(mut parts: Vec<Part>) -> Content {
    match parts.as_mut_slice() {
        [Part::Text { text, cache_control: None }] => Content::Text(std::mem::take(text)),
        _ => Content::Parts(parts),
    }
}

fn user(content: Content) -> openai::Message {
    openai::Message::User(UserMessage { content, name: None, cache_control: None })
}

/// A block of a user turn (or of a tool result) as a content part. Blocks with no
/// part were noted at parsing, and such a request never gets here.
fn part(block: &ContentBlock<'_>) -> Option<Part> {
    match block {
        ContentBlock::Text { text, cache_control } => {
            Some(Part::Text { text: text.to_string(), cache_control: cache_control.as_deref().cloned() })
        }
        ContentBlock::Image { source, cache_control } => {
            let url = match source {
                ImageSource::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
                ImageSource::Url { url } => url.to_string(),
                ImageSource::File { .. } => return None,
            };
            Some(Part::ImageUrl {
                image_url: ImageUrl { url, detail: None, format: None },
                cache_control: cache_control.as_deref().cloned(),
            })
        }
        ContentBlock::Document {
            source: DocumentSource::Base64 { media_type, data }, title, cache_control, ..
        } => {
            let mut file = json!({ "file_data": format!("data:{media_type};base64,{data}") });
            if let Some(title) = title {
                file["filename"] = Value::String(title.to_string());
            }
            let mut part = json!({ "type": "file", "file": file });
            if let Some(mark) = cache_control {
                part["cache_control"] = mark.clone().into_owned();
            }
            Some(Part::Other(part))
        }
        ContentBlock::Document { .. }
        | ContentBlock::ToolUse { .. }
        | ContentBlock::ToolResult { .. }
        | ContentBlock::Thinking { .. }
        | ContentBlock::RedactedThinking { .. }
        | ContentBlock::Unsupported => None,
    }
}

/// An assistant turn: its thinking, its text, its calls. An empty one (the final
/// prefill Anthropic lets be empty) is no message.
fn assistant_message(message: &Message<'_>) -> Option<openai::Message> {
    let blocks = match &message.content {
        MessageContent::Text(text) if text.is_empty() => return None,
        MessageContent::Text(text) => {
            let content = Some(Content::Text(text.to_string()));
            return Some(openai::Message::Assistant(AssistantMessage { content, ..AssistantMessage::default() }));
        }
        MessageContent::Blocks(blocks) => blocks,
    };
    let mut thinking_blocks = Vec::new();
    let mut texts = Vec::new();
    let mut tool_calls = Vec::new();
    for block in blocks {
        match block {
            ContentBlock::Thinking { thinking, signature } => thinking_blocks.push(ThinkingBlock::Thinking {
                thinking: thinking.to_string(),
                signature: (!signature.is_empty()).then(|| signature.to_string()),
            }),
            ContentBlock::RedactedThinking { data } => {
                thinking_blocks.push(ThinkingBlock::RedactedThinking { data: data.to_string() })
            }
            ContentBlock::Text { text, cache_control } => {
                texts.push(Part::Text { text: text.to_string(), cache_control: cache_control.as_deref().cloned() })
            }
            ContentBlock::ToolUse { id, name, input, .. } => tool_calls.push(ToolCall {
                id: id.to_string(),
                kind: "function".to_owned(),
                function: FunctionCall { name: name.to_string(), arguments: input.to_string() },
            }),
            ContentBlock::Image { .. }
            | ContentBlock::Document { .. }
            | ContentBlock::ToolResult { .. }
            | ContentBlock::Unsupported => {}
        }
    }
    // A cache mark on the turn's last block, a call (the provider side puts the
    // message's mark there).
    let cache_control = match blocks.last() {
        Some(ContentBlock::ToolUse { cache_control, .. }) => cache_control.as_deref().cloned(),
        _ => None,
    };
    let content = (!texts.is_empty()).then(|| content(texts));
    if content.is_none() && tool_calls.is_empty() && thinking_blocks.is_empty() {
        return None;
    }
    Some(openai::Message::Assistant(AssistantMessage {
        content,
        tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
        thinking_blocks: (!thinking_blocks.is_empty()).then_some(thinking_blocks),
        cache_control,
        ..AssistantMessage::default()
    }))
}

fn tool(tool: &super::request::ClientTool) -> openai::Tool {
    openai::Tool {
        kind: "function".to_owned(),
        function: FunctionDefinition {
            name: tool.tool.name.to_string(),
            description: tool.tool.description.as_deref().map(str::to_owned),
            parameters: Some(tool.tool.input_schema.clone().into_owned()),
            strict: tool.strict,
        },
        cache_control: tool.tool.cache_control.as_deref().cloned(),
    }
}

/// `tool_choice` and `parallel_tool_calls`.
fn tool_choice(choice: Option<&ToolChoice<'_>>) -> (Option<openai::ToolChoice>, Option<bool>) {
    let mode = |mode: &str| Some(openai::ToolChoice::Mode(mode.to_owned()));
    let parallel = |disable: &Option<bool>| disable.map(|disable| !disable);
    match choice {
        None => (None, None),
        Some(ToolChoice::Auto { disable_parallel_tool_use }) => (mode("auto"), parallel(disable_parallel_tool_use)),
        Some(ToolChoice::Any { disable_parallel_tool_use }) => (mode("required"), parallel(disable_parallel_tool_use)),
        Some(ToolChoice::Tool { name, disable_parallel_tool_use }) => (
            Some(openai::ToolChoice::Function(NamedFunction {
                kind: "function".to_owned(),
                function: FunctionName { name: name.to_string() },
            })),
            parallel(disable_parallel_tool_use),
        ),
        Some(ToolChoice::None) => (mode("none"), None),
    }
}

#[cfg(test)]
mod tests;
