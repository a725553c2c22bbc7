//! Where a Bedrock Runtime request goes, and the name it is signed for.

use super::sigv4;

/// The service name in Bedrock Runtime's SigV4 credential scope: `bedrock`,
/// not the `bedrock-runtime` of its host.
pub const SIGNING_SERVICE: &str = "bedrock";

/// The Bedrock Runtime operations Switchyard calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Converse,
    /// Answers in the event-stream framing ([`super::eventstream`]).
    ConverseStream,
    /// A model's native request and answer: embeddings.
    InvokeModel,
}

/// `bedrock-runtime.<region>.amazonaws.com`.
pub fn host(region: &str) -> String {
    format!("bedrock-runtime.{region}.amazonaws.com")
}

/// The path of `operation` on `model_id`, the id percent-encoded as one segment
/// (its `:` and, in an ARN, its `/` included), as the AWS SDKs send it. Signed
/// as it is: [`sigv4`] encodes it once more.
pub fn path(model_id: &str, operation: Operation) -> String {
    let action = match operation {
        Operation::Converse => "converse",
        Operation::ConverseStream => "converse-stream",
        Operation::InvokeModel => "invoke",
    };
    let mut path = String::with_capacity(model_id.len() + 24);
    path.push_str("/model/");
    sigv4::uri_encode(&mut path, model_id.as_bytes());
    path.push('/');
    path.push_str(action);
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_ids_are_one_encoded_segment() {
        assert_eq!(
            path("anthropic.claude-3-haiku-20240307-v1:0", Operation::Converse),
            "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse"
        );
        assert_eq!(
            path(
                "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-pro-v1:0",
                Operation::ConverseStream
            ),
            "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.amazon.nova-pro-v1%3A0/converse-stream"
        );
        assert_eq!(
            path("amazon.titan-embed-text-v2:0", Operation::InvokeModel),
            "/model/amazon.titan-embed-text-v2%3A0/invoke"
        );
        assert_eq!(host("eu-west-3"), "bedrock-runtime.eu-west-3.amazonaws.com");
    }
}
