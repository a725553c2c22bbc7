//! The tokens an answer reports using: its total is what a tpm counts and
//! usage-based routing goes by, once the answer is in; its prompt and completion
//! tokens price it (`cost`).
//!
//! A stream reports its usage only when the client asked for it
//! (`stream_options: {"include_usage": true}`): in one last event before `[DONE]`,
//! whose `choices` are empty. Without it, the stream counts at its prompt's
//! estimate, as it did when it was picked.

use serde::Deserialize;

use crate::openai::Usage;

/// What an answer's `usage` says, as far as it says it (an embedding's has no
/// completion tokens).
#[derive(Deserialize)]
struct Counted {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
    total_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct WithUsage {
    usage: Option<Counted>,
}

impl WithUsage {
    /// The usage, when it gives a total.
    fn usage(self) -> Option<Usage> {
        let Counted { prompt_tokens, completion_tokens, total_tokens } = self.usage?;
        Some(Usage { prompt_tokens, completion_tokens, total_tokens: total_tokens?, ..Usage::default() })
    }
}

/// A complete answer's usage, without building a JSON tree.
pub fn of_answer(body: &[u8]) -> Option<Usage> {
    serde_json::from_slice::<WithUsage>(body).ok()?.usage()
}

/// A stream's usage, from its end: the last event that is a whole JSON object
/// (`end` may begin part-way through an event). `None` when that event carries no
/// usage.
pub fn of_stream_end(end: &[u8]) -> Option<Usage> {
    end.split(|&byte| byte == b'\n')
        .rev()
        .filter_map(|line| line.strip_prefix(b"data:"))
        .map(<[u8]>::trim_ascii)
        .filter(|data| *data != b"[DONE]")
        .find_map(|data| serde_json::from_slice::<WithUsage>(data).ok())?
        .usage()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_complete_answer_s_usage() {
        let body = br#"{"id":"x","choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}}"#;
        let usage = of_answer(body).unwrap();
        assert_eq!((usage.prompt_tokens, usage.completion_tokens, usage.total_tokens), (5, 3, 8));
        let embedding = br#"{"object":"list","data":[],"usage":{"prompt_tokens":4,"total_tokens":4}}"#;
        assert_eq!(
            of_answer(embedding).map(|u| (u.prompt_tokens, u.completion_tokens, u.total_tokens)),
            Some((4, 0, 4))
        );
        assert_eq!(of_answer(br#"{"id":"x","choices":[]}"#), None);
        assert_eq!(of_answer(b"not json"), None);
    }

    #[test]
    fn a_stream_s_usage_is_its_last_event_s() {
        let end = concat!(
            "ntent\":\"partial\"}}]}\n\n",
            "data: {\"id\":\"x\",\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":null}\n\n",
            "data: {\"id\":\"x\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":31,\"total_tokens\":40}}\n\n",
            "data: [DONE]\n\n",
        );
        let usage = of_stream_end(end.as_bytes()).unwrap();
        assert_eq!((usage.prompt_tokens, usage.completion_tokens, usage.total_tokens), (9, 31, 40));
        // Without `data: ` spacing, and with `\r\n` line ends.
        let tight = "data:{\"choices\":[],\"usage\":{\"total_tokens\":7}}\r\n\r\ndata:[DONE]\r\n\r\n";
        assert_eq!(of_stream_end(tight.as_bytes()).map(|u| u.total_tokens), Some(7));
    }

    #[test]
    fn a_stream_that_was_not_asked_for_its_usage_has_none() {
        let end = "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
        assert_eq!(of_stream_end(end.as_bytes()), None);
        // Only a cut-off piece of an event: nothing to read.
        assert_eq!(of_stream_end(b"\"total_tokens\":40}}\n\ndata: [DONE]\n\n"), None);
        assert_eq!(of_stream_end(b""), None);
    }
}
