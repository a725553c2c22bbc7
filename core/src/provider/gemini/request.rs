//! OpenAI's chat request as Gemini's `generateContent` body.
//!
//! - System and developer messages, wherever they stand, become
//!   `systemInstruction`; the other messages `contents`, assistant turns as
//!   `model`, and consecutive turns of one kind merged into one content (Gemini
//!   wants user and model turns to alternate). Tool results go into a user turn
//!   of their own, right after the calls they answer, as LiteLLM sends them.
//! - Assistant `tool_calls` become `functionCall` parts (the arguments' JSON text
//!   parsed), with the thought signature their id carries (see `call_id`); tool
//!   messages `functionResponse` parts named after the call they answer, their
//!   text as `{"content": text}`, or as the response itself when it is a JSON object.
//! - Images and files: data URLs go inline (`inlineData`); `http(s)://` and
//!   `gs://` URLs by reference (`fileData`, which Gemini fetches itself), their
//!   media type from `format` or the URL's extension, a 400 when neither tells it
//!   (this gateway does not download them).
//! - Tool parameters and `response_format` schemas are rewritten by `schema`.
//! - Beyond OpenAI's typed fields: `frequency_penalty`, `presence_penalty`,
//!   `reasoning_effort` (as `thinkingConfig`, see `thinking`), and LiteLLM's
//!   `safety_settings` and `cached_content`, passed as written.
//! - What Gemini cannot take is refused with a 400 naming it, or dropped with
//!   `drop_params`. A field set to null, false, zero or an empty value asks
//!   nothing and is not refused; `user` (OpenAI's end-user id) and
//!   `metadata` (LiteLLM's, never sent upstream) are dropped without a word.

use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::{Map, Value};

use super::wire::{
    Blob, Content, FileData, FunctionCall, FunctionCallingConfig, FunctionCallingMode, FunctionDeclaration,
    FunctionResponse, FunctionResponsePart, GenerateContentRequest, GenerationConfig, Part, PartData, Role, Tool,
    ToolConfig,
};
use super::{call_id, schema, thinking};
use crate::error::ApiError;
use crate::openai::{
    AssistantMessage, ChatRequest, Content as MessageContent, DataUrl, Message, Part as MessagePart, ResponseFormat,
    Stop, ToolChoice, ToolMessage,
};
use crate::request::GATEWAY_ONLY_KEYS;

/// What the translation needs besides the client's request.
#[derive(Debug, Clone, Copy)]
pub struct RequestOptions<'a> {
    /// The model as Gemini names it (`gemini-2.5-flash`): its generation decides
    /// the thinking controls and whether function calls must carry signatures.
    pub model: &'a str,
    /// Drop what Gemini cannot take instead of refusing the request.
    pub drop_params: bool,
}

/// The `generateContent` (or `streamGenerateContent`) body for `chat`.
pub fn body(chat: &ChatRequest, options: &RequestOptions<'_>) -> Result<Vec<u8>, ApiError> {
    let request = request(chat, options)?;
    serde_json::to_vec(&request)
        .map_err(|e| ApiError::Internal(format!("the Gemini request could not be written: {e}")))
}

fn request<'a>(chat: &'a ChatRequest, options: &RequestOptions<'_>) -> Result<GenerateContentRequest<'a>, ApiError> {
    let extras = Extras::read(chat, options.drop_params)?;
    let (system_instruction, contents) = conversation(&chat.messages, options.model)?;
    Ok(GenerateContentRequest {
        contents,
        system_instruction,
        tools: tools(chat)?,
        tool_config: chat.tool_choice.as_ref().map(tool_config).transpose()?,
        safety_settings: extras.safety_settings,
        generation_config: generation_config(chat, &extras, options.model)?,
        cached_content: extras.cached_content,
    })
}

fn invalid(param: &'static str, message: String) -> ApiError {
    ApiError::InvalidParam { param, message }
}

// ---- Fields beyond the typed ones ------------------------------------------------

/// OpenAI parameters Gemini has nothing for, by name (an error names its param statically).
const UNSUPPORTED: &[&str] = &[
    "logprobs",
    "top_logprobs",
    "logit_bias",
    "modalities",
    "audio",
    "prediction",
    "service_tier",
    "store",
    "web_search_options",
    "functions",
    "function_call",
    "verbosity",
    "prompt_cache_key",
    "safety_identifier",
    "parallel_tool_calls",
];

/// Fields with no bearing on the answer, dropped without a word.
const IGNORED: &[&str] = &["user", "metadata"];

/// The fields of `extra` that Gemini takes.
#[derive(Default)]
struct Extras<'a> {
    frequency_penalty: Option<f64>,
    presence_penalty: Option<f64>,
    reasoning_effort: Option<&'a str>,
    safety_settings: Option<&'a Value>,
    cached_content: Option<&'a str>,
}

impl<'a> Extras<'a> {
    fn read(chat: &'a ChatRequest, drop_params: bool) -> Result<Self, ApiError> {
        let mut extras = Self::default();
        let mut refused: Vec<&str> = Vec::new();
        for (key, value) in &chat.extra {
            // The gateway's own fields are read by the router, never sent.
            if asks_nothing(value) || IGNORED.contains(&key.as_str()) || GATEWAY_ONLY_KEYS.contains(&key.as_str()) {
                continue;
            }
            match key.as_str() {
                "frequency_penalty" => extras.frequency_penalty = Some(number("frequency_penalty", value)?),
                "presence_penalty" => extras.presence_penalty = Some(number("presence_penalty", value)?),
                "reasoning_effort" => {
                    let effort = value
                        .as_str()
                        .ok_or_else(|| invalid("reasoning_effort", "`reasoning_effort` must be a string".to_owned()))?;
                    extras.reasoning_effort = Some(effort);
                }
                "safety_settings" if value.is_array() => extras.safety_settings = Some(value),
                "safety_settings" => {
                    return Err(invalid("safety_settings", "`safety_settings` must be an array".to_owned()));
                }
                "cached_content" => {
                    let name = value.as_str().ok_or_else(|| {
                        invalid("cached_content", "`cached_content` must be a `cachedContents/...` name".to_owned())
                    })?;
                    extras.cached_content = Some(name);
                }
                _ => refused.push(key),
            }
        }
        // Gemini cannot be held to one call at a time; with one tool LiteLLM lets it pass.
        if chat.parallel_tool_calls == Some(false) && chat.tools.as_ref().is_some_and(|tools| tools.len() > 1) {
            refused.push("parallel_tool_calls");
        }
        let Some(first) = refused.first().filter(|_| !drop_params) else {
            return Ok(extras);
        };
        let param = UNSUPPORTED.iter().find(|name| *name == first).copied().unwrap_or("body");
        let names = refused.iter().map(|name| format!("`{name}`")).collect::<Vec<_>>().join(", ");
        let them = if refused.len() > 1 { "them" } else { "it" };
        Err(invalid(
            param,
            format!("Gemini does not support {names}: remove {them}, or set `drop_params` to drop {them}"),
        ))
    }
}

/// A value that asks for nothing: null, false, zero, an empty object or array.
fn asks_nothing(value: &Value) -> bool {
    match value {
        Value::Null | Value::Bool(false) => true,
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::Bool(true) | Value::String(_) => false,
    }
}

fn number(param: &'static str, value: &Value) -> Result<f64, ApiError> {
    value.as_f64().ok_or_else(|| invalid(param, format!("`{param}` must be a number")))
}

// ---- Messages ----------------------------------------------------------------------

/// The kinds of turn merged with their neighbours of the same kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Turn {
    User,
    Model,
    /// Function responses: a user turn, kept apart from the user's own words.
    ToolResults,
}

#[derive(Default)]
struct Turns<'a> {
    contents: Vec<Content<'a>>,
    last: Option<Turn>,
}

impl<'a> Turns<'a> {
    fn push(&mut self, turn: Turn, parts: Vec<Part<'a>>) {
        if parts.is_empty() {
            // Gemini refuses a content without parts: an empty message is skipped.
            return;
        }
        if self.last == Some(turn)
            && let Some(last) = self.contents.last_mut()
        {
            last.parts.extend(parts);
            return;
        }
        let role = match turn {
            Turn::Model => Role::Model,
            Turn::User | Turn::ToolResults => Role::User,
        };
        self.contents.push(Content { role: Some(role), parts });
        self.last = Some(turn);
    }
}

type SystemAndContents<'a> = (Option<Content<'a>>, Vec<Content<'a>>);

fn conversation<'a>(messages: &'a [Message], model: &str) -> Result<SystemAndContents<'a>, ApiError> {
    let mut system = Vec::new();
    let mut turns = Turns::default();
    // The function each call id named, for the tool messages that answer it.
    let mut calls: HashMap<&'a str, &'a str> = HashMap::new();
    for (i, message) in messages.iter().enumerate() {
        match message {
            Message::System(m) | Message::Developer(m) => {
                system.extend(text_of(&m.content).map(|text| Part::from(PartData::Text(text))));
            }
            Message::User(m) => turns.push(Turn::User, user_parts(i, &m.content)?),
            Message::Assistant(m) => turns.push(Turn::Model, assistant_parts(i, m, &mut calls)?),
            Message::Tool(m) => turns.push(Turn::ToolResults, vec![function_response(i, m, &calls)?]),
        }
    }
    if turns.contents.is_empty() {
        return Err(invalid(
            "messages",
            "Gemini needs a user or assistant message with content (system messages become its system instruction)"
                .to_owned(),
        ));
    }
    if thinking::is_gemini_3_or_newer(model) {
        sign_function_calls(&mut turns.contents);
    }
    let system = (!system.is_empty()).then_some(Content { role: None, parts: system });
    Ok((system, turns.contents))
}

/// A message's text (its text parts joined), `None` when empty.
fn text_of(content: &MessageContent) -> Option<Cow<'_, str>> {
    let text = match content {
        MessageContent::Text(text) => Cow::Borrowed(text.as_str()),
        MessageContent::Parts(_) => Cow::Owned(content.text()),
    };
    (!text.is_empty()).then_some(text)
}

fn user_parts(i: usize, content: &MessageContent) -> Result<Vec<Part<'_>>, ApiError> {
    let parts = match content {
        MessageContent::Text(text) if text.is_empty() => Vec::new(),
        MessageContent::Text(text) => vec![PartData::Text(Cow::Borrowed(text))],
        MessageContent::Parts(parts) => {
            let mut out = Vec::with_capacity(parts.len());
            for (j, part) in parts.iter().enumerate() {
                let at = || format!("messages[{i}].content[{j}]");
                match part {
                    MessagePart::Text { text, .. } if text.is_empty() => {}
                    MessagePart::Text { text, .. } => out.push(PartData::Text(Cow::Borrowed(text))),
                    MessagePart::ImageUrl { image_url, .. } => {
                        out.push(media(&image_url.url, image_url.format.as_deref(), at)?);
                    }
                    // Only an assistant's message has refusals: nothing to say to the model.
                    MessagePart::Refusal { .. } => {}
                    MessagePart::Other(value) => out.push(other_part(value, at)?),
                }
            }
            out
        }
    };
    Ok(parts.into_iter().map(Part::from).collect())
}

/// Audio and file parts, as LiteLLM reads them.
fn other_part(value: &Value, at: impl Fn() -> String) -> Result<PartData<'_>, ApiError> {
    fn text<'v>(object: Option<&'v Value>, key: &str) -> Option<&'v str> {
        object.and_then(|o| o.get(key)).and_then(Value::as_str)
    }
    match value.get("type").and_then(Value::as_str).unwrap_or_default() {
        "input_audio" => {
            let audio = value.get("input_audio");
            let (Some(data), Some(format)) = (text(audio, "data"), text(audio, "format")) else {
                return Err(invalid("messages", format!("{}: `input_audio` needs `data` and `format`", at())));
            };
            Ok(PartData::InlineData(Blob { mime_type: Cow::Owned(format!("audio/{format}")), data }))
        }
        "file" => {
            let file = value.get("file");
            let format = text(file, "format");
            match text(file, "file_data").or_else(|| text(file, "file_id")) {
                Some(source) => media(source, format, at),
                None => Err(invalid("messages", format!("{}: a file needs `file_data` or `file_id`", at()))),
            }
        }
        kind => Err(invalid("messages", format!("{}: Gemini cannot take a content part of type `{kind}`", at()))),
    }
}

/// An image, audio, video or document by data URL or by URL.
fn media<'a>(url: &'a str, format: Option<&'a str>, at: impl Fn() -> String) -> Result<PartData<'a>, ApiError> {
    if let Some(data) = DataUrl::parse(url) {
        return Ok(PartData::InlineData(Blob { mime_type: Cow::Borrowed(data.media_type), data: data.base64 }));
    }
    if url.starts_with("data:") {
        return Err(invalid("messages", format!("{}: a data URL must be `data:<media type>;base64,<data>`", at())));
    }
    if !["https://", "http://", "gs://"].iter().any(|scheme| url.starts_with(scheme)) {
        return Err(invalid(
            "messages",
            format!("{}: `{url}` is neither a data URL nor an http(s):// or gs:// URL", at()),
        ));
    }
    let Some(mime_type) = format.or_else(|| media_type_of(url)) else {
        return Err(invalid(
            "messages",
            format!(
                "{}: Gemini needs the media type of `{url}`, which its extension does not tell: name it in `format`, or send the data as a data URL",
                at()
            ),
        ));
    };
    Ok(PartData::FileData(FileData { mime_type: Cow::Borrowed(mime_type), file_uri: url }))
}

/// The media type of a URL's file, from its extension: the types Gemini reads.
fn media_type_of(url: &str) -> Option<&'static str> {
    let path = crate::endpoint::url_path(url);
    let (_, extension) = path.rsplit('/').next()?.rsplit_once('.')?;
    Some(match extension.to_ascii_lowercase().as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "heic" => "image/heic",
        "heif" => "image/heif",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "mp3" => "audio/mp3",
        "wav" => "audio/wav",
        "flac" => "audio/flac",
        "aac" => "audio/aac",
        "ogg" => "audio/ogg",
        "mp4" => "video/mp4",
        "mov" => "video/mov",
        "mpeg" | "mpg" => "video/mpeg",
        "avi" => "video/avi",
        "wmv" => "video/wmv",
        "flv" => "video/flv",
        "webm" => "video/webm",
        _ => return None,
    })
}

fn assistant_parts<'a>(
    i: usize,
    message: &'a AssistantMessage,
    calls: &mut HashMap<&'a str, &'a str>,
) -> Result<Vec<Part<'a>>, ApiError> {
    let mut parts: Vec<Part<'a>> =
        message.content.as_ref().and_then(text_of).map(|text| Part::from(PartData::Text(text))).into_iter().collect();
    for (j, call) in message.tool_calls.iter().flatten().enumerate() {
        calls.insert(&call.id, &call.function.name);
        let args = arguments(&call.function.arguments)
            .map_err(|why| invalid("messages", format!("messages[{i}].tool_calls[{j}].function.arguments {why}")))?;
        let (_, thought_signature) = call_id::split(&call.id);
        parts.push(Part {
            data: PartData::FunctionCall(FunctionCall { name: &call.function.name, args }),
            thought_signature,
        });
    }
    Ok(parts)
}

/// A call's arguments (OpenAI's JSON text) as the object Gemini wants; empty text is no arguments.
fn arguments(text: &str) -> Result<Value, String> {
    if text.trim().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    match serde_json::from_str(text) {
        Ok(Value::Object(args)) => Ok(Value::Object(args)),
        Ok(_) => Err("must be a JSON object".to_owned()),
        Err(e) => Err(format!("is not valid JSON: {e}")),
    }
}

fn function_response<'a>(
    i: usize,
    message: &'a ToolMessage,
    calls: &HashMap<&'a str, &'a str>,
) -> Result<Part<'a>, ApiError> {
    let Some(&name) = calls.get(message.tool_call_id.as_str()) else {
        return Err(invalid(
            "messages",
            format!(
                "messages[{i}].tool_call_id `{}` answers no tool call of an earlier assistant message",
                message.tool_call_id
            ),
        ));
    };
    let mut media_parts = Vec::new();
    let text = match &message.content {
        MessageContent::Text(text) => Cow::Borrowed(text.as_str()),
        MessageContent::Parts(parts) => {
            let mut text = String::new();
            for (j, part) in parts.iter().enumerate() {
                let at = || format!("messages[{i}].content[{j}]");
                match part {
                    MessagePart::Text { text: piece, .. } => text.push_str(piece),
                    MessagePart::ImageUrl { image_url, .. } => {
                        match media(&image_url.url, image_url.format.as_deref(), at)? {
                            PartData::InlineData(inline_data) => media_parts.push(FunctionResponsePart { inline_data }),
                            _ => {
                                return Err(invalid(
                                    "messages",
                                    format!("messages[{i}].content[{j}]: a tool result's image must be a data URL"),
                                ));
                            }
                        }
                    }
                    MessagePart::Refusal { .. } | MessagePart::Other(_) => {
                        return Err(invalid(
                            "messages",
                            format!("messages[{i}].content[{j}]: a tool result holds only text and images"),
                        ));
                    }
                }
            }
            Cow::Owned(text)
        }
    };
    let response = match serde_json::from_str::<Value>(&text) {
        Ok(object @ Value::Object(_)) => object,
        _ => Value::Object(Map::from_iter([("content".to_owned(), Value::String(text.into_owned()))])),
    };
    Ok(Part::from(PartData::FunctionResponse(FunctionResponse { name, response, parts: media_parts })))
}

/// Gemini 3 refuses a model turn whose function calls lost their signature (a
/// conversation begun with another model, or a client that rewrote the ids):
/// the first call of such a turn gets the signature that skips the check.
fn sign_function_calls(contents: &mut [Content<'_>]) {
    let is_call = |part: &Part<'_>| matches!(part.data, PartData::FunctionCall(_));
    for content in contents.iter_mut().filter(|content| content.role == Some(Role::Model)) {
        if content.parts.iter().any(|part| is_call(part) && part.thought_signature.is_some()) {
            continue;
        }
        if let Some(first) = content.parts.iter_mut().find(|part| is_call(part)) {
            first.thought_signature = Some(call_id::SKIP_VALIDATION);
        }
    }
}

// ---- Tools and settings ---------------------------------------------------------

fn tools(chat: &ChatRequest) -> Result<Vec<Tool<'_>>, ApiError> {
    let Some(tools) = chat.tools.as_ref().filter(|tools| !tools.is_empty()) else {
        return Ok(Vec::new());
    };
    let mut declarations = Vec::with_capacity(tools.len());
    for (i, tool) in tools.iter().enumerate() {
        if tool.kind != "function" {
            return Err(invalid("tools", format!("tools[{i}]: Gemini takes function tools, not `{}`", tool.kind)));
        }
        let parameters = match &tool.function.parameters {
            Some(parameters) => Some(
                schema::to_gemini(parameters, false)
                    .map_err(|why| invalid("tools", format!("tools[{i}].function.parameters: {why}")))?,
            ),
            None => None,
        };
        declarations.push(FunctionDeclaration {
            name: &tool.function.name,
            description: tool.function.description.as_deref(),
            // Gemini refuses an object without properties: a function of no arguments declares none.
            parameters: parameters.filter(|schema| !is_empty_object(schema)),
        });
    }
    Ok(vec![Tool { function_declarations: declarations }])
}

fn is_empty_object(schema: &Value) -> bool {
    schema.get("type").is_some_and(|kind| kind == "object")
        && schema.get("properties").and_then(Value::as_object).is_none_or(Map::is_empty)
}

fn tool_config(choice: &ToolChoice) -> Result<ToolConfig<'_>, ApiError> {
    let (mode, allowed_function_names) = match choice {
        ToolChoice::Mode(mode) => match mode.as_str() {
            "auto" => (FunctionCallingMode::Auto, Vec::new()),
            "required" => (FunctionCallingMode::Any, Vec::new()),
            "none" => (FunctionCallingMode::None, Vec::new()),
            other => {
                return Err(invalid(
                    "tool_choice",
                    format!("`tool_choice` must be auto, required, none or a function, not `{other}`"),
                ));
            }
        },
        ToolChoice::Function(named) => (FunctionCallingMode::Any, vec![named.function.name.as_str()]),
    };
    Ok(ToolConfig { function_calling_config: FunctionCallingConfig { mode, allowed_function_names } })
}

fn generation_config(
    chat: &ChatRequest,
    extras: &Extras<'_>,
    model: &str,
) -> Result<Option<GenerationConfig>, ApiError> {
    let (response_mime_type, response_schema) = match &chat.response_format {
        None | Some(ResponseFormat::Text) => (None, None),
        Some(ResponseFormat::JsonObject) => (Some("application/json"), None),
        Some(ResponseFormat::JsonSchema { json_schema }) => {
            let schema =
                match &json_schema.schema {
                    Some(schema) => Some(schema::to_gemini(schema, true).map_err(|why| {
                        invalid("response_format", format!("response_format.json_schema.schema: {why}"))
                    })?),
                    None => None,
                };
            (Some("application/json"), schema)
        }
    };
    let thinking_config = match extras.reasoning_effort {
        Some(effort) => Some(thinking::config(effort, model).ok_or_else(|| {
            invalid(
                "reasoning_effort",
                format!("`reasoning_effort` must be none, minimal, low, medium or high, not `{effort}`"),
            )
        })?),
        None => None,
    };
    let config = GenerationConfig {
        temperature: chat.temperature,
        top_p: chat.top_p,
        top_k: chat.top_k,
        max_output_tokens: chat.max_output_tokens(),
        stop_sequences: chat.stop.as_ref().map(Stop::sequences).unwrap_or_default(),
        candidate_count: chat.n,
        response_mime_type,
        response_schema,
        seed: chat.seed,
        presence_penalty: extras.presence_penalty,
        frequency_penalty: extras.frequency_penalty,
        thinking_config,
    };
    Ok((config != GenerationConfig::default()).then_some(config))
}

#[cfg(test)]
mod tests;
