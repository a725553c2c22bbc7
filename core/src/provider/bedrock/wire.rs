//! The Bedrock Converse API's wire format as types: what `request` writes
//! (borrowing from the client's parsed request, so nothing is copied), and what
//! `answer` and `stream` read.
//!
//! Bedrock's unions (a content block, a delta, a tool choice) are JSON objects
//! with exactly one member named for the variant: serde's externally tagged
//! enums when written. When read, they are structs of optional members, so a
//! member added to the union later is ignored rather than refused.

use std::borrow::Cow;

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::openai::{FinishReason, PromptTokensDetails, Usage};

// ---- Request -------------------------------------------------------------

/// A `Converse` / `ConverseStream` request body (the model id is in the path).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConverseRequest<'a> {
    pub messages: Vec<Message<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub system: Vec<SystemBlock<'a>>,
    #[serde(skip_serializing_if = "InferenceConfig::is_empty")]
    pub inference_config: InferenceConfig<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_config: Option<ToolConfig<'a>>,
    #[serde(skip_serializing_if = "AdditionalFields::is_empty")]
    pub additional_model_request_fields: AdditionalFields<'a>,
    /// `{guardrailIdentifier, guardrailVersion, trace}`, as the client gave it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guardrail_config: Option<&'a Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

/// One turn. Bedrock wants turns to alternate, starting with the user's.
#[derive(Debug, Serialize)]
pub struct Message<'a> {
    pub role: Role,
    pub content: Vec<ContentBlock<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ContentBlock<'a> {
    Text(&'a str),
    Image(ImageBlock<'a>),
    ToolUse(ToolUseBlock<'a>),
    ToolResult(ToolResultBlock<'a>),
    /// Caches the prompt up to here (Anthropic and Nova models).
    CachePoint(CachePoint),
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum SystemBlock<'a> {
    Text(&'a str),
    CachePoint(CachePoint),
}

/// `{"type": "default"}`, the only kind of cache point.
#[derive(Debug, Clone, Copy)]
pub struct CachePoint;

impl Serialize for CachePoint {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry("type", "default")?;
        map.end()
    }
}

#[derive(Debug, Serialize)]
pub struct ImageBlock<'a> {
    pub format: ImageFormat,
    pub source: ImageSource<'a>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormat {
    Png,
    Jpeg,
    Gif,
    Webp,
}

impl ImageFormat {
    /// The format of an image's media type (`image/png`, ...).
    pub fn of_media_type(media_type: &str) -> Option<Self> {
        match media_type.to_ascii_lowercase().as_str() {
            "image/png" => Some(Self::Png),
            "image/jpeg" | "image/jpg" => Some(Self::Jpeg),
            "image/gif" => Some(Self::Gif),
            "image/webp" => Some(Self::Webp),
            _ => None,
        }
    }
}

/// The image itself: in JSON, a blob is its base64 text, so a data URL's data
/// is sent as it came.
#[derive(Debug, Serialize)]
pub struct ImageSource<'a> {
    pub bytes: &'a str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolUseBlock<'a> {
    pub tool_use_id: &'a str,
    pub name: &'a str,
    pub input: ToolInput<'a>,
}

/// A tool call's arguments: the JSON the client sent as `arguments`, or `{}`
/// when it sent an empty string.
#[derive(Debug, Clone, Copy)]
pub enum ToolInput<'a> {
    Json(&'a RawValue),
    Empty,
}

impl Serialize for ToolInput<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Json(raw) => raw.serialize(serializer),
            Self::Empty => serializer.serialize_map(Some(0))?.end(),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolResultBlock<'a> {
    pub tool_use_id: &'a str,
    pub content: Vec<ToolResultContent<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ToolResultContent<'a> {
    Text(&'a str),
    Image(ImageBlock<'a>),
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InferenceConfig<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stop_sequences: Vec<&'a str>,
}

impl InferenceConfig<'_> {
    fn is_empty(&self) -> bool {
        self.max_tokens.is_none()
            && self.temperature.is_none()
            && self.top_p.is_none()
            && self.stop_sequences.is_empty()
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolConfig<'a> {
    pub tools: Vec<Tool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Tool<'a> {
    ToolSpec(ToolSpec<'a>),
    CachePoint(CachePoint),
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolSpec<'a> {
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'a str>,
    pub input_schema: InputSchema<'a>,
}

/// `{"json": <JSON Schema>}`.
#[derive(Debug, Serialize)]
pub struct InputSchema<'a> {
    pub json: Cow<'a, Value>,
}

/// `{"auto": {}}`, `{"any": {}}` or `{"tool": {"name": ...}}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolChoice<'a> {
    Auto(Empty),
    Any(Empty),
    Tool { name: &'a str },
}

/// `{}`.
#[derive(Debug, Serialize)]
pub struct Empty {}

/// The model's own request fields Bedrock passes on
/// (`additionalModelRequestFields`): the ones a family names differently.
#[derive(Debug, Default, Serialize)]
pub struct AdditionalFields<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u64>,
    /// Cohere's name for `top_k`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub k: Option<u64>,
    /// Nova's: `{"topK": k}`.
    #[serde(rename = "inferenceConfig", skip_serializing_if = "Option::is_none")]
    pub nova_inference_config: Option<NovaInferenceConfig>,
    /// Anthropic's extended thinking: `{"type": "enabled", "budget_tokens": n}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thinking: Option<Cow<'a, Value>>,
}

impl AdditionalFields<'_> {
    fn is_empty(&self) -> bool {
        self.top_k.is_none() && self.k.is_none() && self.nova_inference_config.is_none() && self.thinking.is_none()
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NovaInferenceConfig {
    pub top_k: u64,
}

// ---- Answer --------------------------------------------------------------

/// A `Converse` answer: what of it the gateway maps.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConverseResponse {
    pub output: ConverseOutput,
    pub stop_reason: StopReason,
    #[serde(default)]
    pub usage: Option<TokenUsage>,
}

#[derive(Debug, Deserialize)]
pub struct ConverseOutput {
    #[serde(default)]
    pub message: Option<OutputMessage>,
}

#[derive(Debug, Deserialize)]
pub struct OutputMessage {
    #[serde(default)]
    pub content: Vec<OutputBlock>,
}

/// One content block of an answer: one of its members is set.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputBlock {
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub tool_use: Option<OutputToolUse>,
    #[serde(default)]
    pub reasoning_content: Option<OutputReasoning>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputToolUse {
    pub tool_use_id: String,
    pub name: String,
    /// Kept as the JSON text it is: OpenAI's `arguments` is that text.
    pub input: Box<RawValue>,
}

/// `{"reasoningText": {"text", "signature"}}` or `{"redactedContent": ...}`:
/// only the text is shown.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputReasoning {
    #[serde(default)]
    pub reasoning_text: Option<ReasoningText>,
}

#[derive(Debug, Deserialize)]
pub struct ReasoningText {
    #[serde(default)]
    pub text: String,
}

/// Why the model stopped. Values added after these read as `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    EndTurn,
    ToolUse,
    MaxTokens,
    StopSequence,
    GuardrailIntervened,
    ContentFiltered,
    MalformedModelOutput,
    MalformedToolUse,
    ModelContextWindowExceeded,
    #[serde(other)]
    Other,
}

impl StopReason {
    pub fn finish_reason(self) -> FinishReason {
        match self {
            Self::EndTurn | Self::StopSequence => FinishReason::Stop,
            Self::MaxTokens | Self::ModelContextWindowExceeded => FinishReason::Length,
            Self::ToolUse => FinishReason::ToolCalls,
            Self::GuardrailIntervened | Self::ContentFiltered => FinishReason::ContentFilter,
            // The model ended its turn with output that does not parse: it
            // stopped, and the client sees what it wrote.
            Self::MalformedModelOutput | Self::MalformedToolUse | Self::Other => FinishReason::Stop,
        }
    }
}

/// Token counts. `inputTokens` leaves out the tokens read from or written to
/// the prompt cache, which OpenAI's `prompt_tokens` includes.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenUsage {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default)]
    pub cache_read_input_tokens: Option<u64>,
    #[serde(default)]
    pub cache_write_input_tokens: Option<u64>,
}

impl TokenUsage {
    pub fn to_openai(self) -> Usage {
        let read = self.cache_read_input_tokens.unwrap_or(0);
        let written = self.cache_write_input_tokens.unwrap_or(0);
        let prompt_tokens = self.input_tokens + read + written;
        let cached = self.cache_read_input_tokens.is_some() || self.cache_write_input_tokens.is_some();
        Usage {
            prompt_tokens,
            completion_tokens: self.output_tokens,
            total_tokens: prompt_tokens + self.output_tokens,
            prompt_tokens_details: cached.then_some(PromptTokensDetails {
                cached_tokens: read,
                cache_creation_tokens: self.cache_write_input_tokens,
            }),
            completion_tokens_details: None,
        }
    }
}

// ---- Stream events -------------------------------------------------------

/// `contentBlockStart`: a tool call begins (other kinds of block start without
/// an event of interest).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentBlockStart {
    pub content_block_index: u32,
    pub start: BlockStart,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockStart {
    #[serde(default)]
    pub tool_use: Option<ToolUseStart>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolUseStart {
    pub tool_use_id: String,
    pub name: String,
}

/// `contentBlockDelta`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentBlockDelta {
    pub content_block_index: u32,
    pub delta: BlockDelta,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockDelta {
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub tool_use: Option<ToolUseDelta>,
    #[serde(default)]
    pub reasoning_content: Option<ReasoningDelta>,
}

/// A fragment of a tool call's input JSON.
#[derive(Debug, Deserialize)]
pub struct ToolUseDelta {
    pub input: String,
}

/// Reasoning text, or its signature or redacted form (which are not shown).
#[derive(Debug, Deserialize)]
pub struct ReasoningDelta {
    #[serde(default)]
    pub text: Option<String>,
}

/// `messageStop`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageStop {
    pub stop_reason: StopReason,
}

/// `metadata`, the stream's last event.
#[derive(Debug, Deserialize)]
pub struct Metadata {
    #[serde(default)]
    pub usage: Option<TokenUsage>,
}

// ---- Errors --------------------------------------------------------------

/// An error body: `{"message": ...}`, or `{"Message": ...}` from AWS's front
/// door, with the exception's name in `__type` sometimes.
#[derive(Debug, Default, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default, rename = "Message")]
    pub capitalized_message: Option<String>,
    #[serde(default, rename = "__type")]
    pub kind: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unions_are_written_as_one_member_objects() {
        let blocks = [
            ContentBlock::Text("hi"),
            ContentBlock::CachePoint(CachePoint),
            ContentBlock::ToolUse(ToolUseBlock { tool_use_id: "t1", name: "f", input: ToolInput::Empty }),
        ];
        assert_eq!(
            serde_json::to_value(blocks).unwrap(),
            json!([{"text": "hi"}, {"cachePoint": {"type": "default"}},
                   {"toolUse": {"toolUseId": "t1", "name": "f", "input": {}}}])
        );
        let choices = [ToolChoice::Auto(Empty {}), ToolChoice::Any(Empty {}), ToolChoice::Tool { name: "f" }];
        assert_eq!(serde_json::to_value(choices).unwrap(), json!([{"auto": {}}, {"any": {}}, {"tool": {"name": "f"}}]));
    }

    #[test]
    fn unknown_stop_reasons_and_block_members_are_read() {
        let answer: ConverseResponse = serde_json::from_value(json!({
            "output": {"message": {"role": "assistant", "content": [{"citationsContent": {}}, {"text": "x"}]}},
            "stopReason": "a_reason_from_the_future",
            "usage": {"inputTokens": 1, "outputTokens": 2, "totalTokens": 3},
            "metrics": {"latencyMs": 10}
        }))
        .unwrap();
        assert_eq!(answer.stop_reason, StopReason::Other);
        assert_eq!(answer.output.message.unwrap().content.len(), 2);
    }

    #[test]
    fn cache_tokens_count_in_the_prompt() {
        let usage = TokenUsage {
            input_tokens: 10,
            output_tokens: 5,
            cache_read_input_tokens: Some(100),
            cache_write_input_tokens: Some(20),
        };
        let usage = usage.to_openai();
        assert_eq!((usage.prompt_tokens, usage.completion_tokens, usage.total_tokens), (130, 5, 135));
        assert_eq!(
            usage.prompt_tokens_details,
            Some(PromptTokensDetails { cached_tokens: 100, cache_creation_tokens: Some(20) })
        );
        let plain = TokenUsage {
            input_tokens: 3,
            output_tokens: 4,
            cache_read_input_tokens: None,
            cache_write_input_tokens: None,
        };
        assert_eq!(plain.to_openai().prompt_tokens_details, None);
        assert_eq!(plain.to_openai().total_tokens, 7);
    }
}
