//! What one request did, written once it is over: the request log's line, the
//! callbacks' span or trace, and the metrics' counts are all made from it.
//!
//! Never message content nor any secret: the caller's key appears only hashed
//! (as LiteLLM's `hashed_api_key`), providers' text only as its failure class.
//! The one exception is [`Content`], filled only for callbacks that log
//! messages, and never while `litellm_settings.turn_off_message_logging` is set.

use serde::Serialize;

use crate::config::Deployment;
use crate::failure::FailureClass;
use crate::openai::Usage;

/// One request, from the client's arrival to its answer's end (a stream's last
/// byte, else its head). Times are milliseconds since the Unix epoch.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RequestRecord {
    /// When the request arrived.
    pub time_ms: u64,
    /// Sent back as `x-request-id` and `x-litellm-call-id`.
    pub request_id: String,
    /// The path the client called, e.g. `/v1/chat/completions`.
    pub endpoint: &'static str,
    /// The `model` the client asked for (a group or an alias).
    pub model: String,
    /// The group the model names (aliases resolved), once known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The deployment that gave the final answer (or the last one tried); of a
    /// fallback group when one served.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment: Option<Called>,
    /// The status the client got.
    pub status: u16,
    /// From arrival to the answer's end.
    pub latency_ms: u64,
    /// The final call's, from its start to its answer's end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_latency_ms: Option<u64>,
    /// A stream's, from the final call's start to its first chunk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttft_ms: Option<u64>,
    pub stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Tokens>,
    /// In USD, at the deployment's `model_info` prices.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<f64>,
    /// Every attempt before the answer, with how it failed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failed_attempts: Vec<FailedAttempt>,
    /// Attempts after the first at the same group, and moves to a fallback group.
    pub retries: u32,
    pub fallbacks: u32,
    /// Answered from the cache (`true`), looked up there and missed (`false`);
    /// `None` where the cache does not apply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_hit: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<u32>,
    /// How long it waited in its group's queue, if it waited there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_wait_ms: Option<u64>,
    /// How long it waited in its isolate for a slot one of the isolate's
    /// requests freed (`coordinator::local::slot_wait`), if it waited there,
    /// whether it was served in the slot, elsewhere, or refused after.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slot_wait_ms: Option<u64>,
    /// The caller's key hashed ([`crate::secret::hashed`]), as LiteLLM's `hashed_api_key`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hashed_api_key: Option<String>,
    /// The error type the client got (OpenAI's `error.type`), never its message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    /// The request's own `metadata` object, as LiteLLM passes it to its loggers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
    /// Messages and answer, for callbacks only (see the module doc): never logged.
    #[serde(skip)]
    pub content: Option<Content>,
}

/// A deployment as the metrics and traces name it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Called {
    /// Its model group.
    pub group: String,
    /// Its `model_info.id` (LiteLLM's `model_id`).
    pub id: String,
    /// The model sent upstream (LiteLLM's `litellm_model_name`).
    pub model: String,
    /// LiteLLM's provider name: `openai`, `azure`, `anthropic`, `gemini`, `vertex_ai`, `bedrock`.
    pub provider: &'static str,
}

/// An answer's tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tokens {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
}

impl From<&Usage> for Tokens {
    fn from(usage: &Usage) -> Self {
        Self {
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            total_tokens: usage.total_tokens,
        }
    }
}

/// An attempt that failed before the final answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailedAttempt {
    pub group: String,
    /// The deployment's id.
    pub deployment: String,
    pub class: FailureClass,
    /// How long it took to fail.
    pub latency_ms: u64,
}

/// How a relayed stream ended, told to its request's record after the reply left.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StreamEnded {
    /// What its last event reported, when it was read.
    pub usage: Option<Usage>,
    /// The class of its failure after its head, if it broke.
    pub failure: Option<FailureClass>,
    /// From its call's start to its end.
    pub latency_ms: u64,
}

/// What a callback that logs messages may carry: the request's input as the
/// client sent it (`messages`, `input` or `prompt`, raw JSON), and the answer's
/// text when the gateway read the answer whole.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Content {
    pub input: Option<String>,
    pub output: Option<String>,
}

impl Content {
    /// The text of an answer as the client got it, whichever API it is in
    /// (Chat Completions', text completions', the Messages or the Responses API's).
    pub fn answer_text(body: &[u8]) -> Option<String> {
        let answer: serde_json::Value = serde_json::from_slice(body).ok()?;
        let choice = answer.get("choices").and_then(|c| c.get(0));
        let chat = choice.and_then(|c| c.pointer("/message/content").or_else(|| c.get("text")));
        if let Some(text) = chat.and_then(serde_json::Value::as_str) {
            return Some(text.to_owned());
        }
        // Anthropic's `content` blocks, or the Responses API's `output` messages.
        let blocks = answer.get("content").and_then(serde_json::Value::as_array).cloned().or_else(|| {
            let output = answer.get("output")?.as_array()?;
            Some(output.iter().filter_map(|o| o.get("content")?.as_array()).flatten().cloned().collect())
        })?;
        let text: Vec<&str> = blocks.iter().filter_map(|b| b.get("text")?.as_str()).collect();
        (!text.is_empty()).then(|| text.concat())
    }
}

impl RequestRecord {
    pub fn new(time_ms: u64, request_id: String, endpoint: &'static str) -> Self {
        Self { time_ms, request_id, endpoint, ..Self::default() }
    }

    /// A call to `deployment` of `group` starts: after another, it is a retry,
    /// and, in another group than the last, a fallback.
    pub fn calling(&mut self, group: &str, deployment: &Deployment) {
        if let Some(last) = &self.deployment {
            self.retries += 1;
            if last.group != group {
                self.fallbacks += 1;
            }
        }
        self.deployment = Some(Called {
            group: group.to_owned(),
            id: deployment.id.as_str().to_owned(),
            model: deployment.model.clone(),
            provider: deployment.provider,
        });
    }

    /// The call started by the last [`RequestRecord::calling`] failed.
    pub fn call_failed(&mut self, class: FailureClass, latency_ms: u64) {
        if let Some(called) = &self.deployment {
            let (group, deployment) = (called.group.clone(), called.id.clone());
            self.failed_attempts.push(FailedAttempt { group, deployment, class, latency_ms });
        }
    }

    /// Completes the record of a stream with its end: its usage and its cost at
    /// `deployment`'s prices, its latency, and a failure after its head.
    pub fn stream_ended(&mut self, ended: StreamEnded, deployment: Option<&Deployment>) {
        self.api_latency_ms = Some(ended.latency_ms);
        if let Some(usage) = &ended.usage {
            self.usage = Some(Tokens::from(usage));
            self.cost = deployment.and_then(|d| crate::cost::of(d, usage));
        }
        if let Some(class) = ended.failure {
            self.call_failed(class, ended.latency_ms);
            self.error_type = Some("stream_error".into());
        }
    }

    /// The request log's line: one JSON object, without content.
    pub fn log_line(&self) -> String {
        // Every field serializes (no map with non-string keys, no non-finite
        // float that JSON refuses: a NaN cost becomes null): this cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Whether the client got an answer.
    pub fn succeeded(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// A request id: a random (version 4) UUID from `random` (128 random bits).
pub fn request_id(random: u128) -> String {
    // The version and variant bits, as RFC 9562 sets them for version 4.
    let bits = (random & !(0xf << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62);
    let hex = format!("{bits:032x}");
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// A request id the client sent (`x-litellm-call-id`), kept if it is a plain
/// token (letters, digits, `-`, `_`, `.`, at most 128) that is safe to echo and log.
pub fn client_request_id(value: &str) -> Option<&str> {
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    (!value.is_empty() && value.len() <= 128 && value.chars().all(plain)).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_after_the_first_are_retries_and_another_groups_a_fallback() {
        let config = crate::config::load(
            "model_list:\n  - {model_name: a, litellm_params: {model: openai/x}, model_info: {id: a1}}\n  \
             - {model_name: a, litellm_params: {model: groq/y}, model_info: {id: a2}}\n  \
             - {model_name: b, litellm_params: {model: anthropic/claude-z, api_key: k}, model_info: {id: b1}}\n",
            &|_| None,
        )
        .unwrap()
        .config;
        let (a, b) = (config.group("a").unwrap(), config.group("b").unwrap());
        let mut record = RequestRecord::new(1, "r".into(), "/v1/chat/completions");
        record.calling("a", &a.deployments[0]);
        record.call_failed(FailureClass::RateLimit, 5);
        record.calling("a", &a.deployments[1]);
        record.call_failed(FailureClass::Internal, 7);
        record.calling("b", &b.deployments[0]);
        assert_eq!((record.retries, record.fallbacks), (2, 1));
        let called = record.deployment.as_ref().unwrap();
        assert_eq!((called.group.as_str(), called.id.as_str(), called.provider), ("b", "b1", "anthropic"));
        assert_eq!(called.model, "claude-z");
        let failed: Vec<_> =
            record.failed_attempts.iter().map(|f| (f.group.as_str(), f.deployment.as_str(), f.class)).collect();
        assert_eq!(failed, [("a", "a1", FailureClass::RateLimit), ("a", "a2", FailureClass::Internal)]);
        assert_eq!(a.deployments[1].provider, "groq");
    }

    #[test]
    fn a_streams_end_gives_its_usage_cost_and_a_late_failure() {
        let config = crate::config::load(
            "model_list:\n  - {model_name: a, litellm_params: {model: openai/x}, model_info: {id: a1, \
             input_cost_per_token: 0.5, output_cost_per_token: 2}}\n",
            &|_| None,
        )
        .unwrap()
        .config;
        let deployment = &config.group("a").unwrap().deployments[0];
        let mut record = RequestRecord::new(1, "r".into(), "/v1/chat/completions");
        record.calling("a", deployment);
        let usage = Some(Usage::of(10, 3));
        record.stream_ended(StreamEnded { usage, failure: None, latency_ms: 40 }, Some(deployment));
        assert_eq!(record.usage.map(|u| u.total_tokens), Some(13));
        assert_eq!(record.cost, Some(10.0 * 0.5 + 3.0 * 2.0));
        assert_eq!((record.api_latency_ms, record.failed_attempts.len()), (Some(40), 0));
        let broke = StreamEnded { usage: None, failure: Some(FailureClass::Connection), latency_ms: 50 };
        record.stream_ended(broke, Some(deployment));
        assert_eq!(record.failed_attempts[0].class, FailureClass::Connection);
        assert_eq!(record.error_type.as_deref(), Some("stream_error"));
    }

    #[test]
    fn an_answers_text_is_read_in_each_api() {
        let chat = br#"{"choices":[{"message":{"role":"assistant","content":"hi"}}]}"#;
        let completion = br#"{"choices":[{"text":"hi"}]}"#;
        let messages = br#"{"content":[{"type":"text","text":"h"},{"type":"tool_use"},{"type":"text","text":"i"}]}"#;
        let responses = br#"{"output":[{"type":"message","content":[{"type":"output_text","text":"hi"}]}]}"#;
        for body in [&chat[..], completion, messages, responses] {
            assert_eq!(Content::answer_text(body).as_deref(), Some("hi"));
        }
        assert_eq!(Content::answer_text(b"not json"), None);
        assert_eq!(Content::answer_text(br#"{"data":[{"embedding":[0.1]}]}"#), None);
    }

    #[test]
    fn a_request_id_is_a_version_4_uuid() {
        let id = request_id(u128::MAX);
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4", "version nibble");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "variant bits: {id}");
        assert_eq!(request_id(0), "00000000-0000-4000-8000-000000000000");
        assert_ne!(request_id(1), request_id(2));
    }

    #[test]
    fn a_clients_id_is_kept_only_when_plain() {
        assert_eq!(client_request_id("abc-123_x.y"), Some("abc-123_x.y"));
        assert_eq!(client_request_id(""), None);
        assert_eq!(client_request_id("a b"), None);
        assert_eq!(client_request_id("x\"}"), None);
        assert_eq!(client_request_id(&"a".repeat(129)), None);
    }

    #[test]
    fn the_log_line_has_no_content_and_no_key() {
        let record = RequestRecord {
            request_id: "r1".into(),
            endpoint: "/v1/chat/completions",
            model: "gpt-4o".into(),
            status: 200,
            hashed_api_key: Some(crate::secret::hashed("sk-secret")),
            content: Some(Content { input: Some("[{\"content\":\"hello there\"}]".into()), output: Some("hi".into()) }),
            failed_attempts: vec![FailedAttempt {
                group: "g".into(),
                deployment: "d1".into(),
                class: FailureClass::RateLimit,
                latency_ms: 3,
            }],
            ..RequestRecord::default()
        };
        let line = record.log_line();
        let back: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(back["request_id"], "r1");
        assert_eq!(back["failed_attempts"][0]["class"], "RateLimit");
        assert!(!line.contains("hello there") && !line.contains("\"hi\""), "{line}");
        assert!(!line.contains("sk-secret"), "{line}");
        assert!(!line.contains('\n'));
    }
}
