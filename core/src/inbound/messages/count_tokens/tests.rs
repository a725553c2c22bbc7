use super::*;
use crate::endpoint::Endpoint as ChatEndpoint;
use crate::request::ParsedRequest;
use serde_json::json;

fn parsed(body: &Value) -> Result<CountRequest, MessagesError> {
    parse_count(&serde_json::to_vec(body).unwrap())
}

#[test]
fn count_tokens_takes_the_request_without_the_answer_s_fields() {
    let request = parsed(&json!({
        "model": "claude-sonnet-4-5",
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "Hello"}],
        "tools": [{"name": "f", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "auto"},
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "output_config": {"effort": "low"},
        "priority": 1
    }))
    .unwrap();
    assert_eq!(request.model, "claude-sonnet-4-5");
    assert_eq!(request.tools.len(), 1);
    assert_eq!(Value::Object(request.gateway), json!({"priority": 1}));
    for field in [
        json!({"max_tokens": 10}),
        json!({"stream": true}),
        json!({"metadata": {}}),
        json!({"temperature": 1}),
        json!({"stop_sequences": []}),
    ] {
        let mut body = json!({"model": "m", "messages": [{"role": "user", "content": "x"}]});
        body.as_object_mut().unwrap().extend(field.as_object().unwrap().clone());
        let key = field.as_object().unwrap().keys().next().unwrap().clone();
        assert_eq!(parsed(&body), Err(MessagesError::Invalid(format!("{key}: Extra inputs are not permitted"))));
    }
    assert_eq!(
        parsed(&json!({"model": "m", "messages": [{"role": "user", "content": ""}]})),
        Err(MessagesError::Invalid(
            "messages.0: all messages must have non-empty content except for the optional final assistant message"
                .into()
        ))
    );
}

#[test]
fn the_estimate_counts_the_text_the_model_reads_at_four_bytes_a_token() {
    let request = parsed(&json!({
        "model": "m",
        "system": [{"type": "text", "text": "12345678"}],
        "messages": [
            {"role": "user", "content": "1234"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "1234", "signature": "not counted"},
                {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "12345678"}]},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
            ]}
        ],
        "tools": [{"name": "f", "description": "1234", "input_schema": {"type": "object"}}]
    }))
    .unwrap();
    // Text: 8 + 4 + 4 + (1 + 7, `{"a":1}`) + 8 + (1 + 4 + 17, `{"type":"object"}`) = 54 bytes, 14 tokens;
    // and one image.
    assert_eq!(estimate(&request), 14 + 1_600);
}

#[test]
fn a_pdf_counts_by_its_bytes() {
    let data = "A".repeat(4_000);
    let request = parsed(&json!({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": data}}
    ]}]}))
    .unwrap();
    assert_eq!(estimate(&request), 750);
}

#[test]
fn the_answer_is_the_input_tokens() {
    assert_eq!(count_body(1_614), br#"{"input_tokens":1614}"#);
}

#[test]
fn an_anthropic_deployment_gets_the_client_s_body_with_its_model() {
    // `ParsedRequest::upstream_body` already gives it: no function of its own here.
    let body =
        br#"{"model":"claude","messages":[{"role":"user","content":"Hi"}],"tools":[],"priority":1,"fallbacks":["b"]}"#;
    let request = ParsedRequest::parse(ChatEndpoint::ChatCompletions, body).unwrap();
    assert_eq!(
        String::from_utf8(request.upstream_body("claude-sonnet-4-5-20250929")).unwrap(),
        r#"{"model":"claude-sonnet-4-5-20250929","messages":[{"role":"user","content":"Hi"}],"tools":[]}"#
    );
}
