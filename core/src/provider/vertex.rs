//! Vertex AI: Gemini, and Anthropic's models, on Google Cloud.
//!
//! Gemini takes AI Studio's `generateContent` body on
//! `https://{location}-aiplatform.googleapis.com/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:generateContent`;
//! Anthropic's models take Anthropic's Messages body (without `model`, with
//! Vertex's `anthropic_version`) on `.../publishers/anthropic/models/{model}:rawPredict`.
//!
//! Every call carries a bearer token that a service account's key buys: a JWT
//! the key signs (RS256), exchanged at the account's `token_uri` (the OAuth 2.0
//! JWT bearer grant). The signing itself is WebCrypto's, in the Worker; this
//! module writes what is signed and reads what comes back.

use serde::{Deserialize, Serialize};

use super::oauth::{self, Token};
use crate::secret::Secret;

/// Where a deployment runs when it names no `vertex_location`: LiteLLM's default.
pub const DEFAULT_LOCATION: &str = "us-central1";
/// What a token is asked for: the scope Vertex AI takes.
pub const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// Where a service account key that names no `token_uri` exchanges its JWTs.
const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// How long a signed JWT is good for: Google takes an hour at most.
const JWT_LIFETIME_S: u64 = 3600;
/// `anthropic_version` in the body of a call to Anthropic's models on Vertex.
pub const ANTHROPIC_VERSION: &str = "vertex-2023-10-16";

/// Vertex AI's endpoint in `location` (`global` has no regional host).
pub fn api_base(location: &str) -> String {
    match location {
        "global" => "https://aiplatform.googleapis.com".to_owned(),
        location => format!("https://{location}-aiplatform.googleapis.com"),
    }
}

/// Whose model a call names: its path on Vertex and the body it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Publisher {
    Google,
    Anthropic,
}

/// The URL of `model`'s `method` (`generateContent`, `streamGenerateContent`,
/// `rawPredict`, `streamRawPredict`); Gemini's stream is asked for as SSE.
pub fn url(api_base: &str, project: &str, location: &str, publisher: Publisher, model: &str, method: &str) -> String {
    let publisher = match publisher {
        Publisher::Google => "google",
        Publisher::Anthropic => "anthropic",
    };
    let alt = if method == "streamGenerateContent" { "?alt=sse" } else { "" };
    format!("{api_base}/v1/projects/{project}/locations/{location}/publishers/{publisher}/models/{model}:{method}{alt}")
}

/// A service account's key, as Google Cloud's console downloads it (JSON).
#[derive(Clone, PartialEq)]
pub struct ServiceAccount {
    pub client_email: String,
    /// PKCS#8, PEM-encoded: what signs the JWTs.
    pub private_key: Secret,
    pub private_key_id: Option<String>,
    pub token_uri: String,
    /// The key's project: a deployment's project when it names none.
    pub project_id: Option<String>,
}

impl std::fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccount").field("client_email", &self.client_email).finish_non_exhaustive()
    }
}

impl ServiceAccount {
    /// Reads a service account key; `Err` says what is wrong, never what is in it.
    pub fn parse(json: &str) -> Result<Self, String> {
        #[derive(Deserialize)]
        struct Key {
            #[serde(rename = "type")]
            kind: Option<String>,
            client_email: Option<String>,
            private_key: Option<String>,
            private_key_id: Option<String>,
            token_uri: Option<String>,
            project_id: Option<String>,
        }
        let key: Key = serde_json::from_str(json.trim()).map_err(|_| {
            "is not a service account key's JSON (a file path cannot be read in a Worker: put the key's JSON in a \
             secret and write os.environ/<NAME>)"
                .to_owned()
        })?;
        match key.kind.as_deref() {
            Some("service_account") => {}
            Some(other) => {
                return Err(format!(
                    "is a `{other}` credential; Switchyard signs in with a service account key (`service_account`)"
                ));
            }
            None => return Err("has no `type`: it is not a service account key".to_owned()),
        }
        let (Some(client_email), Some(private_key)) = (key.client_email, key.private_key) else {
            return Err("lacks `client_email` or `private_key`".to_owned());
        };
        if !private_key.contains("-----BEGIN PRIVATE KEY-----") {
            return Err("has a `private_key` that is not a PEM-encoded PKCS#8 key".to_owned());
        }
        Ok(Self {
            client_email,
            private_key: Secret::new(private_key),
            private_key_id: key.private_key_id,
            token_uri: key.token_uri.unwrap_or_else(|| DEFAULT_TOKEN_URI.to_owned()),
            project_id: key.project_id,
        })
    }

    /// The JWT's header and claims, as JSON, for a token asked for at `now_s`
    /// (unix seconds): what the key signs, each part base64url-encoded.
    pub fn jwt_parts(&self, now_s: u64) -> (String, String) {
        #[derive(Serialize)]
        struct Header<'a> {
            alg: &'static str,
            typ: &'static str,
            #[serde(skip_serializing_if = "Option::is_none")]
            kid: Option<&'a str>,
        }
        #[derive(Serialize)]
        struct Claims<'a> {
            iss: &'a str,
            scope: &'static str,
            aud: &'a str,
            iat: u64,
            exp: u64,
        }
        let header = Header { alg: "RS256", typ: "JWT", kid: self.private_key_id.as_deref() };
        let claims = Claims {
            iss: &self.client_email,
            scope: SCOPE,
            aud: &self.token_uri,
            iat: now_s,
            exp: now_s + JWT_LIFETIME_S,
        };
        // Serializing plain data types cannot fail.
        (serde_json::to_string(&header).unwrap_or_default(), serde_json::to_string(&claims).unwrap_or_default())
    }
}

/// The form body that exchanges a signed JWT for an access token.
pub fn token_request(assertion: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
        .append_pair("assertion", assertion)
        .finish()
}

/// Reads Google's answer to a token request received at `now_ms`.
pub fn token_answer(status: u16, body: &[u8], now_ms: u64) -> Result<Token, String> {
    oauth::token_answer("Google", "service account key", status, body, now_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = r#"{"type":"service_account","project_id":"proj-1","private_key_id":"k1",
        "private_key":"-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n",
        "client_email":"router@proj-1.iam.gserviceaccount.com","token_uri":"https://oauth2.example/token"}"#;

    #[test]
    fn urls_follow_the_location_and_the_publisher() {
        assert_eq!(api_base("europe-west4"), "https://europe-west4-aiplatform.googleapis.com");
        assert_eq!(api_base("global"), "https://aiplatform.googleapis.com");
        assert_eq!(
            url(&api_base("us-central1"), "p", "us-central1", Publisher::Google, "gemini-2.5-pro", "generateContent"),
            "https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.5-pro:generateContent"
        );
        assert_eq!(
            url("http://mock/v", "p", "eu", Publisher::Google, "g", "streamGenerateContent"),
            "http://mock/v/v1/projects/p/locations/eu/publishers/google/models/g:streamGenerateContent?alt=sse"
        );
        assert!(
            url("h", "p", "l", Publisher::Anthropic, "claude-x@1", "streamRawPredict")
                .ends_with("/publishers/anthropic/models/claude-x@1:streamRawPredict")
        );
    }

    #[test]
    fn a_service_account_key_reads_and_never_prints_its_key() {
        let account = ServiceAccount::parse(KEY).unwrap();
        assert_eq!(account.client_email, "router@proj-1.iam.gserviceaccount.com");
        assert_eq!(
            (account.project_id.as_deref(), account.token_uri.as_str()),
            (Some("proj-1"), "https://oauth2.example/token")
        );
        assert!(!format!("{account:?}").contains("BEGIN"));
        let no_uri = KEY.replace(r#","token_uri":"https://oauth2.example/token""#, "");
        assert_eq!(ServiceAccount::parse(&no_uri).unwrap().token_uri, DEFAULT_TOKEN_URI);
    }

    #[test]
    fn what_is_not_a_service_account_key_is_named() {
        assert!(ServiceAccount::parse("/home/me/key.json").unwrap_err().contains("file path"));
        let user = r#"{"type":"authorized_user","client_id":"x"}"#;
        assert!(ServiceAccount::parse(user).unwrap_err().contains("`authorized_user`"));
        let rsa = KEY.replace("BEGIN PRIVATE KEY", "BEGIN RSA PRIVATE KEY");
        assert!(ServiceAccount::parse(&rsa).unwrap_err().contains("PKCS#8"));
        let no_email = KEY.replace("client_email", "email");
        assert!(ServiceAccount::parse(&no_email).unwrap_err().contains("client_email"));
    }

    #[test]
    fn the_jwt_claims_what_google_checks() {
        let (header, claims) = ServiceAccount::parse(KEY).unwrap().jwt_parts(1_700_000_000);
        assert_eq!(header, r#"{"alg":"RS256","typ":"JWT","kid":"k1"}"#);
        assert_eq!(
            claims,
            r#"{"iss":"router@proj-1.iam.gserviceaccount.com","scope":"https://www.googleapis.com/auth/cloud-platform","aud":"https://oauth2.example/token","iat":1700000000,"exp":1700003600}"#
        );
    }

    #[test]
    fn the_exchange_is_a_jwt_bearer_grant() {
        assert_eq!(
            token_request("a.b.c"),
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=a.b.c"
        );
        let token = token_answer(200, br#"{"access_token":"ya29.x","expires_in":3599,"token_type":"Bearer"}"#, 0);
        assert_eq!(token.unwrap().access_token, "ya29.x");
        let refused =
            token_answer(400, br#"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#, 0);
        assert!(refused.unwrap_err().contains(
            "Google refused the deployment's service account key (400 invalid_grant): Invalid JWT Signature."
        ));
    }
}
