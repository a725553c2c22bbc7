//! How a translated deployment's answers are read: errors as failures, answers as
//! OpenAI's, streams through a [`StreamTranslation`].

use super::StreamTranslation;
use crate::failure::Failure;
use crate::openai::{ChatResponse, EncodingFormat, Usage};
use crate::provider::bedrock::embeddings::{self as bedrock_embeddings, EmbeddingModel, InvokeAnswer};
use crate::provider::{anthropic, bedrock, gemini};
use crate::secret::Secrets;
use crate::translate::{ChunkEncoder, Refusal, StreamDecoder};

/// The format a translated deployment answers in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dialect {
    /// Anthropic's Messages API (at Anthropic or on Vertex AI). `json_mode`: the
    /// answer's JSON tool call is its content.
    Anthropic { json_mode: bool },
    /// Gemini's `generateContent`; `seed` makes the tool calls' ids.
    Gemini { seed: u64 },
    /// Bedrock's Converse: `model` stamps the answer (Bedrock names none), `seed`
    /// makes its id, `json_tool` is the tool whose call is the answer.
    Bedrock { model: String, json_tool: Option<String>, seed: u64 },
    /// Gemini's `batchEmbedContents`, for `model`, in the client's `encoding`.
    GeminiEmbeddings { model: String, encoding: EncodingFormat },
    /// Bedrock's embedding models through InvokeModel, for `name`.
    BedrockEmbeddings { model: EmbeddingModel, name: String, encoding: EncodingFormat },
}

/// A translated complete answer: OpenAI's JSON, and the tokens it used.
#[derive(Debug)]
pub struct Answer {
    pub body: Vec<u8>,
    pub usage: Option<Usage>,
}

/// One call's successful answer: its body, and the input tokens Bedrock counted
/// in its `x-amzn-bedrock-input-token-count` header.
pub type AnswerPart<'a> = InvokeAnswer<'a>;

/// A refused answer's failure, or the answer (an `Err(String)`: not the provider's answer).
#[allow(clippy::result_large_err)]
fn refused(answer: Result<ChatResponse, Refusal>) -> Result<Result<ChatResponse, String>, Failure> {
    match answer {
        Ok(response) => Ok(Ok(response)),
        Err(Refusal::Invalid(why)) => Ok(Err(why)),
        Err(Refusal::Blocked(failure)) => Err(*failure),
    }
}

impl Dialect {
    /// The failure an error answer (status 400 or more) stands for. `error_type`:
    /// AWS's `x-amzn-errortype` header, which names Bedrock's exception.
    pub fn failure(&self, status: u16, retry_after_ms: Option<u64>, body: &[u8], error_type: Option<&str>) -> Failure {
        match self {
            Self::Anthropic { .. } => anthropic::error::failure(status, retry_after_ms, body),
            Self::Gemini { .. } | Self::GeminiEmbeddings { .. } => gemini::error::failure(status, retry_after_ms, body),
            Self::Bedrock { .. } | Self::BedrockEmbeddings { .. } => {
                bedrock::error::failure(status, retry_after_ms, body, error_type)
            }
        }
    }

    /// The calls' successful answers (one but for batched embeddings), as OpenAI's
    /// answer made at `created` (unix seconds). A body that is not the provider's
    /// answer is the deployment's failure; so is a prompt Gemini blocked (a
    /// content-policy failure).
    // A failure is the rare way out, taken once per attempt: boxing it buys nothing.
    #[allow(clippy::result_large_err)]
    pub fn answer(&self, deployment: &str, parts: &[AnswerPart<'_>], created: u64) -> Result<Answer, Failure> {
        let invalid = |why: String| Failure::invalid_response(deployment, why);
        let first = parts.first().map_or(&b""[..], |part| part.body);
        let response = match self {
            Self::Anthropic { json_mode } => anthropic::answer::chat_response(first, created, *json_mode),
            Self::Gemini { seed } => {
                refused(gemini::answer::chat_response(first, created, &mut fastrand::Rng::with_seed(*seed)))?
            }
            Self::Bedrock { model, json_tool, seed } => {
                refused(bedrock::answer::chat_response(first, model, created, *seed, json_tool.as_deref()))?
            }
            Self::GeminiEmbeddings { model, encoding } => {
                let body = gemini::embeddings::embeddings_response(first, model, *encoding).map_err(invalid)?;
                return Ok(Answer { body, usage: None });
            }
            Self::BedrockEmbeddings { model, name, encoding } => {
                let list = bedrock_embeddings::response(name, *model, parts, *encoding).map_err(invalid)?;
                let tokens = list.usage.prompt_tokens;
                let usage = Usage { prompt_tokens: tokens, total_tokens: tokens, ..Usage::default() };
                let body = serde_json::to_vec(&list).map_err(|e| invalid(e.to_string()))?;
                return Ok(Answer { body, usage: Some(usage) });
            }
        }
        .map_err(invalid)?;
        let usage = response.usage;
        let body = serde_json::to_vec(&response).map_err(|e| invalid(e.to_string()))?;
        Ok(Answer { body, usage })
    }

    /// A translator for a stream begun at `created`, written for the client by
    /// `encoder` ([`OpenAiSse`](crate::translate::OpenAiSse) for a Chat Completions client); `None` for a
    /// dialect that does not stream (embeddings).
    pub fn stream(&self, created: u64, encoder: Box<dyn ChunkEncoder>, secrets: Secrets) -> Option<StreamTranslation> {
        let decoder: Box<dyn StreamDecoder> = match self {
            Self::Anthropic { json_mode } => Box::new(anthropic::stream::Decoder::new(created, *json_mode)),
            Self::Gemini { seed } => Box::new(gemini::stream::Decoder::new(created, *seed)),
            Self::Bedrock { model, json_tool, seed } => {
                Box::new(bedrock::stream::Decoder::new(model, created, *seed, json_tool.as_deref()))
            }
            Self::GeminiEmbeddings { .. } | Self::BedrockEmbeddings { .. } => return None,
        };
        Some(StreamTranslation::new(decoder, encoder, secrets))
    }
}
