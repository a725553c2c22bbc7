//! An OpenAI chat request as a Bedrock `Converse` request body.
//!
//! - System and developer messages become `system` blocks; user, assistant and
//!   tool messages become turns, and consecutive turns of one role are merged,
//!   as Bedrock wants user and assistant turns to alternate: tool results (a
//!   user turn's `toolResult` blocks) share their turn with the user message
//!   that follows them.
//! - Images are sent as bytes: a `data:` URL's base64 as it is. Bedrock cannot
//!   fetch an `https://` image, so one is a 400 naming the message.
//! - Text that is empty or only whitespace is left out of a turn: Bedrock
//!   refuses blank text blocks (an assistant turn of tool calls often has
//!   `content: ""`). A tool's result is sent as it is, blank or not.
//! - `cache_control` on a text or image part, a system part or a tool becomes
//!   a `cachePoint` after it, as LiteLLM maps it.
//! - `tool_choice`: `auto`, `required` (Bedrock's `any`) or a function (`tool`);
//!   `none` leaves the tools out, as LiteLLM does, unless the conversation has
//!   tool calls, which Bedrock refuses without tools (then the model may call).
//! - `response_format` (`json_object`, `json_schema`) becomes one more tool the
//!   model is made to call, as LiteLLM does; [`json_tool_name`] names it, for the
//!   answer's mapping to turn its call back into content.
//! - `top_k` and `thinking` / `reasoning_effort` go in
//!   `additionalModelRequestFields`, for the families that take them.
//! - `guardrailConfig` (LiteLLM's name for Bedrock's field) is passed on.
//! - Every other field Bedrock cannot take is a 400 naming it, or is dropped
//!   when `drop_params` is set. A field at OpenAI's default (`null`, `false`,
//!   `0`, `n: 1`) asks for nothing and is accepted; `user` (an end-user id for
//!   OpenAI's abuse monitoring) is not sent.

use std::borrow::Cow;

use serde_json::Value;
use serde_json::value::RawValue;

use super::family::{Family, ForcedTool, TopK};
use super::unsupported::{Unsupported, is_default};
use super::wire::{
    AdditionalFields, CachePoint, ContentBlock, ConverseRequest, Empty, ImageBlock, ImageFormat, ImageSource,
    InferenceConfig, InputSchema, Message as Turn, NovaInferenceConfig, Role, SystemBlock, Tool, ToolChoice,
    ToolConfig, ToolInput, ToolResultBlock, ToolResultContent, ToolSpec, ToolUseBlock,
};
use crate::error::ApiError;
use crate::openai::{
    AssistantMessage, ChatRequest, Content, ImageUrl, Message, Part, ResponseFormat, Stop,
    ToolChoice as OpenAiToolChoice, ToolMessage,
};
use crate::request::GATEWAY_ONLY_KEYS;

/// What the request's mapping depends on besides the request.
#[derive(Debug, Clone, Copy)]
pub struct RequestOptions<'a> {
    /// The Bedrock model id (`anthropic.claude-3-5-haiku-20241022-v1:0`, an
    /// inference profile or an ARN), which the client's `model` does not give.
    pub model: &'a str,
    /// Drop the fields Bedrock cannot take instead of refusing the request.
    pub drop_params: bool,
}

/// LiteLLM's name for the tool that carries a `json_object` answer.
pub const JSON_OBJECT_TOOL: &str = "json_tool_call";

/// The token budgets of `reasoning_effort` as LiteLLM maps it to Anthropic's
/// extended thinking.
const THINKING_BUDGETS: [(&str, u64); 3] = [("low", 1024), ("medium", 2048), ("high", 4096)];

/// The body of a `Converse` (or `ConverseStream`) request for `chat`.
pub fn body(chat: &ChatRequest, options: &RequestOptions<'_>) -> Result<Vec<u8>, ApiError> {
    let request = converse_request(chat, options)?;
    serde_json::to_vec(&request).map_err(|e| ApiError::Internal(format!("writing the Bedrock request: {e}")))
}

/// The name of the tool `response_format` became, if it asked for JSON: the
/// answer's call of it is the answer's content.
pub fn json_tool_name(chat: &ChatRequest) -> Option<&str> {
    match chat.response_format.as_ref()? {
        ResponseFormat::Text => None,
        ResponseFormat::JsonObject => Some(JSON_OBJECT_TOOL),
        ResponseFormat::JsonSchema { json_schema } => Some(&json_schema.name),
    }
}

fn converse_request<'a>(chat: &'a ChatRequest, options: &RequestOptions<'_>) -> Result<ConverseRequest<'a>, ApiError> {
    let family = Family::of(options.model);
    let mut unsupported = Unsupported::default();
    let (system, messages) = conversation(&chat.messages)?;

    let mut inference_config = InferenceConfig {
        max_tokens: chat.max_output_tokens(),
        temperature: chat.temperature,
        top_p: chat.top_p,
        stop_sequences: Vec::new(),
    };
    if let Some(stop) = &chat.stop {
        let sequences: &[String] = match stop {
            Stop::One(one) => std::slice::from_ref(one),
            Stop::Many(many) => many,
        };
        // Bedrock refuses an empty stop sequence; it would stop nothing.
        inference_config.stop_sequences = sequences.iter().map(String::as_str).filter(|s| !s.is_empty()).collect();
    }

    let mut additional = AdditionalFields::default();
    if let Some(k) = chat.top_k {
        match family.top_k() {
            Some(TopK::TopK) => additional.top_k = Some(k),
            Some(TopK::K) => additional.k = Some(k),
            Some(TopK::NovaInferenceConfig) => {
                additional.nova_inference_config = Some(NovaInferenceConfig { top_k: k })
            }
            None => unsupported.add("top_k"),
        }
    }
    if chat.n.is_some_and(|n| n != 1) {
        unsupported.add("n");
    }
    if chat.seed.is_some() {
        unsupported.add("seed");
    }
    if chat.parallel_tool_calls == Some(false) {
        unsupported.add("parallel_tool_calls");
    }

    let mut guardrail_config = None;
    for (name, value) in &chat.extra {
        match name.as_str() {
            _ if value.is_null() => {}
            // The gateway's own fields are read by the router, never sent.
            _ if GATEWAY_ONLY_KEYS.contains(&name.as_str()) => {}
            "thinking" if family.thinks() => additional.thinking = Some(Cow::Borrowed(value)),
            "reasoning_effort" if family.thinks() => additional.thinking = thinking_budget(value)?,
            "guardrailConfig" => guardrail_config = Some(value),
            _ if is_default(value) => {}
            _ => unsupported.add_extra(name),
        }
    }

    let tool_config = tool_config(chat, family, additional.thinking.is_some(), &messages)?;
    unsupported.check("Bedrock's Converse API", options.drop_params)?;
    Ok(ConverseRequest {
        messages,
        system,
        inference_config,
        tool_config,
        additional_model_request_fields: additional,
        guardrail_config,
    })
}

/// `reasoning_effort` as a thinking budget; `none` turns thinking off.
fn thinking_budget(value: &Value) -> Result<Option<Cow<'static, Value>>, ApiError> {
    let effort = value.as_str().unwrap_or("");
    if effort == "none" {
        return Ok(None);
    }
    let Some(&(_, budget)) = THINKING_BUDGETS.iter().find(|(name, _)| *name == effort) else {
        return Err(ApiError::InvalidParam {
            param: "reasoning_effort",
            message: format!("`reasoning_effort` must be one of none, low, medium, high; got {value}"),
        });
    };
    Ok(Some(Cow::Owned(serde_json::json!({"type": "enabled", "budget_tokens": budget}))))
}

fn invalid(message: String) -> ApiError {
    ApiError::InvalidParam { param: "messages", message }
}

/// The system blocks and the alternating turns.
fn conversation(messages: &[Message]) -> Result<(Vec<SystemBlock<'_>>, Vec<Turn<'_>>), ApiError> {
    let mut system = Vec::new();
    let mut turns: Vec<Turn<'_>> = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        let (role, content) = match message {
            Message::System(m) | Message::Developer(m) => {
                system_blocks(i, &m.content, &mut system)?;
                continue;
            }
            Message::User(m) => (Role::User, user_blocks(i, &m.content)?),
            Message::Assistant(m) => (Role::Assistant, assistant_blocks(i, m)?),
            Message::Tool(m) => (Role::User, vec![ContentBlock::ToolResult(tool_result(i, m)?)]),
        };
        if content.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some(last) if last.role == role => last.content.extend(content),
            _ => turns.push(Turn { role, content }),
        }
    }
    if turns.is_empty() {
        return Err(invalid(
            "Bedrock needs at least one user or assistant message with content besides the system prompt".into(),
        ));
    }
    Ok((system, turns))
}

fn is_blank(text: &str) -> bool {
    text.trim().is_empty()
}

fn system_blocks<'a>(i: usize, content: &'a Content, out: &mut Vec<SystemBlock<'a>>) -> Result<(), ApiError> {
    match content {
        Content::Text(text) if !is_blank(text) => out.push(SystemBlock::Text(text)),
        Content::Text(_) => {}
        Content::Parts(parts) => {
            for part in parts {
                let Part::Text { text, cache_control } = part else {
                    return Err(invalid(format!(
                        "messages[{i}]: a system message takes text parts only on Bedrock, not {}",
                        part_kind(part)
                    )));
                };
                if !is_blank(text) {
                    out.push(SystemBlock::Text(text));
                    if cache_control.is_some() {
                        out.push(SystemBlock::CachePoint(CachePoint));
                    }
                }
            }
        }
    }
    Ok(())
}

fn user_blocks(i: usize, content: &Content) -> Result<Vec<ContentBlock<'_>>, ApiError> {
    let mut blocks = Vec::new();
    match content {
        Content::Text(text) if !is_blank(text) => blocks.push(ContentBlock::Text(text)),
        Content::Text(_) => {}
        Content::Parts(parts) => {
            for part in parts {
                let cache_control = match part {
                    Part::Text { text, .. } if is_blank(text) => continue,
                    Part::Text { text, cache_control } => {
                        blocks.push(ContentBlock::Text(text));
                        cache_control
                    }
                    Part::ImageUrl { image_url, cache_control } => {
                        blocks.push(ContentBlock::Image(image(i, image_url)?));
                        cache_control
                    }
                    Part::Refusal { .. } | Part::Other(_) => {
                        return Err(invalid(format!(
                            "messages[{i}]: Bedrock's Converse API takes text and image parts in a user message, not {}",
                            part_kind(part)
                        )));
                    }
                };
                if cache_control.is_some() {
                    blocks.push(ContentBlock::CachePoint(CachePoint));
                }
            }
        }
    }
    Ok(blocks)
}

fn assistant_blocks(i: usize, message: &AssistantMessage) -> Result<Vec<ContentBlock<'_>>, ApiError> {
    let mut blocks = Vec::new();
    match &message.content {
        Some(Content::Text(text)) if !is_blank(text) => blocks.push(ContentBlock::Text(text)),
        Some(Content::Text(_)) => {}
        Some(Content::Parts(parts)) => {
            for part in parts {
                match part {
                    Part::Text { text, .. } | Part::Refusal { refusal: text } if !is_blank(text) => {
                        blocks.push(ContentBlock::Text(text));
                    }
                    Part::Text { .. } | Part::Refusal { .. } => {}
                    Part::ImageUrl { .. } | Part::Other(_) => {
                        return Err(invalid(format!(
                            "messages[{i}]: an assistant message takes text parts only on Bedrock, not {}",
                            part_kind(part)
                        )));
                    }
                }
            }
        }
        None => {
            if let Some(refusal) = message.refusal.as_deref().filter(|r| !is_blank(r)) {
                blocks.push(ContentBlock::Text(refusal));
            }
        }
    }
    for (j, call) in message.tool_calls.iter().flatten().enumerate() {
        let arguments = call.function.arguments.trim();
        let input =
            if arguments.is_empty() {
                ToolInput::Empty
            } else {
                ToolInput::Json(serde_json::from_str::<&RawValue>(arguments).map_err(|e| {
                    invalid(format!("messages[{i}].tool_calls[{j}].function.arguments is not JSON: {e}"))
                })?)
            };
        blocks.push(ContentBlock::ToolUse(ToolUseBlock { tool_use_id: &call.id, name: &call.function.name, input }));
    }
    Ok(blocks)
}

fn tool_result(i: usize, message: &ToolMessage) -> Result<ToolResultBlock<'_>, ApiError> {
    let mut content = Vec::new();
    match &message.content {
        Content::Text(text) => content.push(ToolResultContent::Text(text)),
        Content::Parts(parts) => {
            for part in parts {
                match part {
                    Part::Text { text, .. } => content.push(ToolResultContent::Text(text)),
                    Part::ImageUrl { image_url, .. } => content.push(ToolResultContent::Image(image(i, image_url)?)),
                    Part::Refusal { .. } | Part::Other(_) => {
                        return Err(invalid(format!(
                            "messages[{i}]: a tool message takes text and image parts on Bedrock, not {}",
                            part_kind(part)
                        )));
                    }
                }
            }
        }
    }
    if content.is_empty() {
        // Bedrock refuses a result without content; an empty text is accepted.
        content.push(ToolResultContent::Text(""));
    }
    Ok(ToolResultBlock { tool_use_id: &message.tool_call_id, content })
}

fn image(i: usize, image_url: &ImageUrl) -> Result<ImageBlock<'_>, ApiError> {
    let Some(data) = image_url.data() else {
        return Err(invalid(format!(
            "messages[{i}]: Bedrock takes images as bytes only; send the image as a data URL \
             (data:image/png;base64,...) instead of a link"
        )));
    };
    let Some(format) = ImageFormat::of_media_type(data.media_type) else {
        return Err(invalid(format!(
            "messages[{i}]: Bedrock takes png, jpeg, gif and webp images, not {}",
            data.media_type
        )));
    };
    Ok(ImageBlock { format, source: ImageSource { bytes: data.base64 } })
}

/// How a part is named in an error: its `type`.
fn part_kind(part: &Part) -> String {
    match part {
        Part::Text { .. } => "a text part".into(),
        Part::ImageUrl { .. } => "an image_url part".into(),
        Part::Refusal { .. } => "a refusal part".into(),
        Part::Other(value) => match value.get("type").and_then(Value::as_str) {
            Some(kind) => format!("a `{kind}` part"),
            None => "a part without a type".into(),
        },
    }
}

/// The tools, the JSON-answer tool and the tool choice.
fn tool_config<'a>(
    chat: &'a ChatRequest,
    family: Family,
    thinking: bool,
    turns: &[Turn<'_>],
) -> Result<Option<ToolConfig<'a>>, ApiError> {
    let mut tools = Vec::new();
    for tool in chat.tools.iter().flatten() {
        if tool.kind != "function" {
            return Err(ApiError::InvalidParam {
                param: "tools",
                message: format!("Bedrock takes function tools only, not `{}` tools", tool.kind),
            });
        }
        let function = &tool.function;
        tools.push(Tool::ToolSpec(ToolSpec {
            name: &function.name,
            description: function.description.as_deref(),
            input_schema: InputSchema { json: function.parameters.as_ref().map_or_else(empty_schema, Cow::Borrowed) },
        }));
        if tool.cache_control.is_some() {
            tools.push(Tool::CachePoint(CachePoint));
        }
    }

    let mut tool_choice = match &chat.tool_choice {
        None => None,
        Some(OpenAiToolChoice::Mode(mode)) => match mode.as_str() {
            "auto" => Some(ToolChoice::Auto(Empty {})),
            "required" => Some(ToolChoice::Any(Empty {})),
            // Bedrock has no way to forbid calls but to offer no tools. It refuses
            // a conversation with tool calls and results unless tools are
            // defined, though: then they stay, and the model may call one.
            "none" => {
                let has_tool_blocks = turns
                    .iter()
                    .flat_map(|turn| &turn.content)
                    .any(|block| matches!(block, ContentBlock::ToolUse(_) | ContentBlock::ToolResult(_)));
                if !has_tool_blocks {
                    tools.clear();
                }
                None
            }
            other => {
                return Err(ApiError::InvalidParam {
                    param: "tool_choice",
                    message: format!("`tool_choice` must be none, auto, required or a function; got `{other}`"),
                });
            }
        },
        Some(OpenAiToolChoice::Function(named)) => Some(ToolChoice::Tool { name: &named.function.name }),
    };

    let json_tool = match &chat.response_format {
        None | Some(ResponseFormat::Text) => None,
        Some(ResponseFormat::JsonObject) => Some((JSON_OBJECT_TOOL, None, None)),
        Some(ResponseFormat::JsonSchema { json_schema }) => {
            Some((json_schema.name.as_str(), json_schema.description.as_deref(), json_schema.schema.as_ref()))
        }
    };
    if let Some((name, description, schema)) = json_tool {
        tools.push(Tool::ToolSpec(ToolSpec {
            name,
            description,
            input_schema: InputSchema { json: schema.map_or_else(any_object_schema, Cow::Borrowed) },
        }));
        // Anthropic refuses a forced tool while it thinks: the tool is offered.
        if !thinking {
            match family.forced_tool() {
                ForcedTool::ByName => tool_choice = Some(ToolChoice::Tool { name }),
                ForcedTool::Any if tools.len() == 1 => tool_choice = Some(ToolChoice::Any(Empty {})),
                ForcedTool::Any | ForcedTool::No => {}
            }
        }
    }
    // Without tools a choice means nothing, and Bedrock refuses an empty list.
    Ok((!tools.is_empty()).then_some(ToolConfig { tools, tool_choice }))
}

/// The schema of a function declared without `parameters`: no arguments.
fn empty_schema<'a>() -> Cow<'a, Value> {
    Cow::Owned(serde_json::json!({"type": "object", "properties": {}}))
}

/// The schema of a `json_object` answer: any object.
fn any_object_schema<'a>() -> Cow<'a, Value> {
    Cow::Owned(serde_json::json!({"type": "object", "additionalProperties": true, "properties": {}}))
}

#[cfg(test)]
mod tests;
