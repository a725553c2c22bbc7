//! Gemini's `generateContent` wire format as types: the request Switchyard sends
//! (borrowing the client's text, never copying it), the answer and stream events
//! it reads, the error body, and `batchEmbedContents`.
//!
//! AI Studio (`generativelanguage.googleapis.com`) and Vertex AI share these
//! shapes. Only what the translation writes or reads is here: serde ignores the
//! rest of an answer (safety ratings, citations, grounding).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

// ---- The request --------------------------------------------------------------

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerateContentRequest<'a> {
    pub contents: Vec<Content<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_instruction: Option<Content<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Tool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_config: Option<ToolConfig<'a>>,
    /// LiteLLM's `safety_settings`, passed as the client wrote them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub safety_settings: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation_config: Option<GenerationConfig>,
    /// A `cachedContents/...` resource made with the caching API.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cached_content: Option<&'a str>,
}

/// One turn of the conversation (`role` absent in `systemInstruction`).
#[derive(Debug, Serialize)]
pub struct Content<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    pub parts: Vec<Part<'a>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Model,
}

/// A part: exactly one kind of data, and the thought signature Gemini 3 requires
/// back on the function calls it made.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Part<'a> {
    #[serde(flatten)]
    pub data: PartData<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thought_signature: Option<&'a str>,
}

impl<'a> From<PartData<'a>> for Part<'a> {
    fn from(data: PartData<'a>) -> Self {
        Self { data, thought_signature: None }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum PartData<'a> {
    Text(Cow<'a, str>),
    InlineData(Blob<'a>),
    FileData(FileData<'a>),
    FunctionCall(FunctionCall<'a>),
    FunctionResponse(FunctionResponse<'a>),
}

/// Base64 data inline.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Blob<'a> {
    pub mime_type: Cow<'a, str>,
    pub data: &'a str,
}

/// A file by URI (an `https://` URL, a `gs://` object, a Files API URI).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileData<'a> {
    pub mime_type: Cow<'a, str>,
    pub file_uri: &'a str,
}

#[derive(Debug, Serialize)]
pub struct FunctionCall<'a> {
    pub name: &'a str,
    /// A JSON object.
    pub args: Value,
}

#[derive(Debug, Serialize)]
pub struct FunctionResponse<'a> {
    pub name: &'a str,
    /// A JSON object.
    pub response: Value,
    /// Media the function returned (Gemini 3's multimodal function responses).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<FunctionResponsePart<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionResponsePart<'a> {
    pub inline_data: Blob<'a>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tool<'a> {
    pub function_declarations: Vec<FunctionDeclaration<'a>>,
}

#[derive(Debug, Serialize)]
pub struct FunctionDeclaration<'a> {
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'a str>,
    /// An OpenAPI-subset schema (see `schema`); absent for a function without arguments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolConfig<'a> {
    pub function_calling_config: FunctionCallingConfig<'a>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionCallingConfig<'a> {
    pub mode: FunctionCallingMode,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_function_names: Vec<&'a str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FunctionCallingMode {
    /// The model chooses between text and calls.
    Auto,
    /// The model must call a function (one of `allowedFunctionNames` when given).
    Any,
    /// No calls.
    None,
}

#[derive(Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerationConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stop_sequences: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub candidate_count: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_mime_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_schema: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thinking_config: Option<ThinkingConfig>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ThinkingConfig {
    pub include_thoughts: bool,
    /// Gemini 2.5's control: tokens the model may think (0: none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thinking_budget: Option<u32>,
    /// Gemini 3's control.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thinking_level: Option<ThinkingLevel>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ThinkingLevel {
    Minimal,
    Low,
    Medium,
    High,
}

// ---- The answer, and each event of a stream -------------------------------------

/// A complete answer, or one event of `streamGenerateContent?alt=sse`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerateContentResponse {
    #[serde(default)]
    pub candidates: Vec<Candidate>,
    pub prompt_feedback: Option<PromptFeedback>,
    pub usage_metadata: Option<UsageMetadata>,
    pub model_version: Option<String>,
    pub response_id: Option<String>,
    /// The error that ended a stream (or, wrongly, came with a success status).
    pub error: Option<Status>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    pub content: Option<CandidateContent>,
    pub finish_reason: Option<FinishReason>,
    /// Absent in answers of one candidate.
    pub index: Option<u32>,
}

#[derive(Debug, Deserialize)]
pub struct CandidateContent {
    #[serde(default)]
    pub parts: Vec<AnswerPart>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnswerPart {
    pub text: Option<String>,
    /// A thought summary, not the answer (`includeThoughts`).
    #[serde(default)]
    pub thought: bool,
    pub thought_signature: Option<String>,
    pub function_call: Option<AnswerFunctionCall>,
    /// Generated media (an image model's output).
    pub inline_data: Option<AnswerBlob>,
}

#[derive(Debug, Deserialize)]
pub struct AnswerFunctionCall {
    pub name: String,
    /// Kept as the JSON text Gemini wrote: it becomes OpenAI's `arguments` string as is.
    pub args: Option<Box<RawValue>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnswerBlob {
    pub mime_type: String,
    pub data: String,
}

/// Why a candidate stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FinishReason {
    FinishReasonUnspecified,
    Stop,
    MaxTokens,
    Safety,
    Recitation,
    Language,
    Other,
    Blocklist,
    ProhibitedContent,
    Spii,
    MalformedFunctionCall,
    ImageSafety,
    ImageProhibitedContent,
    ImageRecitation,
    ImageOther,
    NoImage,
    UnexpectedToolCall,
    TooManyToolCalls,
    /// A reason newer than this list.
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PromptFeedback {
    /// Set when the prompt was blocked (then there are no candidates).
    pub block_reason: Option<String>,
    /// Vertex AI's explanation of the block.
    pub block_reason_message: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageMetadata {
    /// The whole prompt, cached content included.
    #[serde(default)]
    pub prompt_token_count: u64,
    #[serde(default)]
    pub candidates_token_count: u64,
    #[serde(default)]
    pub total_token_count: u64,
    pub thoughts_token_count: Option<u64>,
    pub cached_content_token_count: Option<u64>,
}

// ---- Errors ----------------------------------------------------------------------

/// `{"error": {...}}`, Google's error body (as `google.rpc.Status`).
#[derive(Debug, Deserialize)]
pub struct ErrorBody {
    pub error: Status,
}

#[derive(Debug, Deserialize)]
pub struct Status {
    pub code: Option<u16>,
    #[serde(default)]
    pub message: String,
    /// The canonical code: `INVALID_ARGUMENT`, `RESOURCE_EXHAUSTED`, ...
    pub status: Option<String>,
    #[serde(default)]
    pub details: Vec<ErrorDetail>,
}

/// One entry of `details`: an `ErrorInfo` (`reason`) or a `RetryInfo` (`retryDelay`)
/// among others, told apart by their fields.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail {
    pub reason: Option<String>,
    /// A protobuf Duration in JSON: `"17s"`, `"0.500s"`.
    pub retry_delay: Option<String>,
}

// ---- Embeddings ----------------------------------------------------------------

#[derive(Debug, Serialize)]
pub struct BatchEmbedContentsRequest<'a> {
    pub requests: Vec<EmbedContentRequest<'a>>,
}

#[derive(Debug, Serialize)]
pub struct EmbedContentRequest<'a> {
    /// `models/<model>`.
    pub model: &'a str,
    pub content: EmbedContent<'a>,
}

#[derive(Debug, Serialize)]
pub struct EmbedContent<'a> {
    pub parts: [TextPart<'a>; 1],
}

#[derive(Debug, Serialize)]
pub struct TextPart<'a> {
    pub text: &'a str,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchEmbedContentsResponse {
    pub embeddings: Vec<ContentEmbedding>,
    /// Vertex AI's count; AI Studio sends none.
    pub usage_metadata: Option<EmbedUsage>,
}

#[derive(Debug, Deserialize)]
pub struct ContentEmbedding {
    /// The numbers as Gemini wrote them, copied into OpenAI's answer unparsed.
    pub values: Box<RawValue>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmbedUsage {
    #[serde(default)]
    pub prompt_token_count: u64,
}
