//! What went wrong with one attempt, classified once.
//!
//! Retries, fallbacks and cooldowns all match on [`FailureClass`]; nothing else
//! looks at status codes or error bodies to decide.

use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// The kind of an attempt's failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FailureClass {
    /// A 4xx that another try will not fix (400, 403, 409, 413, 422, ...).
    BadRequest,
    /// The prompt is too long for the deployment.
    ContextWindow,
    /// The provider's safety system refused the request.
    ContentPolicy,
    /// 401 or 402: the deployment's key or account.
    Authentication,
    /// 404: the deployment does not know the model.
    NotFound,
    /// 408, or the gateway cut the call at its timeout.
    Timeout,
    /// 429.
    RateLimit,
    /// Any 5xx.
    Internal,
    /// The deployment could not be reached at all.
    Connection,
    /// The deployment answered success with something that is not an answer (an
    /// HTML page from a captive proxy, a truncated body, JSON of another shape).
    InvalidResponse,
}

impl FailureClass {
    /// Whether this failure counts towards a cooldown: 429, 401, 402, 404, 408,
    /// every 5xx and unreachable deployments (LiteLLM exempts connection errors; an
    /// unreachable deployment is the first that should rest). Other 4xx are the
    /// request's fault, not the deployment's.
    pub fn counts_for_cooldown(self) -> bool {
        match self {
            Self::Authentication
            | Self::NotFound
            | Self::Timeout
            | Self::RateLimit
            | Self::Internal
            | Self::Connection
            | Self::InvalidResponse => true,
            Self::BadRequest | Self::ContextWindow | Self::ContentPolicy => false,
        }
    }

    /// LiteLLM's exception name, as used in `retry_policy` and `allowed_fails_policy`.
    pub fn litellm_name(self) -> &'static str {
        match self {
            Self::BadRequest => "BadRequestError",
            Self::ContextWindow => "ContextWindowExceededError",
            Self::ContentPolicy => "ContentPolicyViolationError",
            Self::Authentication => "AuthenticationError",
            Self::NotFound => "NotFoundError",
            Self::Timeout => "Timeout",
            Self::RateLimit => "RateLimitError",
            Self::Internal => "InternalServerError",
            Self::Connection => "APIConnectionError",
            // LiteLLM raises its generic APIError (a 500) for an answer it cannot read.
            Self::InvalidResponse => "InternalServerError",
        }
    }
}

/// One failed attempt: its class, the error the client would see, the
/// upstream's `Retry-After` when it sent one, and whether it asked to slow down.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub class: FailureClass,
    pub error: ApiError,
    pub retry_after_ms: Option<u64>,
    /// The provider is rate limiting or overloaded (429, 529, a 503 with
    /// `Retry-After`): a retry of a deployment already tried waits first. Every
    /// other failure is retried at once, as LiteLLM's router documents.
    pub slow_down: bool,
}

impl Failure {
    /// Classifies an upstream error answer.
    pub fn from_upstream(status: u16, body: &[u8], retry_after_ms: Option<u64>) -> Self {
        let mut error = ApiError::from_upstream(status, body);
        if let ApiError::Upstream { retry_after_ms: slot, .. } = &mut error {
            *slot = retry_after_ms;
        }
        let slow_down = slows_down(status, retry_after_ms);
        Self { class: classify(status, &error), error, retry_after_ms, slow_down }
    }

    pub fn unreachable(deployment: &str, detail: String) -> Self {
        Self {
            class: FailureClass::Connection,
            error: ApiError::UpstreamUnreachable { deployment: deployment.to_owned(), detail },
            retry_after_ms: None,
            slow_down: false,
        }
    }

    /// A success status with a body that is not the endpoint's answer.
    pub fn invalid_response(deployment: &str, detail: String) -> Self {
        Self {
            class: FailureClass::InvalidResponse,
            error: ApiError::UpstreamInvalidResponse { deployment: deployment.to_owned(), detail },
            retry_after_ms: None,
            slow_down: false,
        }
    }

    /// A provider's error, already read out of its own error shape by its
    /// translator: classified as an OpenAI-shaped error of that status would be.
    pub fn upstream(
        status: u16,
        message: String,
        kind: &str,
        code: Option<String>,
        retry_after_ms: Option<u64>,
    ) -> Self {
        let error = ApiError::Upstream { status, message, kind: kind.to_owned(), param: None, code, retry_after_ms };
        Self { class: classify(status, &error), error, retry_after_ms, slow_down: slows_down(status, retry_after_ms) }
    }

    /// A request this deployment's provider cannot take (a field it lacks, an
    /// endpoint it does not serve): the client's fault here, though a deployment of
    /// another provider may take it.
    pub fn refused(error: ApiError) -> Self {
        Self { class: FailureClass::BadRequest, error, retry_after_ms: None, slow_down: false }
    }

    /// A prompt (or answer) the provider refused on content grounds, said in a
    /// success answer (Gemini's blocked prompt, a Bedrock guardrail): answered 400
    /// as OpenAI answers one, and a content-policy fallback may take it.
    pub fn content_policy(message: String) -> Self {
        let error = ApiError::Upstream {
            status: 400,
            message,
            kind: "invalid_request_error".to_owned(),
            param: None,
            code: Some("content_policy_violation".to_owned()),
            retry_after_ms: None,
        };
        Self { class: FailureClass::ContentPolicy, error, retry_after_ms: None, slow_down: false }
    }

    pub fn timeout(deployment: &str, after_ms: u64) -> Self {
        Self {
            class: FailureClass::Timeout,
            error: ApiError::Timeout { deployment: deployment.to_owned(), after_ms },
            retry_after_ms: None,
            slow_down: false,
        }
    }
}

/// Whether an answer of `status` asks the caller to slow down: a rate limit, an
/// overload (Anthropic's 529), or a 503 that says when to come back.
fn slows_down(status: u16, retry_after_ms: Option<u64>) -> bool {
    matches!(status, 429 | 529) || (status == 503 && retry_after_ms.is_some())
}

/// The class of an upstream error from its status and, for 400s, its code and message.
pub fn classify(status: u16, error: &ApiError) -> FailureClass {
    match status {
        400 if is_context_window(error) => FailureClass::ContextWindow,
        400 if is_content_policy(error) => FailureClass::ContentPolicy,
        401 | 402 => FailureClass::Authentication,
        404 => FailureClass::NotFound,
        408 => FailureClass::Timeout,
        429 => FailureClass::RateLimit,
        500..=599 => FailureClass::Internal,
        _ => FailureClass::BadRequest,
    }
}

/// An upstream error's code and message, lowercased; nothing for the gateway's own
/// errors, which are never a context-window or content-policy failure.
fn code_and_message(error: &ApiError) -> (&str, String) {
    if let ApiError::Upstream { code, message, .. } = error {
        (code.as_deref().unwrap_or(""), message.to_lowercase())
    } else {
        ("", String::new())
    }
}

fn is_context_window(error: &ApiError) -> bool {
    let (code, message) = code_and_message(error);
    code == "context_length_exceeded"
        || [
            "maximum context length",
            "context window",
            "context_length_exceeded",
            "prompt is too long",
            "too many tokens",
        ]
        .iter()
        .any(|needle| message.contains(needle))
}

fn is_content_policy(error: &ApiError) -> bool {
    let (code, message) = code_and_message(error);
    matches!(code, "content_policy_violation" | "content_filter")
        || ["content policy", "content_policy", "safety system", "content management policy"]
            .iter()
            .any(|needle| message.contains(needle))
}

/// When to try again, from an answer's headers: Azure's `retry-after-ms` first,
/// then `retry-after` (delta-seconds).
pub fn retry_after(retry_after_ms: Option<&str>, retry_after: Option<&str>) -> Option<u64> {
    let ms = retry_after_ms.and_then(|v| v.trim().parse::<f64>().ok()).filter(|ms| ms.is_finite() && *ms >= 0.0);
    ms.map(|ms| ms as u64).or_else(|| retry_after.and_then(parse_retry_after))
}

/// `Retry-After` in milliseconds: delta-seconds, integer or decimal. HTTP dates are
/// not read: providers send seconds, and a date would need a clock here.
pub fn parse_retry_after(value: &str) -> Option<u64> {
    let seconds: f64 = value.trim().parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then_some((seconds * 1000.0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(status: u16, body: &str) -> FailureClass {
        Failure::from_upstream(status, body.as_bytes(), None).class
    }

    #[test]
    fn statuses_map_to_classes() {
        assert_eq!(class(400, r#"{"error":{"message":"bad"}}"#), FailureClass::BadRequest);
        assert_eq!(class(401, ""), FailureClass::Authentication);
        assert_eq!(class(402, ""), FailureClass::Authentication);
        assert_eq!(class(403, ""), FailureClass::BadRequest);
        assert_eq!(class(404, ""), FailureClass::NotFound);
        assert_eq!(class(408, ""), FailureClass::Timeout);
        assert_eq!(class(422, ""), FailureClass::BadRequest);
        assert_eq!(class(429, ""), FailureClass::RateLimit);
        assert_eq!(class(500, ""), FailureClass::Internal);
        assert_eq!(class(503, ""), FailureClass::Internal);
    }

    #[test]
    fn context_window_and_content_policy_400s_are_recognised() {
        let cw = r#"{"error":{"message":"x","code":"context_length_exceeded"}}"#;
        assert_eq!(class(400, cw), FailureClass::ContextWindow);
        let cw = r#"{"error":{"message":"This model's maximum context length is 8192 tokens"}}"#;
        assert_eq!(class(400, cw), FailureClass::ContextWindow);
        let cp = r#"{"error":{"message":"x","code":"content_policy_violation"}}"#;
        assert_eq!(class(400, cp), FailureClass::ContentPolicy);
        let cp = r#"{"error":{"message":"rejected as a result of our safety system"}}"#;
        assert_eq!(class(400, cp), FailureClass::ContentPolicy);
        // Only a 400 is read this way: a 500 mentioning context is still a server error.
        assert_eq!(class(500, cw), FailureClass::Internal);
    }

    #[test]
    fn cooldown_counts_follow_the_status_rules() {
        use FailureClass::*;
        for counted in [Authentication, NotFound, Timeout, RateLimit, Internal, Connection] {
            assert!(counted.counts_for_cooldown(), "{counted:?}");
        }
        for exempt in [BadRequest, ContextWindow, ContentPolicy] {
            assert!(!exempt.counts_for_cooldown(), "{exempt:?}");
        }
    }

    #[test]
    fn only_rate_limits_and_overloads_ask_to_slow_down() {
        let slow = |status, retry_after| Failure::from_upstream(status, b"", retry_after).slow_down;
        assert!(slow(429, None) && slow(529, None) && slow(503, Some(2_000)));
        assert!(!slow(503, None) && !slow(500, Some(1_000)) && !slow(400, None));
        assert!(!Failure::timeout("a", 10).slow_down && !Failure::unreachable("a", "reset".into()).slow_down);
    }

    #[test]
    fn azures_retry_after_ms_comes_before_retry_after() {
        assert_eq!(retry_after(Some("1500"), Some("2")), Some(1_500));
        assert_eq!(retry_after(None, Some("2")), Some(2_000));
        assert_eq!(retry_after(Some("soon"), Some("3")), Some(3_000));
        assert_eq!(retry_after(None, None), None);
    }

    #[test]
    fn retry_after_is_read_as_seconds() {
        assert_eq!(parse_retry_after("7"), Some(7000));
        assert_eq!(parse_retry_after(" 0.5 "), Some(500));
        assert_eq!(parse_retry_after("-1"), None);
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
