//! Telling a provider's answer from garbage, cheaply.
//!
//! A deployment that answers `200` with something that is not the endpoint's
//! answer (a captive proxy's HTML page, a body cut short, JSON of another shape)
//! has failed, like a 5xx: the client must not get it as a success. These checks
//! look only at what tells the two apart: a complete answer is scanned once as
//! JSON without building anything (its `choices` or `data` must be an array); a
//! stream's content type and its first event. The bytes go to the client as they
//! came.

use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, SeqAccess, Visitor};

use crate::endpoint::Endpoint;
use crate::sse::SseReader;

/// Why an answer of status 2xx is not an answer.
pub type NotAnAnswer = String;

/// Checks a complete answer's body: well-formed JSON whose `choices` (chat and text
/// completions), `data` (embeddings), `content` (Anthropic's messages) or `output`
/// (OpenAI's responses) is an array.
pub fn check_answer(endpoint: Endpoint, body: &[u8]) -> Result<(), NotAnAnswer> {
    let checked = match endpoint {
        Endpoint::ChatCompletions | Endpoint::Completions => serde_json::from_slice::<WithChoices>(body).map(|_| ()),
        Endpoint::Embeddings => serde_json::from_slice::<WithData>(body).map(|_| ()),
        // The answer of a deployment that speaks the client's API (Anthropic's
        // `message`, OpenAI's `response`).
        Endpoint::Messages => serde_json::from_slice::<WithContent>(body).map(|_| ()),
        Endpoint::Responses => serde_json::from_slice::<WithOutput>(body).map(|_| ()),
    };
    checked.map_err(|error| match error.classify() {
        serde_json::error::Category::Eof => format!("the body ended early ({error})"),
        serde_json::error::Category::Syntax => format!("the body is not JSON ({error})"),
        serde_json::error::Category::Data | serde_json::error::Category::Io => {
            format!("the body is not a {} answer ({error})", endpoint.upstream_path())
        }
    })
}

/// What a stream's first bytes say about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamHead {
    /// Server-sent events whose first event is a JSON object: an answer.
    Answer,
    /// No event is complete yet: read more before deciding.
    Incomplete,
    NotAnAnswer(NotAnAnswer),
}

/// Checks a stream's content type and its first event (the `head` read so far).
pub fn check_stream_head(content_type: Option<&str>, head: &[u8]) -> StreamHead {
    let is_sse = content_type.is_some_and(|t| t.trim_start().to_ascii_lowercase().starts_with("text/event-stream"));
    if !is_sse {
        return StreamHead::NotAnAnswer(format!(
            "a stream was asked for, and the answer's content type is `{}`",
            content_type.unwrap_or("(none)")
        ));
    }
    let mut first = None;
    if SseReader::new().feed(head, |event| _ = first.get_or_insert(event)).is_err() {
        return StreamHead::NotAnAnswer("the stream's first event does not end".to_owned());
    }
    let Some(event) = first else {
        return StreamHead::Incomplete;
    };
    match serde_json::from_str::<IgnoredAny>(&event.data) {
        Ok(_) if event.data.trim_start().starts_with('{') => StreamHead::Answer,
        _ => StreamHead::NotAnAnswer(format!("the stream's first event is not a JSON object: {}", shown(&event.data))),
    }
}

/// The start of a text, for a message.
fn shown(text: &str) -> String {
    match text.char_indices().nth(60) {
        Some((cut, _)) => format!("`{}…`", &text[..cut]),
        None => format!("`{text}`"),
    }
}

#[derive(Deserialize)]
struct WithChoices {
    #[serde(rename = "choices")]
    _choices: AnArray,
}

#[derive(Deserialize)]
struct WithData {
    #[serde(rename = "data")]
    _data: AnArray,
}

#[derive(Deserialize)]
struct WithContent {
    #[serde(rename = "content")]
    _content: AnArray,
}

#[derive(Deserialize)]
struct WithOutput {
    #[serde(rename = "output")]
    _output: AnArray,
}

/// Any JSON array, skipped over without being built.
struct AnArray;

impl<'de> Deserialize<'de> for AnArray {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Skip;
        impl<'de> Visitor<'de> for Skip {
            type Value = AnArray;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AnArray, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(AnArray)
            }
        }
        deserializer.deserialize_seq(Skip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHAT: &str = r#"{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi"}}],"usage":{"total_tokens":3}}"#;

    #[test]
    fn answers_of_each_endpoint_pass() {
        assert_eq!(check_answer(Endpoint::ChatCompletions, CHAT.as_bytes()), Ok(()));
        assert_eq!(check_answer(Endpoint::Completions, br#"{"choices":[]}"#), Ok(()));
        assert_eq!(check_answer(Endpoint::Embeddings, br#"{"object":"list","data":[{"embedding":[0.1]}]}"#), Ok(()));
        // Azure's extras and whitespace do not matter.
        let azure = r#" {"prompt_filter_results":[{"prompt_index":0}],"choices":[],"id":"a"} "#;
        assert_eq!(check_answer(Endpoint::ChatCompletions, azure.as_bytes()), Ok(()));
    }

    #[test]
    fn garbage_of_every_kind_is_told_apart() {
        let cases: [(&[u8], &str); 7] = [
            (b"<html><body>Please log in to the Wi-Fi</body></html>", "not JSON"),
            (&CHAT.as_bytes()[..40], "ended early"),
            (&CHAT.as_bytes()[..CHAT.len() - 1], "ended early"),
            (br#"{"object":"chat.completion"}"#, "missing field `choices`"),
            (br#"{"choices":null}"#, "not a /chat/completions answer"),
            (br#"{"choices":"yes"}"#, "an array"),
            (b"", "ended early"),
        ];
        for (body, why) in cases {
            let error = check_answer(Endpoint::ChatCompletions, body).unwrap_err();
            assert!(error.contains(why), "{:?}: {error}", String::from_utf8_lossy(body));
        }
        assert!(check_answer(Endpoint::Embeddings, CHAT.as_bytes()).unwrap_err().contains("`data`"));
    }

    #[test]
    fn a_stream_is_sse_whose_first_event_is_a_json_object() {
        let sse = Some("text/event-stream; charset=utf-8");
        assert_eq!(check_stream_head(sse, b"data: {\"choices\":[]}\n\n"), StreamHead::Answer);
        assert_eq!(check_stream_head(sse, b": keep-alive\n\ndata: {\"cho"), StreamHead::Incomplete);
        assert_eq!(check_stream_head(sse, b""), StreamHead::Incomplete);
        assert!(
            matches!(check_stream_head(Some("application/json"), CHAT.as_bytes()), StreamHead::NotAnAnswer(m) if m.contains("application/json"))
        );
        assert!(matches!(check_stream_head(None, b"data: {}\n\n"), StreamHead::NotAnAnswer(_)));
        assert!(
            matches!(check_stream_head(sse, b"data: <html>oops</html>\n\n"), StreamHead::NotAnAnswer(m) if m.contains("<html>"))
        );
        assert!(matches!(check_stream_head(sse, b"data: [DONE]\n\n"), StreamHead::NotAnAnswer(_)));
    }
}
