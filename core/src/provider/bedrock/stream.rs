//! A `ConverseStream` answer, decoded as it arrives into OpenAI chunks.
//!
//! The answer is event-stream frames ([`super::eventstream`]), each an event
//! (`:message-type: event`, named by `:event-type`, a JSON payload) or an
//! exception (`:message-type: exception`, named by `:exception-type`). Events
//! come in this order: `messageStart`; for each content block a
//! `contentBlockStart` (for a tool call, with its id and name), its
//! `contentBlockDelta`s (text, fragments of a tool call's input JSON, reasoning)
//! and a `contentBlockStop`; `messageStop` with the stop reason; and `metadata`
//! with the usage, always last.
//!
//! A stream that ends before `metadata` was cut: a `messageStop` alone leaves the
//! usage unknown, and Bedrock always sends `metadata` after it.

use serde::Deserialize;

use super::error;
use super::eventstream::{self, Message};
use super::wire::{ContentBlockDelta, ContentBlockStart, MessageStop, Metadata, StopReason};
use crate::failure::Failure;
use crate::openai::{ChatChunk, Delta, FinishReason, FunctionCallDelta, ToolCallDelta, Usage};
use crate::translate::{ChunkContext, StreamDecoder};

/// Decodes one `ConverseStream` answer.
#[derive(Debug)]
pub struct Decoder {
    frames: eventstream::Decoder,
    state: State,
}

impl Decoder {
    /// Chunks stamped with `model` and `created`; `id_seed` makes their id.
    /// `json_tool` is [`super::request::json_tool_name`]: that tool's input is
    /// streamed as content.
    pub fn new(model: &str, created: u64, id_seed: u64, json_tool: Option<&str>) -> Self {
        Self {
            frames: eventstream::Decoder::default(),
            state: State {
                ctx: ChunkContext { id: format!("chatcmpl-{id_seed:016x}"), created, model: model.to_owned() },
                json_tool: json_tool.map(str::to_owned),
                started: false,
                blocks: Vec::new(),
                tool_calls: 0,
                stop: None,
                usage: None,
                ended: false,
            },
        }
    }
}

impl StreamDecoder for Decoder {
    fn feed(&mut self, bytes: &[u8], out: &mut Vec<ChatChunk>) -> Result<(), Failure> {
        self.frames.push(bytes);
        loop {
            match self.frames.next_message() {
                Ok(Some(message)) => self.state.message(message, out)?,
                Ok(None) => return Ok(()),
                Err(e) => return Err(self.state.invalid(e.to_string())),
            }
        }
    }

    fn finish(&mut self, _out: &mut Vec<ChatChunk>) -> Result<(), Failure> {
        if let Err(e) = self.frames.finish() {
            return Err(self.state.invalid(e.to_string()));
        }
        if self.state.stop.is_none() {
            return Err(self.state.invalid("the stream ended before its messageStop event".to_owned()));
        }
        if !self.state.ended {
            return Err(self
                .state
                .invalid("the stream ended after messageStop, without its metadata event".to_owned()));
        }
        Ok(())
    }

    fn usage(&self) -> Option<Usage> {
        self.state.usage
    }
}

/// What a content block of the stream is, by its `contentBlockIndex`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    /// A tool call, at this OpenAI `index`.
    ToolCall(u32),
    /// The call of the JSON-answer tool, streamed as content.
    JsonAnswer,
}

#[derive(Debug)]
struct State {
    ctx: ChunkContext,
    json_tool: Option<String>,
    /// The role chunk was sent.
    started: bool,
    /// The tool-call blocks begun: `(contentBlockIndex, what it is)`. A stream
    /// has a few, so a list beats a map.
    blocks: Vec<(u32, Block)>,
    /// Tool calls begun (OpenAI's indexes count them from 0).
    tool_calls: u32,
    stop: Option<StopReason>,
    usage: Option<Usage>,
    /// `metadata` came: nothing follows it.
    ended: bool,
}

// A `Failure` ends the stream: returned once at most, its size costs nothing.
#[allow(clippy::result_large_err)]
impl State {
    fn message(&mut self, message: Message<'_>, out: &mut Vec<ChatChunk>) -> Result<(), Failure> {
        match message.str_header(":message-type").unwrap_or("event") {
            "event" => match message.str_header(":event-type") {
                Some(event) => self.event(event, message.payload(), out),
                None => Err(self.invalid("an event frame without :event-type".to_owned())),
            },
            "exception" => {
                Err(error::stream_exception(message.str_header(":exception-type").unwrap_or(""), message.payload()))
            }
            // The event-stream protocol's own errors, named in headers.
            "error" => {
                let code = message.str_header(":error-code").unwrap_or("error");
                let text = message.str_header(":error-message").unwrap_or("the stream failed");
                let body = serde_json::json!({ "message": text }).to_string();
                Err(error::failure(500, None, body.as_bytes(), Some(code)))
            }
            other => Err(self.invalid(format!("a frame of unknown :message-type `{other}`"))),
        }
    }

    fn event(&mut self, event: &str, payload: &[u8], out: &mut Vec<ChatChunk>) -> Result<(), Failure> {
        match event {
            "messageStart" => self.start(out),
            "contentBlockStart" => {
                let start: ContentBlockStart = self.parse(event, payload)?;
                self.start(out);
                let Some(tool) = start.start.tool_use else { return Ok(()) };
                if self.json_tool.as_deref() == Some(tool.name.as_str()) {
                    self.blocks.push((start.content_block_index, Block::JsonAnswer));
                    return Ok(());
                }
                let index = self.tool_calls;
                self.tool_calls += 1;
                self.blocks.push((start.content_block_index, Block::ToolCall(index)));
                let call = ToolCallDelta {
                    index,
                    id: Some(tool.tool_use_id),
                    kind: Some("function".to_owned()),
                    function: Some(FunctionCallDelta { name: Some(tool.name), arguments: Some(String::new()) }),
                };
                out.push(self.ctx.chunk(Delta { tool_calls: Some(vec![call]), ..Delta::default() }, None));
            }
            "contentBlockDelta" => {
                let delta: ContentBlockDelta = self.parse(event, payload)?;
                self.start(out);
                if let Some(text) = delta.delta.text.filter(|text| !text.is_empty()) {
                    out.push(self.ctx.chunk(Delta { content: Some(text), ..Delta::default() }, None));
                }
                if let Some(tool) = delta.delta.tool_use {
                    let block = self.blocks.iter().find(|(index, _)| *index == delta.content_block_index);
                    let delta = match block {
                        Some((_, Block::ToolCall(index))) => Delta {
                            tool_calls: Some(vec![ToolCallDelta {
                                index: *index,
                                function: Some(FunctionCallDelta { name: None, arguments: Some(tool.input) }),
                                ..ToolCallDelta::default()
                            }]),
                            ..Delta::default()
                        },
                        Some((_, Block::JsonAnswer)) => Delta { content: Some(tool.input), ..Delta::default() },
                        None => {
                            return Err(self.invalid(format!(
                                "tool input for content block {} that no toolUse start began",
                                delta.content_block_index
                            )));
                        }
                    };
                    out.push(self.ctx.chunk(delta, None));
                }
                if let Some(text) = delta.delta.reasoning_content.and_then(|r| r.text).filter(|t| !t.is_empty()) {
                    out.push(self.ctx.chunk(Delta { reasoning_content: Some(text), ..Delta::default() }, None));
                }
            }
            "messageStop" => {
                let stop: MessageStop = self.parse(event, payload)?;
                self.start(out);
                let mut finish = stop.stop_reason.finish_reason();
                if finish == FinishReason::ToolCalls && self.tool_calls == 0 && self.has_json_answer() {
                    finish = FinishReason::Stop;
                }
                self.stop = Some(stop.stop_reason);
                out.push(self.ctx.chunk(Delta::default(), Some(finish)));
            }
            "metadata" => {
                let metadata: Metadata = self.parse(event, payload)?;
                if let Some(usage) = metadata.usage {
                    let usage = usage.to_openai();
                    self.usage = Some(usage);
                    out.push(self.ctx.usage_chunk(usage));
                }
                self.ended = true;
            }
            // `contentBlockStop`, and events added after these: nothing to send.
            _ => {}
        }
        Ok(())
    }

    /// The first chunk, with the role, before anything else.
    fn start(&mut self, out: &mut Vec<ChatChunk>) {
        if !self.started {
            self.started = true;
            let delta = Delta { role: Some("assistant".to_owned()), content: Some(String::new()), ..Delta::default() };
            out.push(self.ctx.chunk(delta, None));
        }
    }

    fn has_json_answer(&self) -> bool {
        self.blocks.iter().any(|(_, block)| *block == Block::JsonAnswer)
    }

    fn parse<'a, T: Deserialize<'a>>(&self, event: &str, payload: &'a [u8]) -> Result<T, Failure> {
        serde_json::from_slice(payload).map_err(|e| self.invalid(format!("a {event} event that does not parse: {e}")))
    }

    fn invalid(&self, detail: String) -> Failure {
        Failure::invalid_response(&self.ctx.model, format!("Bedrock's ConverseStream: {detail}"))
    }
}

#[cfg(test)]
mod tests;
