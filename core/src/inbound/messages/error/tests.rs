use super::*;
use crate::provider::anthropic::error::failure;
use serde_json::{Value, json};

fn reply(error: &ApiError) -> (u16, Value) {
    let (status, body) = error_reply(error);
    (status, serde_json::from_slice(&body).unwrap())
}

fn status_and_kind(error: &ApiError) -> (u16, String) {
    let (status, body) = reply(error);
    (status, body["error"]["type"].as_str().unwrap().to_owned())
}

fn upstream(status: u16, code: Option<&str>, message: &str) -> ApiError {
    ApiError::Upstream {
        status,
        message: message.to_owned(),
        kind: "api_error".to_owned(),
        param: None,
        code: code.map(str::to_owned),
        retry_after_ms: None,
    }
}

#[test]
fn the_body_is_anthropic_s_error_shape() {
    let (status, body) = reply(&ApiError::ModelNotFound { model: "claude-x".into(), available: vec!["a".into()] });
    assert_eq!(status, 404);
    assert_eq!(
        body,
        json!({"type": "error", "error": {"type": "not_found_error",
            "message": "The model `claude-x` does not exist or you do not have access to it. Available models: a"}})
    );
}

#[test]
fn every_error_of_the_gateway_has_anthropic_s_status_and_type() {
    let group = || "claude".to_owned();
    let cases = [
        (ApiError::MalformedJson("eof".into()), 400, "invalid_request_error"),
        (ApiError::InvalidParam { param: "body", message: "x".into() }, 400, "invalid_request_error"),
        (ApiError::MissingApiKey, 401, "authentication_error"),
        (ApiError::InvalidApiKey, 401, "authentication_error"),
        (ApiError::ModelNotFound { model: "m".into(), available: vec![] }, 404, "not_found_error"),
        (ApiError::JobNotFound { id: "j".into() }, 404, "not_found_error"),
        (ApiError::RouteNotFound { method: "GET".into(), path: "/x".into() }, 404, "not_found_error"),
        (
            ApiError::MethodNotAllowed { method: "GET".into(), path: "/v1/messages".into(), allowed: "POST" },
            405,
            "invalid_request_error",
        ),
        (ApiError::UpstreamUnreachable { deployment: "d".into(), detail: "x".into() }, 500, "api_error"),
        (ApiError::UpstreamInvalidResponse { deployment: "d".into(), detail: "x".into() }, 500, "api_error"),
        (ApiError::Timeout { deployment: "d".into(), after_ms: 600_000 }, 504, "timeout_error"),
        (ApiError::AllCoolingDown { group: group(), retry_after_ms: 5_000 }, 529, "overloaded_error"),
        (ApiError::GroupRateLimited { group: group(), retry_after_ms: 5_000 }, 429, "rate_limit_error"),
        (ApiError::GroupBusy { group: group() }, 529, "overloaded_error"),
        (ApiError::QueueFull { group: group(), max: 10 }, 529, "overloaded_error"),
        (ApiError::QueueTimeout { group: group(), waited_ms: 1, position: 1 }, 529, "overloaded_error"),
        (ApiError::NoneInRegion { group: group() }, 400, "invalid_request_error"),
        (ApiError::ContextWindowExceeded { group: group(), tokens: 300_000 }, 400, "invalid_request_error"),
        (ApiError::CoordinatorUnavailable { group: group(), detail: "x".into() }, 529, "overloaded_error"),
        (ApiError::CoordinatorOverloaded { group: group() }, 529, "overloaded_error"),
        (ApiError::Config("x".into()), 500, "api_error"),
        (ApiError::Internal("x".into()), 500, "api_error"),
        (
            ApiError::Tried { error: Box::new(ApiError::GroupBusy { group: group() }), tried: "a, b".into() },
            529,
            "overloaded_error",
        ),
    ];
    for (error, status, kind) in cases {
        assert_eq!(status_and_kind(&error), (status, kind.to_owned()), "{error:?}");
    }
}

#[test]
fn other_providers_errors_take_the_type_of_their_status() {
    let cases = [
        (400, 400, "invalid_request_error"),
        (401, 401, "authentication_error"),
        (402, 402, "billing_error"),
        (403, 403, "permission_error"),
        (404, 404, "not_found_error"),
        (408, 504, "timeout_error"),
        (409, 409, "invalid_request_error"),
        (413, 413, "request_too_large"),
        (422, 400, "invalid_request_error"),
        (429, 429, "rate_limit_error"),
        (500, 500, "api_error"),
        (502, 500, "api_error"),
        (503, 529, "overloaded_error"),
        (504, 504, "timeout_error"),
    ];
    for (from, status, kind) in cases {
        let error = upstream(from, Some("rate_limit_exceeded"), "x");
        assert_eq!(status_and_kind(&error), (status, kind.to_owned()), "{from}");
    }
}

#[test]
fn an_anthropic_deployment_s_error_keeps_its_type_and_status() {
    let body = json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}});
    let overloaded = failure(529, None, &serde_json::to_vec(&body).unwrap()).error;
    assert_eq!(
        reply(&overloaded),
        (529, json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}))
    );
    let body = json!({"type": "error", "error": {"type": "permission_error", "message": "no access"}});
    let forbidden = failure(403, None, &serde_json::to_vec(&body).unwrap()).error;
    assert_eq!(status_and_kind(&forbidden), (403, "permission_error".to_owned()));
}

#[test]
fn a_prompt_too_long_says_so_in_anthropic_s_words() {
    let (_, ours) = reply(&ApiError::ContextWindowExceeded { group: "claude".into(), tokens: 250_000 });
    assert!(
        ours["error"]["message"].as_str().unwrap().starts_with("prompt is too long: the prompt (about 250000 tokens)")
    );
    let openai =
        upstream(400, Some("context_length_exceeded"), "This model's maximum context length is 128000 tokens.");
    let (status, body) = reply(&openai);
    assert_eq!(status, 400);
    assert_eq!(body["error"]["message"], "prompt is too long: This model's maximum context length is 128000 tokens.");
    let anthropic = upstream(400, Some("invalid_request_error"), "prompt is too long: 208310 tokens > 200000 maximum");
    assert_eq!(reply(&anthropic).1["error"]["message"], "prompt is too long: 208310 tokens > 200000 maximum");
    let tried = ApiError::Tried { error: Box::new(openai), tried: "gpt-4o".into() };
    assert!(reply(&tried).1["error"]["message"].as_str().unwrap().starts_with("prompt is too long: This model's"));
}

#[test]
fn a_request_the_gateway_cannot_serve_is_a_400_naming_the_field() {
    let error: ApiError =
        MessagesError::Invalid("messages.0.role: Input should be 'user' or 'assistant'".into()).into();
    assert_eq!(
        reply(&error),
        (
            400,
            json!({"type": "error", "error": {"type": "invalid_request_error",
            "message": "messages.0.role: Input should be 'user' or 'assistant'"}})
        )
    );
    let only: ApiError = MessagesError::AnthropicOnly("tools.0: the server tool `web_search_20250305`".into()).into();
    assert_eq!(
        reply(&only).1["error"]["message"],
        "tools.0: the server tool `web_search_20250305`: only an Anthropic deployment can serve this request"
    );
}
