use super::*;
use crate::inbound::messages::request::parse;
use crate::provider::anthropic::request::{RequestOptions, body};

const MODEL: &str = "claude-sonnet-4-5";

fn request(body: &Value) -> Request {
    parse(&serde_json::to_vec(body).unwrap()).unwrap()
}

fn chat(body: &Value) -> Value {
    serde_json::to_value(to_chat(&request(body)).unwrap()).unwrap()
}

/// The Anthropic body the provider side writes for the chat request this body maps to.
fn round_trip(original: &Value) -> Value {
    let chat = to_chat(&request(original)).unwrap();
    let options = RequestOptions { model: MODEL, drop_params: false, on_vertex: false };
    serde_json::from_slice(&body(&chat, &options).unwrap()).unwrap()
}

fn text(text: &str) -> Value {
    json!({"type": "text", "text": text})
}

#[test]
fn a_plain_request_maps_field_by_field() {
    let mapped = chat(&json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 300,
        "system": "You are terse.",
        "messages": [
            {"role": "user", "content": "Hello"},
            {"role": "assistant", "content": "Hi."},
            {"role": "user", "content": "Weather?"}
        ],
        "temperature": 0.2,
        "top_p": 0.9,
        "top_k": 40,
        "stop_sequences": ["END", "STOP"],
        "metadata": {"user_id": "user-8c1f"},
        "stream": true,
        "priority": 1,
        "fallbacks": ["gpt-4o"]
    }));
    assert_eq!(
        mapped,
        json!({
            "model": "claude-sonnet-4-5",
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "Hello"},
                {"role": "assistant", "content": "Hi."},
                {"role": "user", "content": "Weather?"}
            ],
            "stream": true,
            "stream_options": {"include_usage": true},
            "max_tokens": 300,
            "temperature": 0.2,
            "top_p": 0.9,
            "top_k": 40,
            "stop": ["END", "STOP"],
            "user": "user-8c1f",
            "priority": 1,
            "fallbacks": ["gpt-4o"]
        })
    );
}

#[test]
fn a_two_turn_tool_conversation_maps_to_chat_and_back_unchanged() {
    let original = json!({
        "model": MODEL,
        "max_tokens": 1024,
        "system": [{"type": "text", "text": "Use the tools.", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": [text("Weather in Paris and the time there?")]},
            {"role": "assistant", "content": [
                text("Checking both."),
                {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "toolu_02", "name": "get_time", "input": {"tz": "Europe/Paris"},
                 "cache_control": {"type": "ephemeral"}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01", "content": "Sunny, 24°C"},
                {"type": "tool_result", "tool_use_id": "toolu_02", "content": [text("14:05")],
                 "cache_control": {"type": "ephemeral"}},
                text("And tomorrow?")
            ]}
        ],
        "tools": [
            {"name": "get_weather", "description": "Weather now.",
             "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
            {"name": "get_time", "input_schema": {"type": "object", "properties": {"tz": {"type": "string"}}},
             "cache_control": {"type": "ephemeral"}}
        ],
        "tool_choice": {"type": "auto", "disable_parallel_tool_use": false}
    });
    let mapped = chat(&original);
    assert_eq!(
        mapped["messages"],
        json!([
            {"role": "system", "content": [{"type": "text", "text": "Use the tools.", "cache_control": {"type": "ephemeral"}}]},
            {"role": "user", "content": "Weather in Paris and the time there?"},
            {"role": "assistant", "content": "Checking both.", "tool_calls": [
                {"id": "toolu_01", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "toolu_02", "type": "function", "function": {"name": "get_time", "arguments": "{\"tz\":\"Europe/Paris\"}"}}
            ], "cache_control": {"type": "ephemeral"}},
            {"role": "tool", "tool_call_id": "toolu_01", "content": "Sunny, 24°C"},
            {"role": "tool", "tool_call_id": "toolu_02", "content": [{"type": "text", "text": "14:05"}],
             "cache_control": {"type": "ephemeral"}},
            {"role": "user", "content": "And tomorrow?"}
        ])
    );
    assert_eq!(
        mapped["tools"][0],
        json!({"type": "function", "function": {"name": "get_weather",
        "description": "Weather now.", "parameters": original["tools"][0]["input_schema"]}})
    );
    assert_eq!((&mapped["tool_choice"], &mapped["parallel_tool_calls"]), (&json!("auto"), &json!(true)));
    assert_eq!(round_trip(&original), original);
}

#[test]
fn thinking_blocks_keep_their_signatures_both_ways() {
    let original = json!({
        "model": MODEL,
        "max_tokens": 4096,
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "messages": [
            {"role": "user", "content": [text("Is 97 prime?")]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "Check divisors up to 9.", "signature": "EqQBCkgIARABGAIiQL"},
                {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"},
                {"type": "tool_use", "id": "toolu_01", "name": "is_prime", "input": {"n": 97}}
            ]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01", "content": "true"}]}
        ],
        "tools": [{"name": "is_prime", "input_schema": {"type": "object", "properties": {"n": {"type": "integer"}}}}]
    });
    let mapped = chat(&original);
    assert_eq!(
        mapped["messages"][1]["thinking_blocks"],
        json!([
            {"type": "thinking", "thinking": "Check divisors up to 9.", "signature": "EqQBCkgIARABGAIiQL"},
            {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"}
        ])
    );
    assert_eq!(mapped["thinking"], json!({"type": "enabled", "budget_tokens": 2048}));
    assert_eq!(round_trip(&original), original);
}

#[test]
fn images_and_pdfs_map_to_parts_and_back() {
    let original = json!({
        "model": MODEL,
        "max_tokens": 100,
        "messages": [{"role": "user", "content": [
            text("Compare these."),
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
             "cache_control": {"type": "ephemeral"}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjQ="}}
        ]}]
    });
    let mapped = chat(&original);
    assert_eq!(
        mapped["messages"][0]["content"],
        json!([
            {"type": "text", "text": "Compare these."},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="},
             "cache_control": {"type": "ephemeral"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
            {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0xLjQ="}}
        ])
    );
    assert_eq!(round_trip(&original), original);
    // A tool's result may show an image too.
    let in_result = chat(&json!({"model": MODEL, "max_tokens": 100, "messages": [
        {"role": "user", "content": "Screenshot?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "shot", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/"}}]}]}
    ]}));
    assert_eq!(
        in_result["messages"][2],
        json!({"role": "tool", "tool_call_id": "t1", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/"}}]})
    );
    let titled = chat(&json!({"model": MODEL, "max_tokens": 100, "messages": [{"role": "user", "content": [
        {"type": "document", "title": "Q3", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}}]}]}));
    assert_eq!(titled["messages"][0]["content"][0]["file"]["filename"], "Q3");
}

#[test]
fn strings_come_back_as_one_text_block() {
    let original = json!({"model": MODEL, "max_tokens": 10, "system": "Be brief.",
                          "messages": [{"role": "user", "content": "Hi"}]});
    let back = round_trip(&original);
    assert_eq!(back["system"], json!([text("Be brief.")]));
    assert_eq!(back["messages"], json!([{"role": "user", "content": [text("Hi")]}]));
}

#[test]
fn each_tool_choice_maps_to_chat_and_back() {
    let tools = json!([{"name": "f", "input_schema": {"type": "object"}}]);
    let cases = [
        (json!({"type": "auto"}), json!("auto"), Value::Null),
        (json!({"type": "any"}), json!("required"), Value::Null),
        (json!({"type": "any", "disable_parallel_tool_use": true}), json!("required"), json!(false)),
        (
            json!({"type": "tool", "name": "f", "disable_parallel_tool_use": false}),
            json!({"type": "function", "function": {"name": "f"}}),
            json!(true),
        ),
        (json!({"type": "none"}), json!("none"), Value::Null),
    ];
    for (choice, openai, parallel) in cases {
        let original = json!({"model": MODEL, "max_tokens": 10, "messages": [{"role": "user", "content": [text("x")]}],
                              "tools": tools, "tool_choice": choice});
        let mapped = chat(&original);
        assert_eq!((&mapped["tool_choice"], &mapped["parallel_tool_calls"]), (&openai, &parallel), "{choice}");
        assert_eq!(round_trip(&original), original, "{choice}");
    }
}

#[test]
fn sampling_stop_and_user_come_back_unchanged() {
    let original = json!({"model": MODEL, "max_tokens": 10, "messages": [{"role": "user", "content": [text("x")]}],
                          "stop_sequences": ["###"], "temperature": 0.5, "top_p": 0.8, "top_k": 5,
                          "metadata": {"user_id": "3f2a9c"}, "stream": true});
    assert_eq!(round_trip(&original), original);
}

#[test]
fn effort_and_the_output_schema_have_their_chat_counterparts() {
    let schema = json!({"type": "object", "properties": {"answer": {"type": "string"}}});
    let mapped = chat(&json!({"model": MODEL, "max_tokens": 10, "messages": [{"role": "user", "content": "x"}],
                              "output_config": {"effort": "max", "format": {"type": "json_schema", "schema": schema}}}));
    assert_eq!(mapped["reasoning_effort"], "xhigh");
    assert_eq!(
        mapped["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "response", "schema": schema, "strict": true}})
    );
    for (effort, openai) in [("low", "low"), ("medium", "medium"), ("high", "high"), ("xhigh", "xhigh")] {
        let mapped = chat(&json!({"model": MODEL, "max_tokens": 10, "messages": [{"role": "user", "content": "x"}],
                                  "output_config": {"effort": effort}}));
        assert_eq!(mapped["reasoning_effort"], openai);
    }
}

#[test]
fn a_final_empty_assistant_turn_is_no_message_and_a_prefill_is_kept() {
    let mapped = chat(&json!({"model": MODEL, "max_tokens": 10, "messages": [
        {"role": "user", "content": "x"}, {"role": "assistant", "content": ""}]}));
    assert_eq!(mapped["messages"].as_array().unwrap().len(), 1);
    let prefill = chat(&json!({"model": MODEL, "max_tokens": 10, "messages": [
        {"role": "user", "content": "x"}, {"role": "assistant", "content": [text("The answer is (")]}]}));
    assert_eq!(prefill["messages"][1], json!({"role": "assistant", "content": "The answer is ("}));
}

#[test]
fn what_only_anthropic_serves_is_refused_naming_it() {
    let request = request(&json!({"model": MODEL, "max_tokens": 10, "messages": [{"role": "user", "content": "x"}],
                                  "tools": [{"type": "web_search_20250305", "name": "web_search"}]}));
    assert_eq!(
        to_chat(&request),
        Err(MessagesError::AnthropicOnly("tools.0: the server tool `web_search_20250305`".to_owned()))
    );
    assert_eq!(
        to_chat(&request).unwrap_err().to_string(),
        "tools.0: the server tool `web_search_20250305`: only an Anthropic deployment can serve this request"
    );
}

#[test]
fn a_tool_result_flagged_as_an_error_keeps_its_text() {
    let mapped = chat(&json!({"model": MODEL, "max_tokens": 10, "messages": [
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "is_error": true,
                                      "content": "ENOENT: no such file"}]}
    ]}));
    assert_eq!(mapped["messages"][2], json!({"role": "tool", "tool_call_id": "t1", "content": "ENOENT: no such file"}));
}
