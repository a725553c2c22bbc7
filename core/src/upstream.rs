//! One call to a deployment, whatever its provider: what is sent, and how what
//! comes back is read into OpenAI's shapes.
//!
//! Deployments that speak OpenAI's wire format (OpenAI-compatible providers and
//! Azure OpenAI) get the client's body as it came ([`forward`]): only their URL and
//! credential headers differ. Others ([`translate`]) get a body built from the
//! client's, parsed once, and their answers, streams and errors are read by their
//! [`Dialect`].

use crate::config::{Access, AzureAccess, AzureCredential, Deployment};
use crate::endpoint::Endpoint;
use crate::error::ApiError;
use crate::failure::Failure;
use crate::openai::{ChatChunk, ChatRequest, Usage};
use crate::provider::{Kind, anthropic, azure};
use crate::secret::Secrets;
use crate::translate::{ChunkEncoder, OpenAiSse, StreamDecoder, carries_answer};

/// Request headers, names lowercase.
pub type Headers = Vec<(&'static str, String)>;

/// Where a deployment that takes the client's body as it came is called for `endpoint`.
pub fn forward_url(deployment: &Deployment, endpoint: Endpoint) -> String {
    match &deployment.access {
        Access::Azure(AzureAccess { api_version, .. }) => {
            azure::url(&deployment.api_base, &deployment.model, endpoint.upstream_path(), api_version)
        }
        Access::Plain => format!("{}{}", deployment.api_base, endpoint.upstream_path()),
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
        Access::Plain => {
            if let Some(key) = key {
                headers.push(("authorization", format!("Bearer {key}")));
            }
        }
    }
    headers
}

/// A call whose body is the provider's own, built from the client's.
#[derive(Debug)]
pub struct Translated {
    pub url: String,
    pub headers: Headers,
    pub body: Vec<u8>,
    /// How the answer is read.
    pub dialect: Dialect,
}

/// What the client sent that some providers pass on.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientHeaders<'a> {
    /// `anthropic-beta`: Anthropic's feature flags, passed to Anthropic as LiteLLM does.
    pub anthropic_beta: Option<&'a str>,
}

/// The call to a deployment that does not speak OpenAI's wire format, from the
/// client's OpenAI `body` for `endpoint`. `Err`: a request this deployment cannot
/// take (a field its provider lacks, an endpoint it does not serve), in the shape of
/// a 400 naming what.
pub fn translate(
    deployment: &Deployment,
    endpoint: Endpoint,
    body: &[u8],
    client: ClientHeaders<'_>,
) -> Result<Translated, ApiError> {
    match deployment.kind {
        Kind::Anthropic => {
            if endpoint != Endpoint::ChatCompletions {
                return Err(unserved(deployment, endpoint));
            }
            let chat = parse_chat(body)?;
            let options =
                anthropic::request::RequestOptions { model: &deployment.model, drop_params: deployment.drop_params };
            let body = anthropic::request::body(&chat, &options)?;
            let mut headers: Headers = vec![
                ("content-type", "application/json".into()),
                ("anthropic-version", anthropic::wire::API_VERSION.into()),
            ];
            if let Some(key) = &deployment.api_key {
                headers.push(("x-api-key", key.expose().to_owned()));
            }
            if let Some(beta) = client.anthropic_beta {
                headers.push(("anthropic-beta", beta.to_owned()));
            }
            let url = format!("{}/v1/messages", deployment.api_base);
            Ok(Translated {
                url,
                headers,
                body,
                dialect: Dialect::Anthropic { json_mode: anthropic::request::json_mode(&chat) },
            })
        }
        Kind::OpenAi | Kind::Azure | Kind::AzureText => {
            Err(ApiError::Internal(format!("deployment `{}` takes the client's body as it came", deployment.id)))
        }
    }
}

fn parse_chat(body: &[u8]) -> Result<ChatRequest, ApiError> {
    serde_json::from_slice(body).map_err(|error| ApiError::InvalidParam {
        param: "messages",
        message: format!("the request cannot be translated for this deployment's provider: {error}"),
    })
}

fn unserved(deployment: &Deployment, endpoint: Endpoint) -> ApiError {
    ApiError::InvalidParam {
        param: "model",
        message: format!(
            "deployment `{}` serves chat completions only, not {}",
            deployment.id,
            endpoint.upstream_path()
        ),
    }
}

/// How a translated deployment's answers are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Anthropic's Messages API. `json_mode`: the answer's JSON tool call is its content.
    Anthropic { json_mode: bool },
}

/// A translated complete answer: OpenAI's JSON, and the tokens it used.
#[derive(Debug)]
pub struct Answer {
    pub body: Vec<u8>,
    pub usage: Option<Usage>,
}

impl Dialect {
    /// The failure an error answer (status 400 or more) stands for.
    pub fn failure(self, status: u16, retry_after_ms: Option<u64>, body: &[u8]) -> Failure {
        match self {
            Self::Anthropic { .. } => anthropic::error::failure(status, retry_after_ms, body),
        }
    }

    /// A success's body as OpenAI's `chat.completion`, made at `created` (unix
    /// seconds). A body that is not the provider's answer is the deployment's failure.
    // A failure is the rare way out, taken once per attempt: boxing it buys nothing.
    #[allow(clippy::result_large_err)]
    pub fn answer(self, deployment: &str, body: &[u8], created: u64) -> Result<Answer, Failure> {
        let response = match self {
            Self::Anthropic { json_mode } => anthropic::answer::chat_response(body, created, json_mode),
        }
        .map_err(|why| Failure::invalid_response(deployment, why))?;
        let usage = response.usage;
        let body = serde_json::to_vec(&response).map_err(|e| Failure::invalid_response(deployment, e.to_string()))?;
        Ok(Answer { body, usage })
    }

    /// A translator for a stream begun at `created`.
    pub fn stream(self, created: u64, include_usage: bool, secrets: Secrets) -> StreamTranslation {
        let decoder: Box<dyn StreamDecoder> = match self {
            Self::Anthropic { json_mode } => Box::new(anthropic::stream::Decoder::new(created, json_mode)),
        };
        StreamTranslation {
            decoder,
            encoder: Box::new(OpenAiSse::new(include_usage)),
            chunks: Vec::new(),
            started: false,
            failure: None,
            finished: false,
            secrets,
        }
    }
}

/// A provider's stream turned into OpenAI's SSE as its bytes arrive.
///
/// Until something of the answer is out ([`StreamTranslation::started`]), a
/// failure leaves the client with nothing, and the call may go to another
/// deployment. After, a failure ends the stream with an SSE error event and no
/// `[DONE]`, as a cut OpenAI stream ends.
pub struct StreamTranslation {
    decoder: Box<dyn StreamDecoder>,
    encoder: Box<dyn ChunkEncoder>,
    /// Reused between calls: the chunks one call decodes.
    chunks: Vec<ChatChunk>,
    started: bool,
    failure: Option<Failure>,
    finished: bool,
    /// What a provider's error event says reaches the client masked.
    secrets: Secrets,
}

impl StreamTranslation {
    /// The next bytes from the provider: OpenAI's SSE for the client.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<u8> {
        if self.failure.is_some() || self.finished {
            return Vec::new();
        }
        let decoded = self.decoder.feed(bytes, &mut self.chunks);
        // OpenAI's chunks are about as long as other providers' events: room for
        // twice the bytes in saves growing the buffer chunk by chunk.
        self.write(decoded, bytes.len() * 2)
    }

    /// The provider's stream ended: what is left, and `[DONE]` if it ended whole.
    pub fn finish(&mut self) -> Vec<u8> {
        if self.failure.is_some() || self.finished {
            return Vec::new();
        }
        let decoded = self.decoder.finish(&mut self.chunks);
        let mut out = self.write(decoded, 0);
        if self.failure.is_none() {
            self.encoder.finish(&mut out);
            self.finished = true;
        }
        out
    }

    fn write(&mut self, decoded: Result<(), Failure>, room: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(room);
        for chunk in self.chunks.drain(..) {
            self.started |= carries_answer(&chunk);
            self.encoder.encode(&chunk, &mut out);
        }
        if let Err(mut failure) = decoded {
            failure.error = failure.error.masked(&self.secrets);
            if self.started {
                self.encoder.fail(&failure, &mut out);
            }
            self.failure = Some(failure);
        }
        out
    }

    /// Whether something of the answer has been given out.
    pub fn started(&self) -> bool {
        self.started
    }

    /// Why the stream failed, if it did.
    pub fn failure(&self) -> Option<&Failure> {
        self.failure.as_ref()
    }

    /// The usage the provider reported.
    pub fn usage(&self) -> Option<Usage> {
        self.decoder.usage()
    }
}

#[cfg(test)]
mod tests;
