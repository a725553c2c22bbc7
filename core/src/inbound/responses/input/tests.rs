use serde_json::json;

use super::*;

fn items(input: serde_json::Value) -> Result<Vec<InputItem>, ApiError> {
    let text = input.to_string();
    let raw: &RawValue = serde_json::from_str(&text).unwrap();
    parse(raw)
}

fn refusal(input: serde_json::Value) -> String {
    match items(input.clone()) {
        Err(ApiError::InvalidParam { param: "input", message }) => message,
        other => panic!("{input}: expected a 400 naming `input`, got {other:?}"),
    }
}

fn text(text: &str) -> Part {
    Part::Text { text: text.into(), cache_control: None }
}

#[test]
fn a_string_is_one_user_message() {
    assert_eq!(
        items(json!("Hello")).unwrap(),
        [InputItem::Message(InputMessage { role: Role::User, content: Content::Text("Hello".into()) })]
    );
}

#[test]
fn every_item_kind_parses() {
    let parsed = items(json!([
        {"role": "developer", "content": "Be brief."},
        {"type": "message", "role": "system", "content": [{"type": "input_text", "text": "Rules."}]},
        {"role": "user", "content": [
            {"type": "input_text", "text": "What is this?", "cache_control": {"type": "ephemeral"}},
            {"type": "input_image", "image_url": "https://example.com/a.png", "detail": "high"},
            {"type": "input_image", "file_id": "file-1", "detail": "auto"},
            {"type": "input_file", "file_data": "data:application/pdf;base64,JVBER", "filename": "a.pdf"},
            {"type": "input_file", "file_url": "https://example.com/a.pdf"}
        ]},
        {"role": "assistant", "content": "A cat."},
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "opaque"},
        {"type": "function_call", "call_id": "call_1", "name": "look", "arguments": "{\"x\":1}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "a tabby"},
        {"type": "function_call_output", "call_id": "call_2", "output": [
            {"type": "input_text", "text": "see"}, {"type": "input_image", "image_url": "data:image/png;base64,AA=="}
        ]},
        {"type": "item_reference", "id": "msg_1"},
        {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {"type": "search"}}
    ]))
    .unwrap();
    let expected = [
        InputItem::Message(InputMessage { role: Role::Developer, content: Content::Text("Be brief.".into()) }),
        InputItem::Message(InputMessage { role: Role::System, content: Content::Parts(vec![text("Rules.")]) }),
        InputItem::Message(InputMessage {
            role: Role::User,
            content: Content::Parts(vec![
                Part::Text { text: "What is this?".into(), cache_control: Some(json!({"type": "ephemeral"})) },
                Part::Image {
                    source: ImageSource::Url("https://example.com/a.png".into()),
                    detail: Some(Detail::High),
                    cache_control: None,
                },
                Part::Image {
                    source: ImageSource::FileId("file-1".into()),
                    detail: Some(Detail::Auto),
                    cache_control: None,
                },
                Part::File {
                    source: FileSource::Data("data:application/pdf;base64,JVBER".into()),
                    filename: Some("a.pdf".into()),
                },
                Part::File { source: FileSource::Url("https://example.com/a.pdf".into()), filename: None },
            ]),
        }),
        InputItem::Message(InputMessage { role: Role::Assistant, content: Content::Text("A cat.".into()) }),
        InputItem::Reasoning(Reasoning { encrypted_content: Some("opaque".into()) }),
        InputItem::FunctionCall(FunctionCall {
            call_id: "call_1".into(),
            name: "look".into(),
            arguments: "{\"x\":1}".into(),
        }),
        InputItem::FunctionCallOutput(FunctionCallOutput {
            call_id: "call_1".into(),
            output: Content::Text("a tabby".into()),
        }),
        InputItem::FunctionCallOutput(FunctionCallOutput {
            call_id: "call_2".into(),
            output: Content::Parts(vec![
                text("see"),
                Part::Image {
                    source: ImageSource::Url("data:image/png;base64,AA==".into()),
                    detail: None,
                    cache_control: None,
                },
            ]),
        }),
        InputItem::OpenAiOnly("item_reference".into()),
        InputItem::OpenAiOnly("web_search_call".into()),
    ];
    assert_eq!(parsed, expected);
}

#[test]
fn an_earlier_responses_output_sent_back_as_it_came_parses() {
    let parsed = items(json!([
        {"type": "reasoning", "id": "rs_1", "summary": [], "content": [{"type": "reasoning_text", "text": "hm"}],
         "status": "completed"},
        {"type": "message", "id": "msg_1", "status": "completed", "role": "assistant", "phase": "final_answer",
         "content": [{"type": "output_text", "text": "Hi", "annotations": [], "logprobs": []},
                     {"type": "refusal", "refusal": "No."}]},
        {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "f", "arguments": "{}",
         "status": "completed"}
    ]))
    .unwrap();
    assert_eq!(parsed[0], InputItem::Reasoning(Reasoning { encrypted_content: None }));
    assert_eq!(
        parsed[1],
        InputItem::Message(InputMessage {
            role: Role::Assistant,
            content: Content::Parts(vec![text("Hi"), Part::Refusal("No.".into())]),
        })
    );
    assert!(matches!(&parsed[2], InputItem::FunctionCall(call) if call.call_id == "call_1"));
}

#[test]
fn each_malformed_item_is_refused_naming_where() {
    let cases = [
        (json!(3), "must be a string or an array of items"),
        (json!([3]), "`input[0]` must be an object"),
        (json!([{"content": "hi"}]), "`input[0]`: missing field `role`"),
        (json!([{"role": "tool", "content": "hi"}]), "`input[0].role`: unknown variant `tool`"),
        (json!([{"role": "user", "content": 3}]), "`input[0].content` must be a string or an array of parts"),
        (json!([{"role": "user", "content": "hi", "name": "bob"}]), "unknown field `name`"),
        (
            json!([{"role": "user", "content": [{"type": "input_audio"}]}]),
            "`input[0].content[0].type`: unknown variant `input_audio`",
        ),
        (json!([{"role": "user", "content": [{"type": "input_text"}]}]), "missing field `text`"),
        (json!([{"role": "user", "content": [{"type": "input_text", "text": "a", "x": 1}]}]), "unknown field `x`"),
        (
            json!([{"role": "user", "content": [{"type": "output_text", "text": "a"}]}]),
            "`input[0].content[0].type`: `output_text` is not allowed here; expected `input_text`",
        ),
        (
            json!([{"role": "assistant", "content": [{"type": "input_text", "text": "a"}]}]),
            "`input_text` is not allowed here; expected `output_text` or `refusal`",
        ),
        (
            json!([{"role": "user", "content": [{"type": "input_image", "detail": "auto"}]}]),
            "exactly one of `image_url`",
        ),
        (
            json!([{"role": "user", "content": [{"type": "input_image", "image_url": "u", "file_id": "f"}]}]),
            "exactly one of `image_url`",
        ),
        (
            json!([{"role": "user", "content": [{"type": "input_image", "image_url": "u", "detail": "huge"}]}]),
            "unknown variant `huge`",
        ),
        (json!([{"role": "user", "content": [{"type": "input_file", "filename": "a"}]}]), "exactly one of `file_data`"),
        (json!([{"type": "function_call", "name": "f", "arguments": "{}"}]), "`input[0]`: missing field `call_id`"),
        (
            json!([{"type": "function_call", "call_id": "", "name": "f", "arguments": "{}"}]),
            "`input[0].call_id` must not be empty",
        ),
        (
            json!([{"type": "function_call", "call_id": "c", "name": "f", "arguments": {}}]),
            "`input[0].arguments`: invalid type",
        ),
        (json!([{"type": "function_call_output", "call_id": "c"}]), "missing field `output`"),
        (json!([{"type": "function_call_output", "call_id": "c", "output": 1}]), "`input[0].output` must be a string"),
        (
            json!([{"type": "function_call_output", "call_id": "c", "output": [{"type": "refusal", "refusal": "x"}]}]),
            "`input[0].output[0].type`: `refusal` is not allowed here",
        ),
        (json!([{"type": "reasoning", "summary": [], "text": "x"}]), "unknown field `text`"),
        (
            json!([{"role": "user", "content": "hi"}, {"type": "chat", "role": "user"}]),
            "`input[1].type`: unknown item type `chat`",
        ),
        (json!([{"type": 3}]), "`input[0]` must be an object with a string `type`"),
    ];
    for (input, expected) in cases {
        let message = refusal(input.clone());
        assert!(message.contains(expected), "{input}: {message}");
        assert!(!message.contains(" at line "), "{message}");
    }
}
