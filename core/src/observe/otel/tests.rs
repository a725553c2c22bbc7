use serde_json::{Value, json};

use super::*;
use crate::failure::FailureClass;
use crate::observe::record::{Called, Content, FailedAttempt, Tokens};

const ID: &str = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9";

/// A request that failed once at `d1` (rate limited), waited in the queue, then
/// was answered by `d2`.
fn retried() -> RequestRecord {
    RequestRecord {
        time_ms: 1_764_585_600_000,
        request_id: ID.into(),
        endpoint: "/v1/chat/completions",
        model: "gpt-4o".into(),
        group: Some("gpt-4o".into()),
        deployment: Some(Called {
            group: "g".into(),
            id: "d2".into(),
            model: "claude-sonnet-4-5".into(),
            provider: "anthropic",
        }),
        status: 200,
        latency_ms: 900,
        ttft_ms: Some(400),
        usage: Some(Tokens { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 }),
        cost: Some(0.25),
        failed_attempts: vec![FailedAttempt {
            group: "g".into(),
            deployment: "d1".into(),
            class: FailureClass::RateLimit,
            latency_ms: 100,
        }],
        retries: 1,
        priority: Some(2),
        queue_wait_ms: Some(50),
        metadata: Some(json!({ "team": "search", "n": 3, "tags": ["a"] })),
        ..RequestRecord::default()
    }
}

fn export_of(records: &[RequestRecord]) -> Value {
    serde_json::from_str(&export(records, "gw")).unwrap()
}

fn spans_of(body: &Value) -> &Vec<Value> {
    body["resourceSpans"][0]["scopeSpans"][0]["spans"].as_array().unwrap()
}

/// An attribute's value, in OTLP's `AnyValue` form.
fn attr<'a>(span: &'a Value, key: &str) -> Option<&'a Value> {
    span["attributes"].as_array().unwrap().iter().find(|a| a["key"] == key).map(|a| &a["value"])
}

#[test]
fn the_resource_and_scope_name_the_service() {
    let body = export_of(&[retried()]);
    let resource = &body["resourceSpans"][0]["resource"]["attributes"][0];
    assert_eq!(resource["key"], "service.name");
    assert_eq!(resource["value"]["stringValue"], "gw");
    assert_eq!(body["resourceSpans"][0]["scopeSpans"][0]["scope"]["name"], "switchyard");
}

#[test]
fn a_request_is_a_server_span_with_a_child_per_attempt_and_one_for_its_wait() {
    let body = export_of(&[retried()]);
    let spans = spans_of(&body);
    let names: Vec<&str> = spans.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["chat gpt-4o", "queue wait", "attempt d1", "chat claude-sonnet-4-5"]);
    let kinds: Vec<u64> = spans.iter().map(|s| s["kind"].as_u64().unwrap()).collect();
    assert_eq!(kinds, [2, 1, 3, 3], "SERVER, INTERNAL, CLIENT, CLIENT");
    let root = &spans[0];
    assert_eq!(root["traceId"], "0f1e2d3c4b5a49788695a4b3c2d1e0f9", "the request id's digits");
    assert!(root.get("parentSpanId").is_none());
    for child in &spans[1..] {
        assert_eq!(child["traceId"], root["traceId"]);
        assert_eq!(child["parentSpanId"], root["spanId"]);
    }
    let ids: std::collections::HashSet<&str> = spans.iter().map(|s| s["spanId"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 4, "distinct span ids");
    for span in spans {
        let id = span["spanId"].as_str().unwrap();
        assert!(id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{id}");
    }
}

/// A wait in the isolate for a slot comes after the queue's, before the
/// attempts, and its length is an attribute of the request's span.
#[test]
fn a_wait_for_a_slot_is_a_span_of_its_own_after_the_queues() {
    let body = export_of(&[RequestRecord { slot_wait_ms: Some(120), ..retried() }]);
    let spans = spans_of(&body);
    let names: Vec<&str> = spans.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["chat gpt-4o", "queue wait", "slot wait", "attempt d1", "chat claude-sonnet-4-5"]);
    let start = |s: &Value| s["startTimeUnixNano"].as_str().unwrap().parse::<u128>().unwrap() / 1_000_000;
    assert_eq!(start(&spans[2]) - start(&spans[0]), 50);
    assert_eq!(start(&spans[3]) - start(&spans[0]), 170);
    let attributes = spans[0]["attributes"].as_array().unwrap();
    let slot = attributes.iter().find(|a| a["key"] == "switchyard.slot_wait_ms").unwrap();
    assert_eq!(slot["value"]["intValue"], "120");
}

#[test]
fn times_are_nanosecond_strings_laid_end_to_end() {
    let body = export_of(&[retried()]);
    let spans = spans_of(&body);
    let window = |s: &Value| {
        let n = |k: &str| s[k].as_str().unwrap().parse::<u128>().unwrap() / 1_000_000;
        (n("startTimeUnixNano") - 1_764_585_600_000, n("endTimeUnixNano") - 1_764_585_600_000)
    };
    assert_eq!(spans[0]["startTimeUnixNano"], "1764585600000000000");
    let windows: Vec<(u128, u128)> = spans.iter().map(window).collect();
    assert_eq!(windows, [(0, 900), (0, 50), (50, 150), (150, 900)]);
}

#[test]
fn attributes_follow_the_genai_conventions() {
    let body = export_of(&[retried()]);
    let spans = spans_of(&body);
    let root = &spans[0];
    assert_eq!(attr(root, "gen_ai.operation.name").unwrap()["stringValue"], "chat");
    assert_eq!(attr(root, "gen_ai.request.model").unwrap()["stringValue"], "gpt-4o");
    assert_eq!(attr(root, "gen_ai.response.model").unwrap()["stringValue"], "claude-sonnet-4-5");
    assert_eq!(attr(root, "gen_ai.provider.name").unwrap()["stringValue"], "anthropic");
    assert_eq!(attr(root, "gen_ai.usage.input_tokens").unwrap()["intValue"], "12", "int64 as a string");
    assert_eq!(attr(root, "gen_ai.usage.output_tokens").unwrap()["intValue"], "3");
    assert_eq!(attr(root, "http.response.status_code").unwrap()["intValue"], "200");
    assert_eq!(attr(root, "switchyard.request_id").unwrap()["stringValue"], ID);
    assert_eq!(attr(root, "switchyard.cost").unwrap()["doubleValue"], 0.25);
    assert_eq!(attr(root, "switchyard.retries").unwrap()["intValue"], "1");
    assert_eq!(attr(root, "switchyard.cache_hit").unwrap()["boolValue"], false);
    assert_eq!(attr(root, "switchyard.priority").unwrap()["intValue"], "2");
    assert_eq!(attr(root, "metadata.team").unwrap()["stringValue"], "search");
    assert_eq!(attr(root, "metadata.n").unwrap()["intValue"], "3");
    assert_eq!(attr(root, "metadata.tags").unwrap()["stringValue"], "[\"a\"]");
    assert_eq!(root["status"], json!({ "code": 0 }), "a success is left unset");
    let failed = &spans[2];
    assert_eq!(failed["status"], json!({ "code": 2, "message": "RateLimit" }));
    assert_eq!(attr(failed, "error.type").unwrap()["stringValue"], "RateLimit");
    assert_eq!(attr(failed, "switchyard.deployment_id").unwrap()["stringValue"], "d1");
    let answer = &spans[3];
    assert_eq!(attr(answer, "switchyard.attempt").unwrap()["intValue"], "2");
    assert_eq!(attr(answer, "gen_ai.usage.input_tokens").unwrap()["intValue"], "12");
}

#[test]
fn a_failed_request_is_an_error_and_has_no_answer_span() {
    let record = RequestRecord {
        status: 429,
        error_type: Some("rate_limit_error".into()),
        usage: None,
        cost: None,
        queue_wait_ms: None,
        failed_attempts: vec![
            FailedAttempt {
                group: "g".into(),
                deployment: "d1".into(),
                class: FailureClass::RateLimit,
                latency_ms: 10,
            },
            FailedAttempt { group: "g".into(), deployment: "d2".into(), class: FailureClass::Timeout, latency_ms: 20 },
        ],
        ..retried()
    };
    let body = export_of(&[record]);
    let spans = spans_of(&body);
    assert_eq!(spans.len(), 3, "the root and its two failed attempts");
    assert_eq!(spans[0]["status"], json!({ "code": 2, "message": "rate_limit_error" }));
    assert_eq!(attr(&spans[0], "error.type").unwrap()["stringValue"], "rate_limit_error");
    assert!(attr(&spans[0], "gen_ai.response.model").is_none());
    assert_eq!(spans[2]["status"]["message"], "Timeout");
}

#[test]
fn content_appears_only_when_the_record_carries_it() {
    let body = export_of(&[retried()]);
    assert!(!body.to_string().contains("gen_ai.prompt"));
    let record = RequestRecord {
        content: Some(Content {
            input: Some("[{\"role\":\"user\",\"content\":\"hello\"}]".into()),
            output: Some("hi!".into()),
        }),
        ..retried()
    };
    let body = export_of(&[record]);
    let root = &spans_of(&body)[0];
    assert_eq!(attr(root, "gen_ai.prompt").unwrap()["stringValue"], "[{\"role\":\"user\",\"content\":\"hello\"}]");
    assert_eq!(attr(root, "gen_ai.completion").unwrap()["stringValue"], "hi!");
}

#[test]
fn ids_are_deterministic_and_a_clients_own_id_is_hashed() {
    let a = RequestRecord { request_id: "my-call-1".into(), ..retried() };
    let b = RequestRecord { request_id: "my-call-2".into(), ..retried() };
    let first = export_of(&[a.clone(), b]);
    let again = export_of(&[a]);
    let spans = spans_of(&first);
    let trace = spans[0]["traceId"].as_str().unwrap();
    assert_eq!(trace.len(), 32);
    assert!(trace.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(spans_of(&again)[0]["traceId"], trace, "the same request, the same trace");
    assert_eq!(spans_of(&again)[0]["spanId"], spans[0]["spanId"]);
    assert_ne!(spans[4]["traceId"], trace, "another request, another trace");
    assert_eq!(trace_id("00000000-0000-0000-0000-000000000000").len(), 32);
    assert_ne!(trace_id("00000000-0000-0000-0000-000000000000"), "0".repeat(32), "an all-zero trace id is invalid");
}

#[test]
fn a_cache_hit_has_no_attempt_and_operations_follow_the_endpoint() {
    let record = RequestRecord { cache_hit: Some(true), failed_attempts: vec![], queue_wait_ms: None, ..retried() };
    let body = export_of(&[record]);
    assert_eq!(spans_of(&body).len(), 1);
    assert_eq!(operation("/v1/embeddings"), "embeddings");
    assert_eq!(operation("/v1/completions"), "text_completion");
    assert_eq!(operation("/v1/messages"), "chat");
    assert_eq!(provider_name("bedrock"), "aws.bedrock");
    assert_eq!(provider_name("groq"), "groq");
}

#[test]
fn an_empty_batch_is_still_a_valid_export() {
    let body = export_of(&[]);
    assert_eq!(spans_of(&body).len(), 0);
}
