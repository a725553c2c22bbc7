//! The Response object, and how a complete chat answer becomes one.
//!
//! A response echoes the request's parameters that OpenAI's SDKs read (the model
//! as the client named it, `instructions`, `tools`, `tool_choice`, `text`, ...),
//! with OpenAI's defaults where the client left one out, except `temperature` and
//! `top_p`: left out, they are null, the deployment's own default. `output_text`
//! is not on the wire: the SDKs compute it from `output`.
//!
//! `output` holds, in this order: a `reasoning` item when the model's thinking came
//! back, a `message` item when text or a refusal did, and a `function_call` item
//! per tool call. The reasoning is the item's `reasoning_text` content (what OpenAI
//! gives for open-weight models; no provider writes OpenAI's reasoning summaries).
//! Thinking blocks the provider signed (Anthropic's) are kept with the item for the
//! stored conversation and, when the request asks `include:
//! ["reasoning.encrypted_content"]`, written as its `encrypted_content`, so that a
//! client that keeps the conversation itself sends them back to the provider.
//!
//! A `length` finish is `status: "incomplete"` with `incomplete_details.reason`
//! `max_output_tokens`, a `content_filter` one the same with `content_filter`; the
//! last output item, the one cut, is then `incomplete` too.

use std::collections::BTreeMap;

use serde::de::IgnoredAny;
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::openai::{ChatResponse, FinishReason, ThinkingBlock, Usage};

use super::ids::{ItemKind, item_id};
use super::request::{ReasoningConfig, Request, TextConfig, TextFormat, Truncation};
use super::tools::{FunctionTool, Tool, ToolChoice, ToolChoiceMode};

/// A response, as `POST /v1/responses` and `GET /v1/responses/{id}` return it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub id: String,
    pub object: ResponseObject,
    /// Unix seconds.
    pub created_at: u64,
    pub status: Status,
    pub error: Option<ResponseError>,
    pub incomplete_details: Option<IncompleteDetails>,
    pub instructions: Option<String>,
    pub max_output_tokens: Option<u64>,
    /// The model the client asked for.
    pub model: String,
    pub output: Vec<OutputItem>,
    pub parallel_tool_calls: bool,
    pub previous_response_id: Option<String>,
    pub reasoning: ReasoningConfig,
    pub store: bool,
    pub temperature: Option<f64>,
    pub text: TextConfig,
    pub tool_choice: ToolChoice,
    pub tools: Vec<FunctionTool>,
    pub top_p: Option<f64>,
    pub truncation: Truncation,
    pub usage: Option<ResponseUsage>,
    pub user: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub background: bool,
}

/// The `object` of a response: always `response`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResponseObject {
    Response,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    InProgress,
    Completed,
    Incomplete,
    Failed,
}

/// Why a response failed, as OpenAI writes it in `response.failed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseError {
    pub code: ErrorCode,
    pub message: String,
}

/// The codes of OpenAI's `ResponseError` that a provider's failure can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    ServerError,
    RateLimitExceeded,
    InvalidPrompt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncompleteDetails {
    pub reason: IncompleteReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncompleteReason {
    MaxOutputTokens,
    ContentFilter,
}

/// One item of `output`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutputItem {
    Reasoning(ReasoningItem),
    Message(MessageItem),
    FunctionCall(FunctionCallItem),
}

impl OutputItem {
    pub fn id(&self) -> &str {
        match self {
            Self::Reasoning(item) => &item.id,
            Self::Message(item) => &item.id,
            Self::FunctionCall(item) => &item.id,
        }
    }

    pub(super) fn set_status(&mut self, status: ItemStatus) {
        match self {
            Self::Reasoning(item) => item.status = status,
            Self::Message(item) => item.status = status,
            Self::FunctionCall(item) => item.status = status,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    InProgress,
    Completed,
    Incomplete,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReasoningItem {
    pub id: String,
    /// OpenAI's reasoning summaries, which no provider writes.
    pub summary: EmptyList,
    pub content: Vec<ReasoningContent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted_content: Option<String>,
    pub status: ItemStatus,
    /// The provider's signed thinking blocks, for the stored conversation: never on
    /// the wire (unless as `encrypted_content`).
    #[serde(skip)]
    pub thinking_blocks: Vec<ThinkingBlock>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ReasoningContent {
    ReasoningText { text: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageItem {
    pub id: String,
    pub status: ItemStatus,
    pub role: AssistantRole,
    pub content: Vec<OutputContent>,
}

/// The `role` of an output message: always `assistant`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AssistantRole {
    Assistant,
}

/// A part of an output message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutputContent {
    OutputText { text: String, annotations: EmptyList, logprobs: EmptyList },
    Refusal { refusal: String },
}

impl OutputContent {
    pub(super) fn text(text: String) -> Self {
        Self::OutputText { text, annotations: EmptyList, logprobs: EmptyList }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionCallItem {
    pub id: String,
    /// The id the client answers with `function_call_output` (the provider's call id).
    pub call_id: String,
    pub name: String,
    pub arguments: String,
    pub status: ItemStatus,
}

/// Tokens, as the Responses API counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseUsage {
    pub input_tokens: u64,
    pub input_tokens_details: InputTokensDetails,
    pub output_tokens: u64,
    pub output_tokens_details: OutputTokensDetails,
    pub total_tokens: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputTokensDetails {
    pub cached_tokens: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputTokensDetails {
    pub reasoning_tokens: u64,
}

impl From<&Usage> for ResponseUsage {
    fn from(usage: &Usage) -> Self {
        Self {
            input_tokens: usage.prompt_tokens,
            input_tokens_details: InputTokensDetails {
                cached_tokens: usage.prompt_tokens_details.map_or(0, |d| d.cached_tokens),
            },
            output_tokens: usage.completion_tokens,
            output_tokens_details: OutputTokensDetails {
                reasoning_tokens: usage.completion_tokens_details.map_or(0, |d| d.reasoning_tokens),
            },
            total_tokens: usage.total_tokens,
        }
    }
}

/// A list the bridge never fills (annotations, log probabilities, reasoning
/// summaries): written `[]`, read from any list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmptyList;

impl Serialize for EmptyList {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_seq(Some(0))?.end()
    }
}

impl<'de> Deserialize<'de> for EmptyList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        IgnoredAny::deserialize(deserializer).map(|_| Self)
    }
}

impl Response {
    /// The response as it starts: in progress, no output, no usage; the request's
    /// parameters echoed.
    pub fn in_progress(request: &Request, id: &str, created_at: u64) -> Self {
        let text = request.text.clone().unwrap_or(TextConfig { format: None, verbosity: None });
        Self {
            id: id.to_owned(),
            object: ResponseObject::Response,
            created_at,
            status: Status::InProgress,
            error: None,
            incomplete_details: None,
            instructions: request.instructions.clone(),
            max_output_tokens: request.max_output_tokens,
            model: request.model.clone(),
            output: Vec::new(),
            parallel_tool_calls: request.parallel_tool_calls.unwrap_or(true),
            previous_response_id: request.previous_response_id.clone(),
            reasoning: request.reasoning.map_or_else(ReasoningConfig::default, |r| ReasoningConfig {
                summary: r.summary.or(r.generate_summary),
                ..r
            }),
            store: request.store,
            temperature: request.temperature,
            text: TextConfig { format: Some(text.format.unwrap_or(TextFormat::Text)), ..text },
            tool_choice: request.tool_choice.clone().unwrap_or(ToolChoice::Mode(ToolChoiceMode::Auto)),
            tools: request
                .tools
                .iter()
                .filter_map(|tool| match tool {
                    Tool::Function(function) => Some(function.clone()),
                    Tool::BuiltIn(_) => None,
                })
                .collect(),
            top_p: request.top_p,
            truncation: request.truncation.unwrap_or_default(),
            usage: None,
            user: request.user.clone(),
            metadata: request.metadata.clone(),
            background: false,
        }
    }

    /// Ends the response as the chat answer ended: its status from `finish`, the
    /// last item incomplete when the answer was cut, and its usage.
    pub(super) fn conclude(&mut self, finish: Option<FinishReason>, usage: Option<&Usage>) {
        let reason = incomplete_reason(finish);
        self.status = if reason.is_some() { Status::Incomplete } else { Status::Completed };
        self.incomplete_details = reason.map(|reason| IncompleteDetails { reason });
        if reason.is_some()
            && let Some(last) = self.output.last_mut()
        {
            last.set_status(ItemStatus::Incomplete);
        }
        self.usage = usage.map(ResponseUsage::from);
    }
}

/// Why an answer that ended with `finish` is incomplete, if it is.
pub(super) fn incomplete_reason(finish: Option<FinishReason>) -> Option<IncompleteReason> {
    match finish {
        Some(FinishReason::Length) => Some(IncompleteReason::MaxOutputTokens),
        Some(FinishReason::ContentFilter) => Some(IncompleteReason::ContentFilter),
        Some(FinishReason::Stop | FinishReason::ToolCalls | FinishReason::FunctionCall) | None => None,
    }
}

/// Whether a provider can take a thinking block back: one it signed, or a redacted one.
pub(super) fn signed(block: &ThinkingBlock) -> bool {
    match block {
        ThinkingBlock::Thinking { signature, .. } => signature.as_deref().is_some_and(|s| !s.is_empty()),
        ThinkingBlock::RedactedThinking { .. } => true,
    }
}

/// Signed thinking blocks as a reasoning item's `encrypted_content`: their JSON,
/// which [`super::chat`] reads back. OpenAI's own encrypted reasoning never reads
/// as it, and is dropped there.
pub(super) fn encrypted_content(blocks: &[ThinkingBlock]) -> Option<String> {
    if blocks.is_empty() {
        return None;
    }
    serde_json::to_string(blocks).ok()
}

/// The thinking blocks an `encrypted_content` this gateway wrote holds.
pub(super) fn thinking_blocks(encrypted_content: &str) -> Option<Vec<ThinkingBlock>> {
    serde_json::from_str::<Vec<ThinkingBlock>>(encrypted_content).ok().filter(|blocks| !blocks.is_empty())
}

/// The Response for a complete chat answer to `request`, with the id `id` and
/// made at `created_at` (unix seconds).
pub fn response(chat: &ChatResponse, request: &Request, id: &str, created_at: u64) -> Response {
    let mut response = Response::in_progress(request, id, created_at);
    let choice = chat.choices.first();
    if let Some(message) = choice.map(|choice| &choice.message) {
        let output = &mut response.output;
        let reasoning = message.reasoning_content.as_ref().filter(|text| !text.is_empty());
        let thinking_blocks: Vec<ThinkingBlock> =
            message.thinking_blocks.iter().flatten().filter(|block| signed(block)).cloned().collect();
        if reasoning.is_some() || !thinking_blocks.is_empty() {
            output.push(OutputItem::Reasoning(ReasoningItem {
                id: item_id(ItemKind::Reasoning, id, output.len()),
                summary: EmptyList,
                content: reasoning
                    .map(|text| ReasoningContent::ReasoningText { text: text.clone() })
                    .into_iter()
                    .collect(),
                encrypted_content: if request.include_encrypted_reasoning() {
                    encrypted_content(&thinking_blocks)
                } else {
                    None
                },
                status: ItemStatus::Completed,
                thinking_blocks,
            }));
        }
        let mut content = Vec::new();
        if let Some(text) = message.content.as_ref().filter(|text| !text.is_empty()) {
            content.push(OutputContent::text(text.clone()));
        }
        if let Some(refusal) = message.refusal.as_ref().filter(|refusal| !refusal.is_empty()) {
            content.push(OutputContent::Refusal { refusal: refusal.clone() });
        }
        if !content.is_empty() {
            output.push(OutputItem::Message(MessageItem {
                id: item_id(ItemKind::Message, id, output.len()),
                status: ItemStatus::Completed,
                role: AssistantRole::Assistant,
                content,
            }));
        }
        for call in message.tool_calls.iter().flatten() {
            output.push(OutputItem::FunctionCall(FunctionCallItem {
                id: item_id(ItemKind::FunctionCall, id, output.len()),
                call_id: call.id.clone(),
                name: call.function.name.clone(),
                arguments: call.function.arguments.clone(),
                status: ItemStatus::Completed,
            }));
        }
    }
    response.conclude(choice.and_then(|choice| choice.finish_reason), chat.usage.as_ref());
    response
}

#[cfg(test)]
mod tests;
