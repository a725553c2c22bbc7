use serde_json::json;

use super::*;
use crate::inbound::responses::input::{Content, InputMessage, Role};
use crate::inbound::responses::tools::{FunctionKind, FunctionTool, NamedFunction, ToolChoiceMode};

fn parsed(body: serde_json::Value) -> Request {
    parse(body.to_string().as_bytes()).unwrap()
}

fn refused(body: &str) -> (&'static str, String) {
    match parse(body.as_bytes()) {
        Err(ApiError::InvalidParam { param, message }) => (param, message),
        other => panic!("{body}: expected a 400, got {other:?}"),
    }
}

#[test]
fn a_minimal_request_has_openais_defaults() {
    let request = parsed(json!({"model": "gpt-4o", "input": "Hi"}));
    assert_eq!(request.model, "gpt-4o");
    assert_eq!(
        request.input,
        [InputItem::Message(InputMessage { role: Role::User, content: Content::Text("Hi".into()) })]
    );
    assert!(request.store && !request.stream);
    assert!(request.tools.is_empty() && request.unsupported.is_empty() && request.extra.is_empty());
    assert_eq!((request.instructions, request.tool_choice, request.text), (None, None, None));
}

#[test]
fn every_carried_parameter_is_read() {
    let request = parsed(json!({
        "model": "m",
        "input": [{"role": "user", "content": "Hi"}],
        "instructions": "Be brief.",
        "tools": [{"type": "function", "name": "get_weather", "description": "Weather",
                   "parameters": {"type": "object"}, "strict": true}],
        "tool_choice": {"type": "function", "name": "get_weather"},
        "parallel_tool_calls": false,
        "max_output_tokens": 16,
        "temperature": 0.5,
        "top_p": 1,
        "text": {"format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}, "strict": true},
                 "verbosity": "low"},
        "stream": true,
        "stream_options": {"include_obfuscation": false},
        "store": false,
        "previous_response_id": "resp_1",
        "metadata": {"team": "a"},
        "user": "u1",
        "reasoning": {"effort": "high", "summary": "auto"},
        "truncation": "auto",
        "include": ["reasoning.encrypted_content", "file_search_call.results"],
        "max_tool_calls": 3,
        "top_logprobs": 0,
        "background": false
    }));
    assert_eq!(request.instructions.as_deref(), Some("Be brief."));
    assert_eq!(
        request.tools,
        [Tool::Function(FunctionTool {
            kind: FunctionKind::Function,
            name: "get_weather".into(),
            description: Some("Weather".into()),
            parameters: Some(json!({"type": "object"})),
            strict: Some(true),
            defer_loading: None,
            cache_control: None,
        })]
    );
    assert_eq!(
        request.tool_choice,
        Some(ToolChoice::Function(NamedFunction { kind: FunctionKind::Function, name: "get_weather".into() }))
    );
    assert_eq!(request.parallel_tool_calls, Some(false));
    assert_eq!(request.max_output_tokens, Some(16));
    assert_eq!((request.temperature, request.top_p), (Some(0.5), Some(1.0)));
    assert_eq!(
        request.text,
        Some(TextConfig {
            format: Some(TextFormat::JsonSchema {
                name: "out".into(),
                schema: json!({"type": "object"}),
                description: None,
                strict: Some(true),
            }),
            verbosity: Some(Verbosity::Low),
        })
    );
    assert!(request.stream && !request.store);
    assert_eq!(request.previous_response_id.as_deref(), Some("resp_1"));
    assert_eq!(request.metadata, BTreeMap::from([("team".to_owned(), "a".to_owned())]));
    assert_eq!(request.user.as_deref(), Some("u1"));
    assert_eq!(
        request.reasoning,
        Some(ReasoningConfig { effort: Some(Effort::High), summary: Some(Summary::Auto), generate_summary: None })
    );
    assert_eq!(request.truncation, Some(Truncation::Auto));
    assert!(request.include_encrypted_reasoning());
    assert!(request.unsupported.is_empty(), "{:?}", request.unsupported);
}

#[test]
fn nulls_are_parameters_left_out() {
    let request = parsed(json!({"model": "m", "input": "x", "instructions": null, "tools": null, "temperature": null,
        "stream": null, "store": null, "metadata": null, "conversation": null, "text": null}));
    assert!(request.store && !request.stream && request.unsupported.is_empty());
    assert_eq!(request.temperature, None);
}

#[test]
fn the_gateways_keys_and_chat_parameters_pass_in_extra() {
    let request = parsed(json!({"model": "m", "input": "x", "priority": 1, "fallbacks": ["b"], "num_retries": 2,
        "mock_response": "hi", "cache": {"no-cache": true}, "tags": ["t"], "drop_params": true,
        "prompt_cache_key": "k", "safety_identifier": "s", "service_tier": "flex", "prompt_cache_retention": "24h"}));
    let keys: Vec<&str> = request.extra.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "cache",
            "drop_params",
            "fallbacks",
            "mock_response",
            "num_retries",
            "priority",
            "prompt_cache_key",
            "prompt_cache_retention",
            "safety_identifier",
            "service_tier",
            "tags"
        ]
    );
    assert_eq!(request.extra["cache"], json!({"no-cache": true}));
}

#[test]
fn openais_own_features_parse_and_are_listed() {
    let request = parsed(json!({"model": "m", "input": "x", "background": true, "conversation": "conv_1",
        "prompt": {"id": "pmpt_1"}, "context_management": [{"type": "compaction"}], "top_logprobs": 2,
        "include": ["message.output_text.logprobs"],
        "tools": [{"type": "function", "name": "f"}, {"type": "web_search"}, {"type": "mcp", "server_label": "x"}]}));
    let params: Vec<&str> = request.unsupported.iter().map(|u| u.param).collect();
    assert_eq!(params, ["background", "context_management", "conversation", "include", "prompt", "top_logprobs"]);
    assert_eq!(builtin_tool(&request), Some("web_search"));
    assert_eq!(builtin_tool(&parsed(json!({"model": "m", "tools": [{"type": "function", "name": "f"}]}))), None);
    let choice = parsed(json!({"model": "m", "tool_choice": {"type": "allowed_tools", "mode": "auto", "tools": []}}));
    assert!(matches!(choice.tool_choice, Some(ToolChoice::OpenAiOnly(ref c)) if c.kind == "allowed_tools"));
    let mode = parsed(json!({"model": "m", "tool_choice": "required"}));
    assert_eq!(mode.tool_choice, Some(ToolChoice::Mode(ToolChoiceMode::Required)));
}

#[test]
fn each_bad_parameter_is_refused_naming_it() {
    let cases = [
        (r#"{"input":"x"}"#, "model", "missing required parameter `model`"),
        (r#"{"model":1}"#, "model", "`model`: invalid type: integer `1`, expected a string"),
        (r#"{"model":" "}"#, "model", "must not be empty"),
        (r#"{"model":"m","input":2}"#, "input", "`input` must be a string or an array of items, got 2"),
        (r#"{"model":"m","foo":1}"#, "body", "unknown parameter `foo`"),
        (r#"{"model":"m","messages":[]}"#, "body", "unknown parameter `messages`"),
        (r#"{"model":"m","instructions":["a"]}"#, "instructions", "expected a string"),
        (r#"{"model":"m","temperature":2.5}"#, "temperature", "`temperature` must be from 0 to 2, got 2.5"),
        (r#"{"model":"m","temperature":"hot"}"#, "temperature", "must be a number"),
        (r#"{"model":"m","top_p":-0.1}"#, "top_p", "from 0 to 1"),
        (r#"{"model":"m","max_output_tokens":10}"#, "max_output_tokens", "at least 16, got 10"),
        (r#"{"model":"m","max_output_tokens":16.5}"#, "max_output_tokens", "must be an integer"),
        (r#"{"model":"m","stream":"yes"}"#, "stream", "`stream` must be a boolean"),
        (r#"{"model":"m","store":1}"#, "store", "a boolean"),
        (r#"{"model":"m","parallel_tool_calls":"no"}"#, "parallel_tool_calls", "a boolean"),
        (r#"{"model":"m","background":"no"}"#, "background", "a boolean"),
        (r#"{"model":"m","previous_response_id":5}"#, "previous_response_id", "expected a string"),
        (r#"{"model":"m","user":5}"#, "user", "expected a string"),
        (r#"{"model":"m","metadata":{"a":1}}"#, "metadata", "an object of string values"),
        (r#"{"model":"m","metadata":"x"}"#, "metadata", "an object of string values"),
        (r#"{"model":"m","text":{"format":{"type":"xml"}}}"#, "text", "`text.format.type`: unknown variant `xml`"),
        (r#"{"model":"m","text":{"format":{"type":"json_schema","schema":{}}}}"#, "text", "missing field `name`"),
        (
            r#"{"model":"m","text":{"format":{"type":"json_schema","name":"a b","schema":{}}}}"#,
            "text",
            "text.format.name",
        ),
        (
            r#"{"model":"m","text":{"format":{"type":"json_schema","name":"a","schema":[]}}}"#,
            "text",
            "JSON Schema object",
        ),
        (r#"{"model":"m","text":{"verbosity":"loud"}}"#, "text", "unknown variant `loud`"),
        (r#"{"model":"m","text":{"format":{"type":"text"},"style":1}}"#, "text", "unknown field `style`"),
        (
            r#"{"model":"m","reasoning":{"effort":"extreme"}}"#,
            "reasoning",
            "`reasoning.effort`: unknown variant `extreme`",
        ),
        (r#"{"model":"m","reasoning":{"budget":1}}"#, "reasoning", "unknown field `budget`"),
        (r#"{"model":"m","truncation":"sometimes"}"#, "truncation", "unknown variant `sometimes`"),
        (r#"{"model":"m","include":["everything"]}"#, "include", "`include[0]`: unknown variant `everything`"),
        (r#"{"model":"m","top_logprobs":21}"#, "top_logprobs", "from 0 to 20"),
        (r#"{"model":"m","max_tool_calls":-1}"#, "max_tool_calls", "invalid value"),
        (
            r#"{"model":"m","stream_options":{"include_obfuscation":true}}"#,
            "stream_options",
            "only allowed when `stream`",
        ),
        (r#"{"model":"m","stream":true,"stream_options":{"include_usage":true}}"#, "stream_options", "unknown field"),
        (r#"{"model":"m","prompt_cache_key":1}"#, "prompt_cache_key", "expected a string"),
        (r#"{"model":"m","tools":{}}"#, "tools", "`tools` must be an array of tools"),
        (r#"{"model":"m","tools":[{"type":"retrieval"}]}"#, "tools", "`tools[0].type`: unknown tool type `retrieval`"),
        (r#"{"model":"m","tools":[{"type":"function"}]}"#, "tools", "`tools[0]`: missing field `name`"),
        (r#"{"model":"m","tools":[{"type":"function","name":"a.b"}]}"#, "tools", "`tools[0].name` must match"),
        (r#"{"model":"m","tools":[{"type":"function","name":"f","parameters":"x"}]}"#, "tools", "JSON Schema object"),
        (
            r#"{"model":"m","tools":[{"type":"function","name":"f","function":{"name":"f"}}]}"#,
            "tools",
            "unknown field `function`",
        ),
        (r#"{"model":"m","tool_choice":"sometimes"}"#, "tool_choice", "unknown variant `sometimes`"),
        (r#"{"model":"m","tool_choice":{"type":"function"}}"#, "tool_choice", "missing field `name`"),
        (r#"{"model":"m","tool_choice":{"type":"tool"}}"#, "tool_choice", "unknown type `tool`"),
        (r#"[1]"#, "body", "must be a JSON object"),
    ];
    for (body, param, message) in cases {
        let (got_param, got_message) = refused(body);
        assert_eq!(got_param, param, "{body}: {got_message}");
        assert!(got_message.contains(message), "{body}: {got_message}");
    }
    assert!(matches!(parse(br#"{"model": "#), Err(ApiError::MalformedJson(_))));
}

#[test]
fn metadata_is_held_to_openais_limits() {
    let pairs: serde_json::Map<String, serde_json::Value> = (0..17).map(|i| (format!("k{i}"), json!("v"))).collect();
    let body = json!({"model": "m", "metadata": pairs}).to_string();
    assert!(refused(&body).1.contains("at most 16 pairs"));
    let body = json!({"model": "m", "metadata": {"k".repeat(65): "v"}}).to_string();
    assert!(refused(&body).1.contains("keys may be at most 64"));
    let body = json!({"model": "m", "metadata": {"k": "v".repeat(513)}}).to_string();
    assert!(refused(&body).1.contains("at most 512"));
    let body = json!({"model": "m", "metadata": {"k".repeat(64): "v".repeat(512)}});
    assert_eq!(parsed(body).metadata.len(), 1);
}
