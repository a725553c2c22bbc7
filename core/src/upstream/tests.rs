//! Calls as each provider gets them, and what comes back read as OpenAI's.

use super::*;
use crate::config::{Config, load};
use crate::error::ApiError;
use crate::secret::Secrets;

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
    let ctx = CallContext { client, ..CallContext::default() };
    let translated = translate(deployment(&config, "claude"), Endpoint::ChatCompletions, body, ctx).unwrap();
    let call = &translated.calls[0];
    assert_eq!(call.url, "https://api.anthropic.com/v1/messages");
    assert!(call.headers.contains(&("x-api-key", "sk-ant-0123456789abcdefghijklmn".into())));
    assert!(call.headers.contains(&("anthropic-version", "2023-06-01".into())));
    assert!(call.headers.contains(&("anthropic-beta", "prompt-caching-2024-07-31".into())));
    let sent: serde_json::Value = serde_json::from_slice(&call.body).unwrap();
    assert_eq!(sent["model"], "claude-sonnet-4-5");
    assert_eq!(sent["max_tokens"], 50);
    assert_eq!(sent["system"][0]["text"], "Be brief.");
    assert!(sent.get("priority").is_none(), "the gateway's own fields stay behind");
    assert_eq!(translated.dialect, Dialect::Anthropic { json_mode: false });
    let refused =
        translate(deployment(&config, "claude"), Endpoint::Embeddings, br#"{"model":"claude","input":"x"}"#, ctx);
    assert!(matches!(refused, Err(ApiError::InvalidParam { param: "model", .. })), "{refused:?}");
}

fn sse(include_usage: bool) -> Box<dyn crate::translate::ChunkEncoder> {
    Box::new(crate::translate::OpenAiSse::new(include_usage))
}

fn part(body: &[u8]) -> AnswerPart<'_> {
    AnswerPart { body, input_tokens: None }
}

const MESSAGE: &str = r#"{"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"Hello!"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":4}}"#;

#[test]
fn a_translated_answer_is_openais_and_garbage_is_the_deployments_failure() {
    let dialect = Dialect::Anthropic { json_mode: false };
    let answer = dialect.answer("claude-1", &[part(MESSAGE.as_bytes())], 1_700_000_000).unwrap();
    let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["message"]["content"], "Hello!");
    assert_eq!(body["created"], 1_700_000_000);
    assert_eq!(answer.usage.map(|u| u.total_tokens), Some(16));
    let garbage = dialect.answer("claude-1", &[part(b"<html>proxy login</html>")], 0).unwrap_err();
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
    let mut translation = Dialect::Anthropic { json_mode: false }.stream(1, sse(true), Secrets::default()).unwrap();
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
    let mut translation = Dialect::Anthropic { json_mode: false }.stream(1, sse(false), Secrets::new([key])).unwrap();
    let out = translation.feed(early.as_bytes());
    assert!(!translation.started(), "the role chunk alone is not an answer");
    assert!(!String::from_utf8_lossy(&out).contains("error"), "nothing of the failure reached the client");
    assert!(translation.failure().is_some_and(|f| f.slow_down), "an overload: another deployment may serve");

    let late = events(&[START, BLOCK, TEXT, &overloaded]);
    let mut translation = Dialect::Anthropic { json_mode: false }.stream(1, sse(false), Secrets::new([key])).unwrap();
    let mut out = translation.feed(late.as_bytes());
    out.extend(translation.finish());
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains(r#""content":"Hello""#) && text.contains(r#"data: {"error":{"#), "{text}");
    assert!(!text.contains("[DONE]") && !text.contains(key) && text.contains("sk-an...mn"), "{text}");
}

const GOOGLE_AWS: &str = r#"
model_list:
  - model_name: gemini
    litellm_params: { model: gemini/gemini-2.5-flash, api_key: AIza-gemini-0123456789abcdefgh }
  - model_name: gemini-embed
    litellm_params: { model: gemini/text-embedding-004, api_key: AIza-gemini-0123456789abcdefgh }
  - model_name: vertex
    litellm_params: { model: vertex_ai/gemini-2.5-pro, vertex_project: p1, vertex_location: europe-west4, vertex_credentials: os.environ/KEY }
  - model_name: vertex-claude
    litellm_params: { model: vertex_ai/claude-sonnet-4-5@20250929, vertex_project: p1, vertex_credentials: os.environ/KEY, api_base: "http://127.0.0.1:9000/vertex" }
  - model_name: bedrock
    litellm_params:
      model: bedrock/anthropic.claude-3-5-haiku-20241022-v1:0
      aws_access_key_id: AKIDEXAMPLE
      aws_secret_access_key: wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
      aws_session_token: session-token-0123456789
      aws_region_name: us-east-1
      aws_bedrock_runtime_endpoint: "http://127.0.0.1:9000/bedrock"
  - model_name: bedrock-key
    litellm_params: { model: bedrock/amazon.nova-lite-v1:0, api_key: bedrock-api-key-0123456789, aws_region_name: us-east-1 }
  - model_name: titan
    litellm_params: { model: bedrock/amazon.titan-embed-text-v2:0, api_key: bedrock-api-key-0123456789, aws_region_name: us-east-1 }
"#;

fn google_aws() -> Config {
    let key = serde_json::json!({
        "type": "service_account", "project_id": "p0", "private_key_id": "k1",
        "private_key": "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n",
        "client_email": "router@p0.iam.gserviceaccount.com",
    })
    .to_string();
    load(GOOGLE_AWS, &|name| (name == "KEY").then(|| key.clone())).unwrap().config
}

const CHAT: &[u8] = br#"{"model":"m","messages":[{"role":"user","content":"Hi"}],"max_tokens":20}"#;
const STREAMED: &[u8] = br#"{"model":"m","messages":[{"role":"user","content":"Hi"}],"stream":true}"#;

fn header<'h>(call: &'h Call, name: &str) -> Option<&'h str> {
    call.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
}

#[test]
fn gemini_is_called_at_ai_studio_with_its_key_and_on_vertex_with_a_token() {
    let config = google_aws();
    let ctx = CallContext { seed: 7, ..CallContext::default() };
    let call = &translate(deployment(&config, "gemini"), Endpoint::ChatCompletions, CHAT, ctx).unwrap().calls[0];
    assert_eq!(call.url, "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent");
    assert_eq!(header(call, "x-goog-api-key"), Some("AIza-gemini-0123456789abcdefgh"));
    let sent: serde_json::Value = serde_json::from_slice(&call.body).unwrap();
    assert_eq!(sent["contents"][0]["parts"][0]["text"], "Hi");
    let streamed = translate(deployment(&config, "gemini"), Endpoint::ChatCompletions, STREAMED, ctx).unwrap();
    assert!(streamed.calls[0].url.ends_with(":streamGenerateContent?alt=sse"));
    assert_eq!(streamed.dialect, Dialect::Gemini { seed: 7 });

    let vertex = deployment(&config, "vertex");
    let without_token = translate(vertex, Endpoint::ChatCompletions, CHAT, ctx);
    assert!(matches!(without_token, Err(ApiError::Internal(_))), "the shell obtains the token first");
    let ctx = CallContext { bearer: Some("ya29.token"), ..ctx };
    let call = &translate(vertex, Endpoint::ChatCompletions, CHAT, ctx).unwrap().calls[0];
    assert_eq!(
        call.url,
        "https://europe-west4-aiplatform.googleapis.com/v1/projects/p1/locations/europe-west4/publishers/google/models/gemini-2.5-pro:generateContent"
    );
    assert_eq!(header(call, "authorization"), Some("Bearer ya29.token"));
    assert_eq!(header(call, "x-goog-api-key"), None);
}

#[test]
fn anthropic_on_vertex_takes_its_body_without_the_model_on_raw_predict() {
    let config = google_aws();
    let ctx = CallContext { bearer: Some("ya29.token"), ..CallContext::default() };
    let translated = translate(deployment(&config, "vertex-claude"), Endpoint::ChatCompletions, STREAMED, ctx).unwrap();
    let call = &translated.calls[0];
    assert_eq!(
        call.url,
        "http://127.0.0.1:9000/vertex/v1/projects/p1/locations/us-central1/publishers/anthropic/models/claude-sonnet-4-5@20250929:streamRawPredict"
    );
    let sent: serde_json::Value = serde_json::from_slice(&call.body).unwrap();
    assert!(sent.get("model").is_none(), "{sent}");
    assert_eq!(sent["anthropic_version"], "vertex-2023-10-16");
    assert_eq!(sent["stream"], true);
    assert_eq!(header(call, "anthropic-version"), None);
    assert_eq!(translated.dialect, Dialect::Anthropic { json_mode: false });
}

#[test]
fn bedrock_calls_are_signed_for_the_path_they_are_sent_to() {
    let config = google_aws();
    let ctx = CallContext { now_s: 1_700_000_000, seed: 3, ..CallContext::default() };
    let translated = translate(deployment(&config, "bedrock"), Endpoint::ChatCompletions, STREAMED, ctx).unwrap();
    let call = &translated.calls[0];
    assert_eq!(
        call.url,
        "http://127.0.0.1:9000/bedrock/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse-stream"
    );
    assert_eq!(header(call, "x-amz-date"), Some("20231114T221320Z"));
    assert_eq!(header(call, "x-amz-security-token"), Some("session-token-0123456789"));
    let authorization = header(call, "authorization").unwrap();
    assert!(
        authorization.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20231114/us-east-1/bedrock/aws4_request, "),
        "{authorization}"
    );
    assert!(
        authorization.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token"),
        "{authorization}"
    );
    // The same request signed by hand for the host with its port and the path under the base.
    let request = crate::provider::bedrock::sigv4::SignableRequest {
        method: "POST",
        host: "127.0.0.1:9000",
        path: "/bedrock/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse-stream",
        query: "",
        headers: &[("content-type", "application/json")],
        body: &call.body,
        content_sha256_header: false,
    };
    let credentials = crate::provider::bedrock::sigv4::Credentials {
        access_key_id: "AKIDEXAMPLE",
        secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        session_token: Some("session-token-0123456789"),
    };
    let expected = crate::provider::bedrock::sigv4::sign(
        &request,
        &credentials,
        "us-east-1",
        "bedrock",
        crate::provider::bedrock::sigv4::AwsTime(1_700_000_000),
    );
    assert!(expected.contains(&("authorization", authorization.to_owned())));
    assert!(matches!(&translated.dialect, Dialect::Bedrock { seed: 3, json_tool: None, .. }));

    let keyed = &translate(deployment(&config, "bedrock-key"), Endpoint::ChatCompletions, CHAT, ctx).unwrap().calls[0];
    assert_eq!(keyed.url, "https://bedrock-runtime.us-east-1.amazonaws.com/model/amazon.nova-lite-v1%3A0/converse");
    assert_eq!(header(keyed, "authorization"), Some("Bearer bedrock-api-key-0123456789"));
    assert_eq!(header(keyed, "x-amz-date"), None);
}

#[test]
fn embeddings_go_to_each_providers_embedding_api() {
    let config = google_aws();
    let ctx = CallContext::default();
    let body = br#"{"model":"e","input":["one","two","three"]}"#;
    let titan = translate(deployment(&config, "titan"), Endpoint::Embeddings, body, ctx).unwrap();
    assert_eq!(titan.calls.len(), 3, "Titan embeds one text per call");
    assert!(titan.calls[2].url.ends_with("/model/amazon.titan-embed-text-v2%3A0/invoke"));
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&titan.calls[2].body).unwrap()["inputText"], "three");
    let answers = [br#"{"embedding":[0.1],"inputTextTokenCount":1}"#; 3];
    let parts: Vec<AnswerPart<'_>> = answers.iter().map(|b| part(&b[..])).collect();
    let answer = titan.dialect.answer("titan-1", &parts, 0).unwrap();
    let list: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!((list["data"].as_array().unwrap().len(), &list["data"][2]["index"]), (3, &serde_json::json!(2)));
    assert_eq!(answer.usage.map(|u| u.prompt_tokens), Some(3));

    let gemini = translate(deployment(&config, "gemini-embed"), Endpoint::Embeddings, body, ctx).unwrap();
    let call = &gemini.calls[0];
    assert_eq!(
        call.url,
        "https://generativelanguage.googleapis.com/v1beta/models/text-embedding-004:batchEmbedContents"
    );
    let sent: serde_json::Value = serde_json::from_slice(&call.body).unwrap();
    assert_eq!(sent["requests"][1]["model"], "models/text-embedding-004");
    let refused = translate(deployment(&config, "vertex"), Endpoint::Embeddings, body, ctx);
    assert!(matches!(refused, Err(ApiError::InvalidParam { param: "model", .. })), "{refused:?}");
}

#[test]
fn a_prompt_gemini_blocks_is_a_content_policy_failure() {
    let blocked =
        br#"{"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":5,"totalTokenCount":5}}"#;
    let failure = Dialect::Gemini { seed: 1 }.answer("g-1", &[part(blocked)], 0).unwrap_err();
    assert_eq!(failure.class, crate::failure::FailureClass::ContentPolicy);
    let throttled = br#"{"message":"Too many requests, please wait before trying again."}"#;
    let dialect = Dialect::Bedrock { model: "m".into(), json_tool: None, seed: 1 };
    let failure = dialect.failure(429, None, throttled, Some("ThrottlingException:http://internal.amazon.com/coral/"));
    assert_eq!(failure.class, crate::failure::FailureClass::RateLimit);
}
