//! Amazon Bedrock: the Converse API, embeddings through `InvokeModel`, and the
//! two AWS mechanisms they need.
//!
//! - [`request`], [`answer`], [`stream`], [`error`]: OpenAI's chat completions
//!   as `Converse` / `ConverseStream` requests, and their answers, streams and
//!   errors back (the types in [`wire`]); [`family`] tells the model families
//!   apart where their requests differ, and [`unsupported`] names the fields
//!   Bedrock cannot take;
//! - [`embeddings`]: OpenAI's embeddings as Titan and Cohere `InvokeModel` calls;
//! - [`eventstream`]: the binary framing `ConverseStream` answers in (with
//!   [`crc32`], which checks each frame);
//! - [`sigv4`]: AWS Signature Version 4, which authenticates every request, and
//!   [`endpoint`]: where a request goes and the name it is signed for.

pub mod answer;
pub mod crc32;
pub mod embeddings;
pub mod endpoint;
pub mod error;
pub mod eventstream;
pub mod family;
pub mod request;
pub mod sigv4;
pub mod stream;
pub mod unsupported;
pub mod wire;
