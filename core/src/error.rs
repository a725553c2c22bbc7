//! Every error a client can see, with its HTTP status and OpenAI's error body.
//!
//! [`ApiError::status`] matches every variant without a catch-all arm, so a new kind
//! of error cannot ship without deciding its status code.

use std::borrow::Cow;

use serde::Serialize;
use serde_json::Value;

use crate::secret::Secrets;

/// An error answered to the client as `{"error": {"message", "type", "param", "code"}}`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    #[error("the request body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("{message}")]
    InvalidParam { param: &'static str, message: String },
    #[error("missing Authorization header: send `Authorization: Bearer <your key>`")]
    MissingApiKey,
    #[error("invalid API key")]
    InvalidApiKey,
    #[error("{}", model_not_found(.model, .available))]
    ModelNotFound { model: String, available: Vec<String> },
    #[error("no job `{id}`: it never existed, or its result expired (job_ttl)")]
    JobNotFound { id: String },
    #[error("Response with id '{id}' not found.")]
    ResponseNotFound { id: String },
    #[error("no route for {method} {path}")]
    RouteNotFound { method: String, path: String },
    #[error("{method} is not allowed on {path}; use {allowed}")]
    MethodNotAllowed { method: String, path: String, allowed: &'static str },
    /// The deployment answered with an error: its status and message are passed on.
    #[error("{message}")]
    Upstream {
        status: u16,
        message: String,
        kind: String,
        param: Option<String>,
        code: Option<String>,
        retry_after_ms: Option<u64>,
    },
    #[error("deployment `{deployment}` could not be reached: {detail}")]
    UpstreamUnreachable { deployment: String, detail: String },
    #[error("deployment `{deployment}` answered with something that is not an answer: {detail}")]
    UpstreamInvalidResponse { deployment: String, detail: String },
    #[error("deployment `{deployment}` did not answer within {after_ms} ms")]
    Timeout { deployment: String, after_ms: u64 },
    #[error("every deployment of `{group}` is cooling down after failures; retry after {} s", secs(*.retry_after_ms))]
    AllCoolingDown { group: String, retry_after_ms: u64 },
    #[error("every deployment of `{group}` is at its rpm/tpm limit; retry after {} s", secs(*.retry_after_ms))]
    GroupRateLimited { group: String, retry_after_ms: u64 },
    #[error("every deployment of `{group}` is at its max_parallel_requests")]
    GroupBusy { group: String },
    #[error("the queue of `{group}` is full ({max} requests wait already)")]
    QueueFull { group: String, max: usize },
    #[error(
        "waited {waited_ms} ms in the queue of `{group}` (place {position} in line) without a deployment becoming free"
    )]
    QueueTimeout { group: String, waited_ms: u64, position: usize },
    #[error("no deployment of `{group}` runs in the region the request allows (allowed_model_region)")]
    NoneInRegion { group: String },
    #[error("the prompt (about {tokens} tokens) is longer than any deployment of `{group}` accepts (max_input_tokens)")]
    ContextWindowExceeded { group: String, tokens: u64 },
    /// The first failure of a request that also failed everywhere else it went.
    #[error("{error} (tried: {tried})")]
    Tried { error: Box<ApiError>, tried: String },
    #[error("the coordinator of `{group}` is unavailable (it may have restarted); retry the request: {detail}")]
    CoordinatorUnavailable { group: String, detail: String },
    /// Cloudflare refused a call to the group's coordinator as overloaded: it is
    /// not retried into it (see `coordinator::local::Outage`).
    #[error(
        "the coordinator of `{group}` is overloaded; what needs it (a deployment with an rpm/tpm limit, \
         a cooldown's probe, the queue) is refused rather than retried into it; retry the request"
    )]
    CoordinatorOverloaded { group: String },
    #[error("{0}")]
    Config(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> u16 {
        match self {
            Self::MalformedJson(_)
            | Self::InvalidParam { .. }
            | Self::ContextWindowExceeded { .. }
            | Self::NoneInRegion { .. } => 400,
            Self::MissingApiKey | Self::InvalidApiKey => 401,
            Self::ModelNotFound { .. }
            | Self::RouteNotFound { .. }
            | Self::JobNotFound { .. }
            | Self::ResponseNotFound { .. } => 404,
            Self::MethodNotAllowed { .. } => 405,
            Self::Upstream { status, .. } => *status,
            Self::UpstreamUnreachable { .. } | Self::UpstreamInvalidResponse { .. } => 502,
            Self::CoordinatorUnavailable { .. } | Self::CoordinatorOverloaded { .. } => 503,
            Self::Timeout { .. } | Self::QueueTimeout { .. } => 408,
            Self::AllCoolingDown { .. }
            | Self::GroupRateLimited { .. }
            | Self::GroupBusy { .. }
            | Self::QueueFull { .. } => 429,
            Self::Tried { error, .. } => error.status(),
            Self::Config(_) | Self::Internal(_) => 500,
        }
    }

    /// Seconds for a `retry-after` header: set on every 429 and wherever the
    /// gateway knows when trying again makes sense.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::AllCoolingDown { retry_after_ms, .. } | Self::GroupRateLimited { retry_after_ms, .. } => {
                Some(secs(*retry_after_ms))
            }
            Self::Upstream { retry_after_ms: Some(ms), .. } => Some(ms.div_ceil(1000)),
            Self::GroupBusy { .. }
            | Self::QueueFull { .. }
            | Self::CoordinatorUnavailable { .. }
            | Self::CoordinatorOverloaded { .. } => Some(1),
            Self::Upstream { status: 429, .. } => Some(1),
            Self::Tried { error, .. } => error.retry_after_secs(),
            Self::Upstream { .. }
            | Self::MalformedJson(_)
            | Self::InvalidParam { .. }
            | Self::MissingApiKey
            | Self::InvalidApiKey
            | Self::ModelNotFound { .. }
            | Self::JobNotFound { .. }
            | Self::ResponseNotFound { .. }
            | Self::RouteNotFound { .. }
            | Self::MethodNotAllowed { .. }
            | Self::UpstreamUnreachable { .. }
            | Self::UpstreamInvalidResponse { .. }
            | Self::Timeout { .. }
            | Self::QueueTimeout { .. }
            | Self::ContextWindowExceeded { .. }
            | Self::NoneInRegion { .. }
            | Self::Config(_)
            | Self::Internal(_) => None,
        }
    }

    /// Its OpenAI `error.type`.
    pub fn kind(&self) -> &str {
        match self {
            Self::MalformedJson(_)
            | Self::InvalidParam { .. }
            | Self::ModelNotFound { .. }
            | Self::RouteNotFound { .. }
            | Self::JobNotFound { .. }
            | Self::ResponseNotFound { .. }
            | Self::MethodNotAllowed { .. }
            | Self::ContextWindowExceeded { .. }
            | Self::NoneInRegion { .. } => "invalid_request_error",
            Self::MissingApiKey | Self::InvalidApiKey => "authentication_error",
            Self::Upstream { kind, .. } => kind,
            Self::UpstreamUnreachable { .. }
            | Self::UpstreamInvalidResponse { .. }
            | Self::CoordinatorUnavailable { .. }
            | Self::CoordinatorOverloaded { .. }
            | Self::Internal(_) => "api_error",
            Self::Timeout { .. } | Self::QueueTimeout { .. } => "timeout",
            Self::AllCoolingDown { .. } => "all_deployments_in_cooldown",
            Self::GroupRateLimited { .. } | Self::GroupBusy { .. } | Self::QueueFull { .. } => "rate_limit_error",
            Self::Tried { error, .. } => error.kind(),
            Self::Config(_) => "config_error",
        }
    }

    fn param(&self) -> Option<&str> {
        match self {
            Self::InvalidParam { param, .. } => Some(param),
            Self::ModelNotFound { .. } => Some("model"),
            Self::Upstream { param, .. } => param.as_deref(),
            Self::Tried { error, .. } => error.param(),
            Self::MalformedJson(_)
            | Self::MissingApiKey
            | Self::InvalidApiKey
            | Self::JobNotFound { .. }
            | Self::ResponseNotFound { .. }
            | Self::RouteNotFound { .. }
            | Self::MethodNotAllowed { .. }
            | Self::UpstreamUnreachable { .. }
            | Self::UpstreamInvalidResponse { .. }
            | Self::Timeout { .. }
            | Self::AllCoolingDown { .. }
            | Self::GroupRateLimited { .. }
            | Self::GroupBusy { .. }
            | Self::QueueFull { .. }
            | Self::QueueTimeout { .. }
            | Self::ContextWindowExceeded { .. }
            | Self::NoneInRegion { .. }
            | Self::CoordinatorUnavailable { .. }
            | Self::CoordinatorOverloaded { .. }
            | Self::Config(_)
            | Self::Internal(_) => None,
        }
    }

    fn code(&self) -> Option<&str> {
        match self {
            Self::MalformedJson(_) => Some("invalid_json"),
            Self::InvalidParam { .. } => Some("invalid_value"),
            Self::MissingApiKey | Self::InvalidApiKey => Some("invalid_api_key"),
            Self::ModelNotFound { .. } => Some("model_not_found"),
            Self::RouteNotFound { .. } => Some("unknown_url"),
            Self::JobNotFound { .. } => Some("job_not_found"),
            Self::ResponseNotFound { .. } => Some("response_not_found"),
            Self::MethodNotAllowed { .. } => Some("method_not_allowed"),
            Self::Upstream { code, .. } => code.as_deref(),
            Self::UpstreamUnreachable { .. } => Some("upstream_unreachable"),
            Self::UpstreamInvalidResponse { .. } => Some("upstream_invalid_response"),
            Self::CoordinatorUnavailable { .. } => Some("coordinator_unavailable"),
            Self::CoordinatorOverloaded { .. } => Some("coordinator_overloaded"),
            Self::Timeout { .. } => Some("timeout"),
            Self::AllCoolingDown { .. } => Some("all_deployments_in_cooldown"),
            Self::GroupRateLimited { .. } => Some("rate_limit_exceeded"),
            Self::GroupBusy { .. } => Some("all_deployments_busy"),
            Self::QueueFull { .. } => Some("queue_full"),
            Self::QueueTimeout { .. } => Some("queue_timeout"),
            Self::ContextWindowExceeded { .. } => Some("context_length_exceeded"),
            Self::NoneInRegion { .. } => Some("no_deployment_in_region"),
            Self::Tried { error, .. } => error.code(),
            Self::Config(_) => Some("invalid_config"),
            Self::Internal(_) => None,
        }
    }

    /// OpenAI's error body for this error.
    pub fn body(&self) -> Vec<u8> {
        #[derive(Serialize)]
        struct Body<'a> {
            error: Inner<'a>,
        }
        #[derive(Serialize)]
        struct Inner<'a> {
            message: String,
            r#type: &'a str,
            param: Option<&'a str>,
            code: Option<&'a str>,
        }
        let body = Body {
            error: Inner { message: self.to_string(), r#type: self.kind(), param: self.param(), code: self.code() },
        };
        serde_json::to_vec(&body).unwrap_or_default()
    }

    /// Reads a deployment's error answer. OpenAI-shaped bodies keep their message,
    /// type, param and code; anything else (a proxy's HTML page, plain text, another
    /// provider's JSON) becomes the message, cut to a readable length.
    pub fn from_upstream(status: u16, body: &[u8]) -> Self {
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        let error = parsed.as_ref().and_then(|v| v.get("error"));
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
        let code = |v: Option<&Value>| match v {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let (message, kind, param, code) = match error {
            Some(Value::Object(e)) => {
                (text(e.get("message")), text(e.get("type")), text(e.get("param")), code(e.get("code")))
            }
            Some(Value::String(message)) => (Some(message.clone()), None, None, None),
            _ => (text(parsed.as_ref().and_then(|v| v.get("message"))), None, None, None),
        };
        let message = message.unwrap_or_else(|| {
            let raw = String::from_utf8_lossy(body);
            let raw = raw.trim();
            if raw.is_empty() { format!("upstream answered {status} with an empty body") } else { truncate(raw, 1000) }
        });
        Self::Upstream {
            status,
            message,
            kind: kind.unwrap_or_else(|| kind_for_status(status).to_owned()),
            param,
            code,
            retry_after_ms: None,
        }
    }
}

impl ApiError {
    /// This error with every configured secret masked in the text that came
    /// from a provider (its message, what a failed connection said).
    pub fn masked(self, secrets: &Secrets) -> Self {
        let mask = |text: String| match secrets.mask(&text) {
            Cow::Borrowed(_) => text,
            Cow::Owned(masked) => masked,
        };
        match self {
            Self::Upstream { status, message, kind, param, code, retry_after_ms } => Self::Upstream {
                status,
                message: mask(message),
                kind,
                param: param.map(mask),
                code: code.map(mask),
                retry_after_ms,
            },
            Self::UpstreamUnreachable { deployment, detail } => {
                Self::UpstreamUnreachable { deployment, detail: mask(detail) }
            }
            Self::UpstreamInvalidResponse { deployment, detail } => {
                Self::UpstreamInvalidResponse { deployment, detail: mask(detail) }
            }
            Self::Tried { error, tried } => Self::Tried { error: Box::new(error.masked(secrets)), tried: mask(tried) },
            // Everything else is the gateway's own text.
            Self::MalformedJson(_)
            | Self::InvalidParam { .. }
            | Self::MissingApiKey
            | Self::InvalidApiKey
            | Self::ModelNotFound { .. }
            | Self::JobNotFound { .. }
            | Self::ResponseNotFound { .. }
            | Self::RouteNotFound { .. }
            | Self::MethodNotAllowed { .. }
            | Self::Timeout { .. }
            | Self::AllCoolingDown { .. }
            | Self::GroupRateLimited { .. }
            | Self::GroupBusy { .. }
            | Self::QueueFull { .. }
            | Self::QueueTimeout { .. }
            | Self::ContextWindowExceeded { .. }
            | Self::NoneInRegion { .. }
            | Self::CoordinatorUnavailable { .. }
            | Self::CoordinatorOverloaded { .. }
            | Self::Config(_)
            | Self::Internal(_) => self,
        }
    }
}

fn secs(ms: u64) -> u64 {
    ms.div_ceil(1000).max(1)
}

/// OpenAI's error `type` for a status, for errors whose body does not say.
pub(crate) fn kind_for_status(status: u16) -> &'static str {
    match status {
        400 | 404 | 409 | 413 | 422 => "invalid_request_error",
        401 | 403 => "authentication_error",
        408 => "timeout",
        429 => "rate_limit_error",
        _ => "api_error",
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

fn model_not_found(model: &str, available: &[String]) -> String {
    format!(
        "The model `{model}` does not exist or you do not have access to it. Available models: {}",
        available.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(error: &ApiError) -> Value {
        serde_json::from_slice(&error.body()).unwrap()
    }

    #[test]
    fn bodies_have_openais_four_fields() {
        let error = ApiError::InvalidParam { param: "messages", message: "`messages` must be an array".into() };
        assert_eq!(error.status(), 400);
        assert_eq!(
            json(&error),
            serde_json::json!({"error": {"message": "`messages` must be an array",
                "type": "invalid_request_error", "param": "messages", "code": "invalid_value"}})
        );
        let error = ApiError::ModelNotFound { model: "gpt-5".into(), available: vec!["a".into(), "b".into()] };
        assert_eq!(error.status(), 404);
        let body = json(&error);
        assert_eq!(body["error"]["param"], "model");
        assert!(body["error"]["message"].as_str().unwrap().ends_with("Available models: a, b"));
        assert_eq!(json(&ApiError::MissingApiKey)["error"]["param"], Value::Null);
    }

    #[test]
    fn openai_shaped_upstream_errors_pass_through() {
        let body = br#"{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#;
        let error = ApiError::from_upstream(429, body);
        assert_eq!(error.status(), 429);
        assert_eq!(
            json(&error),
            serde_json::json!({"error": {"message": "Rate limit reached", "type": "requests",
                "param": null, "code": "rate_limit_exceeded"}})
        );
    }

    #[test]
    fn a_key_a_provider_echoes_is_masked() {
        let key = "sk-live-0123456789abcdefghijklmn";
        let secrets = Secrets::new([key]);
        let body = format!(r#"{{"error":{{"message":"Invalid key {key}","type":"auth","code":"bad {key}"}}}}"#);
        let error = ApiError::from_upstream(401, body.as_bytes()).masked(&secrets);
        let shown = String::from_utf8(error.body()).unwrap();
        assert!(!shown.contains(key) && shown.contains("sk-li...mn"), "{shown}");
        let tried = ApiError::Tried { error: Box::new(error), tried: format!("a/x: {key}") }.masked(&secrets);
        assert!(!tried.to_string().contains(key), "{tried}");
        let cut = ApiError::UpstreamUnreachable { deployment: "d".into(), detail: format!("GET ?key={key}") };
        assert!(!cut.masked(&secrets).to_string().contains(key));
    }

    #[test]
    fn other_upstream_bodies_become_the_message() {
        let error = ApiError::from_upstream(503, b"<html>Service Unavailable</html>");
        assert_eq!(error.status(), 503);
        let body = json(&error);
        assert_eq!(body["error"]["message"], "<html>Service Unavailable</html>");
        assert_eq!(body["error"]["type"], "api_error");
        assert_eq!(json(&ApiError::from_upstream(400, br#"{"error":"bad thing"}"#))["error"]["message"], "bad thing");
        assert_eq!(json(&ApiError::from_upstream(422, br#"{"message":"nope"}"#))["error"]["message"], "nope");
        assert!(json(&ApiError::from_upstream(500, b""))["error"]["message"].as_str().unwrap().contains("empty body"));
        let long = "x".repeat(5000);
        let message = json(&ApiError::from_upstream(500, long.as_bytes()))["error"]["message"].clone();
        assert_eq!(message.as_str().unwrap().chars().count(), 1001);
    }
}
