//! Azure OpenAI: OpenAI's wire format on Azure's URLs, with Azure's credentials.
//!
//! A request goes to `{api_base}/openai/deployments/{deployment}/{path}?api-version=..`
//! with the key in `api-key`, or a Microsoft Entra ID token as a bearer. The body
//! and the answers are OpenAI's (Azure adds its content-filter annotations, which
//! pass through), so they are forwarded as bytes, as for OpenAI.

use super::oauth::{self, Token};

/// The `api-version` sent when the deployment sets none: LiteLLM's default.
pub const DEFAULT_API_VERSION: &str = "2025-02-01-preview";
/// Where Entra ID issues tokens, unless `AZURE_AUTHORITY_HOST` says otherwise (as
/// Azure's SDKs read it).
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";
/// What an Entra ID token for Azure OpenAI is asked for.
pub const ENTRA_SCOPE: &str = "https://cognitiveservices.azure.com/.default";

/// The URL of an OpenAI endpoint (`path`, e.g. `/chat/completions`) of Azure
/// deployment `deployment`, as LiteLLM calls it:
/// - an `api_base` of the v1 API (`.../openai/v1`) takes the endpoint's path after
///   it (the deployment is then the body's `model`);
/// - an `api_base` that names a deployment already (`.../openai/deployments/<d>`,
///   even a whole URL with its endpoint and `api-version`) is used as it is, the
///   endpoint's path and the `api-version` added where it lacks them;
/// - any other is the resource's endpoint.
pub fn url(api_base: &str, deployment: &str, path: &str, api_version: &str) -> String {
    let (base, query) = match api_base.split_once('?') {
        Some((base, query)) => (base.trim_end_matches('/'), Some(query)),
        None => (api_base.trim_end_matches('/'), None),
    };
    if base.ends_with("/openai/v1") {
        return match query {
            Some(query) => format!("{base}{path}?{query}"),
            None => format!("{base}{path}"),
        };
    }
    let url = if base.contains("/openai/deployments/") {
        if base.ends_with(path) { base.to_owned() } else { format!("{base}{path}") }
    } else {
        format!("{base}/openai/deployments/{deployment}{path}")
    };
    match query {
        Some(query) if query.split('&').any(|pair| pair.starts_with("api-version=")) => format!("{url}?{query}"),
        Some(query) => format!("{url}?{query}&api-version={api_version}"),
        None => format!("{url}?api-version={api_version}"),
    }
}

/// Entra ID's token endpoint for `tenant` at `authority`.
pub fn token_url(authority: &str, tenant: &str) -> String {
    format!("{}/{tenant}/oauth2/v2.0/token", authority.trim_end_matches('/'))
}

/// The form body of a client-credentials grant for Azure OpenAI.
pub fn token_request(client_id: &str, client_secret: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "client_credentials")
        .append_pair("client_id", client_id)
        .append_pair("client_secret", client_secret)
        .append_pair("scope", ENTRA_SCOPE)
        .finish()
}

/// Reads Entra ID's answer to a token request received at `now_ms`.
pub fn token_answer(status: u16, body: &[u8], now_ms: u64) -> Result<Token, String> {
    oauth::token_answer("Entra ID", "client credentials", status, body, now_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    const V: &str = "2025-02-01-preview";

    #[test]
    fn a_resource_endpoint_gets_the_deployment_path_and_the_api_version() {
        assert_eq!(
            url("https://res.openai.azure.com/", "gpt4o", "/chat/completions", V),
            "https://res.openai.azure.com/openai/deployments/gpt4o/chat/completions?api-version=2025-02-01-preview"
        );
        assert_eq!(
            url("https://res.openai.azure.com", "ada", "/embeddings", "2024-10-21"),
            "https://res.openai.azure.com/openai/deployments/ada/embeddings?api-version=2024-10-21"
        );
    }

    #[test]
    fn an_api_base_that_names_a_deployment_or_the_v1_api_is_used_as_litellm_uses_it() {
        let whole = "https://r.cognitiveservices.azure.com/openai/deployments/router/chat/completions?api-version=2025-01-01-preview";
        assert_eq!(url(whole, "ignored", "/chat/completions", V), whole);
        assert_eq!(
            url("https://r.openai.azure.com/openai/deployments/router", "x", "/chat/completions", V),
            "https://r.openai.azure.com/openai/deployments/router/chat/completions?api-version=2025-02-01-preview"
        );
        assert_eq!(
            url("https://r.openai.azure.com/openai/v1/", "gpt4o", "/chat/completions", V),
            "https://r.openai.azure.com/openai/v1/chat/completions"
        );
    }

    #[test]
    fn a_token_request_is_a_form_with_its_values_encoded() {
        let form = token_request("app id", "s3cr&t=");
        assert_eq!(
            form,
            "grant_type=client_credentials&client_id=app+id&client_secret=s3cr%26t%3D&scope=https%3A%2F%2Fcognitiveservices.azure.com%2F.default"
        );
        assert_eq!(
            token_url("https://login.microsoftonline.com/", "t1"),
            "https://login.microsoftonline.com/t1/oauth2/v2.0/token"
        );
    }
}
