use serde_json::{Value, json};

use super::*;
use crate::config::{Config, load};
use crate::inbound::responses::Kept;
use crate::openai::{ChatChunk, Choice, FinishReason, ResponseMessage};
use crate::secret::Secrets;
use crate::upstream::StreamTranslation;

const CONFIG: &str = r#"
model_list:
  - model_name: claude
    litellm_params: { model: anthropic/claude-sonnet-4-5, api_key: sk-ant-0123456789abcdefghijklmn }
  - model_name: gpt
    litellm_params: { model: openai/gpt-4o, api_key: sk-openai-0123456789abcdefghijk }
  - model_name: azure
    litellm_params: { model: azure/my-gpt, api_base: "https://res.openai.azure.com", api_key: az-0123456789abcdefghijklmn }
"#;

fn config() -> Config {
    load(CONFIG, &|_| None).unwrap().config
}

fn deployment<'c>(config: &'c Config, group: &str) -> &'c Deployment {
    &config.group(group).unwrap().deployments[0]
}

fn messages_client(body: Value, headers: AnthropicHeaders) -> Client {
    Client::messages(body.to_string().as_bytes(), headers, 7).unwrap()
}

fn responses_client(body: Value) -> Client {
    let request = responses::parse(body.to_string().as_bytes()).unwrap();
    Client::responses(request, None, "resp_0123".into(), 1_700_000_000)
}

fn header<'a>(call: &'a Call, name: &str) -> Option<&'a str> {
    call.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
}

fn chat_answer(text: &str) -> ChatResponse {
    ChatResponse {
        id: "chatcmpl-1".into(),
        object: "chat.completion".into(),
        created: 1,
        model: "gpt-4o".into(),
        choices: vec![Choice {
            index: 0,
            message: ResponseMessage {
                role: "assistant".into(),
                content: Some(text.into()),
                tool_calls: None,
                refusal: None,
                reasoning_content: None,
                thinking_blocks: None,
            },
            finish_reason: Some(FinishReason::Stop),
            logprobs: None,
        }],
        usage: Some(Usage { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5, ..Usage::default() }),
        system_fingerprint: None,
    }
}

fn hello() -> Value {
    json!({"model": "claude", "max_tokens": 64, "messages": [{"role": "user", "content": "Hello"}]})
}

#[test]
fn a_messages_client_is_spoken_to_natively_by_anthropic_only_with_its_own_headers() {
    let config = config();
    let (claude, gpt) = (deployment(&config, "claude"), deployment(&config, "gpt"));
    let client = messages_client(
        hello(),
        AnthropicHeaders { version: Some("2023-01-01".into()), beta: Some("token-efficient-tools-2025-02-19".into()) },
    );
    assert_eq!(client.endpoint(), Endpoint::Messages);
    assert!(client.speaks(claude));
    assert!(!client.speaks(gpt));
    let call = client.native_call(claude, b"{}".to_vec());
    assert_eq!(call.url, "https://api.anthropic.com/v1/messages");
    assert_eq!(header(&call, "anthropic-version"), Some("2023-01-01"));
    assert_eq!(header(&call, "anthropic-beta"), Some("token-efficient-tools-2025-02-19"));
    assert_eq!(header(&call, "x-api-key"), Some("sk-ant-0123456789abcdefghijklmn"));
    assert_eq!(header(&call, "authorization"), None, "Anthropic reads its key from x-api-key");

    let plain = messages_client(hello(), AnthropicHeaders::default());
    let call = plain.native_call(claude, b"{}".to_vec());
    assert_eq!(header(&call, "anthropic-version"), Some(anthropic::wire::API_VERSION));
    assert_eq!(header(&call, "anthropic-beta"), None);
}

#[test]
fn a_messages_client_s_chat_body_is_openai_chat_unless_only_anthropic_can_serve_it() {
    let client = messages_client(hello(), AnthropicHeaders::default());
    let chat: Value = serde_json::from_slice(client.chat_body().unwrap()).unwrap();
    assert_eq!(chat["messages"][0]["role"], "user");
    assert_eq!(chat["messages"].as_array().map(Vec::len), Some(1));
    assert_eq!(chat["max_tokens"], 64);

    let mut server_tool = hello();
    server_tool["tools"] = json!([{"type": "web_search_20250305", "name": "web_search"}]);
    let client = messages_client(server_tool, AnthropicHeaders::default());
    let refused = client.chat_body().unwrap_err();
    assert_eq!(refused.status(), 400);
    assert!(refused.to_string().contains("only an Anthropic deployment"), "{refused}");

    let invalid = Client::messages(br#"{"model": "claude", "messages": []}"#, AnthropicHeaders::default(), 7);
    let Err(error) = invalid else { panic!("a request without max_tokens is refused") };
    assert_eq!(error.status(), 400);
    assert!(error.to_string().contains("max_tokens"), "{error}");
}

#[test]
fn a_responses_client_is_spoken_to_natively_by_openai_s_own_deployments_only() {
    let config = config();
    let client = responses_client(json!({"model": "gpt", "input": "Hello"}));
    assert_eq!(client.endpoint(), Endpoint::Responses);
    assert!(client.speaks(deployment(&config, "gpt")));
    assert!(!client.speaks(deployment(&config, "azure")));
    assert!(!client.speaks(deployment(&config, "claude")));
    let call = client.native_call(deployment(&config, "gpt"), b"{}".to_vec());
    assert_eq!(call.url, "https://api.openai.com/v1/responses");
    assert_eq!(header(&call, "authorization"), Some("Bearer sk-openai-0123456789abcdefghijk"));
    assert_eq!(client.response_id(), Some("resp_0123"));
    let chat: Value = serde_json::from_slice(client.chat_body().unwrap()).unwrap();
    assert_eq!(chat["messages"][0]["role"], "user");
}

#[test]
fn a_built_in_tool_is_refused_off_openai_naming_the_tool() {
    let client = responses_client(json!({"model": "gpt", "input": "Hi", "tools": [{"type": "web_search"}]}));
    let refused = client.chat_body().unwrap_err();
    assert_eq!(refused.status(), 400);
    assert!(refused.to_string().contains("`web_search`"), "{refused}");
    assert_eq!(client.stored(Some(&chat_answer("Hi")), None), None, "nothing made here to keep");
}

#[test]
fn native_usage_is_read_from_each_api_s_own_answer() {
    let messages = messages_client(hello(), AnthropicHeaders::default());
    let usage = messages
        .native_usage(br#"{"id":"msg_1","type":"message","usage":{"input_tokens":10,"output_tokens":4}}"#)
        .unwrap();
    assert_eq!((usage.prompt_tokens, usage.completion_tokens, usage.total_tokens), (10, 4, 14));
    let responses = responses_client(json!({"model": "gpt", "input": "Hi"}));
    let usage = responses
        .native_usage(br#"{"id":"resp_1","usage":{"input_tokens":6,"output_tokens":1,"total_tokens":7}}"#)
        .unwrap();
    assert_eq!((usage.prompt_tokens, usage.completion_tokens, usage.total_tokens), (6, 1, 7));
    assert!(responses.native_usage(b"<html>").is_none());
}

#[test]
fn errors_are_written_in_each_client_s_shape() {
    let error = ApiError::ModelNotFound { model: "nope".into(), available: vec!["gpt".into()] };
    let (status, body) = messages_client(hello(), AnthropicHeaders::default()).error_reply(&error);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((status, &body["type"], &body["error"]["type"]), (404, &json!("error"), &json!("not_found_error")));
    let (status, body) = responses_client(json!({"model": "gpt", "input": "Hi"})).error_reply(&error);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, 404);
    assert!(body["error"]["message"].as_str().unwrap().contains("nope"), "{body}");
    assert!(body.get("type").is_none(), "OpenAI's shape: {body}");
}

#[test]
fn answers_come_back_in_the_client_s_api_and_are_kept_unless_store_is_false() {
    let answer = chat_answer("Bonjour");
    let messages = messages_client(hello(), AnthropicHeaders::default());
    let message: Value = serde_json::from_slice(&messages.answer(&answer).unwrap()).unwrap();
    assert_eq!(message["type"], "message");
    assert_eq!(message["content"][0]["text"], "Bonjour");
    assert_eq!(messages.stored(Some(&answer), None), None, "a Messages answer is not kept");

    let responses = responses_client(json!({"model": "gpt", "input": "Hi"}));
    let response: Value = serde_json::from_slice(&responses.answer(&answer).unwrap()).unwrap();
    assert_eq!(response["id"], "resp_0123");
    assert_eq!(response["output"][0]["content"][0]["text"], "Bonjour");
    let stored = responses.stored(Some(&answer), None).unwrap();
    assert_eq!(stored.response.id, "resp_0123");
    assert_eq!(stored.conversation.len(), 2, "the input and the answer");

    let unstored = responses_client(json!({"model": "gpt", "input": "Hi", "store": false}));
    assert_eq!(unstored.stored(Some(&answer), None), None);
}

#[test]
fn a_streamed_response_is_kept_once_its_encoder_has_written_it_whole() {
    let client = responses_client(json!({"model": "gpt", "input": "Hi", "stream": true}));
    let mut encoder = client.encoder(3);
    assert_eq!(client.stored(None, Some(encoder.as_ref())), None, "nothing to keep before the stream ends");
    let chunk: ChatChunk = serde_json::from_value(json!({
        "id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o",
        "choices": [{"index": 0, "delta": {"content": "Hey"}, "finish_reason": "stop"}]
    }))
    .unwrap();
    let mut out = Vec::new();
    encoder.encode(&chunk, &mut out);
    encoder.finish(&mut out);
    let stored = client.stored(None, Some(encoder.as_ref())).unwrap();
    assert_eq!(stored.response.id, "resp_0123");
    assert!(String::from_utf8(out).unwrap().contains("response.completed"));
}

#[test]
fn a_kept_response_is_read_by_its_own_tenant_until_it_expires() {
    let client = responses_client(json!({"model": "gpt", "input": "Hi"}));
    let stored = client.stored(Some(&chat_answer("Hi")), None).unwrap();
    let kept = Kept { tenant: Some("tenant-a".into()), expires_ms: 1_000, stored: stored.clone() };
    assert!(kept.readable_by(Some("tenant-a"), 999));
    assert!(!kept.readable_by(Some("tenant-a"), 1_000), "expired");
    assert!(!kept.readable_by(Some("tenant-b"), 0));
    assert!(!kept.readable_by(None, 0), "a keyless caller does not read a tenant's response");
    let open = Kept { tenant: None, expires_ms: 1_000, stored };
    assert!(open.readable_by(None, 0) && open.readable_by(Some("tenant-b"), 0), "made without a key: anyone's");
}

const OPENAI_STREAM: &str = concat!(
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Let me \\u00e9\"},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"weather\",\"arguments\":\"{\\\"ci\"}}]},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"ty\\\":\\\"Paris\\\"}\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\n",
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":6,\"total_tokens\":15}}\n\n",
    "data: [DONE]\n\n",
);

const ANTHROPIC_STREAM: &str = concat!(
    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":9,\"output_tokens\":1}}}\n\n",
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
    "event: ping\ndata: {\"type\":\"ping\"}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Let me \\u00e9\"}}\n\n",
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"weather\",\"input\":{}}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"city\\\": \"}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\\\"Paris\\\"}\"}}\n\n",
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":6}}\n\n",
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
);

/// `stream` from a provider, through `decoder`, written for `client`: fed whole,
/// then one byte at a time; both must give the same bytes.
fn translated(client: &Client, decoder: fn() -> Box<dyn StreamDecoder>, stream: &str) -> String {
    let run = |pieces: Vec<&[u8]>| {
        let mut translation = StreamTranslation::new(decoder(), client.encoder(9), Secrets::default());
        let mut out = Vec::new();
        for piece in pieces {
            out.extend(translation.feed(piece));
        }
        out.extend(translation.finish());
        assert!(translation.failure().is_none());
        String::from_utf8(out).unwrap()
    };
    let whole = run(vec![stream.as_bytes()]);
    assert_eq!(run(stream.as_bytes().chunks(1).collect()), whole, "fed byte by byte");
    whole
}

fn openai_decoder() -> Box<dyn StreamDecoder> {
    Box::new(crate::provider::openai_stream::Decoder::new())
}

fn anthropic_decoder() -> Box<dyn StreamDecoder> {
    Box::new(anthropic::stream::Decoder::new(1, false))
}

/// The `data` of each SSE event, parsed.
fn events(sse: &str) -> Vec<Value> {
    sse.split("\n\n")
        .filter_map(|event| event.lines().find_map(|line| line.strip_prefix("data: ")))
        .map(|data| serde_json::from_str(data).unwrap())
        .collect()
}

#[test]
fn an_openai_stream_reaches_a_messages_client_as_anthropic_s_events_whatever_the_split() {
    let client = messages_client(hello(), AnthropicHeaders::default());
    let events = events(&translated(&client, openai_decoder, OPENAI_STREAM));
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"message_start"));
    assert_eq!(kinds.last(), Some(&"message_stop"));
    let text: String = events.iter().filter_map(|e| e["delta"]["text"].as_str()).collect();
    assert_eq!(text, "Let me é");
    let json: String = events.iter().filter_map(|e| e["delta"]["partial_json"].as_str()).collect();
    assert_eq!(json, r#"{"city":"Paris"}"#);
    let tool = events.iter().find(|e| e["content_block"]["type"] == "tool_use").unwrap();
    assert_eq!((&tool["content_block"]["id"], &tool["content_block"]["name"]), (&json!("call_1"), &json!("weather")));
    let end = events.iter().find(|e| e["type"] == "message_delta").unwrap();
    assert_eq!(end["delta"]["stop_reason"], "tool_use");
    assert_eq!(end["usage"]["output_tokens"], 6);
}

#[test]
fn an_anthropic_stream_reaches_a_responses_client_as_its_events_whatever_the_split() {
    let client = responses_client(json!({"model": "claude", "input": "Weather?", "stream": true}));
    let events = events(&translated(&client, anthropic_decoder, ANTHROPIC_STREAM));
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"response.created"));
    assert_eq!(kinds.last(), Some(&"response.completed"));
    let text: String = events
        .iter()
        .filter(|e| e["type"] == "response.output_text.delta")
        .filter_map(|e| e["delta"].as_str())
        .collect();
    assert_eq!(text, "Let me é");
    let arguments: String = events
        .iter()
        .filter(|e| e["type"] == "response.function_call_arguments.delta")
        .filter_map(|e| e["delta"].as_str())
        .collect();
    assert_eq!(arguments, r#"{"city": "Paris"}"#);
    let completed = &events.last().unwrap()["response"];
    assert_eq!(completed["id"], "resp_0123");
    assert_eq!(completed["output"][1]["type"], "function_call");
    assert_eq!(completed["output"][1]["call_id"], "toolu_1");
    assert_eq!(completed["usage"]["total_tokens"], 15);
}
