//! `streamGenerateContent?alt=sse` as OpenAI chunks.
//!
//! Each SSE data event is a whole `GenerateContentResponse` holding the next
//! parts of each candidate. Every candidate becomes a choice (its `index`): a
//! first chunk with the role, then one chunk per text, thought
//! (`reasoning_content`) or function call; Gemini sends each call whole, so its
//! one delta has the id, type, name and all the arguments. Finish reasons are
//! held until the stream ends, then written one chunk per choice, followed by the
//! usage of the last `usageMetadata` (Gemini repeats it, growing, on the events):
//! content that would come after a finish reason still reaches the client in order.
//!
//! An `{"error": ...}` event is the provider failing mid-stream; a blocked prompt
//! a content-policy failure; an event that is not JSON, or a stream that ends
//! before every candidate had its finish reason, the stream failing.

use super::wire::{AnswerPart, FinishReason, GenerateContentResponse};
use super::{call_id, error, mapping};
use crate::failure::Failure;
use crate::openai::{ChatChunk, Delta, FunctionCallDelta, ToolCallDelta, Usage};
use crate::sse::{Event, SseReader};
use crate::translate::{ChunkContext, StreamDecoder};

/// Names the provider in the failures the decoder makes itself: it does not know
/// the deployment (the caller may put its name in the error).
const PROVIDER: &str = "gemini";

/// Decodes one Gemini stream.
pub struct Decoder {
    reader: SseReader,
    /// Events read but not yet turned into chunks.
    events: Vec<Event>,
    rng: fastrand::Rng,
    created: u64,
    /// Known from the first event.
    context: Option<ChunkContext>,
    choices: Vec<ChoiceState>,
    usage: Option<Usage>,
}

/// What the stream said so far of one candidate.
struct ChoiceState {
    index: u32,
    calls: u32,
    /// `None` until Gemini says why the candidate stopped.
    finish: Option<FinishReason>,
}

impl Decoder {
    /// `created` stamps every chunk; `seed` makes the ids (the answer's when Gemini
    /// sends none, and the tool calls').
    pub fn new(created: u64, seed: u64) -> Self {
        Self {
            reader: SseReader::new(),
            events: Vec::new(),
            rng: fastrand::Rng::with_seed(seed),
            created,
            context: None,
            choices: Vec::new(),
            usage: None,
        }
    }

    /// One event's chunks (a `Failure` whole, as [`StreamDecoder`] returns it).
    #[allow(clippy::result_large_err)]
    fn event(&mut self, data: &str, out: &mut Vec<ChatChunk>) -> Result<(), Failure> {
        let event: GenerateContentResponse = serde_json::from_str(data)
            .map_err(|e| Failure::invalid_response(PROVIDER, format!("a stream event is not a Gemini answer: {e}")))?;
        if let Some(status) = event.error {
            let http = status.code.filter(|code| *code >= 400).unwrap_or(500);
            return Err(error::from_status(http, None, status));
        }
        if let Some(failure) = mapping::blocked(&event) {
            return Err(failure);
        }
        if let Some(meta) = &event.usage_metadata {
            self.usage = Some(mapping::usage(meta));
        }
        let rng = &mut self.rng;
        let created = self.created;
        let context = self.context.get_or_insert_with(|| ChunkContext {
            id: mapping::answer_id(event.response_id, rng),
            created,
            model: event.model_version.unwrap_or_default(),
        });
        for (position, candidate) in event.candidates.into_iter().enumerate() {
            let index = candidate.index.unwrap_or(position as u32);
            let state = match self.choices.iter().position(|choice| choice.index == index) {
                Some(found) => &mut self.choices[found],
                None => {
                    let role =
                        Delta { role: Some("assistant".to_owned()), content: Some(String::new()), ..Delta::default() };
                    out.push(at(index, context.chunk(role, None)));
                    self.choices.push(ChoiceState { index, calls: 0, finish: None });
                    let last = self.choices.len() - 1;
                    &mut self.choices[last]
                }
            };
            for part in candidate.content.map(|content| content.parts).unwrap_or_default() {
                if let Some(delta) = delta(part, state, &mut self.rng) {
                    out.push(at(index, context.chunk(delta, None)));
                }
            }
            if candidate.finish_reason.is_some() {
                state.finish = candidate.finish_reason;
            }
        }
        Ok(())
    }
}

/// The delta of one part; `None` for a part with nothing OpenAI can carry.
fn delta(part: AnswerPart, state: &mut ChoiceState, rng: &mut fastrand::Rng) -> Option<Delta> {
    match part {
        AnswerPart { function_call: Some(call), thought_signature, .. } => {
            let index = state.calls;
            state.calls += 1;
            let call = ToolCallDelta {
                index,
                id: Some(call_id::new(rng, thought_signature.as_deref())),
                kind: Some("function".to_owned()),
                function: Some(FunctionCallDelta {
                    name: Some(call.name),
                    arguments: Some(mapping::arguments(call.args)),
                }),
            };
            Some(Delta { tool_calls: Some(vec![call]), ..Delta::default() })
        }
        AnswerPart { text: Some(text), thought: true, .. } if !text.is_empty() => {
            Some(Delta { reasoning_content: Some(text), ..Delta::default() })
        }
        AnswerPart { text: Some(text), .. } if !text.is_empty() => {
            Some(Delta { content: Some(text), ..Delta::default() })
        }
        AnswerPart { text: None, inline_data: Some(blob), thought: false, .. }
            if !blob.mime_type.starts_with("audio/") =>
        {
            Some(Delta { content: Some(format!("data:{};base64,{}", blob.mime_type, blob.data)), ..Delta::default() })
        }
        _ => None,
    }
}

/// `chunk` as the chunk of choice `index`.
fn at(index: u32, mut chunk: ChatChunk) -> ChatChunk {
    for choice in &mut chunk.choices {
        choice.index = index;
    }
    chunk
}

impl StreamDecoder for Decoder {
    fn feed(&mut self, bytes: &[u8], out: &mut Vec<ChatChunk>) -> Result<(), Failure> {
        let events = &mut self.events;
        self.reader
            .feed(bytes, |event| events.push(event))
            .map_err(|e| Failure::invalid_response(PROVIDER, e.to_string()))?;
        let events = std::mem::take(&mut self.events);
        for event in &events {
            self.event(&event.data, out)?;
        }
        // The allocation is kept for the next piece.
        self.events = events;
        self.events.clear();
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<ChatChunk>) -> Result<(), Failure> {
        let (Some(context), false) = (&self.context, self.choices.is_empty()) else {
            return Err(Failure::invalid_response(PROVIDER, "the stream ended before any answer".to_owned()));
        };
        if let Some(open) = self.choices.iter().find(|choice| choice.finish.is_none()) {
            return Err(Failure::invalid_response(
                PROVIDER,
                format!("the stream was cut: choice {} had no finish reason", open.index),
            ));
        }
        self.choices.sort_by_key(|choice| choice.index);
        for choice in &self.choices {
            let reason = mapping::finish_reason(choice.finish, choice.calls > 0);
            out.push(at(choice.index, context.chunk(Delta::default(), Some(reason))));
        }
        if let Some(usage) = self.usage {
            out.push(context.usage_chunk(usage));
        }
        Ok(())
    }

    fn usage(&self) -> Option<Usage> {
        self.usage
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failure::FailureClass;
    use crate::openai::FinishReason as Finish;

    /// The chunks of `bytes` fed in `pieces`, and how the stream ended.
    fn decode(pieces: &[&[u8]]) -> (Vec<ChatChunk>, Result<(), Failure>) {
        let mut decoder = Decoder::new(1_700_000_000, 42);
        let mut out = Vec::new();
        for piece in pieces {
            if let Err(failure) = decoder.feed(piece, &mut out) {
                return (out, Err(failure));
            }
        }
        let end = decoder.finish(&mut out);
        (out, end)
    }

    /// Whole, byte by byte, and cut in two at every position: the same chunks.
    fn decode_every_way(stream: &[u8]) -> (Vec<ChatChunk>, Result<(), Failure>) {
        let whole = decode(&[stream]);
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(decode(&bytes), whole, "byte by byte");
        for cut in 0..=stream.len() {
            assert_eq!(decode(&[&stream[..cut], &stream[cut..]]), whole, "cut at {cut}");
        }
        whole
    }

    fn sse(events: &[&str]) -> Vec<u8> {
        events.iter().flat_map(|event| format!("data: {event}\r\n\r\n").into_bytes()).collect()
    }

    fn text_of(chunks: &[ChatChunk]) -> String {
        chunks.iter().flat_map(|c| &c.choices).filter_map(|c| c.delta.content.as_deref()).collect()
    }

    #[test]
    fn a_text_stream_gives_role_deltas_finish_and_usage() {
        let stream = sse(&[
            r#"{"candidates": [{"content": {"parts": [{"text": "The sky"}], "role": "model"}, "index": 0}], "usageMetadata": {"promptTokenCount": 8, "totalTokenCount": 8}, "modelVersion": "gemini-2.5-flash", "responseId": "resp-1"}"#,
            r#"{"candidates": [{"content": {"parts": [{"text": " is blue."}], "role": "model"}, "index": 0}], "usageMetadata": {"promptTokenCount": 8, "candidatesTokenCount": 4, "totalTokenCount": 12}, "modelVersion": "gemini-2.5-flash", "responseId": "resp-1"}"#,
            r#"{"candidates": [{"content": {"parts": [{"text": ""}], "role": "model"}, "finishReason": "STOP", "index": 0}], "usageMetadata": {"promptTokenCount": 8, "candidatesTokenCount": 5, "totalTokenCount": 20, "thoughtsTokenCount": 7}, "modelVersion": "gemini-2.5-flash", "responseId": "resp-1"}"#,
        ]);
        let (chunks, end) = decode_every_way(&stream);
        assert!(end.is_ok());
        assert!(chunks.iter().all(|c| c.id == "resp-1" && c.model == "gemini-2.5-flash" && c.created == 1_700_000_000));
        assert_eq!(chunks[0].choices[0].delta.role.as_deref(), Some("assistant"));
        assert_eq!(text_of(&chunks), "The sky is blue.");
        assert_eq!(chunks.len(), 5);
        assert_eq!(chunks[3].choices[0].finish_reason, Some(Finish::Stop));
        let usage = chunks[4].usage.unwrap();
        assert!(chunks[4].choices.is_empty());
        assert_eq!((usage.prompt_tokens, usage.completion_tokens, usage.total_tokens), (8, 12, 20));
    }

    #[test]
    fn thoughts_stream_as_reasoning_and_calls_arrive_whole() {
        let stream = sse(&[
            r#"{"candidates": [{"content": {"parts": [{"text": "Need the weather.", "thought": true}], "role": "model"}}], "modelVersion": "gemini-3-pro-preview"}"#,
            r#"{"candidates": [{"content": {"parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "Cs8CAdHtim9"}, {"functionCall": {"name": "get_time", "args": {}}}], "role": "model"}, "finishReason": "STOP"}], "usageMetadata": {"promptTokenCount": 30, "candidatesTokenCount": 10, "totalTokenCount": 40}, "modelVersion": "gemini-3-pro-preview"}"#,
        ]);
        let (chunks, end) = decode_every_way(&stream);
        assert!(end.is_ok());
        assert_eq!(chunks[1].choices[0].delta.reasoning_content.as_deref(), Some("Need the weather."));
        let calls: Vec<&ToolCallDelta> =
            chunks.iter().flat_map(|c| &c.choices).flat_map(|c| c.delta.tool_calls.iter().flatten()).collect();
        assert_eq!(calls.len(), 2);
        assert_eq!((calls[0].index, calls[1].index), (0, 1));
        let first = calls[0].function.as_ref().unwrap();
        assert_eq!(
            (first.name.as_deref(), first.arguments.as_deref()),
            (Some("get_weather"), Some(r#"{"city": "Paris"}"#))
        );
        assert_eq!(call_id::split(calls[0].id.as_deref().unwrap()).1, Some("Cs8CAdHtim9"));
        assert_eq!(calls[1].kind.as_deref(), Some("function"));
        assert!(chunks[0].id.starts_with("chatcmpl-"));
        let finish = chunks.iter().find_map(|c| c.choices.first().and_then(|c| c.finish_reason));
        assert_eq!(finish, Some(Finish::ToolCalls));
    }

    #[test]
    fn several_candidates_stream_as_several_choices() {
        let stream = sse(&[
            r#"{"candidates": [{"content": {"parts": [{"text": "A"}]}, "index": 0}, {"content": {"parts": [{"text": "B"}]}, "index": 1}]}"#,
            r#"{"candidates": [{"content": {"parts": [{"text": "!"}]}, "finishReason": "STOP", "index": 1}, {"content": {"parts": [{"text": "?"}]}, "finishReason": "MAX_TOKENS", "index": 0}]}"#,
        ]);
        let (chunks, end) = decode_every_way(&stream);
        assert!(end.is_ok());
        let of = |index: u32| -> String {
            chunks
                .iter()
                .flat_map(|c| &c.choices)
                .filter(|c| c.index == index)
                .filter_map(|c| c.delta.content.as_deref())
                .collect()
        };
        assert_eq!((of(0), of(1)), ("A?".to_owned(), "B!".to_owned()));
        let finishes: Vec<_> =
            chunks.iter().flat_map(|c| &c.choices).filter_map(|c| c.finish_reason.map(|f| (c.index, f))).collect();
        assert_eq!(finishes, [(0, Finish::Length), (1, Finish::Stop)]);
    }

    #[test]
    fn an_error_event_fails_the_stream() {
        let mut stream = sse(&[r#"{"candidates": [{"content": {"parts": [{"text": "Hel"}]}}]}"#]);
        stream.extend(sse(&[r#"{"error": {"code": 503, "message": "The model is overloaded. Please try again later.", "status": "UNAVAILABLE"}}"#]));
        let (chunks, end) = decode_every_way(&stream);
        assert_eq!(text_of(&chunks), "Hel");
        let failure = end.unwrap_err();
        assert_eq!((failure.class, failure.error.status()), (FailureClass::Internal, 503));
        assert!(failure.error.to_string().contains("overloaded"));
    }

    #[test]
    fn a_stream_without_a_finish_reason_was_cut() {
        let stream = sse(&[r#"{"candidates": [{"content": {"parts": [{"text": "Half an ans"}]}}]}"#]);
        let (chunks, end) = decode_every_way(&stream);
        assert_eq!(text_of(&chunks), "Half an ans");
        assert_eq!(end.unwrap_err().class, FailureClass::InvalidResponse);
        let (none, end) = decode(&[b""]);
        assert!(none.is_empty());
        assert_eq!(end.unwrap_err().class, FailureClass::InvalidResponse);
    }

    #[test]
    fn a_blocked_prompt_and_a_malformed_event_fail() {
        let blocked = sse(&[
            r#"{"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 4, "totalTokenCount": 4}}"#,
        ]);
        let (chunks, end) = decode_every_way(&blocked);
        assert!(chunks.is_empty());
        assert_eq!(end.unwrap_err().class, FailureClass::ContentPolicy);
        let (_, end) = decode(&[b"data: {not json\r\n\r\n"]);
        assert_eq!(end.unwrap_err().class, FailureClass::InvalidResponse);
    }

    #[test]
    fn usage_is_known_as_it_arrives() {
        let mut decoder = Decoder::new(0, 1);
        let mut out = Vec::new();
        assert_eq!(decoder.usage(), None);
        let event = sse(&[
            r#"{"candidates": [{"content": {"parts": [{"text": "x"}]}}], "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1, "totalTokenCount": 4}}"#,
        ]);
        decoder.feed(&event, &mut out).unwrap();
        assert_eq!(decoder.usage().map(|u| u.total_tokens), Some(4));
    }
}
