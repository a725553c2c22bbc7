//! A request's `tools` and `tool_choice`.
//!
//! Function tools are typed and checked (a name of `[a-zA-Z0-9_-]`, at most 64
//! long; parameters a JSON Schema object). OpenAI's built-in tools (web search,
//! file search, computer use, code interpreter, image generation, MCP, shell,
//! custom tools, ...) are recognised by their type and kept as that: only a
//! deployment of OpenAI's Responses API runs them. A `tool_choice` naming one of
//! them, or `allowed_tools`, is kept the same way.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::error::ApiError;

use super::fields::{invalid, is_name, typed, wrong_type};

/// One entry of `tools`.
#[derive(Debug, Clone, PartialEq)]
pub enum Tool {
    Function(FunctionTool),
    /// One of OpenAI's built-in tools, by its `type`.
    BuiltIn(String),
}

/// A function the model may call, as the Responses API writes it (flat, unlike
/// Chat Completions' `{"type": "function", "function": {...}}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionTool {
    #[serde(rename = "type")]
    pub kind: FunctionKind,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A JSON Schema object, or null.
    #[serde(default)]
    pub parameters: Option<Value>,
    #[serde(default)]
    pub strict: Option<bool>,
    /// Whether only OpenAI's tool search loads the function: with no tool search
    /// (a built-in tool, refused by the bridge) it changes nothing, so it is dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defer_loading: Option<bool>,
    /// LiteLLM's prompt caching marker, carried to the chat tool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<Value>,
}

/// The `type` of a function tool or of a `tool_choice` naming a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FunctionKind {
    Function,
}

/// `tool_choice`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ToolChoice {
    Mode(ToolChoiceMode),
    Function(NamedFunction),
    /// A built-in tool's type, `allowed_tools`, `mcp` or `custom`: what only
    /// OpenAI's service can honour, by its `type`.
    OpenAiOnly(OpenAiOnlyChoice),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolChoiceMode {
    None,
    Auto,
    Required,
}

impl ToolChoiceMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Auto => "auto",
            Self::Required => "required",
        }
    }
}

/// `{"type": "function", "name": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedFunction {
    #[serde(rename = "type")]
    pub kind: FunctionKind,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenAiOnlyChoice {
    #[serde(rename = "type")]
    pub kind: String,
}

/// The `type`s of OpenAI's built-in tools.
const BUILT_IN_TOOLS: &[&str] = &[
    "web_search",
    "web_search_2025_08_26",
    "web_search_preview",
    "web_search_preview_2025_03_11",
    "file_search",
    "computer",
    "computer_use_preview",
    "code_interpreter",
    "image_generation",
    "mcp",
    "local_shell",
    "shell",
    "apply_patch",
    "custom",
    "namespace",
    "tool_search",
];

/// The `type`s of a `tool_choice` object other than `function`.
const OPENAI_ONLY_CHOICES: &[&str] = &[
    "allowed_tools",
    "file_search",
    "web_search_preview",
    "web_search_preview_2025_03_11",
    "computer",
    "computer_use",
    "computer_use_preview",
    "image_generation",
    "code_interpreter",
    "mcp",
    "custom",
    "apply_patch",
    "shell",
];

#[derive(Deserialize)]
struct Peek<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
}

/// `tools`: an array of function and built-in tools.
pub fn parse_tools(raw: &RawValue) -> Result<Vec<Tool>, ApiError> {
    let tools: Vec<&RawValue> =
        serde_json::from_str(raw.get()).map_err(|_| wrong_type("tools", "tools", "an array of tools", raw))?;
    tools.iter().enumerate().map(|(i, tool)| parse_tool(&format!("tools[{i}]"), tool)).collect()
}

fn parse_tool(at: &str, raw: &RawValue) -> Result<Tool, ApiError> {
    let peek: Peek<'_> =
        serde_json::from_str(raw.get()).map_err(|_| wrong_type("tools", at, "an object with a string `type`", raw))?;
    match peek.kind.as_ref() {
        "function" => {
            let tool: FunctionTool = typed("tools", at, raw)?;
            if !is_name(&tool.name) {
                return Err(invalid(
                    "tools",
                    format!("`{at}.name` must match ^[a-zA-Z0-9_-]{{1,64}}$, got `{}`", tool.name),
                ));
            }
            if tool.parameters.as_ref().is_some_and(|p| !p.is_object()) {
                return Err(invalid("tools", format!("`{at}.parameters` must be a JSON Schema object")));
            }
            Ok(Tool::Function(tool))
        }
        kind if BUILT_IN_TOOLS.contains(&kind) => Ok(Tool::BuiltIn(kind.to_owned())),
        kind => Err(invalid(
            "tools",
            format!("`{at}.type`: unknown tool type `{kind}`; expected `function` or one of OpenAI's built-in tools"),
        )),
    }
}

/// `tool_choice`: a mode, a named function, or one of OpenAI's own choices.
pub fn parse_tool_choice(raw: &RawValue) -> Result<ToolChoice, ApiError> {
    const PARAM: &str = "tool_choice";
    if raw.get().starts_with('"') {
        return typed(PARAM, PARAM, raw).map(ToolChoice::Mode);
    }
    let peek: Peek<'_> = serde_json::from_str(raw.get())
        .map_err(|_| wrong_type(PARAM, PARAM, "`none`, `auto`, `required` or an object with a `type`", raw))?;
    match peek.kind.as_ref() {
        "function" => typed(PARAM, PARAM, raw).map(ToolChoice::Function),
        kind if OPENAI_ONLY_CHOICES.contains(&kind) => {
            Ok(ToolChoice::OpenAiOnly(OpenAiOnlyChoice { kind: kind.to_owned() }))
        }
        kind => Err(invalid(PARAM, format!("`tool_choice.type`: unknown type `{kind}`"))),
    }
}
