use super::*;
use crate::provider::anthropic::wire::{ContentBlock, MessageContent, Role};
use serde_json::json;

/// A minimal valid body with `changes` applied (`"<absent>"` removes the field).
fn body(changes: Value) -> Vec<u8> {
    let mut base = json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": "Hello"}]
    });
    for (key, value) in changes.as_object().unwrap() {
        match value {
            Value::String(absent) if absent == "<absent>" => base.as_object_mut().unwrap().remove(key),
            _ => base.as_object_mut().unwrap().insert(key.clone(), value.clone()),
        };
    }
    serde_json::to_vec(&base).unwrap()
}

fn parsed(changes: Value) -> Request {
    parse(&body(changes)).unwrap()
}

fn refused(changes: Value) -> String {
    match parse(&body(changes)) {
        Err(MessagesError::Invalid(message)) => message,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn anthropic_only(changes: Value) -> String {
    parsed(changes).anthropic_only.expect("something only Anthropic serves")
}

#[test]
fn a_full_request_reads_into_its_fields() {
    let request = parsed(json!({
        "max_tokens": 4096,
        "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Weather?"}]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "Use the tool.", "signature": "EqQB"},
                {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}}
            ]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01", "content": "Sunny"}]}
        ],
        "stop_sequences": ["END"],
        "stream": true,
        "temperature": 1,
        "top_p": 0.9,
        "top_k": 40,
        "metadata": {"user_id": "u-1"},
        "tools": [{"name": "get_weather", "description": "Weather.", "strict": true,
                   "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "output_config": {"effort": "high"},
        "service_tier": "auto",
        "priority": 2,
        "fallbacks": ["gpt-4o"]
    }));
    assert_eq!(request.model, "claude-sonnet-4-5");
    assert_eq!(request.max_tokens, 4096);
    assert_eq!(request.messages.len(), 3);
    assert_eq!(request.messages[1].role, Role::Assistant);
    assert!(matches!(&request.messages[1].content, MessageContent::Blocks(blocks)
        if matches!(&blocks[1], ContentBlock::ToolUse { id, .. } if id == "toolu_01")));
    assert!(matches!(&request.system, Some(System::Blocks(blocks)) if blocks.len() == 1));
    assert_eq!(request.user_id.as_deref(), Some("u-1"));
    assert_eq!(request.stop_sequences, ["END"]);
    assert!(request.stream);
    assert_eq!((request.temperature, request.top_p, request.top_k), (Some(1.0), Some(0.9), Some(40)));
    assert_eq!(request.tools.len(), 1);
    assert_eq!(request.tools[0].strict, Some(true));
    assert_eq!(request.tool_choice, Some(ToolChoice::Any { disable_parallel_tool_use: Some(true) }));
    assert_eq!(request.thinking, Some(Thinking::Enabled { budget_tokens: 1024, display: None }));
    assert_eq!(request.effort, Some(Effort::High));
    assert_eq!(request.gateway, json!({"priority": 2, "fallbacks": ["gpt-4o"]}).as_object().unwrap().clone());
    assert_eq!(request.anthropic_only, None);
}

#[test]
fn every_malformed_field_is_refused_naming_it() {
    let cases = [
        (json!({"model": "<absent>"}), "model: Field required"),
        (json!({"model": 5}), "model: Input should be a valid string"),
        (json!({"model": ""}), "model: String should have at least 1 character"),
        (json!({"model": " \t"}), "model: String should have at least 1 character other than whitespace"),
        (json!({"max_tokens": "<absent>"}), "max_tokens: Field required"),
        (json!({"max_tokens": "100"}), "max_tokens: Input should be a valid integer"),
        (json!({"max_tokens": -1}), "max_tokens: Input should be greater than or equal to 0"),
        (
            json!({"max_tokens": 1.5}),
            "max_tokens: Input should be a valid integer, got a number with a fractional part",
        ),
        (json!({"messages": "<absent>"}), "messages: Field required"),
        (json!({"messages": {}}), "messages: Input should be a valid list"),
        (json!({"messages": []}), "messages: at least one message is required"),
        (json!({"temperature": 1.5}), "temperature: Input should be less than or equal to 1"),
        (json!({"temperature": -0.1}), "temperature: Input should be greater than or equal to 0"),
        (json!({"temperature": null}), "temperature: Input should be a valid number"),
        (json!({"top_p": 2}), "top_p: Input should be less than or equal to 1"),
        (json!({"top_k": 0.5}), "top_k: Input should be a valid integer, got a number with a fractional part"),
        (json!({"stream": "yes"}), "stream: Input should be a valid boolean"),
        (json!({"stop_sequences": "END"}), "stop_sequences: Input should be a valid list"),
        (json!({"stop_sequences": ["END", 1]}), "stop_sequences.1: Input should be a valid string"),
        (json!({"stop_sequences": [" \n"]}), "stop_sequences.0: stop sequences must contain non-whitespace characters"),
        (json!({"metadata": "u-1"}), "metadata: Input should be a valid dictionary"),
        (json!({"metadata": {"user_id": 7}}), "metadata.user_id: Input should be a valid string"),
        (json!({"metadata": {"session": "s"}}), "metadata.session: Extra inputs are not permitted"),
        (json!({"service_tier": "priority"}), "service_tier: Input should be 'auto' or 'standard_only'"),
        (json!({"speed": "slow"}), "speed: Input should be 'standard' or 'fast'"),
        (json!({"response_format": {"type": "json_object"}}), "response_format: Extra inputs are not permitted"),
        (json!({"n": 2}), "n: Extra inputs are not permitted"),
        (json!({"system": 5}), "system: Input should be a valid string or a valid list of text blocks"),
        (json!({"system": [{"type": "image"}]}), "system.0.type: Input should be 'text'"),
        (json!({"system": [{"text": "x"}]}), "system.0.type: Field required"),
        (json!({"system": [{"type": "text", "text": ""}]}), "system.0.text: text content blocks must be non-empty"),
        (
            json!({"system": [{"type": "text", "text": "x", "cache": 1}]}),
            "system.0.cache: Extra inputs are not permitted",
        ),
        (
            json!({"system": [{"type": "text", "text": "x", "cache_control": {"type": "ephemeral", "scope": "global"}}]}),
            "system.0.cache_control.ephemeral.scope: Extra inputs are not permitted",
        ),
        (
            json!({"cache_control": {"type": "ephemeral", "ttl": "5h"}}),
            "cache_control.ephemeral.ttl: Input should be '5m' or '1h'",
        ),
        (json!({"tools": {}}), "tools: Input should be a valid list"),
        (json!({"tools": [{"input_schema": {"type": "object"}}]}), "tools.0.custom.name: Field required"),
        (
            json!({"tools": [{"name": "a.b", "input_schema": {"type": "object"}}]}),
            "tools.0.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'",
        ),
        (json!({"tools": [{"name": "f"}]}), "tools.0.custom.input_schema: Field required"),
        (json!({"tools": [{"name": "f", "input_schema": {}}]}), "tools.0.custom.input_schema.type: Field required"),
        (
            json!({"tools": [{"name": "f", "input_schema": {"type": "array"}}]}),
            "tools.0.custom.input_schema.type: Input should be 'object'",
        ),
        (
            json!({"tools": [{"name": "f", "input_schema": {"type": "object"}, "parameters": {}}]}),
            "tools.0.custom.parameters: Extra inputs are not permitted",
        ),
        (
            json!({"tools": [{"type": "function", "name": "f", "input_schema": {"type": "object"}}]}),
            "tools.0: Input tag 'function' found using 'type' does not match any of the expected tags",
        ),
        (
            json!({"tools": [{"name": "f", "input_schema": {"type": "object"}}, {"name": "f", "input_schema": {"type": "object"}}]}),
            "tools: Tool names must be unique.",
        ),
        (json!({"tool_choice": "auto"}), "tool_choice: Input should be a valid dictionary"),
        (
            json!({"tool_choice": {"type": "required"}}),
            "tool_choice: Input tag 'required' found using 'type' does not match any of the expected tags: 'auto', 'any', 'tool', 'none'",
        ),
        (json!({"tool_choice": {"type": "tool"}}), "tool_choice.tool.name: Field required"),
        (
            json!({"tool_choice": {"type": "none", "disable_parallel_tool_use": true}}),
            "tool_choice.none.disable_parallel_tool_use: Extra inputs are not permitted",
        ),
        (
            json!({"tool_choice": {"type": "auto", "disable_parallel_tool_use": "yes"}}),
            "tool_choice.auto.disable_parallel_tool_use: Input should be a valid boolean",
        ),
        (json!({"thinking": {"type": "enabled"}}), "thinking.enabled.budget_tokens: Field required"),
        (
            json!({"thinking": {"type": "enabled", "budget_tokens": 1000}}),
            "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024",
        ),
        (
            json!({"thinking": {"type": "enabled", "budget_tokens": 2048}}),
            "`max_tokens` must be greater than `thinking.budget_tokens`",
        ),
        (
            json!({"thinking": {"type": "adaptive", "display": "full"}}),
            "thinking.adaptive.display: Input should be 'summarized' or 'omitted'",
        ),
        (
            json!({"thinking": {"type": "disabled", "budget_tokens": 2048}}),
            "thinking.disabled.budget_tokens: Extra inputs are not permitted",
        ),
        (
            json!({"output_config": {"effort": "extreme"}}),
            "output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'",
        ),
        (
            json!({"output_config": {"format": {"type": "json_object"}}}),
            "output_config.format.type: Input should be 'json_schema'",
        ),
        (json!({"output_format": {"type": "json_schema"}}), "output_format.schema: Field required"),
        (json!({"context_management": []}), "context_management: Input should be a valid dictionary"),
        (json!({"mcp_servers": {}}), "mcp_servers: Input should be a valid list"),
        (json!({"container": 5}), "container: Input should be a valid dictionary"),
    ];
    for (changes, expected) in cases {
        let message = refused(changes.clone());
        assert!(message.starts_with(expected), "{changes}: {message}");
    }
}

#[test]
fn bodies_that_are_not_json_objects_are_refused() {
    for bad in [&b"{\"model\": "[..], b"[1]", b"\"text\""] {
        assert!(matches!(parse(bad), Err(MessagesError::Invalid(_))), "{bad:?}");
    }
    assert_eq!(parse(b"[1]").unwrap_err().to_string(), "Input should be a valid dictionary");
}

#[test]
fn null_is_taken_where_anthropic_takes_it() {
    let request = parsed(json!({
        "metadata": {"user_id": null},
        "cache_control": null,
        "container": null,
        "inference_geo": null,
        "output_format": null,
        "context_management": null,
        "speed": null,
        "output_config": {"effort": null, "format": null}
    }));
    assert_eq!((request.user_id, request.effort, request.output_schema), (None, None, None));
    assert_eq!(request.anthropic_only, None);
}

#[test]
fn the_gateway_s_keys_pass_and_are_kept_as_written() {
    let request = parsed(json!({"num_retries": 2, "timeout": 30, "cache": {"no-cache": true}, "tags": ["a"],
                                "mock_response": "Hi"}));
    assert_eq!(
        Value::Object(request.gateway),
        json!({"num_retries": 2, "timeout": 30, "cache": {"no-cache": true}, "tags": ["a"], "mock_response": "Hi"})
    );
}

#[test]
fn what_only_anthropic_serves_is_noted_with_its_place() {
    let cases = [
        (json!({"max_tokens": 0}), "max_tokens: 0 (pre-warming"),
        (
            json!({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}),
            "tools.0: the server tool `web_search_20250305`",
        ),
        (json!({"tools": [{"type": "mcp_toolset", "mcp_server_name": "x"}]}), "tools.0: the server tool `mcp_toolset`"),
        (
            json!({"mcp_servers": [{"type": "url", "url": "https://mcp.example.com", "name": "x"}]}),
            "mcp_servers: MCP servers",
        ),
        (json!({"container": "container_01"}), "container: a container"),
        (json!({"inference_geo": "us"}), "inference_geo: the region"),
        (
            json!({"tools": [{"name": "f", "input_schema": {"type": "object"}, "allowed_callers": ["code_execution_20250825"]}]}),
            "tools.0.custom.allowed_callers: a tool only Anthropic's code execution may call",
        ),
    ];
    for (changes, expected) in cases {
        let noted = anthropic_only(changes.clone());
        assert!(noted.starts_with(expected), "{changes}: {noted}");
    }
}

#[test]
fn fields_that_only_tune_anthropic_s_serving_are_taken_and_not_noted() {
    let request = parsed(json!({
        "service_tier": "standard_only",
        "speed": "fast",
        "cache_control": {"type": "ephemeral"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "mcp_servers": [],
        "tools": [{"name": "f", "input_schema": {"type": "object"}, "defer_loading": true,
                   "eager_input_streaming": true, "input_examples": [{"x": 1}], "allowed_callers": ["direct"]}]
    }));
    assert_eq!(request.anthropic_only, None);
    assert_eq!(request.tools.len(), 1);
}

#[test]
fn output_config_gives_the_effort_and_the_answer_s_schema() {
    let schema = json!({"type": "object", "properties": {"a": {"type": "string"}}});
    let request =
        parsed(json!({"output_config": {"effort": "max", "format": {"type": "json_schema", "schema": schema}}}));
    assert_eq!((request.effort, request.output_schema), (Some(Effort::Max), Some(schema.clone())));
    let beta = parsed(json!({"output_format": {"type": "json_schema", "schema": schema}}));
    assert_eq!(beta.output_schema, Some(schema));
}

#[test]
fn server_tools_are_not_client_tools_but_their_names_are_unique_with_them() {
    let request = parsed(json!({"tools": [
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 3},
        {"type": "custom", "name": "f", "input_schema": {"type": "object"}}
    ]}));
    assert_eq!(request.tools.len(), 1);
    let message = refused(json!({"tools": [
        {"type": "web_search_20250305", "name": "web_search"},
        {"name": "web_search", "input_schema": {"type": "object"}}
    ]}));
    assert_eq!(message, "tools: Tool names must be unique.");
}
