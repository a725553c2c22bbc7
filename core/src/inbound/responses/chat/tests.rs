use serde_json::json;

use super::*;
use crate::inbound::responses::request::parse;
use crate::openai::ImageUrl;

fn chat(body: serde_json::Value) -> Result<ChatRequest, ApiError> {
    to_chat(&parse(body.to_string().as_bytes()).unwrap(), None)
}

fn messages(body: serde_json::Value) -> serde_json::Value {
    serde_json::to_value(chat(body).unwrap().messages).unwrap()
}

fn refused(body: serde_json::Value) -> (&'static str, String) {
    match chat(body.clone()) {
        Err(ApiError::InvalidParam { param, message }) => (param, message),
        other => panic!("{body}: expected a 400, got {other:?}"),
    }
}

#[test]
fn a_string_input_with_instructions_is_a_system_then_a_user_message() {
    assert_eq!(
        messages(json!({"model": "m", "instructions": "Be brief.", "input": "Hi"})),
        json!([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])
    );
    assert_eq!(
        messages(json!({"model": "m", "instructions": "", "input": "Hi"})),
        json!([{"role": "user", "content": "Hi"}])
    );
}

#[test]
fn each_input_item_kind_becomes_its_chat_message() {
    let got = messages(json!({"model": "m", "input": [
        {"role": "developer", "content": "Dev rules."},
        {"role": "system", "content": [{"type": "input_text", "text": "Sys rules.", "cache_control": {"type": "ephemeral"}}]},
        {"role": "user", "content": [
            {"type": "input_text", "text": "Look:"},
            {"type": "input_image", "image_url": "https://example.com/a.png", "detail": "low"},
            {"type": "input_file", "file_data": "data:application/pdf;base64,JVBER", "filename": "a.pdf"}
        ]},
        {"role": "assistant", "content": [{"type": "output_text", "text": "A cat."}, {"type": "refusal", "refusal": "No more."}]},
        {"role": "user", "content": "Weather?"},
        {"type": "function_call", "call_id": "call_1", "name": "weather", "arguments": "{\"city\":\"Paris\"}"},
        {"type": "function_call_output", "call_id": "call_1", "output": [{"type": "input_text", "text": "Sunny"}]}
    ]}));
    assert_eq!(
        got,
        json!([
            {"role": "system", "content": "Dev rules."},
            {"role": "system", "content": [{"type": "text", "text": "Sys rules.", "cache_control": {"type": "ephemeral"}}]},
            {"role": "user", "content": [
                {"type": "text", "text": "Look:"},
                {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "low"}},
                {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBER", "filename": "a.pdf"}}
            ]},
            {"role": "assistant", "content": [{"type": "text", "text": "A cat."}], "refusal": "No more."},
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": [{"type": "text", "text": "Sunny"}]}
        ])
    );
}

#[test]
fn consecutive_function_calls_join_the_assistant_message_before_them() {
    let got = messages(json!({"model": "m", "input": [
        {"role": "user", "content": "Paris and Rome?"},
        {"role": "assistant", "content": "Checking both."},
        {"type": "function_call", "call_id": "c1", "name": "weather", "arguments": "{\"city\":\"Paris\"}"},
        {"type": "function_call", "call_id": "c2", "name": "weather", "arguments": "{\"city\":\"Rome\"}"},
        {"type": "function_call_output", "call_id": "c1", "output": "Sunny"},
        {"type": "function_call_output", "call_id": "c2", "output": "Rain"},
        {"type": "function_call", "call_id": "c3", "name": "advice", "arguments": "{}"}
    ]}));
    assert_eq!(
        got,
        json!([
            {"role": "user", "content": "Paris and Rome?"},
            {"role": "assistant", "content": "Checking both.", "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "c2", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Rome\"}"}}
            ]},
            {"role": "tool", "tool_call_id": "c1", "content": "Sunny"},
            {"role": "tool", "tool_call_id": "c2", "content": "Rain"},
            {"role": "assistant", "tool_calls": [
                {"id": "c3", "type": "function", "function": {"name": "advice", "arguments": "{}"}}
            ]}
        ])
    );
}

#[test]
fn thinking_blocks_this_gateway_wrote_go_back_to_the_next_assistant_message() {
    let blocks = json!([{"type": "thinking", "thinking": "hm", "signature": "sig"}, {"type": "redacted_thinking", "data": "xx"}]);
    let got = messages(json!({"model": "m", "input": [
        {"role": "user", "content": "Q"},
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": blocks.to_string()},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "ok"},
        {"type": "reasoning", "id": "rs_2", "summary": [], "encrypted_content": "gAAAAABo-openai-own-blob"},
        {"type": "reasoning", "id": "rs_3", "summary": [{"type": "summary_text", "text": "thought"}]},
        {"role": "assistant", "content": "Done."},
        {"type": "reasoning", "id": "rs_4", "summary": [], "encrypted_content": blocks.to_string()},
        {"role": "user", "content": "Thanks"}
    ]}));
    assert_eq!(
        got,
        json!([
            {"role": "user", "content": "Q"},
            {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
             "thinking_blocks": blocks},
            {"role": "tool", "tool_call_id": "c1", "content": "ok"},
            {"role": "assistant", "content": "Done."},
            {"role": "user", "content": "Thanks"}
        ])
    );
}

#[test]
fn the_parameters_map_to_chat_completions() {
    let request = chat(json!({
        "model": "group-a",
        "input": "Hi",
        "tools": [{"type": "function", "name": "f", "description": "F", "parameters": {"type": "object"}, "strict": true,
                   "cache_control": {"type": "ephemeral"}}],
        "tool_choice": "required",
        "parallel_tool_calls": false,
        "max_output_tokens": 100,
        "temperature": 0.2,
        "top_p": 0.9,
        "user": "u",
        "reasoning": {"effort": "low", "summary": "detailed"},
        "text": {"verbosity": "high"},
        "stream": true,
        "metadata": {"k": "v"},
        "store": false,
        "priority": 2,
        "prompt_cache_key": "pk"
    }))
    .unwrap();
    assert_eq!(
        serde_json::to_value(&request).unwrap(),
        json!({
            "model": "group-a",
            "messages": [{"role": "user", "content": "Hi"}],
            "stream": true,
            "stream_options": {"include_usage": true},
            "max_completion_tokens": 100,
            "temperature": 0.2,
            "top_p": 0.9,
            "tools": [{"type": "function", "function": {"name": "f", "description": "F",
                       "parameters": {"type": "object"}, "strict": true}, "cache_control": {"type": "ephemeral"}}],
            "tool_choice": "required",
            "parallel_tool_calls": false,
            "user": "u",
            "reasoning_effort": "low",
            "verbosity": "high",
            "priority": 2,
            "prompt_cache_key": "pk"
        })
    );
}

#[test]
fn tool_choice_and_parallel_tool_calls_go_only_with_tools_and_only_when_they_say_something() {
    let without_tools =
        chat(json!({"model": "m", "input": "x", "tool_choice": "none", "parallel_tool_calls": false})).unwrap();
    assert_eq!((without_tools.tool_choice, without_tools.parallel_tool_calls, without_tools.tools), (None, None, None));
    let tools = json!([{"type": "function", "name": "f"}]);
    let parallel = chat(json!({"model": "m", "input": "x", "tools": tools, "parallel_tool_calls": true,
        "tool_choice": {"type": "function", "name": "f"}}))
    .unwrap();
    assert_eq!(parallel.parallel_tool_calls, None);
    assert_eq!(
        serde_json::to_value(parallel.tool_choice).unwrap(),
        json!({"type": "function", "function": {"name": "f"}})
    );
    assert_eq!(serde_json::to_value(parallel.tools).unwrap(), json!([{"type": "function", "function": {"name": "f"}}]));
    let plain = chat(json!({"model": "m", "input": "x"})).unwrap();
    assert_eq!((plain.stream, plain.stream_options, plain.max_completion_tokens), (false, None, None));
}

#[test]
fn text_formats_become_response_formats() {
    let format = |format: serde_json::Value| {
        let request = chat(json!({"model": "m", "input": "x", "text": {"format": format}})).unwrap();
        serde_json::to_value(request.response_format).unwrap()
    };
    assert_eq!(format(json!({"type": "text"})), json!(null));
    assert_eq!(format(json!({"type": "json_object"})), json!({"type": "json_object"}));
    assert_eq!(
        format(json!({"type": "json_schema", "name": "person", "description": "A person", "strict": true,
            "schema": {"type": "object", "properties": {"name": {"type": "string"}}}})),
        json!({"type": "json_schema", "json_schema": {"name": "person", "description": "A person", "strict": true,
            "schema": {"type": "object", "properties": {"name": {"type": "string"}}}}})
    );
    assert_eq!(
        format(json!({"type": "json_schema", "name": "s", "schema": {}})),
        json!({"type": "json_schema", "json_schema": {"name": "s", "schema": {}}})
    );
}

#[test]
fn what_only_openai_serves_is_refused_naming_it() {
    let cases = [
        (json!({"model": "m", "input": "x", "background": true}), "background", "background responses"),
        (json!({"model": "m", "input": "x", "conversation": "conv_1"}), "conversation", "previous_response_id"),
        (json!({"model": "m", "input": "x", "prompt": {"id": "p"}}), "prompt", "prompt templates"),
        (json!({"model": "m", "input": "x", "context_management": []}), "context_management", "compaction"),
        (json!({"model": "m", "input": "x", "top_logprobs": 3}), "top_logprobs", "log probabilities"),
        (
            json!({"model": "m", "input": "x", "include": ["message.output_text.logprobs"]}),
            "include",
            "log probabilities",
        ),
        (
            json!({"model": "m", "input": "x", "tools": [{"type": "file_search", "vector_store_ids": []}]}),
            "tools",
            "`file_search`",
        ),
        (
            json!({"model": "m", "input": "x", "tool_choice": {"type": "web_search_preview"}}),
            "tool_choice",
            "`web_search_preview`",
        ),
        (
            json!({"model": "m", "previous_response_id": "resp_gone", "input": "x"}),
            "previous_response_id",
            "`resp_gone` not found",
        ),
        (
            json!({"model": "m", "input": [{"type": "item_reference", "id": "msg_1"}]}),
            "input",
            "`input[0]`: `item_reference` items",
        ),
        (
            json!({"model": "m", "input": [{"role": "user", "content": [{"type": "input_image", "file_id": "file-1"}]}]}),
            "input",
            "`input[0].content[0]`: `file_id` names a file in OpenAI's Files API",
        ),
        (
            json!({"model": "m", "input": [{"type": "function_call_output", "call_id": "c",
                "output": [{"type": "input_file", "file_url": "https://x/a.pdf"}]}]}),
            "input",
            "`input[0].output[0]`: a file by `file_url`",
        ),
        (
            json!({"model": "m", "input": [{"role": "developer", "content": [{"type": "input_image", "image_url": "u"}]}]}),
            "input",
            "`input[0].content[0]`: a system or developer message can only hold text",
        ),
        (json!({"model": "m", "instructions": "Only this."}), "input", "missing required parameter `input`"),
        (json!({"model": "m", "input": []}), "input", "missing required parameter `input`"),
    ];
    for (body, param, message) in cases {
        let (got_param, got_message) = refused(body.clone());
        assert_eq!(got_param, param, "{body}: {got_message}");
        assert!(got_message.contains(message), "{body}: {got_message}");
    }
}

#[test]
fn an_image_url_keeps_its_detail_and_a_data_url_passes_whole() {
    let request = chat(json!({"model": "m", "input": [{"role": "user", "content": [
        {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo=", "detail": "original"}
    ]}]}))
    .unwrap();
    let Message::User(UserMessage { content: openai::Content::Parts(parts), .. }) = &request.messages[0] else {
        panic!("{:?}", request.messages[0]);
    };
    assert_eq!(
        parts[0],
        openai::Part::ImageUrl {
            image_url: ImageUrl {
                url: "data:image/png;base64,iVBORw0KGgo=".into(),
                detail: Some("original".into()),
                format: None
            },
            cache_control: None,
        }
    );
}
