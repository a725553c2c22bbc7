use serde_json::{Value, json};

use super::*;
use crate::inbound::responses::request::parse;
use crate::inbound::responses::response::response;
use crate::openai::{ChatResponse, Choice, Delta, FunctionCallDelta, PromptTokensDetails, ResponseMessage};
use crate::sse::SseReader;
use crate::translate::ChunkContext;

const ID: &str = "resp_s";

/// The `type`s of OpenAI's SDK's `ResponseStreamEvent` union (openai 6.x).
const SDK_EVENT_TYPES: &[&str] = &[
    "error",
    "response.audio.delta",
    "response.audio.done",
    "response.audio.transcript.delta",
    "response.audio.transcript.done",
    "response.code_interpreter_call.completed",
    "response.code_interpreter_call.in_progress",
    "response.code_interpreter_call.interpreting",
    "response.code_interpreter_call_code.delta",
    "response.code_interpreter_call_code.done",
    "response.completed",
    "response.content_part.added",
    "response.content_part.done",
    "response.created",
    "response.custom_tool_call_input.delta",
    "response.custom_tool_call_input.done",
    "response.failed",
    "response.file_search_call.completed",
    "response.file_search_call.in_progress",
    "response.file_search_call.searching",
    "response.function_call_arguments.delta",
    "response.function_call_arguments.done",
    "response.image_generation_call.completed",
    "response.image_generation_call.generating",
    "response.image_generation_call.in_progress",
    "response.image_generation_call.partial_image",
    "response.in_progress",
    "response.incomplete",
    "response.mcp_call.completed",
    "response.mcp_call.failed",
    "response.mcp_call.in_progress",
    "response.mcp_call_arguments.delta",
    "response.mcp_call_arguments.done",
    "response.mcp_list_tools.completed",
    "response.mcp_list_tools.failed",
    "response.mcp_list_tools.in_progress",
    "response.output_item.added",
    "response.output_item.done",
    "response.output_text.annotation.added",
    "response.output_text.delta",
    "response.output_text.done",
    "response.queued",
    "response.reasoning_summary_part.added",
    "response.reasoning_summary_part.done",
    "response.reasoning_summary_text.delta",
    "response.reasoning_summary_text.done",
    "response.reasoning_text.delta",
    "response.reasoning_text.done",
    "response.refusal.delta",
    "response.refusal.done",
    "response.web_search_call.completed",
    "response.web_search_call.in_progress",
    "response.web_search_call.searching",
];

/// The fields the SDK's types require of each event this encoder writes.
fn required_fields(kind: &str) -> &'static [&'static str] {
    match kind {
        "response.created"
        | "response.in_progress"
        | "response.completed"
        | "response.incomplete"
        | "response.failed" => &["response"],
        "response.output_item.added" | "response.output_item.done" => &["item", "output_index"],
        "response.content_part.added" | "response.content_part.done" => {
            &["content_index", "item_id", "output_index", "part"]
        }
        "response.output_text.delta" => &["content_index", "delta", "item_id", "logprobs", "output_index"],
        "response.output_text.done" => &["content_index", "item_id", "logprobs", "output_index", "text"],
        "response.refusal.delta" | "response.reasoning_text.delta" => {
            &["content_index", "delta", "item_id", "output_index"]
        }
        "response.refusal.done" => &["content_index", "item_id", "output_index", "refusal"],
        "response.reasoning_text.done" => &["content_index", "item_id", "output_index", "text"],
        "response.function_call_arguments.delta" => &["delta", "item_id", "output_index"],
        "response.function_call_arguments.done" => &["arguments", "item_id", "name", "output_index"],
        other => panic!("an event this encoder does not write: {other}"),
    }
}

/// The fields the SDK's `Response` type requires.
const RESPONSE_FIELDS: &[&str] = &[
    "id",
    "created_at",
    "error",
    "incomplete_details",
    "instructions",
    "metadata",
    "model",
    "object",
    "output",
    "parallel_tool_calls",
    "temperature",
    "tool_choice",
    "tools",
    "top_p",
];

fn request(body: Value) -> Request {
    parse(body.to_string().as_bytes()).unwrap()
}

fn context() -> ChunkContext {
    ChunkContext { id: "chatcmpl-1".into(), created: 1, model: "claude".into() }
}

fn role() -> ChatChunk {
    context().chunk(Delta { role: Some("assistant".into()), content: Some(String::new()), ..Delta::default() }, None)
}

fn text(text: &str) -> ChatChunk {
    context().chunk(Delta { content: Some(text.into()), ..Delta::default() }, None)
}

fn reasoning(text: &str) -> ChatChunk {
    let block = ThinkingBlock::Thinking { thinking: text.into(), signature: None };
    context().chunk(
        Delta { reasoning_content: Some(text.into()), thinking_blocks: Some(vec![block]), ..Delta::default() },
        None,
    )
}

fn signature(signature: &str) -> ChatChunk {
    let block = ThinkingBlock::Thinking { thinking: String::new(), signature: Some(signature.into()) };
    context().chunk(Delta { thinking_blocks: Some(vec![block]), ..Delta::default() }, None)
}

fn call(index: u32, id: Option<&str>, name: Option<&str>, arguments: &str) -> ChatChunk {
    let call = ToolCallDelta {
        index,
        id: id.map(str::to_owned),
        kind: id.map(|_| "function".to_owned()),
        function: Some(FunctionCallDelta { name: name.map(str::to_owned), arguments: Some(arguments.into()) }),
    };
    context().chunk(Delta { tool_calls: Some(vec![call]), ..Delta::default() }, None)
}

fn finish(reason: FinishReason) -> ChatChunk {
    context().chunk(Delta::default(), Some(reason))
}

fn usage() -> Usage {
    Usage {
        prompt_tokens: 12,
        completion_tokens: 7,
        total_tokens: 19,
        prompt_tokens_details: Some(PromptTokensDetails { cached_tokens: 3, cache_creation_tokens: None }),
        completion_tokens_details: None,
    }
}

enum End {
    Finish,
    Fail(Failure),
}

/// Encodes `chunks` then ends the stream; the events, checked against what the
/// SDK reads, and the encoder.
fn run(request: &Request, chunks: &[ChatChunk], end: End) -> (Vec<(String, Value)>, Encoder) {
    let mut encoder = Encoder::new(request, ID, 1_700_000_000);
    let mut out = Vec::new();
    for chunk in chunks {
        encoder.encode(chunk, &mut out);
    }
    match end {
        End::Finish => encoder.finish(&mut out),
        End::Fail(failure) => encoder.fail(&failure, &mut out),
    }
    let events = read(&out);
    check(&events);
    (events, encoder)
}

/// The events of `bytes`, read as a client reads SSE.
fn read(bytes: &[u8]) -> Vec<(String, Value)> {
    let mut reader = SseReader::new();
    let mut events = Vec::new();
    reader.feed(bytes, |event| events.push((event.name, serde_json::from_str::<Value>(&event.data).unwrap()))).unwrap();
    assert!(!reader.pending(), "an event left unfinished");
    events
}

/// Every event is named for its `type`, one the SDK knows, with the fields the
/// SDK requires and the next sequence number; folded as the SDK's `ResponseStream`
/// folds them, they give the output of the last event's response.
fn check(events: &[(String, Value)]) {
    let mut snapshot: Option<Value> = None;
    for (n, (name, data)) in events.iter().enumerate() {
        assert_eq!(data["type"], name.as_str(), "{data}");
        assert!(SDK_EVENT_TYPES.contains(&name.as_str()), "{name}");
        assert_eq!(data["sequence_number"], n, "{data}");
        for field in required_fields(name) {
            assert!(data.get(field).is_some(), "{name} without {field}: {data}");
        }
        if let Some(response) = data.get("response") {
            for field in RESPONSE_FIELDS {
                assert!(response.get(field).is_some(), "a response without {field}: {response}");
            }
        }
        let Some(snapshot) = snapshot.as_mut() else {
            assert_eq!(name, "response.created", "the first event");
            snapshot = Some(data["response"].clone());
            continue;
        };
        let output = snapshot["output"].as_array_mut().unwrap();
        let index = data["output_index"].as_u64().map(|i| i as usize);
        match name.as_str() {
            "response.output_item.added" => {
                assert_eq!(index, Some(output.len()), "items are added in output order");
                output.push(data["item"].clone());
            }
            "response.content_part.added" => {
                let item = &mut output[index.unwrap()];
                item["content"].as_array_mut().unwrap().push(data["part"].clone());
                assert_eq!(data["content_index"], item["content"].as_array().unwrap().len() - 1);
            }
            "response.output_text.delta" | "response.reasoning_text.delta" => {
                let part = &mut output[index.unwrap()]["content"][data["content_index"].as_u64().unwrap() as usize];
                let kind = if name == "response.output_text.delta" { "output_text" } else { "reasoning_text" };
                assert_eq!(part["type"], kind);
                let text = format!("{}{}", part["text"].as_str().unwrap(), data["delta"].as_str().unwrap());
                part["text"] = Value::String(text);
            }
            "response.function_call_arguments.delta" => {
                let item = &mut output[index.unwrap()];
                assert_eq!(item["type"], "function_call");
                let arguments = format!("{}{}", item["arguments"].as_str().unwrap(), data["delta"].as_str().unwrap());
                item["arguments"] = Value::String(arguments);
            }
            "response.output_item.done" => {
                assert_eq!(output[index.unwrap()]["id"], data["item"]["id"]);
            }
            _ => {}
        }
    }
    let Some((_, last)) = events.last() else { return };
    let (Some(folded), Some(last)) = (snapshot, last.get("response")) else { return };
    let strip = |items: &Value| -> Vec<Value> {
        items.as_array().unwrap().iter().map(|item| json!([item["id"], item["arguments"], item["content"]])).collect()
    };
    // Refusal deltas are not folded by the SDK: compare the items that have none.
    if !events.iter().any(|(name, _)| name == "response.refusal.delta") {
        assert_eq!(strip(&folded["output"]), strip(&last["output"]));
    }
}

fn types(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(name, _)| name.as_str()).collect()
}

#[test]
fn a_text_answer_streams_its_item_part_and_deltas_then_completes_with_the_usage() {
    let request = request(json!({"model": "my-group", "input": "Hi", "stream": true}));
    let chunks = [role(), text("Hel"), text("lo"), finish(FinishReason::Stop), context().usage_chunk(usage())];
    let (events, encoder) = run(&request, &chunks, End::Finish);
    assert_eq!(
        types(&events),
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    let data: Vec<&Value> = events.iter().map(|(_, data)| data).collect();
    assert_eq!(data[0]["response"]["status"], "in_progress");
    assert_eq!(data[0]["response"]["output"], json!([]));
    assert_eq!(data[0]["response"]["model"], "my-group");
    assert_eq!(
        *data[2],
        json!({"type": "response.output_item.added", "sequence_number": 2, "output_index": 0,
            "item": {"type": "message", "id": "msg_s_0", "status": "in_progress", "role": "assistant", "content": []}})
    );
    assert_eq!(
        *data[3],
        json!({"type": "response.content_part.added", "sequence_number": 3, "item_id": "msg_s_0", "output_index": 0,
            "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": [], "logprobs": []}})
    );
    assert_eq!(
        *data[4],
        json!({"type": "response.output_text.delta", "sequence_number": 4, "item_id": "msg_s_0", "output_index": 0,
            "content_index": 0, "delta": "Hel", "logprobs": []})
    );
    assert_eq!(
        *data[6],
        json!({"type": "response.output_text.done", "sequence_number": 6, "item_id": "msg_s_0", "output_index": 0,
            "content_index": 0, "text": "Hello", "logprobs": []})
    );
    assert_eq!(data[8]["item"]["status"], "completed");
    assert_eq!(data[8]["item"]["content"][0]["text"], "Hello");
    let completed = &data[9]["response"];
    assert_eq!(completed["status"], "completed");
    assert_eq!(completed["usage"]["input_tokens"], 12);
    assert_eq!(completed["usage"]["input_tokens_details"]["cached_tokens"], 3);
    assert_eq!(completed["usage"]["output_tokens_details"]["reasoning_tokens"], 0);

    // The same object a complete answer of the same content makes.
    let whole = ChatResponse {
        id: "chatcmpl-1".into(),
        object: "chat.completion".into(),
        created: 1,
        model: "claude".into(),
        choices: vec![Choice {
            index: 0,
            message: ResponseMessage {
                role: "assistant".into(),
                content: Some("Hello".into()),
                tool_calls: None,
                refusal: None,
                reasoning_content: None,
                thinking_blocks: None,
            },
            finish_reason: Some(FinishReason::Stop),
            logprobs: None,
        }],
        usage: Some(usage()),
        system_fingerprint: None,
    };
    let complete = response(&whole, &request, ID, 1_700_000_000);
    assert_eq!(encoder.response(), Some(&complete));
    assert_eq!(*completed, serde_json::to_value(&complete).unwrap());
}

#[test]
fn two_interleaved_tool_calls_are_two_items_in_the_order_they_appeared() {
    let request = request(json!({"model": "m", "input": "x", "stream": true,
        "tools": [{"type": "function", "name": "weather"}]}));
    let chunks = [
        role(),
        call(1, Some("call_b"), Some("weather"), ""),
        call(0, Some("call_a"), Some("weather"), "{\"city\":"),
        call(1, None, None, "{\"city\":\"Rome\"}"),
        call(0, None, None, "\"Paris\"}"),
        finish(FinishReason::ToolCalls),
    ];
    let (events, encoder) = run(&request, &chunks, End::Finish);
    assert_eq!(
        types(&events),
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    let data: Vec<&Value> = events.iter().map(|(_, data)| data).collect();
    assert_eq!(
        data[2]["item"],
        json!({"type": "function_call", "id": "fc_s_0", "call_id": "call_b", "name": "weather", "arguments": "",
            "status": "in_progress"})
    );
    assert_eq!(data[3]["item"]["call_id"], "call_a");
    assert_eq!((data[4]["output_index"].clone(), data[4]["item_id"].clone()), (json!(1), json!("fc_s_1")));
    assert_eq!((data[5]["output_index"].clone(), data[5]["delta"].clone()), (json!(0), json!("{\"city\":\"Rome\"}")));
    assert_eq!(
        *data[7],
        json!({"type": "response.function_call_arguments.done", "sequence_number": 7, "item_id": "fc_s_0",
            "output_index": 0, "name": "weather", "arguments": "{\"city\":\"Rome\"}"})
    );
    assert_eq!(data[9]["arguments"], "{\"city\":\"Paris\"}");
    let response = encoder.response().unwrap();
    assert_eq!(response.status, Status::Completed);
    assert_eq!(
        serde_json::to_value(&response.output).unwrap(),
        json!([
            {"type": "function_call", "id": "fc_s_0", "call_id": "call_b", "name": "weather",
             "arguments": "{\"city\":\"Rome\"}", "status": "completed"},
            {"type": "function_call", "id": "fc_s_1", "call_id": "call_a", "name": "weather",
             "arguments": "{\"city\":\"Paris\"}", "status": "completed"}
        ])
    );
}

#[test]
fn a_stream_without_usage_completes_with_null_usage() {
    let request = request(json!({"model": "m", "input": "x", "stream": true}));
    let (events, encoder) = run(&request, &[text("ok"), finish(FinishReason::Stop)], End::Finish);
    let (name, last) = events.last().unwrap();
    assert_eq!(name, "response.completed");
    assert_eq!(last["response"]["usage"], Value::Null);
    assert_eq!(encoder.response().unwrap().usage, None);
}

#[test]
fn a_failure_after_content_ends_with_response_failed() {
    let request = request(json!({"model": "m", "input": "x", "stream": true,
        "tools": [{"type": "function", "name": "f"}]}));
    let failure = Failure::upstream(529, "Overloaded".into(), "overloaded_error", None, None);
    let chunks = [role(), text("Part"), call(0, Some("call_1"), Some("f"), "{\"a\"")];
    let (events, encoder) = run(&request, &chunks, End::Fail(failure));
    assert_eq!(
        types(&events),
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.failed",
        ]
    );
    let failed = &events[10].1["response"];
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["error"], json!({"code": "server_error", "message": "Overloaded"}));
    assert_eq!(failed["output"][0]["status"], "completed");
    assert_eq!(failed["output"][1]["status"], "incomplete");
    assert_eq!(failed["output"][1]["arguments"], "{\"a\"");
    assert_eq!(encoder.response().unwrap().status, Status::Failed);

    let limited = Failure::upstream(429, "Slow down".into(), "rate_limit_error", None, None);
    let (events, _) = run(&request, &[text("a")], End::Fail(limited));
    assert_eq!(events.last().unwrap().1["response"]["error"]["code"], "rate_limit_exceeded");
}

#[test]
fn reasoning_streams_as_a_reasoning_item_done_before_the_message() {
    let request = request(json!({"model": "m", "input": "x", "stream": true,
        "include": ["reasoning.encrypted_content"]}));
    let chunks =
        [role(), reasoning("Six "), reasoning("sevens."), signature("sig"), text("42"), finish(FinishReason::Stop)];
    let (events, encoder) = run(&request, &chunks, End::Finish);
    assert_eq!(
        types(&events),
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.reasoning_text.delta",
            "response.reasoning_text.delta",
            "response.reasoning_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    let data: Vec<&Value> = events.iter().map(|(_, data)| data).collect();
    assert_eq!(
        data[2]["item"],
        json!({"type": "reasoning", "id": "rs_s_0", "summary": [], "content": [], "status": "in_progress"})
    );
    assert_eq!(data[3]["part"], json!({"type": "reasoning_text", "text": ""}));
    assert_eq!(data[6]["text"], "Six sevens.");
    let blocks = vec![ThinkingBlock::Thinking { thinking: "Six sevens.".into(), signature: Some("sig".into()) }];
    let encrypted = serde_json::to_string(&blocks).unwrap();
    assert_eq!(data[8]["item"]["encrypted_content"], encrypted.as_str());
    assert_eq!(data[9]["item"]["id"], "msg_s_1");
    let OutputItem::Reasoning(item) = &encoder.response().unwrap().output[0] else { panic!() };
    assert_eq!(item.thinking_blocks, blocks);
}

#[test]
fn a_length_finish_ends_with_response_incomplete_and_the_cut_item_incomplete() {
    let request = request(json!({"model": "m", "input": "x", "stream": true, "max_output_tokens": 16}));
    let chunks = [reasoning("hm"), text("The answer is"), finish(FinishReason::Length), context().usage_chunk(usage())];
    let (events, _) = run(&request, &chunks, End::Finish);
    let (name, last) = events.last().unwrap();
    assert_eq!(name, "response.incomplete");
    assert_eq!(last["response"]["status"], "incomplete");
    assert_eq!(last["response"]["incomplete_details"], json!({"reason": "max_output_tokens"}));
    assert_eq!(last["response"]["output"][0]["status"], "completed");
    assert_eq!(last["response"]["output"][1]["status"], "incomplete");
    let done: Vec<&Value> =
        events.iter().filter(|(name, _)| name == "response.output_item.done").map(|(_, data)| &data["item"]).collect();
    assert_eq!((done[0]["status"].clone(), done[1]["status"].clone()), (json!("completed"), json!("incomplete")));
}

#[test]
fn a_refusal_is_a_refusal_part_of_the_message() {
    let request = request(json!({"model": "m", "input": "x", "stream": true}));
    let refusal = context().chunk(Delta { refusal: Some("No.".into()), ..Delta::default() }, None);
    let (events, encoder) = run(&request, &[text("Well"), refusal, finish(FinishReason::ContentFilter)], End::Finish);
    assert_eq!(
        types(&events)[2..],
        [
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.content_part.added",
            "response.refusal.delta",
            "response.refusal.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.incomplete",
        ]
    );
    assert_eq!(events[7].1["part"], json!({"type": "refusal", "refusal": ""}));
    assert_eq!((events[9].1["content_index"].clone(), events[9].1["refusal"].clone()), (json!(1), json!("No.")));
    assert_eq!(
        serde_json::to_value(&encoder.response().unwrap().output[0]).unwrap()["content"],
        json!([{"type": "output_text", "text": "Well", "annotations": [], "logprobs": []},
               {"type": "refusal", "refusal": "No."}])
    );
}

#[test]
fn nothing_is_written_before_the_answer_begins_and_nothing_after_it_ends() {
    let request = request(json!({"model": "m", "input": "x", "stream": true}));
    let mut encoder = Encoder::new(&request, ID, 1);
    let mut out = Vec::new();
    encoder.encode(&role(), &mut out);
    assert!(out.is_empty());
    assert_eq!(encoder.response(), None);
    encoder.finish(&mut out);
    assert_eq!(types(&read(&out)), ["response.created", "response.in_progress", "response.completed"]);
    let written = out.len();
    encoder.encode(&text("late"), &mut out);
    encoder.finish(&mut out);
    encoder.fail(&Failure::upstream(500, "x".into(), "api_error", None, None), &mut out);
    assert_eq!(out.len(), written);
    assert!(encoder.response().unwrap().output.is_empty());
}

#[test]
fn the_usage_after_the_finish_chunk_reaches_the_final_response_and_a_call_is_named_late_if_need_be() {
    let request = request(json!({"model": "m", "input": "x", "stream": true}));
    let chunks = [
        call(0, None, None, "{}"),
        call(0, Some("call_late"), Some("f"), ""),
        finish(FinishReason::ToolCalls),
        context().usage_chunk(usage()),
    ];
    let (events, encoder) = run(&request, &chunks, End::Finish);
    let response = encoder.response().unwrap();
    assert_eq!(response.usage.map(|u| u.total_tokens), Some(19));
    let OutputItem::FunctionCall(item) = &response.output[0] else { panic!() };
    assert_eq!((item.call_id.as_str(), item.name.as_str(), item.arguments.as_str()), ("call_late", "f", "{}"));
    assert_eq!(events.last().unwrap().1["response"]["output"][0]["call_id"], "call_late");
}
