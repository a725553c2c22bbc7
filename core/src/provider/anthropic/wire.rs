//! Anthropic's Messages API (`POST /v1/messages`) as serde types: the request, the
//! answer, the stream's events and the error body.
//!
//! Every type both serializes and deserializes, so that the same types serve both
//! directions: OpenAI clients to Anthropic deployments (requests written, answers
//! read) and Anthropic clients to any deployment (requests read, answers written).
//! Request types borrow (`Cow`) what they can from the value they are built from,
//! so that a large prompt or an image is not copied before it is written; read from
//! JSON they own their data.
//!
//! Only the fields the gateway maps are typed. Answer and stream types ignore
//! fields they do not name (Anthropic adds fields over time), and content blocks or
//! deltas of kinds the gateway does not map (server tools, citations) read as
//! [`ContentBlock::Unsupported`] and [`BlockDelta::Unsupported`].

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;

mod flat_event;

/// The `anthropic-version` header every request carries.
pub const API_VERSION: &str = "2023-06-01";

/// The body of `POST /v1/messages`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessagesRequest<'a> {
    /// Empty (and left out) on Vertex AI, whose URL names the model.
    #[serde(skip_serializing_if = "str::is_empty")]
    pub model: Cow<'a, str>,
    /// Vertex AI's: the API version in the body (Anthropic takes it as a header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anthropic_version: Option<Cow<'a, str>>,
    pub messages: Vec<Message<'a>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<System<'a>>,
    /// Required by Anthropic (the translation supplies a default).
    pub max_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_sequences: Option<Vec<Cow<'a, str>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata<'a>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool<'a>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice<'a>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<Thinking>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub stream: bool,
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// The top-level system prompt: a string, or text blocks (which can carry
/// `cache_control`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum System<'a> {
    Text(Cow<'a, str>),
    Blocks(Vec<SystemBlock<'a>>),
}

/// A block of the system prompt: only text is allowed there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SystemBlock<'a> {
    Text {
        text: Cow<'a, str>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache_control: Option<Cow<'a, Value>>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metadata<'a> {
    /// An opaque id of the end user (Anthropic refuses emails and phone numbers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Cow<'a, str>>,
}

/// One turn of the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message<'a> {
    pub role: Role,
    pub content: MessageContent<'a>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    User,
    Assistant,
}

/// A turn's content: a string, or content blocks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MessageContent<'a> {
    Text(Cow<'a, str>),
    Blocks(Vec<ContentBlock<'a>>),
}

/// A content block, in a request's turns or in an answer's `content`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentBlock<'a> {
    Text {
        text: Cow<'a, str>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache_control: Option<Cow<'a, Value>>,
    },
    Image {
        source: ImageSource<'a>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache_control: Option<Cow<'a, Value>>,
    },
    Document {
        source: DocumentSource<'a>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<Cow<'a, str>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        context: Option<Cow<'a, str>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache_control: Option<Cow<'a, Value>>,
    },
    /// A call the model made (in an answer, or an assistant turn sent back).
    ToolUse {
        id: Cow<'a, str>,
        name: Cow<'a, str>,
        /// The arguments: always a JSON object.
        input: Cow<'a, Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache_control: Option<Cow<'a, Value>>,
    },
    /// A tool's result, in a user turn.
    ToolResult {
        tool_use_id: Cow<'a, str>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<ToolResultContent<'a>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        is_error: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache_control: Option<Cow<'a, Value>>,
    },
    /// The model's reasoning (extended thinking), with the signature that lets it be
    /// sent back.
    Thinking {
        thinking: Cow<'a, str>,
        #[serde(default)]
        signature: Cow<'a, str>,
    },
    /// Reasoning the safety system encrypted: opaque, only ever sent back.
    RedactedThinking { data: Cow<'a, str> },
    /// Any other kind of block (server tool calls and results, container uploads,
    /// kinds added later): read so that an answer carrying one still reads, never
    /// written.
    #[serde(other)]
    Unsupported,
}

/// An image: inline base64 data, a URL Anthropic fetches, or an uploaded file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ImageSource<'a> {
    Base64 { media_type: Cow<'a, str>, data: Cow<'a, str> },
    Url { url: Cow<'a, str> },
    File { file_id: Cow<'a, str> },
}

/// A document: a base64 PDF, plain text, a URL to a PDF, or an uploaded file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DocumentSource<'a> {
    Base64 { media_type: Cow<'a, str>, data: Cow<'a, str> },
    Text { media_type: Cow<'a, str>, data: Cow<'a, str> },
    Url { url: Cow<'a, str> },
    File { file_id: Cow<'a, str> },
}

/// A tool result's content: a string, or text, image and document blocks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ToolResultContent<'a> {
    Text(Cow<'a, str>),
    Blocks(Vec<ContentBlock<'a>>),
}

/// A client tool the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool<'a> {
    pub name: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Cow<'a, str>>,
    /// A JSON Schema whose `type` is `object`.
    pub input_schema: Cow<'a, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<Cow<'a, Value>>,
}

/// How the model should use the tools.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToolChoice<'a> {
    /// The model decides.
    Auto {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        disable_parallel_tool_use: Option<bool>,
    },
    /// The model must call one of the tools.
    Any {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        disable_parallel_tool_use: Option<bool>,
    },
    /// The model must call this tool.
    Tool {
        name: Cow<'a, str>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        disable_parallel_tool_use: Option<bool>,
    },
    /// The model must not call a tool.
    None,
}

/// Extended thinking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Thinking {
    /// Thinking with a budget (at least 1024 tokens, less than `max_tokens`).
    Enabled {
        budget_tokens: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        display: Option<String>,
    },
    Disabled,
    /// The model decides how much to think (newer models).
    Adaptive {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        display: Option<String>,
    },
}

impl Thinking {
    /// The thinking budget, when thinking is enabled with one.
    pub fn budget_tokens(&self) -> Option<u64> {
        match self {
            Self::Enabled { budget_tokens, .. } => Some(*budget_tokens),
            Self::Disabled | Self::Adaptive { .. } => None,
        }
    }

    /// Whether the model thinks at all (then Anthropic refuses a forced tool choice).
    pub fn is_on(&self) -> bool {
        match self {
            Self::Enabled { .. } | Self::Adaptive { .. } => true,
            Self::Disabled => false,
        }
    }
}

/// A complete answer (`stream: false`), and the message a stream's `message_start`
/// opens (with empty `content`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessagesResponse {
    pub id: String,
    /// Always `message`: anything else is not an answer.
    #[serde(rename = "type")]
    pub kind: MessageKind,
    pub role: Role,
    pub model: String,
    pub content: Vec<ContentBlock<'static>>,
    /// Never null in a complete answer; null in `message_start`.
    #[serde(default)]
    pub stop_reason: Option<StopReason>,
    #[serde(default)]
    pub stop_sequence: Option<String>,
    pub usage: Usage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    Message,
}

/// Why the model stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    EndTurn,
    MaxTokens,
    StopSequence,
    ToolUse,
    /// A long turn (server tools) paused: sending the answer back continues it.
    PauseTurn,
    /// Anthropic's classifiers stopped the answer.
    Refusal,
    /// The answer filled the model's context window.
    ModelContextWindowExceeded,
    /// A reason added after these types were written.
    #[serde(untagged)]
    Other(String),
}

/// Tokens, as an answer or `message_start` reports them. Anthropic's
/// `input_tokens` excludes the tokens read from and written to the prompt cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens_details: Option<OutputTokensDetails>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputTokensDetails {
    /// Output tokens spent thinking (part of `output_tokens`).
    #[serde(default)]
    pub thinking_tokens: u64,
}

/// Tokens as `message_delta` reports them: cumulative, each figure null or absent
/// when it did not change since `message_start`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeltaUsage {
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens_details: Option<OutputTokensDetails>,
}

/// One event of a stream (`stream: true`), by its `type` (which the SSE `event:`
/// name repeats). Read through `flat_event::FlatEvent`, in one pass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", try_from = "flat_event::FlatEvent")]
pub enum StreamEvent {
    MessageStart {
        message: MessagesResponse,
    },
    ContentBlockStart {
        index: u32,
        content_block: ContentBlock<'static>,
    },
    ContentBlockDelta {
        index: u32,
        delta: BlockDelta,
    },
    ContentBlockStop {
        index: u32,
    },
    MessageDelta {
        delta: MessageDelta,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        usage: Option<DeltaUsage>,
    },
    MessageStop,
    /// Sent to keep the connection open.
    Ping,
    /// The answer failed part-way (an overloaded model, an internal error).
    Error {
        error: ErrorDetail,
    },
    /// An event kind added later: Anthropic asks clients to ignore those.
    #[serde(other)]
    Unknown,
}

/// A piece of the content block at an event's `index`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BlockDelta {
    TextDelta {
        text: String,
    },
    /// A fragment of a tool call's `input` as JSON text.
    InputJsonDelta {
        partial_json: String,
    },
    ThinkingDelta {
        thinking: String,
    },
    /// A thinking block's signature, just before its `content_block_stop`.
    SignatureDelta {
        signature: String,
    },
    /// Citations and kinds added later.
    #[serde(other)]
    Unsupported,
}

/// The answer's top-level changes, at its end.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageDelta {
    #[serde(default)]
    pub stop_reason: Option<StopReason>,
    #[serde(default)]
    pub stop_sequence: Option<String>,
}

/// An error answer's body: `{"type": "error", "error": {"type", "message"}}`, also
/// the data of a stream's `error` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// Always `error`.
    #[serde(rename = "type")]
    pub kind: ErrorKind,
    pub error: ErrorDetail,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// `invalid_request_error`, `overloaded_error`, ...
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_request_with_every_kind_of_block_round_trips() {
        let body = json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 1024,
            "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
            "messages": [
                {"role": "user", "content": [
                    {"type": "text", "text": "What is in these?"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
                    {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
                    {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="},
                     "title": "Report"}
                ]},
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": "Look first.", "signature": "EqQB"},
                    {"type": "redacted_thinking", "data": "EmwKAhgB"},
                    {"type": "tool_use", "id": "toolu_01", "name": "look", "input": {"x": 1}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_01", "content": "a cat", "is_error": false}
                ]}
            ],
            "stop_sequences": ["END"],
            "temperature": 0.5,
            "top_k": 40,
            "metadata": {"user_id": "u-1"},
            "tools": [{"name": "look", "description": "Looks.", "input_schema": {"type": "object", "properties": {}}}],
            "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
            "thinking": {"type": "enabled", "budget_tokens": 2048},
            "stream": true
        });
        let request: MessagesRequest<'_> = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(request.messages.len(), 3);
        assert_eq!(request.thinking.as_ref().and_then(Thinking::budget_tokens), Some(2048));
        assert_eq!(serde_json::to_value(&request).unwrap(), body);
    }

    #[test]
    fn tool_choices_are_tagged_by_type() {
        let none: ToolChoice<'_> = serde_json::from_value(json!({"type": "none"})).unwrap();
        assert_eq!(none, ToolChoice::None);
        let named = ToolChoice::Tool { name: "f".into(), disable_parallel_tool_use: None };
        assert_eq!(serde_json::to_value(&named).unwrap(), json!({"type": "tool", "name": "f"}));
    }

    #[test]
    fn an_answer_with_blocks_the_gateway_does_not_map_still_reads() {
        let body = json!({
            "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
            "content": [
                {"type": "server_tool_use", "id": "srvtoolu_01", "name": "web_search", "input": {"query": "x"}},
                {"type": "text", "text": "Found it.", "citations": null}
            ],
            "stop_reason": "end_turn", "stop_sequence": null, "container": null,
            "usage": {"input_tokens": 10, "output_tokens": 5, "cache_creation_input_tokens": null,
                      "cache_read_input_tokens": 0, "service_tier": "standard"}
        });
        let answer: MessagesResponse = serde_json::from_value(body).unwrap();
        assert_eq!(answer.content[0], ContentBlock::Unsupported);
        assert!(matches!(&answer.content[1], ContentBlock::Text { text, .. } if text == "Found it."));
        assert_eq!(answer.usage.cache_creation_input_tokens, None);
        assert_eq!(answer.usage.cache_read_input_tokens, Some(0));
    }

    #[test]
    fn stop_reasons_added_later_are_kept_by_name() {
        let known: StopReason = serde_json::from_value(json!("refusal")).unwrap();
        assert_eq!(known, StopReason::Refusal);
        let later: StopReason = serde_json::from_value(json!("something_new")).unwrap();
        assert_eq!(later, StopReason::Other("something_new".into()));
        assert_eq!(serde_json::to_value(&later).unwrap(), json!("something_new"));
    }

    #[test]
    fn stream_events_of_every_kind_read() {
        let events = [
            r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"a\""}}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"citations_delta","citation":{}}}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":89}}"#,
            r#"{"type":"ping"}"#,
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            r#"{"type":"brand_new_event","x":1}"#,
        ];
        let parsed: Vec<StreamEvent> = events.iter().map(|e| serde_json::from_str(e).unwrap()).collect();
        assert_eq!(
            parsed[0],
            StreamEvent::ContentBlockDelta {
                index: 1,
                delta: BlockDelta::InputJsonDelta { partial_json: "{\"a\"".into() }
            }
        );
        assert_eq!(parsed[1], StreamEvent::ContentBlockDelta { index: 0, delta: BlockDelta::Unsupported });
        assert!(matches!(&parsed[2], StreamEvent::MessageDelta { delta, usage: Some(usage) }
            if delta.stop_reason == Some(StopReason::ToolUse) && usage.output_tokens == 89 && usage.input_tokens.is_none()));
        assert_eq!(parsed[3], StreamEvent::Ping);
        assert!(matches!(&parsed[4], StreamEvent::Error { error } if error.kind == "overloaded_error"));
        assert_eq!(parsed[5], StreamEvent::Unknown);
    }

    #[test]
    fn an_error_body_reads_and_writes_anthropic_s_shape() {
        let body = json!({"type": "error", "error": {"type": "not_found_error", "message": "model: claude-x"},
                          "request_id": "req_011"});
        let error: ErrorResponse = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(error.error.kind, "not_found_error");
        assert_eq!(serde_json::to_value(&error).unwrap(), body);
        assert!(serde_json::from_value::<ErrorResponse>(json!({"error": {"message": "x"}})).is_err());
    }
}
