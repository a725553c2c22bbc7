//! OAuth 2.0 access tokens, as Microsoft Entra ID (Azure) and Google (Vertex AI)
//! issue them to a service: the standard token answer
//! `{"access_token", "expires_in", "token_type"}`, or `{"error",
//! "error_description"}` when refused.

use serde::Deserialize;

/// A token is given up this long before it expires, so that none is sent stale.
const TOKEN_MARGIN_MS: u64 = 5 * 60_000;

/// An access token, and until when to use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub access_token: String,
    /// When to ask for another: some minutes before it expires.
    pub refresh_at_ms: u64,
}

/// Reads `issuer`'s answer to a token request for `credential` (what was
/// exchanged, for the error), received at `now_ms`; `Err` says why it is not a
/// token (the issuer's own `error_description` when it sent one).
pub fn token_answer(issuer: &str, credential: &str, status: u16, body: &[u8], now_ms: u64) -> Result<Token, String> {
    #[derive(Deserialize)]
    struct Answer {
        access_token: Option<String>,
        expires_in: Option<u64>,
        error: Option<String>,
        error_description: Option<String>,
    }
    let answer: Answer = serde_json::from_slice(body)
        .map_err(|_| format!("{issuer} answered {status} with something that is not a token answer"))?;
    match (answer.access_token, answer.expires_in) {
        (Some(access_token), Some(expires_in)) if status == 200 => {
            let lifetime_ms = expires_in.saturating_mul(1000);
            // A short-lived token is used for half its life at most.
            let margin = TOKEN_MARGIN_MS.min(lifetime_ms / 2);
            Ok(Token { access_token, refresh_at_ms: now_ms.saturating_add(lifetime_ms - margin) })
        }
        _ => Err(format!(
            "{issuer} refused the deployment's {credential} ({status} {}): {}",
            answer.error.as_deref().unwrap_or("no error code"),
            answer.error_description.as_deref().unwrap_or("no description")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &[u8], now_ms: u64) -> Result<Token, String> {
        token_answer("Entra ID", "client credentials", status, body, now_ms)
    }

    #[test]
    fn a_token_is_used_until_five_minutes_before_it_expires() {
        let body = br#"{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"eyJ0"}"#;
        let token = answer(200, body, 1_000).unwrap();
        assert_eq!(token, Token { access_token: "eyJ0".into(), refresh_at_ms: 1_000 + 3_599_000 - 300_000 });
        let short = answer(200, br#"{"expires_in":60,"access_token":"t"}"#, 0).unwrap();
        assert_eq!(short.refresh_at_ms, 30_000, "half its life");
        let refused =
            br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}"#;
        let why = answer(401, refused, 0).unwrap_err();
        assert!(why.contains("invalid_client") && why.contains("AADSTS7000215"), "{why}");
        assert!(why.starts_with("Entra ID refused the deployment's client credentials (401"), "{why}");
        assert!(answer(502, b"<html>", 0).is_err());
    }
}
