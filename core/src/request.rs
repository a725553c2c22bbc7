//! The client's request: parsed once, validated, and rewritten for the upstream.
//!
//! The body is read as a list of top-level keys with their values left as raw JSON
//! text (`RawValue`): routing needs a handful of fields, and everything else is
//! forwarded byte for byte without ever being built into a JSON tree.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::endpoint::Endpoint;
use crate::error::ApiError;
use crate::region::Area;

/// Keys that LiteLLM reads from the body and that an OpenAI-compatible provider
/// would refuse or misread. `api_key`/`api_base` would let a client redirect the
/// gateway's credentials, so they are dropped rather than honoured. Translators to
/// other providers' formats leave them out too.
pub const GATEWAY_ONLY_KEYS: &[&str] = &[
    "mock_response",
    "priority",
    "fallbacks",
    "context_window_fallbacks",
    "content_policy_fallbacks",
    "disable_fallbacks",
    "num_retries",
    "timeout",
    "stream_timeout",
    "cache",
    "caching",
    "tags",
    "api_key",
    "api_base",
    "base_url",
    "allowed_model_region",
];

/// What the request body says about its own reliability.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestPolicy {
    pub num_retries: Option<u32>,
    pub fallbacks: Option<Vec<String>>,
    pub disable_fallbacks: bool,
}

/// The request's own `cache` controls.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheControls {
    /// Do not look up: always call the deployment (the answer is still stored).
    #[serde(rename = "no-cache", default)]
    pub no_cache: bool,
    /// Do not store this answer.
    #[serde(rename = "no-store", default)]
    pub no_store: bool,
    /// Seconds to keep this answer.
    pub ttl: Option<u64>,
    /// Accept only an entry younger than this many seconds.
    #[serde(rename = "s-maxage")]
    pub s_maxage: Option<u64>,
    pub namespace: Option<String>,
}

/// The most retries a request may ask for in its body (`num_retries`).
pub const MAX_CLIENT_RETRIES: u32 = 10;

/// A validated request: the fields routing reads, and the raw entries to forward.
#[derive(Debug)]
pub struct ParsedRequest<'a> {
    pub endpoint: Endpoint,
    pub model: String,
    pub stream: bool,
    pub mock_response: Option<String>,
    /// A rough size of the prompt in tokens (4 bytes each): reserved against tpm,
    /// checked against `max_input_tokens`, reported in mock usage.
    pub prompt_tokens: u64,
    /// `num_retries`, `fallbacks` and `disable_fallbacks` from the body.
    pub policy: RequestPolicy,
    /// `timeout` from the body, in milliseconds.
    pub timeout_ms: Option<u64>,
    /// `stream_timeout` from the body, in milliseconds.
    pub stream_timeout_ms: Option<u64>,
    /// `priority` from the body: lower is served first; such a request may wait.
    pub priority: Option<u32>,
    /// `stream_options.include_usage`: a stream is asked to end with its usage.
    pub include_usage: bool,
    /// LiteLLM's `cache` controls for this request.
    pub cache: CacheControls,
    /// `allowed_model_region`: only deployments in this area may serve it.
    pub allowed_region: Option<Area>,
    input: &'a RawValue,
    entries: Vec<(Key<'a>, &'a RawValue)>,
}

impl<'a> ParsedRequest<'a> {
    /// Parses and validates a request body for `endpoint`.
    pub fn parse(endpoint: Endpoint, body: &'a [u8]) -> Result<Self, ApiError> {
        let entries = parse_entries(body)?;
        let get = |name: &str| entries.iter().rev().find(|(k, _)| k.0 == name).map(|(_, v)| *v);
        let present = |name: &str| get(name).filter(|v| v.get() != "null");

        let model = match present("model") {
            None => return Err(missing("model", "the model (or model group) to use")),
            Some(raw) => match serde_json::from_str::<String>(raw.get()) {
                Ok(model) if !model.trim().is_empty() => model,
                Ok(_) => return Err(invalid("model", "`model` must not be empty".into())),
                Err(_) => return Err(wrong_type("model", "a string", raw)),
            },
        };
        let stream = match present("stream") {
            None => false,
            Some(raw) => serde_json::from_str::<bool>(raw.get()).map_err(|_| wrong_type("stream", "a boolean", raw))?,
        };
        let mock_response = match present("mock_response") {
            None => None,
            Some(raw) => Some(
                serde_json::from_str::<String>(raw.get()).map_err(|_| wrong_type("mock_response", "a string", raw))?,
            ),
        };
        let num_retries = match present("num_retries") {
            None => None,
            // Bounded: a client must not make the gateway call a provider without end.
            Some(raw) => match serde_json::from_str::<u32>(raw.get()) {
                Ok(n) if n <= MAX_CLIENT_RETRIES => Some(n),
                _ => return Err(wrong_type("num_retries", &format!("an integer from 0 to {MAX_CLIENT_RETRIES}"), raw)),
            },
        };
        let disable_fallbacks = match present("disable_fallbacks") {
            None => false,
            Some(raw) => serde_json::from_str::<bool>(raw.get())
                .map_err(|_| wrong_type("disable_fallbacks", "a boolean", raw))?,
        };
        let fallbacks = present("fallbacks").map(parse_fallbacks).transpose()?;
        let priority = match present("priority") {
            None => None,
            Some(raw) => Some(
                serde_json::from_str::<u32>(raw.get())
                    .map_err(|_| wrong_type("priority", "a non-negative integer", raw))?,
            ),
        };
        let timeout_ms = present("timeout").map(|raw| seconds("timeout", raw)).transpose()?;
        let stream_timeout_ms = present("stream_timeout").map(|raw| seconds("stream_timeout", raw)).transpose()?;
        let include_usage = present("stream_options").map(parse_include_usage).transpose()?.unwrap_or(false);
        let cache = present("cache").map(parse_cache).transpose()?.unwrap_or_default();
        let allowed_region = match present("allowed_model_region") {
            None => None,
            Some(raw) => Some(
                serde_json::from_str::<String>(raw.get())
                    .ok()
                    .and_then(|area| Area::parse(&area))
                    .ok_or_else(|| wrong_type("allowed_model_region", "\"eu\" or \"us\"", raw))?,
            ),
        };
        // Read by the request log and LiteLLM's callbacks: their shape is checked
        // here so that a wrong one is the client's 400, not a surprise later. The
        // body parsed already, so a value that opens with `{` is an object.
        if let Some(raw) = present("metadata")
            && !raw.get().starts_with('{')
        {
            return Err(wrong_type("metadata", "an object", raw));
        }
        if let Some(raw) = present("tags") {
            serde_json::from_str::<Vec<String>>(raw.get())
                .map_err(|_| wrong_type("tags", "an array of strings", raw))?;
        }
        let input = endpoint.input_param();
        let Some(raw_input) = present(input) else {
            return Err(missing(input, describe_input(endpoint)));
        };
        validate_input(endpoint, raw_input)?;
        Ok(Self {
            endpoint,
            model,
            stream,
            mock_response,
            prompt_tokens: (raw_input.get().len() as u64).div_ceil(4),
            policy: RequestPolicy { num_retries, fallbacks, disable_fallbacks },
            timeout_ms,
            stream_timeout_ms,
            priority,
            include_usage,
            cache,
            allowed_region,
            input: raw_input,
            entries,
        })
    }

    /// A top-level field's raw JSON (the last, when a key repeats).
    pub fn field(&self, name: &str) -> Option<&'a RawValue> {
        self.entries.iter().rev().find(|(k, _)| k.0 == name).map(|(_, v)| *v)
    }

    /// Every top-level field, in body order.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &'a RawValue)> + '_ {
        self.entries.iter().map(|(k, v)| (k.0.as_ref(), *v))
    }

    /// How many inputs the request carries: an array's length, else one.
    pub fn input_count(&self) -> usize {
        serde_json::from_str::<Vec<&RawValue>>(self.input.get()).map_or(1, |items| items.len())
    }

    /// The body to send upstream: the original entries, byte for byte, with `model`
    /// set to the deployment's model and the gateway's own keys left out.
    pub fn upstream_body(&self, model: &str) -> Vec<u8> {
        let size = self.entries.iter().map(|(k, v)| k.0.len() + v.get().len() + 4).sum::<usize>() + model.len() + 2;
        let mut out = Vec::with_capacity(size);
        out.push(b'{');
        let mut first = true;
        for (key, value) in &self.entries {
            if GATEWAY_ONLY_KEYS.contains(&key.0.as_ref()) {
                continue;
            }
            if !first {
                out.push(b',');
            }
            first = false;
            write_json_string(&mut out, &key.0);
            out.push(b':');
            if key.0 == "model" {
                write_json_string(&mut out, model);
            } else {
                out.extend_from_slice(value.get().as_bytes());
            }
        }
        out.push(b'}');
        out
    }
}

fn write_json_string(out: &mut Vec<u8>, text: &str) {
    // Serializing a &str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
}

/// A top-level key, borrowed from the body unless it contains escapes.
#[derive(Debug, Deserialize)]
struct Key<'a>(#[serde(borrow)] Cow<'a, str>);

fn parse_entries(body: &[u8]) -> Result<Vec<(Key<'_>, &RawValue)>, ApiError> {
    struct Entries;
    impl<'de> Visitor<'de> for Entries {
        type Value = Vec<(Key<'de>, &'de RawValue)>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(8));
            while let Some(entry) = map.next_entry()? {
                entries.push(entry);
            }
            Ok(entries)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let entries = de.deserialize_map(Entries).and_then(|entries| de.end().map(|()| entries));
    entries.map_err(|e| match e.classify() {
        serde_json::error::Category::Data => {
            ApiError::InvalidParam { param: "body", message: "the request body must be a JSON object".into() }
        }
        _ => ApiError::MalformedJson(e.to_string()),
    })
}

fn validate_input(endpoint: Endpoint, raw: &RawValue) -> Result<(), ApiError> {
    let param = endpoint.input_param();
    match endpoint {
        // Anthropic's messages are checked strictly by its own parser first; here
        // only what routing needs: an array of messages with roles.
        Endpoint::ChatCompletions | Endpoint::Messages => {
            let messages: Vec<&RawValue> =
                serde_json::from_str(raw.get()).map_err(|_| wrong_type(param, "an array of messages", raw))?;
            if messages.is_empty() {
                return Err(invalid(param, "`messages` must contain at least one message".into()));
            }
            #[derive(Deserialize)]
            struct Message<'a> {
                #[serde(borrow)]
                role: Option<Cow<'a, str>>,
            }
            for (i, message) in messages.iter().enumerate() {
                match serde_json::from_str::<Message<'_>>(message.get()) {
                    Ok(Message { role: Some(_) }) => {}
                    Ok(Message { role: None }) => {
                        return Err(invalid(param, format!("`messages[{i}].role` is required")));
                    }
                    Err(_) => {
                        return Err(invalid(
                            param,
                            format!("`messages[{i}]` must be an object with a string `role`, got {}", shown(message)),
                        ));
                    }
                }
            }
            Ok(())
        }
        // A Responses request's `input` is checked by its own parser first.
        Endpoint::Completions | Endpoint::Embeddings | Endpoint::Responses => {
            let text = raw.get();
            if text.starts_with('"') || text.starts_with('[') {
                // An array is empty with whitespace inside too (`[ ]`, pretty-printed bodies).
                let empty_array = text
                    .strip_prefix('[')
                    .is_some_and(|rest| rest.trim_start_matches([' ', '\t', '\n', '\r']).starts_with(']'));
                if empty_array || (text == "\"\"" && endpoint == Endpoint::Embeddings) {
                    return Err(invalid(param, format!("`{param}` must not be empty")));
                }
                Ok(())
            } else {
                Err(wrong_type(param, "a string or an array", raw))
            }
        }
    }
}

/// `fallbacks` in the body: model names, or LiteLLM's `{"model": name, ...}` objects
/// (only `model` is read from those).
fn parse_fallbacks(raw: &RawValue) -> Result<Vec<String>, ApiError> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Entry {
        Name(String),
        Detailed { model: String },
    }
    let entries: Vec<Entry> = serde_json::from_str(raw.get())
        .map_err(|_| wrong_type("fallbacks", "an array of model names or {\"model\": ...} objects", raw))?;
    Ok(entries
        .into_iter()
        .map(|e| match e {
            Entry::Name(name) | Entry::Detailed { model: name } => name,
        })
        .collect())
}

/// `stream_options`: an object whose `include_usage`, if set, is a boolean (its
/// other keys are the provider's to check).
fn parse_include_usage(raw: &RawValue) -> Result<bool, ApiError> {
    #[derive(Deserialize)]
    struct StreamOptions {
        include_usage: Option<bool>,
    }
    serde_json::from_str::<StreamOptions>(raw.get())
        .map(|options| options.include_usage.unwrap_or(false))
        .map_err(|_| wrong_type("stream_options", "an object whose `include_usage` is a boolean", raw))
}

/// LiteLLM's `cache` object: its members and their types, nothing else.
fn parse_cache(raw: &RawValue) -> Result<CacheControls, ApiError> {
    serde_json::from_str(raw.get()).map_err(|e| ApiError::InvalidParam {
        param: "cache",
        message: format!(
            "`cache` must be an object with no-cache, no-store (booleans), ttl, s-maxage (seconds) \
             or namespace (a string): {e}"
        ),
    })
}

/// The `x-litellm-timeout` header's seconds, in milliseconds: LiteLLM's way to set
/// a request's timeout for clients that cannot add body fields.
pub fn timeout_header(value: &str) -> Result<u64, ApiError> {
    match value.trim().parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 => Ok((s * 1000.0).ceil() as u64),
        _ => Err(ApiError::InvalidParam {
            param: "x-litellm-timeout",
            message: format!("the x-litellm-timeout header must be a number of seconds > 0, got `{value}`"),
        }),
    }
}

/// The `x-litellm-priority` header: the request's priority, for clients that
/// cannot add a body field (lower is served first).
pub fn priority_header(value: &str) -> Result<u32, ApiError> {
    value.trim().parse::<u32>().map_err(|_| ApiError::InvalidParam {
        param: "x-litellm-priority",
        message: format!("the x-litellm-priority header must be a non-negative integer, got `{value}`"),
    })
}

/// A timeout in seconds, as LiteLLM takes it, to milliseconds.
fn seconds(param: &'static str, raw: &RawValue) -> Result<u64, ApiError> {
    match serde_json::from_str::<f64>(raw.get()) {
        Ok(s) if s.is_finite() && s > 0.0 => Ok((s * 1000.0).ceil() as u64),
        _ => Err(wrong_type(param, "a number of seconds > 0", raw)),
    }
}

fn describe_input(endpoint: Endpoint) -> &'static str {
    match endpoint {
        Endpoint::ChatCompletions | Endpoint::Messages => "the conversation so far, as an array of messages",
        Endpoint::Completions => "the prompt, as a string or an array",
        Endpoint::Embeddings => "the text to embed, as a string or an array",
        Endpoint::Responses => "the input, as a string or an array of items",
    }
}

fn missing(param: &'static str, what: &str) -> ApiError {
    ApiError::InvalidParam { param, message: format!("missing required parameter `{param}`: {what}") }
}

fn invalid(param: &'static str, message: String) -> ApiError {
    ApiError::InvalidParam { param, message }
}

fn wrong_type(param: &'static str, expected: &str, raw: &RawValue) -> ApiError {
    invalid(param, format!("`{param}` must be {expected}, got {}", shown(raw)))
}

/// A value for an error message, cut so that a huge payload does not echo back whole.
fn shown(raw: &RawValue) -> String {
    let text = raw.get();
    match text.char_indices().nth(40) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(body: &str) -> Result<ParsedRequest<'_>, ApiError> {
        ParsedRequest::parse(Endpoint::ChatCompletions, body.as_bytes())
    }

    fn param_of(result: Result<ParsedRequest<'_>, ApiError>) -> (&'static str, String) {
        match result {
            Err(ApiError::InvalidParam { param, message }) => (param, message),
            other => panic!("expected an invalid param, got {other:?}"),
        }
    }

    #[test]
    fn reads_the_routing_fields() {
        let request = chat(
            r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true,"mock_response":"yo"}"#,
        )
        .unwrap();
        assert_eq!(request.model, "gpt-4o");
        assert!(request.stream);
        assert_eq!(request.mock_response.as_deref(), Some("yo"));
        assert!(request.prompt_tokens > 0);
        let request = chat(r#"{"model":"m","messages":[{"role":"user"}],"stream":null}"#).unwrap();
        assert!(!request.stream);
    }

    #[test]
    fn upstream_body_renames_the_model_and_drops_gateway_keys_only() {
        let body = r#"{"model":"gpt4","messages":[{"role":"user","content":"h\u00e9"}],"temperature":0.25,"mock_response":"x","priority":1,"api_key":"stolen","metadata":{"a":1},"user":"u\"1"}"#;
        let request = chat(body).unwrap();
        let forwarded = String::from_utf8(request.upstream_body("gpt-4o-2024")).unwrap();
        assert_eq!(
            forwarded,
            r#"{"model":"gpt-4o-2024","messages":[{"role":"user","content":"h\u00e9"}],"temperature":0.25,"metadata":{"a":1},"user":"u\"1"}"#
        );
    }

    #[test]
    fn the_priority_header_is_a_non_negative_integer() {
        assert_eq!(priority_header(" 3 "), Ok(3));
        for bad in ["-1", "high", "1.5", ""] {
            let Err(ApiError::InvalidParam { param, .. }) = priority_header(bad) else { panic!("{bad}") };
            assert_eq!(param, "x-litellm-priority");
        }
    }

    #[test]
    fn reads_the_reliability_fields() {
        let request = chat(
            r#"{"model":"m","messages":[{"role":"user"}],"num_retries":3,"fallbacks":["b",{"model":"c","messages":[]}],"disable_fallbacks":true,"timeout":1.5,"stream_timeout":0.2}"#,
        )
        .unwrap();
        assert_eq!(
            request.policy,
            RequestPolicy {
                num_retries: Some(3),
                fallbacks: Some(vec!["b".into(), "c".into()]),
                disable_fallbacks: true
            }
        );
        assert_eq!((request.timeout_ms, request.stream_timeout_ms), (Some(1_500), Some(200)));
        assert_eq!(chat(r#"{"model":"m","messages":[{"role":"user"}],"priority":0}"#).unwrap().priority, Some(0));
        let plain = chat(r#"{"model":"m","messages":[{"role":"user"}]}"#).unwrap();
        assert_eq!(plain.policy, RequestPolicy::default());
        let with = chat(r#"{"model":"m","messages":[{"role":"user"}],"metadata":{"a":1},"tags":["x"],"cache":null}"#);
        assert_eq!(with.unwrap().cache, CacheControls::default());
    }

    #[test]
    fn malformed_json_and_non_objects() {
        assert!(matches!(chat(r#"{"model": "#), Err(ApiError::MalformedJson(_))));
        assert!(matches!(chat(r#"{"model":"m"} trailing"#), Err(ApiError::MalformedJson(_))));
        assert_eq!(param_of(chat("[1,2]")).0, "body");
        assert_eq!(param_of(chat("\"text\"")).0, "body");
    }

    #[test]
    fn each_bad_field_names_its_param() {
        let cases = [
            (r#"{"messages":[{"role":"user"}]}"#, "model", "missing required parameter `model`"),
            (r#"{"model":null,"messages":[{"role":"user"}]}"#, "model", "missing required"),
            (r#"{"model":42,"messages":[{"role":"user"}]}"#, "model", "must be a string, got 42"),
            (r#"{"model":" ","messages":[{"role":"user"}]}"#, "model", "must not be empty"),
            (r#"{"model":"m"}"#, "messages", "missing required parameter `messages`"),
            (r#"{"model":"m","messages":"hi"}"#, "messages", "must be an array of messages"),
            (r#"{"model":"m","messages":[]}"#, "messages", "at least one message"),
            (r#"{"model":"m","messages":[1]}"#, "messages", "`messages[0]` must be an object"),
            (r#"{"model":"m","messages":[{"content":"x"}]}"#, "messages", "`messages[0].role` is required"),
            (r#"{"model":"m","messages":[{"role":"user"}],"stream":"yes"}"#, "stream", "must be a boolean"),
            (r#"{"model":"m","messages":[{"role":"user"}],"mock_response":{}}"#, "mock_response", "must be a string"),
            (r#"{"model":"m","messages":[{"role":"user"}],"num_retries":-1}"#, "num_retries", "from 0 to 10"),
            (r#"{"model":"m","messages":[{"role":"user"}],"num_retries":1.5}"#, "num_retries", "from 0 to 10"),
            (r#"{"model":"m","messages":[{"role":"user"}],"num_retries":11}"#, "num_retries", "from 0 to 10"),
            (r#"{"model":"m","messages":[{"role":"user"}],"fallbacks":"b"}"#, "fallbacks", "an array of model names"),
            (r#"{"model":"m","messages":[{"role":"user"}],"fallbacks":[{"x":1}]}"#, "fallbacks", "an array"),
            (r#"{"model":"m","messages":[{"role":"user"}],"disable_fallbacks":1}"#, "disable_fallbacks", "a boolean"),
            (r#"{"model":"m","messages":[{"role":"user"}],"timeout":0}"#, "timeout", "seconds > 0"),
            (r#"{"model":"m","messages":[{"role":"user"}],"priority":-1}"#, "priority", "non-negative integer"),
            (r#"{"model":"m","messages":[{"role":"user"}],"priority":1.5}"#, "priority", "non-negative integer"),
            (r#"{"model":"m","messages":[{"role":"user"}],"priority":"high"}"#, "priority", "non-negative integer"),
            (r#"{"model":"m","messages":[{"role":"user"}],"stream_timeout":"5"}"#, "stream_timeout", "seconds > 0"),
            (r#"{"model":"m","messages":[{"role":"user"}],"stream_options":true}"#, "stream_options", "an object"),
            (
                r#"{"model":"m","messages":[{"role":"user"}],"stream_options":{"include_usage":"yes"}}"#,
                "stream_options",
                "a boolean",
            ),
            (r#"{"model":"m","messages":[{"role":"user"}],"cache":"no"}"#, "cache", "must be an object"),
            (r#"{"model":"m","messages":[{"role":"user"}],"cache":{"no-cache":"yes"}}"#, "cache", "no-cache"),
            (r#"{"model":"m","messages":[{"role":"user"}],"cache":{"no-store":1}}"#, "cache", "must be an object"),
            (r#"{"model":"m","messages":[{"role":"user"}],"cache":{"ttl":-1}}"#, "cache", "must be an object"),
            (r#"{"model":"m","messages":[{"role":"user"}],"cache":{"s-maxage":"1m"}}"#, "cache", "must be an object"),
            (r#"{"model":"m","messages":[{"role":"user"}],"cache":{"namespace":7}}"#, "cache", "must be an object"),
            (r#"{"model":"m","messages":[{"role":"user"}],"cache":{"maxage":1}}"#, "cache", "unknown field"),
            (r#"{"model":"m","messages":[{"role":"user"}],"metadata":"team-a"}"#, "metadata", "an object"),
            (r#"{"model":"m","messages":[{"role":"user"}],"metadata":[1]}"#, "metadata", "an object"),
            (r#"{"model":"m","messages":[{"role":"user"}],"tags":"prod"}"#, "tags", "an array of strings"),
            (r#"{"model":"m","messages":[{"role":"user"}],"tags":[1,2]}"#, "tags", "an array of strings"),
            (
                r#"{"model":"m","messages":[{"role":"user"}],"allowed_model_region":"apac"}"#,
                "allowed_model_region",
                "\"eu\" or \"us\"",
            ),
            (
                r#"{"model":"m","messages":[{"role":"user"}],"allowed_model_region":1}"#,
                "allowed_model_region",
                "\"eu\"",
            ),
        ];
        for (body, param, message) in cases {
            let (got_param, got_message) = param_of(chat(body));
            assert_eq!(got_param, param, "{body}");
            assert!(got_message.contains(message), "{body}: {got_message}");
        }
    }

    #[test]
    fn completions_and_embeddings_need_their_input() {
        let parse = |endpoint, body: &'static str| ParsedRequest::parse(endpoint, body.as_bytes());
        assert!(parse(Endpoint::Completions, r#"{"model":"m","prompt":"Say hi"}"#).is_ok());
        assert!(parse(Endpoint::Embeddings, r#"{"model":"m","input":["a","b"]}"#).is_ok());
        assert_eq!(param_of(parse(Endpoint::Completions, r#"{"model":"m"}"#)).0, "prompt");
        assert_eq!(param_of(parse(Endpoint::Embeddings, r#"{"model":"m","input":3}"#)).0, "input");
        assert_eq!(param_of(parse(Endpoint::Embeddings, r#"{"model":"m","input":[]}"#)).0, "input");
    }

    #[test]
    fn the_timeout_header_is_seconds() {
        assert_eq!(timeout_header(" 1.5 "), Ok(1_500));
        assert_eq!(timeout_header("0.0001"), Ok(1));
        for bad in ["0", "-2", "soon", "", "inf", "NaN"] {
            assert!(
                matches!(timeout_header(bad), Err(ApiError::InvalidParam { param: "x-litellm-timeout", .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn an_empty_input_array_is_refused_whatever_whitespace_it_holds() {
        // Found by the `request` fuzz target: a pretty-printed `[\n]` passed as not empty.
        for body in [r#"{"model":"m","input":[ ]}"#, "{\"model\":\"m\",\"input\":[\n\t\r\n]}"] {
            let (param, message) = param_of(ParsedRequest::parse(Endpoint::Embeddings, body.as_bytes()));
            assert_eq!(param, "input");
            assert!(message.contains("must not be empty"), "{message}");
        }
        let body = "{\"model\":\"m\",\"prompt\":[\n  ]}";
        assert_eq!(param_of(ParsedRequest::parse(Endpoint::Completions, body.as_bytes())).0, "prompt");
        let request = ParsedRequest::parse(Endpoint::Completions, b"{\"model\":\"m\",\"prompt\":[ \"x\" ]}").unwrap();
        assert_eq!(request.input_count(), 1);
    }

    #[test]
    fn a_huge_wrong_value_is_not_echoed_whole() {
        let body = format!(r#"{{"model":"m","messages":"{}"}}"#, "x".repeat(10_000));
        let (_, message) = param_of(chat(&body));
        assert!(message.len() < 200, "{message}");
    }
}
