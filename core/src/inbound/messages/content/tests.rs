use super::*;
use crate::inbound::messages::request::{Request, parse};
use serde_json::json;

fn conversation(messages: Value) -> Result<Request, MessagesError> {
    let body = json!({"model": "claude", "max_tokens": 100, "messages": messages});
    parse(&serde_json::to_vec(&body).unwrap())
}

fn refused(messages: Value) -> String {
    match conversation(messages.clone()) {
        Err(MessagesError::Invalid(message)) => message,
        other => panic!("expected {messages} to be refused, got {other:?}"),
    }
}

fn noted(messages: Value) -> String {
    conversation(messages.clone()).unwrap().anthropic_only.unwrap_or_else(|| panic!("nothing noted in {messages}"))
}

fn user(content: Value) -> Value {
    json!({"role": "user", "content": content})
}

fn assistant(content: Value) -> Value {
    json!({"role": "assistant", "content": content})
}

fn call(id: &str) -> Value {
    json!({"type": "tool_use", "id": id, "name": "f", "input": {}})
}

fn result(id: &str) -> Value {
    json!({"type": "tool_result", "tool_use_id": id, "content": "ok"})
}

fn image(source: Value) -> Value {
    json!({"type": "image", "source": source})
}

#[test]
fn messages_and_their_content_are_checked_field_by_field() {
    let text = |text: &str| json!({"type": "text", "text": text});
    let cases = [
        (json!([{"role": "system", "content": "x"}]), "messages.0.role: Input should be 'user' or 'assistant'"),
        (json!([{"content": "x"}]), "messages.0.role: Field required"),
        (json!([{"role": "user"}]), "messages.0.content: Field required"),
        (json!([{"role": "user", "content": "x", "name": "me"}]), "messages.0.name: Extra inputs are not permitted"),
        (json!(["Hello"]), "messages.0: Input should be a valid dictionary"),
        (
            json!([user(json!(5))]),
            "messages.0.content: Input should be a valid string or a valid list of content blocks",
        ),
        (
            json!([user(json!(""))]),
            "messages.0: all messages must have non-empty content except for the optional final assistant message",
        ),
        (json!([user(json!([]))]), "messages.0: all messages must have non-empty content"),
        (json!([assistant(json!("")), user(json!("x"))]), "messages.0: all messages must have non-empty content"),
        (json!([assistant(json!([]))]), "messages.0: all messages must have non-empty content"),
        (json!([user(json!("  "))]), "messages.0.content: text content blocks must contain non-whitespace text"),
        (
            json!([user(json!("x")), assistant(json!("Sure "))]),
            "messages.1: final assistant content cannot end with trailing whitespace",
        ),
        (json!([user(json!([5]))]), "messages.0.content.0: Input should be a valid dictionary"),
        (
            json!([user(json!([{"text": "x"}]))]),
            "messages.0.content.0: Unable to extract tag using discriminator 'type'",
        ),
        (
            json!([user(json!([{"type": "input_text", "text": "x"}]))]),
            "messages.0.content.0: Input tag 'input_text' found using 'type' does not match any of the expected tags: 'text', 'image', 'document'",
        ),
        (json!([user(json!([{"type": "text"}]))]), "messages.0.content.0.text.text: Field required"),
        (
            json!([user(json!([{"type": "text", "text": 5}]))]),
            "messages.0.content.0.text.text: Input should be a valid string",
        ),
        (json!([user(json!([text("")]))]), "messages.0.content.0.text.text: text content blocks must be non-empty"),
        (
            json!([user(json!([text(" \n")]))]),
            "messages.0.content.0.text.text: text content blocks must contain non-whitespace text",
        ),
        (
            json!([user(json!([{"type": "text", "text": "x", "cache_control": {"type": "ephemeral"}, "id": 1}]))]),
            "messages.0.content.0.text.id: Extra inputs are not permitted",
        ),
        (
            json!([user(json!([{"type": "text", "text": "x", "citations": {}}]))]),
            "messages.0.content.0.text.citations: Input should be a valid list",
        ),
        (
            json!([user(json!([image(json!({"type": "base64", "media_type": "image/bmp", "data": "Qk0="}))]))]),
            "messages.0.content.0.image.source.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'",
        ),
        (
            json!([user(json!([image(json!({"type": "base64", "media_type": "image/png"}))]))]),
            "messages.0.content.0.image.source.base64.data: Field required",
        ),
        (
            json!([user(json!([image(json!({"type": "url"}))]))]),
            "messages.0.content.0.image.source.url.url: Field required",
        ),
        (
            json!([user(json!([image(json!({"type": "url", "url": "https://x/y.png", "detail": "high"}))]))]),
            "messages.0.content.0.image.source.url.detail: Extra inputs are not permitted",
        ),
        (
            json!([user(json!([image(json!({"type": "image_url", "url": "https://x/y.png"}))]))]),
            "messages.0.content.0.image.source: Input tag 'image_url' found using 'type' does not match any of the expected tags: 'base64', 'url', 'file'",
        ),
        (json!([user(json!([{"type": "image"}]))]), "messages.0.content.0.image.source: Field required"),
        (
            json!([user(
                json!([{"type": "document", "source": {"type": "base64", "media_type": "text/plain", "data": "eA=="}}])
            )]),
            "messages.0.content.0.document.source.base64.media_type: Input should be 'application/pdf'",
        ),
        (
            json!([user(
                json!([{"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}, "title": 5}])
            )]),
            "messages.0.content.0.document.title: Input should be a valid string",
        ),
        (
            json!([user(json!([call("toolu_1")]))]),
            "messages.0.content.0: `tool_use` blocks are only allowed in `assistant` messages",
        ),
        (
            json!([user(json!("x")), assistant(json!([result("toolu_1")]))]),
            "messages.1.content.0: `tool_result` blocks are only allowed in `user` messages",
        ),
        (
            json!([user(json!([{"type": "thinking", "thinking": "x", "signature": "s"}]))]),
            "messages.0.content.0: `thinking` blocks are only allowed in `assistant` messages",
        ),
        (
            json!([
                user(json!("x")),
                assistant(
                    json!([{"type": "thinking", "thinking": "x", "signature": "s", "cache_control": {"type": "ephemeral"}}])
                )
            ]),
            "messages.1.content.0.thinking.cache_control: Extra inputs are not permitted",
        ),
        (
            json!([user(json!("x")), assistant(json!([{"type": "thinking", "thinking": "x"}]))]),
            "messages.1.content.0.thinking.signature: Field required",
        ),
        (
            json!([user(json!("x")), assistant(json!([{"type": "redacted_thinking"}]))]),
            "messages.1.content.0.redacted_thinking.data: Field required",
        ),
        (
            json!([user(json!("x")), assistant(json!([call("toolu.1")]))]),
            "messages.1.content.0.tool_use.id: String should match pattern '^[a-zA-Z0-9_-]+$'",
        ),
        (
            json!([user(json!("x")), assistant(json!([{"type": "tool_use", "id": "t", "name": "f", "input": "{}"}]))]),
            "messages.1.content.0.tool_use.input: Input should be a valid dictionary",
        ),
        (
            json!([user(json!("x")), assistant(json!([{"type": "tool_use", "id": "t", "name": "f"}]))]),
            "messages.1.content.0.tool_use.input: Field required",
        ),
        (
            json!([
                user(json!("x")),
                assistant(
                    json!([{"type": "tool_use", "id": "t", "name": "f", "input": {}, "caller": {"type": "direct", "x": 1}}])
                )
            ]),
            "messages.1.content.0.tool_use.caller.direct.x: Extra inputs are not permitted",
        ),
        (
            json!([
                user(json!("x")),
                assistant(json!([call("t")])),
                user(json!([{"type": "tool_result", "tool_use_id": "t", "content": 5}]))
            ]),
            "messages.2.content.0.tool_result.content: Input should be a valid string or a valid list of content blocks",
        ),
        (
            json!([
                user(json!("x")),
                assistant(json!([call("t")])),
                user(json!([{"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text"}]}]))
            ]),
            "messages.2.content.0.tool_result.content.0.text.text: Field required",
        ),
        (
            json!([
                user(json!("x")),
                assistant(json!([call("t")])),
                user(json!([{"type": "tool_result", "tool_use_id": "t", "content": [{"type": "thinking"}]}]))
            ]),
            "messages.2.content.0.tool_result.content.0: Input tag 'thinking' found using 'type' does not match any of the expected tags: 'text', 'image', 'document'",
        ),
        (
            json!([
                user(json!("x")),
                assistant(json!([call("t")])),
                user(json!([{"type": "tool_result", "tool_use_id": "t", "is_error": "no"}]))
            ]),
            "messages.2.content.0.tool_result.is_error: Input should be a valid boolean",
        ),
        (
            json!([user(json!("x")), assistant(json!([call("t")])), user(json!([text("Here:"), result("t")]))]),
            "messages.2.content.1: `tool_result` blocks must come first in a user message",
        ),
    ];
    for (messages, expected) in cases {
        let message = refused(messages.clone());
        assert!(message.starts_with(expected), "{messages}:\n  got  {message}\n  want {expected}");
    }
}

#[test]
fn every_call_is_answered_in_the_next_turn_and_every_result_answers_one() {
    let unanswered =
        refused(json!([user(json!("x")), assistant(json!([call("t1"), call("t2")])), user(json!([result("t1")]))]));
    assert_eq!(
        unanswered,
        "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: t2. Each `tool_use` \
         block must have a corresponding `tool_result` block in the next message."
    );
    let stray = refused(json!([user(json!("x")), assistant(json!("Hi")), user(json!([result("t9")]))]));
    assert_eq!(
        stray,
        "messages.2.content.0: unexpected `tool_use_id` found in `tool_result` blocks: t9. Each `tool_result` block \
         must have a corresponding `tool_use` block in the previous message."
    );
    let late = refused(json!([
        user(json!("x")),
        assistant(json!([call("t1")])),
        user(json!([result("t1")])),
        assistant(json!("ok")),
        user(json!([result("t1")]))
    ]));
    assert!(late.starts_with("messages.4.content.0: unexpected `tool_use_id`"), "{late}");
    let twice = refused(json!([
        user(json!("x")),
        assistant(json!([call("t1")])),
        user(json!([result("t1")])),
        assistant(json!([call("t1")])),
        user(json!([result("t1")]))
    ]));
    assert_eq!(twice, "messages.3.content.0: `tool_use` ids must be unique: `t1` is used twice");
}

#[test]
fn consecutive_messages_of_one_role_are_one_turn() {
    // Anthropic merges them: the results may come in a second user message, the
    // calls in a second assistant message.
    let request = conversation(json!([
        user(json!("x")),
        assistant(json!("Let me check.")),
        assistant(json!([call("t1")])),
        user(json!("(running)")),
        user(json!([result("t1")]))
    ]));
    assert!(request.is_ok(), "{request:?}");
}

#[test]
fn a_last_assistant_turn_may_be_empty_or_end_in_a_call_and_may_open_the_conversation() {
    assert!(conversation(json!([user(json!("x")), assistant(json!(""))])).is_ok());
    assert!(conversation(json!([user(json!("x")), assistant(json!([]))])).is_ok());
    assert!(conversation(json!([user(json!("x")), assistant(json!([call("t1")]))])).is_ok());
    assert!(conversation(json!([assistant(json!("Hello, how can I help?")), user(json!("x"))])).is_ok());
    assert!(conversation(json!([user(json!("x")), assistant(json!("Sure ")), user(json!("y"))])).is_ok());
}

#[test]
fn blocks_only_anthropic_serves_are_noted_with_their_place() {
    let pdf_with = |extra: Value| {
        let mut block =
            json!({"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}});
        block.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        block
    };
    let cases = [
        (
            json!([
                user(json!("x")),
                assistant(json!([{"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}]))
            ]),
            "messages.1.content.0: a `server_tool_use` block",
        ),
        (
            json!([user(json!([{"type": "search_result", "source": "s", "title": "t", "content": []}]))]),
            "messages.0.content.0: a `search_result` block",
        ),
        (
            json!([user(json!([image(json!({"type": "file", "file_id": "file_01"}))]))]),
            "messages.0.content.0.image.source: an image of Anthropic's Files API",
        ),
        (
            json!([user(
                json!([{"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "x"}}])
            )]),
            "messages.0.content.0.document.source: a plain-text document",
        ),
        (
            json!([user(json!([{"type": "document", "source": {"type": "url", "url": "https://x/a.pdf"}}]))]),
            "messages.0.content.0.document.source: a document given by URL",
        ),
        (
            json!([user(json!([{"type": "document", "source": {"type": "content", "content": "x"}}]))]),
            "messages.0.content.0.document.source: a document of content blocks",
        ),
        (json!([user(json!([pdf_with(json!({"context": "a report"}))]))]), "messages.0.content.0.document.context"),
        (
            json!([user(json!([pdf_with(json!({"citations": {"enabled": true}}))]))]),
            "messages.0.content.0.document.citations: citations",
        ),
        (
            json!([user(json!([{"type": "text", "text": "x", "citations": [{"type": "char_location"}]}]))]),
            "messages.0.content.0.text.citations: citations",
        ),
        (
            json!([user(json!("x")), assistant(json!([image(json!({"type": "url", "url": "https://x/y.png"}))]))]),
            "messages.1.content.0: an image in an assistant message",
        ),
        (
            json!([
                user(json!("x")),
                assistant(
                    json!([{"type": "tool_use", "id": "t", "name": "f", "input": {}, "caller": {"type": "code_execution_20250825", "tool_id": "srvtoolu_1"}}])
                )
            ]),
            "messages.1.content.0.tool_use.caller: a call made from Anthropic's code execution",
        ),
        (
            json!([
                user(json!("x")),
                assistant(json!([call("t")])),
                user(
                    json!([{"type": "tool_result", "tool_use_id": "t", "content": [{"type": "tool_reference", "tool_name": "f"}]}])
                )
            ]),
            "messages.2.content.0.tool_result.content.0: a `tool_reference` block",
        ),
    ];
    for (messages, expected) in cases {
        let what = noted(messages.clone());
        assert!(what.starts_with(expected), "{messages}:\n  got  {what}\n  want {expected}");
    }
    // A PDF given inline, with a title, is mapped.
    let pdf = conversation(json!([user(json!([pdf_with(json!({"title": "Report", "citations": null}))]))])).unwrap();
    assert_eq!(pdf.anthropic_only, None);
}

#[test]
fn blocks_read_into_the_provider_side_s_wire_types() {
    let request = conversation(json!([
        user(json!([
            {"type": "text", "text": "What is this?", "cache_control": {"type": "ephemeral"}},
            image(json!({"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}))
        ])),
        assistant(json!([{"type": "redacted_thinking", "data": "EmwK"}, {"type": "text", "text": "A cat."}]))
    ]))
    .unwrap();
    let MessageContent::Blocks(blocks) = &request.messages[0].content else { panic!("blocks") };
    assert_eq!(
        blocks[0],
        ContentBlock::Text {
            text: "What is this?".into(),
            cache_control: Some(Cow::Owned(json!({"type": "ephemeral"})))
        }
    );
    assert_eq!(
        blocks[1],
        ContentBlock::Image {
            source: ImageSource::Base64 { media_type: "image/png".into(), data: "iVBORw0KGgo=".into() },
            cache_control: None
        }
    );
    let MessageContent::Blocks(blocks) = &request.messages[1].content else { panic!("blocks") };
    assert_eq!(blocks[0], ContentBlock::RedactedThinking { data: "EmwK".into() });
}
