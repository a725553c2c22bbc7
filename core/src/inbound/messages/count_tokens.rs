//! `POST /v1/messages/count_tokens`: the same request without the answer's fields
//! (`model`, `messages`, `system`, `tools`, `tool_choice`, `thinking`,
//! `output_config`, ...), checked as strictly, and the gateway's estimate of its
//! input tokens, answered as `{"input_tokens": n}`.
//!
//! The estimate counts as the gateway counts a prompt (4 bytes a token), over what
//! the model reads: the text of the system prompt, the turns (text, thinking, tool
//! calls' names and inputs, tool results) and the tools (names, descriptions,
//! schemas). An image counts as Anthropic's largest (1,600 tokens: about 1.15
//! megapixels at 750 pixels a token), whatever its size, and a PDF by its bytes,
//! which comes near Anthropic's count for text-heavy pages.
//!
//! An Anthropic deployment counts exactly: the client's body, with the model
//! renamed and the gateway's keys left out, is what
//! [`ParsedRequest::upstream_body`](crate::request::ParsedRequest::upstream_body)
//! gives for it (parsed as a chat body: it has the `model` and `messages` that
//! asks for).

use serde::Serialize;
use serde_json::{Map, Value};

use super::MessagesError;
use super::request::{ClientTool, Endpoint, parse_for};
use crate::provider::anthropic::wire::{
    ContentBlock, DocumentSource, Message, MessageContent, System, SystemBlock, ToolResultContent,
};

/// Bytes of text per token, the gateway's estimate.
const BYTES_PER_TOKEN: u64 = 4;

/// The tokens an image counts for: Anthropic's largest image.
const IMAGE_TOKENS: u64 = 1_600;

/// A `count_tokens` request, checked: what is counted.
#[derive(Debug, Clone, PartialEq)]
pub struct CountRequest {
    pub model: String,
    pub system: Option<System<'static>>,
    pub messages: Vec<Message<'static>>,
    pub tools: Vec<ClientTool>,
    /// The gateway's own keys, as the client wrote them.
    pub gateway: Map<String, Value>,
}

/// Parses and checks the body of `POST /v1/messages/count_tokens`.
pub fn parse_count(body: &[u8]) -> Result<CountRequest, MessagesError> {
    let request = parse_for(body, Endpoint::CountTokens)?;
    Ok(CountRequest {
        model: request.model,
        system: request.system,
        messages: request.messages,
        tools: request.tools,
        gateway: request.gateway,
    })
}

/// The gateway's estimate of the request's input tokens.
pub fn estimate(request: &CountRequest) -> u64 {
    let mut count = Count::default();
    match &request.system {
        None => {}
        Some(System::Text(text)) => count.text(text),
        Some(System::Blocks(blocks)) => {
            for SystemBlock::Text { text, .. } in blocks {
                count.text(text);
            }
        }
    }
    for message in &request.messages {
        match &message.content {
            MessageContent::Text(text) => count.text(text),
            MessageContent::Blocks(blocks) => blocks.iter().for_each(|block| count.block(block)),
        }
    }
    for tool in &request.tools {
        count.text(&tool.tool.name);
        count.text(tool.tool.description.as_deref().unwrap_or_default());
        count.json(&tool.tool.input_schema);
    }
    count.tokens()
}

/// The answer's body: `{"input_tokens": n}`.
pub fn count_body(input_tokens: u64) -> Vec<u8> {
    #[derive(Serialize)]
    struct Answer {
        input_tokens: u64,
    }
    // Serializing a number cannot fail.
    serde_json::to_vec(&Answer { input_tokens }).unwrap_or_default()
}

#[derive(Debug, Default)]
struct Count {
    bytes: u64,
    images: u64,
}

impl Count {
    fn text(&mut self, text: &str) {
        self.bytes += text.len() as u64;
    }

    fn json(&mut self, value: &Value) {
        self.bytes += value.to_string().len() as u64;
    }

    fn block(&mut self, block: &ContentBlock<'_>) {
        match block {
            ContentBlock::Text { text, .. } => self.text(text),
            ContentBlock::Thinking { thinking, .. } => self.text(thinking),
            ContentBlock::Image { .. } => self.images += 1,
            ContentBlock::Document { source, title, context, .. } => {
                match source {
                    // The PDF's bytes, not its base64's.
                    DocumentSource::Base64 { data, .. } => self.bytes += data.len() as u64 * 3 / 4,
                    DocumentSource::Text { data, .. } => self.text(data),
                    DocumentSource::Url { .. } | DocumentSource::File { .. } => self.images += 1,
                }
                self.text(title.as_deref().unwrap_or_default());
                self.text(context.as_deref().unwrap_or_default());
            }
            ContentBlock::ToolUse { name, input, .. } => {
                self.text(name);
                self.json(input);
            }
            ContentBlock::ToolResult { content, .. } => match content {
                None => {}
                Some(ToolResultContent::Text(text)) => self.text(text),
                Some(ToolResultContent::Blocks(blocks)) => blocks.iter().for_each(|block| self.block(block)),
            },
            // Encrypted thinking and blocks only Anthropic reads: Anthropic counts them.
            ContentBlock::RedactedThinking { .. } | ContentBlock::Unsupported => {}
        }
    }

    fn tokens(&self) -> u64 {
        self.bytes.div_ceil(BYTES_PER_TOKEN) + self.images * IMAGE_TOKENS
    }
}

#[cfg(test)]
mod tests;
