use serde_json::{Value, json};

use super::*;

const SIGNED_ID: &str = "call_a1b2c3__thought__EuYBCuMBAdHtim9+/w==";

fn options(model: &str) -> RequestOptions<'_> {
    RequestOptions { model, drop_params: false }
}

fn translate_with(chat: Value, options: &RequestOptions<'_>) -> Result<Value, ApiError> {
    let chat: ChatRequest = serde_json::from_value(chat).unwrap();
    body(&chat, options).map(|body| serde_json::from_slice(&body).unwrap())
}

fn gemini(chat: Value) -> Value {
    translate_with(chat, &options("gemini-2.5-flash")).unwrap()
}

fn refused(chat: Value) -> (&'static str, String) {
    match translate_with(chat, &options("gemini-2.5-flash")) {
        Err(ApiError::InvalidParam { param, message }) => (param, message),
        other => panic!("expected a 400, got {other:?}"),
    }
}

#[test]
fn system_messages_become_the_instruction_and_turns_alternate() {
    let body = gemini(json!({
        "model": "g",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Hi"},
            {"role": "user", "content": [{"type": "text", "text": "there"}, {"type": "text", "text": ""}]},
            {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
            {"role": "assistant", "content": "Bonjour"},
            {"role": "assistant", "content": [{"type": "text", "text": "!"}]},
            {"role": "assistant", "content": null},
            {"role": "user", "content": "Ça va ?"},
        ],
    }));
    assert_eq!(
        body,
        json!({
            "systemInstruction": {"parts": [{"text": "You are terse."}, {"text": "Answer in French."}]},
            "contents": [
                {"role": "user", "parts": [{"text": "Hi"}, {"text": "there"}]},
                {"role": "model", "parts": [{"text": "Bonjour"}, {"text": "!"}]},
                {"role": "user", "parts": [{"text": "Ça va ?"}]},
            ],
        })
    );
}

#[test]
fn sampling_parameters_go_into_the_generation_config() {
    let body = gemini(json!({
        "model": "g",
        "messages": [{"role": "user", "content": "Hi"}],
        "temperature": 0.2, "top_p": 0.9, "top_k": 40, "n": 2, "seed": 7,
        "max_tokens": 100, "max_completion_tokens": 300,
        "stop": "END", "presence_penalty": 0.5, "frequency_penalty": 0,
        "stream": true, "stream_options": {"include_usage": true},
    }));
    assert_eq!(
        body["generationConfig"],
        json!({"temperature": 0.2, "topP": 0.9, "topK": 40, "maxOutputTokens": 300, "stopSequences": ["END"],
               "candidateCount": 2, "seed": 7, "presencePenalty": 0.5})
    );
    let several = gemini(json!({"model": "g", "messages": [{"role": "user", "content": "Hi"}], "stop": ["a", "b"]}));
    assert_eq!(several["generationConfig"], json!({"stopSequences": ["a", "b"]}));
    let none = gemini(json!({"model": "g", "messages": [{"role": "user", "content": "Hi"}]}));
    assert!(none.get("generationConfig").is_none(), "{none}");
}

#[test]
fn tools_become_function_declarations_with_gemini_schemas() {
    let body = gemini(json!({
        "model": "g",
        "messages": [{"role": "user", "content": "Weather in Paris?"}],
        "tools": [
            {"type": "function", "function": {"name": "get_weather", "description": "Current weather", "strict": true,
                "parameters": {"type": "object", "additionalProperties": false,
                    "properties": {"city": {"type": "string"}, "unit": {"type": ["string", "null"], "enum": ["c", "f"]}},
                    "required": ["city", "unit"]}}},
            {"type": "function", "function": {"name": "now", "parameters": {"type": "object", "properties": {}}}},
            {"type": "function", "function": {"name": "ping"}},
        ],
        "tool_choice": "required",
    }));
    assert_eq!(
        body["tools"],
        json!([{"functionDeclarations": [
            {"name": "get_weather", "description": "Current weather", "parameters": {"type": "object",
                "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"], "nullable": true}},
                "required": ["city", "unit"]}},
            {"name": "now"},
            {"name": "ping"},
        ]}])
    );
    assert_eq!(body["toolConfig"], json!({"functionCallingConfig": {"mode": "ANY"}}));
}

#[test]
fn tool_choice_modes_and_a_named_function() {
    let config = |choice: Value| {
        let body = gemini(json!({"model": "g", "messages": [{"role": "user", "content": "Hi"}],
            "tools": [{"type": "function", "function": {"name": "look"}}], "tool_choice": choice}));
        body["toolConfig"]["functionCallingConfig"].clone()
    };
    assert_eq!(config(json!("auto")), json!({"mode": "AUTO"}));
    assert_eq!(config(json!("none")), json!({"mode": "NONE"}));
    assert_eq!(
        config(json!({"type": "function", "function": {"name": "look"}})),
        json!({"mode": "ANY", "allowedFunctionNames": ["look"]})
    );
    let (param, message) =
        refused(json!({"model": "g", "messages": [{"role": "user", "content": "Hi"}], "tool_choice": "sometimes"}));
    assert_eq!(param, "tool_choice");
    assert!(message.contains("sometimes"), "{message}");
    let (param, _) = refused(json!({"model": "g", "messages": [{"role": "user", "content": "Hi"}],
        "tools": [{"type": "web_search", "function": {"name": "x"}}]}));
    assert_eq!(param, "tools");
}

fn tool_conversation() -> Value {
    json!({
        "model": "g",
        "messages": [
            {"role": "user", "content": "Weather and time in Paris?"},
            {"role": "assistant", "content": "Let me check.", "tool_calls": [
                {"id": SIGNED_ID, "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}},
                {"id": "call_d4e5f6", "type": "function", "function": {"name": "get_time", "arguments": ""}},
            ]},
            {"role": "tool", "tool_call_id": SIGNED_ID, "content": "{\"temp_c\": 18, \"sky\": \"clear\"}"},
            {"role": "tool", "tool_call_id": "call_d4e5f6", "content": [{"type": "text", "text": "14:05"}]},
            {"role": "user", "content": "Thanks!"},
        ],
    })
}

#[test]
fn tool_calls_and_results_become_function_calls_and_responses() {
    let body = gemini(tool_conversation());
    assert_eq!(
        body["contents"],
        json!([
            {"role": "user", "parts": [{"text": "Weather and time in Paris?"}]},
            {"role": "model", "parts": [
                {"text": "Let me check."},
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "EuYBCuMBAdHtim9+/w=="},
                {"functionCall": {"name": "get_time", "args": {}}},
            ]},
            {"role": "user", "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"temp_c": 18, "sky": "clear"}}},
                {"functionResponse": {"name": "get_time", "response": {"content": "14:05"}}},
            ]},
            {"role": "user", "parts": [{"text": "Thanks!"}]},
        ])
    );
}

#[test]
fn gemini_3_gets_the_skip_signature_where_a_turn_lost_its_own() {
    let mut chat = tool_conversation();
    chat["messages"][1]["tool_calls"][0]["id"] = json!("call_from_another_gateway");
    chat["messages"][2]["tool_call_id"] = json!("call_from_another_gateway");
    let gemini_3 = translate_with(chat.clone(), &options("gemini-3-pro-preview")).unwrap();
    let parts = &gemini_3["contents"][1]["parts"];
    assert_eq!(parts[1]["thoughtSignature"], call_id::SKIP_VALIDATION);
    assert!(parts[2].get("thoughtSignature").is_none());
    // A signed turn keeps its own; older models get none made up.
    let signed = translate_with(tool_conversation(), &options("gemini-3-pro-preview")).unwrap();
    assert_eq!(signed["contents"][1]["parts"][1]["thoughtSignature"], "EuYBCuMBAdHtim9+/w==");
    let older = translate_with(chat, &options("gemini-2.5-pro")).unwrap();
    assert!(older["contents"][1]["parts"][1].get("thoughtSignature").is_none());
}

#[test]
fn bad_arguments_and_unanswerable_tool_results_are_refused() {
    let mut chat = tool_conversation();
    chat["messages"][1]["tool_calls"][1]["function"]["arguments"] = json!("{\"zone\": ");
    let (param, message) = refused(chat);
    assert_eq!(param, "messages");
    assert!(message.starts_with("messages[1].tool_calls[1].function.arguments is not valid JSON"), "{message}");
    let mut chat = tool_conversation();
    chat["messages"][1]["tool_calls"][0]["function"]["arguments"] = json!("[1, 2]");
    assert!(refused(chat).1.contains("must be a JSON object"));
    let mut chat = tool_conversation();
    chat["messages"][3]["tool_call_id"] = json!("call_unknown");
    let (_, message) = refused(chat);
    assert!(message.contains("messages[3].tool_call_id `call_unknown`"), "{message}");
}

#[test]
fn images_audio_and_files_go_inline_or_by_reference() {
    let body = gemini(json!({"model": "g", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "Compare"},
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ", "detail": "high"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/photos/cat.PNG?size=large"}},
        {"type": "image_url", "image_url": {"url": "https://cdn.example.com/render", "format": "image/webp"}},
        {"type": "image_url", "image_url": {"url": "gs://bucket/scans/page.pdf"}},
        {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "a.pdf"}},
    ]}]}));
    assert_eq!(
        body["contents"][0]["parts"],
        json!([
            {"text": "Compare"},
            {"inlineData": {"mimeType": "image/jpeg", "data": "/9j/4AAQ"}},
            {"fileData": {"mimeType": "image/png", "fileUri": "https://example.com/photos/cat.PNG?size=large"}},
            {"fileData": {"mimeType": "image/webp", "fileUri": "https://cdn.example.com/render"}},
            {"fileData": {"mimeType": "application/pdf", "fileUri": "gs://bucket/scans/page.pdf"}},
            {"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}},
            {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}},
        ])
    );
}

#[test]
fn media_gemini_cannot_take_is_refused_with_its_place() {
    let image = |url: &str| {
        json!({"model": "g", "messages": [{"role": "user", "content": [{"type": "text", "text": "?"},
            {"type": "image_url", "image_url": {"url": url}}]}]})
    };
    let (param, message) = refused(image("https://example.com/image?id=4"));
    assert_eq!(param, "messages");
    assert!(message.starts_with("messages[0].content[1]: Gemini needs the media type"), "{message}");
    assert!(refused(image("ftp://example.com/a.png")).1.contains("neither a data URL"));
    assert!(refused(image("data:image/png,rawbytes")).1.contains("base64"));
    let (_, message) = refused(json!({"model": "g", "messages": [{"role": "user", "content": [
        {"type": "video_url", "video_url": {"url": "https://example.com/v.mp4"}}]}]}));
    assert!(message.contains("`video_url`"), "{message}");
}

#[test]
fn response_formats_ask_for_json() {
    let json_object = gemini(json!({"model": "g", "messages": [{"role": "user", "content": "Hi"}],
        "response_format": {"type": "json_object"}}));
    assert_eq!(json_object["generationConfig"], json!({"responseMimeType": "application/json"}));
    let json_schema = gemini(json!({"model": "g", "messages": [{"role": "user", "content": "Hi"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "person", "strict": true, "schema": {
            "type": "object", "additionalProperties": false,
            "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}, "required": ["name", "age"]}}}}));
    let mut config = json_schema["generationConfig"].clone();
    let ordering = config["responseSchema"].as_object_mut().unwrap().remove("propertyOrdering").unwrap();
    assert_eq!(ordering.as_array().unwrap().len(), 2);
    assert_eq!(
        config,
        json!({"responseMimeType": "application/json", "responseSchema": {"type": "object",
            "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}, "required": ["name", "age"]}})
    );
    let text = gemini(
        json!({"model": "g", "messages": [{"role": "user", "content": "Hi"}], "response_format": {"type": "text"}}),
    );
    assert!(text.get("generationConfig").is_none());
}

#[test]
fn parameters_gemini_lacks_are_refused_unless_dropped() {
    let chat = json!({"model": "g", "messages": [{"role": "user", "content": "Hi"}],
        "logprobs": true, "top_logprobs": 3, "user": "u-42", "metadata": {"trace": "t"}, "logit_bias": {}});
    let (param, message) = refused(chat.clone());
    assert_eq!(param, "logprobs");
    assert!(message.contains("`logprobs`, `top_logprobs`"), "{message}");
    assert!(!message.contains("user") && !message.contains("logit_bias"), "{message}");
    let dropped = translate_with(chat, &RequestOptions { model: "gemini-2.5-flash", drop_params: true }).unwrap();
    assert_eq!(dropped, json!({"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}));
    // Fields set to what asks nothing are not refused.
    gemini(
        json!({"model": "g", "messages": [{"role": "user", "content": "Hi"}], "logprobs": false, "top_logprobs": null}),
    );
    let (param, _) = refused(json!({"model": "g", "messages": [{"role": "user", "content": "Hi"}], "my_flag": 1}));
    assert_eq!(param, "body");
}

#[test]
fn parallel_tool_calls_false_is_refused_only_with_several_tools() {
    let chat = |tools: Value| json!({"model": "g", "messages": [{"role": "user", "content": "Hi"}], "tools": tools, "parallel_tool_calls": false});
    let one = json!([{"type": "function", "function": {"name": "a"}}]);
    gemini(chat(one));
    let two = json!([{"type": "function", "function": {"name": "a"}}, {"type": "function", "function": {"name": "b"}}]);
    assert_eq!(refused(chat(two)).0, "parallel_tool_calls");
}

#[test]
fn reasoning_effort_sets_the_thinking_config() {
    let chat = json!({"model": "g", "messages": [{"role": "user", "content": "Hi"}], "reasoning_effort": "low"});
    assert_eq!(
        gemini(chat.clone())["generationConfig"],
        json!({"thinkingConfig": {"includeThoughts": true, "thinkingBudget": 1024}})
    );
    let gemini_3 = translate_with(chat, &options("gemini-3-pro-preview")).unwrap();
    assert_eq!(
        gemini_3["generationConfig"],
        json!({"thinkingConfig": {"includeThoughts": true, "thinkingLevel": "low"}})
    );
    let (param, _) =
        refused(json!({"model": "g", "messages": [{"role": "user", "content": "Hi"}], "reasoning_effort": "max"}));
    assert_eq!(param, "reasoning_effort");
}

#[test]
fn safety_settings_and_cached_content_pass_through() {
    let body = gemini(json!({"model": "g", "messages": [{"role": "user", "content": "Hi"}],
        "safety_settings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
        "cached_content": "cachedContents/abc123"}));
    assert_eq!(body["safetySettings"], json!([{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]));
    assert_eq!(body["cachedContent"], "cachedContents/abc123");
    assert_eq!(
        refused(json!({"model": "g", "messages": [{"role": "user", "content": "Hi"}], "safety_settings": "none"})).0,
        "safety_settings"
    );
}

#[test]
fn a_conversation_of_only_system_messages_is_refused() {
    let (param, message) = refused(json!({"model": "g", "messages": [{"role": "system", "content": "Be nice."}]}));
    assert_eq!(param, "messages");
    assert!(message.contains("user or assistant message"), "{message}");
}

#[test]
fn a_tool_result_with_an_image_carries_it_in_the_response() {
    let mut chat = tool_conversation();
    chat["messages"][3]["content"] = json!([
        {"type": "text", "text": "screenshot taken"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
    ]);
    let body = gemini(chat);
    assert_eq!(
        body["contents"][2]["parts"][1],
        json!({"functionResponse": {"name": "get_time", "response": {"content": "screenshot taken"},
            "parts": [{"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}]}})
    );
}

#[test]
fn the_gateways_own_fields_are_never_sent() {
    let body = gemini(json!({
        "model": "g",
        "messages": [{"role": "user", "content": "Hi"}],
        "priority": 1, "fallbacks": [], "num_retries": 2, "timeout": 5, "tags": ["a"], "cache": {"no-cache": true}
    }));
    let text = body.to_string();
    for field in ["priority", "fallbacks", "num_retries", "timeout", "tags", "cache"] {
        assert!(!text.contains(field), "{field}: {text}");
    }
}
