//! Amazon Bedrock: the Converse API, and the two AWS mechanisms it needs.
//!
//! - [`eventstream`]: the binary framing `ConverseStream` answers in (with
//!   [`crc32`], which checks each frame);
//! - [`sigv4`]: AWS Signature Version 4, which authenticates every request.

pub mod crc32;
pub mod eventstream;
pub mod sigv4;
