//! Providers Switchyard can call, and how a deployment's `model` names one.
//!
//! LiteLLM writes a deployment's model as `<provider>/<model>`; a bare name means
//! OpenAI (or Anthropic, for LiteLLM's bare `claude-*` names). The prefix decides
//! the wire format the deployment speaks ([`Kind`]): OpenAI's (the body forwarded
//! with only the model renamed), Azure OpenAI's (OpenAI's, on Azure's URLs and
//! keys), or another that the gateway translates to and from (`anthropic`, ...).

pub mod anthropic;
pub mod azure;
pub mod bedrock;
pub mod gemini;

/// The wire format a deployment speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// OpenAI's: the client's body forwarded, the model renamed.
    OpenAi,
    /// Azure OpenAI (`azure/<deployment>`): OpenAI's body on Azure's URLs.
    Azure,
    /// Azure OpenAI's text completions (`azure_text/<deployment>`).
    AzureText,
    /// Anthropic's Messages API, translated.
    Anthropic,
}

impl Kind {
    /// Whether the client's OpenAI body goes to the deployment as it came.
    pub fn forwards_bytes(self) -> bool {
        match self {
            Self::OpenAi | Self::Azure | Self::AzureText => true,
            Self::Anthropic => false,
        }
    }
}

/// One provider prefix: its wire format, and its base URL when it has one of its
/// own (`None`: the deployment must set `api_base`).
struct Provider {
    prefix: &'static str,
    kind: Kind,
    default_api_base: Option<&'static str>,
}

const fn openai(prefix: &'static str, default_api_base: Option<&'static str>) -> Provider {
    Provider { prefix, kind: Kind::OpenAi, default_api_base }
}

const PROVIDERS: &[Provider] = &[
    openai("openai", Some("https://api.openai.com/v1")),
    openai("text-completion-openai", Some("https://api.openai.com/v1")),
    openai("custom_openai", None),
    openai("openai_like", None),
    openai("hosted_vllm", None),
    openai("lm_studio", None),
    openai("llamafile", None),
    openai("groq", Some("https://api.groq.com/openai/v1")),
    openai("deepseek", Some("https://api.deepseek.com/v1")),
    openai("together_ai", Some("https://api.together.xyz/v1")),
    openai("fireworks_ai", Some("https://api.fireworks.ai/inference/v1")),
    openai("mistral", Some("https://api.mistral.ai/v1")),
    openai("openrouter", Some("https://openrouter.ai/api/v1")),
    openai("perplexity", Some("https://api.perplexity.ai")),
    openai("deepinfra", Some("https://api.deepinfra.com/v1/openai")),
    openai("xai", Some("https://api.x.ai/v1")),
    openai("cerebras", Some("https://api.cerebras.ai/v1")),
    openai("nvidia_nim", Some("https://integrate.api.nvidia.com/v1")),
    openai("sambanova", Some("https://api.sambanova.ai/v1")),
    Provider { prefix: "azure", kind: Kind::Azure, default_api_base: None },
    Provider { prefix: "azure_text", kind: Kind::AzureText, default_api_base: None },
    Provider { prefix: "anthropic", kind: Kind::Anthropic, default_api_base: Some("https://api.anthropic.com") },
];

/// A deployment's `model` split into where it goes and what the provider calls it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderModel<'a> {
    pub provider: &'a str,
    pub kind: Kind,
    /// The model name the provider expects: the prefix stripped.
    pub model: &'a str,
    pub default_api_base: Option<&'static str>,
}

/// Why a `model` string cannot be routed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    #[error("provider `{0}` is not supported yet; supported providers: {list}", list = supported_list())]
    Unsupported(String),
    #[error("the model name after `{0}/` is empty")]
    EmptyModel(String),
}

pub fn parse(model: &str) -> Result<ProviderModel<'_>, ProviderError> {
    let (provider, name) = match model.split_once('/') {
        Some(split) => split,
        // LiteLLM's bare Claude names are Anthropic's.
        None if model.starts_with("claude-") => ("anthropic", model),
        None => ("openai", model),
    };
    let Some(entry) = PROVIDERS.iter().find(|p| p.prefix == provider) else {
        return Err(ProviderError::Unsupported(provider.to_owned()));
    };
    if name.is_empty() {
        return Err(ProviderError::EmptyModel(provider.to_owned()));
    }
    Ok(ProviderModel { provider, kind: entry.kind, model: name, default_api_base: entry.default_api_base })
}

fn supported_list() -> String {
    PROVIDERS.iter().map(|p| p.prefix).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_names_are_openai() {
        let parsed = parse("gpt-4o").unwrap();
        assert_eq!(parsed.provider, "openai");
        assert_eq!(parsed.model, "gpt-4o");
        assert_eq!(parsed.default_api_base, Some("https://api.openai.com/v1"));
    }

    #[test]
    fn the_prefix_is_stripped_and_only_the_first_slash_splits() {
        let parsed = parse("openrouter/meta-llama/llama-3-70b").unwrap();
        assert_eq!(parsed.provider, "openrouter");
        assert_eq!(parsed.model, "meta-llama/llama-3-70b");
    }

    #[test]
    fn self_hosted_providers_have_no_default_base() {
        assert_eq!(parse("hosted_vllm/llama").unwrap().default_api_base, None);
    }

    #[test]
    fn unknown_providers_and_empty_names_are_refused() {
        let err = parse("replicate/llama").unwrap_err();
        assert!(err.to_string().contains("`replicate` is not supported yet"), "{err}");
        assert!(err.to_string().contains("groq") && err.to_string().contains("anthropic"));
        assert_eq!(parse("openai/").unwrap_err(), ProviderError::EmptyModel("openai".into()));
    }

    #[test]
    fn each_prefix_names_its_wire_format() {
        assert_eq!(parse("azure/my-gpt4o").unwrap().kind, Kind::Azure);
        assert_eq!(parse("azure_text/davinci").unwrap().kind, Kind::AzureText);
        let claude = parse("anthropic/claude-sonnet-4-5").unwrap();
        assert_eq!((claude.kind, claude.model), (Kind::Anthropic, "claude-sonnet-4-5"));
        assert_eq!(claude.default_api_base, Some("https://api.anthropic.com"));
        let bare = parse("claude-3-5-haiku-latest").unwrap();
        assert_eq!((bare.provider, bare.model), ("anthropic", "claude-3-5-haiku-latest"));
        assert!(parse("groq/llama").unwrap().kind.forwards_bytes());
        assert!(!claude.kind.forwards_bytes());
        assert_eq!(parse("azure/x").unwrap().default_api_base, None);
    }
}
