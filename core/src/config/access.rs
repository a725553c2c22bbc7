//! What reaching a deployment takes beyond its base URL and key: the settings its
//! provider reads (Azure's API version and credential, Vertex AI's project,
//! location and service account, Bedrock's region and AWS credentials), checked at
//! load.

use super::raw::RawLitellmParams;
use super::{ConfigError, EnvLookup, resolve};
use crate::provider::bedrock::endpoint;
use crate::provider::vertex::{self, ServiceAccount};
use crate::provider::{Kind, azure};
use crate::secret::Secret;

/// Provider-specific settings of a deployment.
#[derive(Debug, Clone, PartialEq)]
pub enum Access {
    /// Only the base URL and the key (OpenAI-compatible providers, Anthropic, Gemini).
    Plain,
    Azure(AzureAccess),
    Vertex(VertexAccess),
    Bedrock(BedrockAccess),
}

impl Access {
    /// The endpoint a deployment that sets no `api_base` is called at, where its
    /// provider's depends on its settings (Vertex AI's location, Bedrock's region).
    pub fn default_api_base(&self) -> Option<String> {
        match self {
            Self::Plain | Self::Azure(_) => None,
            Self::Vertex(vertex) => Some(vertex::api_base(&vertex.location)),
            Self::Bedrock(bedrock) => Some(format!("https://{}", endpoint::host(&bedrock.region))),
        }
    }

    /// Where the deployment runs, when its settings say (for region pre-call checks).
    pub fn region(&self) -> Option<&str> {
        match self {
            Self::Plain | Self::Azure(_) => None,
            Self::Vertex(vertex) => Some(&vertex.location),
            Self::Bedrock(bedrock) => Some(&bedrock.region),
        }
    }

    /// The secrets these settings hold, to be masked wherever a provider's text goes.
    pub fn secrets(&self) -> Vec<&str> {
        match self {
            Self::Plain => Vec::new(),
            Self::Azure(AzureAccess { credential, .. }) => match credential {
                AzureCredential::Key => Vec::new(),
                AzureCredential::AdToken(token) => vec![token.expose()],
                AzureCredential::ClientSecret { client_secret, .. } => vec![client_secret.expose()],
            },
            Self::Vertex(vertex) => vec![vertex.account.private_key.expose()],
            Self::Bedrock(bedrock) => match &bedrock.credential {
                AwsCredential::Keys { secret_access_key, session_token, .. } => {
                    std::iter::once(secret_access_key).chain(session_token).map(Secret::expose).collect()
                }
                AwsCredential::ApiKey => Vec::new(),
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct VertexAccess {
    /// `vertex_project`, else the service account's own project.
    pub project: String,
    /// `vertex_location`, else LiteLLM's default ([`vertex::DEFAULT_LOCATION`]).
    pub location: String,
    pub account: ServiceAccount,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BedrockAccess {
    /// `aws_region_name`, else the `AWS_REGION_NAME` or `AWS_REGION` variable.
    pub region: String,
    pub credential: AwsCredential,
}

/// How a Bedrock deployment proves who it calls for.
#[derive(Debug, Clone, PartialEq)]
pub enum AwsCredential {
    /// An IAM key pair (with a session token for temporary credentials): every
    /// request is signed with SigV4.
    Keys { access_key_id: String, secret_access_key: Secret, session_token: Option<Secret> },
    /// The deployment's `api_key`, a Bedrock API key, sent as a bearer token
    /// (or, for a mock, nothing: it calls nobody).
    ApiKey,
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
    let mock = params.mock_response.is_some();
    match kind {
        Kind::OpenAi => Ok(Access::Plain),
        Kind::Anthropic | Kind::Gemini if has_key || mock => Ok(Access::Plain),
        Kind::Anthropic => Err(ConfigError::at(field("api_key"), "an Anthropic deployment needs its api_key")),
        Kind::Gemini => Err(ConfigError::at(
            field("api_key"),
            "a Gemini (Google AI Studio) deployment needs its api_key (e.g. os.environ/GEMINI_API_KEY)",
        )),
        Kind::Vertex | Kind::VertexAnthropic => vertex_access(path, params, env).map(Access::Vertex),
        Kind::Bedrock => bedrock_access(path, params, has_key, env).map(Access::Bedrock),
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
                (None, (None, None, None)) if has_key || mock => AzureCredential::Key,
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

fn vertex_access(path: &str, params: &RawLitellmParams, env: EnvLookup<'_>) -> Result<VertexAccess, ConfigError> {
    let field = |name: &str| format!("{path}.litellm_params.{name}");
    let value = |name: &str, raw: &Option<String>| raw.as_deref().map(|v| resolve(&field(name), v, env)).transpose();
    let key = match &params.vertex_credentials {
        Some(serde_json::Value::String(text)) => resolve(&field("vertex_credentials"), text, env)?,
        // The key written inline, as a mapping.
        Some(object @ serde_json::Value::Object(_)) => object.to_string(),
        Some(_) => {
            return Err(ConfigError::at(
                field("vertex_credentials"),
                "must be a service account key's JSON, as text or as a mapping",
            ));
        }
        None => {
            return Err(ConfigError::at(
                field("vertex_credentials"),
                "a Vertex AI deployment needs vertex_credentials: a service account key's JSON (e.g. \
                 os.environ/VERTEX_CREDENTIALS); a Worker has no application default credentials",
            ));
        }
    };
    let account = ServiceAccount::parse(&key).map_err(|why| ConfigError::at(field("vertex_credentials"), why))?;
    let project = match value("vertex_project", &params.vertex_project)?.or_else(|| account.project_id.clone()) {
        Some(project) => project,
        None => {
            return Err(ConfigError::at(
                field("vertex_project"),
                "a Vertex AI deployment needs vertex_project (its service account key names none)",
            ));
        }
    };
    let location = value("vertex_location", &params.vertex_location)?.unwrap_or(vertex::DEFAULT_LOCATION.to_owned());
    if location.is_empty() || !location.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
        return Err(ConfigError::at(field("vertex_location"), "must be a Google Cloud location such as us-central1"));
    }
    Ok(VertexAccess { project, location, account })
}

fn bedrock_access(
    path: &str,
    params: &RawLitellmParams,
    has_key: bool,
    env: EnvLookup<'_>,
) -> Result<BedrockAccess, ConfigError> {
    let field = |name: &str| format!("{path}.litellm_params.{name}");
    // As AWS's SDKs (and so LiteLLM) do, what the deployment does not set is read
    // from the standard AWS variables.
    let value = |name: &str, raw: &Option<String>, variables: &[&str]| match raw {
        Some(v) => resolve(&field(name), v, env).map(Some),
        None => Ok(variables.iter().find_map(|variable| env(variable))),
    };
    let region = value("aws_region_name", &params.aws_region_name, &["AWS_REGION_NAME", "AWS_REGION"])?;
    let Some(region) = region.filter(|r| !r.is_empty()) else {
        return Err(ConfigError::at(
            field("aws_region_name"),
            "a Bedrock deployment needs aws_region_name (or an AWS_REGION_NAME or AWS_REGION variable)",
        ));
    };
    if !region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
        return Err(ConfigError::at(field("aws_region_name"), "must be an AWS region such as us-east-1"));
    }
    // A deployment's own `api_key` (a Bedrock API key) beats keys it does not name.
    let (id_vars, secret_vars): (&[&str], &[&str]) =
        if has_key { (&[], &[]) } else { (&["AWS_ACCESS_KEY_ID"], &["AWS_SECRET_ACCESS_KEY"]) };
    let access_key_id = value("aws_access_key_id", &params.aws_access_key_id, id_vars)?;
    let secret = value("aws_secret_access_key", &params.aws_secret_access_key, secret_vars)?;
    let session_token = value("aws_session_token", &params.aws_session_token, &["AWS_SESSION_TOKEN"])?;
    let credential = match (access_key_id, secret) {
        (Some(access_key_id), Some(secret)) => AwsCredential::Keys {
            access_key_id,
            secret_access_key: Secret::new(secret),
            session_token: session_token.map(Secret::new),
        },
        // A key pair set halfway is a mistake, not a reason to use another credential.
        (Some(_), None) | (None, Some(_)) => {
            return Err(ConfigError::at(
                field("aws_secret_access_key"),
                "AWS credentials need both aws_access_key_id and aws_secret_access_key",
            ));
        }
        (None, None) if has_key || params.mock_response.is_some() => AwsCredential::ApiKey,
        (None, None) => {
            return Err(ConfigError::at(
                field("aws_access_key_id"),
                "a Bedrock deployment needs aws_access_key_id and aws_secret_access_key (or the AWS_ACCESS_KEY_ID \
                 and AWS_SECRET_ACCESS_KEY variables), or a Bedrock API key in api_key",
            ));
        }
    };
    Ok(BedrockAccess { region, credential })
}
