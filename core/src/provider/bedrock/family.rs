//! Which model family a Bedrock model id names, for the few request fields
//! that depend on it.
//!
//! A model id is a foundation model's (`anthropic.claude-3-5-sonnet-20241022-v2:0`),
//! a cross-region inference profile's (the same with a geography in front:
//! `us.`, `eu.`, `apac.`, `global.`, ...), or an ARN ending in either. Custom and
//! provisioned model ARNs end in an opaque id: their family is unknown.

/// The families whose Converse requests differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Anthropic,
    /// Amazon Nova (`amazon.nova-*`).
    Nova,
    Cohere,
    /// Mistral Large, which takes `any` as a tool choice but not `tool`.
    MistralLarge,
    /// Every other model, and ids whose family cannot be told.
    Other,
}

/// How `top_k` travels in `additionalModelRequestFields`, for the families
/// whose native request has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopK {
    /// Anthropic: `{"top_k": k}`.
    TopK,
    /// Amazon Nova: `{"inferenceConfig": {"topK": k}}`.
    NovaInferenceConfig,
    /// Cohere Command: `{"k": k}`.
    K,
}

/// How a request can make the model call one tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForcedTool {
    /// `{"tool": {"name": ...}}`: Anthropic Claude 3 and later, Amazon Nova.
    ByName,
    /// `{"any": {}}`, which forces a call when there is one tool: Mistral Large.
    Any,
    /// Neither: the tool is offered and the model decides.
    No,
}

impl Family {
    pub fn of(model_id: &str) -> Self {
        let base = base_model(model_id);
        let (provider, rest) = base.split_once('.').unwrap_or((base, ""));
        match provider {
            "anthropic" => Self::Anthropic,
            "amazon" if rest.starts_with("nova") => Self::Nova,
            "cohere" => Self::Cohere,
            "mistral" if rest.starts_with("mistral-large") => Self::MistralLarge,
            _ => Self::Other,
        }
    }

    pub fn top_k(self) -> Option<TopK> {
        match self {
            Self::Anthropic => Some(TopK::TopK),
            Self::Nova => Some(TopK::NovaInferenceConfig),
            Self::Cohere => Some(TopK::K),
            Self::MistralLarge | Self::Other => None,
        }
    }

    pub fn forced_tool(self) -> ForcedTool {
        match self {
            Self::Anthropic | Self::Nova => ForcedTool::ByName,
            Self::MistralLarge => ForcedTool::Any,
            Self::Cohere | Self::Other => ForcedTool::No,
        }
    }

    /// Whether the model takes Anthropic's `thinking` (extended reasoning).
    pub fn thinks(self) -> bool {
        self == Self::Anthropic
    }
}

/// The foundation model an id names: without an ARN's head or an inference
/// profile's geography (`us.amazon.nova-pro-v1:0` is `amazon.nova-pro-v1:0`).
pub fn base_model(model_id: &str) -> &str {
    let id = model_id.rsplit('/').next().unwrap_or(model_id);
    match id.split_once('.') {
        Some((geography, rest)) if !is_provider(geography) => rest,
        _ => id,
    }
}

/// The model providers on Bedrock, as the first segment of a foundation model id.
fn is_provider(segment: &str) -> bool {
    matches!(
        segment,
        "anthropic"
            | "amazon"
            | "cohere"
            | "mistral"
            | "meta"
            | "ai21"
            | "deepseek"
            | "writer"
            | "qwen"
            | "openai"
            | "stability"
            | "twelvelabs"
            | "moonshot"
            | "minimax"
            | "google"
            | "nvidia"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_told_from_ids_profiles_and_arns() {
        assert_eq!(Family::of("anthropic.claude-3-5-sonnet-20241022-v2:0"), Family::Anthropic);
        assert_eq!(Family::of("us.anthropic.claude-3-7-sonnet-20250219-v1:0"), Family::Anthropic);
        assert_eq!(Family::of("global.anthropic.claude-sonnet-4-20250514-v1:0"), Family::Anthropic);
        assert_eq!(Family::of("arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-v2:1"), Family::Anthropic);
        assert_eq!(
            Family::of("arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.amazon.nova-pro-v1:0"),
            Family::Nova
        );
        assert_eq!(Family::of("amazon.nova-lite-v1:0"), Family::Nova);
        assert_eq!(Family::of("amazon.titan-text-express-v1"), Family::Other);
        assert_eq!(Family::of("cohere.command-r-plus-v1:0"), Family::Cohere);
        assert_eq!(Family::of("mistral.mistral-large-2407-v1:0"), Family::MistralLarge);
        assert_eq!(Family::of("mistral.mixtral-8x7b-instruct-v0:1"), Family::Other);
        assert_eq!(Family::of("us.meta.llama3-3-70b-instruct-v1:0"), Family::Other);
        assert_eq!(Family::of("arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc123def456"), Family::Other);
        assert_eq!(Family::of(""), Family::Other);
    }

    #[test]
    fn the_base_model_drops_arn_heads_and_geographies() {
        assert_eq!(base_model("us.amazon.titan-embed-text-v2:0"), "amazon.titan-embed-text-v2:0");
        assert_eq!(base_model("cohere.embed-english-v3"), "cohere.embed-english-v3");
        assert_eq!(
            base_model("arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v1"),
            "amazon.titan-embed-text-v1"
        );
        assert_eq!(base_model("abc123def456"), "abc123def456");
    }

    #[test]
    fn the_families_differ_in_top_k_forced_tools_and_thinking() {
        assert_eq!(Family::Anthropic.top_k(), Some(TopK::TopK));
        assert_eq!(Family::Nova.top_k(), Some(TopK::NovaInferenceConfig));
        assert_eq!(Family::Other.top_k(), None);
        assert_eq!(Family::Nova.forced_tool(), ForcedTool::ByName);
        assert_eq!(Family::MistralLarge.forced_tool(), ForcedTool::Any);
        assert_eq!(Family::Cohere.forced_tool(), ForcedTool::No);
        assert!(Family::Anthropic.thinks() && !Family::Nova.thinks());
    }
}
