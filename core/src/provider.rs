//! Providers Switchyard can call, and how a deployment's `model` names one.
//!
//! LiteLLM writes a deployment's model as `<provider>/<model>`; a bare name means
//! OpenAI. Every provider here speaks OpenAI's wire format, so the request is
//! forwarded with only the model renamed; the table gives each its default base URL.

pub mod anthropic;
pub mod bedrock;
pub mod gemini;

/// `(provider prefix, default api_base)`. `None`: the deployment must set `api_base`.
const OPENAI_COMPATIBLE: &[(&str, Option<&str>)] = &[
    ("openai", Some("https://api.openai.com/v1")),
    ("text-completion-openai", Some("https://api.openai.com/v1")),
    ("custom_openai", None),
    ("openai_like", None),
    ("hosted_vllm", None),
    ("lm_studio", None),
    ("llamafile", None),
    ("groq", Some("https://api.groq.com/openai/v1")),
    ("deepseek", Some("https://api.deepseek.com/v1")),
    ("together_ai", Some("https://api.together.xyz/v1")),
    ("fireworks_ai", Some("https://api.fireworks.ai/inference/v1")),
    ("mistral", Some("https://api.mistral.ai/v1")),
    ("openrouter", Some("https://openrouter.ai/api/v1")),
    ("perplexity", Some("https://api.perplexity.ai")),
    ("deepinfra", Some("https://api.deepinfra.com/v1/openai")),
    ("xai", Some("https://api.x.ai/v1")),
    ("cerebras", Some("https://api.cerebras.ai/v1")),
    ("nvidia_nim", Some("https://integrate.api.nvidia.com/v1")),
    ("sambanova", Some("https://api.sambanova.ai/v1")),
];

/// A deployment's `model` split into where it goes and what the provider calls it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderModel<'a> {
    pub provider: &'a str,
    /// The model name the provider expects: the prefix stripped.
    pub model: &'a str,
    pub default_api_base: Option<&'static str>,
}

/// Why a `model` string cannot be routed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    #[error("provider `{0}` is not supported yet; supported (OpenAI-compatible) providers: {list}", list = supported_list())]
    Unsupported(String),
    #[error("the model name after `{0}/` is empty")]
    EmptyModel(String),
}

pub fn parse(model: &str) -> Result<ProviderModel<'_>, ProviderError> {
    let (provider, name) = model.split_once('/').unwrap_or(("openai", model));
    let Some(&(_, default_api_base)) = OPENAI_COMPATIBLE.iter().find(|(p, _)| *p == provider) else {
        return Err(ProviderError::Unsupported(provider.to_owned()));
    };
    if name.is_empty() {
        return Err(ProviderError::EmptyModel(provider.to_owned()));
    }
    Ok(ProviderModel { provider, model: name, default_api_base })
}

fn supported_list() -> String {
    OPENAI_COMPATIBLE.iter().map(|(p, _)| *p).collect::<Vec<_>>().join(", ")
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
        let err = parse("anthropic/claude-3").unwrap_err();
        assert!(err.to_string().contains("`anthropic` is not supported yet"), "{err}");
        assert!(err.to_string().contains("groq"));
        assert_eq!(parse("openai/").unwrap_err(), ProviderError::EmptyModel("openai".into()));
    }
}
