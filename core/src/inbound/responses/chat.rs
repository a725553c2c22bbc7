//! A Responses request, and the stored conversation it continues, as a Chat
//! Completions request: the pivot every deployment is reached through.
//!
//! The messages are, in order:
//! 1. `instructions`, as a system message. OpenAI inserts them into the model's
//!    context ahead of everything, and does not carry an earlier response's
//!    instructions over, so they are never part of a stored conversation and go
//!    first (a system message in the middle of a conversation is refused or moved
//!    by several providers);
//! 2. the conversation of `previous_response_id`, as it was stored;
//! 3. the input items in order: a user's message as a user message, a system or
//!    developer message as a system message (OpenAI's Chat Completions reads both
//!    alike, and other providers know only `system`), the assistant's earlier
//!    message as an assistant message; consecutive `function_call` items become
//!    one assistant message's `tool_calls`, joined to the assistant message just
//!    before them (one turn: providers such as Anthropic refuse an assistant turn
//!    split in two), a call that turn holds already (sent back by a client that
//!    also names the previous response) not twice; each `function_call_output` a
//!    tool message. A `reasoning`
//!    item whose `encrypted_content` this gateway wrote gives its thinking blocks
//!    back to the assistant message that follows it; any other reasoning item is
//!    dropped, as it is the model's own notes and no other provider can read
//!    OpenAI's encrypted reasoning.
//!
//! Parameters: `max_output_tokens` is `max_completion_tokens`; `text.format` is
//! `response_format`; `reasoning.effort` is `reasoning_effort` and
//! `text.verbosity` is `verbosity` (in `extra`, where translators read them);
//! `tool_choice` and `parallel_tool_calls` go only with tools (Chat Completions
//! refuses them alone), and `parallel_tool_calls: true` not at all, being Chat
//! Completions' default too; a stream asks for its usage
//! (`stream_options.include_usage`), which the final response event carries.

use serde_json::{Value, json};

use crate::error::ApiError;
use crate::openai::{
    self, AssistantMessage, ChatRequest, FunctionDefinition, FunctionName, ImageUrl, JsonSchema, Message,
    NamedFunction, ResponseFormat, StreamOptions, SystemMessage, ThinkingBlock, ToolCall, ToolMessage, UserMessage,
};

use super::fields::invalid;
use super::input::{Content, FileSource, ImageSource, InputItem, Part, Role};
use super::request::{Request, TextFormat, builtin_tool};
use super::response::thinking_blocks;
use super::stored::Stored;
use super::tools::{Tool, ToolChoice};

/// `request` as a chat completion request, continuing `previous` (the stored
/// response `request.previous_response_id` names, which the caller looked up).
pub fn to_chat(request: &Request, previous: Option<&Stored>) -> Result<ChatRequest, ApiError> {
    if let Some(unsupported) = request.unsupported.first() {
        return Err(invalid(
            unsupported.param,
            format!("`{}` is not supported through Chat Completions: {}", unsupported.param, unsupported.why),
        ));
    }
    if let Some(kind) = builtin_tool(request) {
        return Err(invalid("tools", format!("the built-in tool `{kind}` runs only on OpenAI's Responses API")));
    }
    if let Some(ToolChoice::OpenAiOnly(choice)) = &request.tool_choice {
        return Err(invalid(
            "tool_choice",
            format!("a `tool_choice` of type `{}` is only honoured by OpenAI's Responses API", choice.kind),
        ));
    }
    if let (Some(id), None) = (&request.previous_response_id, previous) {
        return Err(invalid("previous_response_id", format!("previous response with id `{id}` not found")));
    }

    let mut messages = Vec::new();
    if let Some(instructions) = request.instructions.as_ref().filter(|text| !text.is_empty()) {
        messages.push(system(openai::Content::Text(instructions.clone())));
    }
    let instructions = messages.len();
    if let Some(previous) = previous {
        messages.extend(previous.conversation.iter().cloned());
    }
    append_input(&mut messages, &request.input)?;
    if messages.len() == instructions {
        return Err(invalid("input", "missing required parameter `input`: the conversation has no message".into()));
    }

    let tools: Vec<openai::Tool> = request
        .tools
        .iter()
        .filter_map(|tool| match tool {
            Tool::Function(function) => Some(openai::Tool {
                kind: "function".to_owned(),
                function: FunctionDefinition {
                    name: function.name.clone(),
                    description: function.description.clone(),
                    parameters: function.parameters.clone(),
                    strict: function.strict,
                },
                cache_control: function.cache_control.clone(),
            }),
            Tool::BuiltIn(_) => None,
        })
        .collect();
    let has_tools = !tools.is_empty();

    let mut extra = request.extra.clone();
    if let Some(effort) = request.reasoning.and_then(|reasoning| reasoning.effort) {
        extra.insert("reasoning_effort".to_owned(), Value::String(effort.as_str().to_owned()));
    }
    let text = request.text.as_ref();
    if let Some(verbosity) = text.and_then(|text| text.verbosity) {
        extra.insert("verbosity".to_owned(), Value::String(verbosity.as_str().to_owned()));
    }

    Ok(ChatRequest {
        model: request.model.clone(),
        messages,
        stream: request.stream,
        stream_options: request.stream.then_some(StreamOptions { include_usage: Some(true) }),
        max_tokens: None,
        max_completion_tokens: request.max_output_tokens,
        temperature: request.temperature,
        top_p: request.top_p,
        top_k: None,
        n: None,
        stop: None,
        tool_choice: request.tool_choice.as_ref().filter(|_| has_tools).and_then(tool_choice),
        parallel_tool_calls: request.parallel_tool_calls.filter(|parallel| has_tools && !parallel),
        tools: has_tools.then_some(tools),
        response_format: text.and_then(|text| text.format.as_ref()).and_then(response_format),
        user: request.user.clone(),
        seed: None,
        extra,
    })
}

fn system(content: openai::Content) -> Message {
    Message::System(SystemMessage { content, name: None, cache_control: None })
}

fn tool_choice(choice: &ToolChoice) -> Option<openai::ToolChoice> {
    match choice {
        ToolChoice::Mode(mode) => Some(openai::ToolChoice::Mode(mode.as_str().to_owned())),
        ToolChoice::Function(function) => Some(openai::ToolChoice::Function(NamedFunction {
            kind: "function".to_owned(),
            function: FunctionName { name: function.name.clone() },
        })),
        // Refused before: only OpenAI's Responses API honours them.
        ToolChoice::OpenAiOnly(_) => None,
    }
}

fn response_format(format: &TextFormat) -> Option<ResponseFormat> {
    match format {
        // Text is what a chat completion gives when asked for no format.
        TextFormat::Text => None,
        TextFormat::JsonObject => Some(ResponseFormat::JsonObject),
        TextFormat::JsonSchema { name, schema, description, strict } => Some(ResponseFormat::JsonSchema {
            json_schema: JsonSchema {
                name: name.clone(),
                description: description.clone(),
                schema: Some(schema.clone()),
                strict: *strict,
            },
        }),
    }
}

/// The input items as chat messages, after `messages`.
fn append_input(messages: &mut Vec<Message>, items: &[InputItem]) -> Result<(), ApiError> {
    // Thinking blocks of a reasoning item, for the assistant message that follows.
    let mut thinking: Vec<ThinkingBlock> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("input[{i}]");
        match item {
            InputItem::Message(message) => {
                let content = &message.content;
                let message = match message.role {
                    Role::User => Message::User(UserMessage {
                        content: input_content(&format!("{at}.content"), content)?,
                        name: None,
                        cache_control: None,
                    }),
                    Role::System | Role::Developer => system(text_content(&format!("{at}.content"), content)?),
                    Role::Assistant => {
                        let mut assistant = assistant(content);
                        give_thinking(&mut assistant, &mut thinking);
                        Message::Assistant(assistant)
                    }
                };
                if !matches!(message, Message::Assistant(_)) {
                    thinking.clear();
                }
                messages.push(message);
            }
            InputItem::FunctionCall(call) => {
                let call = ToolCall {
                    id: call.call_id.clone(),
                    kind: "function".to_owned(),
                    function: openai::FunctionCall { name: call.name.clone(), arguments: call.arguments.clone() },
                };
                match messages.last_mut() {
                    Some(Message::Assistant(turn)) => {
                        let calls = turn.tool_calls.get_or_insert_with(Vec::new);
                        // A client may send back a call the stored conversation holds already.
                        if !calls.iter().any(|known| known.id == call.id) {
                            calls.push(call);
                        }
                        give_thinking(turn, &mut thinking);
                    }
                    _ => {
                        let mut turn = AssistantMessage { tool_calls: Some(vec![call]), ..AssistantMessage::default() };
                        give_thinking(&mut turn, &mut thinking);
                        messages.push(Message::Assistant(turn));
                    }
                }
            }
            InputItem::FunctionCallOutput(output) => {
                thinking.clear();
                messages.push(Message::Tool(ToolMessage {
                    content: input_content(&format!("{at}.output"), &output.output)?,
                    tool_call_id: output.call_id.clone(),
                    cache_control: None,
                }));
            }
            InputItem::Reasoning(reasoning) => {
                if let Some(blocks) = reasoning.encrypted_content.as_deref().and_then(thinking_blocks) {
                    thinking.extend(blocks);
                }
            }
            InputItem::OpenAiOnly(kind) => {
                return Err(invalid(
                    "input",
                    format!("`{at}`: `{kind}` items are only understood by OpenAI's Responses API"),
                ));
            }
        }
    }
    Ok(())
}

/// Hands the pending thinking blocks to an assistant message.
fn give_thinking(message: &mut AssistantMessage, thinking: &mut Vec<ThinkingBlock>) {
    if !thinking.is_empty() {
        message.thinking_blocks.get_or_insert_with(Vec::new).append(thinking);
    }
}

/// A user's message or a function's output: text, images and files.
fn input_content(at: &str, content: &Content) -> Result<openai::Content, ApiError> {
    let parts = match content {
        Content::Text(text) => return Ok(openai::Content::Text(text.clone())),
        Content::Parts(parts) => parts,
    };
    parts
        .iter()
        .enumerate()
        .map(|(j, part)| {
            let at = format!("{at}[{j}]");
            match part {
                Part::Text { text, cache_control } => {
                    Ok(openai::Part::Text { text: text.clone(), cache_control: cache_control.clone() })
                }
                Part::Image { source: ImageSource::Url(url), detail, cache_control } => Ok(openai::Part::ImageUrl {
                    image_url: ImageUrl {
                        url: url.clone(),
                        detail: detail.map(|detail| detail.as_str().to_owned()),
                        format: None,
                    },
                    cache_control: cache_control.clone(),
                }),
                Part::Image { source: ImageSource::FileId(_), .. } => Err(stored_file(&at)),
                // Chat Completions' file part: the data, and its name.
                Part::File { source: FileSource::Data(data), filename } => {
                    let mut file = json!({ "file_data": data });
                    if let Some(filename) = filename {
                        file["filename"] = Value::String(filename.clone());
                    }
                    Ok(openai::Part::Other(json!({ "type": "file", "file": file })))
                }
                Part::File { source: FileSource::FileId(_), .. } => Err(stored_file(&at)),
                Part::File { source: FileSource::Url(_), .. } => Err(invalid(
                    "input",
                    format!(
                        "`{at}`: a file by `file_url` cannot be carried through Chat Completions; send `file_data`"
                    ),
                )),
                Part::Refusal(_) => Err(invalid("input", format!("`{at}`: a refusal belongs in an assistant message"))),
            }
        })
        .collect::<Result<_, _>>()
        .map(openai::Content::Parts)
}

fn stored_file(at: &str) -> ApiError {
    invalid(
        "input",
        format!(
            "`{at}`: `file_id` names a file in OpenAI's Files API, which this gateway does not have; send the content"
        ),
    )
}

/// A system or developer message: text only, as Chat Completions takes it.
fn text_content(at: &str, content: &Content) -> Result<openai::Content, ApiError> {
    let parts = match content {
        Content::Text(text) => return Ok(openai::Content::Text(text.clone())),
        Content::Parts(parts) => parts,
    };
    parts
        .iter()
        .enumerate()
        .map(|(j, part)| match part {
            Part::Text { text, cache_control } => {
                Ok(openai::Part::Text { text: text.clone(), cache_control: cache_control.clone() })
            }
            Part::Image { .. } | Part::File { .. } | Part::Refusal(_) => Err(invalid(
                "input",
                format!("`{at}[{j}]`: a system or developer message can only hold text through Chat Completions"),
            )),
        })
        .collect::<Result<_, _>>()
        .map(openai::Content::Parts)
}

/// The assistant's earlier message: its text, and its refusal apart.
fn assistant(content: &Content) -> AssistantMessage {
    let (content, refusal) = match content {
        Content::Text(text) => (Some(openai::Content::Text(text.clone())), None),
        Content::Parts(parts) => {
            let mut texts = Vec::new();
            let mut refusal: Option<String> = None;
            for part in parts {
                match part {
                    Part::Text { text, cache_control } => {
                        texts.push(openai::Part::Text { text: text.clone(), cache_control: cache_control.clone() });
                    }
                    Part::Refusal(text) => refusal.get_or_insert_with(String::new).push_str(text),
                    // The parser lets only text and refusals into an assistant's message.
                    Part::Image { .. } | Part::File { .. } => {}
                }
            }
            ((!texts.is_empty()).then_some(openai::Content::Parts(texts)), refusal)
        }
    };
    AssistantMessage { content, refusal, ..AssistantMessage::default() }
}

#[cfg(test)]
mod tests;
