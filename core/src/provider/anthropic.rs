//! Anthropic's Messages API, translated to and from OpenAI's chat completions.
//!
//! - [`wire`]: the Messages API's request, answer, stream events and errors as types;
//! - [`request`]: an OpenAI [`ChatRequest`](crate::openai::ChatRequest) to the body
//!   of `POST /v1/messages`;
//! - [`answer`]: a complete Messages answer to an OpenAI `chat.completion`;
//! - [`stream`]: a Messages stream to OpenAI chunks, as its bytes arrive;
//! - [`error`]: Anthropic's error answers and stream `error` events to [`Failure`]s.
//!
//! The tables shared by both directions live here, each beside its reverse (used
//! to serve Anthropic's API to clients, [`crate::inbound::messages`]):
//! [`finish_reason`] and [`stop_reason`], [`usage`] and [`anthropic_usage`].
//!
//! JSON mode (`response_format` `json_object` or `json_schema`) works as LiteLLM's:
//! the request offers one more tool, [`JSON_TOOL`], whose input schema is the
//! wanted schema, and forces the model to call it; the answer's call of that tool
//! is turned back into the message's content.
//!
//! [`Failure`]: crate::failure::Failure

pub mod answer;
pub mod error;
pub mod request;
pub mod stream;
pub mod wire;

/// The name of the tool that carries a JSON-mode answer (LiteLLM's
/// `RESPONSE_FORMAT_TOOL_NAME`, so that prompts written for LiteLLM behave alike).
pub const JSON_TOOL: &str = "json_tool_call";

use crate::openai::{CompletionTokensDetails, FinishReason, PromptTokensDetails, Usage};
use wire::StopReason;

/// OpenAI's `finish_reason` for Anthropic's `stop_reason`.
///
/// `pause_turn` (a long server-tool turn paused) ends the answer as a stop: the
/// client sends it back to continue. `model_context_window_exceeded` cut the
/// answer like `max_tokens` does, so it is `length`. A reason added after this was
/// written is a `stop`: the answer ended, and nothing says it was cut.
pub fn finish_reason(stop: &StopReason) -> FinishReason {
    match stop {
        StopReason::EndTurn | StopReason::StopSequence | StopReason::PauseTurn | StopReason::Other(_) => {
            FinishReason::Stop
        }
        StopReason::MaxTokens | StopReason::ModelContextWindowExceeded => FinishReason::Length,
        StopReason::ToolUse => FinishReason::ToolCalls,
        StopReason::Refusal => FinishReason::ContentFilter,
    }
}

/// Anthropic's `stop_reason` for OpenAI's `finish_reason`: the reverse of
/// [`finish_reason`], for Anthropic clients of other providers.
///
/// `stop` is `end_turn`: OpenAI does not say whether a stop sequence ended the
/// answer. `content_filter` is a `refusal`, and the legacy `function_call` a
/// `tool_use`. Each reason maps back to itself through [`finish_reason`] but
/// `function_call`, which comes back as `tool_calls`.
pub fn stop_reason(finish: FinishReason) -> StopReason {
    match finish {
        FinishReason::Stop => StopReason::EndTurn,
        FinishReason::Length => StopReason::MaxTokens,
        FinishReason::ToolCalls | FinishReason::FunctionCall => StopReason::ToolUse,
        FinishReason::ContentFilter => StopReason::Refusal,
    }
}

/// OpenAI's usage for Anthropic's, as LiteLLM counts it: `prompt_tokens` is the
/// uncached input plus the input read from the prompt cache, `completion_tokens` the
/// output; the cache reads and writes are detailed in `prompt_tokens_details`, the
/// thinking tokens in `completion_tokens_details.reasoning_tokens`.
pub fn usage(usage: &wire::Usage) -> Usage {
    let cache_read = usage.cache_read_input_tokens.unwrap_or(0);
    let prompt_tokens = usage.input_tokens + cache_read;
    let cached = usage.cache_read_input_tokens.is_some() || usage.cache_creation_input_tokens.is_some();
    Usage {
        prompt_tokens,
        completion_tokens: usage.output_tokens,
        total_tokens: prompt_tokens + usage.output_tokens,
        prompt_tokens_details: cached.then_some(PromptTokensDetails {
            cached_tokens: cache_read,
            cache_creation_tokens: usage.cache_creation_input_tokens,
        }),
        completion_tokens_details: usage
            .output_tokens_details
            .map(|details| CompletionTokensDetails { reasoning_tokens: details.thinking_tokens }),
    }
}

/// Anthropic's usage for OpenAI's: the reverse of [`usage`]. `input_tokens` leaves
/// out the prompt tokens read from the cache (Anthropic counts those apart); cache
/// reads and writes are given only when OpenAI's usage details them, and the
/// reasoning tokens as `output_tokens_details.thinking_tokens`.
pub fn anthropic_usage(usage: &Usage) -> wire::Usage {
    let details = usage.prompt_tokens_details;
    let cache_read = details.map(|details| details.cached_tokens);
    wire::Usage {
        input_tokens: usage.prompt_tokens.saturating_sub(cache_read.unwrap_or(0)),
        output_tokens: usage.completion_tokens,
        cache_creation_input_tokens: details.and_then(|details| details.cache_creation_tokens),
        cache_read_input_tokens: cache_read,
        output_tokens_details: usage
            .completion_tokens_details
            .map(|details| wire::OutputTokensDetails { thinking_tokens: details.reasoning_tokens }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_reasons_map_to_finish_reasons() {
        let cases = [
            (StopReason::EndTurn, FinishReason::Stop),
            (StopReason::StopSequence, FinishReason::Stop),
            (StopReason::PauseTurn, FinishReason::Stop),
            (StopReason::MaxTokens, FinishReason::Length),
            (StopReason::ModelContextWindowExceeded, FinishReason::Length),
            (StopReason::ToolUse, FinishReason::ToolCalls),
            (StopReason::Refusal, FinishReason::ContentFilter),
            (StopReason::Other("later".into()), FinishReason::Stop),
        ];
        for (stop, finish) in cases {
            assert_eq!(finish_reason(&stop), finish, "{stop:?}");
        }
    }

    #[test]
    fn finish_reasons_map_back_to_stop_reasons_and_round_trip() {
        let cases = [
            (FinishReason::Stop, StopReason::EndTurn),
            (FinishReason::Length, StopReason::MaxTokens),
            (FinishReason::ToolCalls, StopReason::ToolUse),
            (FinishReason::ContentFilter, StopReason::Refusal),
            (FinishReason::FunctionCall, StopReason::ToolUse),
        ];
        for (finish, stop) in cases {
            assert_eq!(stop_reason(finish), stop, "{finish:?}");
            let back = if finish == FinishReason::FunctionCall { FinishReason::ToolCalls } else { finish };
            assert_eq!(finish_reason(&stop_reason(finish)), back, "{finish:?}");
        }
    }

    #[test]
    fn usage_maps_back_to_anthropic_s_and_round_trips() {
        let openai = Usage {
            prompt_tokens: 1825,
            completion_tokens: 90,
            total_tokens: 1915,
            prompt_tokens_details: Some(PromptTokensDetails { cached_tokens: 1800, cache_creation_tokens: Some(100) }),
            completion_tokens_details: Some(CompletionTokensDetails { reasoning_tokens: 40 }),
        };
        let anthropic = anthropic_usage(&openai);
        assert_eq!(
            anthropic,
            wire::Usage {
                input_tokens: 25,
                output_tokens: 90,
                cache_creation_input_tokens: Some(100),
                cache_read_input_tokens: Some(1800),
                output_tokens_details: Some(wire::OutputTokensDetails { thinking_tokens: 40 }),
            }
        );
        let plain = Usage { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7, ..Usage::default() };
        let cached_only = Usage {
            prompt_tokens_details: Some(PromptTokensDetails { cached_tokens: 2, ..Default::default() }),
            ..plain
        };
        for case in [openai, plain, cached_only] {
            assert_eq!(usage(&anthropic_usage(&case)), case, "{case:?}");
        }
        assert_eq!(anthropic_usage(&plain).cache_read_input_tokens, None);
    }

    #[test]
    fn prompt_tokens_count_cache_reads_and_detail_cache_writes() {
        let anthropic = wire::Usage {
            input_tokens: 25,
            output_tokens: 90,
            cache_creation_input_tokens: Some(100),
            cache_read_input_tokens: Some(1800),
            output_tokens_details: Some(wire::OutputTokensDetails { thinking_tokens: 40 }),
        };
        let openai = usage(&anthropic);
        assert_eq!((openai.prompt_tokens, openai.completion_tokens, openai.total_tokens), (1825, 90, 1915));
        assert_eq!(
            openai.prompt_tokens_details,
            Some(PromptTokensDetails { cached_tokens: 1800, cache_creation_tokens: Some(100) })
        );
        assert_eq!(openai.completion_tokens_details, Some(CompletionTokensDetails { reasoning_tokens: 40 }));
        let plain = usage(&wire::Usage { input_tokens: 3, output_tokens: 4, ..wire::Usage::default() });
        assert_eq!(plain, Usage { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7, ..Usage::default() });
    }
}
