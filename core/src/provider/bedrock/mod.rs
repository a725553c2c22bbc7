//! Amazon Bedrock: the Converse API, and the two AWS mechanisms it needs.
//!
//! - [`request`], [`answer`], [`stream`], [`error`]: OpenAI's chat completions
//!   as `Converse` / `ConverseStream` requests, and their answers, streams and
//!   errors back (the types in [`wire`]); [`family`] tells the model families
//!   apart where their requests differ;
//! - [`eventstream`]: the binary framing `ConverseStream` answers in (with
//!   [`crc32`], which checks each frame);
//! - [`sigv4`]: AWS Signature Version 4, which authenticates every request, and
//!   [`endpoint`]: where a request goes and the name it is signed for.

pub mod answer;
pub mod crc32;
pub mod endpoint;
pub mod error;
pub mod eventstream;
pub mod family;
pub mod request;
pub mod sigv4;
pub mod stream;
pub mod wire;
