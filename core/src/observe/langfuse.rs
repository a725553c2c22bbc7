//! Request records as Langfuse events: the body of `POST /api/public/ingestion`
//! (`{"batch": [...]}`), as its OpenAPI definition (`ingestion.yml`) sets it.
//!
//! Each request is a `trace-create` and a `generation-create`. Their bodies' ids
//! are the request's id (`x-request-id`), unless its `metadata` names the trace
//! (`trace_id`), as LiteLLM reads it; so are `trace_name`, `generation_name`,
//! `session_id`, `tags` and `trace_user_id`. The event ids (the envelope, which
//! Langfuse deduplicates on) are derived from the request's id: a batch sent
//! twice is ingested once.

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::record::{RequestRecord, request_id};
use crate::provider::bedrock::sigv4::civil_date;

/// The ingestion body for `records`.
pub fn ingestion(records: &[RequestRecord]) -> String {
    let batch: Vec<Value> = records.iter().flat_map(events).collect();
    json!({ "batch": batch }).to_string()
}

/// The trace and the generation of one request.
fn events(record: &RequestRecord) -> [Value; 2] {
    let metadata = record.metadata.as_ref().and_then(Value::as_object);
    let text = |key: &str| metadata.and_then(|m| m.get(key)).and_then(Value::as_str).map(str::to_owned);
    let trace_id = text("trace_id").unwrap_or_else(|| record.request_id.clone());
    let started = iso_time(record.time_ms);
    let input = record.content.as_ref().and_then(|c| c.input.as_deref()).map(|input| {
        // The request's input as the client sent it: JSON, shown as such.
        serde_json::from_str::<Value>(input).unwrap_or_else(|_| Value::String(input.to_owned()))
    });
    let output = record
        .content
        .as_ref()
        .and_then(|c| c.output.as_deref())
        .map(|text| json!({ "role": "assistant", "content": text }));

    let mut trace = Map::new();
    trace.insert("id".into(), trace_id.clone().into());
    trace.insert("timestamp".into(), started.clone().into());
    trace.insert("name".into(), text("trace_name").unwrap_or_else(|| call_type(record.endpoint).into()).into());
    insert_some(&mut trace, "userId", text("trace_user_id").map(Value::from));
    insert_some(&mut trace, "sessionId", text("session_id").map(Value::from));
    insert_some(&mut trace, "tags", tags(metadata));
    insert_some(&mut trace, "metadata", record.metadata.clone());
    insert_some(&mut trace, "input", input.clone());
    insert_some(&mut trace, "output", output.clone());

    let mut generation = Map::new();
    generation.insert("id".into(), record.request_id.clone().into());
    generation.insert("traceId".into(), trace_id.into());
    generation
        .insert("name".into(), text("generation_name").unwrap_or_else(|| call_type(record.endpoint).into()).into());
    generation.insert("startTime".into(), started.clone().into());
    generation.insert("endTime".into(), iso_time(record.time_ms.saturating_add(record.latency_ms)).into());
    let first_token = record.ttft_ms.map(|ttft| iso_time(record.time_ms.saturating_add(ttft)).into());
    insert_some(&mut generation, "completionStartTime", first_token);
    let model = record.deployment.as_ref().map_or(&record.model, |called| &called.model);
    generation.insert("model".into(), model.clone().into());
    let usage = record
        .usage
        .map(|u| json!({ "input": u.prompt_tokens, "output": u.completion_tokens, "total": u.total_tokens }));
    insert_some(&mut generation, "usageDetails", usage);
    insert_some(&mut generation, "costDetails", record.cost.filter(|c| c.is_finite()).map(|c| json!({ "total": c })));
    if record.succeeded() {
        generation.insert("level".into(), "DEFAULT".into());
    } else {
        generation.insert("level".into(), "ERROR".into());
        generation.insert("statusMessage".into(), failure(record).into());
    }
    generation.insert("metadata".into(), generation_metadata(record).into());
    insert_some(&mut generation, "input", input);
    insert_some(&mut generation, "output", output);

    [envelope(record, "trace-create", &started, trace), envelope(record, "generation-create", &started, generation)]
}

fn envelope(record: &RequestRecord, kind: &str, timestamp: &str, body: Map<String, Value>) -> Value {
    json!({ "id": event_id(&record.request_id, kind), "timestamp": timestamp, "type": kind, "body": body })
}

/// What failed: the last attempt's failure class, else the error the client got.
fn failure(record: &RequestRecord) -> String {
    match (record.failed_attempts.last(), &record.error_type) {
        (Some(attempt), _) => format!("{:?}", attempt.class),
        (None, Some(error)) => error.clone(),
        (None, None) => format!("status {}", record.status),
    }
}

/// The request's own metadata, with the router's figures beside it (LiteLLM's
/// standard logging metadata names where it has one).
fn generation_metadata(record: &RequestRecord) -> Map<String, Value> {
    let mut metadata = match &record.metadata {
        Some(Value::Object(map)) => map.clone(),
        _ => Map::new(),
    };
    metadata.insert("request_id".into(), record.request_id.clone().into());
    metadata.insert("endpoint".into(), record.endpoint.into());
    metadata.insert("status".into(), record.status.into());
    metadata.insert("stream".into(), record.stream.into());
    metadata.insert("retries".into(), record.retries.into());
    metadata.insert("fallbacks".into(), record.fallbacks.into());
    metadata.insert("cache_hit".into(), record.cache_hit.into());
    insert_some(&mut metadata, "model_group", record.group.clone().map(Value::from));
    insert_some(&mut metadata, "model_id", record.deployment.as_ref().map(|d| d.id.clone().into()));
    insert_some(&mut metadata, "provider", record.deployment.as_ref().map(|d| d.provider.into()));
    insert_some(&mut metadata, "user_api_key_hash", record.hashed_api_key.clone().map(Value::from));
    insert_some(&mut metadata, "priority", record.priority.map(Value::from));
    insert_some(&mut metadata, "queue_wait_ms", record.queue_wait_ms.map(Value::from));
    insert_some(&mut metadata, "slot_wait_ms", record.slot_wait_ms.map(Value::from));
    insert_some(&mut metadata, "error_type", record.error_type.clone().map(Value::from));
    if !record.failed_attempts.is_empty() {
        let attempts = record.failed_attempts.iter().map(
            |a| json!({ "model_id": a.deployment, "class": format!("{:?}", a.class), "latency_ms": a.latency_ms }),
        );
        metadata.insert("failed_attempts".into(), attempts.collect::<Vec<_>>().into());
    }
    metadata
}

/// `metadata.tags`, its strings only (Langfuse takes a list of strings).
fn tags(metadata: Option<&Map<String, Value>>) -> Option<Value> {
    let list = metadata?.get("tags")?.as_array()?;
    Some(list.iter().filter_map(Value::as_str).map(Value::from).collect::<Vec<_>>().into())
}

fn insert_some(map: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(value) = value {
        map.insert(key.into(), value);
    }
}

/// LiteLLM's name for the call, which its traces and generations are named after.
fn call_type(endpoint: &str) -> &'static str {
    match endpoint {
        "/v1/embeddings" | "/embeddings" => "litellm-aembedding",
        "/v1/completions" | "/completions" => "litellm-atext_completion",
        "/v1/messages" => "litellm-anthropic_messages",
        "/v1/responses" => "litellm-aresponses",
        _ => "litellm-acompletion",
    }
}

/// An event's id: a version 4 UUID, as the API asks, drawn from a hash of the
/// request's id and the event's type rather than at random.
fn event_id(request: &str, kind: &str) -> String {
    let digest =
        Sha256::new().chain_update(request.as_bytes()).chain_update([0]).chain_update(kind.as_bytes()).finalize();
    let mut bits = [0u8; 16];
    bits.copy_from_slice(&digest[..16]);
    request_id(u128::from_be_bytes(bits))
}

/// Milliseconds since the epoch in ISO 8601 with milliseconds, UTC: `2026-12-01T10:00:00.123Z`.
pub fn iso_time(ms: u64) -> String {
    let (year, month, day) = civil_date(ms / 86_400_000);
    let in_day = ms % 86_400_000;
    let (hours, minutes, seconds, millis) =
        (in_day / 3_600_000, in_day / 60_000 % 60, in_day / 1000 % 60, in_day % 1000);
    format!("{year:04}-{month:02}-{day:02}T{hours:02}:{minutes:02}:{seconds:02}.{millis:03}Z")
}

#[cfg(test)]
mod tests;
