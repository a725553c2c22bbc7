//! OpenAI's Responses API (`POST /v1/responses`, `GET /v1/responses/{id}`), served
//! to deployments of any provider through Chat Completions.
//!
//! A request is parsed ([`request::parse`]), mapped with the conversation it
//! continues to a [`ChatRequest`](crate::openai::ChatRequest) ([`chat::to_chat`]),
//! and the chat answer mapped back: whole into a [`Response`]
//! ([`response::response`]), streamed into the Responses events
//! ([`stream::Encoder`]). What is kept of a response to continue it and give it
//! back is a [`Stored`] ([`stored::stored`]).
//!
//! - [`request`]: the body as a [`Request`], validated as OpenAI validates it; which
//!   parameters are carried, kept by the gateway, dropped, or OpenAI's only;
//! - [`input`]: the input items; [`tools`]: `tools` and `tool_choice`;
//! - [`chat`]: a request as a chat completion request;
//! - [`response`](mod@response): the Response object, and a complete chat answer as one;
//! - [`stream`]: chat chunks as the Responses streaming events;
//! - [`stored`](mod@stored): the conversation and the response kept for later;
//! - [`ids`]: the ids of a response and of its items, made from a seed;
//! - `fields`: reading fields with errors that name them.

mod fields;

pub mod chat;
pub mod ids;
pub mod input;
pub mod request;
pub mod response;
pub mod stored;
pub mod stream;
pub mod tools;
pub mod watch;

pub use chat::to_chat;
pub use ids::response_id;
pub use request::{Request, builtin_tool, parse};
pub use response::{Response, response};
pub use stored::{Kept, Stored, stored};
pub use stream::Encoder;
