//! Any error of the gateway in Anthropic's shape, `{"type": "error", "error":
//! {"type", "message"}}`, with the status and type Anthropic's reference gives it:
//! 400 `invalid_request_error`, 401 `authentication_error`, 402 `billing_error`,
//! 403 `permission_error`, 404 `not_found_error`, 413 `request_too_large`, 429
//! `rate_limit_error`, 500 `api_error`, 504 `timeout_error`, 529
//! `overloaded_error`.
//!
//! The gateway's own errors map by what they mean: every deployment cooling down,
//! busy, or a queue full or waited out is Anthropic's 529 (overloaded: try again
//! later), a deployment's timeout its 504. A deployment's error keeps Anthropic's
//! type when it came from an Anthropic deployment (its type is the error's `code`),
//! else takes the type of its status. A prompt too long for the model says so in
//! Anthropic's words ("prompt is too long"), which Anthropic's clients look for to
//! compact the conversation.

use crate::error::ApiError;
use crate::failure::{FailureClass, classify};
use crate::provider::anthropic::error::{OVERLOADED, listed_status};
use crate::provider::anthropic::wire::{ErrorDetail, ErrorKind, ErrorResponse};

use super::MessagesError;

/// The status and body of `error` for an Anthropic client.
pub fn error_reply(error: &ApiError) -> (u16, Vec<u8>) {
    let (status, kind) = status_and_type(error);
    let mut message = error.to_string();
    if is_context_window(error) && !message.starts_with("prompt is too long") {
        message = format!("prompt is too long: {message}");
    }
    let body = ErrorResponse {
        kind: ErrorKind::Error,
        error: ErrorDetail { kind: kind.to_owned(), message },
        request_id: None,
    };
    // Serializing plain strings cannot fail.
    (status, serde_json::to_vec(&body).unwrap_or_default())
}

impl From<MessagesError> for ApiError {
    /// A request the gateway cannot serve as asked: a 400 with the message naming
    /// the field.
    fn from(error: MessagesError) -> Self {
        ApiError::InvalidParam { param: "body", message: error.to_string() }
    }
}

/// Anthropic's status and error type for `error`.
fn status_and_type(error: &ApiError) -> (u16, &str) {
    match error {
        ApiError::MalformedJson(_)
        | ApiError::InvalidParam { .. }
        | ApiError::NoneInRegion { .. }
        | ApiError::ContextWindowExceeded { .. } => (400, "invalid_request_error"),
        ApiError::MissingApiKey | ApiError::InvalidApiKey => (401, "authentication_error"),
        ApiError::ModelNotFound { .. }
        | ApiError::JobNotFound { .. }
        | ApiError::ResponseNotFound { .. }
        | ApiError::RouteNotFound { .. } => (404, "not_found_error"),
        ApiError::MethodNotAllowed { .. } => (405, "invalid_request_error"),
        ApiError::Upstream { status, code, .. } => {
            code.as_deref().and_then(anthropic_type).unwrap_or_else(|| for_status(*status))
        }
        ApiError::UpstreamUnreachable { .. }
        | ApiError::UpstreamInvalidResponse { .. }
        | ApiError::Config(_)
        | ApiError::Internal(_) => (500, "api_error"),
        ApiError::Timeout { .. } => (504, "timeout_error"),
        ApiError::AllCoolingDown { .. }
        | ApiError::GroupBusy { .. }
        | ApiError::QueueFull { .. }
        | ApiError::QueueTimeout { .. }
        | ApiError::CoordinatorUnavailable { .. }
        | ApiError::CoordinatorOverloaded { .. } => (OVERLOADED, "overloaded_error"),
        ApiError::GroupRateLimited { .. } => (429, "rate_limit_error"),
        ApiError::Tried { error, .. } => status_and_type(error),
    }
}

/// An Anthropic error type (an Anthropic deployment's, kept as the `code`) and the
/// status Anthropic answers it with.
fn anthropic_type(code: &str) -> Option<(u16, &str)> {
    listed_status(code).map(|status| (status, code))
}

/// Anthropic's status and type for another provider's error status.
fn for_status(status: u16) -> (u16, &'static str) {
    match status {
        401 => (401, "authentication_error"),
        402 => (402, "billing_error"),
        403 => (403, "permission_error"),
        404 => (404, "not_found_error"),
        413 => (413, "request_too_large"),
        429 => (429, "rate_limit_error"),
        // A request timeout is retried by Anthropic's clients as a 504 is.
        408 | 504 => (504, "timeout_error"),
        503 | OVERLOADED => (OVERLOADED, "overloaded_error"),
        500..=599 => (500, "api_error"),
        // 409 is retried by Anthropic's clients: its status is kept.
        409 => (409, "invalid_request_error"),
        _ => (400, "invalid_request_error"),
    }
}

fn is_context_window(error: &ApiError) -> bool {
    match error {
        ApiError::ContextWindowExceeded { .. } => true,
        ApiError::Upstream { status, .. } => classify(*status, error) == FailureClass::ContextWindow,
        ApiError::Tried { error, .. } => is_context_window(error),
        ApiError::MalformedJson(_)
        | ApiError::InvalidParam { .. }
        | ApiError::MissingApiKey
        | ApiError::InvalidApiKey
        | ApiError::ModelNotFound { .. }
        | ApiError::JobNotFound { .. }
        | ApiError::ResponseNotFound { .. }
        | ApiError::RouteNotFound { .. }
        | ApiError::MethodNotAllowed { .. }
        | ApiError::UpstreamUnreachable { .. }
        | ApiError::UpstreamInvalidResponse { .. }
        | ApiError::Timeout { .. }
        | ApiError::AllCoolingDown { .. }
        | ApiError::GroupRateLimited { .. }
        | ApiError::GroupBusy { .. }
        | ApiError::QueueFull { .. }
        | ApiError::QueueTimeout { .. }
        | ApiError::NoneInRegion { .. }
        | ApiError::CoordinatorUnavailable { .. }
        | ApiError::CoordinatorOverloaded { .. }
        | ApiError::Config(_)
        | ApiError::Internal(_) => false,
    }
}

#[cfg(test)]
mod tests;
