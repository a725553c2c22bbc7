//! A Messages stream (`stream: true`) as OpenAI chunks, decoded as its bytes arrive.
//!
//! Anthropic's stream is `message_start` (the id, model and input tokens), then per
//! content block a `content_block_start`, its deltas and a `content_block_stop`,
//! then `message_delta` (the stop reason and the output tokens so far) and
//! `message_stop`; `ping`s may come anywhere, and an `error` event ends a failing
//! stream. The chunks follow [`StreamDecoder`]'s order:
//! - the role, at `message_start`;
//! - text deltas as `content`, thinking deltas as `reasoning_content` and, as
//!   LiteLLM streams them, pieces of `thinking_blocks` (each thinking delta's text,
//!   then the block's signature; a redacted block whole), for the client to send back;
//! - each `tool_use` block as a tool call, numbered among the tool calls only: its
//!   first delta has the id, type and name with empty arguments, its
//!   `input_json_delta` fragments follow as arguments (a call whose input came in
//!   no fragment gets `{}`, so that its arguments always parse);
//! - the finish reason at `message_delta`;
//! - the usage once `message_stop` comes (input and cache figures from
//!   `message_start` unless `message_delta` updates them; output tokens from
//!   `message_delta`, which counts them cumulatively).
//!
//! In JSON mode the [`JSON_TOOL`] call is the answer: its input fragments come out
//! as content, and it finishes as a stop. Deltas of blocks with no OpenAI
//! counterpart (server tools' inputs, citations) are left out.

use crate::error::ApiError;
use crate::failure::{Failure, FailureClass};
use crate::openai::{ChatChunk, Delta, FinishReason, FunctionCallDelta, ThinkingBlock, ToolCallDelta, Usage};
use crate::sse::{Event, SseReader};
use crate::translate::{ChunkContext, StreamDecoder};

use super::wire::{self, BlockDelta, ContentBlock, DeltaUsage, StreamEvent};
use super::{JSON_TOOL, error, finish_reason, usage};

/// Decodes one Anthropic stream.
#[derive(Debug)]
pub struct Decoder {
    reader: SseReader,
    state: State,
}

impl Decoder {
    /// A decoder stamping `created` (unix seconds) on its chunks; `json_mode` as
    /// [`super::request::json_mode`] says for the request.
    pub fn new(created: u64, json_mode: bool) -> Self {
        Self {
            reader: SseReader::new(),
            state: State {
                created,
                json_mode,
                context: None,
                blocks: Vec::new(),
                tool_calls: 0,
                json_tool_used: false,
                usage: None,
                finished: false,
                stopped: false,
            },
        }
    }
}

impl StreamDecoder for Decoder {
    fn feed(&mut self, bytes: &[u8], out: &mut Vec<ChatChunk>) -> Result<(), Failure> {
        let Self { reader, state } = self;
        let mut result = Ok(());
        reader
            .feed(bytes, |event| {
                if result.is_ok() {
                    result = state.on_event(&event, out);
                }
            })
            .map_err(|e| invalid(e.to_string()))?;
        result
    }

    fn finish(&mut self, _out: &mut Vec<ChatChunk>) -> Result<(), Failure> {
        if self.state.stopped {
            return Ok(());
        }
        Err(Failure {
            class: FailureClass::Connection,
            error: upstream_error(
                "Anthropic's stream ended before `message_stop`: the answer is incomplete".to_owned(),
                "upstream_unreachable",
            ),
            retry_after_ms: None,
            slow_down: false,
        })
    }

    fn usage(&self) -> Option<Usage> {
        self.state.usage.as_ref().map(usage)
    }
}

#[derive(Debug)]
struct State {
    created: u64,
    json_mode: bool,
    /// Set by `message_start`.
    context: Option<ChunkContext>,
    /// The content blocks started so far, by Anthropic's index.
    blocks: Vec<(u32, Block)>,
    /// Tool calls started so far: the next call's OpenAI index.
    tool_calls: u32,
    /// The JSON tool's call came (JSON mode): it is the answer.
    json_tool_used: bool,
    usage: Option<wire::Usage>,
    /// The finish chunk was sent.
    finished: bool,
    /// `message_stop` came: the stream is complete.
    stopped: bool,
}

/// What a content block's deltas become.
#[derive(Debug)]
enum Block {
    /// Text and thinking deltas carry their kind: nothing to remember.
    Plain,
    /// A tool call: its OpenAI index, its input as `content_block_start` gave it
    /// (sent if no fragment comes), whether a fragment came.
    Tool { call: u32, start_input: String, fragments: bool },
    /// The JSON tool's call, whose fragments are content.
    Json { start_input: String, fragments: bool },
    /// A block with no OpenAI counterpart: its deltas are left out.
    Ignored,
}

// A failure ends the stream: it is returned once, so boxing it would buy nothing.
#[allow(clippy::result_large_err)]
impl State {
    /// `message_start`: the answer's id and model, and the role chunk.
    fn start(&mut self, message: wire::MessagesResponse, out: &mut Vec<ChatChunk>) -> Result<(), Failure> {
        if self.context.is_some() {
            return Err(invalid("Anthropic's stream sent a second `message_start`".to_owned()));
        }
        let context = ChunkContext { id: message.id, created: self.created, model: message.model };
        let role = Delta { role: Some("assistant".to_owned()), content: Some(String::new()), ..Delta::default() };
        out.push(context.chunk(role, None));
        self.context = Some(context);
        self.usage = Some(message.usage);
        Ok(())
    }

    fn on_event(&mut self, event: &Event, out: &mut Vec<ChatChunk>) -> Result<(), Failure> {
        if self.stopped {
            return Ok(());
        }
        let parsed: StreamEvent = serde_json::from_str(&event.data)
            .map_err(|e| invalid(format!("Anthropic sent an event that is not one of its stream's: {e}")))?;
        match parsed {
            StreamEvent::Ping | StreamEvent::Unknown => return Ok(()),
            StreamEvent::Error { error } => return Err(error::event_failure(error)),
            StreamEvent::MessageStart { message } => return self.start(message, out),
            _ => {}
        }
        let Some(context) = &self.context else {
            return Err(invalid("Anthropic's stream did not begin with `message_start`".to_owned()));
        };
        match parsed {
            StreamEvent::ContentBlockStart { index, content_block } => {
                let (block, delta) = match content_block {
                    ContentBlock::Text { text, .. } => {
                        (Block::Plain, (!text.is_empty()).then(|| content(text.into_owned())))
                    }
                    ContentBlock::Thinking { thinking, .. } => {
                        (Block::Plain, (!thinking.is_empty()).then(|| reasoning(thinking.into_owned())))
                    }
                    ContentBlock::RedactedThinking { data } => (
                        Block::Ignored,
                        Some(thinking_block(ThinkingBlock::RedactedThinking { data: data.into_owned() })),
                    ),
                    ContentBlock::ToolUse { name, input, .. }
                        if self.json_mode && !self.json_tool_used && name == JSON_TOOL =>
                    {
                        self.json_tool_used = true;
                        (Block::Json { start_input: input.to_string(), fragments: false }, None)
                    }
                    ContentBlock::ToolUse { id, name, input, .. } => {
                        let call = self.tool_calls;
                        self.tool_calls += 1;
                        let start = ToolCallDelta {
                            index: call,
                            id: Some(id.into_owned()),
                            kind: Some("function".to_owned()),
                            function: Some(FunctionCallDelta {
                                name: Some(name.into_owned()),
                                arguments: Some(String::new()),
                            }),
                        };
                        (Block::Tool { call, start_input: input.to_string(), fragments: false }, Some(tool_call(start)))
                    }
                    ContentBlock::Image { .. }
                    | ContentBlock::Document { .. }
                    | ContentBlock::ToolResult { .. }
                    | ContentBlock::Unsupported => (Block::Ignored, None),
                };
                self.blocks.push((index, block));
                out.extend(delta.map(|delta| context.chunk(delta, None)));
            }
            StreamEvent::ContentBlockDelta { index, delta } => {
                let delta = match delta {
                    BlockDelta::TextDelta { text } => (!text.is_empty()).then(|| content(text)),
                    BlockDelta::ThinkingDelta { thinking } => (!thinking.is_empty()).then(|| reasoning(thinking)),
                    BlockDelta::InputJsonDelta { partial_json } if partial_json.is_empty() => None,
                    BlockDelta::InputJsonDelta { partial_json } => match block(&mut self.blocks, index) {
                        Some(Block::Tool { call, fragments, .. }) => {
                            *fragments = true;
                            Some(arguments(*call, partial_json))
                        }
                        Some(Block::Json { fragments, .. }) => {
                            *fragments = true;
                            Some(content(partial_json))
                        }
                        Some(Block::Plain | Block::Ignored) | None => None,
                    },
                    BlockDelta::SignatureDelta { signature } => Some(thinking_block(ThinkingBlock::Thinking {
                        thinking: String::new(),
                        signature: Some(signature),
                    })),
                    BlockDelta::Unsupported => None,
                };
                out.extend(delta.map(|delta| context.chunk(delta, None)));
            }
            StreamEvent::ContentBlockStop { index } => {
                let delta = match block(&mut self.blocks, index) {
                    Some(Block::Tool { call, start_input, fragments: false }) => {
                        Some(arguments(*call, std::mem::take(start_input)))
                    }
                    Some(Block::Json { start_input, fragments: false }) => Some(content(std::mem::take(start_input))),
                    Some(Block::Tool { .. } | Block::Json { .. } | Block::Plain | Block::Ignored) | None => None,
                };
                out.extend(delta.map(|delta| context.chunk(delta, None)));
            }
            StreamEvent::MessageDelta { delta, usage } => {
                if let (Some(total), Some(delta)) = (&mut self.usage, usage) {
                    merge(total, delta);
                }
                if let Some(stop) = delta.stop_reason.filter(|_| !self.finished) {
                    self.finished = true;
                    let finish = match finish_reason(&stop) {
                        // The JSON tool's call is the answer, not a call for the client to make.
                        FinishReason::ToolCalls if self.json_tool_used && self.tool_calls == 0 => FinishReason::Stop,
                        finish => finish,
                    };
                    out.push(context.chunk(Delta::default(), Some(finish)));
                }
            }
            StreamEvent::MessageStop => {
                self.stopped = true;
                if !self.finished {
                    self.finished = true;
                    out.push(context.chunk(Delta::default(), Some(FinishReason::Stop)));
                }
                out.extend(self.usage.as_ref().map(|total| context.usage_chunk(usage(total))));
            }
            // Handled above, before the context was needed.
            StreamEvent::MessageStart { .. } | StreamEvent::Ping | StreamEvent::Error { .. } | StreamEvent::Unknown => {
            }
        }
        Ok(())
    }
}

fn block(blocks: &mut [(u32, Block)], index: u32) -> Option<&mut Block> {
    blocks.iter_mut().rev().find(|(at, _)| *at == index).map(|(_, block)| block)
}

/// `message_delta`'s figures are cumulative: each one given replaces the last.
fn merge(total: &mut wire::Usage, delta: DeltaUsage) {
    total.output_tokens = delta.output_tokens;
    if let Some(input) = delta.input_tokens {
        total.input_tokens = input;
    }
    if delta.cache_creation_input_tokens.is_some() {
        total.cache_creation_input_tokens = delta.cache_creation_input_tokens;
    }
    if delta.cache_read_input_tokens.is_some() {
        total.cache_read_input_tokens = delta.cache_read_input_tokens;
    }
    if delta.output_tokens_details.is_some() {
        total.output_tokens_details = delta.output_tokens_details;
    }
}

fn content(text: String) -> Delta {
    Delta { content: Some(text), ..Delta::default() }
}

/// A piece of thinking: LiteLLM's `reasoning_content`, and the same text as a piece
/// of a thinking block (the form a client can send back).
fn reasoning(text: String) -> Delta {
    let block = ThinkingBlock::Thinking { thinking: text.clone(), signature: None };
    Delta { reasoning_content: Some(text), thinking_blocks: Some(vec![block]), ..Delta::default() }
}

fn thinking_block(block: ThinkingBlock) -> Delta {
    Delta { thinking_blocks: Some(vec![block]), ..Delta::default() }
}

fn tool_call(call: ToolCallDelta) -> Delta {
    Delta { tool_calls: Some(vec![call]), ..Delta::default() }
}

fn arguments(call: u32, fragment: String) -> Delta {
    tool_call(ToolCallDelta {
        index: call,
        function: Some(FunctionCallDelta { name: None, arguments: Some(fragment) }),
        ..ToolCallDelta::default()
    })
}

/// A stream that is not Anthropic's (no deployment name here: the error says whose).
fn invalid(detail: String) -> Failure {
    Failure {
        class: FailureClass::InvalidResponse,
        error: upstream_error(detail, "upstream_invalid_response"),
        retry_after_ms: None,
        slow_down: false,
    }
}

fn upstream_error(message: String, code: &str) -> ApiError {
    ApiError::Upstream {
        status: 502,
        message,
        kind: "api_error".to_owned(),
        param: None,
        code: Some(code.to_owned()),
        retry_after_ms: None,
    }
}

#[cfg(test)]
mod tests;
