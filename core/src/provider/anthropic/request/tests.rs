use super::*;
use serde_json::json;

const OPTIONS: RequestOptions<'static> =
    RequestOptions { model: "claude-sonnet-4-5", drop_params: false, on_vertex: false };
const DROPPING: RequestOptions<'static> =
    RequestOptions { model: "claude-sonnet-4-5", drop_params: true, on_vertex: false };

fn chat(request: Value) -> ChatRequest {
    serde_json::from_value(request).unwrap()
}

fn mapped_with(request: Value, options: &RequestOptions<'_>) -> Value {
    serde_json::from_slice(&body(&chat(request), options).unwrap()).unwrap()
}

fn mapped(request: Value) -> Value {
    mapped_with(request, &OPTIONS)
}

fn refused_with(request: Value, options: &RequestOptions<'_>) -> (&'static str, String) {
    match body(&chat(request), options) {
        Err(ApiError::InvalidParam { param, message }) => (param, message),
        other => panic!("expected a 400, got {other:?}"),
    }
}

fn refused(request: Value) -> (&'static str, String) {
    refused_with(request, &OPTIONS)
}

fn user(text: &str) -> Value {
    json!({"role": "user", "content": text})
}

#[test]
fn a_plain_conversation_maps_field_by_field() {
    let body = mapped(json!({
        "model": "claude",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Hello"},
            {"role": "assistant", "content": "Hi."},
            {"role": "user", "content": "Weather?"}
        ],
        "max_tokens": 300,
        "temperature": 0.2,
        "top_p": 0.9,
        "top_k": 40,
        "stop": "END",
        "user": "user-8c1f",
        "stream": true,
        "stream_options": {"include_usage": true}
    }));
    assert_eq!(
        body,
        json!({
            "model": "claude-sonnet-4-5",
            "system": [{"type": "text", "text": "You are terse."}],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "Hello"}]},
                {"role": "assistant", "content": [{"type": "text", "text": "Hi."}]},
                {"role": "user", "content": [{"type": "text", "text": "Weather?"}]}
            ],
            "max_tokens": 300,
            "stop_sequences": ["END"],
            "temperature": 0.2,
            "top_p": 0.9,
            "top_k": 40,
            "metadata": {"user_id": "user-8c1f"},
            "stream": true
        })
    );
}

#[test]
fn system_and_developer_messages_become_system_blocks_with_their_cache_marks() {
    let body = mapped(json!({
        "model": "claude",
        "messages": [
            {"role": "system", "content": [
                {"type": "text", "text": "A long manual.", "cache_control": {"type": "ephemeral"}},
                {"type": "text", "text": "Be kind."}
            ]},
            user("Hi"),
            {"role": "developer", "content": "Answer in French.", "cache_control": {"type": "ephemeral", "ttl": "1h"}}
        ]
    }));
    assert_eq!(
        body["system"],
        json!([
            {"type": "text", "text": "A long manual.", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "Be kind."},
            {"type": "text", "text": "Answer in French.", "cache_control": {"type": "ephemeral", "ttl": "1h"}}
        ])
    );
    assert_eq!(body["messages"], json!([{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]));
}

#[test]
fn max_tokens_prefers_max_completion_tokens_and_has_a_default() {
    let base = json!({"model": "m", "messages": [user("Hi")]});
    assert_eq!(mapped(base.clone())["max_tokens"], DEFAULT_MAX_TOKENS);
    let mut both = base.clone();
    both["max_tokens"] = json!(100);
    both["max_completion_tokens"] = json!(200);
    assert_eq!(mapped(both)["max_tokens"], 200);
    let mut thinking = base;
    thinking["thinking"] = json!({"type": "enabled", "budget_tokens": 2048});
    let body = mapped(thinking);
    assert_eq!(body["max_tokens"], 2048 + DEFAULT_MAX_TOKENS);
    assert_eq!(body["thinking"], json!({"type": "enabled", "budget_tokens": 2048}));
}

#[test]
fn reasoning_effort_becomes_a_thinking_budget() {
    let request = |effort: Value| json!({"model": "m", "messages": [user("Hi")], "reasoning_effort": effort});
    assert_eq!(mapped(request(json!("low")))["thinking"], json!({"type": "enabled", "budget_tokens": 1024}));
    assert_eq!(mapped(request(json!("medium")))["thinking"], json!({"type": "enabled", "budget_tokens": 2048}));
    assert_eq!(mapped(request(json!("high")))["thinking"], json!({"type": "enabled", "budget_tokens": 4096}));
    assert!(mapped(request(json!("none"))).get("thinking").is_none());
    assert_eq!(refused(request(json!("extreme"))).0, "reasoning_effort");
    let (param, message) = refused(json!({"model": "m", "messages": [user("Hi")], "thinking": {"type": "on"}}));
    assert_eq!(param, "thinking");
    assert!(message.contains("budget_tokens"), "{message}");
}

#[test]
fn stop_sequences_of_only_whitespace_are_refused_or_dropped() {
    let many = json!({"model": "m", "messages": [user("Hi")], "stop": ["END", "\n"]});
    let (param, message) = refused(many.clone());
    assert_eq!(param, "stop");
    assert!(message.contains("drop_params"), "{message}");
    assert_eq!(mapped_with(many, &DROPPING)["stop_sequences"], json!(["END"]));
    let only_blank = json!({"model": "m", "messages": [user("Hi")], "stop": " "});
    assert!(mapped_with(only_blank, &DROPPING).get("stop_sequences").is_none());
}

#[test]
fn user_ids_that_are_emails_or_phone_numbers_are_not_sent() {
    let with_user = |id: &str| json!({"model": "m", "messages": [user("Hi")], "user": id});
    assert_eq!(mapped(with_user("a1b2c3"))["metadata"], json!({"user_id": "a1b2c3"}));
    assert!(mapped(with_user("jane@example.com")).get("metadata").is_none());
    assert!(mapped(with_user("+1 (555) 010-9999")).get("metadata").is_none());
    let litellm_metadata =
        json!({"model": "m", "messages": [user("Hi")], "metadata": {"user_id": "u-7", "tags": ["a"]}});
    assert_eq!(mapped(litellm_metadata)["metadata"], json!({"user_id": "u-7"}));
}

#[test]
fn tools_map_to_input_schemas_and_keep_their_cache_marks() {
    let body = mapped(json!({
        "model": "m",
        "messages": [user("Weather in Paris?")],
        "tools": [
            {"type": "function", "function": {"name": "get_weather", "description": "Current weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
            {"type": "function", "function": {"name": "get_time"}, "cache_control": {"type": "ephemeral"}}
        ]
    }));
    assert_eq!(
        body["tools"],
        json!([
            {"name": "get_weather", "description": "Current weather",
             "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
            {"name": "get_time", "input_schema": {"type": "object", "properties": {}}, "cache_control": {"type": "ephemeral"}}
        ])
    );
    assert!(body.get("tool_choice").is_none());
}

#[test]
fn tool_choices_and_parallel_tool_calls_map() {
    let tools = json!([{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]);
    let with = |extra: Value| {
        let mut request = json!({"model": "m", "messages": [user("Hi")], "tools": tools});
        for (key, value) in extra.as_object().unwrap() {
            request[key] = value.clone();
        }
        mapped(request)["tool_choice"].clone()
    };
    assert_eq!(with(json!({"tool_choice": "auto"})), json!({"type": "auto"}));
    assert_eq!(with(json!({"tool_choice": "required"})), json!({"type": "any"}));
    assert_eq!(with(json!({"tool_choice": "none"})), json!({"type": "none"}));
    assert_eq!(
        with(json!({"tool_choice": {"type": "function", "function": {"name": "f"}}})),
        json!({"type": "tool", "name": "f"})
    );
    assert_eq!(
        with(json!({"tool_choice": "required", "parallel_tool_calls": false})),
        json!({"type": "any", "disable_parallel_tool_use": true})
    );
    assert_eq!(with(json!({"parallel_tool_calls": false})), json!({"type": "auto", "disable_parallel_tool_use": true}));
    assert_eq!(with(json!({"tool_choice": "none", "parallel_tool_calls": false})), json!({"type": "none"}));
    assert_eq!(with(json!({})), Value::Null);
    // Without tools there is nothing to choose among.
    let bare =
        mapped(json!({"model": "m", "messages": [user("Hi")], "tool_choice": "auto", "parallel_tool_calls": false}));
    assert!(bare.get("tool_choice").is_none());
    let bad = json!({"model": "m", "messages": [user("Hi")], "tools": tools, "tool_choice": "sometimes"});
    assert_eq!(refused(bad).0, "tool_choice");
}

#[test]
fn a_tool_round_trip_becomes_tool_use_and_merged_tool_results() {
    let body = mapped(json!({
        "model": "m",
        "messages": [
            user("Weather in Paris and Rome?"),
            {"role": "assistant", "content": "", "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}},
                {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Rome\"}"}}
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "18C, sunny"},
            {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "24C, clear"}],
             "cache_control": {"type": "ephemeral"}},
            user("And tomorrow?")
        ],
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    }));
    assert_eq!(
        body["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Rome?"}]},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {"city": "Rome"}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "18C, sunny"},
                {"type": "tool_result", "tool_use_id": "call_2", "content": [{"type": "text", "text": "24C, clear"}],
                 "cache_control": {"type": "ephemeral"}},
                {"type": "text", "text": "And tomorrow?"}
            ]}
        ])
    );
}

#[test]
fn consecutive_messages_of_one_side_merge_and_tool_results_lead_their_turn() {
    let body = mapped(json!({
        "model": "m",
        "messages": [
            user("One"),
            user("Two"),
            {"role": "assistant", "content": "A", "tool_calls": [
                {"id": "t1", "type": "function", "function": {"name": "f", "arguments": ""}}
            ]},
            {"role": "assistant", "content": "B"},
            user("Interjection"),
            {"role": "tool", "tool_call_id": "t1", "content": "done"}
        ]
    }));
    let messages = body["messages"].as_array().unwrap();
    let roles: Vec<&str> = messages.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["user", "assistant", "user"]);
    assert_eq!(messages[0]["content"].as_array().unwrap().len(), 2);
    // An empty `arguments` is a call without arguments.
    assert_eq!(messages[1]["content"][1], json!({"type": "tool_use", "id": "t1", "name": "f", "input": {}}));
    assert_eq!(messages[1]["content"][2], json!({"type": "text", "text": "B"}));
    assert_eq!(messages[2]["content"][0]["type"], "tool_result");
    assert_eq!(messages[2]["content"][1]["type"], "text");
}

#[test]
fn arguments_that_are_not_a_json_object_are_refused_naming_messages() {
    let with_arguments = |arguments: &str| {
        json!({"model": "m", "messages": [
            user("Hi"),
            {"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": arguments}}]},
            {"role": "tool", "tool_call_id": "c", "content": "ok"}
        ]})
    };
    let (param, message) = refused(with_arguments("{\"city\": "));
    assert_eq!(param, "messages");
    assert!(message.contains("messages[1].tool_calls[0].function.arguments"), "{message}");
    let (param, message) = refused(with_arguments("[1, 2]"));
    assert_eq!(param, "messages");
    assert!(message.contains("JSON object"), "{message}");
}

#[test]
fn images_and_pdfs_become_image_and_document_blocks() {
    let body = mapped(json!({
        "model": "m",
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": "Compare these."},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "high"},
             "cache_control": {"type": "ephemeral"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
            {"type": "image_url", "image_url": {"url": "data:application/pdf;base64,JVBERi0xLjQ="}},
            {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0xLjc=", "filename": "report.pdf"}}
        ]}]
    }));
    assert_eq!(
        body["messages"][0]["content"],
        json!([
            {"type": "text", "text": "Compare these."},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
             "cache_control": {"type": "ephemeral"}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjQ="}},
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjc="}}
        ])
    );
    let local = json!({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "file:///etc/passwd"}}
    ]}]});
    let (param, message) = refused(local);
    assert_eq!(param, "messages");
    assert!(message.contains("messages[0].content[0].image_url.url"), "{message}");
}

#[test]
fn audio_and_other_parts_are_refused_unless_dropped() {
    let request = json!({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "Transcribe"},
        {"type": "input_audio", "input_audio": {"data": "UklGR", "format": "wav"}},
        {"type": "file", "file": {"file_id": "file-abc"}}
    ]}]});
    let (param, message) = refused(request.clone());
    assert_eq!(param, "messages");
    assert!(message.contains("`input_audio`") && message.contains("drop_params"), "{message}");
    let dropped = mapped_with(request, &DROPPING);
    assert_eq!(dropped["messages"][0]["content"], json!([{"type": "text", "text": "Transcribe"}]));
}

#[test]
fn json_schema_answers_come_through_a_forced_json_tool() {
    let schema = json!({"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]});
    let request = json!({
        "model": "m",
        "messages": [user("Who wrote Hamlet?")],
        "response_format": {"type": "json_schema", "json_schema": {"name": "person", "description": "A person", "schema": schema}}
    });
    assert!(json_mode(&chat(request.clone())));
    let body = mapped(request);
    assert_eq!(body["tools"], json!([{"name": JSON_TOOL, "description": "A person", "input_schema": schema}]));
    assert_eq!(body["tool_choice"], json!({"type": "tool", "name": JSON_TOOL}));

    let object =
        mapped(json!({"model": "m", "messages": [user("JSON please")], "response_format": {"type": "json_object"}}));
    assert_eq!(
        object["tools"][0]["input_schema"],
        json!({"type": "object", "additionalProperties": true, "properties": {}})
    );

    // Anthropic refuses a forced tool while the model thinks: the tool is offered, not forced.
    let thinking =
        mapped(json!({"model": "m", "messages": [user("JSON please")], "response_format": {"type": "json_object"},
                                 "reasoning_effort": "low"}));
    assert_eq!(thinking["tools"][0]["name"], JSON_TOOL);
    assert!(thinking.get("tool_choice").is_none());

    let text = json!({"model": "m", "messages": [user("Hi")], "response_format": {"type": "text"}});
    assert!(!json_mode(&chat(text.clone())));
    assert!(mapped(text).get("tools").is_none());
}

#[test]
fn parameters_anthropic_cannot_take_are_refused_naming_them_or_dropped() {
    let cases = [
        ("n", json!(2)),
        ("seed", json!(7)),
        ("logprobs", json!(true)),
        ("top_logprobs", json!(3)),
        ("logit_bias", json!({"50256": -100})),
        ("presence_penalty", json!(0.5)),
        ("frequency_penalty", json!(0.5)),
    ];
    for (param, value) in cases {
        let mut request = json!({"model": "m", "messages": [user("Hi")]});
        request[param] = value;
        let (named, message) = refused(request.clone());
        assert_eq!(named, param);
        assert!(message.contains(&format!("`{param}`")) && message.contains("drop_params"), "{message}");
        let dropped = mapped_with(request.clone(), &DROPPING);
        assert!(dropped.get(param).is_none(), "{param}");
        // LiteLLM's per-request `drop_params` drops it too.
        request["drop_params"] = json!(true);
        assert!(body(&chat(request), &OPTIONS).is_ok(), "{param}");
    }
    let (param, message) = refused(json!({"model": "m", "messages": [user("Hi")], "frobnicate": 1}));
    assert_eq!(param, "body");
    assert!(message.contains("`frobnicate`"), "{message}");
}

#[test]
fn gateway_fields_null_values_and_single_choices_pass() {
    let body = mapped(json!({
        "model": "m", "messages": [user("Hi")], "n": 1, "logprobs": false, "logit_bias": null,
        "num_retries": 2, "fallbacks": ["b"], "mock_response": null, "timeout": 30, "metadata": {"tags": ["x"]}
    }));
    for key in ["n", "logprobs", "logit_bias", "num_retries", "fallbacks", "timeout", "metadata"] {
        assert!(body.get(key).is_none(), "{key}");
    }
}

#[test]
fn empty_conversations_are_refused_naming_messages() {
    let (param, _) = refused(json!({"model": "m", "messages": []}));
    assert_eq!(param, "messages");
    let (param, message) = refused(json!({"model": "m", "messages": [{"role": "system", "content": "Only rules."}]}));
    assert_eq!(param, "messages");
    assert!(message.contains("besides the system"), "{message}");
}

#[test]
fn a_prefilled_last_assistant_turn_loses_its_trailing_whitespace() {
    let body = mapped(json!({"model": "m", "messages": [
        user("Name a color."),
        {"role": "assistant", "content": "The color is "}
    ]}));
    assert_eq!(body["messages"][1]["content"], json!([{"type": "text", "text": "The color is"}]));
    // Only the last turn: earlier assistant text is left as written.
    let earlier = mapped(json!({"model": "m", "messages": [
        user("A"), {"role": "assistant", "content": "B "}, user("C")
    ]}));
    assert_eq!(earlier["messages"][1]["content"][0]["text"], "B ");
}

#[test]
fn an_assistant_refusal_is_sent_as_what_it_said() {
    let body = mapped(json!({"model": "m", "messages": [
        user("Do the bad thing."),
        {"role": "assistant", "content": null, "refusal": "I can't help with that."},
        user("Fine.")
    ]}));
    assert_eq!(body["messages"][1]["content"], json!([{"type": "text", "text": "I can't help with that."}]));
}

#[test]
fn the_request_borrows_the_client_s_text() {
    let request = chat(json!({"model": "m", "messages": [user("A long prompt")]}));
    let mapped = super::request(&request, &OPTIONS).unwrap();
    match &mapped.messages[0].content {
        MessageContent::Blocks(blocks) => {
            assert!(matches!(&blocks[0], ContentBlock::Text { text: Cow::Borrowed(_), .. }));
        }
        MessageContent::Text(_) => panic!("blocks expected"),
    }
}

#[test]
fn thinking_blocks_given_back_lead_their_assistant_turn() {
    let body = mapped(json!({"model": "m", "reasoning_effort": "low", "messages": [
        user("Weather?"),
        {"role": "assistant", "content": null,
         "thinking_blocks": [
             {"type": "thinking", "thinking": "I should call the tool.", "signature": "EqQBCgIYAhIM"},
             {"type": "redacted_thinking", "data": "EmwKAhgB"}
         ],
         "tool_calls": [{"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "toolu_1", "content": "sunny"}
    ], "tools": [{"type": "function", "function": {"name": "get_weather"}}]}));
    assert_eq!(
        body["messages"][1]["content"],
        json!([
            {"type": "thinking", "thinking": "I should call the tool.", "signature": "EqQBCgIYAhIM"},
            {"type": "redacted_thinking", "data": "EmwKAhgB"},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}
        ])
    );
}

#[test]
fn empty_text_is_left_out_and_an_empty_message_with_it() {
    let body = mapped(json!({"model": "m", "messages": [
        {"role": "system", "content": ""},
        user("Hi"),
        {"role": "assistant", "content": "Hello."},
        user(""),
        {"role": "user", "content": [{"type": "text", "text": ""}, {"type": "text", "text": "Still there?"}]}
    ]}));
    assert!(body.get("system").is_none());
    assert_eq!(body["messages"][2], json!({"role": "user", "content": [{"type": "text", "text": "Still there?"}]}));
    assert_eq!(refused(json!({"model": "m", "messages": [user("")]})).0, "messages");
}
