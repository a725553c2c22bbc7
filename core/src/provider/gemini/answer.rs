//! Gemini's complete answer as OpenAI's chat completion.
//!
//! Each candidate is a choice: its text parts joined into `content`, its thought
//! parts into `reasoning_content`, its function calls into `tool_calls` (each
//! with a new `call_` id carrying the call's thought signature, see `call_id`).
//! Generated images become `data:` URLs in the content, as LiteLLM shows them;
//! generated audio and thought signatures of text parts have no place in
//! OpenAI's answer and are left out.

use super::wire::{AnswerPart, Candidate, GenerateContentResponse};
use super::{call_id, mapping};
use crate::openai::{ChatResponse, Choice, FunctionCall, ResponseMessage, ToolCall};
use crate::translate::Refusal;

/// The completion in `body`; `created` stamps it, `ids` makes up its call ids.
pub fn chat_response(body: &[u8], created: u64, ids: &mut fastrand::Rng) -> Result<ChatResponse, Refusal> {
    let answer: GenerateContentResponse =
        serde_json::from_slice(body).map_err(|e| Refusal::Invalid(format!("the body is not a Gemini answer: {e}")))?;
    if let Some(failure) = mapping::blocked(&answer) {
        return Err(Refusal::Blocked(Box::new(failure)));
    }
    if let Some(error) = &answer.error {
        return Err(Refusal::Invalid(format!("a success answer holds an error: {}", error.message)));
    }
    if answer.candidates.is_empty() {
        return Err(Refusal::Invalid("the Gemini answer has no candidates".to_owned()));
    }
    let usage = answer.usage_metadata.as_ref().map(mapping::usage);
    let choices = answer
        .candidates
        .into_iter()
        .enumerate()
        .map(|(position, candidate)| choice(position, candidate, ids))
        .collect();
    Ok(ChatResponse {
        id: mapping::answer_id(answer.response_id, ids),
        object: "chat.completion".to_owned(),
        created,
        model: answer.model_version.unwrap_or_default(),
        choices,
        usage,
        system_fingerprint: None,
    })
}

fn choice(position: usize, candidate: Candidate, ids: &mut fastrand::Rng) -> Choice {
    let mut content: Option<String> = None;
    let mut reasoning: Option<String> = None;
    let mut calls = Vec::new();
    for part in candidate.content.map(|content| content.parts).unwrap_or_default() {
        match part {
            AnswerPart { function_call: Some(call), thought_signature, .. } => calls.push(ToolCall {
                id: call_id::new(ids, thought_signature.as_deref()),
                kind: "function".to_owned(),
                function: FunctionCall { name: call.name, arguments: mapping::arguments(call.args) },
            }),
            AnswerPart { text: Some(text), thought, .. } if !text.is_empty() => {
                let slot = if thought { &mut reasoning } else { &mut content };
                slot.get_or_insert_with(String::new).push_str(&text);
            }
            AnswerPart { text: None, inline_data: Some(blob), thought: false, .. }
                if !blob.mime_type.starts_with("audio/") =>
            {
                let text = content.get_or_insert_with(String::new);
                text.push_str("data:");
                text.push_str(&blob.mime_type);
                text.push_str(";base64,");
                text.push_str(&blob.data);
            }
            _ => {}
        }
    }
    let finish_reason = mapping::finish_reason(candidate.finish_reason, !calls.is_empty());
    Choice {
        index: candidate.index.unwrap_or(position as u32),
        message: ResponseMessage {
            role: "assistant".to_owned(),
            content,
            tool_calls: (!calls.is_empty()).then_some(calls),
            refusal: None,
            reasoning_content: reasoning,
            thinking_blocks: None,
        },
        finish_reason: Some(finish_reason),
        logprobs: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failure::FailureClass;
    use crate::openai::{CompletionTokensDetails, FinishReason};

    fn answer(body: &str) -> ChatResponse {
        chat_response(body.as_bytes(), 1_700_000_000, &mut fastrand::Rng::with_seed(1)).unwrap()
    }

    #[test]
    fn a_text_answer_with_thoughts_and_usage() {
        let response = answer(
            r#"{
              "candidates": [{
                "content": {"parts": [
                  {"text": "The user asks about the sky. ", "thought": true},
                  {"text": "Rayleigh scattering.", "thought": true},
                  {"text": "The sky is blue because "},
                  {"text": "air scatters blue light most.", "thoughtSignature": "CiQB4/H/Xt5t"}
                ], "role": "model"},
                "finishReason": "STOP",
                "index": 0,
                "safetyRatings": [{"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"}]
              }],
              "usageMetadata": {"promptTokenCount": 8, "candidatesTokenCount": 12, "totalTokenCount": 50,
                "thoughtsTokenCount": 30, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 8}]},
              "modelVersion": "gemini-2.5-flash",
              "responseId": "mK5aaMeYOOWaxN8PpYzj4Ak"
            }"#,
        );
        assert_eq!(response.id, "mK5aaMeYOOWaxN8PpYzj4Ak");
        assert_eq!(
            (response.object.as_str(), response.created, response.model.as_str()),
            ("chat.completion", 1_700_000_000, "gemini-2.5-flash")
        );
        let choice = &response.choices[0];
        assert_eq!(choice.message.content.as_deref(), Some("The sky is blue because air scatters blue light most."));
        assert_eq!(
            choice.message.reasoning_content.as_deref(),
            Some("The user asks about the sky. Rayleigh scattering.")
        );
        assert_eq!((choice.message.tool_calls.as_ref(), choice.finish_reason), (None, Some(FinishReason::Stop)));
        let usage = response.usage.unwrap();
        assert_eq!((usage.prompt_tokens, usage.completion_tokens, usage.total_tokens), (8, 42, 50));
        assert_eq!(usage.completion_tokens_details, Some(CompletionTokensDetails { reasoning_tokens: 30 }));
    }

    #[test]
    fn function_calls_become_tool_calls_with_their_signature_in_the_id() {
        let response = answer(
            r#"{
              "candidates": [{
                "content": {"role": "model", "parts": [
                  {"functionCall": {"name": "get_weather", "args": {"location": "Paris", "unit": "celsius"}}, "thoughtSignature": "EuYBCuMBAdHtim9"},
                  {"functionCall": {"name": "get_time", "args": {"zone": "Europe/Paris"}}},
                  {"functionCall": {"name": "list_alerts"}}
                ]},
                "finishReason": "STOP"
              }],
              "usageMetadata": {"promptTokenCount": 40, "candidatesTokenCount": 20, "totalTokenCount": 60},
              "modelVersion": "gemini-3-pro-preview"
            }"#,
        );
        let choice = &response.choices[0];
        assert_eq!((choice.finish_reason, choice.message.content.as_deref()), (Some(FinishReason::ToolCalls), None));
        let calls = choice.message.tool_calls.as_ref().unwrap();
        assert_eq!(calls.len(), 3);
        assert_eq!(call_id::split(&calls[0].id).1, Some("EuYBCuMBAdHtim9"));
        assert_eq!(call_id::split(&calls[1].id), (calls[1].id.as_str(), None));
        assert!(calls.iter().all(|call| call.id.starts_with("call_") && call.kind == "function"));
        assert_ne!(calls[1].id, calls[2].id);
        assert_eq!(calls[0].function.name, "get_weather");
        let args: serde_json::Value = serde_json::from_str(&calls[0].function.arguments).unwrap();
        assert_eq!(args, serde_json::json!({"location": "Paris", "unit": "celsius"}));
        assert_eq!(calls[2].function.arguments, "{}");
        assert!(response.id.starts_with("chatcmpl-"));
    }

    #[test]
    fn several_candidates_are_several_choices() {
        let response = answer(
            r#"{"candidates": [
                {"content": {"parts": [{"text": "Red"}], "role": "model"}, "finishReason": "STOP", "index": 0},
                {"content": {"parts": [{"text": "Blue, as in"}], "role": "model"}, "finishReason": "MAX_TOKENS", "index": 1},
                {"finishReason": "SAFETY", "index": 2}
              ], "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 6, "totalTokenCount": 11}}"#,
        );
        let summary: Vec<_> =
            response.choices.iter().map(|c| (c.index, c.message.content.as_deref(), c.finish_reason)).collect();
        assert_eq!(
            summary,
            [
                (0, Some("Red"), Some(FinishReason::Stop)),
                (1, Some("Blue, as in"), Some(FinishReason::Length)),
                (2, None, Some(FinishReason::ContentFilter)),
            ]
        );
    }

    #[test]
    fn a_generated_image_is_a_data_url_and_audio_is_left_out() {
        let response = answer(
            r#"{"candidates": [{"content": {"parts": [{"text": "Here: "}, {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
                {"inlineData": {"mimeType": "audio/L16;codec=pcm;rate=24000", "data": "AAAA"}}]}, "finishReason": "STOP"}]}"#,
        );
        assert_eq!(response.choices[0].message.content.as_deref(), Some("Here: data:image/png;base64,iVBORw0KGgo="));
        assert_eq!(response.usage, None);
    }

    #[test]
    fn a_blocked_prompt_is_a_content_policy_failure() {
        let body = br#"{"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9}, "modelVersion": "gemini-2.5-flash"}"#;
        let Err(Refusal::Blocked(failure)) = chat_response(body, 0, &mut fastrand::Rng::with_seed(1)) else {
            panic!("a blocked prompt must be refused");
        };
        assert_eq!((failure.class, failure.error.status()), (FailureClass::ContentPolicy, 400));
        assert!(failure.error.to_string().contains("PROHIBITED_CONTENT"), "{}", failure.error);
    }

    #[test]
    fn bodies_that_are_not_answers_are_invalid() {
        for body in [&b"<html>proxy</html>"[..], b"{\"candidates\": []}", b"{}", b"{\"candidates\": 3}"] {
            let result = chat_response(body, 0, &mut fastrand::Rng::with_seed(1));
            assert!(matches!(result, Err(Refusal::Invalid(_))), "{}", String::from_utf8_lossy(body));
        }
        let error = br#"{"error": {"code": 500, "message": "Internal error encountered.", "status": "INTERNAL"}}"#;
        let Err(Refusal::Invalid(detail)) = chat_response(error, 0, &mut fastrand::Rng::with_seed(1)) else {
            panic!("an error body is no answer");
        };
        assert!(detail.contains("Internal error encountered."), "{detail}");
    }
}
