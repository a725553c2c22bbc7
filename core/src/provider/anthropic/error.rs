//! Anthropic's errors, as the [`Failure`]s retries, cooldowns and fallbacks match on.
//!
//! Anthropic answers an error with `{"type": "error", "error": {"type", "message"}}`
//! (and, inside a stream, sends the same as an `error` event). The client gets
//! OpenAI's shape: Anthropic's message verbatim (a client looking for "prompt is too
//! long" still finds it), the OpenAI `type` of the status, and Anthropic's error type
//! as the `code`.
//!
//! Statuses are kept, except 529 (`overloaded_error`, a status of Anthropic's own),
//! answered as 503, OpenAI's status for an overloaded provider; it counts like any
//! 5xx. Classes are those of an OpenAI error of the same status, except that a 403
//! (`permission_error`: the deployment's key may not use the model) is an
//! authentication failure, and Anthropic's phrasings of a prompt too long for the
//! context window and of a refusal by its content filter are recognised.

use crate::error::kind_for_status;
use crate::failure::{Failure, FailureClass};

use super::wire::{ErrorDetail, ErrorResponse};

/// Anthropic's status for an overloaded API.
pub const OVERLOADED: u16 = 529;

/// The status an overloaded Anthropic (529) is answered with.
pub const OVERLOADED_STATUS: u16 = 503;

/// The failure of an error answer: its status, `Retry-After` and body.
pub fn failure(status: u16, retry_after_ms: Option<u64>, body: &[u8]) -> Failure {
    let overloaded = status == OVERLOADED;
    let status = if overloaded { OVERLOADED_STATUS } else { status };
    let mut failure = match serde_json::from_slice::<ErrorResponse>(body) {
        Ok(response) => from_detail(status, response.error, retry_after_ms),
        Err(_) => {
            // Not Anthropic's shape (a proxy's page, plain text, Cloudflare's answer
            // to a body over the size limit): read as any upstream error is.
            let mut failure = Failure::from_upstream(status, body, retry_after_ms);
            if let Some(class) = anthropic_class(status, &failure.error.to_string()) {
                failure.class = class;
            }
            failure
        }
    };
    // Overloaded asks the caller to slow down, whatever status it is answered with.
    failure.slow_down |= overloaded;
    failure
}

/// The failure of a stream's `error` event, from its data. A stream has no status
/// of its own: the error's type gives the one its answer would have had.
pub fn stream_failure(data: &str) -> Failure {
    match serde_json::from_str::<ErrorResponse>(data) {
        Ok(response) => event_failure(response.error),
        Err(_) => failure(500, None, data.as_bytes()),
    }
}

/// The failure of a stream's `error` event, already read.
pub fn event_failure(error: ErrorDetail) -> Failure {
    from_detail(status_of(&error.kind), error, None)
}

fn from_detail(status: u16, error: ErrorDetail, retry_after_ms: Option<u64>) -> Failure {
    let ErrorDetail { kind, message } = error;
    let class = anthropic_class(status, &message);
    let overloaded = kind == "overloaded_error";
    let mut failure = Failure::upstream(status, message, kind_for_status(status), Some(kind), retry_after_ms);
    if let Some(class) = class {
        failure.class = class;
    }
    failure.slow_down |= overloaded;
    failure
}

/// The status of an answer with this error type, as Anthropic's reference lists
/// them; `None` for a type it does not list.
pub fn listed_status(kind: &str) -> Option<u16> {
    Some(match kind {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "billing_error" => 402,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "api_error" => 500,
        "timeout_error" => 504,
        "overloaded_error" => OVERLOADED,
        _ => return None,
    })
}

/// The status a failure with this error type takes.
fn status_of(kind: &str) -> u16 {
    match listed_status(kind) {
        Some(OVERLOADED) => OVERLOADED_STATUS,
        Some(status) => status,
        // Types added later: an error on Anthropic's side.
        None => 500,
    }
}

/// The class where Anthropic's status or message means other than an OpenAI error
/// of that status would (`None`: the same).
fn anthropic_class(status: u16, message: &str) -> Option<FailureClass> {
    match status {
        400 if is_context_window(message) => Some(FailureClass::ContextWindow),
        400 if is_content_filtered(message) => Some(FailureClass::ContentPolicy),
        403 => Some(FailureClass::Authentication),
        _ => None,
    }
}

/// "prompt is too long: 208310 tokens > 200000 maximum", and "input length and
/// `max_tokens` exceed context limit: 188240 + 21333 > 200000, ...".
fn is_context_window(message: &str) -> bool {
    let message = message.to_lowercase();
    ["prompt is too long", "exceed context limit", "context window"].iter().any(|needle| message.contains(needle))
}

/// "Output blocked by content filtering policy".
fn is_content_filtered(message: &str) -> bool {
    message.to_lowercase().contains("content filtering policy")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ApiError;
    use serde_json::{Value, json};

    fn anthropic(kind: &str, message: &str) -> Vec<u8> {
        serde_json::to_vec(&json!({"type": "error", "error": {"type": kind, "message": message},
                                   "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy"}))
        .unwrap()
    }

    fn body(failure: &Failure) -> Value {
        serde_json::from_slice(&failure.error.body()).unwrap()
    }

    #[test]
    fn the_message_is_kept_verbatim_in_openai_s_shape() {
        let failure = failure(400, None, &anthropic("invalid_request_error", "max_tokens: Field required"));
        assert_eq!(failure.class, FailureClass::BadRequest);
        assert_eq!(failure.error.status(), 400);
        assert_eq!(
            body(&failure),
            json!({"error": {"message": "max_tokens: Field required", "type": "invalid_request_error",
                             "param": null, "code": "invalid_request_error"}})
        );
    }

    #[test]
    fn prompts_too_long_are_context_window_failures() {
        for message in [
            "prompt is too long: 208310 tokens > 200000 maximum",
            "input length and `max_tokens` exceed context limit: 188240 + 21333 > 200000, decrease input length or `max_tokens` and try again",
        ] {
            let failure = failure(400, None, &anthropic("invalid_request_error", message));
            assert_eq!(failure.class, FailureClass::ContextWindow, "{message}");
            assert_eq!(body(&failure)["error"]["message"], message);
        }
    }

    #[test]
    fn a_content_filter_refusal_is_a_content_policy_failure() {
        let failure =
            failure(400, None, &anthropic("invalid_request_error", "Output blocked by content filtering policy"));
        assert_eq!(failure.class, FailureClass::ContentPolicy);
    }

    #[test]
    fn statuses_map_to_classes() {
        let cases = [
            (401, "authentication_error", "invalid x-api-key", 401, FailureClass::Authentication),
            (403, "permission_error", "Your API key does not have permission", 403, FailureClass::Authentication),
            (404, "not_found_error", "model: claude-nope", 404, FailureClass::NotFound),
            (413, "request_too_large", "Request exceeds the maximum size", 413, FailureClass::BadRequest),
            (
                429,
                "rate_limit_error",
                "Number of request tokens has exceeded your rate limit",
                429,
                FailureClass::RateLimit,
            ),
            (500, "api_error", "Internal server error", 500, FailureClass::Internal),
            (529, "overloaded_error", "Overloaded", 503, FailureClass::Internal),
        ];
        for (status, kind, message, answered, class) in cases {
            let failure = failure(status, None, &anthropic(kind, message));
            assert_eq!((failure.error.status(), failure.class), (answered, class), "{kind}");
            assert_eq!(body(&failure)["error"]["code"], kind);
            assert_eq!(body(&failure)["error"]["message"], message);
        }
        assert!(FailureClass::Internal.counts_for_cooldown());
        assert_eq!(
            body(&failure(529, None, &anthropic("overloaded_error", "Overloaded")))["error"]["type"],
            "api_error"
        );
        assert_eq!(
            body(&failure(403, None, &anthropic("permission_error", "no")))["error"]["type"],
            "authentication_error"
        );
    }

    #[test]
    fn a_rate_limit_keeps_its_retry_after() {
        let failure = failure(429, Some(30_000), &anthropic("rate_limit_error", "slow down"));
        assert_eq!(failure.retry_after_ms, Some(30_000));
        assert_eq!(failure.error.retry_after_secs(), Some(30));
    }

    #[test]
    fn a_body_of_another_shape_still_reads() {
        let page = failure(413, None, b"<html><h1>413 Request Entity Too Large</h1></html>");
        assert_eq!((page.error.status(), page.class), (413, FailureClass::BadRequest));
        assert!(page.error.to_string().contains("413 Request Entity Too Large"));
        let empty = failure(529, None, b"");
        assert_eq!((empty.error.status(), empty.class), (503, FailureClass::Internal));
        assert!(empty.error.to_string().contains("503"), "{}", empty.error);
        let text = failure(400, None, b"prompt is too long");
        assert_eq!(text.class, FailureClass::ContextWindow);
    }

    #[test]
    fn a_stream_error_takes_the_status_of_its_type() {
        let overloaded =
            stream_failure(r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#);
        assert_eq!((overloaded.error.status(), overloaded.class), (503, FailureClass::Internal));
        assert_eq!(overloaded.error.to_string(), "Overloaded");
        let limited = stream_failure(r#"{"type":"error","error":{"type":"rate_limit_error","message":"slow"}}"#);
        assert_eq!((limited.error.status(), limited.class), (429, FailureClass::RateLimit));
        let internal = stream_failure(
            r#"{"type":"error","error":{"details":null,"type":"api_error","message":"Internal server error"}}"#,
        );
        assert_eq!((internal.error.status(), internal.class), (500, FailureClass::Internal));
        let unknown = stream_failure(r#"{"type":"error","error":{"type":"brand_new_error","message":"?"}}"#);
        assert_eq!(unknown.error.status(), 500);
        let garbled = stream_failure("not json at all");
        assert!(
            matches!(&garbled.error, ApiError::Upstream { status: 500, message, .. } if message == "not json at all")
        );
    }
}
