use serde_json::{Value, json};

use super::*;
use crate::failure::FailureClass;
use crate::observe::record::{Called, Content, FailedAttempt, Tokens};

fn answered() -> RequestRecord {
    RequestRecord {
        time_ms: 1_764_585_600_123,
        request_id: "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9".into(),
        endpoint: "/v1/chat/completions",
        model: "gpt-4o".into(),
        group: Some("gpt-4o".into()),
        deployment: Some(Called {
            group: "g".into(),
            id: "d1".into(),
            model: "gpt-4o-2024-08-06".into(),
            provider: "openai",
        }),
        status: 200,
        latency_ms: 1_500,
        ttft_ms: Some(250),
        usage: Some(Tokens { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 }),
        cost: Some(0.001),
        hashed_api_key: Some("abc123".into()),
        ..RequestRecord::default()
    }
}

fn batch_of(records: &[RequestRecord]) -> Vec<Value> {
    let body: Value = serde_json::from_str(&ingestion(records)).unwrap();
    body["batch"].as_array().unwrap().clone()
}

#[test]
fn a_request_is_a_trace_and_a_generation_named_by_its_id() {
    let batch = batch_of(&[answered()]);
    assert_eq!(batch.len(), 2);
    let (trace, generation) = (&batch[0], &batch[1]);
    assert_eq!(trace["type"], "trace-create");
    assert_eq!(generation["type"], "generation-create");
    assert_eq!(trace["body"]["id"], "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9");
    assert_eq!(trace["body"]["name"], "litellm-acompletion");
    assert_eq!(trace["timestamp"], "2025-12-01T10:40:00.123Z");
    assert_eq!(generation["body"]["id"], "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9");
    assert_eq!(generation["body"]["traceId"], trace["body"]["id"]);
    assert_ne!(trace["id"], generation["id"], "each event its own id");
    for event in &batch {
        let id = event["id"].as_str().unwrap();
        assert_eq!((id.len(), &id[14..15]), (36, "4"), "a version 4 UUID: {id}");
    }
    assert_eq!(batch_of(&[answered()])[0]["id"], trace["id"], "the same request, the same event ids");
}

#[test]
fn the_generation_carries_model_times_usage_and_cost() {
    let generation = &batch_of(&[answered()])[1]["body"];
    assert_eq!(generation["model"], "gpt-4o-2024-08-06");
    assert_eq!(generation["startTime"], "2025-12-01T10:40:00.123Z");
    assert_eq!(generation["endTime"], "2025-12-01T10:40:01.623Z");
    assert_eq!(generation["completionStartTime"], "2025-12-01T10:40:00.373Z");
    assert_eq!(generation["usageDetails"], json!({ "input": 12, "output": 3, "total": 15 }));
    assert_eq!(generation["costDetails"], json!({ "total": 0.001 }));
    assert_eq!(generation["level"], "DEFAULT");
    assert!(generation.get("statusMessage").is_none());
    assert_eq!(generation["metadata"]["model_id"], "d1");
    assert_eq!(generation["metadata"]["user_api_key_hash"], "abc123");
    assert!(generation.get("input").is_none() && generation.get("output").is_none(), "no content");
}

#[test]
fn a_failure_is_an_error_level_with_its_class() {
    let record = RequestRecord {
        status: 503,
        error_type: Some("internal_server_error".into()),
        usage: None,
        cost: None,
        failed_attempts: vec![
            FailedAttempt { group: "g".into(), deployment: "d1".into(), class: FailureClass::RateLimit, latency_ms: 5 },
            FailedAttempt { group: "g".into(), deployment: "d1".into(), class: FailureClass::Internal, latency_ms: 7 },
        ],
        retries: 1,
        ..answered()
    };
    let generation = &batch_of(&[record])[1]["body"];
    assert_eq!(generation["level"], "ERROR");
    assert_eq!(generation["statusMessage"], "Internal");
    assert!(generation.get("usageDetails").is_none());
    assert_eq!(generation["metadata"]["failed_attempts"][0]["class"], "RateLimit");
    assert_eq!(generation["metadata"]["retries"], 1);
    let bare = RequestRecord { status: 400, error_type: Some("invalid_request_error".into()), ..answered() };
    assert_eq!(batch_of(&[bare])[1]["body"]["statusMessage"], "invalid_request_error");
}

#[test]
fn metadata_names_the_trace_as_litellm_reads_it() {
    let record = RequestRecord {
        metadata: Some(json!({
            "trace_id": "conversation-7",
            "trace_name": "support-bot",
            "generation_name": "answer",
            "session_id": "s-1",
            "trace_user_id": "u-9",
            "tags": ["prod", 3, "beta"],
            "team": "search",
        })),
        ..answered()
    };
    let batch = batch_of(&[record]);
    let (trace, generation) = (&batch[0]["body"], &batch[1]["body"]);
    assert_eq!(trace["id"], "conversation-7");
    assert_eq!(trace["name"], "support-bot");
    assert_eq!(trace["sessionId"], "s-1");
    assert_eq!(trace["userId"], "u-9");
    assert_eq!(trace["tags"], json!(["prod", "beta"]), "strings only");
    assert_eq!(trace["metadata"]["team"], "search", "passed through");
    assert_eq!(generation["traceId"], "conversation-7");
    assert_eq!(generation["id"], "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9", "the generation is still the request");
    assert_eq!(generation["name"], "answer");
    assert_eq!(generation["metadata"]["team"], "search");
}

#[test]
fn content_only_from_the_record() {
    let record = RequestRecord {
        content: Some(Content {
            input: Some("[{\"role\":\"user\",\"content\":\"hello\"}]".into()),
            output: Some("hi!".into()),
        }),
        ..answered()
    };
    let batch = batch_of(&[record]);
    for event in &batch {
        assert_eq!(event["body"]["input"], json!([{ "role": "user", "content": "hello" }]));
        assert_eq!(event["body"]["output"], json!({ "role": "assistant", "content": "hi!" }));
    }
    let raw = RequestRecord { content: Some(Content { input: Some("a prompt".into()), output: None }), ..answered() };
    assert_eq!(batch_of(&[raw])[1]["body"]["input"], "a prompt", "text that is not JSON stays text");
}

#[test]
fn times_are_iso_8601_with_milliseconds() {
    assert_eq!(iso_time(0), "1970-01-01T00:00:00.000Z");
    assert_eq!(iso_time(951_782_400_999), "2000-02-29T00:00:00.999Z");
    assert_eq!(iso_time(1_798_761_599_001), "2026-12-31T23:59:59.001Z");
}
