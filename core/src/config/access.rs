//! What reaching a deployment takes beyond its base URL and key: the settings its
//! provider reads (Azure's API version and credential), checked at load.

use super::raw::RawLitellmParams;
use super::{ConfigError, EnvLookup, resolve};
use crate::provider::{Kind, azure};
use crate::secret::Secret;

/// Provider-specific settings of a deployment.
#[derive(Debug, Clone, PartialEq)]
pub enum Access {
    /// Only the base URL and the key (OpenAI-compatible providers, Anthropic).
    Plain,
    Azure(AzureAccess),
}

#[derive(Debug, Clone, PartialEq)]
pub struct AzureAccess {
    /// `api_version`, else LiteLLM's default ([`azure::DEFAULT_API_VERSION`]).
    pub api_version: String,
    pub credential: AzureCredential,
}

/// How an Azure deployment proves who it calls for.
#[derive(Debug, Clone, PartialEq)]
pub enum AzureCredential {
    /// The deployment's `api_key`, sent as `api-key`.
    Key,
    /// A Microsoft Entra ID token given in the config (`azure_ad_token`), sent as a bearer.
    AdToken(Secret),
    /// An app's client credentials (`tenant_id`, `client_id`, `client_secret`),
    /// exchanged for Entra ID tokens.
    ClientSecret { tenant_id: String, client_id: String, client_secret: Secret },
}

/// The settings `kind` needs, from the deployment's `litellm_params` at `path`.
pub(super) fn access(
    path: &str,
    kind: Kind,
    params: &RawLitellmParams,
    has_key: bool,
    env: EnvLookup<'_>,
) -> Result<Access, ConfigError> {
    let field = |name: &str| format!("{path}.litellm_params.{name}");
    let value = |name: &str, raw: &Option<String>| raw.as_deref().map(|v| resolve(&field(name), v, env)).transpose();
    match kind {
        Kind::OpenAi => Ok(Access::Plain),
        Kind::Anthropic if has_key || params.mock_response.is_some() => Ok(Access::Plain),
        Kind::Anthropic => Err(ConfigError::at(field("api_key"), "an Anthropic deployment needs its api_key")),
        Kind::Azure | Kind::AzureText => {
            let api_version =
                value("api_version", &params.api_version)?.unwrap_or(azure::DEFAULT_API_VERSION.to_owned());
            let token = value("azure_ad_token", &params.azure_ad_token)?;
            let app = (
                value("tenant_id", &params.tenant_id)?,
                value("client_id", &params.client_id)?,
                value("client_secret", &params.client_secret)?,
            );
            let credential = match (token, app) {
                (Some(token), _) => AzureCredential::AdToken(Secret::new(token)),
                (None, (Some(tenant_id), Some(client_id), Some(client_secret))) => {
                    AzureCredential::ClientSecret { tenant_id, client_id, client_secret: Secret::new(client_secret) }
                }
                (None, (None, None, None)) if has_key || params.mock_response.is_some() => AzureCredential::Key,
                (None, (None, None, None)) => {
                    return Err(ConfigError::at(
                        field("api_key"),
                        "an Azure deployment needs api_key, azure_ad_token, or tenant_id, client_id and client_secret",
                    ));
                }
                (None, _) => {
                    return Err(ConfigError::at(
                        field("client_secret"),
                        "Entra ID client credentials need all of tenant_id, client_id and client_secret",
                    ));
                }
            };
            Ok(Access::Azure(AzureAccess { api_version, credential }))
        }
    }
}
