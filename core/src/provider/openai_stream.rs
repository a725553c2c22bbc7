//! An OpenAI-compatible deployment's stream read back into chunks, for a client of
//! another API (Anthropic's Messages, OpenAI's Responses): `data: <chunk>` events
//! until `data: [DONE]`. A Chat Completions client never needs this: its stream
//! passes as it came.
//!
//! A `data: {"error": {...}}` event (how OpenAI-compatible servers fail inside a
//! stream) is the deployment's failure, classified as its error answer would be;
//! a stream that ends without `[DONE]` was cut.

use crate::error::ApiError;
use crate::failure::{Failure, FailureClass};
use crate::openai::{ChatChunk, Usage};
use crate::sse::SseReader;
use crate::translate::StreamDecoder;

/// Decodes one OpenAI chat completions stream.
#[derive(Debug, Default)]
pub struct Decoder {
    reader: SseReader,
    usage: Option<Usage>,
    done: bool,
}

impl Decoder {
    pub fn new() -> Self {
        Self::default()
    }
}

/// An event that is neither a chunk nor `[DONE]` nor an error.
fn invalid(detail: String) -> Failure {
    Failure {
        class: FailureClass::InvalidResponse,
        error: ApiError::Upstream {
            status: 502,
            message: detail,
            kind: "api_error".to_owned(),
            param: None,
            code: Some("upstream_invalid_response".to_owned()),
            retry_after_ms: None,
        },
        retry_after_ms: None,
        slow_down: false,
    }
}

impl StreamDecoder for Decoder {
    fn feed(&mut self, bytes: &[u8], out: &mut Vec<ChatChunk>) -> Result<(), Failure> {
        let Self { reader, usage, done } = self;
        let mut result = Ok(());
        reader
            .feed(bytes, |event| {
                if result.is_err() || *done {
                    return;
                }
                let data = event.data.trim();
                if data == "[DONE]" {
                    *done = true;
                    return;
                }
                // An error event: `{"error": {...}}`, read as its error answer would be.
                if data.starts_with("{\"error\"") {
                    result = Err(Failure::from_upstream(500, data.as_bytes(), None));
                    return;
                }
                match serde_json::from_str::<ChatChunk>(data) {
                    Ok(chunk) => {
                        if chunk.usage.is_some() {
                            *usage = chunk.usage;
                        }
                        out.push(chunk);
                    }
                    Err(e) => result = Err(invalid(format!("the stream sent an event that is not a chunk: {e}"))),
                }
            })
            .map_err(|e| invalid(e.to_string()))?;
        result
    }

    fn finish(&mut self, _out: &mut Vec<ChatChunk>) -> Result<(), Failure> {
        if self.done {
            return Ok(());
        }
        Err(Failure {
            class: FailureClass::Connection,
            error: ApiError::Upstream {
                status: 502,
                message: "the stream ended before `data: [DONE]`: the answer is incomplete".to_owned(),
                kind: "api_error".to_owned(),
                param: None,
                code: Some("upstream_unreachable".to_owned()),
                retry_after_ms: None,
            },
            retry_after_ms: None,
            slow_down: false,
        })
    }

    fn usage(&self) -> Option<Usage> {
        self.usage
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &str = concat!(
        "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"system_fingerprint\":\"fp\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n",
        ": keep-alive\n\n",
        "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi \\u00e9\"},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\n",
        "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3,\"total_tokens\":8}}\n\n",
        "data: [DONE]\n\n",
    );

    fn decode(pieces: &[&[u8]]) -> (Vec<ChatChunk>, Result<(), Failure>, Option<Usage>) {
        let mut decoder = Decoder::new();
        let mut out = Vec::new();
        for piece in pieces {
            if let Err(failure) = decoder.feed(piece, &mut out) {
                return (out, Err(failure), decoder.usage());
            }
        }
        let result = decoder.finish(&mut out);
        (out, result, decoder.usage())
    }

    #[test]
    fn chunks_and_usage_come_out_whatever_the_split() {
        let (whole, result, usage) = decode(&[STREAM.as_bytes()]);
        assert!(result.is_ok());
        assert_eq!(whole.len(), 4);
        assert_eq!(whole[1].choices[0].delta.content.as_deref(), Some("Hi é"));
        assert_eq!(whole[2].choices[0].delta.tool_calls.as_ref().unwrap()[0].id.as_deref(), Some("call_1"));
        assert_eq!(usage.map(|u| u.total_tokens), Some(8));
        let bytes = STREAM.as_bytes();
        for cut in 0..bytes.len() {
            let (split, result, _) = decode(&[&bytes[..cut], &bytes[cut..]]);
            assert!(result.is_ok(), "cut at {cut}");
            assert_eq!(split, whole, "cut at {cut}");
        }
        let single: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(decode(&single).0, whole);
    }

    #[test]
    fn an_error_event_is_the_deployments_failure_and_a_cut_stream_is_incomplete() {
        let error = "data: {\"error\":{\"message\":\"Rate limit reached\",\"type\":\"requests\",\"code\":\"rate_limit_exceeded\"}}\n\n";
        let first = STREAM.find("\n\n").unwrap() + 2;
        let (_, result, _) = decode(&[&STREAM.as_bytes()[..first], error.as_bytes()]);
        let failure = result.unwrap_err();
        assert!(failure.error.to_string().contains("Rate limit reached"), "{}", failure.error);
        let cut = &STREAM[..STREAM.len() - "data: [DONE]\n\n".len()];
        let (_, result, _) = decode(&[cut.as_bytes()]);
        assert_eq!(result.unwrap_err().class, FailureClass::Connection);
        let (_, result, _) = decode(&[b"data: <html>\n\n"]);
        assert_eq!(result.unwrap_err().class, FailureClass::InvalidResponse);
    }
}
