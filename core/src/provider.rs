//! Providers Switchyard can call, and how a deployment's `model` names one.
//!
//! LiteLLM writes a deployment's model as `<provider>/<model>`; a bare name means
//! OpenAI (or Anthropic, for LiteLLM's bare `claude-*` names). The prefix decides
//! the wire format the deployment speaks ([`Kind`]): OpenAI's (the body forwarded
//! with only the model renamed), Azure OpenAI's (OpenAI's, on Azure's URLs and
//! keys), or another that the gateway translates to and from (`anthropic`,
//! `gemini`, `vertex_ai`, `bedrock`).

pub mod anthropic;
pub mod azure;
pub mod bedrock;
pub mod gemini;
pub mod oauth;
pub mod openai_stream;
pub mod vertex;

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
    /// Google AI Studio's Gemini API (`gemini/<model>`), translated.
    Gemini,
    /// Gemini on Vertex AI (`vertex_ai/<model>`): the same body on Google Cloud's
    /// URLs, with a service account's tokens.
    Vertex,
    /// Anthropic's models on Vertex AI (`vertex_ai/claude-*`): Anthropic's body on
    /// Vertex's `rawPredict` URLs.
    VertexAnthropic,
    /// Amazon Bedrock's Converse API (`bedrock/<model id>`), signed with SigV4.
    Bedrock,
}

impl Kind {
    /// Whether the client's OpenAI body goes to the deployment as it came.
    pub fn forwards_bytes(self) -> bool {
        match self {
            Self::OpenAi | Self::Azure | Self::AzureText => true,
            Self::Anthropic | Self::Gemini | Self::Vertex | Self::VertexAnthropic | Self::Bedrock => false,
        }
    }
}

/// One provider prefix: its wire format, and its base URL when it has one of its
/// own (`None`: the deployment must set `api_base`, or, for Vertex AI and Bedrock,
/// its region makes it).
struct Provider {
    prefix: &'static str,
    kind: Kind,
    default_api_base: Option<&'static str>,
    /// The path an `api_base` given without it is completed with: self-hosted
    /// servers whose OpenAI endpoints live under `/v1` (Ollama's, TGI's, vLLM's),
    /// written by LiteLLM users as the server's root.
    openai_root: Option<&'static str>,
}

const fn openai(prefix: &'static str, default_api_base: Option<&'static str>) -> Provider {
    Provider { prefix, kind: Kind::OpenAi, default_api_base, openai_root: None }
}

/// A self-hosted server's OpenAI-compatible endpoints, under `/v1` of its root.
const fn self_hosted(prefix: &'static str) -> Provider {
    Provider { prefix, kind: Kind::OpenAi, default_api_base: None, openai_root: Some("/v1") }
}

const fn translated(prefix: &'static str, kind: Kind, default_api_base: Option<&'static str>) -> Provider {
    Provider { prefix, kind, default_api_base, openai_root: None }
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
    self_hosted("ollama"),
    self_hosted("ollama_chat"),
    self_hosted("huggingface"),
    self_hosted("vllm"),
    translated("azure", Kind::Azure, None),
    translated("azure_text", Kind::AzureText, None),
    translated("anthropic", Kind::Anthropic, Some("https://api.anthropic.com")),
    translated("gemini", Kind::Gemini, Some("https://generativelanguage.googleapis.com/v1beta")),
    // Their endpoints are made from the deployment's region (see `config`).
    translated("vertex_ai", Kind::Vertex, None),
    translated("bedrock", Kind::Bedrock, None),
];

/// LiteLLM providers Switchyard does not call, named in the error that refuses them.
const NOT_YET: &[&str] = &[
    "replicate",
    "cohere",
    "cohere_chat",
    "sagemaker",
    "sagemaker_chat",
    "watsonx",
    "databricks",
    "cloudflare",
    "ai21",
    "nlp_cloud",
    "aleph_alpha",
    "petals",
    "palm",
    "vertex_ai_beta",
    "predibase",
    "clarifai",
    "triton",
    "oci",
    "snowflake",
    "dashscope",
    "voyage",
    "jina_ai",
    "friendliai",
    "github",
    "nscale",
    "featherless_ai",
    "novita",
    "lambda_ai",
    "hyperbolic",
    "volcengine",
    "infinity",
];

/// A deployment's `model` split into where it goes and what the provider calls it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderModel<'a> {
    /// LiteLLM's name of the provider: the prefix (`openai` for a bare name).
    pub provider: &'static str,
    pub kind: Kind,
    /// The model name the provider expects: the prefix stripped.
    pub model: &'a str,
    pub default_api_base: Option<&'static str>,
    /// See `Provider::openai_root`.
    pub openai_root: Option<&'static str>,
}

/// Why a `model` string cannot be routed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    #[error("provider `{0}` is not supported yet; supported providers: {list}", list = supported_list())]
    Unsupported(String),
    #[error("the model name after `{0}/` is empty")]
    EmptyModel(String),
    #[error(
        "`bedrock/{0}/` calls Bedrock's InvokeModel API in each model's own format; Switchyard calls the \
         Converse API, which serves the same models: write `bedrock/<model id>` or `bedrock/converse/<model id>`"
    )]
    BedrockRoute(String),
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
    let (kind, name) = match entry.kind {
        // LiteLLM's route prefix: the Converse API, which is the one Switchyard calls.
        Kind::Bedrock => match name.split_once('/') {
            Some(("converse", id)) => (Kind::Bedrock, id),
            Some((route @ ("invoke" | "llama" | "deepseek_r1" | "qwen3" | "openai"), _)) => {
                return Err(ProviderError::BedrockRoute(route.to_owned()));
            }
            _ => (Kind::Bedrock, name),
        },
        // Anthropic's models on Vertex speak Anthropic's Messages API there.
        Kind::Vertex if name.starts_with("claude-") => (Kind::VertexAnthropic, name),
        kind => (kind, name),
    };
    if name.is_empty() {
        return Err(ProviderError::EmptyModel(provider.to_owned()));
    }
    Ok(ProviderModel {
        provider: entry.prefix,
        kind,
        model: name,
        default_api_base: entry.default_api_base,
        openai_root: entry.openai_root,
    })
}

/// The providers Switchyard calls, and those of LiteLLM it does not (yet).
fn supported_list() -> String {
    let supported = PROVIDERS.iter().map(|p| p.prefix).collect::<Vec<_>>().join(", ");
    format!("{supported}; LiteLLM providers not supported yet: {}", NOT_YET.join(", "))
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
    fn google_and_aws_prefixes_name_their_wire_formats() {
        let gemini = parse("gemini/gemini-2.5-flash").unwrap();
        assert_eq!((gemini.kind, gemini.model), (Kind::Gemini, "gemini-2.5-flash"));
        assert_eq!(gemini.default_api_base, Some("https://generativelanguage.googleapis.com/v1beta"));
        assert_eq!(parse("vertex_ai/gemini-2.5-pro").unwrap().kind, Kind::Vertex);
        let claude = parse("vertex_ai/claude-sonnet-4-5@20250929").unwrap();
        assert_eq!((claude.kind, claude.model), (Kind::VertexAnthropic, "claude-sonnet-4-5@20250929"));
        let bedrock = parse("bedrock/anthropic.claude-3-5-haiku-20241022-v1:0").unwrap();
        assert_eq!((bedrock.kind, bedrock.model), (Kind::Bedrock, "anthropic.claude-3-5-haiku-20241022-v1:0"));
        let converse = parse("bedrock/converse/us.amazon.nova-pro-v1:0").unwrap();
        assert_eq!((converse.kind, converse.model), (Kind::Bedrock, "us.amazon.nova-pro-v1:0"));
        let invoke = parse("bedrock/invoke/anthropic.claude-v2").unwrap_err();
        assert!(invoke.to_string().contains("Converse API"), "{invoke}");
        for kind in [Kind::Gemini, Kind::Vertex, Kind::VertexAnthropic, Kind::Bedrock] {
            assert!(!kind.forwards_bytes(), "{kind:?}");
        }
    }

    #[test]
    fn self_hosted_servers_are_openai_compatible_under_v1() {
        for prefix in ["ollama", "ollama_chat", "huggingface", "vllm"] {
            let model = format!("{prefix}/llama3");
            let parsed = parse(&model).unwrap();
            assert_eq!((parsed.kind, parsed.default_api_base, parsed.openai_root), (Kind::OpenAi, None, Some("/v1")));
        }
        assert_eq!(parse("hosted_vllm/x").unwrap().openai_root, None, "LiteLLM's hosted_vllm takes the /v1 base");
        let err = parse("sagemaker/endpoint").unwrap_err().to_string();
        assert!(err.contains("not supported yet: replicate") && err.contains("sagemaker"), "{err}");
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
