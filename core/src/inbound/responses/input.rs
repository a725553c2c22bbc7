//! A request's `input`: a string (one user message) or an array of items, parsed
//! and checked as OpenAI checks them.
//!
//! The items a Chat Completions conversation can hold are typed: messages (of a
//! user, the system, a developer, or the assistant's earlier answers), function
//! calls and their outputs, and reasoning. Unknown fields, roles, part types and
//! item types are refused, as OpenAI refuses them. Items only OpenAI's own service
//! can use (a built-in tool's calls and outputs, `item_reference`) are kept by
//! their type: the bridge to Chat Completions refuses them, a deployment of
//! OpenAI's Responses API may take them.

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::error::ApiError;

use super::fields::{invalid, typed, wrong_type};

const PARAM: &str = "input";

/// One input item.
#[derive(Debug, Clone, PartialEq)]
pub enum InputItem {
    Message(InputMessage),
    FunctionCall(FunctionCall),
    FunctionCallOutput(FunctionCallOutput),
    Reasoning(Reasoning),
    /// An item only OpenAI's service can use, by its `type`.
    OpenAiOnly(String),
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
    System,
    Developer,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InputMessage {
    pub role: Role,
    pub content: Content,
}

/// A message's content, or a function call's output: a string, or parts.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    Text(String),
    Parts(Vec<Part>),
}

/// One part of a message. The role decides which may appear: `input_text`,
/// `input_image` and `input_file` in a user's, the system's or a developer's
/// message (and a function call's output); `output_text` and `refusal` in the
/// assistant's.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// `input_text` or `output_text`.
    Text {
        text: String,
        /// LiteLLM's prompt caching marker, carried to the chat part.
        cache_control: Option<Value>,
    },
    Image {
        source: ImageSource,
        detail: Option<Detail>,
        cache_control: Option<Value>,
    },
    File {
        source: FileSource,
        filename: Option<String>,
    },
    Refusal(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// An `https://` or `data:` URL.
    Url(String),
    /// A file uploaded to OpenAI's Files API.
    FileId(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileSource {
    /// The file's content, as a `data:` URL or base64.
    Data(String),
    FileId(String),
    Url(String),
}

/// An image's `detail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Detail {
    Low,
    High,
    Auto,
    Original,
}

impl Detail {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::High => "high",
            Self::Auto => "auto",
            Self::Original => "original",
        }
    }
}

/// A call the model made in an earlier turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionCall {
    pub call_id: String,
    pub name: String,
    pub arguments: String,
}

/// What the client's function returned for a call.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionCallOutput {
    pub call_id: String,
    pub output: Content,
}

/// The reasoning of an earlier turn, sent back. Only its `encrypted_content` can
/// mean something to another provider (see [`super::response`](mod@super::response)); its summary and
/// text are the model's own words about its thinking, not part of the conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reasoning {
    pub encrypted_content: Option<String>,
}

/// The types of input items that only OpenAI's service can use.
const OPENAI_ONLY_ITEMS: &[&str] = &[
    "item_reference",
    "file_search_call",
    "computer_call",
    "computer_call_output",
    "web_search_call",
    "tool_search_call",
    "tool_search_output",
    "compaction",
    "image_generation_call",
    "code_interpreter_call",
    "local_shell_call",
    "local_shell_call_output",
    "shell_call",
    "shell_call_output",
    "apply_patch_call",
    "apply_patch_call_output",
    "mcp_list_tools",
    "mcp_approval_request",
    "mcp_approval_response",
    "mcp_call",
    "custom_tool_call",
    "custom_tool_call_output",
];

/// `input`: a string, or an array of items.
pub fn parse(raw: &RawValue) -> Result<Vec<InputItem>, ApiError> {
    if raw.get().starts_with('"') {
        let text: String = typed(PARAM, PARAM, raw)?;
        return Ok(vec![InputItem::Message(InputMessage { role: Role::User, content: Content::Text(text) })]);
    }
    let items: Vec<&RawValue> =
        serde_json::from_str(raw.get()).map_err(|_| wrong_type(PARAM, PARAM, "a string or an array of items", raw))?;
    items.iter().enumerate().map(|(i, item)| parse_item(&format!("input[{i}]"), item)).collect()
}

fn parse_item(at: &str, raw: &RawValue) -> Result<InputItem, ApiError> {
    #[derive(Deserialize)]
    struct Peek<'a> {
        #[serde(rename = "type", borrow, default)]
        kind: Option<Cow<'a, str>>,
    }
    let peek: Peek<'_> =
        serde_json::from_str(raw.get()).map_err(|_| wrong_type(PARAM, at, "an object with a string `type`", raw))?;
    match peek.kind.as_deref() {
        // `type` may be left out of a message (OpenAI's "easy input message").
        None | Some("message") => parse_message(at, raw).map(InputItem::Message),
        Some("function_call") => {
            let call: WireFunctionCall = typed(PARAM, at, raw)?;
            Ok(InputItem::FunctionCall(FunctionCall {
                call_id: call_id(at, call.call_id)?,
                name: call.name,
                arguments: call.arguments,
            }))
        }
        Some("function_call_output") => {
            let output: WireFunctionCallOutput<'_> = typed(PARAM, at, raw)?;
            Ok(InputItem::FunctionCallOutput(FunctionCallOutput {
                call_id: call_id(at, output.call_id)?,
                output: parse_content(&format!("{at}.output"), output.output, PartsOf::Input)?,
            }))
        }
        Some("reasoning") => {
            let reasoning: WireReasoning = typed(PARAM, at, raw)?;
            Ok(InputItem::Reasoning(Reasoning { encrypted_content: reasoning.encrypted_content }))
        }
        Some(kind) if OPENAI_ONLY_ITEMS.contains(&kind) => Ok(InputItem::OpenAiOnly(kind.to_owned())),
        Some(kind) => Err(invalid(
            PARAM,
            format!(
                "`{at}.type`: unknown item type `{kind}`; expected `message`, `function_call`, \
                 `function_call_output`, `reasoning` or one of OpenAI's built-in tools' items"
            ),
        )),
    }
}

fn call_id(at: &str, id: String) -> Result<String, ApiError> {
    if id.is_empty() {
        return Err(invalid(PARAM, format!("`{at}.call_id` must not be empty")));
    }
    Ok(id)
}

fn parse_message(at: &str, raw: &RawValue) -> Result<InputMessage, ApiError> {
    let message: WireMessage<'_> = typed(PARAM, at, raw)?;
    let parts = match message.role {
        Role::Assistant => PartsOf::Assistant,
        Role::User | Role::System | Role::Developer => PartsOf::Input,
    };
    let content = parse_content(&format!("{at}.content"), message.content, parts)?;
    Ok(InputMessage { role: message.role, content })
}

/// Which parts a content may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PartsOf {
    /// A user's, the system's or a developer's message, or a function call's output.
    Input,
    /// An assistant's message.
    Assistant,
}

fn parse_content(at: &str, raw: &RawValue, allowed: PartsOf) -> Result<Content, ApiError> {
    if raw.get().starts_with('"') {
        return typed(PARAM, at, raw).map(Content::Text);
    }
    let parts: Vec<&RawValue> =
        serde_json::from_str(raw.get()).map_err(|_| wrong_type(PARAM, at, "a string or an array of parts", raw))?;
    let parts = parts
        .iter()
        .enumerate()
        .map(|(j, part)| parse_part(&format!("{at}[{j}]"), part, allowed))
        .collect::<Result<_, _>>()?;
    Ok(Content::Parts(parts))
}

fn parse_part(at: &str, raw: &RawValue, allowed: PartsOf) -> Result<Part, ApiError> {
    let part: WirePart = typed(PARAM, at, raw)?;
    let misplaced = |kind: &str| {
        let expected = match allowed {
            PartsOf::Input => "`input_text`, `input_image` or `input_file`",
            PartsOf::Assistant => "`output_text` or `refusal`",
        };
        invalid(PARAM, format!("`{at}.type`: `{kind}` is not allowed here; expected {expected}"))
    };
    match (part, allowed) {
        (WirePart::InputText { text, cache_control }, PartsOf::Input)
        | (WirePart::OutputText { text, cache_control, .. }, PartsOf::Assistant) => {
            Ok(Part::Text { text, cache_control })
        }
        (WirePart::InputImage { image_url, file_id, detail, cache_control }, PartsOf::Input) => {
            let source = match (image_url, file_id) {
                (Some(url), None) => ImageSource::Url(url),
                (None, Some(id)) => ImageSource::FileId(id),
                _ => return Err(invalid(PARAM, format!("`{at}`: give exactly one of `image_url` and `file_id`"))),
            };
            Ok(Part::Image { source, detail, cache_control })
        }
        (WirePart::InputFile { file_data, file_id, file_url, filename }, PartsOf::Input) => {
            let source = match (file_data, file_id, file_url) {
                (Some(data), None, None) => FileSource::Data(data),
                (None, Some(id), None) => FileSource::FileId(id),
                (None, None, Some(url)) => FileSource::Url(url),
                _ => {
                    return Err(invalid(
                        PARAM,
                        format!("`{at}`: give exactly one of `file_data`, `file_id` and `file_url`"),
                    ));
                }
            };
            Ok(Part::File { source, filename })
        }
        (WirePart::Refusal { refusal }, PartsOf::Assistant) => Ok(Part::Refusal(refusal)),
        (WirePart::InputText { .. }, PartsOf::Assistant) => Err(misplaced("input_text")),
        (WirePart::InputImage { .. }, PartsOf::Assistant) => Err(misplaced("input_image")),
        (WirePart::InputFile { .. }, PartsOf::Assistant) => Err(misplaced("input_file")),
        (WirePart::OutputText { .. }, PartsOf::Input) => Err(misplaced("output_text")),
        (WirePart::Refusal { .. }, PartsOf::Input) => Err(misplaced("refusal")),
    }
}

// ---- The items as written -----------------------------------------------------
// The fields OpenAI returns on items it gave out (`id`, `status`, ...) are allowed
// so that a client may send an earlier response's output back as it came.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireMessage<'a> {
    role: Role,
    #[serde(borrow)]
    content: &'a RawValue,
    #[serde(rename = "type", default)]
    _kind: Option<IgnoredAny>,
    #[serde(rename = "id", default)]
    _id: Option<IgnoredAny>,
    #[serde(rename = "status", default)]
    _status: Option<IgnoredAny>,
    /// Whether an assistant's message was commentary or its final answer (newer
    /// Codex models): nothing a chat message can say.
    #[serde(rename = "phase", default)]
    _phase: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum WirePart {
    InputText {
        text: String,
        #[serde(default)]
        cache_control: Option<Value>,
    },
    InputImage {
        #[serde(default)]
        image_url: Option<String>,
        #[serde(default)]
        file_id: Option<String>,
        #[serde(default)]
        detail: Option<Detail>,
        #[serde(default)]
        cache_control: Option<Value>,
    },
    InputFile {
        #[serde(default)]
        file_data: Option<String>,
        #[serde(default)]
        file_id: Option<String>,
        #[serde(default)]
        file_url: Option<String>,
        #[serde(default)]
        filename: Option<String>,
    },
    OutputText {
        text: String,
        #[serde(default)]
        cache_control: Option<Value>,
        #[serde(rename = "annotations", default)]
        _annotations: Option<IgnoredAny>,
        #[serde(rename = "logprobs", default)]
        _logprobs: Option<IgnoredAny>,
    },
    Refusal {
        refusal: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireFunctionCall {
    call_id: String,
    name: String,
    arguments: String,
    #[serde(rename = "type")]
    _kind: IgnoredAny,
    #[serde(rename = "id", default)]
    _id: Option<IgnoredAny>,
    #[serde(rename = "status", default)]
    _status: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireFunctionCallOutput<'a> {
    call_id: String,
    #[serde(borrow)]
    output: &'a RawValue,
    #[serde(rename = "type")]
    _kind: IgnoredAny,
    #[serde(rename = "id", default)]
    _id: Option<IgnoredAny>,
    #[serde(rename = "status", default)]
    _status: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireReasoning {
    #[serde(default)]
    encrypted_content: Option<String>,
    #[serde(rename = "type")]
    _kind: IgnoredAny,
    #[serde(rename = "id", default)]
    _id: Option<IgnoredAny>,
    #[serde(rename = "summary", default)]
    _summary: Option<IgnoredAny>,
    #[serde(rename = "content", default)]
    _content: Option<IgnoredAny>,
    #[serde(rename = "status", default)]
    _status: Option<IgnoredAny>,
}

#[cfg(test)]
mod tests;
