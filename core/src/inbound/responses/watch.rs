//! A Responses stream from a deployment that speaks the Responses API itself
//! (OpenAI's), watched as it passes to the client unchanged: when its answer
//! starts, whether it fails, and the usage `response.completed` reports.
//!
//! The watcher yields a marker chunk (one content or tool-call delta) for the
//! first piece of the answer, so that [`carries_answer`](crate::translate::carries_answer)
//! sees the answer start; the chunks themselves are never written.

use serde::Deserialize;

use crate::failure::Failure;
use crate::openai::{ChatChunk, ChunkChoice, Delta, Usage};
use crate::sse::SseReader;
use crate::translate::StreamDecoder;

/// Watches one Responses stream.
#[derive(Debug, Default)]
pub struct Watcher {
    reader: SseReader,
    started: bool,
    usage: Option<Usage>,
    ended: bool,
}

impl Watcher {
    pub fn new() -> Self {
        Self::default()
    }
}

#[derive(Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    response: Option<EventResponse>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    code: Option<String>,
}

#[derive(Deserialize)]
struct EventResponse {
    #[serde(default)]
    usage: Option<ResponseUsage>,
    #[serde(default)]
    error: Option<ResponseError>,
}

/// The Responses API's usage.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct ResponseUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub total_tokens: u64,
}

impl ResponseUsage {
    pub fn to_openai(self) -> Usage {
        Usage {
            prompt_tokens: self.input_tokens,
            completion_tokens: self.output_tokens,
            total_tokens: self.total_tokens,
            ..Usage::default()
        }
    }
}

#[derive(Deserialize)]
struct ResponseError {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// What marks the answer as started.
fn marker() -> ChatChunk {
    ChatChunk {
        id: String::new(),
        object: String::new(),
        created: 0,
        model: String::new(),
        choices: vec![ChunkChoice {
            index: 0,
            delta: Delta { content: Some(" ".into()), ..Delta::default() },
            finish_reason: None,
        }],
        usage: None,
    }
}

fn failed(code: Option<String>, message: Option<String>) -> Failure {
    let message = message.unwrap_or_else(|| "the response failed".to_owned());
    let status = match code.as_deref() {
        Some("rate_limit_exceeded") => 429,
        Some("server_error" | "vector_store_timeout") | None => 500,
        Some(_) => 400,
    };
    let body = serde_json::json!({"error": {"message": message, "type": "api_error", "code": code}});
    Failure::from_upstream(status, body.to_string().as_bytes(), None)
}

impl StreamDecoder for Watcher {
    fn feed(&mut self, bytes: &[u8], out: &mut Vec<ChatChunk>) -> Result<(), Failure> {
        let Self { reader, started, usage, ended } = self;
        let mut result = Ok(());
        reader
            .feed(bytes, |event| {
                if result.is_err() || *ended {
                    return;
                }
                let Ok(parsed) = serde_json::from_str::<Event>(&event.data) else {
                    result = Err(Failure::invalid_response(
                        "responses",
                        "the Responses stream sent an event that is not JSON".to_owned(),
                    ));
                    return;
                };
                match parsed.kind.as_str() {
                    "response.output_text.delta"
                    | "response.function_call_arguments.delta"
                    | "response.refusal.delta"
                    | "response.output_item.added"
                        if !*started =>
                    {
                        *started = true;
                        out.push(marker());
                    }
                    "response.completed" | "response.incomplete" => {
                        *ended = true;
                        *usage = parsed.response.and_then(|r| r.usage).map(ResponseUsage::to_openai);
                    }
                    "response.failed" => {
                        let error = parsed.response.and_then(|r| r.error);
                        let (code, message) = error.map_or((None, None), |e| (e.code, e.message));
                        result = Err(failed(code, message));
                    }
                    "error" => result = Err(failed(parsed.code, parsed.message)),
                    _ => {}
                }
            })
            .map_err(|e| Failure::invalid_response("responses", e.to_string()))?;
        result
    }

    fn finish(&mut self, _out: &mut Vec<ChatChunk>) -> Result<(), Failure> {
        if self.ended {
            return Ok(());
        }
        Err(Failure::unreachable("responses", "the stream ended before `response.completed`".to_owned()))
    }

    fn usage(&self) -> Option<Usage> {
        self.usage
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failure::FailureClass;
    use crate::translate::carries_answer;

    fn event(kind: &str, rest: &str) -> String {
        format!("event: {kind}\ndata: {{\"type\":\"{kind}\",\"sequence_number\":0{rest}}}\n\n")
    }

    #[test]
    fn the_answer_starts_at_its_first_delta_and_ends_with_its_usage() {
        let stream = [
            event("response.created", r#","response":{"id":"resp_1","output":[]}"#),
            event("response.in_progress", r#","response":{"id":"resp_1","output":[]}"#),
            event(
                "response.output_text.delta",
                r#","delta":"Hi","item_id":"msg_1","output_index":0,"content_index":0"#,
            ),
            event("response.output_text.delta", r#","delta":"!""#),
            event(
                "response.completed",
                r#","response":{"usage":{"input_tokens":5,"output_tokens":2,"total_tokens":7}}"#,
            ),
        ]
        .concat();
        let mut watcher = Watcher::new();
        let mut chunks = Vec::new();
        let first = stream.find("response.output_text.delta").unwrap() - 7;
        watcher.feed(&stream.as_bytes()[..first], &mut chunks).unwrap();
        assert!(chunks.is_empty(), "nothing of the answer yet");
        watcher.feed(&stream.as_bytes()[first..], &mut chunks).unwrap();
        assert_eq!(chunks.len(), 1);
        assert!(carries_answer(&chunks[0]));
        watcher.finish(&mut chunks).unwrap();
        assert_eq!(watcher.usage().map(|u| u.total_tokens), Some(7));
    }

    #[test]
    fn a_failed_response_and_a_cut_stream_are_failures() {
        let failed =
            event("response.failed", r#","response":{"error":{"code":"rate_limit_exceeded","message":"Slow down"}}"#);
        let mut watcher = Watcher::new();
        let failure = watcher.feed(failed.as_bytes(), &mut Vec::new()).unwrap_err();
        assert_eq!(failure.class, FailureClass::RateLimit);
        assert!(failure.error.to_string().contains("Slow down"));
        let mut cut = Watcher::new();
        cut.feed(event("response.created", "").as_bytes(), &mut Vec::new()).unwrap();
        assert_eq!(cut.finish(&mut Vec::new()).unwrap_err().class, FailureClass::Connection);
    }
}
