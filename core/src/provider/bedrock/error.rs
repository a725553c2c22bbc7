//! Bedrock's errors as [`Failure`]s: classified by the exception AWS names, the
//! message kept as it was sent, in OpenAI's error shape.
//!
//! AWS names the exception in the `x-amzn-errortype` header
//! (`ValidationException:http://internal.amazon.com/...`) and/or the body's
//! `__type` (`com.amazon.coral.service#UnrecognizedClientException`); the body
//! is `{"message": ...}` (`{"Message": ...}` from AWS's front door). Inside a
//! stream, an exception frame names it in lower camel case
//! (`throttlingException`): names are compared without case.

use super::wire::ErrorBody;
use crate::error::ApiError;
use crate::failure::{Failure, FailureClass};

/// The failure of a Bedrock error answer. `error_type` is the
/// `x-amzn-errortype` header, when there is one.
pub fn failure(status: u16, retry_after_ms: Option<u64>, body: &[u8], error_type: Option<&str>) -> Failure {
    let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let message = match parsed.message.or(parsed.capitalized_message) {
        Some(message) => message,
        // Not AWS's shape (a proxy's page, an empty body): read as any upstream's.
        None => match ApiError::from_upstream(status, body) {
            ApiError::Upstream { message, .. } => message,
            other => other.to_string(),
        },
    };
    let name = error_type.or(parsed.kind.as_deref()).map(exception_name).filter(|name| !name.is_empty());
    classified(status, name, message, retry_after_ms)
}

/// The failure of an exception frame inside a `ConverseStream` answer: its
/// `:exception-type` and payload.
pub fn stream_exception(exception_type: &str, payload: &[u8]) -> Failure {
    let status = match exception_type.to_ascii_lowercase().as_str() {
        "validationexception" => 400,
        "throttlingexception" => 429,
        "modelstreamerrorexception" => 424,
        "serviceunavailableexception" => 503,
        _ => 500,
    };
    failure(status, None, payload, Some(exception_type))
}

/// The name alone: without the header's `:<namespace>` tail or the body's
/// `<namespace>#` head.
fn exception_name(raw: &str) -> &str {
    let name = raw.split(':').next().unwrap_or(raw);
    name.rsplit('#').next().unwrap_or(name).trim()
}

/// Phrases of a prompt longer than the model takes, as Bedrock and the models
/// behind it word them.
const CONTEXT_WINDOW: &[&str] = &[
    "input is too long",
    "too many input tokens",
    "prompt is too long",
    "exceed context limit",
    "exceeds the context window",
    "model_context_window_exceeded",
    "maximum context length",
    "too many tokens",
    "input token count exceeds",
    "number of input tokens exceeds",
    "too large for model with",
    "expected maxlength:",
];

/// Phrases of a model id Bedrock does not know, which it answers as a
/// `ValidationException`.
const UNKNOWN_MODEL: &[&str] = &["model identifier is invalid", "could not resolve the foundation model"];

fn is_content_policy(message: &str) -> bool {
    message.contains("content filter")
        || (message.contains("guardrail") && (message.contains("interven") || message.contains("block")))
}

fn classified(status: u16, name: Option<&str>, message: String, retry_after_ms: Option<u64>) -> Failure {
    let lower = message.to_lowercase();
    let is = |exception: &str| name.is_some_and(|name| name.eq_ignore_ascii_case(exception));
    let class = if is("ValidationException") || (name.is_none() && status == 400) {
        if CONTEXT_WINDOW.iter().any(|phrase| lower.contains(phrase)) {
            FailureClass::ContextWindow
        } else if is_content_policy(&lower) {
            FailureClass::ContentPolicy
        } else if UNKNOWN_MODEL.iter().any(|phrase| lower.contains(phrase)) {
            FailureClass::NotFound
        } else {
            FailureClass::BadRequest
        }
    } else if is("ThrottlingException") || is("ServiceQuotaExceededException") || is("TooManyRequestsException") {
        FailureClass::RateLimit
    } else if [
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "ExpiredTokenException",
        "IncompleteSignature",
        "IncompleteSignatureException",
        "MissingAuthenticationToken",
        "MissingAuthenticationTokenException",
        "InvalidClientTokenId",
    ]
    .iter()
    .any(|exception| is(exception))
    {
        FailureClass::Authentication
    } else if is("ResourceNotFoundException") {
        FailureClass::NotFound
    } else if is("ModelTimeoutException") {
        FailureClass::Timeout
    } else if [
        "ModelNotReadyException",
        "ServiceUnavailableException",
        "InternalServerException",
        "ModelErrorException",
        "ModelStreamErrorException",
        "InternalFailure",
    ]
    .iter()
    .any(|exception| is(exception))
    {
        FailureClass::Internal
    } else {
        by_status(status)
    };

    let (status, kind, code) = match class {
        FailureClass::ContextWindow => (client_error(status), "invalid_request_error", Some("context_length_exceeded")),
        FailureClass::ContentPolicy => {
            (client_error(status), "invalid_request_error", Some("content_policy_violation"))
        }
        FailureClass::BadRequest => (client_error(status), "invalid_request_error", None),
        // The deployment's credentials, not the client's: 401 or 403 as AWS
        // said, never a status that would read as the gateway failing.
        FailureClass::Authentication => (if status == 401 { 401 } else { 403 }, "authentication_error", None),
        FailureClass::NotFound => (404, "invalid_request_error", None),
        FailureClass::Timeout => (408, "timeout", None),
        FailureClass::RateLimit => (429, "rate_limit_error", None),
        // `ModelNotReadyException` comes as a 429 and `ModelErrorException` as
        // a 424: both are the model's failing, a 5xx to the client.
        FailureClass::Internal if (500..=599).contains(&status) => (status, "api_error", None),
        FailureClass::Internal if is("ModelNotReadyException") => (503, "api_error", None),
        FailureClass::Internal => (500, "api_error", None),
        FailureClass::Connection | FailureClass::InvalidResponse => (status, "api_error", None),
    };
    let code = code.map(str::to_owned).or_else(|| name.map(str::to_owned));
    let error = ApiError::Upstream { status, message, kind: kind.to_owned(), param: None, code, retry_after_ms };
    // Throttling, and a model or service not ready, ask the caller to slow down.
    let slow_down =
        class == FailureClass::RateLimit || is("ServiceUnavailableException") || is("ModelNotReadyException");
    Failure { class, error, retry_after_ms, slow_down }
}

/// The class of an error AWS did not name.
fn by_status(status: u16) -> FailureClass {
    match status {
        401 | 403 => FailureClass::Authentication,
        404 => FailureClass::NotFound,
        408 => FailureClass::Timeout,
        429 => FailureClass::RateLimit,
        500..=599 => FailureClass::Internal,
        _ => FailureClass::BadRequest,
    }
}

/// A 4xx as sent, else 400: the request's fault.
fn client_error(status: u16) -> u16 {
    if (400..=499).contains(&status) { status } else { 400 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(status: u16, body: &str, error_type: Option<&str>) -> Failure {
        failure(status, None, body.as_bytes(), error_type)
    }

    fn upstream(failure: &Failure) -> (u16, &str, &str, Option<&str>) {
        match &failure.error {
            ApiError::Upstream { status, message, kind, code, .. } => (*status, message, kind, code.as_deref()),
            other => panic!("not an upstream error: {other:?}"),
        }
    }

    #[test]
    fn exceptions_are_classified_by_name() {
        let cases = [
            (429, "ThrottlingException", FailureClass::RateLimit, 429),
            (400, "ServiceQuotaExceededException", FailureClass::RateLimit, 429),
            (403, "AccessDeniedException", FailureClass::Authentication, 403),
            (403, "UnrecognizedClientException", FailureClass::Authentication, 403),
            (403, "InvalidSignatureException", FailureClass::Authentication, 403),
            (400, "ExpiredTokenException", FailureClass::Authentication, 403),
            (403, "IncompleteSignature", FailureClass::Authentication, 403),
            (404, "ResourceNotFoundException", FailureClass::NotFound, 404),
            (408, "ModelTimeoutException", FailureClass::Timeout, 408),
            (429, "ModelNotReadyException", FailureClass::Internal, 503),
            (503, "ServiceUnavailableException", FailureClass::Internal, 503),
            (500, "InternalServerException", FailureClass::Internal, 500),
            (424, "ModelErrorException", FailureClass::Internal, 500),
            (400, "ValidationException", FailureClass::BadRequest, 400),
            (409, "ConflictException", FailureClass::BadRequest, 409),
        ];
        for (status, name, class, answered) in cases {
            let failure = of(status, r#"{"message":"m"}"#, Some(name));
            assert_eq!(failure.class, class, "{name}");
            let (status, message, _, code) = upstream(&failure);
            assert_eq!((status, message, code), (answered, "m", Some(name)), "{name}");
        }
    }

    #[test]
    fn the_name_is_read_from_the_header_or_the_body() {
        let header = of(
            400,
            r#"{"message":"x"}"#,
            Some("ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/"),
        );
        assert_eq!(header.class, FailureClass::RateLimit);
        assert_eq!(upstream(&header).3, Some("ThrottlingException"));
        let body = of(
            403,
            r#"{"Message":"The security token included in the request is invalid.","__type":"com.amazon.coral.service#UnrecognizedClientException"}"#,
            None,
        );
        assert_eq!(body.class, FailureClass::Authentication);
        assert_eq!(
            upstream(&body),
            (
                403,
                "The security token included in the request is invalid.",
                "authentication_error",
                Some("UnrecognizedClientException")
            )
        );
    }

    #[test]
    fn context_window_phrasings_are_recognised() {
        for message in [
            "Input is too long for requested model.",
            "prompt is too long: 200561 tokens > 200000 maximum",
            "input length and `max_tokens` exceed context limit: 197421 + 8192 > 200000, decrease input length or `max_tokens` and try again",
            "Too many input tokens. Max input tokens: 8192, request input token count: 9000",
            "Malformed input request: expected maxLength: 50000, actual: 60000, please reformat your input and try again.",
        ] {
            let body = serde_json::json!({ "message": message }).to_string();
            let failure = of(400, &body, Some("ValidationException"));
            assert_eq!(failure.class, FailureClass::ContextWindow, "{message}");
            let (status, kept, kind, code) = upstream(&failure);
            assert_eq!(
                (status, kept, kind, code),
                (400, message, "invalid_request_error", Some("context_length_exceeded"))
            );
        }
        // A throttling message about tokens is still throttling.
        assert_eq!(
            of(429, r#"{"message":"Too many tokens, please wait"}"#, Some("ThrottlingException")).class,
            FailureClass::RateLimit
        );
    }

    #[test]
    fn guardrails_and_unknown_models_are_recognised_in_validation_errors() {
        let guardrail =
            of(400, r#"{"message":"The guardrail intervened and blocked the request"}"#, Some("ValidationException"));
        assert_eq!(guardrail.class, FailureClass::ContentPolicy);
        assert_eq!(upstream(&guardrail).3, Some("content_policy_violation"));
        let model = of(400, r#"{"message":"The provided model identifier is invalid."}"#, Some("ValidationException"));
        assert_eq!(model.class, FailureClass::NotFound);
        assert_eq!(upstream(&model).0, 404);
        let version = of(400, r#"{"message":"The guardrail version 3 is not valid"}"#, Some("ValidationException"));
        assert_eq!(version.class, FailureClass::BadRequest);
    }

    #[test]
    fn unnamed_errors_go_by_status_and_keep_their_text() {
        let proxy = of(502, "<html>Bad Gateway</html>", None);
        assert_eq!(proxy.class, FailureClass::Internal);
        assert_eq!(upstream(&proxy), (502, "<html>Bad Gateway</html>", "api_error", None));
        assert_eq!(of(403, "", None).class, FailureClass::Authentication);
        assert!(upstream(&of(403, "", None)).1.contains("empty body"));
        assert_eq!(
            of(400, r#"{"message":"Input is too long for requested model."}"#, None).class,
            FailureClass::ContextWindow
        );
        assert_eq!(of(429, "{}", None).class, FailureClass::RateLimit);
        assert_eq!(of(418, "{}", None).class, FailureClass::BadRequest);
    }

    #[test]
    fn retry_after_is_kept() {
        let failure = failure(429, Some(2000), br#"{"message":"slow down"}"#, Some("ThrottlingException"));
        assert_eq!(failure.retry_after_ms, Some(2000));
        assert_eq!(failure.error.retry_after_secs(), Some(2));
    }

    #[test]
    fn stream_exceptions_take_the_status_of_their_kind() {
        let throttled = stream_exception("throttlingException", br#"{"message":"Too many requests"}"#);
        assert_eq!((throttled.class, upstream(&throttled).0), (FailureClass::RateLimit, 429));
        let stream = stream_exception(
            "modelStreamErrorException",
            br#"{"message":"stream broke","originalStatusCode":500,"originalMessage":"x"}"#,
        );
        assert_eq!(
            (stream.class, upstream(&stream).0, upstream(&stream).1),
            (FailureClass::Internal, 500, "stream broke")
        );
        let long = stream_exception("validationException", br#"{"message":"Input is too long for requested model."}"#);
        assert_eq!(long.class, FailureClass::ContextWindow);
        assert_eq!(stream_exception("serviceUnavailableException", b"{}").class, FailureClass::Internal);
        assert_eq!(stream_exception("internalServerException", b"{}").class, FailureClass::Internal);
    }
}
