//! One call to a deployment, whatever its provider: what is sent, and how what
//! comes back is read into OpenAI's shapes.
//!
//! Deployments that speak OpenAI's wire format (OpenAI-compatible providers and
//! Azure OpenAI) get the client's body as it came ([`forward_url`],
//! [`forward_headers`]): only their URL and credential headers differ. Others
//! ([`translate()`]) get a body built from the client's, parsed once, and their
//! answers, streams and errors are read by their [`Dialect`] ([`StreamTranslation`]
//! for a stream).

mod dialect;
mod stream;
mod translate;

pub use dialect::{Answer, AnswerPart, Dialect};
pub use stream::StreamTranslation;
pub use translate::translate;

use crate::config::{Access, AzureAccess, AzureCredential, Deployment};
use crate::endpoint::Endpoint;
use crate::provider::azure;

/// Request headers, names lowercase.
pub type Headers = Vec<(&'static str, String)>;

/// Where a deployment that takes the client's body as it came is called for `endpoint`.
pub fn forward_url(deployment: &Deployment, endpoint: Endpoint) -> String {
    match &deployment.access {
        Access::Azure(AzureAccess { api_version, .. }) => {
            azure::url(&deployment.api_base, &deployment.model, endpoint.upstream_path(), api_version)
        }
        Access::Plain | Access::Vertex(_) | Access::Bedrock(_) => {
            format!("{}{}", deployment.api_base, endpoint.upstream_path())
        }
    }
}

/// The headers that go with the client's body to such a deployment: the same on
/// every call (the shell builds them once). `bearer`: an Entra ID token, for an
/// Azure deployment that uses client credentials.
pub fn forward_headers(deployment: &Deployment, bearer: Option<&str>) -> Headers {
    let mut headers: Headers = vec![("content-type", "application/json".into())];
    let key = deployment.api_key.as_ref().map(|key| key.expose());
    match &deployment.access {
        Access::Azure(AzureAccess { credential, .. }) => match (credential, key, bearer) {
            (AzureCredential::AdToken(token), ..) => {
                headers.push(("authorization", format!("Bearer {}", token.expose())))
            }
            (AzureCredential::ClientSecret { .. }, _, Some(token)) => {
                headers.push(("authorization", format!("Bearer {token}")))
            }
            (_, Some(key), _) => headers.push(("api-key", key.to_owned())),
            _ => {}
        },
        Access::Plain | Access::Vertex(_) | Access::Bedrock(_) => {
            if let Some(key) = key {
                headers.push(("authorization", format!("Bearer {key}")));
            }
        }
    }
    headers
}

/// What the client sent that some providers pass on.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientHeaders<'a> {
    /// `anthropic-beta`: Anthropic's feature flags, passed to Anthropic as LiteLLM does.
    pub anthropic_beta: Option<&'a str>,
}

/// What a translated call needs besides the deployment and the client's body.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallContext<'a> {
    pub client: ClientHeaders<'a>,
    /// A token obtained for the deployment beforehand (Vertex AI's).
    pub bearer: Option<&'a str>,
    /// Unix seconds: a SigV4 signature (Bedrock's) says when it was made.
    pub now_s: u64,
    /// Makes up the ids a provider does not send (answers', tool calls').
    pub seed: u64,
}

/// One HTTP call: a POST of `body` to `url` with `headers`.
#[derive(Debug)]
pub struct Call {
    pub url: String,
    pub headers: Headers,
    pub body: Vec<u8>,
}

/// The calls that serve a request to a deployment that does not speak OpenAI's
/// wire format, and how their answers are read.
#[derive(Debug)]
pub struct Translated {
    /// One call, but for embeddings of a model that takes one text per call
    /// (Bedrock's Titan): one per text, their answers read together in order.
    pub calls: Vec<Call>,
    pub dialect: Dialect,
}

#[cfg(test)]
mod tests;
