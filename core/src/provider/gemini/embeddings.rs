//! OpenAI's embeddings request as Gemini's `batchEmbedContents`, and its answer
//! back as OpenAI's list. AI Studio counts no tokens for embeddings: usage is
//! Vertex AI's count when sent, else zero.

use serde::Serialize;
use serde_json::value::RawValue;

use crate::openai::{EmbeddingVector, EncodingFormat};

use super::wire::{BatchEmbedContentsRequest, BatchEmbedContentsResponse, EmbedContent, EmbedContentRequest, TextPart};

/// The `batchEmbedContents` body embedding each of `input` with `model`
/// (`text-embedding-004`, or already `models/text-embedding-004`).
pub fn embed_body(input: &[String], model: &str) -> Vec<u8> {
    let name = if model.starts_with("models/") { model.to_owned() } else { format!("models/{model}") };
    let requests = input
        .iter()
        .map(|text| EmbedContentRequest { model: &name, content: EmbedContent { parts: [TextPart { text }] } })
        .collect();
    // Serializing plain data types into a Vec cannot fail.
    serde_json::to_vec(&BatchEmbedContentsRequest { requests }).unwrap_or_default()
}

#[derive(Serialize)]
struct List<'a> {
    object: &'static str,
    data: Vec<Embedding<'a>>,
    model: &'a str,
    usage: Usage,
}

#[derive(Serialize)]
struct Embedding<'a> {
    object: &'static str,
    index: usize,
    embedding: Vector<'a>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Vector<'a> {
    Raw(&'a RawValue),
    Encoded(EmbeddingVector),
}

#[derive(Serialize)]
struct Usage {
    prompt_tokens: u64,
    total_tokens: u64,
}

/// OpenAI's embeddings answer for Gemini's `body`, as `model`, its vectors encoded
/// as the client asked (`encoding_format`); `Err` when the body is not a
/// `batchEmbedContents` answer.
pub fn embeddings_response(body: &[u8], model: &str, encoding: EncodingFormat) -> Result<Vec<u8>, String> {
    let answer: BatchEmbedContentsResponse =
        serde_json::from_slice(body).map_err(|e| format!("the body is not a Gemini embeddings answer: {e}"))?;
    let mut data = Vec::with_capacity(answer.embeddings.len());
    for (index, embedding) in answer.embeddings.iter().enumerate() {
        let not_a_list = || format!("embedding {index} has no list of values");
        if !embedding.values.get().starts_with('[') {
            return Err(not_a_list());
        }
        let vector = match encoding {
            // The numbers as Gemini wrote them, unparsed.
            EncodingFormat::Float => Vector::Raw(&embedding.values),
            EncodingFormat::Base64 => {
                let floats: Vec<f32> = serde_json::from_str(embedding.values.get()).map_err(|_| not_a_list())?;
                Vector::Encoded(EmbeddingVector::encoded(floats, encoding))
            }
        };
        data.push(Embedding { object: "embedding", index, embedding: vector });
    }
    let tokens = answer.usage_metadata.map_or(0, |usage| usage.prompt_token_count);
    let list = List { object: "list", data, model, usage: Usage { prompt_tokens: tokens, total_tokens: tokens } };
    serde_json::to_vec(&list).map_err(|e| format!("the embeddings answer could not be written: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn each_input_is_one_request_of_the_batch() {
        let body = embed_body(&["hello world".to_owned(), "goodbye".to_owned()], "text-embedding-004");
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            body,
            json!({"requests": [
                {"model": "models/text-embedding-004", "content": {"parts": [{"text": "hello world"}]}},
                {"model": "models/text-embedding-004", "content": {"parts": [{"text": "goodbye"}]}},
            ]})
        );
        let named: Value =
            serde_json::from_slice(&embed_body(&["x".to_owned()], "models/gemini-embedding-001")).unwrap();
        assert_eq!(named["requests"][0]["model"], "models/gemini-embedding-001");
    }

    #[test]
    fn the_answer_is_openais_list_with_the_values_as_sent() {
        let gemini =
            br#"{"embeddings": [{"values": [0.013168523, -0.008711934, -0.046782676]}, {"values": [1e-7, 0.5]}]}"#;
        let answer = embeddings_response(gemini, "text-embedding-004", EncodingFormat::Float).unwrap();
        let text = String::from_utf8(answer).unwrap();
        assert!(text.contains("[0.013168523, -0.008711934, -0.046782676]"), "{text}");
        let answer: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(answer["object"], "list");
        assert_eq!(answer["model"], "text-embedding-004");
        assert_eq!(answer["data"][1], json!({"object": "embedding", "index": 1, "embedding": [1e-7, 0.5]}));
        assert_eq!(answer["usage"], json!({"prompt_tokens": 0, "total_tokens": 0}));
        let vertex = br#"{"embeddings": [{"values": [0.1]}], "usageMetadata": {"promptTokenCount": 4}}"#;
        let vertex: Value =
            serde_json::from_slice(&embeddings_response(vertex, "m", EncodingFormat::Float).unwrap()).unwrap();
        assert_eq!(vertex["usage"]["total_tokens"], 4);
    }

    #[test]
    fn base64_is_given_when_asked_for() {
        let gemini = br#"{"embeddings": [{"values": [1.0, -2.0]}]}"#;
        let answer: Value =
            serde_json::from_slice(&embeddings_response(gemini, "m", EncodingFormat::Base64).unwrap()).unwrap();
        assert_eq!(answer["data"][0]["embedding"], "AACAPwAAAMA=");
    }

    #[test]
    fn other_bodies_are_refused() {
        assert!(embeddings_response(b"{\"predictions\": []}", "m", EncodingFormat::Float).is_err());
        assert!(embeddings_response(br#"{"embeddings": [{"values": 3}]}"#, "m", EncodingFormat::Base64).is_err());
        assert!(embeddings_response(b"not json", "m", EncodingFormat::Float).is_err());
    }
}
