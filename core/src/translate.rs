//! The translation layer every provider that does not speak OpenAI's wire format
//! shares.
//!
//! A translated request goes through four pure steps, each provider one module of
//! [`crate::provider`]:
//! 1. **request**: the client's body, parsed once into an [`crate::openai::ChatRequest`],
//!    becomes the provider's body (the glue in `provider` adds its URL and headers);
//! 2. **answer**: the provider's complete answer becomes an [`crate::openai::ChatResponse`];
//! 3. **stream**: a [`StreamDecoder`] is fed the provider's bytes as they arrive and
//!    yields [`ChatChunk`]s; a [`ChunkEncoder`] writes them in the client's
//!    format (OpenAI's SSE, [`OpenAiSse`], for a Chat Completions client). Nothing is
//!    buffered whole, and any split of the bytes gives the same chunks;
//! 4. **errors**: the provider's error answer becomes a [`Failure`] of the classes
//!    that retries, cooldowns and fallbacks match on.
//!
//! OpenAI-compatible deployments take none of these steps: their bytes pass as
//! they are.

use serde::Serialize;

use crate::failure::Failure;
use crate::openai::{ChatChunk, ChunkChoice, Delta, FinishReason, Usage};
use crate::sse;

/// What a decoder needs to write chunks as OpenAI does.
#[derive(Debug, Clone)]
pub struct ChunkContext {
    /// The answer's id (the provider's, or one made up when it sends none).
    pub id: String,
    /// Unix seconds, stamped on every chunk.
    pub created: u64,
    pub model: String,
}

impl ChunkContext {
    /// A chunk of `choices` (one choice, index 0, in every translated stream).
    pub fn chunk(&self, delta: Delta, finish_reason: Option<FinishReason>) -> ChatChunk {
        ChatChunk {
            id: self.id.clone(),
            object: CHUNK_OBJECT.to_owned(),
            created: self.created,
            model: self.model.clone(),
            choices: vec![ChunkChoice { index: 0, delta, finish_reason }],
            usage: None,
        }
    }

    /// The last chunk, which carries the usage and no choices.
    pub fn usage_chunk(&self, usage: Usage) -> ChatChunk {
        ChatChunk {
            id: self.id.clone(),
            object: CHUNK_OBJECT.to_owned(),
            created: self.created,
            model: self.model.clone(),
            choices: Vec::new(),
            usage: Some(usage),
        }
    }
}

/// Turns a provider's stream into OpenAI chunks as its bytes arrive.
///
/// A decoder emits, in order: a first chunk with `role: assistant`; content and
/// tool-call deltas (a tool call's first delta has its `id`, `type` and name, the
/// following ones fragments of its `arguments`, all at the call's `index`); one
/// chunk with the `finish_reason`; and, when the provider reported usage, one
/// [`ChunkContext::usage_chunk`] last (the encoder drops it unless the client asked
/// for it).
// A failure ends the stream: it is returned once, so boxing it would buy nothing.
#[allow(clippy::result_large_err)]
pub trait StreamDecoder {
    /// Feeds the next bytes. An `Err` is the provider failing inside its stream (an
    /// error event, a malformed event): the stream ends there.
    fn feed(&mut self, bytes: &[u8], out: &mut Vec<ChatChunk>) -> Result<(), Failure>;

    /// The provider's stream ended. An `Err` when it ended before it should have
    /// (no stop event): the stream was cut.
    fn finish(&mut self, out: &mut Vec<ChatChunk>) -> Result<(), Failure>;

    /// The usage the provider reported so far (what a tpm counts).
    fn usage(&self) -> Option<Usage>;
}

/// Why a provider's success answer (status 200) gives no completion.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// The body is not the provider's answer: the detail for `Failure::invalid_response`.
    Invalid(String),
    /// The provider refused the prompt (Gemini's `promptFeedback.blockReason`,
    /// a Bedrock guardrail): a content-policy failure, which may fall back.
    Blocked(Box<Failure>),
}

/// Whether a chunk carries something of the answer (content, a tool call, a
/// finish): until one does, a failure may still go to another deployment, as
/// nothing of the answer has reached the client.
pub fn carries_answer(chunk: &ChatChunk) -> bool {
    chunk.choices.iter().any(|choice| {
        choice.finish_reason.is_some()
            || choice.delta.tool_calls.is_some()
            || choice.delta.content.as_deref().is_some_and(|c| !c.is_empty())
            || choice.delta.reasoning_content.is_some()
            || choice.delta.refusal.is_some()
    })
}

/// Writes chunks in the format the client reads, as they come: OpenAI's SSE
/// ([`OpenAiSse`]), or the events of another API the client speaks (Anthropic's
/// Messages API, OpenAI's Responses API).
pub trait ChunkEncoder {
    /// The next chunk of the answer.
    fn encode(&mut self, chunk: &ChatChunk, out: &mut Vec<u8>);

    /// The answer ended whole.
    fn finish(&mut self, out: &mut Vec<u8>);

    /// The answer was cut by `failure` after something of it went out: the event
    /// the client's format ends such a stream with.
    fn fail(&mut self, failure: &Failure, out: &mut Vec<u8>);

    /// The encoder itself, for what one client format makes of a stream beyond
    /// its bytes (the Responses API's final response).
    fn as_any(&self) -> &dyn std::any::Any;
}

/// Writes chunks as OpenAI's SSE: `data: <chunk>` each, the usage chunk only when
/// the client asked for it (`stream_options.include_usage`), then `data: [DONE]`; a
/// cut stream ends with `data: {"error": {...}}` and no `[DONE]`.
#[derive(Debug, Clone, Default)]
pub struct OpenAiSse {
    include_usage: bool,
    /// `data: {"id":..,"object":..,"created":..,"model":..,"choices":` as the last
    /// chunk began, and the id, created and model it was written for: every chunk of
    /// a stream shares them, so they are escaped once, not once per chunk.
    head: Vec<u8>,
    head_of: Option<(String, u64, String)>,
}

impl OpenAiSse {
    pub fn new(include_usage: bool) -> Self {
        Self { include_usage, ..Self::default() }
    }

    fn write_head(&mut self, chunk: &ChatChunk, out: &mut Vec<u8>) {
        let same = self.head_of.as_ref().is_some_and(|(id, created, model)| {
            *id == chunk.id && *created == chunk.created && *model == chunk.model && chunk.object == CHUNK_OBJECT
        });
        if !same {
            #[derive(Serialize)]
            struct Head<'a> {
                id: &'a str,
                object: &'a str,
                created: u64,
                model: &'a str,
            }
            let head = Head { id: &chunk.id, object: &chunk.object, created: chunk.created, model: &chunk.model };
            self.head.clear();
            self.head.extend_from_slice(b"data: ");
            // Serializing plain data types into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut self.head, &head);
            // The object is reopened for the fields that follow.
            self.head.pop();
            self.head.extend_from_slice(b",\"choices\":");
            self.head_of = Some((chunk.id.clone(), chunk.created, chunk.model.clone()));
        }
        out.extend_from_slice(&self.head);
    }
}

/// The `object` of every chunk.
const CHUNK_OBJECT: &str = "chat.completion.chunk";

impl ChunkEncoder for OpenAiSse {
    /// Writes what `serde_json` writes for the chunk, field for field.
    fn encode(&mut self, chunk: &ChatChunk, out: &mut Vec<u8>) {
        if chunk.usage.is_some() && chunk.choices.is_empty() && !self.include_usage {
            return;
        }
        self.write_head(chunk, out);
        let _ = serde_json::to_writer(&mut *out, &chunk.choices);
        if let Some(usage) = &chunk.usage {
            out.extend_from_slice(b",\"usage\":");
            let _ = serde_json::to_writer(&mut *out, usage);
        }
        out.extend_from_slice(b"}\n\n");
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(sse::DONE);
    }

    fn fail(&mut self, failure: &Failure, out: &mut Vec<u8>) {
        sse::write_data(out, &failure.error.body());
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// `data: <value as JSON>\n\n`.
pub fn write_json_event(out: &mut Vec<u8>, value: &impl Serialize) {
    out.extend_from_slice(b"data: ");
    // Serializing plain data types into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
    out.extend_from_slice(b"\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> ChunkContext {
        ChunkContext { id: "msg_1".into(), created: 7, model: "claude".into() }
    }

    #[test]
    fn the_usage_chunk_is_written_only_when_asked_for() {
        let ctx = context();
        let usage = Usage { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3, ..Usage::default() };
        let mut plain = Vec::new();
        ChunkEncoder::encode(&mut OpenAiSse::new(false), &ctx.usage_chunk(usage), &mut plain);
        assert!(plain.is_empty());
        let mut asked = Vec::new();
        ChunkEncoder::encode(&mut OpenAiSse::new(true), &ctx.usage_chunk(usage), &mut asked);
        let text = String::from_utf8(asked).unwrap();
        assert!(text.starts_with("data: {") && text.ends_with("}\n\n"), "{text}");
        assert!(text.contains("\"choices\":[]") && text.contains("\"total_tokens\":3"), "{text}");
    }

    #[test]
    fn chunks_are_written_as_serde_writes_them_whatever_their_head() {
        let ctx = context();
        let other = ChunkContext { id: "msg_\"2\"".into(), created: 8, model: "claude".into() };
        let usage = Usage { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3, ..Usage::default() };
        let chunks = [
            ctx.chunk(Delta { role: Some("assistant".into()), ..Delta::default() }, None),
            ctx.chunk(Delta { content: Some("h\u{e9} \"quoted\"\n".into()), ..Delta::default() }, None),
            other.chunk(Delta::default(), Some(FinishReason::Stop)),
            ctx.chunk(Delta { content: Some("again".into()), ..Delta::default() }, None),
            ctx.usage_chunk(usage),
        ];
        let mut encoder = OpenAiSse::new(true);
        let (mut written, mut expected) = (Vec::new(), Vec::new());
        for chunk in &chunks {
            encoder.encode(chunk, &mut written);
            write_json_event(&mut expected, chunk);
        }
        assert_eq!(String::from_utf8(written).unwrap(), String::from_utf8(expected).unwrap());
    }

    #[test]
    fn a_role_chunk_carries_no_answer_but_content_and_a_finish_do() {
        let ctx = context();
        let role =
            ctx.chunk(Delta { role: Some("assistant".into()), content: Some(String::new()), ..Delta::default() }, None);
        assert!(!carries_answer(&role));
        assert!(carries_answer(&ctx.chunk(Delta { content: Some("hi".into()), ..Delta::default() }, None)));
        assert!(carries_answer(&ctx.chunk(Delta::default(), Some(FinishReason::Stop))));
    }
}
