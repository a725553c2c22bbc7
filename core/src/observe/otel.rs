//! Request records as OpenTelemetry traces: the body of an OTLP/HTTP JSON export
//! (`POST /v1/traces`, an `ExportTraceServiceRequest`).
//!
//! One trace per request: a root span (kind SERVER) for the request, a child span
//! (kind CLIENT) per attempt, failed ones with status ERROR and their failure
//! class, and one (kind INTERNAL) for the wait in the group's queue. Attributes use
//! the OpenTelemetry GenAI semantic conventions' names (`gen_ai.*`), HTTP's for
//! the request, and `switchyard.*` for the router's own figures.
//!
//! OTLP's JSON encoding, as its specification sets it: ids in lowercase hex (16
//! bytes for a trace, 8 for a span), times as decimal strings of nanoseconds
//! since the epoch, 64-bit integers as decimal strings, enums as integers.

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::record::RequestRecord;

/// OTLP's `SpanKind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Kind {
    Internal = 1,
    Server = 2,
    Client = 3,
}

/// OTLP's `Status.StatusCode`: a success is left unset, as the conventions ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Status {
    Unset = 0,
    Error = 2,
}

/// The instrumentation scope every span is reported under.
const SCOPE: &str = "switchyard";

/// The export of `records`, under a resource named `service_name`.
pub fn export(records: &[RequestRecord], service_name: &str) -> String {
    let spans: Vec<Value> = records.iter().flat_map(spans).collect();
    let body = json!({
        "resourceSpans": [{
            "resource": { "attributes": [attribute("service.name", AttrValue::Str(service_name.to_owned()))] },
            "scopeSpans": [{
                "scope": { "name": SCOPE, "version": env!("CARGO_PKG_VERSION") },
                "spans": spans,
            }],
        }],
    });
    body.to_string()
}

/// The spans of one request, the root first.
fn spans(record: &RequestRecord) -> Vec<Value> {
    let trace_id = trace_id(&record.request_id);
    let root_id = span_id(&record.request_id, "request");
    let start = record.time_ms;
    let end = start.saturating_add(record.latency_ms);
    let operation = operation(record.endpoint);
    let mut out = Vec::with_capacity(record.failed_attempts.len() + 3);

    let mut attributes = request_attributes(record, operation);
    let status = if record.succeeded() {
        (Status::Unset, None)
    } else {
        let error = record.error_type.clone().unwrap_or_else(|| record.status.to_string());
        attributes.push(("error.type", AttrValue::Str(error.clone())));
        (Status::Error, Some(error))
    };
    let name = format!("{operation} {}", record.model);
    let mut root = span(&trace_id, &root_id, None, name, Kind::Server, (start, end), attributes, status);
    if let Some(Value::Array(list)) = root.get_mut("attributes") {
        list.extend(metadata_attributes(record.metadata.as_ref()));
    }
    out.push(root);

    // The record keeps durations, not start times: the waits (the queue's, then
    // one for a slot in the isolate) and the attempts are laid end to end from
    // the arrival, the answer's attempt ending with it (any backoff between
    // attempts falls into the attempt after it).
    let mut cursor = start;
    let priority = record.priority.map(|p| ("switchyard.priority", AttrValue::Int(p.into())));
    let waits = [
        ("queue", "queue wait", record.queue_wait_ms, priority.into_iter().collect()),
        ("slot", "slot wait", record.slot_wait_ms, Vec::new()),
    ];
    for (key, name, wait, attributes) in waits {
        let Some(wait) = wait else { continue };
        let id = span_id(&record.request_id, key);
        let window = (cursor, cursor.saturating_add(wait).min(end));
        let unset = (Status::Unset, None);
        out.push(span(&trace_id, &id, Some(&root_id), name.into(), Kind::Internal, window, attributes, unset));
        cursor = window.1;
    }
    for (index, failed) in record.failed_attempts.iter().enumerate() {
        let class = format!("{:?}", failed.class);
        let attributes = vec![
            ("switchyard.attempt", AttrValue::Int(index as u64 + 1)),
            ("switchyard.deployment_id", AttrValue::Str(failed.deployment.clone())),
            ("error.type", AttrValue::Str(class.clone())),
        ];
        let id = span_id(&record.request_id, &format!("attempt-{index}"));
        let window = (cursor, cursor.saturating_add(failed.latency_ms).min(end));
        let name = format!("attempt {}", failed.deployment);
        out.push(span(
            &trace_id,
            &id,
            Some(&root_id),
            name,
            Kind::Client,
            window,
            attributes,
            (Status::Error, Some(class)),
        ));
        cursor = window.1;
    }
    if let Some(called) = record.deployment.as_ref().filter(|_| record.succeeded() && record.cache_hit != Some(true)) {
        let attempt = record.failed_attempts.len() as u64 + 1;
        let mut attributes = vec![
            ("gen_ai.operation.name", AttrValue::Str(operation.to_owned())),
            ("gen_ai.provider.name", AttrValue::Str(provider_name(called.provider).to_owned())),
            ("gen_ai.system", AttrValue::Str(provider_name(called.provider).to_owned())),
            ("gen_ai.request.model", AttrValue::Str(called.model.clone())),
            ("gen_ai.response.model", AttrValue::Str(called.model.clone())),
            ("switchyard.attempt", AttrValue::Int(attempt)),
            ("switchyard.deployment_id", AttrValue::Str(called.id.clone())),
        ];
        attributes.extend(usage_attributes(record));
        let id = span_id(&record.request_id, "answer");
        let name = format!("{operation} {}", called.model);
        out.push(span(
            &trace_id,
            &id,
            Some(&root_id),
            name,
            Kind::Client,
            (cursor, end),
            attributes,
            (Status::Unset, None),
        ));
    }
    out
}

/// The root span's attributes: the request as the client made it, and what came of it.
fn request_attributes(record: &RequestRecord, operation: &str) -> Vec<(&'static str, AttrValue)> {
    let mut attributes = vec![
        ("gen_ai.operation.name", AttrValue::Str(operation.to_owned())),
        ("gen_ai.request.model", AttrValue::Str(record.model.clone())),
        ("http.request.method", AttrValue::Str("POST".into())),
        ("url.path", AttrValue::Str(record.endpoint.to_owned())),
        ("http.response.status_code", AttrValue::Int(record.status.into())),
        ("switchyard.request_id", AttrValue::Str(record.request_id.clone())),
        ("switchyard.stream", AttrValue::Bool(record.stream)),
        ("switchyard.retries", AttrValue::Int(record.retries.into())),
        ("switchyard.fallbacks", AttrValue::Int(record.fallbacks.into())),
        ("switchyard.cache_hit", AttrValue::Bool(record.cache_hit == Some(true))),
    ];
    let optional = [
        ("switchyard.model_group", record.group.clone().map(AttrValue::Str)),
        ("switchyard.priority", record.priority.map(|p| AttrValue::Int(p.into()))),
        ("switchyard.queue_wait_ms", record.queue_wait_ms.map(AttrValue::Int)),
        ("switchyard.slot_wait_ms", record.slot_wait_ms.map(AttrValue::Int)),
        ("switchyard.ttft_ms", record.ttft_ms.map(AttrValue::Int)),
        ("switchyard.cost", record.cost.filter(|c| c.is_finite()).map(AttrValue::Double)),
        ("switchyard.hashed_api_key", record.hashed_api_key.clone().map(AttrValue::Str)),
    ];
    attributes.extend(optional.into_iter().filter_map(|(key, value)| value.map(|v| (key, v))));
    if let Some(called) = record.deployment.as_ref().filter(|_| record.succeeded()) {
        let provider = provider_name(called.provider).to_owned();
        attributes.push(("gen_ai.provider.name", AttrValue::Str(provider.clone())));
        attributes.push(("gen_ai.system", AttrValue::Str(provider)));
        attributes.push(("gen_ai.response.model", AttrValue::Str(called.model.clone())));
        attributes.push(("switchyard.deployment_id", AttrValue::Str(called.id.clone())));
    }
    attributes.extend(usage_attributes(record));
    if let Some(content) = &record.content {
        // Only there when the config logs messages (see `record::Content`).
        attributes.extend(content.input.clone().map(|input| ("gen_ai.prompt", AttrValue::Str(input))));
        attributes.extend(content.output.clone().map(|output| ("gen_ai.completion", AttrValue::Str(output))));
    }
    attributes
}

fn usage_attributes(record: &RequestRecord) -> Vec<(&'static str, AttrValue)> {
    match record.usage {
        Some(usage) => vec![
            ("gen_ai.usage.input_tokens", AttrValue::Int(usage.prompt_tokens)),
            ("gen_ai.usage.output_tokens", AttrValue::Int(usage.completion_tokens)),
        ],
        None => Vec::new(),
    }
}

/// The conventions' `gen_ai.operation.name` for the path the client called.
pub fn operation(endpoint: &str) -> &'static str {
    match endpoint {
        "/v1/embeddings" | "/embeddings" => "embeddings",
        "/v1/completions" | "/completions" => "text_completion",
        // Chat Completions, Anthropic's Messages and OpenAI's Responses.
        _ => "chat",
    }
}

/// The conventions' `gen_ai.provider.name` for LiteLLM's provider names.
fn provider_name(litellm: &str) -> &str {
    match litellm {
        "azure" => "azure.ai.openai",
        "gemini" => "gcp.gemini",
        "vertex_ai" => "gcp.vertex_ai",
        "bedrock" => "aws.bedrock",
        other => other,
    }
}

/// An attribute's value, as OTLP's `AnyValue` writes it.
#[derive(Debug, Clone, PartialEq)]
enum AttrValue {
    Str(String),
    Int(u64),
    Double(f64),
    Bool(bool),
}

fn attribute(key: &str, value: AttrValue) -> Value {
    let value = match value {
        AttrValue::Str(s) => json!({ "stringValue": s }),
        // int64 is a decimal string in protobuf's JSON mapping.
        AttrValue::Int(i) => json!({ "intValue": i.to_string() }),
        AttrValue::Double(d) => json!({ "doubleValue": d }),
        AttrValue::Bool(b) => json!({ "boolValue": b }),
    };
    json!({ "key": key, "value": value })
}

/// The request's `metadata` object, each top-level entry as `metadata.<key>` (as
/// LiteLLM's OpenTelemetry logger writes it): scalars as they are, the rest as JSON.
fn metadata_attributes(metadata: Option<&Value>) -> Vec<Value> {
    let Some(Value::Object(map)) = metadata else {
        return Vec::new();
    };
    map.iter()
        .map(|(key, value)| {
            let value = match value {
                Value::String(s) => AttrValue::Str(s.clone()),
                Value::Bool(b) => AttrValue::Bool(*b),
                Value::Number(n) if n.is_u64() => AttrValue::Int(n.as_u64().unwrap_or_default()),
                Value::Number(n) => n.as_f64().map_or_else(|| AttrValue::Str(n.to_string()), AttrValue::Double),
                other => AttrValue::Str(other.to_string()),
            };
            attribute(&format!("metadata.{key}"), value)
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn span(
    trace_id: &str,
    span_id: &str,
    parent: Option<&str>,
    name: String,
    kind: Kind,
    (start_ms, end_ms): (u64, u64),
    attributes: Vec<(&'static str, AttrValue)>,
    (status, message): (Status, Option<String>),
) -> Value {
    let mut span = Map::new();
    span.insert("traceId".into(), trace_id.into());
    span.insert("spanId".into(), span_id.into());
    if let Some(parent) = parent {
        span.insert("parentSpanId".into(), parent.into());
    }
    span.insert("name".into(), name.into());
    span.insert("kind".into(), (kind as u8).into());
    span.insert("startTimeUnixNano".into(), nanos(start_ms).into());
    span.insert("endTimeUnixNano".into(), nanos(end_ms.max(start_ms)).into());
    let attributes: Vec<Value> = attributes.into_iter().map(|(key, value)| attribute(key, value)).collect();
    span.insert("attributes".into(), attributes.into());
    let mut status_object = Map::new();
    status_object.insert("code".into(), (status as u8).into());
    if let Some(message) = message {
        status_object.insert("message".into(), message.into());
    }
    span.insert("status".into(), status_object.into());
    span.into()
}

/// Milliseconds since the epoch as OTLP's `fixed64` nanoseconds: a decimal string.
fn nanos(ms: u64) -> String {
    (u128::from(ms) * 1_000_000).to_string()
}

/// The trace of a request: its id's 32 hex digits when it is a UUID (as the
/// gateway makes them), so that `x-request-id` finds it; else a hash of its id.
pub fn trace_id(request_id: &str) -> String {
    let hex: String = request_id.chars().filter(|&c| c != '-').collect::<String>().to_ascii_lowercase();
    let uuid = request_id.len() == 36 && hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit());
    if uuid && hex.bytes().any(|b| b != b'0') { hex } else { hashed_hex(request_id, "trace", 16) }
}

/// A span's id: a hash of the request's id and the span's part in it, so that a
/// batch sent twice names the same spans.
fn span_id(request_id: &str, part: &str) -> String {
    hashed_hex(request_id, part, 8)
}

fn hashed_hex(request_id: &str, part: &str, bytes: usize) -> String {
    let mut hasher = Sha256::new();
    hasher.update(request_id.as_bytes());
    hasher.update([0]);
    hasher.update(part.as_bytes());
    hasher.finalize().iter().take(bytes).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
