use serde_json::{Value, json};

use super::*;

const CLAUDE: &str = "us.anthropic.claude-3-5-sonnet-20241022-v2:0";

fn chat(body: Value) -> ChatRequest {
    serde_json::from_value(body).unwrap()
}

fn converse(body: Value, model: &str) -> Result<Value, ApiError> {
    let bytes = super::body(&chat(body), &RequestOptions { model, drop_params: false })?;
    Ok(serde_json::from_slice(&bytes).unwrap())
}

fn refused(body: Value, model: &str) -> (&'static str, String) {
    match converse(body, model) {
        Err(ApiError::InvalidParam { param, message }) => (param, message),
        other => panic!("expected a 400, got {other:?}"),
    }
}

#[test]
fn a_conversation_becomes_system_blocks_and_turns() {
    let body = converse(
        json!({
            "model": "claude",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Bonjour"},
                {"role": "user", "content": "How are you?"}
            ],
            "max_tokens": 100,
            "max_completion_tokens": 200,
            "temperature": 0.5,
            "top_p": 0.9,
            "stop": ["END", ""],
            "stream": true,
            "stream_options": {"include_usage": true},
            "user": "user-1"
        }),
        CLAUDE,
    )
    .unwrap();
    assert_eq!(
        body,
        json!({
            "messages": [
                {"role": "user", "content": [{"text": "Hi"}]},
                {"role": "assistant", "content": [{"text": "Bonjour"}]},
                {"role": "user", "content": [{"text": "How are you?"}]}
            ],
            "system": [{"text": "Be brief."}, {"text": "Answer in French."}],
            "inferenceConfig": {"maxTokens": 200, "temperature": 0.5, "topP": 0.9, "stopSequences": ["END"]}
        })
    );
}

#[test]
fn tool_calls_and_results_become_tool_use_and_one_user_turn_of_results() {
    let body = converse(
        json!({
            "model": "claude",
            "messages": [
                {"role": "user", "content": "Weather in Paris and Rome?"},
                {"role": "assistant", "content": "", "tool_calls": [
                    {"id": "tooluse_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\": \"Paris\"}"}},
                    {"id": "tooluse_2", "type": "function", "function": {"name": "now", "arguments": ""}}
                ]},
                {"role": "tool", "tool_call_id": "tooluse_1", "content": "18C"},
                {"role": "tool", "tool_call_id": "tooluse_2", "content": [{"type": "text", "text": "noon"}]},
                {"role": "user", "content": "Thanks. And tomorrow?"}
            ],
            "tools": [
                {"type": "function", "function": {"name": "weather", "description": "Weather of a city",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}},
                {"type": "function", "function": {"name": "now"}, "cache_control": {"type": "ephemeral"}}
            ],
            "tool_choice": "auto"
        }),
        CLAUDE,
    )
    .unwrap();
    assert_eq!(
        body["messages"],
        json!([
            {"role": "user", "content": [{"text": "Weather in Paris and Rome?"}]},
            {"role": "assistant", "content": [
                {"toolUse": {"toolUseId": "tooluse_1", "name": "weather", "input": {"city": "Paris"}}},
                {"toolUse": {"toolUseId": "tooluse_2", "name": "now", "input": {}}}
            ]},
            {"role": "user", "content": [
                {"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": "18C"}]}},
                {"toolResult": {"toolUseId": "tooluse_2", "content": [{"text": "noon"}]}},
                {"text": "Thanks. And tomorrow?"}
            ]}
        ])
    );
    assert_eq!(
        body["toolConfig"],
        json!({
            "tools": [
                {"toolSpec": {"name": "weather", "description": "Weather of a city",
                    "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}}}}},
                {"toolSpec": {"name": "now", "inputSchema": {"json": {"type": "object", "properties": {}}}}},
                {"cachePoint": {"type": "default"}}
            ],
            "toolChoice": {"auto": {}}
        })
    );
}

fn with_tools(tool_choice: Value, messages: Value) -> Value {
    json!({
        "model": "m",
        "messages": messages,
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        "tool_choice": tool_choice
    })
}

#[test]
fn tool_choices_map_to_auto_any_and_tool() {
    let hi = json!([{"role": "user", "content": "hi"}]);
    let choice = |c: Value| converse(with_tools(c, hi.clone()), CLAUDE).unwrap()["toolConfig"]["toolChoice"].clone();
    assert_eq!(choice(json!("auto")), json!({"auto": {}}));
    assert_eq!(choice(json!("required")), json!({"any": {}}));
    assert_eq!(choice(json!({"type": "function", "function": {"name": "f"}})), json!({"tool": {"name": "f"}}));
    let (param, message) = refused(with_tools(json!("sometimes"), hi), CLAUDE);
    assert_eq!(param, "tool_choice");
    assert!(message.contains("`sometimes`"), "{message}");
}

#[test]
fn tool_choice_none_leaves_the_tools_out_unless_the_conversation_has_tool_calls() {
    let hi = json!([{"role": "user", "content": "hi"}]);
    let body = converse(with_tools(json!("none"), hi), CLAUDE).unwrap();
    assert_eq!(body.get("toolConfig"), None);

    let history = json!([
        {"role": "user", "content": "hi"},
        {"role": "assistant", "tool_calls": [{"id": "t", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "t", "content": "done"}
    ]);
    let body = converse(with_tools(json!("none"), history), CLAUDE).unwrap();
    assert_eq!(body["toolConfig"]["tools"][0]["toolSpec"]["name"], "f");
    assert_eq!(body["toolConfig"].get("toolChoice"), None);
}

#[test]
fn images_are_sent_as_bytes_and_links_are_refused() {
    let body = converse(
        json!({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "What is this?", "cache_control": {"type": "ephemeral"}},
            {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}}
        ]}]}),
        CLAUDE,
    )
    .unwrap();
    assert_eq!(
        body["messages"][0]["content"],
        json!([
            {"text": "What is this?"},
            {"cachePoint": {"type": "default"}},
            {"image": {"format": "jpeg", "source": {"bytes": "/9j/4AAQ"}}}
        ])
    );

    let link = json!({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
    ]}]});
    let (param, message) = refused(link, CLAUDE);
    assert_eq!(param, "messages");
    assert!(message.starts_with("messages[0]: Bedrock takes images as bytes only"), "{message}");

    let tiff = json!({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/tiff;base64,AAAA"}}
    ]}]});
    assert!(refused(tiff, CLAUDE).1.contains("not image/tiff"));

    let audio = json!({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}
    ]}]});
    assert!(refused(audio, CLAUDE).1.contains("not a `input_audio` part"));
}

#[test]
fn tool_results_may_carry_images() {
    let body = converse(
        json!({"model": "m", "messages": [
            {"role": "user", "content": "Take a screenshot"},
            {"role": "assistant", "tool_calls": [{"id": "t", "type": "function", "function": {"name": "shot", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "t", "content": [
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO"}}
            ]}
        ], "tools": [{"type": "function", "function": {"name": "shot"}}]}),
        CLAUDE,
    )
    .unwrap();
    assert_eq!(
        body["messages"][2]["content"][0]["toolResult"]["content"],
        json!([{"image": {"format": "png", "source": {"bytes": "iVBO"}}}])
    );
}

#[test]
fn blank_text_is_left_out_and_an_empty_conversation_is_refused() {
    let body = converse(
        json!({"model": "m", "messages": [
            {"role": "system", "content": " "},
            {"role": "user", "content": "one"},
            {"role": "user", "content": [{"type": "text", "text": ""}, {"type": "text", "text": "two"}]},
            {"role": "assistant", "content": "\n"},
            {"role": "user", "content": "three"}
        ]}),
        CLAUDE,
    )
    .unwrap();
    assert_eq!(body.get("system"), None);
    // The blank assistant turn is dropped, so the user turns around it merge.
    assert_eq!(
        body["messages"],
        json!([{"role": "user", "content": [{"text": "one"}, {"text": "two"}, {"text": "three"}]}])
    );

    let (param, message) = refused(
        json!({"model": "m", "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": ""}]}),
        CLAUDE,
    );
    assert_eq!(param, "messages");
    assert!(message.contains("at least one user or assistant message"), "{message}");
}

#[test]
fn tool_arguments_that_are_not_json_are_refused() {
    let (_, message) = refused(
        json!({"model": "m", "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "tool_calls": [{"id": "t", "type": "function", "function": {"name": "f", "arguments": "{oops"}}]}
        ]}),
        CLAUDE,
    );
    assert!(message.starts_with("messages[1].tool_calls[0].function.arguments is not JSON"), "{message}");
}

#[test]
fn a_json_schema_answer_is_a_tool_the_model_is_made_to_call() {
    let request = json!({
        "model": "m",
        "messages": [{"role": "user", "content": "A cat"}],
        "response_format": {"type": "json_schema", "json_schema": {
            "name": "animal", "description": "An animal", "schema": {"type": "object", "properties": {"name": {"type": "string"}}}
        }}
    });
    assert_eq!(json_tool_name(&chat(request.clone())), Some("animal"));
    let body = converse(request.clone(), CLAUDE).unwrap();
    assert_eq!(
        body["toolConfig"],
        json!({
            "tools": [{"toolSpec": {"name": "animal", "description": "An animal",
                "inputSchema": {"json": {"type": "object", "properties": {"name": {"type": "string"}}}}}}],
            "toolChoice": {"tool": {"name": "animal"}}
        })
    );
    let mistral = converse(request.clone(), "mistral.mistral-large-2407-v1:0").unwrap();
    assert_eq!(mistral["toolConfig"]["toolChoice"], json!({"any": {}}));
    let llama = converse(request, "meta.llama3-1-70b-instruct-v1:0").unwrap();
    assert_eq!(llama["toolConfig"].get("toolChoice"), None);

    let object = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}],
        "response_format": {"type": "json_object"}});
    assert_eq!(json_tool_name(&chat(object.clone())), Some(JSON_OBJECT_TOOL));
    let body = converse(object, "amazon.nova-pro-v1:0").unwrap();
    assert_eq!(
        body["toolConfig"]["tools"][0]["toolSpec"],
        json!({"name": "json_tool_call",
            "inputSchema": {"json": {"type": "object", "additionalProperties": true, "properties": {}}}})
    );
    assert_eq!(body["toolConfig"]["toolChoice"], json!({"tool": {"name": "json_tool_call"}}));

    let text =
        json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "response_format": {"type": "text"}});
    assert_eq!(json_tool_name(&chat(text.clone())), None);
    assert_eq!(converse(text, CLAUDE).unwrap().get("toolConfig"), None);
}

#[test]
fn top_k_goes_where_each_family_takes_it() {
    let request = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "top_k": 40});
    let fields = |model| converse(request.clone(), model).unwrap()["additionalModelRequestFields"].clone();
    assert_eq!(fields(CLAUDE), json!({"top_k": 40}));
    assert_eq!(fields("amazon.nova-lite-v1:0"), json!({"inferenceConfig": {"topK": 40}}));
    assert_eq!(fields("cohere.command-r-v1:0"), json!({"k": 40}));
    let (param, message) = refused(request.clone(), "meta.llama3-70b-instruct-v1:0");
    assert_eq!(param, "top_k");
    assert!(message.contains("`top_k`"), "{message}");

    let dropped =
        super::body(&chat(request), &RequestOptions { model: "meta.llama3-70b-instruct-v1:0", drop_params: true })
            .unwrap();
    let dropped: Value = serde_json::from_slice(&dropped).unwrap();
    assert_eq!(dropped.get("additionalModelRequestFields"), None);
}

#[test]
fn fields_bedrock_cannot_take_are_named_or_dropped() {
    let request = json!({
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "logit_bias": {"1": 2},
        "frequency_penalty": 0.5,
        "presence_penalty": 0,
        "logprobs": false,
        "n": 1,
        "seed": 7,
        "some_unknown_field": null
    });
    let (param, message) = refused(request.clone(), CLAUDE);
    assert_eq!(param, "seed");
    for name in ["`seed`", "`frequency_penalty`", "`logit_bias`"] {
        assert!(message.contains(name), "{message}");
    }
    for accepted in ["presence_penalty", "logprobs", "`n`", "some_unknown_field"] {
        assert!(!message.contains(accepted), "{message}");
    }
    assert!(message.contains("drop_params"), "{message}");

    let dropped = super::body(&chat(request), &RequestOptions { model: CLAUDE, drop_params: true }).unwrap();
    let dropped: Value = serde_json::from_slice(&dropped).unwrap();
    assert_eq!(dropped, json!({"messages": [{"role": "user", "content": [{"text": "hi"}]}]}));

    let (param, message) =
        refused(json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "n": 2}), CLAUDE);
    assert_eq!(param, "n");
    assert!(message.contains("`n`: remove it"), "{message}");
    let (param, _) =
        refused(json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "mystery": 1}), CLAUDE);
    assert_eq!(param, "body");
}

#[test]
fn thinking_and_reasoning_effort_reach_anthropic_models_only() {
    let thinking = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}],
        "thinking": {"type": "enabled", "budget_tokens": 3000},
        "response_format": {"type": "json_object"}});
    let body = converse(thinking, CLAUDE).unwrap();
    assert_eq!(body["additionalModelRequestFields"], json!({"thinking": {"type": "enabled", "budget_tokens": 3000}}));
    // A forced tool is refused while the model thinks: the JSON tool is only offered.
    assert_eq!(body["toolConfig"].get("toolChoice"), None);

    let effort = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "reasoning_effort": "medium"});
    assert_eq!(
        converse(effort.clone(), CLAUDE).unwrap()["additionalModelRequestFields"],
        json!({"thinking": {"type": "enabled", "budget_tokens": 2048}})
    );
    assert_eq!(refused(effort, "amazon.nova-pro-v1:0").0, "reasoning_effort");
    let wrong = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "reasoning_effort": "max"});
    assert!(refused(wrong, CLAUDE).1.contains("none, low, medium, high"));
}

#[test]
fn a_guardrail_config_is_passed_on() {
    let guardrail = json!({"guardrailIdentifier": "gr-1", "guardrailVersion": "1", "trace": "enabled"});
    let body = converse(
        json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "guardrailConfig": guardrail}),
        "amazon.nova-micro-v1:0",
    )
    .unwrap();
    assert_eq!(body["guardrailConfig"], guardrail);
}

#[test]
fn cache_control_on_system_parts_adds_a_cache_point() {
    let body = converse(
        json!({"model": "m", "messages": [
            {"role": "system", "content": [{"type": "text", "text": "Long rules", "cache_control": {"type": "ephemeral"}}]},
            {"role": "user", "content": "hi"}
        ]}),
        CLAUDE,
    )
    .unwrap();
    assert_eq!(body["system"], json!([{"text": "Long rules"}, {"cachePoint": {"type": "default"}}]));
}

#[test]
fn non_function_tools_are_refused() {
    let (param, message) = refused(
        json!({"model": "m", "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"type": "web_search", "function": {"name": "s"}}]}),
        CLAUDE,
    );
    assert_eq!(param, "tools");
    assert!(message.contains("`web_search`"), "{message}");
}

#[test]
fn the_gateways_own_fields_are_never_sent() {
    let body = converse(
        json!({
            "model": "m",
            "messages": [{"role": "user", "content": "Hi"}],
            "priority": 1, "fallbacks": [], "num_retries": 2, "timeout": 5, "tags": ["a"], "cache": {"no-cache": true}
        }),
        CLAUDE,
    )
    .unwrap();
    let text = body.to_string();
    for field in ["priority", "fallbacks", "num_retries", "timeout", "tags", "cache"] {
        assert!(!text.contains(field), "{field}: {text}");
    }
}
