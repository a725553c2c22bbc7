//! Google's Gemini API: AI Studio (`gemini/<model>`,
//! `generativelanguage.googleapis.com`) and Vertex AI (`vertex_ai/<model>`),
//! which share the `generateContent` body.
//!
//! Pure translations, in the four steps of [`crate::translate`]:
//! - [`request::body`]: OpenAI's chat request as Gemini's body (for
//!   `:generateContent` and `:streamGenerateContent?alt=sse` alike), and
//!   [`embeddings::embed_body`] for `:batchEmbedContents`;
//! - [`answer::chat_response`] and [`embeddings::embeddings_response`]: Gemini's
//!   answers as OpenAI's;
//! - [`stream::Decoder`]: Gemini's SSE stream as OpenAI chunks;
//! - [`error::failure`]: Gemini's error answers as failures.
//!
//! Gemini 3's thought signatures ride in tool call ids (see [`call_id`]).

pub mod answer;
pub mod call_id;
pub mod embeddings;
pub mod error;
mod mapping;
pub mod request;
mod schema;
pub mod stream;
mod thinking;
pub mod wire;
