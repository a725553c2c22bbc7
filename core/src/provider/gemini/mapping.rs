//! What the fields of Gemini's answers mean in OpenAI's terms, for complete
//! answers and streams alike: finish reasons, usage, a function call's
//! arguments, and a blocked prompt.

use serde_json::value::RawValue;

use super::wire::{FinishReason, GenerateContentResponse, UsageMetadata};
use crate::failure::Failure;
use crate::openai::{self, CompletionTokensDetails, PromptTokensDetails, Usage};

/// A candidate's finish reason; `called`: it made function calls (a natural stop
/// is then `tool_calls`, as OpenAI reports it). LiteLLM's mapping, extended to
/// Gemini's newer reasons: safety, recitation, blocklist, prohibited content,
/// SPII, language and `OTHER` (which Gemini uses for blocked output) are
/// `content_filter`; a malformed, unexpected or excess tool call, a missing
/// image and reasons newer than this code are `stop`, OpenAI having no better name.
pub(super) fn finish_reason(reason: Option<FinishReason>, called: bool) -> openai::FinishReason {
    let mapped = match reason {
        None
        | Some(
            FinishReason::FinishReasonUnspecified
            | FinishReason::Stop
            | FinishReason::MalformedFunctionCall
            | FinishReason::UnexpectedToolCall
            | FinishReason::TooManyToolCalls
            | FinishReason::NoImage
            | FinishReason::ImageOther
            | FinishReason::Unknown,
        ) => openai::FinishReason::Stop,
        Some(FinishReason::MaxTokens) => openai::FinishReason::Length,
        Some(
            FinishReason::Safety
            | FinishReason::Recitation
            | FinishReason::Language
            | FinishReason::Other
            | FinishReason::Blocklist
            | FinishReason::ProhibitedContent
            | FinishReason::Spii
            | FinishReason::ImageSafety
            | FinishReason::ImageProhibitedContent
            | FinishReason::ImageRecitation,
        ) => openai::FinishReason::ContentFilter,
    };
    match mapped {
        openai::FinishReason::Stop if called => openai::FinishReason::ToolCalls,
        other => other,
    }
}

/// `usageMetadata` as OpenAI's usage, counted as LiteLLM counts it: thinking
/// tokens are `reasoning_tokens` and part of `completion_tokens` (Gemini leaves
/// them out of `candidatesTokenCount`, unless prompt and candidates already make
/// the total); cached tokens are `prompt_tokens_details.cached_tokens` (and,
/// as with OpenAI, part of `prompt_tokens`).
pub(super) fn usage(meta: &UsageMetadata) -> Usage {
    let thoughts = meta.thoughts_token_count.unwrap_or(0);
    let inclusive = meta.prompt_token_count + meta.candidates_token_count == meta.total_token_count;
    let completion_tokens = meta.candidates_token_count + if inclusive { 0 } else { thoughts };
    let total_tokens = match meta.total_token_count {
        0 => meta.prompt_token_count + completion_tokens,
        total => total,
    };
    Usage {
        prompt_tokens: meta.prompt_token_count,
        completion_tokens,
        total_tokens,
        prompt_tokens_details: meta
            .cached_content_token_count
            .map(|cached_tokens| PromptTokensDetails { cached_tokens, cache_creation_tokens: None }),
        completion_tokens_details: meta
            .thoughts_token_count
            .map(|reasoning_tokens| CompletionTokensDetails { reasoning_tokens }),
    }
}

/// A call's `args` as OpenAI's `arguments` text: the JSON Gemini wrote, `{}` when none.
pub(super) fn arguments(args: Option<Box<RawValue>>) -> String {
    args.map_or_else(|| "{}".to_owned(), |raw| Box::<str>::from(raw).into_string())
}

/// An answer's id: Gemini's `responseId`, else one made up.
pub(super) fn answer_id(response_id: Option<String>, rng: &mut fastrand::Rng) -> String {
    response_id.unwrap_or_else(|| {
        let mut id = String::from("chatcmpl-");
        id.extend((0..24).map(|_| rng.alphanumeric()));
        id
    })
}

/// The failure of a prompt Gemini blocked (`promptFeedback.blockReason`, no
/// candidates): a content-policy refusal, answered 400 as OpenAI answers one.
pub(super) fn blocked(answer: &GenerateContentResponse) -> Option<Failure> {
    if !answer.candidates.is_empty() {
        return None;
    }
    let feedback = answer.prompt_feedback.as_ref()?;
    let reason = feedback.block_reason.as_deref()?;
    let mut message = format!("Gemini blocked the prompt: {reason}");
    if let Some(detail) = &feedback.block_reason_message {
        message.push_str(" (");
        message.push_str(detail);
        message.push(')');
    }
    Some(Failure::content_policy(message))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(prompt: u64, candidates: u64, total: u64, thoughts: Option<u64>) -> UsageMetadata {
        UsageMetadata {
            prompt_token_count: prompt,
            candidates_token_count: candidates,
            total_token_count: total,
            thoughts_token_count: thoughts,
            cached_content_token_count: None,
        }
    }

    #[test]
    fn thoughts_count_as_completion_tokens_once() {
        // Gemini's count: the total adds the thoughts to prompt and candidates.
        let usage = usage(&meta(10, 5, 20, Some(5)));
        assert_eq!((usage.prompt_tokens, usage.completion_tokens, usage.total_tokens), (10, 10, 20));
        assert_eq!(usage.completion_tokens_details, Some(CompletionTokensDetails { reasoning_tokens: 5 }));
        // Candidates that already include the thoughts are not counted twice.
        let inclusive = super::usage(&meta(10, 10, 20, Some(5)));
        assert_eq!(inclusive.completion_tokens, 10);
        let plain = super::usage(&meta(7, 3, 10, None));
        assert_eq!(
            (plain.completion_tokens, plain.completion_tokens_details, plain.prompt_tokens_details),
            (3, None, None)
        );
    }

    #[test]
    fn cached_tokens_are_in_the_prompt_details() {
        let mut cached = meta(1000, 20, 1020, None);
        cached.cached_content_token_count = Some(800);
        let usage = usage(&cached);
        assert_eq!(usage.prompt_tokens, 1000);
        assert_eq!(
            usage.prompt_tokens_details,
            Some(PromptTokensDetails { cached_tokens: 800, cache_creation_tokens: None })
        );
    }

    #[test]
    fn finish_reasons_map_and_calls_turn_a_stop_into_tool_calls() {
        use openai::FinishReason as O;
        assert_eq!(finish_reason(Some(FinishReason::Stop), false), O::Stop);
        assert_eq!(finish_reason(Some(FinishReason::Stop), true), O::ToolCalls);
        assert_eq!(finish_reason(None, true), O::ToolCalls);
        assert_eq!(finish_reason(Some(FinishReason::MaxTokens), true), O::Length);
        for filtered in [FinishReason::Safety, FinishReason::Recitation, FinishReason::Blocklist, FinishReason::Spii] {
            assert_eq!(finish_reason(Some(filtered), false), O::ContentFilter, "{filtered:?}");
        }
        assert_eq!(finish_reason(Some(FinishReason::MalformedFunctionCall), false), O::Stop);
        let unknown: FinishReason = serde_json::from_str("\"SOMETHING_NEW\"").unwrap();
        assert_eq!(finish_reason(Some(unknown), false), O::Stop);
    }
}
