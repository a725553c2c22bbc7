//! OpenAI embeddings through Bedrock's `InvokeModel`, in each model's own
//! request and answer shape.
//!
//! - Amazon Titan Text Embeddings (`amazon.titan-embed-text-v1`, `-v2:0`)
//!   embeds one text per call: `{"inputText"}` (v2: and `dimensions`) answered
//!   by `{"embedding", "inputTextTokenCount"}`. A request of n inputs is n calls.
//! - Cohere Embed (`cohere.embed-english-v3`, `-multilingual-v3`, `-v4:0`)
//!   embeds up to 96 texts per call: `{"texts", "input_type"}` (v4: and
//!   `output_dimension`) answered by `{"embeddings"}`. Its answer counts no
//!   tokens; Bedrock's `X-Amzn-Bedrock-Input-Token-Count` header does.
//!
//! [`request_bodies`] gives the body of each call, [`response`] puts their
//! answers together, in order, as OpenAI's list.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::family::base_model;
use super::unsupported::{Unsupported, is_default};
use crate::error::ApiError;
use crate::openai::{
    Embedding, EmbeddingInput, EmbeddingRequest, EmbeddingResponse, EmbeddingUsage, EmbeddingVector, EncodingFormat,
};

/// The texts one Cohere call takes at most.
const COHERE_BATCH: usize = 96;

/// Cohere's `input_type` when the client sends none: what LiteLLM sends.
const COHERE_DEFAULT_INPUT_TYPE: &str = "search_document";

/// The embedding models whose native format is mapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmbeddingModel {
    TitanV1,
    TitanV2,
    CohereV3,
    CohereV4,
}

impl EmbeddingModel {
    /// The model `model_id` (an id, inference profile or ARN) names; a 400 for
    /// a model whose format is not mapped.
    pub fn of(model_id: &str) -> Result<Self, ApiError> {
        let base = base_model(model_id);
        if base.starts_with("amazon.titan-embed-text-v2") {
            Ok(Self::TitanV2)
        } else if base.starts_with("amazon.titan-embed-text-v1") || base.starts_with("amazon.titan-embed-g1-text") {
            Ok(Self::TitanV1)
        } else if base.starts_with("cohere.embed-v4") {
            Ok(Self::CohereV4)
        } else if base.starts_with("cohere.embed-") {
            Ok(Self::CohereV3)
        } else {
            Err(ApiError::InvalidParam {
                param: "model",
                message: format!(
                    "`{model_id}` is not a Bedrock embedding model Switchyard can call: use \
                     amazon.titan-embed-text-v1, amazon.titan-embed-text-v2:0 or a cohere.embed-* model"
                ),
            })
        }
    }

    /// The inputs one `InvokeModel` call embeds: a request of n inputs takes
    /// `n.div_ceil(batch)` calls.
    pub fn batch(self) -> usize {
        match self {
            Self::TitanV1 | Self::TitanV2 => 1,
            Self::CohereV3 | Self::CohereV4 => COHERE_BATCH,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TitanRequest<'a> {
    input_text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    dimensions: Option<u32>,
}

#[derive(Serialize)]
struct CohereRequest<'a> {
    texts: &'a [String],
    input_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_dimension: Option<u32>,
}

/// The body of each `InvokeModel` call `request` takes, in order.
pub fn request_bodies(
    request: &EmbeddingRequest,
    model: EmbeddingModel,
    drop_params: bool,
) -> Result<Vec<Vec<u8>>, ApiError> {
    let texts: &[String] = match &request.input {
        EmbeddingInput::Text(text) => std::slice::from_ref(text),
        EmbeddingInput::Texts(texts) => texts,
        EmbeddingInput::Tokens(_) | EmbeddingInput::TokenLists(_) => {
            return Err(ApiError::InvalidParam {
                param: "input",
                message: "Bedrock's embedding models take text, not token ids".into(),
            });
        }
    };
    if texts.is_empty() {
        return Err(ApiError::InvalidParam { param: "input", message: "`input` has no text to embed".into() });
    }

    let mut unsupported = Unsupported::default();
    let dimensions = match model {
        EmbeddingModel::TitanV2 | EmbeddingModel::CohereV4 => request.dimensions,
        EmbeddingModel::TitanV1 | EmbeddingModel::CohereV3 => {
            if request.dimensions.is_some() {
                unsupported.add("dimensions");
            }
            None
        }
    };
    let mut input_type = COHERE_DEFAULT_INPUT_TYPE;
    for (name, value) in &request.extra {
        match (name.as_str(), value) {
            (_, Value::Null) => {}
            ("input_type", Value::String(kind))
                if matches!(model, EmbeddingModel::CohereV3 | EmbeddingModel::CohereV4) =>
            {
                input_type = kind;
            }
            _ if is_default(value) => {}
            _ => unsupported.add_extra(name),
        }
    }
    unsupported.check("This Bedrock embedding model", drop_params)?;

    let write = |body: Result<Vec<u8>, serde_json::Error>| {
        body.map_err(|e| ApiError::Internal(format!("writing the Bedrock embedding request: {e}")))
    };
    match model {
        EmbeddingModel::TitanV1 | EmbeddingModel::TitanV2 => {
            texts.iter().map(|text| write(serde_json::to_vec(&TitanRequest { input_text: text, dimensions }))).collect()
        }
        EmbeddingModel::CohereV3 | EmbeddingModel::CohereV4 => texts
            .chunks(COHERE_BATCH)
            .map(|batch| {
                write(serde_json::to_vec(&CohereRequest { texts: batch, input_type, output_dimension: dimensions }))
            })
            .collect(),
    }
}

/// One call's answer.
#[derive(Debug, Clone, Copy)]
pub struct InvokeAnswer<'a> {
    pub body: &'a [u8],
    /// Bedrock's `X-Amzn-Bedrock-Input-Token-Count` header, when it came.
    pub input_tokens: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TitanAnswer {
    embedding: Vec<f32>,
    #[serde(default)]
    input_text_token_count: Option<u64>,
}

#[derive(Deserialize)]
struct CohereAnswer {
    embeddings: CohereEmbeddings,
}

/// Floats, or (when embedding types were asked for, and from v4) floats by type.
#[derive(Deserialize)]
#[serde(untagged)]
enum CohereEmbeddings {
    Floats(Vec<Vec<f32>>),
    ByType { float: Vec<Vec<f32>> },
}

/// The calls' answers, in the order of their requests, as OpenAI's list. An
/// `Err` when an answer is not the model's.
pub fn response(
    model_name: &str,
    model: EmbeddingModel,
    answers: &[InvokeAnswer<'_>],
    encoding: EncodingFormat,
) -> Result<EmbeddingResponse, String> {
    let mut vectors = Vec::new();
    let mut tokens = 0;
    for (call, answer) in answers.iter().enumerate() {
        let not_an_answer = |e: serde_json::Error| format!("answer {call} is not an embedding of {model:?}: {e}");
        match model {
            EmbeddingModel::TitanV1 | EmbeddingModel::TitanV2 => {
                let titan: TitanAnswer = serde_json::from_slice(answer.body).map_err(not_an_answer)?;
                tokens += titan.input_text_token_count.or(answer.input_tokens).unwrap_or(0);
                vectors.push(titan.embedding);
            }
            EmbeddingModel::CohereV3 | EmbeddingModel::CohereV4 => {
                let cohere: CohereAnswer = serde_json::from_slice(answer.body).map_err(not_an_answer)?;
                tokens += answer.input_tokens.unwrap_or(0);
                match cohere.embeddings {
                    CohereEmbeddings::Floats(floats) | CohereEmbeddings::ByType { float: floats } => {
                        vectors.extend(floats);
                    }
                }
            }
        }
    }
    let data = vectors
        .into_iter()
        .enumerate()
        .map(|(index, vector)| Embedding {
            object: "embedding".to_owned(),
            index: u32::try_from(index).unwrap_or(u32::MAX),
            embedding: EmbeddingVector::encoded(vector, encoding),
        })
        .collect();
    Ok(EmbeddingResponse {
        object: "list".to_owned(),
        data,
        model: model_name.to_owned(),
        usage: EmbeddingUsage { prompt_tokens: tokens, total_tokens: tokens },
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn request(body: Value) -> EmbeddingRequest {
        serde_json::from_value(body).unwrap()
    }

    fn bodies(body: Value, model_id: &str) -> Result<Vec<Value>, ApiError> {
        let model = EmbeddingModel::of(model_id)?;
        Ok(request_bodies(&request(body), model, false)?
            .iter()
            .map(|body| serde_json::from_slice(body).unwrap())
            .collect())
    }

    #[test]
    fn models_are_told_apart_and_others_refused() {
        assert_eq!(EmbeddingModel::of("amazon.titan-embed-text-v1"), Ok(EmbeddingModel::TitanV1));
        assert_eq!(EmbeddingModel::of("amazon.titan-embed-g1-text-02"), Ok(EmbeddingModel::TitanV1));
        assert_eq!(EmbeddingModel::of("amazon.titan-embed-text-v2:0"), Ok(EmbeddingModel::TitanV2));
        assert_eq!(EmbeddingModel::of("cohere.embed-multilingual-v3"), Ok(EmbeddingModel::CohereV3));
        assert_eq!(EmbeddingModel::of("us.cohere.embed-v4:0"), Ok(EmbeddingModel::CohereV4));
        match EmbeddingModel::of("anthropic.claude-3-haiku-20240307-v1:0") {
            Err(ApiError::InvalidParam { param: "model", message }) => {
                assert!(message.contains("amazon.titan-embed-text-v2:0"), "{message}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(EmbeddingModel::TitanV2.batch(), 1);
        assert_eq!(EmbeddingModel::CohereV3.batch(), 96);
    }

    #[test]
    fn titan_takes_one_call_per_input() {
        let body = json!({"model": "e", "input": ["a", "b", "c"], "dimensions": 256, "encoding_format": "base64"});
        assert_eq!(
            bodies(body.clone(), "amazon.titan-embed-text-v2:0").unwrap(),
            [
                json!({"inputText": "a", "dimensions": 256}),
                json!({"inputText": "b", "dimensions": 256}),
                json!({"inputText": "c", "dimensions": 256})
            ]
        );
        assert_eq!(
            bodies(json!({"model": "e", "input": "x"}), "amazon.titan-embed-text-v1").unwrap(),
            [json!({"inputText": "x"})]
        );
        match bodies(body, "amazon.titan-embed-text-v1") {
            Err(ApiError::InvalidParam { param: "dimensions", .. }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn cohere_takes_batches_of_96_with_an_input_type() {
        let texts: Vec<String> = (0..100).map(|i| format!("t{i}")).collect();
        let calls =
            bodies(json!({"model": "e", "input": texts, "input_type": "search_query"}), "cohere.embed-english-v3")
                .unwrap();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0]["texts"].as_array().unwrap().len(), 96);
        assert_eq!(calls[1], json!({"texts": ["t96", "t97", "t98", "t99"], "input_type": "search_query"}));
        let v4 = bodies(json!({"model": "e", "input": "x", "dimensions": 512}), "cohere.embed-v4:0").unwrap();
        assert_eq!(v4, [json!({"texts": ["x"], "input_type": "search_document", "output_dimension": 512})]);
    }

    #[test]
    fn tokens_empty_inputs_and_unknown_fields_are_refused() {
        let refused = |body: Value| match bodies(body, "cohere.embed-english-v3") {
            Err(ApiError::InvalidParam { param, .. }) => param,
            other => panic!("{other:?}"),
        };
        assert_eq!(refused(json!({"model": "e", "input": [1, 2, 3]})), "input");
        assert_eq!(refused(json!({"model": "e", "input": [[1], [2]]})), "input");
        assert_eq!(refused(json!({"model": "e", "input": []})), "input");
        assert_eq!(refused(json!({"model": "e", "input": "x", "truncate": "END"})), "body");
        // `input_type` is Cohere's: Titan refuses it, or drops it when asked to.
        let titan = EmbeddingModel::TitanV2;
        let with_type = request(json!({"model": "e", "input": "x", "input_type": "search_query", "user": "u"}));
        assert!(request_bodies(&with_type, titan, false).is_err());
        assert_eq!(request_bodies(&with_type, titan, true).unwrap().len(), 1);
    }

    #[test]
    fn titan_answers_are_listed_in_order_with_their_tokens() {
        let answers = [
            br#"{"embedding":[0.5,-1.0],"inputTextTokenCount":3}"#.as_slice(),
            br#"{"embedding":[0.25,2.0],"inputTextTokenCount":4,"embeddingsByType":{"float":[0.25,2.0]}}"#.as_slice(),
        ];
        let answers: Vec<_> = answers.iter().map(|body| InvokeAnswer { body, input_tokens: None }).collect();
        let response = response("embed", EmbeddingModel::TitanV2, &answers, EncodingFormat::Float).unwrap();
        assert_eq!(
            serde_json::to_value(response).unwrap(),
            json!({
                "object": "list",
                "data": [
                    {"object": "embedding", "index": 0, "embedding": [0.5, -1.0]},
                    {"object": "embedding", "index": 1, "embedding": [0.25, 2.0]}
                ],
                "model": "embed",
                "usage": {"prompt_tokens": 7, "total_tokens": 7}
            })
        );
    }

    #[test]
    fn cohere_answers_of_both_shapes_count_the_header_tokens() {
        let floats = br#"{"id":"1","embeddings":[[1.0],[2.0]],"response_type":"embeddings_floats","texts":["a","b"]}"#;
        let by_type = br#"{"id":"2","embeddings":{"float":[[3.0]]},"response_type":"embeddings_by_type"}"#;
        let answers = [
            InvokeAnswer { body: floats, input_tokens: Some(5) },
            InvokeAnswer { body: by_type, input_tokens: Some(2) },
        ];
        let response = response("embed", EmbeddingModel::CohereV3, &answers, EncodingFormat::Float).unwrap();
        let indexes: Vec<u32> = response.data.iter().map(|e| e.index).collect();
        assert_eq!(indexes, [0, 1, 2]);
        assert_eq!(response.data[2].embedding, EmbeddingVector::Float(vec![3.0]));
        assert_eq!(response.usage, EmbeddingUsage { prompt_tokens: 7, total_tokens: 7 });
        let wrong = [InvokeAnswer { body: br#"{"embedding":[1.0]}"#, input_tokens: None }];
        assert!(super::response("embed", EmbeddingModel::CohereV3, &wrong, EncodingFormat::Float).is_err());
    }
}
