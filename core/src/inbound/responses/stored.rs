//! What is kept of a response: enough to continue it (`previous_response_id`) and
//! to give it back (`GET /v1/responses/{id}`).
//!
//! The conversation is kept as the chat messages it was sent as, so that the next
//! turn extends it without mapping it again: the conversation the response
//! continued, this request's input, and the answer as one assistant message (its
//! text, refusal, tool calls and signed thinking blocks). The request's
//! `instructions` are left out: OpenAI does not carry them to the next response.

use serde::{Deserialize, Serialize};

use crate::openai::{self, AssistantMessage, ChatRequest, Message, SystemMessage, ToolCall};

use super::response::{OutputContent, OutputItem, Response};

/// A stored response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stored {
    /// The conversation up to and with this response's answer, without instructions.
    pub conversation: Vec<Message>,
    pub response: Response,
}

/// A stored response as the gateway keeps it: whose it is (the hash of the API
/// key that made it, as the cache's tenants; anyone's when made without a key)
/// and until when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Kept {
    pub tenant: Option<String>,
    pub expires_ms: u64,
    pub stored: Stored,
}

impl Kept {
    /// Whether `tenant` may continue or read it at `now_ms`: its own tenant only,
    /// and not once it expired.
    pub fn readable_by(&self, tenant: Option<&str>, now_ms: u64) -> bool {
        now_ms < self.expires_ms && (self.tenant.is_none() || self.tenant.as_deref() == tenant)
    }
}

/// What to keep of `response`, the answer to `chat` (what
/// [`to_chat`](super::chat::to_chat) made of its request).
pub fn stored(chat: &ChatRequest, response: &Response) -> Stored {
    // `to_chat` puts the instructions first, as a system message of their text.
    let instructions = match (&response.instructions, chat.messages.first()) {
        (Some(instructions), Some(Message::System(SystemMessage { content: openai::Content::Text(text), .. })))
            if !instructions.is_empty() && text == instructions =>
        {
            1
        }
        _ => 0,
    };
    let mut conversation = chat.messages[instructions..].to_vec();
    conversation.extend(answer(&response.output).map(Message::Assistant));
    Stored { conversation, response: response.clone() }
}

/// The output as one assistant message; none when it holds nothing to send back.
fn answer(output: &[OutputItem]) -> Option<AssistantMessage> {
    let mut text = String::new();
    let mut refusal: Option<String> = None;
    let mut tool_calls = Vec::new();
    let mut thinking = Vec::new();
    for item in output {
        match item {
            OutputItem::Reasoning(reasoning) => thinking.extend(reasoning.thinking_blocks.iter().cloned()),
            OutputItem::Message(message) => {
                for part in &message.content {
                    match part {
                        OutputContent::OutputText { text: part, .. } => text.push_str(part),
                        OutputContent::Refusal { refusal: part } => {
                            refusal.get_or_insert_with(String::new).push_str(part);
                        }
                    }
                }
            }
            OutputItem::FunctionCall(call) => tool_calls.push(ToolCall {
                id: call.call_id.clone(),
                kind: "function".to_owned(),
                function: openai::FunctionCall { name: call.name.clone(), arguments: call.arguments.clone() },
            }),
        }
    }
    if text.is_empty() && refusal.is_none() && tool_calls.is_empty() {
        return None;
    }
    Some(AssistantMessage {
        content: (!text.is_empty()).then_some(openai::Content::Text(text)),
        tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
        refusal,
        thinking_blocks: (!thinking.is_empty()).then_some(thinking),
        ..AssistantMessage::default()
    })
}

#[cfg(test)]
mod tests;
