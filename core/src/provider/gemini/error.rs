//! Gemini's error answers (`{"error": {"code", "message", "status", "details"}}`,
//! Google's `google.rpc.Status`) as failures in OpenAI's error shape: Google's
//! message kept verbatim, `type` from the HTTP status, `code` Google's status name.
//!
//! Classes beyond what the status alone says: a 400 whose message says the input
//! is over the model's token limit is a context-window failure; AI Studio's
//! answer to a bad key (400 with `API_KEY_INVALID` in `details`) is answered 401;
//! 403 `PERMISSION_DENIED` is an authentication failure; 504 `DEADLINE_EXCEEDED` a
//! timeout. A 429's retry delay comes from `Retry-After`, else from the
//! `RetryInfo` in `details`.

use super::wire::{ErrorBody, Status};
use crate::error::ApiError;
use crate::failure::{self, Failure, FailureClass};

/// The failure of an error answer: its HTTP `status`, `Retry-After` and body.
pub fn failure(status: u16, retry_after_ms: Option<u64>, body: &[u8]) -> Failure {
    match read(body) {
        Some(error) => from_status(status, retry_after_ms, error),
        // Not Google's shape (a proxy's page, an empty body): read as any upstream error.
        None => Failure::from_upstream(status, body, retry_after_ms),
    }
}

/// Google's error body, alone or as the one element of an array (as Vertex AI
/// answers a stream request).
fn read(body: &[u8]) -> Option<Status> {
    // Told apart by their first byte: serde would read a struct out of an array too.
    if body.trim_ascii_start().starts_with(b"[") {
        let bodies: Vec<ErrorBody> = serde_json::from_slice(body).ok()?;
        return bodies.into_iter().next().map(|body| body.error);
    }
    serde_json::from_slice::<ErrorBody>(body).ok().map(|body| body.error)
}

/// The failure of an error Google described, answered with HTTP status `http`.
pub(super) fn from_status(http: u16, retry_after_ms: Option<u64>, error: Status) -> Failure {
    let bad_key = error.details.iter().any(|detail| detail.reason.as_deref() == Some("API_KEY_INVALID"));
    let status = if bad_key { 401 } else { http };
    let retry_after_ms = retry_after_ms
        .or_else(|| error.details.iter().find_map(|detail| detail.retry_delay.as_deref().and_then(duration_ms)));
    let class = match status {
        400 if over_token_limit(&error.message) => Some(FailureClass::ContextWindow),
        401 | 403 => Some(FailureClass::Authentication),
        404 => Some(FailureClass::NotFound),
        429 => Some(FailureClass::RateLimit),
        504 => Some(FailureClass::Timeout),
        _ => None,
    };
    let message = match error.message {
        message if message.is_empty() => format!("Gemini answered {status}"),
        message => message,
    };
    let error = ApiError::Upstream {
        status,
        message,
        kind: kind(status).to_owned(),
        param: None,
        code: error.status,
        retry_after_ms,
    };
    let class = class.unwrap_or_else(|| failure::classify(status, &error));
    // RESOURCE_EXHAUSTED, and UNAVAILABLE (Google's word for an overloaded model),
    // ask the caller to slow down.
    Failure { class, error, retry_after_ms, slow_down: matches!(status, 429 | 503) }
}

/// OpenAI's error `type` for a status.
fn kind(status: u16) -> &'static str {
    match status {
        401 | 403 => "authentication_error",
        408 | 504 => "timeout",
        429 => "rate_limit_error",
        400..=499 => "invalid_request_error",
        _ => "api_error",
    }
}

/// Gemini's words for a prompt over the model's limit: "The input token count
/// (1234567) exceeds the maximum number of tokens allowed (1048576)."
fn over_token_limit(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    message.contains("exceeds the maximum number of tokens")
        || (message.contains("token count") && message.contains("exceeds"))
}

/// A protobuf Duration in JSON (`"17s"`, `"0.5s"`) in milliseconds.
fn duration_ms(duration: &str) -> Option<u64> {
    let seconds: f64 = duration.strip_suffix('s')?.parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| (seconds * 1000.0).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn body(error: &Failure) -> Value {
        serde_json::from_slice(&error.error.body()).unwrap()
    }

    #[test]
    fn an_invalid_argument_keeps_googles_message_and_status_name() {
        let answer = br#"{"error": {"code": 400, "message": "* GenerateContentRequest.contents: contents is not specified\n", "status": "INVALID_ARGUMENT"}}"#;
        let failure = failure(400, None, answer);
        assert_eq!(failure.class, FailureClass::BadRequest);
        assert_eq!(failure.error.status(), 400);
        assert_eq!(
            body(&failure),
            json!({"error": {"message": "* GenerateContentRequest.contents: contents is not specified\n",
                "type": "invalid_request_error", "param": null, "code": "INVALID_ARGUMENT"}})
        );
    }

    #[test]
    fn a_prompt_over_the_token_limit_is_a_context_window_failure() {
        let answer = br#"{"error": {"code": 400, "message": "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).", "status": "INVALID_ARGUMENT"}}"#;
        assert_eq!(failure(400, None, answer).class, FailureClass::ContextWindow);
    }

    #[test]
    fn a_bad_key_is_an_authentication_failure_answered_401() {
        let answer = br#"{"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT",
            "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"}}]}}"#;
        let failure = failure(400, None, answer);
        assert_eq!((failure.class, failure.error.status()), (FailureClass::Authentication, 401));
        assert_eq!(body(&failure)["error"]["type"], "authentication_error");
        let denied = br#"{"error": {"code": 403, "message": "Permission denied on resource project p.", "status": "PERMISSION_DENIED"}}"#;
        let denied = super::failure(403, None, denied);
        assert_eq!((denied.class, denied.error.status()), (FailureClass::Authentication, 403));
        let vertex = br#"{"error": {"code": 401, "message": "Request had invalid authentication credentials.", "status": "UNAUTHENTICATED"}}"#;
        assert_eq!(super::failure(401, None, vertex).class, FailureClass::Authentication);
    }

    #[test]
    fn a_quota_error_waits_as_its_retry_info_says_unless_the_header_says_otherwise() {
        let answer = br#"{"error": {"code": 429, "message": "You exceeded your current quota, please check your plan and billing details.", "status": "RESOURCE_EXHAUSTED",
            "details": [{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests", "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"}]},
                {"@type": "type.googleapis.com/google.rpc.Help", "links": [{"description": "Learn more", "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}]},
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "17s"}]}}"#;
        let failure = failure(429, None, answer);
        assert_eq!((failure.class, failure.retry_after_ms), (FailureClass::RateLimit, Some(17_000)));
        assert_eq!(failure.error.retry_after_secs(), Some(17));
        assert_eq!(body(&failure)["error"]["code"], "RESOURCE_EXHAUSTED");
        assert_eq!(super::failure(429, Some(2000), answer).retry_after_ms, Some(2000));
        assert_eq!(duration_ms("0.250s"), Some(250));
        assert_eq!(duration_ms("17"), None);
    }

    #[test]
    fn server_errors_and_deadlines() {
        let not_found = br#"{"error": {"code": 404, "message": "models/gemini-9 is not found for API version v1beta, or is not supported for generateContent.", "status": "NOT_FOUND"}}"#;
        assert_eq!(failure(404, None, not_found).class, FailureClass::NotFound);
        let internal =
            br#"{"error": {"code": 500, "message": "An internal error has occurred.", "status": "INTERNAL"}}"#;
        assert_eq!(failure(500, None, internal).class, FailureClass::Internal);
        let overloaded = br#"{"error": {"code": 503, "message": "The model is overloaded. Please try again later.", "status": "UNAVAILABLE"}}"#;
        let overloaded = failure(503, None, overloaded);
        assert_eq!((overloaded.class, overloaded.error.status()), (FailureClass::Internal, 503));
        let deadline = br#"{"error": {"code": 504, "message": "Deadline expired before operation could complete.", "status": "DEADLINE_EXCEEDED"}}"#;
        let deadline = failure(504, None, deadline);
        assert_eq!((deadline.class, deadline.error.status()), (FailureClass::Timeout, 504));
    }

    #[test]
    fn an_array_of_one_error_and_other_bodies_are_read() {
        let vertex = br#"[{"error": {"code": 429, "message": "Resource exhausted. Please try again later.", "status": "RESOURCE_EXHAUSTED"}}]"#;
        let failure = failure(429, None, vertex);
        assert_eq!(body(&failure)["error"]["message"], "Resource exhausted. Please try again later.");
        let page = super::failure(502, None, b"<html>Bad Gateway</html>");
        assert_eq!((page.class, page.error.status()), (FailureClass::Internal, 502));
        assert_eq!(body(&page)["error"]["message"], "<html>Bad Gateway</html>");
    }
}
