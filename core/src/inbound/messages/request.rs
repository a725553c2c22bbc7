//! The body of `POST /v1/messages` (and of `count_tokens`), checked as strictly as
//! Anthropic's API checks it and read into a [`Request`].
//!
//! The body is read once into a JSON tree and each field is taken out of it, checked
//! and moved into the wire types of the provider side: strictness here means every
//! field's presence, type and place is checked and named in Anthropic's words
//! (`temperature: Input should be less than or equal to 1`), which a derived
//! deserializer cannot say. Fields Anthropic does not know are refused as it refuses
//! them (`<field>: Extra inputs are not permitted`), except the gateway's own keys
//! ([`GATEWAY_ONLY_KEYS`]: `priority`, `fallbacks`, `num_retries`, ...), which are
//! kept for the router.
//!
//! Fields of Anthropic's beta features that its clients send (`context_management`,
//! `output_format`, `mcp_servers`, `speed`) are taken too, as Anthropic takes them
//! with the client's `anthropic-beta` header (which the gateway cannot see here).
//! Fields that only tune how Anthropic serves the answer are checked and not kept:
//! `service_tier` and `speed` (capacity and pace), a top-level `cache_control` and
//! a tool's `defer_loading` or `eager_input_streaming` (what Anthropic caches,
//! loads and streams early), a tool's `input_examples` (guidance the tool works
//! without), and `context_management` (Anthropic trimming old tool results and
//! thinking from the context: another model is given the whole conversation the
//! client sent). What changes the answer and only Anthropic can do is noted
//! ([`Request::anthropic_only`]).
//!
//! Decided where the reference is silent or changed: `max_tokens` may be 0 (the
//! SDK documents it: pre-warming the prompt cache, which only Anthropic does); the
//! first message may be an assistant's (the reference no longer asks for a user
//! turn first, and consecutive turns of one role are merged); messages with the
//! role `system` are refused (the SDK's type lists it, but the block it came with
//! was withdrawn as unsupported).

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::content::{self, TOOL_NAME_MAX};
use super::validate::{
    Fields, Path, boolean, cache_control, identifier, integer, list, literal, no_extra, nullable, number, object,
    required, string, tag,
};
use super::{AnthropicOnly, MessagesError};
use crate::provider::anthropic::wire::{Message, System, Thinking, Tool, ToolChoice};
use crate::request::GATEWAY_ONLY_KEYS;

/// The smallest thinking budget Anthropic takes.
const MIN_THINKING_BUDGET: u64 = 1024;

/// A Messages request, checked: what the mapping to chat reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The model (or model group) the client asked for.
    pub model: String,
    /// 0 for `count_tokens`, which has none.
    pub max_tokens: u64,
    pub messages: Vec<Message<'static>>,
    pub system: Option<System<'static>>,
    /// `metadata.user_id`.
    pub user_id: Option<String>,
    pub stop_sequences: Vec<String>,
    pub stream: bool,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub top_k: Option<u64>,
    /// The client tools (custom tools with an input schema); server tools are
    /// Anthropic's own and noted instead.
    pub tools: Vec<ClientTool>,
    pub tool_choice: Option<ToolChoice<'static>>,
    pub thinking: Option<Thinking>,
    /// `output_config.effort`.
    pub effort: Option<Effort>,
    /// The JSON schema the answer must follow (`output_config.format`, or the beta
    /// `output_format`).
    pub output_schema: Option<Value>,
    /// The gateway's own keys (`priority`, `fallbacks`, `timeout`, ...) as the client
    /// wrote them.
    pub gateway: Map<String, Value>,
    /// The first thing in the request only an Anthropic deployment can serve, with
    /// its path (`tools.1: the server tool `web_search_20250305``).
    pub anthropic_only: Option<String>,
}

/// A client tool: Anthropic's definition, and whether its calls must follow the
/// schema exactly (`strict`).
#[derive(Debug, Clone, PartialEq)]
pub struct ClientTool {
    pub tool: Tool<'static>,
    pub strict: Option<bool>,
}

/// `output_config.effort`: how much the model may spend on the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effort {
    Low,
    Medium,
    High,
    XHigh,
    Max,
}

const EFFORTS: &[&str] = &["low", "medium", "high", "xhigh", "max"];

impl Effort {
    fn parse(name: &str) -> Self {
        match name {
            "low" => Self::Low,
            "medium" => Self::Medium,
            "high" => Self::High,
            "xhigh" => Self::XHigh,
            _ => Self::Max,
        }
    }
}

/// Which endpoint a body is for: they take the same fields but for the answer's
/// (`count_tokens` has no `max_tokens`, `stream`, sampling or `metadata`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Endpoint {
    Create,
    CountTokens,
}

/// Parses and checks the body of `POST /v1/messages`.
pub fn parse(body: &[u8]) -> Result<Request, MessagesError> {
    parse_for(body, Endpoint::Create)
}

pub(super) fn parse_for(body: &[u8], endpoint: Endpoint) -> Result<Request, MessagesError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| MessagesError::Invalid(format!("The request body is not valid JSON: {e}")))?;
    let root = Path::Root;
    let mut fields = object(value, root)?;
    let mut gateway = Map::new();
    for key in GATEWAY_ONLY_KEYS {
        if let Some(value) = fields.remove(*key) {
            gateway.insert((*key).to_owned(), value);
        }
    }
    let mut only = AnthropicOnly::default();
    let create = endpoint == Endpoint::Create;

    let model = string(required(&mut fields, "model", root)?, root.key("model"))?;
    if model.is_empty() {
        return Err(root.key("model").error("String should have at least 1 character"));
    }
    // Only whitespace names no model either: refused as the chat and Responses
    // endpoints refuse it, rather than let through to a chat body they would not take.
    if model.trim().is_empty() {
        return Err(root.key("model").error("String should have at least 1 character other than whitespace"));
    }
    let max_tokens = match create {
        true => integer(required(&mut fields, "max_tokens", root)?, root.key("max_tokens"))?,
        false => 0,
    };
    if create && max_tokens == 0 {
        only.note(root.key("max_tokens"), "0 (pre-warming Anthropic's prompt cache without an answer)");
    }
    let messages = content::messages(required(&mut fields, "messages", root)?, &mut only)?;
    let system = fields.remove("system").map(|value| content::system(value, &mut only)).transpose()?;
    let tools = fields.remove("tools").map(|value| tools(value, &mut only)).transpose()?.unwrap_or_default();
    let tool_choice = fields.remove("tool_choice").map(tool_choice).transpose()?;
    let thinking = fields.remove("thinking").map(thinking).transpose()?;
    let (effort, mut output_schema) = match fields.remove("output_config") {
        Some(value) => output_config(value)?,
        None => (None, None),
    };
    if let Some(format) = nullable(&mut fields, "output_format") {
        let schema = json_format(format, root.key("output_format"))?;
        output_schema.get_or_insert(schema);
    }
    // Checked, and not kept: they tune how Anthropic serves the answer, not what it says.
    cache_control(&mut fields, root)?;
    if let Some(edits) = nullable(&mut fields, "context_management") {
        object(edits, root.key("context_management"))?;
    }
    if let Some(speed) = nullable(&mut fields, "speed") {
        literal(&speed, root.key("speed"), &["standard", "fast"])?;
    }
    // What only Anthropic has.
    if let Some(servers) = fields.remove("mcp_servers")
        && !list(servers, root.key("mcp_servers"))?.is_empty()
    {
        only.note(root.key("mcp_servers"), "MCP servers that Anthropic connects to");
    }

    let mut request = Request {
        model,
        max_tokens,
        messages,
        system,
        user_id: None,
        stop_sequences: Vec::new(),
        stream: false,
        temperature: None,
        top_p: None,
        top_k: None,
        tools,
        tool_choice,
        thinking,
        effort,
        output_schema,
        gateway,
        anthropic_only: None,
    };
    if create {
        answer_fields(&mut fields, &mut request, &mut only)?;
    }
    no_extra(&fields, root)?;
    if let Some(budget) = request.thinking.as_ref().and_then(Thinking::budget_tokens)
        && create
        && budget >= request.max_tokens
    {
        return Err(root.error("`max_tokens` must be greater than `thinking.budget_tokens`"));
    }
    request.anthropic_only = only.0;
    Ok(request)
}

/// The fields of `POST /v1/messages` that `count_tokens` does not take: the
/// answer's length, stop, sampling and serving.
fn answer_fields(fields: &mut Fields, request: &mut Request, only: &mut AnthropicOnly) -> Result<(), MessagesError> {
    let root = Path::Root;
    if let Some(value) = fields.remove("stream") {
        request.stream = boolean(value, root.key("stream"))?;
    }
    if let Some(value) = fields.remove("stop_sequences") {
        let path = root.key("stop_sequences");
        for (i, sequence) in list(value, path)?.into_iter().enumerate() {
            let sequence = string(sequence, path.index(i))?;
            if sequence.trim().is_empty() {
                return Err(path.index(i).error("stop sequences must contain non-whitespace characters"));
            }
            request.stop_sequences.push(sequence);
        }
    }
    request.temperature =
        fields.remove("temperature").map(|v| number(v, root.key("temperature"), 0.0, 1.0)).transpose()?;
    request.top_p = fields.remove("top_p").map(|v| number(v, root.key("top_p"), 0.0, 1.0)).transpose()?;
    request.top_k = fields.remove("top_k").map(|v| integer(v, root.key("top_k"))).transpose()?;
    if let Some(value) = fields.remove("metadata") {
        let path = root.key("metadata");
        let mut metadata = object(value, path)?;
        request.user_id = nullable(&mut metadata, "user_id").map(|id| string(id, path.key("user_id"))).transpose()?;
        no_extra(&metadata, path)?;
    }
    // Anthropic's priority capacity: no other provider's answer depends on it.
    if let Some(tier) = fields.remove("service_tier") {
        literal(&tier, root.key("service_tier"), &["auto", "standard_only"])?;
    }
    if let Some(geo) = nullable(fields, "inference_geo") {
        string(geo, root.key("inference_geo"))?;
        only.note(root.key("inference_geo"), "the region Anthropic runs the model in");
    }
    if let Some(container) = nullable(fields, "container") {
        if !container.is_string() {
            object(container, root.key("container"))?;
        }
        only.note(root.key("container"), "a container of Anthropic's code execution");
    }
    Ok(())
}

/// `tools`: client tools, checked and kept; server tools (a versioned `type`, such
/// as `web_search_20250305`, or `mcp_toolset`) noted. Names are unique.
fn tools(value: Value, only: &mut AnthropicOnly) -> Result<Vec<ClientTool>, MessagesError> {
    let root = Path::Root;
    let path = root.key("tools");
    let items = list(value, path)?;
    let mut names: Vec<String> = Vec::with_capacity(items.len());
    let mut tools = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let at = path.index(i);
        let mut fields = object(item, at)?;
        let custom = match fields.remove("type") {
            None | Some(Value::Null) => true,
            Some(Value::String(kind)) if kind == "custom" => true,
            Some(Value::String(kind)) if is_server_tool(&kind) => {
                only.note(at, format_args!("the server tool `{kind}`"));
                if let Some(name) = fields.get("name").and_then(Value::as_str) {
                    names.push(name.to_owned());
                }
                false
            }
            Some(other) => {
                let shown = other.as_str().map_or_else(|| other.to_string(), str::to_owned);
                return Err(at.error(format_args!(
                    "Input tag '{shown}' found using 'type' does not match any of the expected tags: 'custom', or a \
                     server tool's versioned type such as 'web_search_20250305'"
                )));
            }
        };
        if custom {
            let tool = custom_tool(fields, at.key("custom"), only)?;
            names.push(tool.tool.name.to_string());
            tools.push(tool);
        }
    }
    let mut sorted: Vec<&String> = names.iter().collect();
    sorted.sort_unstable();
    if sorted.windows(2).any(|pair| pair[0] == pair[1]) {
        return Err(path.error("Tool names must be unique."));
    }
    Ok(tools)
}

/// A server tool's `type`: a name and an 8-digit version date, or an MCP toolset.
fn is_server_tool(kind: &str) -> bool {
    if kind == "mcp_toolset" {
        return true;
    }
    kind.rsplit_once('_').is_some_and(|(name, date)| {
        !name.is_empty()
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            && date.len() == 8
            && date.bytes().all(|b| b.is_ascii_digit())
    })
}

fn custom_tool(mut fields: Fields, at: Path<'_>, only: &mut AnthropicOnly) -> Result<ClientTool, MessagesError> {
    let name = identifier(required(&mut fields, "name", at)?, at.key("name"), Some(TOOL_NAME_MAX))?;
    let description = fields.remove("description").map(|v| string(v, at.key("description"))).transpose()?;
    let schema_path = at.key("input_schema");
    let mut schema = object(required(&mut fields, "input_schema", at)?, schema_path)?;
    let kind = required(&mut schema, "type", schema_path)?;
    literal(&kind, schema_path.key("type"), &["object"])?;
    schema.insert("type".to_owned(), kind);
    let cache_control = cache_control(&mut fields, at)?;
    let strict = fields.remove("strict").map(|v| boolean(v, at.key("strict"))).transpose()?;
    // Offered directly rather than found by Anthropic's tool search: the model can
    // call it either way.
    if let Some(defer) = fields.remove("defer_loading") {
        boolean(defer, at.key("defer_loading"))?;
    }
    // How Anthropic streams the input: the calls are the same.
    if let Some(eager) = nullable(&mut fields, "eager_input_streaming") {
        boolean(eager, at.key("eager_input_streaming"))?;
    }
    // Examples of calls guide the model; the tool is the same without them.
    if let Some(examples) = fields.remove("input_examples") {
        let path = at.key("input_examples");
        for (k, example) in list(examples, path)?.into_iter().enumerate() {
            object(example, path.index(k))?;
        }
    }
    if let Some(callers) = fields.remove("allowed_callers") {
        let path = at.key("allowed_callers");
        let callers = list(callers, path)?;
        let allowed = ["direct", "code_execution_20250825", "code_execution_20260120", "code_execution_20260521"];
        let mut direct = false;
        for (k, caller) in callers.iter().enumerate() {
            direct |= literal(caller, path.index(k), &allowed)? == "direct";
        }
        if !direct {
            only.note(path, "a tool only Anthropic's code execution may call");
        }
    }
    no_extra(&fields, at)?;
    Ok(ClientTool {
        tool: Tool {
            name: Cow::Owned(name),
            description: description.map(Cow::Owned),
            input_schema: Cow::Owned(Value::Object(schema)),
            cache_control: cache_control.map(Cow::Owned),
        },
        strict,
    })
}

fn tool_choice(value: Value) -> Result<ToolChoice<'static>, MessagesError> {
    let root = Path::Root;
    let path = root.key("tool_choice");
    let mut fields = object(value, path)?;
    let kind = tag(&mut fields, path, &["auto", "any", "tool", "none"])?;
    let at = path.key(kind);
    let name = match kind {
        "tool" => Some(string(required(&mut fields, "name", at)?, at.key("name"))?),
        _ => None,
    };
    let disable_parallel_tool_use = match kind {
        "none" => None,
        _ => fields
            .remove("disable_parallel_tool_use")
            .map(|v| boolean(v, at.key("disable_parallel_tool_use")))
            .transpose()?,
    };
    no_extra(&fields, at)?;
    Ok(match (kind, name) {
        ("auto", _) => ToolChoice::Auto { disable_parallel_tool_use },
        ("any", _) => ToolChoice::Any { disable_parallel_tool_use },
        (_, Some(name)) => ToolChoice::Tool { name: Cow::Owned(name), disable_parallel_tool_use },
        _ => ToolChoice::None,
    })
}

fn thinking(value: Value) -> Result<Thinking, MessagesError> {
    let root = Path::Root;
    let path = root.key("thinking");
    let mut fields = object(value, path)?;
    let kind = tag(&mut fields, path, &["enabled", "disabled", "adaptive"])?;
    let at = path.key(kind);
    let budget = match kind {
        "enabled" => {
            let budget = integer(required(&mut fields, "budget_tokens", at)?, at.key("budget_tokens"))?;
            if budget < MIN_THINKING_BUDGET {
                return Err(at
                    .key("budget_tokens")
                    .error(format_args!("Input should be greater than or equal to {MIN_THINKING_BUDGET}")));
            }
            Some(budget)
        }
        _ => None,
    };
    let display = match kind {
        "disabled" => None,
        _ => nullable(&mut fields, "display")
            .map(|v| literal(&v, at.key("display"), &["summarized", "omitted"]).map(str::to_owned))
            .transpose()?,
    };
    no_extra(&fields, at)?;
    Ok(match (kind, budget) {
        (_, Some(budget_tokens)) => Thinking::Enabled { budget_tokens, display },
        ("adaptive", None) => Thinking::Adaptive { display },
        _ => Thinking::Disabled,
    })
}

/// `output_config`: the effort, and the JSON schema of the answer.
fn output_config(value: Value) -> Result<(Option<Effort>, Option<Value>), MessagesError> {
    let root = Path::Root;
    let path = root.key("output_config");
    let mut fields = object(value, path)?;
    let effort = nullable(&mut fields, "effort")
        .map(|v| literal(&v, path.key("effort"), EFFORTS).map(Effort::parse))
        .transpose()?;
    let schema = nullable(&mut fields, "format").map(|v| json_format(v, path.key("format"))).transpose()?;
    no_extra(&fields, path)?;
    Ok((effort, schema))
}

/// `{"type": "json_schema", "schema": {...}}`: the schema.
fn json_format(value: Value, path: Path<'_>) -> Result<Value, MessagesError> {
    let mut fields = object(value, path)?;
    literal(&required(&mut fields, "type", path)?, path.key("type"), &["json_schema"])?;
    let schema = object(required(&mut fields, "schema", path)?, path.key("schema"))?;
    no_extra(&fields, path)?;
    Ok(Value::Object(schema))
}

#[cfg(test)]
mod tests;
