//! A Messages request's conversation (`messages`, and the `system` prompt), checked
//! as Anthropic checks it and read into the wire types of the provider side.
//!
//! The blocks the mapping carries (text, image, document, thinking, redacted
//! thinking, tool use, tool result) are checked field by field. Blocks that only
//! Anthropic serves (server tools' calls and results, search results, MCP, ...)
//! are checked for their `type` only and noted: an Anthropic deployment, which is
//! the only one that can take them, checks the rest.
//!
//! Besides each block's shape, the rules Anthropic applies to a conversation: no
//! empty turn but a last assistant one (which must not end in whitespace); tool
//! calls only in assistant turns, their results only in user turns and first
//! there; every call answered by a result in the next turn and every result
//! answering a call of the turn before; call ids unique.

use std::borrow::Cow;
use std::collections::HashSet;

use serde_json::Value;

use super::validate::{
    Fields, Path, boolean, cache_control, identifier, list, literal, no_extra, nullable, object, required, string, tag,
    unexpected_tag,
};
use super::{AnthropicOnly, MessagesError};
use crate::provider::anthropic::wire::{
    ContentBlock, DocumentSource, ImageSource, Message, MessageContent, Role, System, SystemBlock, ToolResultContent,
};

/// Block kinds Anthropic takes in a turn: the first seven are mapped, the others
/// only an Anthropic deployment serves.
const BLOCK_TAGS: &[&str] = &[
    "text",
    "image",
    "document",
    "thinking",
    "redacted_thinking",
    "tool_use",
    "tool_result",
    "search_result",
    "server_tool_use",
    "web_search_tool_result",
    "web_fetch_tool_result",
    "advisor_tool_result",
    "code_execution_tool_result",
    "bash_code_execution_tool_result",
    "text_editor_code_execution_tool_result",
    "tool_search_tool_result",
    "mcp_tool_use",
    "mcp_tool_result",
    "container_upload",
    "compaction",
    "tool_addition",
    "tool_removal",
    "fallback",
];

/// Block kinds of a tool result's content: text, images and documents are mapped.
const RESULT_TAGS: &[&str] = &["text", "image", "document", "search_result", "tool_reference", "browser_state"];

const IMAGE_TYPES: &[&str] = &["image/jpeg", "image/png", "image/gif", "image/webp"];

/// The longest tool name Anthropic takes (`^[a-zA-Z0-9_-]{1,64}$`).
pub(super) const TOOL_NAME_MAX: usize = 64;

const NON_EMPTY: &str = "all messages must have non-empty content except for the optional final assistant message";

/// `messages`: the turns, checked.
pub(super) fn messages(value: Value, only: &mut AnthropicOnly) -> Result<Vec<Message<'static>>, MessagesError> {
    let root = Path::Root;
    let path = root.key("messages");
    let items = list(value, path)?;
    if items.is_empty() {
        return Err(path.error("at least one message is required"));
    }
    let last = items.len() - 1;
    let mut calls = Calls::default();
    let mut turns = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let at = path.index(i);
        let mut fields = object(item, at)?;
        let role = match literal(&required(&mut fields, "role", at)?, at.key("role"), &["user", "assistant"])? {
            "user" => Role::User,
            _ => Role::Assistant,
        };
        let content = required(&mut fields, "content", at)?;
        no_extra(&fields, at)?;
        let turn = Turn { role, index: i, last: i == last };
        let content = turn.content(content, at, only, &mut calls)?;
        turns.push(Message { role, content });
    }
    calls.check(&turns, path)?;
    Ok(turns)
}

/// `system`: a string, or text blocks.
pub(super) fn system(value: Value, only: &mut AnthropicOnly) -> Result<System<'static>, MessagesError> {
    let root = Path::Root;
    let path = root.key("system");
    match value {
        Value::String(text) => Ok(System::Text(Cow::Owned(text))),
        Value::Array(items) => {
            let mut blocks = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                let at = path.index(i);
                let mut fields = object(item, at)?;
                match fields.remove("type") {
                    Some(kind) => literal(&kind, at.key("type"), &["text"])?,
                    None => return Err(at.key("type").error("Field required")),
                };
                let (text, cache_control) = text_fields(fields, at, only)?;
                blocks.push(SystemBlock::Text { text, cache_control });
            }
            Ok(System::Blocks(blocks))
        }
        _ => Err(path.error("Input should be a valid string or a valid list of text blocks")),
    }
}

/// Which message a content is of, for the rules that depend on it.
#[derive(Debug, Clone, Copy)]
struct Turn {
    role: Role,
    index: usize,
    last: bool,
}

impl Turn {
    /// Only a last assistant message (a prefill) may be empty, and not when it is
    /// the whole conversation: there would be nothing to answer.
    fn may_be_empty(self) -> bool {
        self.last && self.index > 0 && self.role == Role::Assistant
    }

    fn content(
        self,
        value: Value,
        at: Path<'_>,
        only: &mut AnthropicOnly,
        calls: &mut Calls,
    ) -> Result<MessageContent<'static>, MessagesError> {
        let path = at.key("content");
        let content = match value {
            Value::String(text) => {
                if text.is_empty() && !self.may_be_empty() {
                    return Err(at.error(NON_EMPTY));
                }
                if !text.is_empty() && text.trim().is_empty() && !self.may_be_empty() {
                    return Err(path.error("text content blocks must contain non-whitespace text"));
                }
                MessageContent::Text(Cow::Owned(text))
            }
            Value::Array(items) => {
                if items.is_empty() && !self.may_be_empty() {
                    return Err(at.error(NON_EMPTY));
                }
                let mut blocks = Vec::with_capacity(items.len());
                for (j, item) in items.into_iter().enumerate() {
                    let block = self.block(item, path.index(j), only, calls, j)?;
                    let result = matches!(block, ContentBlock::ToolResult { .. });
                    if result && blocks.iter().any(|b| !matches!(b, ContentBlock::ToolResult { .. })) {
                        return Err(path.index(j).error(
                            "`tool_result` blocks must come first in a user message, before any other content",
                        ));
                    }
                    blocks.push(block);
                }
                MessageContent::Blocks(blocks)
            }
            _ => return Err(path.error("Input should be a valid string or a valid list of content blocks")),
        };
        if self.may_be_empty() && ends_in_whitespace(&content) {
            return Err(at.error("final assistant content cannot end with trailing whitespace"));
        }
        Ok(content)
    }

    fn block(
        self,
        value: Value,
        path: Path<'_>,
        only: &mut AnthropicOnly,
        calls: &mut Calls,
        j: usize,
    ) -> Result<ContentBlock<'static>, MessagesError> {
        let mut fields = object(value, path)?;
        let kind = tag(&mut fields, path, BLOCK_TAGS)?;
        let at = path.key(kind);
        let wanted = match kind {
            "tool_result" => Some(Role::User),
            "tool_use" | "thinking" | "redacted_thinking" => Some(Role::Assistant),
            _ => None,
        };
        if let Some(wanted) = wanted.filter(|wanted| *wanted != self.role) {
            let wanted = if wanted == Role::User { "user" } else { "assistant" };
            return Err(path.error(format_args!("`{kind}` blocks are only allowed in `{wanted}` messages")));
        }
        match kind {
            "text" => {
                let (text, cache_control) = text_fields(fields, at, only)?;
                Ok(ContentBlock::Text { text, cache_control })
            }
            "image" => {
                if self.role == Role::Assistant {
                    only.note(path, "an image in an assistant message");
                }
                image(fields, at, only)
            }
            "document" => {
                if self.role == Role::Assistant {
                    only.note(path, "a document in an assistant message");
                }
                document(fields, at, only)
            }
            "thinking" => {
                let thinking = string(required(&mut fields, "thinking", at)?, at.key("thinking"))?;
                let signature = string(required(&mut fields, "signature", at)?, at.key("signature"))?;
                no_extra(&fields, at)?;
                Ok(ContentBlock::Thinking { thinking: Cow::Owned(thinking), signature: Cow::Owned(signature) })
            }
            "redacted_thinking" => {
                let data = string(required(&mut fields, "data", at)?, at.key("data"))?;
                no_extra(&fields, at)?;
                Ok(ContentBlock::RedactedThinking { data: Cow::Owned(data) })
            }
            "tool_use" => {
                let block = tool_use(fields, at, only)?;
                if let ContentBlock::ToolUse { id, .. } = &block {
                    calls.uses.push(Site { message: self.index, block: j, id: id.to_string() });
                }
                Ok(block)
            }
            "tool_result" => {
                let block = tool_result(fields, at, only)?;
                if let ContentBlock::ToolResult { tool_use_id, .. } = &block {
                    calls.results.push(Site { message: self.index, block: j, id: tool_use_id.to_string() });
                }
                Ok(block)
            }
            other => {
                only.note(path, format_args!("a `{other}` block"));
                Ok(ContentBlock::Unsupported)
            }
        }
    }
}

fn ends_in_whitespace(content: &MessageContent<'_>) -> bool {
    let text = match content {
        MessageContent::Text(text) => text,
        MessageContent::Blocks(blocks) => match blocks.last() {
            Some(ContentBlock::Text { text, .. }) => text,
            _ => return false,
        },
    };
    text.ends_with(char::is_whitespace)
}

/// A text block's fields (its `type` read): the text, which must say something, and
/// its cache mark. `citations` (an earlier answer's, sent back) are checked to be a
/// list and left out: the text they cite stays.
fn text_fields(
    mut fields: Fields,
    at: Path<'_>,
    only: &mut AnthropicOnly,
) -> Result<(Cow<'static, str>, Option<Cow<'static, Value>>), MessagesError> {
    let path = at.key("text");
    let text = string(required(&mut fields, "text", at)?, path)?;
    if text.is_empty() {
        return Err(path.error("text content blocks must be non-empty"));
    }
    if text.trim().is_empty() {
        return Err(path.error("text content blocks must contain non-whitespace text"));
    }
    let cache_control = cache_control(&mut fields, at)?;
    if let Some(citations) = nullable(&mut fields, "citations") {
        let citations = list(citations, at.key("citations"))?;
        if !citations.is_empty() {
            // Citations locate text in documents or search results, which only an
            // Anthropic deployment is given.
            only.note(at.key("citations"), "citations");
        }
    }
    no_extra(&fields, at)?;
    Ok((Cow::Owned(text), cache_control.map(Cow::Owned)))
}

/// An image block: base64 data of the four types Anthropic reads, or a URL. A file of
/// Anthropic's Files API is Anthropic's own.
fn image(mut fields: Fields, at: Path<'_>, only: &mut AnthropicOnly) -> Result<ContentBlock<'static>, MessagesError> {
    let path = at.key("source");
    let mut source_fields = object(required(&mut fields, "source", at)?, path)?;
    let source = &mut source_fields;
    let kind = tag(source, path, &["base64", "url", "file"])?;
    let inner = path.key(kind);
    let source = match kind {
        "base64" => {
            let media_type = required(source, "media_type", inner)?;
            literal(&media_type, inner.key("media_type"), IMAGE_TYPES)?;
            let data = string(required(source, "data", inner)?, inner.key("data"))?;
            ImageSource::Base64 {
                media_type: Cow::Owned(string(media_type, inner.key("media_type"))?),
                data: Cow::Owned(data),
            }
        }
        "url" => ImageSource::Url { url: Cow::Owned(string(required(source, "url", inner)?, inner.key("url"))?) },
        _ => {
            only.note(path, "an image of Anthropic's Files API");
            let file_id = string(required(source, "file_id", inner)?, inner.key("file_id"))?;
            ImageSource::File { file_id: Cow::Owned(file_id) }
        }
    };
    no_extra(&source_fields, inner)?;
    let cache_control = cache_control(&mut fields, at)?;
    // How Anthropic fits an oversized image: other providers fit it their own way.
    if let Some(transformations) = nullable(&mut fields, "transformations") {
        object(transformations, at.key("transformations"))?;
    }
    no_extra(&fields, at)?;
    Ok(ContentBlock::Image { source, cache_control: cache_control.map(Cow::Owned) })
}

/// A document block. A base64 PDF is mapped (as OpenAI's `file` part); plain text,
/// content blocks, URLs and files of Anthropic's Files API, `context` and
/// citations are Anthropic's own.
fn document(
    mut fields: Fields,
    at: Path<'_>,
    only: &mut AnthropicOnly,
) -> Result<ContentBlock<'static>, MessagesError> {
    let path = at.key("source");
    let mut source_fields = object(required(&mut fields, "source", at)?, path)?;
    let kind = tag(&mut source_fields, path, &["base64", "text", "content", "url", "file"])?;
    let inner = path.key(kind);
    let mut read = |key: &str, only_value: Option<&str>| -> Result<Cow<'static, str>, MessagesError> {
        let value = required(&mut source_fields, key, inner)?;
        if let Some(wanted) = only_value {
            literal(&value, inner.key(key), &[wanted])?;
        }
        Ok(Cow::Owned(string(value, inner.key(key))?))
    };
    let source = match kind {
        "base64" | "text" => {
            let wanted = if kind == "base64" { "application/pdf" } else { "text/plain" };
            let media_type = read("media_type", Some(wanted))?;
            let data = read("data", None)?;
            if kind == "base64" {
                Some(DocumentSource::Base64 { media_type, data })
            } else {
                only.note(path, "a plain-text document");
                Some(DocumentSource::Text { media_type, data })
            }
        }
        "url" => {
            only.note(path, "a document given by URL");
            Some(DocumentSource::Url { url: read("url", None)? })
        }
        "file" => {
            only.note(path, "a document of Anthropic's Files API");
            Some(DocumentSource::File { file_id: read("file_id", None)? })
        }
        _ => {
            only.note(path, "a document of content blocks");
            let content = required(&mut source_fields, "content", inner)?;
            if !content.is_string() {
                list(content, inner.key("content"))?;
            }
            None
        }
    };
    no_extra(&source_fields, inner)?;
    let title = optional_string(&mut fields, "title", at)?;
    let context = optional_string(&mut fields, "context", at)?;
    if context.is_some() {
        only.note(at.key("context"), "a document's context");
    }
    if let Some(citations) = nullable(&mut fields, "citations") {
        let path = at.key("citations");
        let mut citations = object(citations, path)?;
        if let Some(enabled) = citations.remove("enabled")
            && boolean(enabled, path.key("enabled"))?
        {
            only.note(path, "citations");
        }
        no_extra(&citations, path)?;
    }
    let cache_control = cache_control(&mut fields, at)?;
    no_extra(&fields, at)?;
    Ok(match source {
        Some(source) => ContentBlock::Document { source, title, context, cache_control: cache_control.map(Cow::Owned) },
        None => ContentBlock::Unsupported,
    })
}

/// A string field that may be absent or null.
fn optional_string(fields: &mut Fields, key: &str, at: Path<'_>) -> Result<Option<Cow<'static, str>>, MessagesError> {
    nullable(fields, key).map(|value| string(value, at.key(key)).map(Cow::Owned)).transpose()
}

/// A call the model made, sent back: its id, the tool's name, the input object.
/// Calls made from Anthropic's code execution, and calls of MCP toolsets, are
/// Anthropic's own.
fn tool_use(
    mut fields: Fields,
    at: Path<'_>,
    only: &mut AnthropicOnly,
) -> Result<ContentBlock<'static>, MessagesError> {
    let id = identifier(required(&mut fields, "id", at)?, at.key("id"), None)?;
    let name = string(required(&mut fields, "name", at)?, at.key("name"))?;
    let input = required(&mut fields, "input", at)?;
    if !input.is_object() {
        return Err(at.key("input").error("Input should be a valid dictionary"));
    }
    let cache_control = cache_control(&mut fields, at)?;
    if let Some(caller) = fields.remove("caller") {
        let path = at.key("caller");
        let mut caller = object(caller, path)?;
        match caller.remove("type") {
            Some(Value::String(kind)) if kind == "direct" => no_extra(&caller, path.key("direct"))?,
            Some(Value::String(_)) => only.note(path, "a call made from Anthropic's code execution"),
            Some(other) => return Err(unexpected_tag(&other, path, &["direct"])),
            None => return Err(path.error("Unable to extract tag using discriminator 'type'")),
        }
    }
    toolset_name(&mut fields, at, only)?;
    no_extra(&fields, at)?;
    Ok(ContentBlock::ToolUse {
        id: Cow::Owned(id),
        name: Cow::Owned(name),
        input: Cow::Owned(input),
        cache_control: cache_control.map(Cow::Owned),
    })
}

fn toolset_name(fields: &mut Fields, at: Path<'_>, only: &mut AnthropicOnly) -> Result<(), MessagesError> {
    if let Some(name) = optional_string(fields, "toolset_name", at)? {
        only.note(at.key("toolset_name"), format_args!("a tool of the MCP toolset `{name}`"));
    }
    Ok(())
}

/// A tool's result, in a user turn: a string, or text, image and document blocks.
fn tool_result(
    mut fields: Fields,
    at: Path<'_>,
    only: &mut AnthropicOnly,
) -> Result<ContentBlock<'static>, MessagesError> {
    let tool_use_id = identifier(required(&mut fields, "tool_use_id", at)?, at.key("tool_use_id"), None)?;
    let path = at.key("content");
    let content = match fields.remove("content") {
        None => None,
        Some(Value::String(text)) => Some(ToolResultContent::Text(Cow::Owned(text))),
        Some(Value::Array(items)) => {
            let mut blocks = Vec::with_capacity(items.len());
            for (k, item) in items.into_iter().enumerate() {
                let block_path = path.index(k);
                let mut block = object(item, block_path)?;
                let kind = tag(&mut block, block_path, RESULT_TAGS)?;
                let inner = block_path.key(kind);
                blocks.push(match kind {
                    "text" => {
                        let (text, cache_control) = text_fields(block, inner, only)?;
                        ContentBlock::Text { text, cache_control }
                    }
                    "image" => image(block, inner, only)?,
                    "document" => document(block, inner, only)?,
                    other => {
                        only.note(block_path, format_args!("a `{other}` block"));
                        ContentBlock::Unsupported
                    }
                });
            }
            Some(ToolResultContent::Blocks(blocks))
        }
        Some(_) => return Err(path.error("Input should be a valid string or a valid list of content blocks")),
    };
    let is_error = fields.remove("is_error").map(|flag| boolean(flag, at.key("is_error"))).transpose()?;
    let cache_control = cache_control(&mut fields, at)?;
    toolset_name(&mut fields, at, only)?;
    no_extra(&fields, at)?;
    Ok(ContentBlock::ToolResult {
        tool_use_id: Cow::Owned(tool_use_id),
        content,
        is_error,
        cache_control: cache_control.map(Cow::Owned),
    })
}

/// Where a tool call or a result is.
#[derive(Debug)]
struct Site {
    message: usize,
    block: usize,
    id: String,
}

/// The tool calls and results of the conversation, for the rules that pair them.
#[derive(Debug, Default)]
struct Calls {
    uses: Vec<Site>,
    results: Vec<Site>,
}

impl Calls {
    /// Anthropic merges consecutive messages of one role into a turn, then wants
    /// each call of a turn answered in the next turn, each result to answer a call of
    /// the turn before, and every call id once.
    fn check(&self, messages: &[Message<'_>], path: Path<'_>) -> Result<(), MessagesError> {
        let mut seen = HashSet::with_capacity(self.uses.len());
        for call in &self.uses {
            if !seen.insert(call.id.as_str()) {
                return Err(path
                    .index(call.message)
                    .key("content")
                    .index(call.block)
                    .error(format_args!("`tool_use` ids must be unique: `{}` is used twice", call.id)));
            }
        }
        // Each message's turn number (consecutive messages of one role share one).
        let mut turn_of = Vec::with_capacity(messages.len());
        for (i, message) in messages.iter().enumerate() {
            let same = i > 0 && messages[i - 1].role == message.role;
            let turn = turn_of.last().map_or(0, |last| if same { *last } else { last + 1 });
            turn_of.push(turn);
        }
        for result in &self.results {
            let turn = turn_of[result.message];
            let answered = self.uses.iter().any(|call| call.id == result.id && turn_of[call.message] + 1 == turn);
            if !answered {
                return Err(path.index(result.message).key("content").index(result.block).error(format_args!(
                    "unexpected `tool_use_id` found in `tool_result` blocks: {}. Each `tool_result` block must have \
                     a corresponding `tool_use` block in the previous message.",
                    result.id
                )));
            }
        }
        let turns = turn_of.last().map_or(0, |last| last + 1);
        for call in &self.uses {
            let next = turn_of[call.message] + 1;
            // A call in the last turn is the answer being continued: nothing follows yet.
            if next == turns {
                continue;
            }
            let answered = self.results.iter().any(|result| result.id == call.id && turn_of[result.message] == next);
            if !answered {
                let unanswered: Vec<&str> = self
                    .uses
                    .iter()
                    .filter(|other| turn_of[other.message] + 1 == next)
                    .filter(|other| {
                        !self.results.iter().any(|result| result.id == other.id && turn_of[result.message] == next)
                    })
                    .map(|other| other.id.as_str())
                    .collect();
                return Err(path.index(call.message).error(format_args!(
                    "`tool_use` ids were found without `tool_result` blocks immediately after: {}. Each `tool_use` \
                     block must have a corresponding `tool_result` block in the next message.",
                    unanswered.join(", ")
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
