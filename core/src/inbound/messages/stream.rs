//! OpenAI chunks written as Anthropic's stream, as they come: the inverse of the
//! provider side's [`crate::provider::anthropic::stream::Decoder`].
//!
//! Each event is `event: <type>\ndata: <json>\n\n`, in Anthropic's order:
//! `message_start` (at the first chunk: the id, the client's model name, the
//! estimated input tokens), then per content block a `content_block_start`, its
//! deltas and a `content_block_stop`, the blocks numbered from 0 in the order they
//! start; then `message_delta` (the stop reason and the usage) and, at the end,
//! `message_stop`.
//!
//! - text (and a refusal) is a `text` block of `text_delta`s;
//! - thinking is a `thinking` block: LiteLLM's `thinking_blocks` pieces when the
//!   chunk has them (their text as `thinking_delta`s, their signature as the
//!   `signature_delta` that ends the block; a redacted block whole), else
//!   `reasoning_content` (the same text, which the pieces repeat);
//! - each tool call (by its OpenAI index) is a `tool_use` block: its start has the
//!   id and name and `input: {}`, each arguments fragment is an `input_json_delta`.
//!
//! Anthropic's blocks do not interleave; OpenAI's tool calls may. A tool call's
//! block therefore stays open until the answer finishes, and whatever comes in
//! the meantime (another call's fragments, text) waits, in order, to be written as
//! whole blocks after it: with OpenAI's usual streams (one call after the other)
//! the first call streams as it comes and the others follow at the finish.
//!
//! OpenAI sends the usage after the finish, or not at all: `message_delta` is
//! written once both are known, else at the end with what is known (the output
//! tokens then estimated as the gateway estimates, 4 bytes of written text each).

use serde::Serialize;

use crate::failure::Failure;
use crate::openai::{ChatChunk, Delta, FinishReason, ThinkingBlock, ToolCallDelta, Usage};
use crate::provider::anthropic::wire::{
    self, ContentBlock, DeltaUsage, MessageDelta, MessageKind, MessagesResponse, Role, StopReason, StreamEvent,
};
use crate::provider::anthropic::{anthropic_usage, stop_reason};
use crate::translate::ChunkEncoder;

use super::answer::message_id;
use super::error::error_reply;

/// Bytes of text per token, the gateway's estimate (as for prompts).
const BYTES_PER_TOKEN: u64 = 4;

/// Writes one answer's chunks as Anthropic's stream.
#[derive(Debug)]
pub struct Encoder {
    model: String,
    seed: u64,
    estimated_input_tokens: u64,
    started: bool,
    /// The block being written.
    open: Option<Open>,
    /// The index of the next block to start.
    next_index: u32,
    /// Blocks waiting for the open tool call's block to end, in order.
    pending: Vec<Pending>,
    /// The OpenAI indexes of the tool calls started so far (written or pending).
    calls: Vec<u32>,
    stop: Option<StopReason>,
    usage: Option<Usage>,
    /// `message_delta` was written: nothing of the content may follow.
    delta_written: bool,
    /// `message_stop` or an error was written.
    ended: bool,
    /// Bytes of content written, for an output estimate when no usage comes.
    content_bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text(u32),
    Thinking(u32),
    /// A tool call's block: its index, and the call's OpenAI index.
    Tool(u32, u32),
}

#[derive(Debug)]
enum Pending {
    Text(String),
    Thinking { thinking: String, signature: Option<String> },
    Redacted(String),
    Tool { call: u32, id: String, name: String, arguments: String },
}

/// A piece of the answer, borrowed from its chunk.
enum Piece<'a> {
    Text(&'a str),
    Thinking(&'a str),
    Signature(&'a str),
    Redacted(&'a str),
    Tool(&'a ToolCallDelta),
}

impl Encoder {
    /// An encoder answering as `model` (the client's name), its message id made from
    /// `message_id_seed` when the chunks carry none, `estimated_input_tokens` in
    /// `message_start` (the real figure follows in `message_delta` when known).
    pub fn new(model: &str, message_id_seed: u64, estimated_input_tokens: u64) -> Self {
        Self {
            model: model.to_owned(),
            seed: message_id_seed,
            estimated_input_tokens,
            started: false,
            open: None,
            next_index: 0,
            pending: Vec::new(),
            calls: Vec::new(),
            stop: None,
            usage: None,
            delta_written: false,
            ended: false,
            content_bytes: 0,
        }
    }

    fn start(&mut self, id: &str, out: &mut Vec<u8>) {
        self.started = true;
        let id = if id.is_empty() { format!("msg_{:016x}", self.seed) } else { message_id(id) };
        let message = MessagesResponse {
            id,
            kind: MessageKind::Message,
            role: Role::Assistant,
            model: self.model.clone(),
            content: Vec::new(),
            stop_reason: None,
            stop_sequence: None,
            usage: wire::Usage { input_tokens: self.estimated_input_tokens, ..wire::Usage::default() },
        };
        write_event(out, "message_start", &StreamEvent::MessageStart { message });
    }

    fn piece(&mut self, piece: Piece<'_>, out: &mut Vec<u8>) {
        if self.delta_written {
            // The answer was declared finished: Anthropic's stream has no place for more.
            return;
        }
        if let Some(Open::Tool(index, call)) = self.open {
            match piece {
                Piece::Tool(delta) if delta.index == call => self.arguments(index, delta, out),
                other => self.hold(other),
            }
            return;
        }
        match piece {
            Piece::Text(text) => {
                let index = match self.open {
                    Some(Open::Text(index)) => index,
                    _ => self.open_block(ContentBlock::Text { text: "".into(), cache_control: None }, out),
                };
                self.open = Some(Open::Text(index));
                self.delta(index, BlockDelta::Text { text }, out);
            }
            Piece::Thinking(thinking) => {
                let index = self.thinking_block(out);
                self.delta(index, BlockDelta::Thinking { thinking }, out);
            }
            Piece::Signature(signature) => {
                let index = self.thinking_block(out);
                self.delta(index, BlockDelta::Signature { signature }, out);
                // The signature ends its block: more thinking is another block.
                self.close(out);
            }
            Piece::Redacted(data) => {
                // Written whole: it has no deltas.
                let index = self.open_block(ContentBlock::RedactedThinking { data: data.to_owned().into() }, out);
                write_event(out, "content_block_stop", &StreamEvent::ContentBlockStop { index });
            }
            Piece::Tool(delta) if self.calls.contains(&delta.index) => self.hold(Piece::Tool(delta)),
            Piece::Tool(delta) => {
                self.calls.push(delta.index);
                let (id, name) = self.call_names(delta);
                let index = self.open_block(tool_use(id, name), out);
                self.open = Some(Open::Tool(index, delta.index));
                self.arguments(index, delta, out);
            }
        }
    }

    /// The open thinking block's index, after opening one if need be.
    fn thinking_block(&mut self, out: &mut Vec<u8>) -> u32 {
        let index = match self.open {
            Some(Open::Thinking(index)) => index,
            _ => self.open_block(ContentBlock::Thinking { thinking: "".into(), signature: "".into() }, out),
        };
        self.open = Some(Open::Thinking(index));
        index
    }

    /// A call's id and name, from its first delta (made up when a provider sent none).
    fn call_names(&self, delta: &ToolCallDelta) -> (String, String) {
        let id = match delta.id.as_deref() {
            Some(id) if !id.is_empty() => id.to_owned(),
            _ => format!("toolu_{:016x}_{}", self.seed, delta.index),
        };
        let name = delta.function.as_ref().and_then(|f| f.name.clone()).unwrap_or_default();
        (id, name)
    }

    fn arguments(&mut self, index: u32, delta: &ToolCallDelta, out: &mut Vec<u8>) {
        if let Some(partial_json) =
            delta.function.as_ref().and_then(|f| f.arguments.as_deref()).filter(|a| !a.is_empty())
        {
            self.delta(index, BlockDelta::InputJson { partial_json }, out);
        }
    }

    /// Keeps a piece for after the open tool call's block.
    fn hold(&mut self, piece: Piece<'_>) {
        match piece {
            Piece::Text(text) => match self.pending.last_mut() {
                Some(Pending::Text(held)) => held.push_str(text),
                _ => self.pending.push(Pending::Text(text.to_owned())),
            },
            Piece::Thinking(text) => match self.pending.last_mut() {
                Some(Pending::Thinking { thinking, signature: None }) => thinking.push_str(text),
                _ => self.pending.push(Pending::Thinking { thinking: text.to_owned(), signature: None }),
            },
            Piece::Signature(sig) => match self.pending.last_mut() {
                Some(Pending::Thinking { signature: signature @ None, .. }) => *signature = Some(sig.to_owned()),
                _ => self.pending.push(Pending::Thinking { thinking: String::new(), signature: Some(sig.to_owned()) }),
            },
            Piece::Redacted(data) => self.pending.push(Pending::Redacted(data.to_owned())),
            Piece::Tool(delta) => {
                let fragment = delta.function.as_ref().and_then(|f| f.arguments.as_deref()).unwrap_or_default();
                let held = self.pending.iter_mut().find_map(|held| match held {
                    Pending::Tool { call, arguments, .. } if *call == delta.index => Some(arguments),
                    _ => None,
                });
                match held {
                    Some(arguments) => arguments.push_str(fragment),
                    None if self.calls.contains(&delta.index) => {
                        // A fragment of a call whose block was written whole: it has no
                        // place left (a provider's stream out of order).
                    }
                    None => {
                        self.calls.push(delta.index);
                        let (id, name) = self.call_names(delta);
                        self.pending.push(Pending::Tool {
                            call: delta.index,
                            id,
                            name,
                            arguments: fragment.to_owned(),
                        });
                    }
                }
            }
        }
    }

    /// Starts a block: its index.
    fn open_block(&mut self, block: ContentBlock<'static>, out: &mut Vec<u8>) -> u32 {
        self.close(out);
        let index = self.next_index;
        self.next_index += 1;
        write_event(out, "content_block_start", &StreamEvent::ContentBlockStart { index, content_block: block });
        index
    }

    fn close(&mut self, out: &mut Vec<u8>) {
        if let Some(open) = self.open.take() {
            let index = match open {
                Open::Text(index) | Open::Thinking(index) | Open::Tool(index, _) => index,
            };
            write_event(out, "content_block_stop", &StreamEvent::ContentBlockStop { index });
        }
    }

    /// Ends the open block and writes the held ones whole.
    fn close_all(&mut self, out: &mut Vec<u8>) {
        self.close(out);
        for held in std::mem::take(&mut self.pending) {
            match held {
                Pending::Text(text) => {
                    let index = self.open_block(ContentBlock::Text { text: "".into(), cache_control: None }, out);
                    self.delta(index, BlockDelta::Text { text: &text }, out);
                }
                Pending::Thinking { thinking, signature } => {
                    let index =
                        self.open_block(ContentBlock::Thinking { thinking: "".into(), signature: "".into() }, out);
                    if !thinking.is_empty() {
                        self.delta(index, BlockDelta::Thinking { thinking: &thinking }, out);
                    }
                    if let Some(signature) = &signature {
                        self.delta(index, BlockDelta::Signature { signature }, out);
                    }
                }
                Pending::Redacted(data) => {
                    self.open_block(ContentBlock::RedactedThinking { data: data.into() }, out);
                }
                Pending::Tool { id, name, arguments, .. } => {
                    let index = self.open_block(tool_use(id, name), out);
                    if !arguments.is_empty() {
                        self.delta(index, BlockDelta::InputJson { partial_json: &arguments }, out);
                    }
                }
            }
            // Every held block is written whole: close it before the next.
            let index = self.next_index - 1;
            write_event(out, "content_block_stop", &StreamEvent::ContentBlockStop { index });
        }
    }

    fn delta(&mut self, index: u32, delta: BlockDelta<'_>, out: &mut Vec<u8>) {
        self.content_bytes += delta.len() as u64;
        let event = DeltaEvent { kind: "content_block_delta", index, delta };
        write_event(out, event.kind, &event);
    }

    /// `message_delta`, once the stop reason is known (the usage as known).
    fn message_delta(&mut self, out: &mut Vec<u8>) {
        self.delta_written = true;
        let usage = match &self.usage {
            Some(usage) => {
                let usage = anthropic_usage(usage);
                DeltaUsage {
                    output_tokens: usage.output_tokens,
                    input_tokens: Some(usage.input_tokens),
                    cache_creation_input_tokens: usage.cache_creation_input_tokens,
                    cache_read_input_tokens: usage.cache_read_input_tokens,
                    output_tokens_details: usage.output_tokens_details,
                }
            }
            None => DeltaUsage { output_tokens: self.content_bytes.div_ceil(BYTES_PER_TOKEN), ..DeltaUsage::default() },
        };
        let delta =
            MessageDelta { stop_reason: Some(self.stop.clone().unwrap_or(StopReason::EndTurn)), stop_sequence: None };
        write_event(out, "message_delta", &StreamEvent::MessageDelta { delta, usage: Some(usage) });
    }

    fn finish_reason(&mut self, finish: FinishReason, out: &mut Vec<u8>) {
        if self.stop.is_none() {
            self.close_all(out);
            self.stop = Some(stop_reason(finish));
        }
    }

    fn delta_pieces(&mut self, delta: &Delta, out: &mut Vec<u8>) {
        match &delta.thinking_blocks {
            Some(blocks) => {
                for block in blocks {
                    match block {
                        ThinkingBlock::Thinking { thinking, signature } => {
                            if !thinking.is_empty() {
                                self.piece(Piece::Thinking(thinking), out);
                            }
                            if let Some(signature) = signature {
                                self.piece(Piece::Signature(signature), out);
                            }
                        }
                        ThinkingBlock::RedactedThinking { data } => self.piece(Piece::Redacted(data), out),
                    }
                }
            }
            None => {
                if let Some(reasoning) = delta.reasoning_content.as_deref().filter(|r| !r.is_empty()) {
                    self.piece(Piece::Thinking(reasoning), out);
                }
            }
        }
        for text in [&delta.content, &delta.refusal].into_iter().flatten() {
            if !text.is_empty() {
                self.piece(Piece::Text(text), out);
            }
        }
        for call in delta.tool_calls.iter().flatten() {
            self.piece(Piece::Tool(call), out);
        }
    }
}

impl ChunkEncoder for Encoder {
    fn encode(&mut self, chunk: &ChatChunk, out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        if !self.started {
            self.start(&chunk.id, out);
        }
        // Anthropic's answer is one message: only the first choice has a place.
        if let Some(choice) = chunk.choices.iter().find(|choice| choice.index == 0) {
            self.delta_pieces(&choice.delta, out);
            if let Some(finish) = choice.finish_reason {
                self.finish_reason(finish, out);
            }
        }
        if let Some(usage) = chunk.usage {
            self.usage = Some(usage);
        }
        if self.stop.is_some() && self.usage.is_some() && !self.delta_written {
            self.message_delta(out);
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        if !self.started {
            self.start("", out);
        }
        if !self.delta_written {
            self.close_all(out);
            self.message_delta(out);
        }
        self.ended = true;
        write_event(out, "message_stop", &StreamEvent::MessageStop);
    }

    fn fail(&mut self, failure: &Failure, out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        self.ended = true;
        let (_, body) = error_reply(&failure.error);
        out.extend_from_slice(b"event: error\ndata: ");
        out.extend_from_slice(&body);
        out.extend_from_slice(b"\n\n");
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

fn tool_use(id: String, name: String) -> ContentBlock<'static> {
    let input = serde_json::Value::Object(serde_json::Map::new());
    ContentBlock::ToolUse {
        id: id.into(),
        name: name.into(),
        input: std::borrow::Cow::Owned(input),
        cache_control: None,
    }
}

/// A `content_block_delta` borrowing its text from the chunk: the one event written
/// per chunk, so it copies nothing (the wire type owns its strings).
#[derive(Serialize)]
struct DeltaEvent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    index: u32,
    delta: BlockDelta<'a>,
}

#[derive(Serialize)]
#[serde(tag = "type")]
enum BlockDelta<'a> {
    #[serde(rename = "text_delta")]
    Text { text: &'a str },
    #[serde(rename = "thinking_delta")]
    Thinking { thinking: &'a str },
    #[serde(rename = "signature_delta")]
    Signature { signature: &'a str },
    #[serde(rename = "input_json_delta")]
    InputJson { partial_json: &'a str },
}

impl BlockDelta<'_> {
    /// The bytes of content it carries (a signature is none).
    fn len(&self) -> usize {
        match self {
            Self::Text { text: piece }
            | Self::Thinking { thinking: piece }
            | Self::InputJson { partial_json: piece } => piece.len(),
            Self::Signature { .. } => 0,
        }
    }
}

/// `event: <name>\ndata: <event as JSON>\n\n`.
fn write_event(out: &mut Vec<u8>, name: &str, event: &impl Serialize) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    // Serializing plain data types into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, event);
    out.extend_from_slice(b"\n\n");
}

#[cfg(test)]
mod tests;
