//! A `POST /v1/responses` body, parsed once into a [`Request`] and validated as
//! strictly as OpenAI validates it: an unknown parameter, a value of the wrong
//! type or out of range, is a 400 naming the parameter.
//!
//! What the Responses API accepts falls in four groups:
//! - **carried** to Chat Completions: `model`, `input`, `instructions`, `tools`
//!   (functions), `tool_choice`, `parallel_tool_calls`, `max_output_tokens`,
//!   `temperature`, `top_p`, `text` (`format`, `verbosity`), `stream`, `user`,
//!   `reasoning.effort`, and the parameters Chat Completions has under the same
//!   name and meaning (`prompt_cache_key`, `prompt_cache_retention`,
//!   `safety_identifier`, `service_tier`), kept in [`Request::extra`] as written;
//! - **the gateway's**: `store`, `previous_response_id`, `metadata` (stored and
//!   echoed, never sent to a deployment), and its own keys
//!   ([`GATEWAY_ONLY_KEYS`], `drop_params`), passed in `extra` unchanged;
//! - **dropped**, because through Chat Completions they change nothing of the
//!   answer: `truncation` (an input too long for the model is the provider's
//!   error either way), `max_tool_calls` (it counts built-in tools' calls only),
//!   `reasoning.summary` (no provider writes OpenAI's summaries; the reasoning
//!   comes as the reasoning item's text), `stream_options.include_obfuscation`
//!   (the gateway never pads events), and the `include` values that concern
//!   built-in tools and input images;
//! - **OpenAI's service only**: `background`, `conversation`, `prompt`,
//!   `context_management`, `top_logprobs` above 0, `include` of
//!   `message.output_text.logprobs`, built-in tools, and input items and parts that
//!   name OpenAI's stored objects. They parse (a deployment of OpenAI's Responses
//!   API may take the request as it is), and are listed in
//!   [`Request::unsupported`] or typed as such for the bridge to refuse.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::request::GATEWAY_ONLY_KEYS;

use super::fields::{invalid, is_name, is_null, typed, wrong_type};
use super::input::{self, InputItem};
use super::tools::{self, Tool, ToolChoice};

/// A validated Responses request.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The model (or model group) the client asked for.
    pub model: String,
    /// The input items; a string input is one user message.
    pub input: Vec<InputItem>,
    pub instructions: Option<String>,
    pub tools: Vec<Tool>,
    pub tool_choice: Option<ToolChoice>,
    pub parallel_tool_calls: Option<bool>,
    pub max_output_tokens: Option<u64>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub text: Option<TextConfig>,
    pub stream: bool,
    /// Whether to keep the response for `previous_response_id` and
    /// `GET /v1/responses/{id}` (OpenAI's default: yes).
    pub store: bool,
    pub previous_response_id: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub user: Option<String>,
    pub reasoning: Option<ReasoningConfig>,
    pub truncation: Option<Truncation>,
    pub include: Vec<Includable>,
    /// The parameters present that only OpenAI's service can honour, in the order
    /// of their names.
    pub unsupported: Vec<Unsupported>,
    /// Chat Completions' parameters of the same name, and the gateway's own keys,
    /// as the client wrote them.
    pub extra: Map<String, Value>,
}

/// A parameter only OpenAI's service can honour, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsupported {
    pub param: &'static str,
    pub why: &'static str,
}

/// `text`: the answer's format and verbosity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<TextFormat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verbosity: Option<Verbosity>,
}

/// `text.format`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum TextFormat {
    Text,
    JsonObject,
    JsonSchema {
        name: String,
        schema: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        strict: Option<bool>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verbosity {
    Low,
    Medium,
    High,
}

impl Verbosity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
        }
    }
}

/// `reasoning`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasoningConfig {
    #[serde(default)]
    pub effort: Option<Effort>,
    #[serde(default)]
    pub summary: Option<Summary>,
    /// The older name of `summary`.
    #[serde(default, skip_serializing)]
    pub generate_summary: Option<Summary>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Effort {
    None,
    Minimal,
    Low,
    Medium,
    High,
    Xhigh,
}

impl Effort {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Minimal => "minimal",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Xhigh => "xhigh",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Summary {
    Auto,
    Concise,
    Detailed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Truncation {
    Auto,
    #[default]
    Disabled,
}

/// An `include` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Includable {
    #[serde(rename = "reasoning.encrypted_content")]
    ReasoningEncryptedContent,
    #[serde(rename = "message.output_text.logprobs")]
    OutputTextLogprobs,
    #[serde(rename = "message.input_image.image_url")]
    InputImageUrl,
    #[serde(rename = "file_search_call.results")]
    FileSearchResults,
    #[serde(rename = "web_search_call.results")]
    WebSearchResults,
    #[serde(rename = "web_search_call.action.sources")]
    WebSearchSources,
    #[serde(rename = "computer_call_output.output.image_url")]
    ComputerCallImageUrl,
    #[serde(rename = "code_interpreter_call.outputs")]
    CodeInterpreterOutputs,
}

/// Parameters that Chat Completions has under the same name and meaning: kept in
/// `extra` as written, for the deployment's translator to carry or refuse as it
/// does for a chat client.
const CHAT_PARAMS: &[&str] = &["prompt_cache_key", "prompt_cache_retention", "safety_identifier", "service_tier"];

/// OpenAI's service's own features, and why the bridge cannot carry them.
const BACKGROUND: Unsupported =
    Unsupported { param: "background", why: "background responses run only on OpenAI's service" };
const CONVERSATION: Unsupported = Unsupported {
    param: "conversation",
    why: "conversations are OpenAI's stored objects; use `previous_response_id` to continue a response",
};
const PROMPT: Unsupported = Unsupported { param: "prompt", why: "prompt templates are OpenAI's stored objects" };
const CONTEXT_MANAGEMENT: Unsupported =
    Unsupported { param: "context_management", why: "compaction runs only on OpenAI's service" };
const TOP_LOGPROBS: Unsupported =
    Unsupported { param: "top_logprobs", why: "log probabilities are not carried through Chat Completions" };
const LOGPROBS: Unsupported =
    Unsupported { param: "include", why: "log probabilities are not carried through Chat Completions" };

/// The most `metadata` pairs, and the longest key and value (OpenAI's limits).
const METADATA_PAIRS: usize = 16;
const METADATA_KEY_CHARS: usize = 64;
const METADATA_VALUE_CHARS: usize = 512;

/// The smallest `max_output_tokens` OpenAI takes.
const MIN_OUTPUT_TOKENS: u64 = 16;

/// Parses and validates a `POST /v1/responses` body.
pub fn parse(body: &[u8]) -> Result<Request, ApiError> {
    let fields: HashMap<String, &RawValue> = serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => invalid("body", "the request body must be a JSON object".into()),
        _ => ApiError::MalformedJson(e.to_string()),
    })?;
    // Body order is lost in the map; sorted keys make `unsupported` and `extra`
    // the same whatever order the client wrote.
    let mut fields: Vec<(String, &RawValue)> = fields.into_iter().collect();
    fields.sort_unstable_by(|a, b| a.0.cmp(&b.0));

    let mut request = Request {
        model: String::new(),
        input: Vec::new(),
        instructions: None,
        tools: Vec::new(),
        tool_choice: None,
        parallel_tool_calls: None,
        max_output_tokens: None,
        temperature: None,
        top_p: None,
        text: None,
        stream: false,
        store: true,
        previous_response_id: None,
        metadata: BTreeMap::new(),
        user: None,
        reasoning: None,
        truncation: None,
        include: Vec::new(),
        unsupported: Vec::new(),
        extra: Map::new(),
    };
    let mut model = None;
    let mut stream_options = false;
    for (key, raw) in fields {
        // A null is the parameter left out, as OpenAI reads it.
        if is_null(raw) {
            continue;
        }
        match key.as_str() {
            "model" => model = Some(typed::<String>("model", "model", raw)?),
            "input" => request.input = input::parse(raw)?,
            "instructions" => request.instructions = Some(typed("instructions", "instructions", raw)?),
            "tools" => request.tools = tools::parse_tools(raw)?,
            "tool_choice" => request.tool_choice = Some(tools::parse_tool_choice(raw)?),
            "parallel_tool_calls" => request.parallel_tool_calls = Some(boolean("parallel_tool_calls", raw)?),
            "max_output_tokens" => request.max_output_tokens = Some(max_output_tokens(raw)?),
            "temperature" => request.temperature = Some(number_in("temperature", raw, 0.0, 2.0)?),
            "top_p" => request.top_p = Some(number_in("top_p", raw, 0.0, 1.0)?),
            "text" => request.text = Some(text(raw)?),
            "stream" => request.stream = boolean("stream", raw)?,
            "store" => request.store = boolean("store", raw)?,
            "previous_response_id" => {
                request.previous_response_id = Some(typed("previous_response_id", "previous_response_id", raw)?);
            }
            "metadata" => request.metadata = metadata(raw)?,
            "user" => request.user = Some(typed("user", "user", raw)?),
            "reasoning" => request.reasoning = Some(typed("reasoning", "reasoning", raw)?),
            "truncation" => request.truncation = Some(typed("truncation", "truncation", raw)?),
            "include" => {
                request.include = typed("include", "include", raw)?;
                if request.include.contains(&Includable::OutputTextLogprobs) {
                    request.unsupported.push(LOGPROBS);
                }
            }
            "stream_options" => {
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields)]
                struct StreamOptions {
                    #[serde(rename = "include_obfuscation", default)]
                    _include_obfuscation: Option<bool>,
                }
                typed::<StreamOptions>("stream_options", "stream_options", raw)?;
                stream_options = true;
            }
            "max_tool_calls" => {
                typed::<u64>("max_tool_calls", "max_tool_calls", raw)?;
            }
            "top_logprobs" => match typed::<u64>("top_logprobs", "top_logprobs", raw)? {
                0 => {}
                1..=20 => request.unsupported.push(TOP_LOGPROBS),
                n => return Err(invalid("top_logprobs", format!("`top_logprobs` must be from 0 to 20, got {n}"))),
            },
            "background" => {
                if boolean("background", raw)? {
                    request.unsupported.push(BACKGROUND);
                }
            }
            "conversation" => request.unsupported.push(CONVERSATION),
            "prompt" => request.unsupported.push(PROMPT),
            "context_management" => request.unsupported.push(CONTEXT_MANAGEMENT),
            name if CHAT_PARAMS.contains(&name) => {
                typed::<String>(static_name(name), name, raw)?;
                request.extra.insert(key, typed("body", "body", raw)?);
            }
            name if GATEWAY_ONLY_KEYS.contains(&name) || name == "drop_params" => {
                request.extra.insert(key, typed("body", "body", raw)?);
            }
            name => {
                return Err(invalid("body", format!("unknown parameter `{name}`")));
            }
        }
    }
    request.model = match model {
        None => return Err(invalid("model", "missing required parameter `model`".into())),
        Some(model) if model.trim().is_empty() => return Err(invalid("model", "`model` must not be empty".into())),
        Some(model) => model,
    };
    if stream_options && !request.stream {
        return Err(invalid("stream_options", "`stream_options` is only allowed when `stream` is true".into()));
    }
    Ok(request)
}

/// The type of the first of OpenAI's built-in tools the request offers, if any:
/// only a deployment of OpenAI's Responses API can run them.
pub fn builtin_tool(request: &Request) -> Option<&str> {
    request.tools.iter().find_map(|tool| match tool {
        Tool::BuiltIn(kind) => Some(kind.as_str()),
        Tool::Function(_) => None,
    })
}

impl Request {
    /// Whether the answer's reasoning items carry `encrypted_content` (asked with
    /// `include: ["reasoning.encrypted_content"]`).
    pub fn include_encrypted_reasoning(&self) -> bool {
        self.include.contains(&Includable::ReasoningEncryptedContent)
    }
}

/// A `CHAT_PARAMS` name as the `'static` an error's param needs.
fn static_name(name: &str) -> &'static str {
    CHAT_PARAMS.iter().find(|param| **param == name).copied().unwrap_or("body")
}

fn boolean(param: &'static str, raw: &RawValue) -> Result<bool, ApiError> {
    serde_json::from_str(raw.get()).map_err(|_| wrong_type(param, param, "a boolean", raw))
}

fn number_in(param: &'static str, raw: &RawValue, min: f64, max: f64) -> Result<f64, ApiError> {
    match serde_json::from_str::<f64>(raw.get()) {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        Ok(_) => Err(invalid(param, format!("`{param}` must be from {min} to {max}, got {}", raw.get()))),
        Err(_) => Err(wrong_type(param, param, "a number", raw)),
    }
}

fn max_output_tokens(raw: &RawValue) -> Result<u64, ApiError> {
    const PARAM: &str = "max_output_tokens";
    match serde_json::from_str::<u64>(raw.get()) {
        Ok(n) if n >= MIN_OUTPUT_TOKENS => Ok(n),
        Ok(n) => Err(invalid(PARAM, format!("`{PARAM}` must be at least {MIN_OUTPUT_TOKENS}, got {n}"))),
        Err(_) => Err(wrong_type(PARAM, PARAM, "an integer", raw)),
    }
}

fn text(raw: &RawValue) -> Result<TextConfig, ApiError> {
    let text: TextConfig = typed("text", "text", raw)?;
    if let Some(TextFormat::JsonSchema { name, schema, .. }) = &text.format {
        if !is_name(name) {
            return Err(invalid(
                "text",
                format!("`text.format.name` must match ^[a-zA-Z0-9_-]{{1,64}}$, got `{name}`"),
            ));
        }
        if !schema.is_object() {
            return Err(invalid("text", "`text.format.schema` must be a JSON Schema object".into()));
        }
    }
    Ok(text)
}

fn metadata(raw: &RawValue) -> Result<BTreeMap<String, String>, ApiError> {
    const PARAM: &str = "metadata";
    let metadata: BTreeMap<String, String> =
        serde_json::from_str(raw.get()).map_err(|_| wrong_type(PARAM, PARAM, "an object of string values", raw))?;
    if metadata.len() > METADATA_PAIRS {
        return Err(invalid(PARAM, format!("`metadata` may hold at most {METADATA_PAIRS} pairs")));
    }
    for (key, value) in &metadata {
        if key.chars().count() > METADATA_KEY_CHARS {
            return Err(invalid(PARAM, format!("`metadata` keys may be at most {METADATA_KEY_CHARS} characters")));
        }
        if value.chars().count() > METADATA_VALUE_CHARS {
            return Err(invalid(PARAM, format!("`metadata.{key}` may be at most {METADATA_VALUE_CHARS} characters")));
        }
    }
    Ok(metadata)
}

#[cfg(test)]
mod tests;
