//! The calls to a deployment that does not speak OpenAI's wire format, built from
//! the client's OpenAI body: each provider's URL, credential headers and body.

use super::{Call, CallContext, Dialect, Headers, Translated};
use crate::config::{Access, AwsCredential, BedrockAccess, Deployment, VertexAccess};
use crate::endpoint::Endpoint;
use crate::error::ApiError;
use crate::openai::{ChatRequest, EmbeddingInput, EmbeddingRequest};
use crate::provider::bedrock::endpoint::{self as bedrock_endpoint, Operation};
use crate::provider::bedrock::{embeddings::EmbeddingModel, sigv4};
use crate::provider::vertex::{self, Publisher};
use crate::provider::{Kind, anthropic, bedrock, gemini};

/// The calls to `deployment` for the client's OpenAI `body` for `endpoint`.
/// `Err`: a request this deployment cannot take (a field its provider lacks, an
/// endpoint it does not serve), in the shape of a 400 naming what.
pub fn translate(
    deployment: &Deployment,
    endpoint: Endpoint,
    body: &[u8],
    ctx: CallContext<'_>,
) -> Result<Translated, ApiError> {
    match (deployment.kind, endpoint) {
        (Kind::Anthropic | Kind::VertexAnthropic, Endpoint::ChatCompletions) => {
            anthropic_call(deployment, &parse(body)?, ctx)
        }
        (Kind::Gemini | Kind::Vertex, Endpoint::ChatCompletions) => gemini_call(deployment, &parse(body)?, ctx),
        (Kind::Gemini, Endpoint::Embeddings) => gemini_embeddings(deployment, &parse(body)?),
        (Kind::Bedrock, Endpoint::ChatCompletions) => bedrock_chat(deployment, &parse(body)?, ctx),
        (Kind::Bedrock, Endpoint::Embeddings) => bedrock_embeddings(deployment, &parse(body)?, ctx),
        (Kind::Anthropic | Kind::VertexAnthropic | Kind::Gemini | Kind::Vertex | Kind::Bedrock, _) => {
            Err(unserved(deployment, endpoint))
        }
        (Kind::OpenAi | Kind::Azure | Kind::AzureText, _) => {
            Err(ApiError::Internal(format!("deployment `{}` takes the client's body as it came", deployment.id)))
        }
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|error| ApiError::InvalidParam {
        param: "messages",
        message: format!("the request cannot be translated for this deployment's provider: {error}"),
    })
}

fn unserved(deployment: &Deployment, endpoint: Endpoint) -> ApiError {
    ApiError::InvalidParam {
        param: "model",
        message: format!("deployment `{}` does not serve {}", deployment.id, endpoint.upstream_path()),
    }
}

fn one(call: Call, dialect: Dialect) -> Translated {
    Translated { calls: vec![call], dialect }
}

fn json_headers() -> Headers {
    vec![("content-type", "application/json".into())]
}

/// Anthropic's Messages API, at Anthropic or on Vertex AI.
fn anthropic_call(deployment: &Deployment, chat: &ChatRequest, ctx: CallContext<'_>) -> Result<Translated, ApiError> {
    let on_vertex = deployment.kind == Kind::VertexAnthropic;
    let options =
        anthropic::request::RequestOptions { model: &deployment.model, drop_params: deployment.drop_params, on_vertex };
    let body = anthropic::request::body(chat, &options)?;
    let mut headers = json_headers();
    if let Some(beta) = ctx.client.anthropic_beta {
        headers.push(("anthropic-beta", beta.to_owned()));
    }
    let url = if on_vertex {
        let method = if chat.stream { "streamRawPredict" } else { "rawPredict" };
        headers.push(bearer(deployment, ctx)?);
        vertex_url(deployment, Publisher::Anthropic, method)?
    } else {
        headers.push(("anthropic-version", anthropic::wire::API_VERSION.into()));
        if let Some(key) = &deployment.api_key {
            headers.push(("x-api-key", key.expose().to_owned()));
        }
        format!("{}/v1/messages", deployment.api_base)
    };
    let dialect = Dialect::Anthropic { json_mode: anthropic::request::json_mode(chat) };
    Ok(one(Call { url, headers, body }, dialect))
}

/// Gemini's `generateContent`, at Google AI Studio or on Vertex AI.
fn gemini_call(deployment: &Deployment, chat: &ChatRequest, ctx: CallContext<'_>) -> Result<Translated, ApiError> {
    let options = gemini::request::RequestOptions { model: &deployment.model, drop_params: deployment.drop_params };
    let body = gemini::request::body(chat, &options)?;
    let method = if chat.stream { "streamGenerateContent" } else { "generateContent" };
    let mut headers = json_headers();
    let url = match deployment.kind {
        Kind::Vertex => {
            headers.push(bearer(deployment, ctx)?);
            vertex_url(deployment, Publisher::Google, method)?
        }
        _ => {
            headers.extend(google_key(deployment));
            let alt = if chat.stream { "?alt=sse" } else { "" };
            format!("{}/models/{}:{method}{alt}", deployment.api_base, deployment.model)
        }
    };
    Ok(one(Call { url, headers, body }, Dialect::Gemini { seed: ctx.seed }))
}

/// Gemini's `batchEmbedContents` (AI Studio's; Vertex AI embeds with another API).
fn gemini_embeddings(deployment: &Deployment, request: &EmbeddingRequest) -> Result<Translated, ApiError> {
    if request.dimensions.is_some() && !deployment.drop_params {
        return Err(ApiError::InvalidParam {
            param: "dimensions",
            message: "Gemini's embeddings are not cut to `dimensions` here: leave it out, or set drop_params".into(),
        });
    }
    let texts = texts(&request.input)?;
    let body = gemini::embeddings::embed_body(texts, &deployment.model);
    let url = format!("{}/models/{}:batchEmbedContents", deployment.api_base, deployment.model);
    let mut headers = json_headers();
    headers.extend(google_key(deployment));
    let encoding = request.encoding_format.unwrap_or_default();
    Ok(one(Call { url, headers, body }, Dialect::GeminiEmbeddings { model: deployment.model.clone(), encoding }))
}

fn texts(input: &EmbeddingInput) -> Result<&[String], ApiError> {
    match input {
        EmbeddingInput::Text(text) => Ok(std::slice::from_ref(text)),
        EmbeddingInput::Texts(texts) if !texts.is_empty() => Ok(texts),
        EmbeddingInput::Texts(_) => {
            Err(ApiError::InvalidParam { param: "input", message: "`input` has no text to embed".into() })
        }
        EmbeddingInput::Tokens(_) | EmbeddingInput::TokenLists(_) => Err(ApiError::InvalidParam {
            param: "input",
            message: "this deployment's provider embeds text, not token ids".into(),
        }),
    }
}

/// AI Studio's key header, as Google's SDKs send it.
fn google_key(deployment: &Deployment) -> Option<(&'static str, String)> {
    deployment.api_key.as_ref().map(|key| ("x-goog-api-key", key.expose().to_owned()))
}

fn vertex_access(deployment: &Deployment) -> Result<&VertexAccess, ApiError> {
    match &deployment.access {
        Access::Vertex(access) => Ok(access),
        _ => Err(ApiError::Internal(format!("deployment `{}` has no Vertex AI settings", deployment.id))),
    }
}

fn vertex_url(deployment: &Deployment, publisher: Publisher, method: &str) -> Result<String, ApiError> {
    let access = vertex_access(deployment)?;
    let (base, model) = (&deployment.api_base, &deployment.model);
    Ok(vertex::url(base, &access.project, &access.location, publisher, model, method))
}

/// The service account's token, which the shell obtained before the call.
fn bearer(deployment: &Deployment, ctx: CallContext<'_>) -> Result<(&'static str, String), ApiError> {
    match ctx.bearer {
        Some(token) => Ok(("authorization", format!("Bearer {token}"))),
        None => Err(ApiError::Internal(format!("no access token was obtained for deployment `{}`", deployment.id))),
    }
}

/// Bedrock's Converse (or ConverseStream).
fn bedrock_chat(deployment: &Deployment, chat: &ChatRequest, ctx: CallContext<'_>) -> Result<Translated, ApiError> {
    let options = bedrock::request::RequestOptions { model: &deployment.model, drop_params: deployment.drop_params };
    let body = bedrock::request::body(chat, &options)?;
    let operation = if chat.stream { Operation::ConverseStream } else { Operation::Converse };
    let call = bedrock_call(deployment, operation, body, ctx)?;
    let json_tool = bedrock::request::json_tool_name(chat).map(str::to_owned);
    Ok(one(call, Dialect::Bedrock { model: deployment.model.clone(), json_tool, seed: ctx.seed }))
}

/// Titan's or Cohere's embeddings through InvokeModel: one call per batch of texts.
fn bedrock_embeddings(
    deployment: &Deployment,
    request: &EmbeddingRequest,
    ctx: CallContext<'_>,
) -> Result<Translated, ApiError> {
    let model = EmbeddingModel::of(&deployment.model)?;
    let bodies = bedrock::embeddings::request_bodies(request, model, deployment.drop_params)?;
    let calls = bodies
        .into_iter()
        .map(|body| bedrock_call(deployment, Operation::InvokeModel, body, ctx))
        .collect::<Result<_, _>>()?;
    let encoding = request.encoding_format.unwrap_or_default();
    Ok(Translated { calls, dialect: Dialect::BedrockEmbeddings { model, name: deployment.model.clone(), encoding } })
}

/// A Bedrock Runtime call, signed with the deployment's AWS keys (SigV4, at
/// `ctx.now_s`) or carrying its Bedrock API key.
fn bedrock_call(
    deployment: &Deployment,
    operation: Operation,
    body: Vec<u8>,
    ctx: CallContext<'_>,
) -> Result<Call, ApiError> {
    let Access::Bedrock(BedrockAccess { region, credential }) = &deployment.access else {
        return Err(ApiError::Internal(format!("deployment `{}` has no Bedrock settings", deployment.id)));
    };
    let url = format!("{}{}", deployment.api_base, bedrock_endpoint::path(&deployment.model, operation));
    let mut headers = json_headers();
    match credential {
        AwsCredential::Keys { access_key_id, secret_access_key, session_token } => {
            let parsed = url::Url::parse(&url)
                .map_err(|e| ApiError::Internal(format!("deployment `{}` has no valid URL: {e}", deployment.id)))?;
            // What the HTTP client sends as `Host`: the port only when not the scheme's.
            let host = match (parsed.host_str(), parsed.port()) {
                (Some(host), Some(port)) => format!("{host}:{port}"),
                (Some(host), None) => host.to_owned(),
                (None, _) => return Err(ApiError::Internal(format!("deployment `{}` has no host", deployment.id))),
            };
            let request = sigv4::SignableRequest {
                method: "POST",
                host: &host,
                path: parsed.path(),
                query: parsed.query().unwrap_or(""),
                headers: &[("content-type", "application/json")],
                body: &body,
                content_sha256_header: false,
            };
            let credentials = sigv4::Credentials {
                access_key_id,
                secret_access_key: secret_access_key.expose(),
                session_token: session_token.as_ref().map(|token| token.expose()),
            };
            let now = sigv4::AwsTime(ctx.now_s);
            headers.extend(sigv4::sign(&request, &credentials, region, bedrock_endpoint::SIGNING_SERVICE, now));
        }
        AwsCredential::ApiKey => {
            if let Some(key) = &deployment.api_key {
                headers.push(("authorization", format!("Bearer {}", key.expose())));
            }
        }
    }
    Ok(Call { url, headers, body })
}
