use super::*;
use crate::config::load;

fn chat(body: &str) -> ParsedRequest<'_> {
    ParsedRequest::parse(Endpoint::ChatCompletions, body.as_bytes()).unwrap()
}

fn policy() -> CachePolicy {
    CachePolicy {
        enabled: true,
        default_ttl_s: 600,
        namespace: None,
        endpoints: vec![Endpoint::ChatCompletions],
        shared: false,
    }
}

fn key_of(body: &str, api_key: Option<&str>, policy: &CachePolicy) -> String {
    let request = chat(body);
    super::key(policy, &request.cache, api_key, "g", &request)
}

const BASE: &str = r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":0.5}"#;

#[test]
fn fields_that_change_the_answer_change_the_key_and_others_do_not() {
    let p = policy();
    let base = key_of(BASE, Some("sk-a"), &p);
    assert_eq!(base.len(), 64);
    for same in [
        r#"{"model":"alias","messages":[{"role":"user","content":"hi"}],"temperature":0.5}"#,
        r#"{ "temperature" : 0.50, "messages":[{"content":"hi","role":"user"}], "model":"m"}"#,
        r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":0.5,"user":"u1","metadata":{"a":1},"priority":3,"stream":true,"timeout":9,"num_retries":1}"#,
        r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":0.5,"cache":{"no-store":true,"ttl":90}}"#,
    ] {
        assert_eq!(key_of(same, Some("sk-a"), &p), base, "{same}");
    }
    for different in [
        r#"{"model":"m","messages":[{"role":"user","content":"hi!"}],"temperature":0.5}"#,
        r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":0.6}"#,
        r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":0.5,"seed":1}"#,
        r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":0.5,"tools":[]}"#,
        r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":0.5,"cache":{"namespace":"other"}}"#,
    ] {
        assert_ne!(key_of(different, Some("sk-a"), &p), base, "{different}");
    }
}

#[test]
fn keys_are_scoped_by_tenant_unless_shared() {
    let p = policy();
    assert_ne!(key_of(BASE, Some("sk-a"), &p), key_of(BASE, Some("sk-b"), &p));
    assert_ne!(key_of(BASE, Some("sk-a"), &p), key_of(BASE, None, &p));
    let shared = CachePolicy { shared: true, ..policy() };
    assert_eq!(key_of(BASE, Some("sk-a"), &shared), key_of(BASE, Some("sk-b"), &shared));
    let other_ns = CachePolicy { namespace: Some("team".into()), ..policy() };
    assert_ne!(key_of(BASE, Some("sk-a"), &p), key_of(BASE, Some("sk-a"), &other_ns));
}

#[test]
fn controls_are_read_and_checked() {
    let controls = chat(
        r#"{"model":"m","messages":[{"role":"user"}],"cache":{"no-cache":true,"no-store":true,"ttl":5,"s-maxage":30,"namespace":"n"}}"#,
    )
    .cache;
    assert_eq!(
        controls,
        CacheControls { no_cache: true, no_store: true, ttl: Some(5), s_maxage: Some(30), namespace: Some("n".into()) }
    );
    assert_eq!(ttl_s(&controls, &policy()), 60, "KV's minimum TTL");
    assert_eq!(ttl_s(&CacheControls::default(), &policy()), 600);
}

#[test]
fn s_maxage_accepts_only_young_entries() {
    let entry =
        Entry { created_ms: 10_000, response: serde_json::value::to_raw_value(&json!({})).unwrap(), native: false };
    let controls = CacheControls { s_maxage: Some(5), ..CacheControls::default() };
    assert!(entry.acceptable(14_999, &controls));
    assert!(!entry.acceptable(15_000, &controls));
    assert!(entry.acceptable(1_000_000, &CacheControls::default()));
}

const STREAM: &str = "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":7,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n\
data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":7,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"},\"finish_reason\":null}]}\n\n\
data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":7,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" there\"},\"finish_reason\":null}]}\n\n\
data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":7,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n\
data: [DONE]\n\n";

#[test]
fn a_finished_stream_is_assembled_into_a_completion_and_replayed_back() {
    let response = assemble_stream(Endpoint::ChatCompletions, STREAM.as_bytes()).unwrap();
    assert_eq!(response["object"], "chat.completion");
    assert_eq!(response["choices"][0]["message"], json!({"role": "assistant", "content": "Hello there"}));
    assert_eq!(response["choices"][0]["finish_reason"], "stop");
    let entry = Entry { created_ms: 0, response: serde_json::value::to_raw_value(&response).unwrap(), native: false };
    let replayed = entry.replay(Endpoint::ChatCompletions, true);
    let again = assemble_stream(Endpoint::ChatCompletions, &replayed).unwrap();
    assert_eq!(again, response, "replay and assembly are inverses");
    let plain: Value = serde_json::from_slice(&entry.replay(Endpoint::ChatCompletions, false)).unwrap();
    assert_eq!(plain, response);
}

#[test]
fn cut_errored_or_tool_call_streams_are_not_cached() {
    let cut = STREAM.replace("data: [DONE]\n\n", "");
    assert!(assemble_stream(Endpoint::ChatCompletions, cut.as_bytes()).is_none());
    let unfinished = STREAM.replace("\"finish_reason\":\"stop\"", "\"finish_reason\":null");
    assert!(assemble_stream(Endpoint::ChatCompletions, unfinished.as_bytes()).is_none());
    let errored = STREAM.replace("data: [DONE]", "data: {\"error\":{\"message\":\"stalled\"}}\n\ndata: [DONE]");
    assert!(assemble_stream(Endpoint::ChatCompletions, errored.as_bytes()).is_none());
    let tools = STREAM.replace("{\"content\":\"Hello\"}", "{\"tool_calls\":[{\"index\":0}]}");
    assert!(assemble_stream(Endpoint::ChatCompletions, tools.as_bytes()).is_none());
}

#[test]
fn config_turns_the_cache_on_with_either_key() {
    let base = "model_list:\n  - {model_name: m, litellm_params: {model: gpt-4o}}\n";
    let off = load(base, &|_| None).unwrap().config.cache;
    assert!(!off.enabled);
    let on =
        load(&format!("{base}router_settings:\n  cache_responses: true\n  default_cache_time_seconds: 120\n"), &|_| {
            None
        })
        .unwrap()
        .config
        .cache;
    assert!(on.enabled && on.applies_to(Endpoint::Embeddings));
    assert_eq!(on.default_ttl_s, 120);
    let litellm = load(
        &format!("{base}litellm_settings:\n  cache: true\n  cache_params: {{ttl: 300, namespace: team, supported_call_types: [acompletion], shared: true}}\n"),
        &|_| None,
    )
    .unwrap()
    .config
    .cache;
    assert!(litellm.applies_to(Endpoint::ChatCompletions) && !litellm.applies_to(Endpoint::Embeddings));
    assert_eq!((litellm.default_ttl_s, litellm.namespace.as_deref(), litellm.shared), (300, Some("team"), true));
    let err = load(&format!("{base}litellm_settings:\n  cache_params: {{supported_call_types: [chat]}}\n"), &|_| None)
        .unwrap_err();
    assert_eq!(err.path, "litellm_settings.cache_params.supported_call_types[0]");
}

#[test]
fn a_hit_gives_back_the_providers_numbers_exactly() {
    // Shortest-form doubles that serde_json's default parser reads one unit off in
    // the last place: read into a tree and written again, they would change.
    let body =
        r#"{"object":"list","data":[{"embedding":[0.1234567890123456,-0.9876543210987654,1.000000000000001e-7]}]}"#;
    let entry = Entry { created_ms: 0, response: serde_json::from_str(body).unwrap(), native: false };
    let stored = serde_json::to_string(&entry).unwrap();
    let back: Entry = serde_json::from_str(&stored).unwrap();
    assert_eq!(back.replay(Endpoint::Embeddings, false), body.as_bytes());
}

#[test]
fn an_entry_says_when_it_holds_a_client_s_own_answer_and_old_entries_read_as_chat() {
    let raw = || serde_json::value::to_raw_value(&json!({"id": "x"})).unwrap();
    assert!(Entry::new(0, raw(), Endpoint::Messages).native);
    assert!(Entry::new(0, raw(), Endpoint::Responses).native);
    let chat = Entry::new(0, raw(), Endpoint::ChatCompletions);
    assert!(!chat.native);
    let written = serde_json::to_string(&chat).unwrap();
    assert!(!written.contains("native"), "{written}");
    let old: Entry = serde_json::from_str(r#"{"created_ms": 1, "response": {"id": "x"}}"#).unwrap();
    assert!(!old.native);
}
