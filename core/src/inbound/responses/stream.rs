//! Chat chunks written as the Responses API's streaming events, as they come.
//!
//! Every event is `event: <type>\ndata: <json>\n\n`, its JSON carrying `type` and
//! a `sequence_number` counted from 0. The stream is:
//! - `response.created` and `response.in_progress`, the response in progress
//!   with no output, once the first chunk with something of the answer comes (a
//!   stream that fails before writes nothing, so that the call may go elsewhere);
//! - per output item, in the order they first appear: `response.output_item.added`,
//!   its content, `response.output_item.done`. The model's thinking is a
//!   `reasoning` item with one `reasoning_text` part (`response.content_part.added`,
//!   `response.reasoning_text.delta`s, `.done`, `response.content_part.done`); text
//!   a `message` item with an `output_text` part (`response.output_text.delta`s and
//!   `.done`), a refusal a `refusal` part of it (`response.refusal.delta`s and
//!   `.done`); each tool call, by its chat index, a `function_call` item
//!   (`response.function_call_arguments.delta`s and `.done`). A reasoning or
//!   message item is done when another item starts; tool calls, whose fragments
//!   may interleave, when the answer finishes;
//! - at the end, `response.completed` (or `response.incomplete`, the answer cut
//!   by its length or a content filter) with the whole response: the same object
//!   [`response`](super::response::response) makes of a complete answer, with the
//!   usage, which OpenAI-shaped streams send after the finish chunk, if at all;
//! - a stream cut after its answer began ends with `response.failed`: the
//!   response so far, `status: failed`, and its `error`.

use serde::Serialize;

use crate::failure::{Failure, FailureClass};
use crate::openai::{ChatChunk, FinishReason, ThinkingBlock, ToolCallDelta, Usage};
use crate::translate::ChunkEncoder;

use super::ids::{ItemKind, item_id};
use super::request::Request;
use super::response::{
    AssistantRole, EmptyList, ErrorCode, FunctionCallItem, ItemStatus, MessageItem, OutputContent, OutputItem,
    ReasoningContent, ReasoningItem, Response, ResponseError, ResponseUsage, Status, encrypted_content,
    incomplete_reason, signed,
};

/// Writes one response's stream.
#[derive(Debug)]
pub struct Encoder {
    response: Response,
    include_encrypted: bool,
    events: Events,
    started: bool,
    /// The reasoning or message item being written.
    current: Option<Current>,
    /// The tool calls, in the order they appeared.
    calls: Vec<Call>,
    finish: Option<FinishReason>,
    usage: Option<Usage>,
    /// The finish chunk came: every item is done.
    closed: bool,
    /// The last event (completed, incomplete or failed) is written.
    ended: bool,
}

#[derive(Debug, Clone, Copy)]
enum Current {
    /// `has_text`: its `reasoning_text` part is added.
    Reasoning {
        index: usize,
        has_text: bool,
    },
    Message {
        index: usize,
        part: Option<PartKind>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PartKind {
    Text,
    Refusal,
}

#[derive(Debug, Clone, Copy)]
struct Call {
    chat_index: u32,
    output_index: usize,
}

impl Encoder {
    /// An encoder of the answer to `request`, as the response `id` made at
    /// `created_at` (unix seconds).
    pub fn new(request: &Request, id: &str, created_at: u64) -> Self {
        Self {
            response: Response::in_progress(request, id, created_at),
            include_encrypted: request.include_encrypted_reasoning(),
            events: Events { sequence: 0 },
            started: false,
            current: None,
            calls: Vec::new(),
            finish: None,
            usage: None,
            closed: false,
            ended: false,
        }
    }

    /// The response as the last event gave it (completed, incomplete or failed),
    /// once it is written: what the caller stores.
    pub fn response(&self) -> Option<&Response> {
        self.ended.then_some(&self.response)
    }

    fn start(&mut self, out: &mut Vec<u8>) {
        if !self.started {
            self.started = true;
            let response = &self.response;
            self.events.write(out, "response.created", ResponseEvent { response });
            self.events.write(out, "response.in_progress", ResponseEvent { response });
        }
    }

    fn reasoning(&mut self, text: Option<&str>, blocks: &[ThinkingBlock], out: &mut Vec<u8>) {
        let (index, has_text) = match self.current {
            Some(Current::Reasoning { index, has_text }) => (index, has_text),
            _ => {
                let index = self.add_item(out, ItemKind::Reasoning, |id| {
                    OutputItem::Reasoning(ReasoningItem {
                        id,
                        summary: EmptyList,
                        content: Vec::new(),
                        encrypted_content: None,
                        status: ItemStatus::InProgress,
                        thinking_blocks: Vec::new(),
                    })
                });
                (index, false)
            }
        };
        let OutputItem::Reasoning(item) = &mut self.response.output[index] else { return };
        for piece in blocks {
            add_piece(&mut item.thinking_blocks, piece);
        }
        let Some(delta) = text else {
            self.current = Some(Current::Reasoning { index, has_text });
            return;
        };
        let item_id = item.id.as_str();
        if !has_text {
            item.content.push(ReasoningContent::ReasoningText { text: String::new() });
            let part = Part::Reasoning(&item.content[0]);
            self.events.write(out, "response.content_part.added", PartEvent::new(item_id, index, 0, part));
        }
        if let Some(ReasoningContent::ReasoningText { text }) = item.content.first_mut() {
            text.push_str(delta);
        }
        let event = DeltaEvent { item_id, output_index: index, content_index: Some(0), delta, logprobs: None };
        self.events.write(out, "response.reasoning_text.delta", event);
        self.current = Some(Current::Reasoning { index, has_text: true });
    }

    fn message(&mut self, kind: PartKind, delta: &str, out: &mut Vec<u8>) {
        let (index, part) = match self.current {
            Some(Current::Message { index, part }) => (index, part),
            _ => {
                let index = self.add_item(out, ItemKind::Message, |id| {
                    OutputItem::Message(MessageItem {
                        id,
                        status: ItemStatus::InProgress,
                        role: AssistantRole::Assistant,
                        content: Vec::new(),
                    })
                });
                (index, None)
            }
        };
        if part != Some(kind) {
            if let Some(open) = part {
                self.close_part(index, open, out);
            }
            let OutputItem::Message(item) = &mut self.response.output[index] else { return };
            item.content.push(match kind {
                PartKind::Text => OutputContent::text(String::new()),
                PartKind::Refusal => OutputContent::Refusal { refusal: String::new() },
            });
            let content_index = item.content.len() - 1;
            let part = Part::Output(&item.content[content_index]);
            self.events.write(out, "response.content_part.added", PartEvent::new(&item.id, index, content_index, part));
        }
        self.current = Some(Current::Message { index, part: Some(kind) });
        let OutputItem::Message(item) = &mut self.response.output[index] else { return };
        let content_index = item.content.len() - 1;
        if let Some(OutputContent::OutputText { text, .. } | OutputContent::Refusal { refusal: text }) =
            item.content.last_mut()
        {
            text.push_str(delta);
        }
        let item_id = item.id.as_str();
        match kind {
            PartKind::Text => {
                let event = DeltaEvent {
                    item_id,
                    output_index: index,
                    content_index: Some(content_index),
                    delta,
                    logprobs: Some(EmptyList),
                };
                self.events.write(out, "response.output_text.delta", event);
            }
            PartKind::Refusal => {
                let event = DeltaEvent {
                    item_id,
                    output_index: index,
                    content_index: Some(content_index),
                    delta,
                    logprobs: None,
                };
                self.events.write(out, "response.refusal.delta", event);
            }
        }
    }

    fn tool_call(&mut self, delta: &ToolCallDelta, out: &mut Vec<u8>) {
        let function = delta.function.as_ref();
        let known = self.calls.iter().find(|call| call.chat_index == delta.index).map(|call| call.output_index);
        let index = match known {
            Some(index) => index,
            None => {
                let index = self.add_item(out, ItemKind::FunctionCall, |id| {
                    OutputItem::FunctionCall(FunctionCallItem {
                        id,
                        call_id: delta.id.clone().unwrap_or_default(),
                        name: function.and_then(|f| f.name.clone()).unwrap_or_default(),
                        arguments: String::new(),
                        status: ItemStatus::InProgress,
                    })
                });
                self.calls.push(Call { chat_index: delta.index, output_index: index });
                index
            }
        };
        let OutputItem::FunctionCall(item) = &mut self.response.output[index] else { return };
        // The first fragment names the call; a provider that names it later is heard.
        if let Some(id) = delta.id.as_ref().filter(|_| item.call_id.is_empty()) {
            item.call_id.clone_from(id);
        }
        if let Some(name) = function.and_then(|f| f.name.as_ref()).filter(|_| item.name.is_empty()) {
            item.name.clone_from(name);
        }
        if let Some(arguments) = function.and_then(|f| f.arguments.as_deref()).filter(|a| !a.is_empty()) {
            item.arguments.push_str(arguments);
            let event = DeltaEvent {
                item_id: &item.id,
                output_index: index,
                content_index: None,
                delta: arguments,
                logprobs: None,
            };
            self.events.write(out, "response.function_call_arguments.delta", event);
        }
    }

    /// Adds an item of `kind` made by `make` from its id; the reasoning or message
    /// item being written is done first.
    fn add_item(&mut self, out: &mut Vec<u8>, kind: ItemKind, make: impl FnOnce(String) -> OutputItem) -> usize {
        if let Some(current) = self.current.take() {
            self.close(current_index(current), ItemStatus::Completed, out);
        }
        let index = self.response.output.len();
        let id = item_id(kind, &self.response.id, index);
        self.response.output.push(make(id));
        let item = &self.response.output[index];
        self.events.write(out, "response.output_item.added", ItemEvent { output_index: index, item });
        index
    }

    /// Ends the open part of the message at `index`.
    fn close_part(&mut self, index: usize, kind: PartKind, out: &mut Vec<u8>) {
        let OutputItem::Message(item) = &self.response.output[index] else { return };
        let Some(content_index) = item.content.len().checked_sub(1) else { return };
        let part = &item.content[content_index];
        let item_id = item.id.as_str();
        let text = match part {
            OutputContent::OutputText { text, .. } | OutputContent::Refusal { refusal: text } => text.as_str(),
        };
        match kind {
            PartKind::Text => {
                let event = TextDone { item_id, output_index: index, content_index, text, logprobs: Some(EmptyList) };
                self.events.write(out, "response.output_text.done", event);
            }
            PartKind::Refusal => {
                let event = RefusalDone { item_id, output_index: index, content_index, refusal: text };
                self.events.write(out, "response.refusal.done", event);
            }
        }
        let event = PartEvent::new(item_id, index, content_index, Part::Output(part));
        self.events.write(out, "response.content_part.done", event);
    }

    /// Ends the item at `index` with `status`: its open part, then the item.
    fn close(&mut self, index: usize, status: ItemStatus, out: &mut Vec<u8>) {
        match &mut self.response.output[index] {
            OutputItem::Reasoning(item) => {
                item.thinking_blocks.retain(signed);
                if self.include_encrypted {
                    item.encrypted_content = encrypted_content(&item.thinking_blocks);
                }
                if let Some(part @ ReasoningContent::ReasoningText { text }) = item.content.first() {
                    let item_id = item.id.as_str();
                    let event = TextDone { item_id, output_index: index, content_index: 0, text, logprobs: None };
                    self.events.write(out, "response.reasoning_text.done", event);
                    let event = PartEvent::new(item_id, index, 0, Part::Reasoning(part));
                    self.events.write(out, "response.content_part.done", event);
                }
            }
            OutputItem::Message(item) => {
                let kind = match item.content.last() {
                    Some(OutputContent::OutputText { .. }) => Some(PartKind::Text),
                    Some(OutputContent::Refusal { .. }) => Some(PartKind::Refusal),
                    None => None,
                };
                if let Some(kind) = kind {
                    self.close_part(index, kind, out);
                }
            }
            OutputItem::FunctionCall(item) => {
                let event = ArgumentsDone {
                    item_id: &item.id,
                    output_index: index,
                    name: &item.name,
                    arguments: &item.arguments,
                };
                self.events.write(out, "response.function_call_arguments.done", event);
            }
        }
        let item = &mut self.response.output[index];
        item.set_status(status);
        self.events.write(out, "response.output_item.done", ItemEvent { output_index: index, item });
    }

    /// The items still open, in output order.
    fn open_items(&self) -> Vec<usize> {
        let mut open: Vec<usize> = self.calls.iter().map(|call| call.output_index).collect();
        open.extend(self.current.map(current_index));
        open.sort_unstable();
        open
    }

    /// The answer finished: every open item is done, the last one incomplete if
    /// the answer was cut.
    fn close_all(&mut self, out: &mut Vec<u8>) {
        if self.closed {
            return;
        }
        self.closed = true;
        let cut = incomplete_reason(self.finish).is_some();
        let last = self.response.output.len().checked_sub(1);
        for index in self.open_items() {
            let status = if cut && Some(index) == last { ItemStatus::Incomplete } else { ItemStatus::Completed };
            self.close(index, status, out);
        }
        self.current = None;
        self.calls.clear();
    }
}

/// The output index of the item being written.
fn current_index(current: Current) -> usize {
    match current {
        Current::Reasoning { index, .. } | Current::Message { index, .. } => index,
    }
}

/// Adds a piece of a streamed thinking block to the blocks so far: text extends
/// the block not yet signed, a signature ends it, a redacted block comes whole.
fn add_piece(blocks: &mut Vec<ThinkingBlock>, piece: &ThinkingBlock) {
    if let ThinkingBlock::Thinking { thinking, signature } = piece
        && let Some(ThinkingBlock::Thinking { thinking: text, signature: open @ None }) = blocks.last_mut()
    {
        text.push_str(thinking);
        open.clone_from(signature);
        return;
    }
    blocks.push(piece.clone());
}

/// The code of OpenAI's `ResponseError` for a failure.
fn error_code(class: FailureClass) -> ErrorCode {
    match class {
        FailureClass::RateLimit => ErrorCode::RateLimitExceeded,
        FailureClass::BadRequest | FailureClass::ContextWindow | FailureClass::ContentPolicy => {
            ErrorCode::InvalidPrompt
        }
        FailureClass::Authentication
        | FailureClass::NotFound
        | FailureClass::Timeout
        | FailureClass::Internal
        | FailureClass::Connection
        | FailureClass::InvalidResponse => ErrorCode::ServerError,
    }
}

impl ChunkEncoder for Encoder {
    fn encode(&mut self, chunk: &ChatChunk, out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        if let Some(usage) = chunk.usage {
            self.usage = Some(usage);
        }
        if self.closed {
            return;
        }
        // The bridge asks for one choice.
        let Some(choice) = chunk.choices.iter().find(|choice| choice.index == 0) else { return };
        let delta = &choice.delta;
        let reasoning = delta.reasoning_content.as_deref().filter(|text| !text.is_empty());
        let blocks = delta.thinking_blocks.as_deref().unwrap_or_default();
        let text = delta.content.as_deref().filter(|text| !text.is_empty());
        let refusal = delta.refusal.as_deref().filter(|text| !text.is_empty());
        let calls = delta.tool_calls.as_deref().unwrap_or_default();
        if reasoning.is_none()
            && blocks.is_empty()
            && text.is_none()
            && refusal.is_none()
            && calls.is_empty()
            && choice.finish_reason.is_none()
        {
            return;
        }
        self.start(out);
        if reasoning.is_some() || !blocks.is_empty() {
            self.reasoning(reasoning, blocks, out);
        }
        if let Some(text) = text {
            self.message(PartKind::Text, text, out);
        }
        if let Some(refusal) = refusal {
            self.message(PartKind::Refusal, refusal, out);
        }
        for call in calls {
            self.tool_call(call, out);
        }
        if let Some(finish) = choice.finish_reason {
            self.finish = Some(finish);
            self.close_all(out);
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        self.start(out);
        self.close_all(out);
        self.response.conclude(self.finish, self.usage.as_ref());
        let kind = match self.response.status {
            Status::Incomplete => "response.incomplete",
            Status::Completed | Status::InProgress | Status::Failed => "response.completed",
        };
        self.events.write(out, kind, ResponseEvent { response: &self.response });
        self.ended = true;
    }

    fn fail(&mut self, failure: &Failure, out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        self.start(out);
        for index in self.open_items() {
            self.response.output[index].set_status(ItemStatus::Incomplete);
        }
        self.response.status = Status::Failed;
        self.response.error =
            Some(ResponseError { code: error_code(failure.class), message: failure.error.to_string() });
        self.response.usage = self.usage.as_ref().map(ResponseUsage::from);
        self.events.write(out, "response.failed", ResponseEvent { response: &self.response });
        self.ended = true;
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

// ---- Events ---------------------------------------------------------------------

/// Numbers and frames the events.
#[derive(Debug)]
struct Events {
    sequence: u64,
}

impl Events {
    /// `event: <kind>\ndata: {"type": <kind>, "sequence_number": n, ...body}\n\n`.
    fn write(&mut self, out: &mut Vec<u8>, kind: &'static str, body: impl Serialize) {
        #[derive(Serialize)]
        struct Framed<T> {
            #[serde(rename = "type")]
            kind: &'static str,
            sequence_number: u64,
            #[serde(flatten)]
            body: T,
        }
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(kind.as_bytes());
        out.extend_from_slice(b"\ndata: ");
        // Serializing plain data types into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, &Framed { kind, sequence_number: self.sequence, body });
        out.extend_from_slice(b"\n\n");
        self.sequence += 1;
    }
}

#[derive(Serialize)]
struct ResponseEvent<'a> {
    response: &'a Response,
}

#[derive(Serialize)]
struct ItemEvent<'a> {
    output_index: usize,
    item: &'a OutputItem,
}

/// A content part of a message or of a reasoning item.
#[derive(Serialize)]
#[serde(untagged)]
enum Part<'a> {
    Output(&'a OutputContent),
    Reasoning(&'a ReasoningContent),
}

#[derive(Serialize)]
struct PartEvent<'a> {
    item_id: &'a str,
    output_index: usize,
    content_index: usize,
    part: Part<'a>,
}

impl<'a> PartEvent<'a> {
    fn new(item_id: &'a str, output_index: usize, content_index: usize, part: Part<'a>) -> Self {
        Self { item_id, output_index, content_index, part }
    }
}

/// A text, refusal, reasoning or arguments delta.
#[derive(Serialize)]
struct DeltaEvent<'a> {
    item_id: &'a str,
    output_index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_index: Option<usize>,
    delta: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    logprobs: Option<EmptyList>,
}

/// `response.output_text.done` (with `logprobs`) and `response.reasoning_text.done`.
#[derive(Serialize)]
struct TextDone<'a> {
    item_id: &'a str,
    output_index: usize,
    content_index: usize,
    text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    logprobs: Option<EmptyList>,
}

#[derive(Serialize)]
struct RefusalDone<'a> {
    item_id: &'a str,
    output_index: usize,
    content_index: usize,
    refusal: &'a str,
}

#[derive(Serialize)]
struct ArgumentsDone<'a> {
    item_id: &'a str,
    output_index: usize,
    name: &'a str,
    arguments: &'a str,
}

#[cfg(test)]
mod tests;
