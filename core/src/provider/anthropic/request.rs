//! An OpenAI chat request to the body of Anthropic's `POST /v1/messages`.
//!
//! - System and developer messages, wherever they are, become the top-level `system`
//!   (text blocks, keeping `cache_control`).
//! - The other messages become alternating user and assistant turns: tool results
//!   are `tool_result` blocks of a user turn, and consecutive messages of one side
//!   (tool results and the user message after them, two assistant messages) are
//!   merged into one turn, as Anthropic requires alternation. Assistant tool calls
//!   become `tool_use` blocks whose `input` is the parsed `arguments`, after the
//!   `thinking_blocks` the client sent back; images become image blocks (a `data:`
//!   URL inline, an `http(s)` URL fetched by Anthropic), PDFs (as `data:` URLs or
//!   `file` parts) document blocks.
//! - `max_completion_tokens` (else `max_tokens`, else [`DEFAULT_MAX_TOKENS`]) is the
//!   required `max_tokens`; `stop`, `temperature`, `top_p`, `top_k`, `user` and the
//!   tools map to their counterparts; `response_format` asks for JSON through
//!   [`JSON_TOOL`]; LiteLLM's `thinking` and `reasoning_effort` enable extended
//!   thinking.
//! - What Anthropic cannot take (`n` > 1, `seed`, `logprobs`, `logit_bias`,
//!   penalties, audio parts, any field this does not know) is refused with a 400
//!   naming it, or dropped when the deployment (or the request, as LiteLLM allows)
//!   sets `drop_params`.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::{Value, json};

use super::JSON_TOOL;
use super::wire::{
    ContentBlock, DocumentSource, ImageSource, Message, MessageContent, MessagesRequest, Metadata, Role, System,
    SystemBlock, Thinking, Tool, ToolChoice, ToolResultContent,
};
use crate::error::ApiError;
use crate::openai::{self, ChatRequest, Content, ImageUrl, Part, ResponseFormat, Stop, ThinkingBlock};
use crate::provider::vertex;
use crate::request::GATEWAY_ONLY_KEYS;

/// `max_tokens` when the client sets none (Anthropic requires one): LiteLLM's
/// `DEFAULT_ANTHROPIC_CHAT_MAX_TOKENS`, 4096. With a thinking budget, the default is
/// the budget plus this, as in LiteLLM, so that thinking leaves room for the answer.
pub const DEFAULT_MAX_TOKENS: u64 = 4096;

/// Thinking budgets for `reasoning_effort`: LiteLLM's
/// `DEFAULT_REASONING_EFFORT_{LOW,MEDIUM,HIGH}_THINKING_BUDGET`. `minimal` gets
/// Anthropic's smallest allowed budget.
const EFFORT_BUDGETS: &[(&str, u64)] = &[("minimal", 1024), ("low", 1024), ("medium", 2048), ("high", 4096)];

/// Fields of a request that are read here although OpenAI's type does not name
/// them: LiteLLM's Anthropic options, and LiteLLM's own `metadata` (whose `user_id`
/// it sends to Anthropic) and per-request `drop_params`.
const HANDLED_EXTRA_KEYS: &[&str] = &["thinking", "reasoning_effort", "metadata", "drop_params"];

/// OpenAI's chat parameters that have no counterpart in the Messages API: the
/// `param` of the error that refuses one. Fields outside this list are refused
/// too, with `param` `body` (the error's message names them).
const UNSUPPORTED_PARAMS: &[&str] = &[
    "logprobs",
    "top_logprobs",
    "logit_bias",
    "presence_penalty",
    "frequency_penalty",
    "audio",
    "modalities",
    "prediction",
    "store",
    "service_tier",
    "web_search_options",
    "functions",
    "function_call",
    "verbosity",
    "prompt_cache_key",
    "safety_identifier",
];

/// What the request mapping needs besides the client's request.
#[derive(Debug, Clone, Copy)]
pub struct RequestOptions<'a> {
    /// The deployment's model, its `anthropic/` prefix stripped.
    pub model: &'a str,
    /// Drop what Anthropic cannot take instead of refusing the request.
    pub drop_params: bool,
    /// For Anthropic's models on Vertex AI, whose URL names the model: the body
    /// leaves `model` out and carries Vertex's `anthropic_version`.
    pub on_vertex: bool,
}

/// The body of `POST /v1/messages` for `chat`.
pub fn body(chat: &ChatRequest, options: &RequestOptions<'_>) -> Result<Vec<u8>, ApiError> {
    let request = request(chat, options)?;
    serde_json::to_vec(&request).map_err(|e| ApiError::Internal(format!("writing Anthropic's request: {e}")))
}

/// Whether the answer's [`JSON_TOOL`] call is to be turned back into content: the
/// client asked for JSON (`response_format` `json_object` or `json_schema`).
pub fn json_mode(chat: &ChatRequest) -> bool {
    matches!(chat.response_format, Some(ResponseFormat::JsonObject | ResponseFormat::JsonSchema { .. }))
}

/// The Messages request for `chat`, borrowing its text, images and schemas (for
/// callers that write it in another envelope: Anthropic models on other clouds).
pub fn request<'a>(chat: &'a ChatRequest, options: &RequestOptions<'a>) -> Result<MessagesRequest<'a>, ApiError> {
    let drop = DropParams(options.drop_params || chat.extra.get("drop_params") == Some(&Value::Bool(true)));
    check_params(chat, drop)?;
    let thinking = thinking(chat)?;
    let (system, messages) = conversation(&chat.messages, drop)?;
    let max_tokens =
        chat.max_output_tokens().unwrap_or_else(|| match thinking.as_ref().and_then(Thinking::budget_tokens) {
            Some(budget) => budget + DEFAULT_MAX_TOKENS,
            None => DEFAULT_MAX_TOKENS,
        });
    let json_tool = json_tool(chat.response_format.as_ref());
    let forced_json = json_tool.is_some() && !thinking.as_ref().is_some_and(Thinking::is_on);
    let mut tools = tools(chat.tools.as_deref().unwrap_or_default(), drop)?;
    tools.extend(json_tool);
    let tool_choice = if tools.is_empty() { None } else { tool_choice(chat, forced_json)? };
    let (model, anthropic_version) = match options.on_vertex {
        true => (Cow::Borrowed(""), Some(Cow::Borrowed(vertex::ANTHROPIC_VERSION))),
        false => (Cow::Borrowed(options.model), None),
    };
    Ok(MessagesRequest {
        model,
        anthropic_version,
        messages,
        system,
        max_tokens,
        stop_sequences: stop_sequences(chat.stop.as_ref(), drop)?,
        temperature: chat.temperature,
        top_p: chat.top_p,
        top_k: chat.top_k,
        metadata: user_id(chat).map(|id| Metadata { user_id: Some(Cow::Borrowed(id)) }),
        tools: (!tools.is_empty()).then_some(tools),
        tool_choice,
        thinking,
        stream: chat.stream,
    })
}

/// Whether what Anthropic cannot take is dropped rather than refused.
#[derive(Debug, Clone, Copy)]
struct DropParams(bool);

impl DropParams {
    /// `Ok` (the caller leaves the thing out) when dropping, else the 400 naming it.
    fn or_refuse(self, param: &'static str, what: impl FnOnce() -> String) -> Result<(), ApiError> {
        if self.0 {
            return Ok(());
        }
        Err(ApiError::InvalidParam {
            param,
            message: format!(
                "{} cannot be sent to Anthropic's Messages API; set `drop_params: true` to drop it",
                what()
            ),
        })
    }
}

fn invalid(param: &'static str, message: String) -> ApiError {
    ApiError::InvalidParam { param, message }
}

/// The top-level fields Anthropic has no counterpart for. A field set to `null` or
/// `false` asks for nothing and passes.
fn check_params(chat: &ChatRequest, drop: DropParams) -> Result<(), ApiError> {
    if chat.n.is_some_and(|n| n > 1) {
        drop.or_refuse("n", || "`n` > 1 (several choices in one answer)".to_owned())?;
    }
    if chat.seed.is_some() {
        drop.or_refuse("seed", || "`seed`".to_owned())?;
    }
    for (key, value) in &chat.extra {
        let key = key.as_str();
        if matches!(value, Value::Null | Value::Bool(false))
            || GATEWAY_ONLY_KEYS.contains(&key)
            || HANDLED_EXTRA_KEYS.contains(&key)
        {
            continue;
        }
        let param = UNSUPPORTED_PARAMS.iter().find(|known| **known == key).copied().unwrap_or("body");
        drop.or_refuse(param, || format!("`{key}`"))?;
    }
    Ok(())
}

/// Extended thinking: Anthropic's own `thinking` object, or LiteLLM's mapping of
/// OpenAI's `reasoning_effort` to a budget.
fn thinking(chat: &ChatRequest) -> Result<Option<Thinking>, ApiError> {
    if let Some(value) = chat.extra.get("thinking").filter(|value| !value.is_null()) {
        return Thinking::deserialize(value).map(Some).map_err(|e| {
            invalid(
                "thinking",
                format!("`thinking` must be Anthropic's, as {{\"type\": \"enabled\", \"budget_tokens\": 2048}}: {e}"),
            )
        });
    }
    let effort = match chat.extra.get("reasoning_effort") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(effort)) if effort == "none" => return Ok(None),
        Some(Value::String(effort)) => effort.as_str(),
        Some(other) => {
            return Err(invalid("reasoning_effort", format!("`reasoning_effort` must be a string, got {other}")));
        }
    };
    match EFFORT_BUDGETS.iter().find(|(name, _)| *name == effort) {
        Some(&(_, budget_tokens)) => Ok(Some(Thinking::Enabled { budget_tokens, display: None })),
        None => Err(invalid(
            "reasoning_effort",
            format!("`reasoning_effort` must be one of none, minimal, low, medium, high for Anthropic, got `{effort}`"),
        )),
    }
}

/// The system prompt and the turns.
fn conversation<'a>(
    messages: &'a [openai::Message],
    drop: DropParams,
) -> Result<(Option<System<'a>>, Vec<Message<'a>>), ApiError> {
    if messages.is_empty() {
        return Err(invalid("messages", "`messages` must contain at least one message".to_owned()));
    }
    let mut system = Vec::new();
    let mut turns = Turns::default();
    for (i, message) in messages.iter().enumerate() {
        match message {
            openai::Message::System(m) | openai::Message::Developer(m) => {
                let start = system.len();
                system_blocks(&m.content, i, drop, &mut system)?;
                if let (Some(mark), Some(SystemBlock::Text { cache_control, .. })) =
                    (&m.cache_control, system[start..].last_mut())
                {
                    cache_control.get_or_insert(Cow::Borrowed(mark));
                }
            }
            openai::Message::User(m) => {
                let mut blocks = content_blocks(&m.content, i, drop)?;
                mark_last(&mut blocks, m.cache_control.as_ref());
                turns.push(Role::User, blocks);
            }
            openai::Message::Assistant(m) => {
                let mut blocks = assistant_blocks(m, i, drop)?;
                mark_last(&mut blocks, m.cache_control.as_ref());
                turns.push(Role::Assistant, blocks);
            }
            openai::Message::Tool(m) => {
                let content = match &m.content {
                    Content::Text(text) => ToolResultContent::Text(Cow::Borrowed(text)),
                    Content::Parts(_) => ToolResultContent::Blocks(content_blocks(&m.content, i, drop)?),
                };
                let result = ContentBlock::ToolResult {
                    tool_use_id: Cow::Borrowed(&m.tool_call_id),
                    content: Some(content),
                    is_error: None,
                    cache_control: m.cache_control.as_ref().map(Cow::Borrowed),
                };
                turns.push(Role::User, vec![result]);
            }
        }
    }
    let messages = turns.finish();
    if messages.is_empty() {
        return Err(invalid(
            "messages",
            "Anthropic needs at least one user or assistant message besides the system messages".to_owned(),
        ));
    }
    let system = (!system.is_empty()).then_some(System::Blocks(system));
    Ok((system, messages))
}

/// Turns being built: blocks of consecutive messages of one side are merged.
#[derive(Default)]
struct Turns<'a>(Vec<(Role, Vec<ContentBlock<'a>>)>);

impl<'a> Turns<'a> {
    fn push(&mut self, role: Role, blocks: Vec<ContentBlock<'a>>) {
        if blocks.is_empty() {
            return;
        }
        match self.0.last_mut() {
            Some((last, turn)) if *last == role => turn.extend(blocks),
            _ => self.0.push((role, blocks)),
        }
    }

    fn finish(mut self) -> Vec<Message<'a>> {
        for (role, blocks) in &mut self.0 {
            if *role == Role::User {
                // Anthropic wants a turn's tool results before anything else in it.
                blocks.sort_by_key(|block| !matches!(block, ContentBlock::ToolResult { .. }));
            }
        }
        // Anthropic refuses a last (prefilled) assistant turn ending in whitespace,
        // and empty text blocks anywhere.
        if let Some((Role::Assistant, blocks)) = self.0.last_mut() {
            for block in blocks.iter_mut() {
                if let ContentBlock::Text { text, .. } = block {
                    trim_end(text);
                }
            }
            blocks.retain(|block| !matches!(block, ContentBlock::Text { text, .. } if text.is_empty()));
            if blocks.is_empty() {
                self.0.pop();
            }
        }
        self.0.into_iter().map(|(role, blocks)| Message { role, content: MessageContent::Blocks(blocks) }).collect()
    }
}

fn text_block<'a>(text: &'a str, mark: Option<&'a Value>) -> ContentBlock<'a> {
    ContentBlock::Text { text: Cow::Borrowed(text), cache_control: mark.map(Cow::Borrowed) }
}

fn trim_end(text: &mut Cow<'_, str>) {
    let len = text.trim_end().len();
    match text {
        Cow::Borrowed(borrowed) => *borrowed = &borrowed[..len],
        Cow::Owned(owned) => owned.truncate(len),
    }
}

/// Puts a message-level `cache_control` on its last block (unless it has its own).
fn mark_last<'a>(blocks: &mut [ContentBlock<'a>], mark: Option<&'a Value>) {
    let (Some(mark), Some(block)) = (mark, blocks.last_mut()) else {
        return;
    };
    let slot = match block {
        ContentBlock::Text { cache_control, .. }
        | ContentBlock::Image { cache_control, .. }
        | ContentBlock::Document { cache_control, .. }
        | ContentBlock::ToolUse { cache_control, .. }
        | ContentBlock::ToolResult { cache_control, .. } => cache_control,
        ContentBlock::Thinking { .. } | ContentBlock::RedactedThinking { .. } | ContentBlock::Unsupported => return,
    };
    slot.get_or_insert(Cow::Borrowed(mark));
}

fn system_blocks<'a>(
    content: &'a Content,
    i: usize,
    drop: DropParams,
    out: &mut Vec<SystemBlock<'a>>,
) -> Result<(), ApiError> {
    match content {
        // Anthropic refuses empty text blocks; empty text says nothing.
        Content::Text(text) if text.is_empty() => {}
        Content::Text(text) => out.push(SystemBlock::Text { text: Cow::Borrowed(text), cache_control: None }),
        Content::Parts(parts) => {
            for (j, part) in parts.iter().enumerate() {
                match part {
                    Part::Text { text, .. } if text.is_empty() => {}
                    Part::Text { text, cache_control } => out.push(SystemBlock::Text {
                        text: Cow::Borrowed(text),
                        cache_control: cache_control.as_ref().map(Cow::Borrowed),
                    }),
                    other => drop.or_refuse("messages", || {
                        format!("`messages[{i}].content[{j}]`: a system message's `{}` part", part_type(other))
                    })?,
                }
            }
        }
    }
    Ok(())
}

/// A user message's (or a tool result's) content as blocks. Empty text, which
/// Anthropic refuses as a block, says nothing and is left out.
fn content_blocks(content: &Content, i: usize, drop: DropParams) -> Result<Vec<ContentBlock<'_>>, ApiError> {
    let parts = match content {
        Content::Text(text) if text.is_empty() => return Ok(Vec::new()),
        Content::Text(text) => return Ok(vec![ContentBlock::Text { text: Cow::Borrowed(text), cache_control: None }]),
        Content::Parts(parts) => parts,
    };
    let mut blocks = Vec::with_capacity(parts.len());
    for (j, part) in parts.iter().enumerate() {
        let block = match part {
            Part::Text { text, .. } if text.is_empty() => None,
            Part::Text { text, cache_control } => Some(ContentBlock::Text {
                text: Cow::Borrowed(text),
                cache_control: cache_control.as_ref().map(Cow::Borrowed),
            }),
            Part::ImageUrl { image_url, cache_control } => Some(image_block(image_url, cache_control.as_ref(), i, j)?),
            Part::Other(value) if part_type(part) == "file" => file_block(value, i, j, drop)?,
            Part::Refusal { .. } | Part::Other(_) => {
                drop.or_refuse("messages", || format!("`messages[{i}].content[{j}]`: a `{}` part", part_type(part)))?;
                None
            }
        };
        blocks.extend(block);
    }
    Ok(blocks)
}

/// An `image_url` part: a `data:` URL inline (a PDF as a document), an `http(s)`
/// URL for Anthropic to fetch.
fn image_block<'a>(
    image: &'a ImageUrl,
    mark: Option<&'a Value>,
    i: usize,
    j: usize,
) -> Result<ContentBlock<'a>, ApiError> {
    let cache_control = mark.map(Cow::Borrowed);
    if let Some(data) = image.data() {
        let (media_type, data) = (Cow::Borrowed(data.media_type), Cow::Borrowed(data.base64));
        return Ok(if data_is_pdf(&media_type) {
            ContentBlock::Document {
                source: DocumentSource::Base64 { media_type, data },
                title: None,
                context: None,
                cache_control,
            }
        } else {
            ContentBlock::Image { source: ImageSource::Base64 { media_type, data }, cache_control }
        });
    }
    if image.url.starts_with("https://") || image.url.starts_with("http://") {
        return Ok(ContentBlock::Image { source: ImageSource::Url { url: Cow::Borrowed(&image.url) }, cache_control });
    }
    Err(invalid(
        "messages",
        format!("`messages[{i}].content[{j}].image_url.url` must be a `data:<type>;base64,` URL or an http(s) URL"),
    ))
}

fn data_is_pdf(media_type: &str) -> bool {
    media_type == "application/pdf"
}

/// OpenAI's `file` part. A PDF given inline (`file_data`) is a document block;
/// OpenAI's file ids mean nothing to Anthropic, and other inline types have no
/// block to go in.
fn file_block(value: &Value, i: usize, j: usize, drop: DropParams) -> Result<Option<ContentBlock<'_>>, ApiError> {
    #[derive(Deserialize)]
    struct FilePart<'v> {
        #[serde(borrow)]
        file: File<'v>,
    }
    #[derive(Deserialize)]
    struct File<'v> {
        #[serde(borrow, default)]
        file_data: Option<&'v str>,
    }
    let data = FilePart::deserialize(value).ok().and_then(|part| part.file.file_data).and_then(|data| {
        let rest = data.strip_prefix("data:")?;
        let (media_type, base64) = rest.split_once(";base64,")?;
        data_is_pdf(media_type).then_some((media_type, base64))
    });
    match data {
        Some((media_type, data)) => Ok(Some(ContentBlock::Document {
            source: DocumentSource::Base64 { media_type: Cow::Borrowed(media_type), data: Cow::Borrowed(data) },
            title: None,
            context: None,
            cache_control: value.get("cache_control").map(Cow::Borrowed),
        })),
        None => {
            drop.or_refuse("messages", || {
                format!("`messages[{i}].content[{j}]`: a `file` part other than a PDF given as `file_data`")
            })?;
            Ok(None)
        }
    }
}

/// A part's `type`, for error messages.
fn part_type(part: &Part) -> &str {
    match part {
        Part::Text { .. } => "text",
        Part::ImageUrl { .. } => "image_url",
        Part::Refusal { .. } => "refusal",
        Part::Other(value) => value.get("type").and_then(Value::as_str).unwrap_or("untyped"),
    }
}

/// An assistant message: the thinking it was given back with (first, as Anthropic
/// requires), its text (a refusal is what it said, too), then its calls.
fn assistant_blocks(
    message: &openai::AssistantMessage,
    i: usize,
    drop: DropParams,
) -> Result<Vec<ContentBlock<'_>>, ApiError> {
    let mut blocks = Vec::new();
    for block in message.thinking_blocks.iter().flatten() {
        blocks.push(match block {
            ThinkingBlock::Thinking { thinking, signature } => ContentBlock::Thinking {
                thinking: Cow::Borrowed(thinking),
                signature: Cow::Borrowed(signature.as_deref().unwrap_or_default()),
            },
            ThinkingBlock::RedactedThinking { data } => ContentBlock::RedactedThinking { data: Cow::Borrowed(data) },
        });
    }
    match &message.content {
        None => {}
        Some(Content::Text(content)) => blocks.push(text_block(content, None)),
        Some(Content::Parts(parts)) => {
            for (j, part) in parts.iter().enumerate() {
                match part {
                    Part::Text { text: content, cache_control } => {
                        blocks.push(text_block(content, cache_control.as_ref()))
                    }
                    Part::Refusal { refusal } => blocks.push(text_block(refusal, None)),
                    Part::ImageUrl { .. } | Part::Other(_) => drop.or_refuse("messages", || {
                        format!("`messages[{i}].content[{j}]`: an assistant message's `{}` part", part_type(part))
                    })?,
                }
            }
        }
    }
    if let Some(refusal) = &message.refusal {
        blocks.push(text_block(refusal, None));
    }
    // Anthropic refuses empty text blocks; an assistant message with only tool
    // calls often comes with `content: ""`.
    blocks.retain(|block| !matches!(block, ContentBlock::Text { text, .. } if text.is_empty()));
    for (k, call) in message.tool_calls.iter().flatten().enumerate() {
        if call.kind != "function" {
            drop.or_refuse("messages", || {
                format!("`messages[{i}].tool_calls[{k}]`: a tool call of type `{}`", call.kind)
            })?;
            continue;
        }
        blocks.push(ContentBlock::ToolUse {
            id: Cow::Borrowed(&call.id),
            name: Cow::Borrowed(&call.function.name),
            input: Cow::Owned(arguments(&call.function.arguments, i, k)?),
            cache_control: None,
        });
    }
    Ok(blocks)
}

/// A call's `arguments` (JSON text) as the object Anthropic's `input` is. Empty
/// arguments, which some clients send for a call without any, are `{}`.
fn arguments(arguments: &str, i: usize, k: usize) -> Result<Value, ApiError> {
    if arguments.trim().is_empty() {
        return Ok(Value::Object(serde_json::Map::new()));
    }
    match serde_json::from_str::<Value>(arguments) {
        Ok(input @ Value::Object(_)) => Ok(input),
        Ok(_) => Err(invalid(
            "messages",
            format!("`messages[{i}].tool_calls[{k}].function.arguments` must be a JSON object, as Anthropic requires"),
        )),
        Err(e) => {
            Err(invalid("messages", format!("`messages[{i}].tool_calls[{k}].function.arguments` is not JSON: {e}")))
        }
    }
}

fn tools(tools: &[openai::Tool], drop: DropParams) -> Result<Vec<Tool<'_>>, ApiError> {
    let mut out = Vec::with_capacity(tools.len() + 1);
    for (t, tool) in tools.iter().enumerate() {
        if tool.kind != "function" {
            drop.or_refuse("tools", || format!("`tools[{t}]`: a tool of type `{}`", tool.kind))?;
            continue;
        }
        out.push(Tool {
            name: Cow::Borrowed(&tool.function.name),
            description: tool.function.description.as_deref().map(Cow::Borrowed),
            input_schema: match &tool.function.parameters {
                Some(schema) => Cow::Borrowed(schema),
                None => Cow::Owned(json!({"type": "object", "properties": {}})),
            },
            cache_control: tool.cache_control.as_ref().map(Cow::Borrowed),
        });
    }
    Ok(out)
}

/// The tool a JSON answer comes back through: its input schema is the wanted
/// schema (any object for `json_object`).
fn json_tool(format: Option<&ResponseFormat>) -> Option<Tool<'_>> {
    let any_object = || Cow::Owned(json!({"type": "object", "additionalProperties": true, "properties": {}}));
    let (input_schema, description) = match format? {
        ResponseFormat::Text => return None,
        ResponseFormat::JsonObject => (any_object(), None),
        ResponseFormat::JsonSchema { json_schema } => (
            json_schema.schema.as_ref().map_or_else(any_object, Cow::Borrowed),
            json_schema.description.as_deref().map(Cow::Borrowed),
        ),
    };
    Some(Tool { name: Cow::Borrowed(JSON_TOOL), description, input_schema, cache_control: None })
}

/// `tool_choice` (only sent with tools: there is nothing to choose among without).
/// JSON mode forces [`JSON_TOOL`], unless the model thinks (Anthropic refuses a
/// forced tool then). `parallel_tool_calls` is Anthropic's
/// `disable_parallel_tool_use`, inverted, on the choice (`auto` when none was given).
fn tool_choice(chat: &ChatRequest, forced_json: bool) -> Result<Option<ToolChoice<'_>>, ApiError> {
    let disable_parallel_tool_use = chat.parallel_tool_calls.map(|parallel| !parallel);
    let choice = if forced_json {
        Some(ToolChoice::Tool { name: Cow::Borrowed(JSON_TOOL), disable_parallel_tool_use })
    } else {
        match &chat.tool_choice {
            None if disable_parallel_tool_use.is_some() => Some(ToolChoice::Auto { disable_parallel_tool_use }),
            None => None,
            Some(openai::ToolChoice::Mode(mode)) => Some(match mode.as_str() {
                "auto" => ToolChoice::Auto { disable_parallel_tool_use },
                "required" => ToolChoice::Any { disable_parallel_tool_use },
                "none" => ToolChoice::None,
                other => {
                    return Err(invalid(
                        "tool_choice",
                        format!("`tool_choice` must be `none`, `auto`, `required` or a named function, got `{other}`"),
                    ));
                }
            }),
            Some(openai::ToolChoice::Function(named)) => {
                Some(ToolChoice::Tool { name: Cow::Borrowed(&named.function.name), disable_parallel_tool_use })
            }
        }
    };
    Ok(choice)
}

/// `stop` as `stop_sequences`. Anthropic refuses a sequence of only whitespace.
fn stop_sequences(stop: Option<&Stop>, drop: DropParams) -> Result<Option<Vec<Cow<'_, str>>>, ApiError> {
    let sequences: Vec<&str> = match stop {
        None => return Ok(None),
        Some(Stop::One(one)) => vec![one],
        Some(Stop::Many(many)) => many.iter().map(String::as_str).collect(),
    };
    let mut kept = Vec::with_capacity(sequences.len());
    for sequence in sequences {
        if sequence.trim().is_empty() {
            drop.or_refuse("stop", || format!("the stop sequence {sequence:?} (only whitespace)"))?;
        } else {
            kept.push(Cow::Borrowed(sequence));
        }
    }
    Ok((!kept.is_empty()).then_some(kept))
}

/// `user` (else LiteLLM's `metadata.user_id`) as `metadata.user_id`. Anthropic
/// refuses ids that are emails or phone numbers: like LiteLLM, those are not sent.
fn user_id(chat: &ChatRequest) -> Option<&str> {
    let metadata_user = || chat.extra.get("metadata")?.get("user_id")?.as_str();
    chat.user.as_deref().or_else(metadata_user).filter(|id| !id.is_empty() && !is_email(id) && !is_phone(id))
}

fn is_email(id: &str) -> bool {
    id.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && !id.contains(char::is_whitespace)
            && domain.rsplit_once('.').is_some_and(|(host, tld)| {
                !host.is_empty() && tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic())
            })
    })
}

/// LiteLLM's test: an optional `+`, then at least 7 digits, spaces, parentheses
/// or dashes.
fn is_phone(id: &str) -> bool {
    let rest = id.strip_prefix('+').unwrap_or(id);
    rest.chars().count() >= 7 && rest.chars().all(|c| c.is_ascii_digit() || c.is_whitespace() || "()-".contains(c))
}

#[cfg(test)]
mod tests;
