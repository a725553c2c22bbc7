//! What one request did, written once it is over: the request log's line, the
//! callbacks' span or trace, and the metrics' counts are all made from it.
//!
//! Never message content nor any secret: the caller's key appears only hashed
//! (as LiteLLM's `hashed_api_key`), providers' text only as its failure class.
//! The one exception is [`Content`], filled only for callbacks that log
//! messages, and never while `litellm_settings.turn_off_message_logging` is set.

use serde::Serialize;
use sha2::{Digest, Sha256};

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
    /// The group that served it, once known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The deployment that gave the final answer (or the last one tried).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment: Option<Called>,
    /// The status the client got.
    pub status: u16,
    /// From arrival to the answer's end.
    pub latency_ms: u64,
    /// From arrival to the answer's head (a stream's first chunk).
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
    pub cache_hit: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<u32>,
    /// How long it waited in its group's queue, if it waited there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_wait_ms: Option<u64>,
    /// The SHA-256 of the caller's key, hex, as LiteLLM's `hashed_api_key`.
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
    /// The deployment's id.
    pub deployment: String,
    pub class: FailureClass,
    /// How long it took to fail.
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

impl RequestRecord {
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

/// LiteLLM's `hashed_api_key`: the SHA-256 of the key, in lowercase hex.
pub fn hashed_api_key(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest {
        hex.push(char::from(HEX[usize::from(byte >> 4)]));
        hex.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    hex
}

const HEX: &[u8; 16] = b"0123456789abcdef";

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
    fn the_key_is_hashed_as_litellm_hashes_it() {
        // sha256("sk-1234"), as `hashlib.sha256(b"sk-1234").hexdigest()` gives it.
        assert_eq!(hashed_api_key("sk-1234"), "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b");
    }

    #[test]
    fn the_log_line_has_no_content_and_no_key() {
        let record = RequestRecord {
            request_id: "r1".into(),
            endpoint: "/v1/chat/completions",
            model: "gpt-4o".into(),
            status: 200,
            hashed_api_key: Some(hashed_api_key("sk-secret")),
            content: Some(Content { input: Some("[{\"content\":\"hello there\"}]".into()), output: Some("hi".into()) }),
            failed_attempts: vec![FailedAttempt {
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
