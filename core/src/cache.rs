//! The response cache's decisions: whether a request is cached, under which key,
//! for how long, and how a stored answer is replayed (streamed or not).
//!
//! The key hashes, in order: a version, the namespace, the tenant (a hash of the
//! caller's API key, or `shared`), the model group, the endpoint, and every body
//! field that can change the answer, canonicalised (keys sorted, whitespace
//! dropped). Fields that do not change it (`user`, `metadata`, `priority`, `stream`,
//! timeouts, routing options) are left out, and so is `model`: an alias and its
//! group share entries.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::config::CachePolicy;
use crate::endpoint::Endpoint;
use crate::request::{CacheControls, ParsedRequest};

/// KV refuses an expiration TTL under 60 seconds.
pub const KV_MIN_TTL_S: u64 = 60;
/// Larger answers are not stored.
pub const MAX_ENTRY_BYTES: usize = 1 << 20;

/// Body fields that never change the answer, so never part of the key.
const NOT_IN_KEY: &[&str] = &[
    "model",
    "user",
    "metadata",
    "priority",
    "stream",
    "stream_options",
    "timeout",
    "stream_timeout",
    "num_retries",
    "fallbacks",
    "context_window_fallbacks",
    "content_policy_fallbacks",
    "disable_fallbacks",
    "cache",
    "caching",
    "tags",
    "store",
    "api_key",
    "api_base",
    "base_url",
];

/// KV's expiration for an answer: the request's ttl, else the configured one,
/// never under KV's minimum.
pub fn ttl_s(controls: &CacheControls, policy: &CachePolicy) -> u64 {
    controls.ttl.unwrap_or(policy.default_ttl_s).max(KV_MIN_TTL_S)
}

/// The cache key of `request` for `group`, as hex. `api_key` is the caller's bearer
/// token, hashed into the key (never stored) unless the cache is shared.
pub fn key(
    policy: &CachePolicy,
    controls: &CacheControls,
    api_key: Option<&str>,
    group: &str,
    request: &ParsedRequest<'_>,
) -> String {
    let mut hasher = Sha256::new();
    let mut part = |bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    };
    part(b"switchyard-cache-v1");
    part(controls.namespace.as_deref().or(policy.namespace.as_deref()).unwrap_or("").as_bytes());
    match (policy.shared, api_key) {
        (true, _) => part(b"shared"),
        (false, Some(token)) => part(&Sha256::digest(token.as_bytes())),
        (false, None) => part(b"anonymous"),
    }
    part(group.as_bytes());
    part(request.endpoint.upstream_path().as_bytes());
    // Canonical: sorted keys (the last of duplicates wins), values re-serialised.
    let fields: BTreeMap<&str, String> = request
        .fields()
        .filter(|(name, _)| !NOT_IN_KEY.contains(name))
        .map(|(name, raw)| {
            let canonical = serde_json::from_str::<Value>(raw.get()).map(|v| v.to_string());
            (name, canonical.unwrap_or_else(|_| raw.get().to_owned()))
        })
        .collect();
    for (name, value) in fields {
        part(name.as_bytes());
        part(value.as_bytes());
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// What is stored under a key: the complete answer and when it was made. The
/// answer is kept as the provider's JSON text, so that a hit gives back exactly
/// what the provider sent (a float read into a tree and written again may move
/// by one unit in its last place).
#[derive(Debug, Clone, serde::Serialize, Deserialize)]
pub struct Entry {
    pub created_ms: u64,
    pub response: Box<RawValue>,
    /// The answer is a Messages or Responses client's own, as a deployment that
    /// speaks the client's API gave it (not a chat answer made into the client's):
    /// it is replayed whole only, as it is.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub native: bool,
}

impl Entry {
    /// The entry of `response`, the answer to a request to `endpoint` (a
    /// Messages or Responses client's only when the answer is the client's own).
    pub fn new(created_ms: u64, response: Box<RawValue>, endpoint: Endpoint) -> Self {
        Self { created_ms, response, native: endpoint.through_chat() }
    }

    /// Whether a request with `s-maxage` accepts this entry at `now_ms`.
    pub fn acceptable(&self, now_ms: u64, controls: &CacheControls) -> bool {
        controls.s_maxage.is_none_or(|max| now_ms.saturating_sub(self.created_ms) < max.saturating_mul(1000))
    }

    /// The stored answer as the request wants it: the JSON itself, or, for a
    /// streamed request, a well-formed SSE stream of it ending in `[DONE]`.
    pub fn replay(&self, endpoint: Endpoint, stream: bool) -> Vec<u8> {
        if !stream || endpoint == Endpoint::Embeddings {
            return self.response.get().as_bytes().to_vec();
        }
        let r: Value = serde_json::from_str(self.response.get()).unwrap_or_default();
        let head = |choices: Value| json!({"id": r["id"], "object": chunk_object(endpoint), "created": r["created"], "model": r["model"], "choices": choices});
        let choices = r["choices"].as_array().cloned().unwrap_or_default();
        let mut events = Vec::new();
        for choice in &choices {
            let index = &choice["index"];
            let finish = &choice["finish_reason"];
            match endpoint {
                Endpoint::ChatCompletions => {
                    let message = &choice["message"];
                    events.push(head(json!([{"index": index, "delta": {"role": message["role"], "content": ""}, "finish_reason": null}])));
                    events.push(head(
                        json!([{"index": index, "delta": {"content": message["content"]}, "finish_reason": null}]),
                    ));
                    events.push(head(json!([{"index": index, "delta": {}, "finish_reason": finish}])));
                }
                _ => {
                    events.push(head(
                        json!([{"index": index, "text": choice["text"], "logprobs": null, "finish_reason": null}]),
                    ));
                    events.push(head(json!([{"index": index, "text": "", "logprobs": null, "finish_reason": finish}])));
                }
            }
        }
        let mut out = Vec::new();
        for event in events {
            out.extend_from_slice(b"data: ");
            out.extend_from_slice(event.to_string().as_bytes());
            out.extend_from_slice(b"\n\n");
        }
        out.extend_from_slice(b"data: [DONE]\n\n");
        out
    }
}

fn chunk_object(endpoint: Endpoint) -> &'static str {
    match endpoint {
        Endpoint::ChatCompletions => "chat.completion.chunk",
        Endpoint::Completions | Endpoint::Embeddings => "text_completion",
        // Their entries hold the chat answer, replayed as chat completions.
        Endpoint::Messages | Endpoint::Responses => "chat.completion.chunk",
    }
}

/// Rebuilds the complete answer from a finished SSE stream, to store it. `None`
/// when the stream did not end with `[DONE]` and a `finish_reason` for every
/// choice (a cut answer is never cached), or carried tool calls (not rebuilt).
pub fn assemble_stream(endpoint: Endpoint, sse: &[u8]) -> Option<Value> {
    let text = std::str::from_utf8(sse).ok()?;
    let mut done = false;
    let mut head: Option<Value> = None;
    let mut choices: BTreeMap<u64, (String, String, Option<Value>)> = BTreeMap::new();
    let mut usage = Value::Null;
    for line in text.lines() {
        let Some(data) = line.strip_prefix("data:").map(str::trim) else { continue };
        if data == "[DONE]" {
            done = true;
            continue;
        }
        let chunk: Value = serde_json::from_str(data).ok()?;
        if chunk.get("error").is_some() {
            return None;
        }
        if !chunk["usage"].is_null() {
            usage = chunk["usage"].clone();
        }
        for choice in chunk["choices"].as_array().into_iter().flatten() {
            let slot = choices
                .entry(choice["index"].as_u64().unwrap_or(0))
                .or_insert_with(|| ("assistant".to_owned(), String::new(), None));
            let piece = match endpoint {
                Endpoint::ChatCompletions => {
                    let delta = &choice["delta"];
                    if !delta["tool_calls"].is_null() || !delta["function_call"].is_null() {
                        return None;
                    }
                    if let Some(role) = delta["role"].as_str() {
                        slot.0 = role.to_owned();
                    }
                    delta["content"].as_str()
                }
                _ => choice["text"].as_str(),
            };
            slot.1.push_str(piece.unwrap_or(""));
            if !choice["finish_reason"].is_null() {
                slot.2 = Some(choice["finish_reason"].clone());
            }
        }
        head.get_or_insert(chunk);
    }
    let head = head?;
    if !done || choices.is_empty() || choices.values().any(|c| c.2.is_none()) {
        return None;
    }
    let choices: Vec<Value> = choices
        .into_iter()
        .map(|(index, (role, content, finish))| match endpoint {
            Endpoint::ChatCompletions => {
                json!({"index": index, "message": {"role": role, "content": content}, "finish_reason": finish})
            }
            _ => json!({"index": index, "text": content, "logprobs": null, "finish_reason": finish}),
        })
        .collect();
    let object = match endpoint {
        Endpoint::ChatCompletions => "chat.completion",
        _ => "text_completion",
    };
    let mut response = json!({"id": head["id"], "object": object, "created": head["created"], "model": head["model"], "choices": choices});
    if !usage.is_null() {
        response["usage"] = usage;
    }
    Some(response)
}

#[cfg(test)]
mod tests;
