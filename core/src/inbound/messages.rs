//! Anthropic's Messages API (`POST /v1/messages`) served to its clients (Anthropic's
//! SDKs, Claude Code) by any deployment, through OpenAI's chat as the pivot.
//!
//! The same tables as the provider side ([`crate::provider::anthropic`]) run the
//! other way:
//! - [`request`]: the client's body, validated as strictly as Anthropic's API does,
//!   into a [`Request`];
//! - [`chat`]: that request as an OpenAI [`ChatRequest`](crate::openai::ChatRequest)
//!   for the router (the inverse of the provider's request mapping);
//! - [`answer`]: an OpenAI answer as Anthropic's `message`;
//! - [`stream`]: OpenAI chunks as Anthropic's stream events, as they come;
//! - [`error`]: any error of the gateway in Anthropic's error shape and status;
//! - [`count_tokens`]: `POST /v1/messages/count_tokens`, estimated.
//!
//! What Anthropic's API takes but OpenAI's chat cannot carry without changing the
//! answer (server tools, documents other than PDFs, files of Anthropic's Files API,
//! MCP servers, containers) is noted at parsing, and [`chat::to_chat`] refuses it
//! with [`MessagesError::AnthropicOnly`]: such a request can only be served by an
//! Anthropic deployment, given the client's own body.

pub mod answer;
pub mod chat;
mod content;
pub mod count_tokens;
pub mod error;
pub mod request;
pub mod stream;
mod validate;

pub use chat::to_chat;
pub use request::{Request, parse};

/// Why a Messages request cannot be served as chat.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessagesError {
    /// Not a valid request: Anthropic's 400 `invalid_request_error`, its message
    /// naming the field (`messages.0.content.1.text.text: Field required`).
    #[error("{0}")]
    Invalid(String),
    /// A valid request that only an Anthropic deployment can serve: what, and where.
    #[error("{0}: only an Anthropic deployment can serve this request")]
    AnthropicOnly(String),
}

/// The first thing found in a request that only an Anthropic deployment can serve.
#[derive(Debug, Default)]
struct AnthropicOnly(Option<String>);

impl AnthropicOnly {
    fn note(&mut self, path: validate::Path<'_>, what: impl std::fmt::Display) {
        if self.0.is_none() {
            self.0 = Some(path.anthropic_only(what));
        }
    }
}
