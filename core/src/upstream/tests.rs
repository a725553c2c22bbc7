//! Calls as each provider gets them, and what comes back read as OpenAI's.

use super::*;
use crate::config::{Config, load};

const CONFIG: &str = r#"
model_list:
  - model_name: gpt
    litellm_params: { model: openai/gpt-4o, api_key: sk-openai-0123456789abcdefghijk }
  - model_name: azure-key
    litellm_params: { model: azure/my-gpt, api_base: "https://res.openai.azure.com", api_key: azure-key-0123456789abcdefghij }
  - model_name: azure-app
    litellm_params: { model: azure/my-gpt, api_base: "https://res.openai.azure.com", tenant_id: t, client_id: c, client_secret: s }
  - model_name: azure-token
    litellm_params: { model: azure/my-gpt, api_base: "https://res.openai.azure.com", azure_ad_token: eyJ-static }
  - model_name: claude
    litellm_params: { model: anthropic/claude-sonnet-4-5, api_key: sk-ant-0123456789abcdefghijklmn }
"#;

fn config() -> Config {
    load(CONFIG, &|_| None).unwrap().config
}

fn deployment<'c>(config: &'c Config, group: &str) -> &'c Deployment {
    &config.group(group).unwrap().deployments[0]
}

#[test]
fn openai_and_azure_deployments_get_the_body_as_it_came_at_their_own_url_and_key() {
    let config = config();
    let gpt = deployment(&config, "gpt");
    assert_eq!(forward_url(gpt, Endpoint::ChatCompletions), "https://api.openai.com/v1/chat/completions");
    assert!(forward_headers(gpt, None).contains(&("authorization", "Bearer sk-openai-0123456789abcdefghijk".into())));
    let azure = deployment(&config, "azure-key");
    assert_eq!(
        forward_url(azure, Endpoint::Embeddings),
        "https://res.openai.azure.com/openai/deployments/my-gpt/embeddings?api-version=2025-02-01-preview"
    );
    let headers = forward_headers(azure, None);
    assert!(headers.contains(&("api-key", "azure-key-0123456789abcdefghij".into())));
    assert!(!headers.iter().any(|(name, _)| *name == "authorization"));
    let headers = forward_headers(deployment(&config, "azure-app"), Some("entra-token"));
    assert!(headers.contains(&("authorization", "Bearer entra-token".into())));
    let headers = forward_headers(deployment(&config, "azure-token"), None);
    assert!(headers.contains(&("authorization", "Bearer eyJ-static".into())));
}

#[test]
fn an_anthropic_deployment_gets_a_messages_body_with_its_key_and_version() {
    let config = config();
    let body = br#"{"model":"claude","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],"priority":2,"max_tokens":50}"#;
    let client = ClientHeaders { anthropic_beta: Some("prompt-caching-2024-07-31") };
    let call = translate(deployment(&config, "claude"), Endpoint::ChatCompletions, body, client).unwrap();
    assert_eq!(call.url, "https://api.anthropic.com/v1/messages");
    assert!(call.headers.contains(&("x-api-key", "sk-ant-0123456789abcdefghijklmn".into())));
    assert!(call.headers.contains(&("anthropic-version", "2023-06-01".into())));
    assert!(call.headers.contains(&("anthropic-beta", "prompt-caching-2024-07-31".into())));
    let sent: serde_json::Value = serde_json::from_slice(&call.body).unwrap();
    assert_eq!(sent["model"], "claude-sonnet-4-5");
    assert_eq!(sent["max_tokens"], 50);
    assert_eq!(sent["system"][0]["text"], "Be brief.");
    assert!(sent.get("priority").is_none(), "the gateway's own fields stay behind");
    assert_eq!(call.dialect, Dialect::Anthropic { json_mode: false });
    let refused =
        translate(deployment(&config, "claude"), Endpoint::Embeddings, br#"{"model":"claude","input":"x"}"#, client);
    assert!(matches!(refused, Err(ApiError::InvalidParam { param: "model", .. })), "{refused:?}");
}

const MESSAGE: &str = r#"{"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"Hello!"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":4}}"#;

#[test]
fn a_translated_answer_is_openais_and_garbage_is_the_deployments_failure() {
    let dialect = Dialect::Anthropic { json_mode: false };
    let answer = dialect.answer("claude-1", MESSAGE.as_bytes(), 1_700_000_000).unwrap();
    let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["message"]["content"], "Hello!");
    assert_eq!(body["created"], 1_700_000_000);
    assert_eq!(answer.usage.map(|u| u.total_tokens), Some(16));
    let garbage = dialect.answer("claude-1", b"<html>proxy login</html>", 0).unwrap_err();
    assert_eq!(garbage.class, crate::failure::FailureClass::InvalidResponse);
    assert!(garbage.error.to_string().contains("claude-1"));
}

fn events(texts: &[&str]) -> String {
    texts
        .iter()
        .map(|t| {
            format!(
                "event: {}\ndata: {t}\n\n",
                serde_json::from_str::<serde_json::Value>(t).unwrap()["type"].as_str().unwrap()
            )
        })
        .collect()
}

const START: &str = r#"{"type":"message_start","message":{"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"usage":{"input_tokens":12,"output_tokens":1}}}"#;
const BLOCK: &str = r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#;
const TEXT: &str = r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}"#;
const STOP: &str = r#"{"type":"content_block_stop","index":0}"#;
const DELTA: &str =
    r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":4}}"#;
const END: &str = r#"{"type":"message_stop"}"#;

#[test]
fn a_translated_stream_is_openais_sse_ending_with_done_and_its_usage_when_asked() {
    let stream = events(&[START, BLOCK, TEXT, STOP, DELTA, END]);
    let mut translation = Dialect::Anthropic { json_mode: false }.stream(1, true, Secrets::default());
    let mut out = translation.feed(&stream.as_bytes()[..40]);
    assert!(!translation.started(), "nothing of the answer yet");
    out.extend(translation.feed(&stream.as_bytes()[40..]));
    out.extend(translation.finish());
    let text = String::from_utf8(out).unwrap();
    let datas: Vec<&str> = text.split("\n\n").filter_map(|e| e.strip_prefix("data: ")).collect();
    assert_eq!(datas.last(), Some(&"[DONE]"));
    assert!(datas.iter().any(|d| d.contains(r#""content":"Hello""#)), "{text}");
    assert!(datas[datas.len() - 2].contains(r#""total_tokens":16"#), "the usage chunk comes last: {text}");
    assert!(translation.started() && translation.failure().is_none());
    assert_eq!(translation.usage().map(|u| u.total_tokens), Some(16));
}

#[test]
fn a_failure_before_the_answer_gives_nothing_and_after_it_ends_with_an_error_event() {
    let key = "sk-ant-0123456789abcdefghijklmn";
    let overloaded =
        format!(r#"{{"type":"error","error":{{"type":"overloaded_error","message":"Overloaded for {key}"}}}}"#);
    let early = events(&[START, &overloaded]);
    let mut translation = Dialect::Anthropic { json_mode: false }.stream(1, false, Secrets::new([key]));
    let out = translation.feed(early.as_bytes());
    assert!(!translation.started(), "the role chunk alone is not an answer");
    assert!(!String::from_utf8_lossy(&out).contains("error"), "nothing of the failure reached the client");
    assert!(translation.failure().is_some_and(|f| f.slow_down), "an overload: another deployment may serve");

    let late = events(&[START, BLOCK, TEXT, &overloaded]);
    let mut translation = Dialect::Anthropic { json_mode: false }.stream(1, false, Secrets::new([key]));
    let mut out = translation.feed(late.as_bytes());
    out.extend(translation.finish());
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains(r#""content":"Hello""#) && text.contains(r#"data: {"error":{"#), "{text}");
    assert!(!text.contains("[DONE]") && !text.contains(key) && text.contains("sk-an...mn"), "{text}");
}
