//! APIs clients speak other than Chat Completions, mapped to and from it.

pub mod client;
pub mod messages;
pub mod responses;
