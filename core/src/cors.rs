//! Cross-origin requests from browsers: which origins may call the gateway, and
//! the headers that say so.
//!
//! Web apps call gateways from the browser with the OpenAI (or Anthropic) SDK. As
//! LiteLLM's proxy does by default, every origin is allowed unless
//! `general_settings.allowed_origins` lists the ones that are.

/// `general_settings.allowed_origins`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AllowedOrigins {
    /// Every origin (LiteLLM's default).
    #[default]
    Any,
    /// Only these, compared exactly (scheme, host and port, as browsers send them).
    Only(Vec<String>),
}

impl AllowedOrigins {
    /// From the configured list: `*` anywhere in it allows every origin.
    pub fn from_list(origins: Vec<String>) -> Self {
        if origins.iter().any(|o| o.trim() == "*") {
            Self::Any
        } else {
            Self::Only(origins.into_iter().map(|o| o.trim().trim_end_matches('/').to_owned()).collect())
        }
    }

    /// The `access-control-allow-origin` value for a request from `origin`, or
    /// `None` when that origin is not allowed.
    pub fn allow(&self, origin: &str) -> Option<String> {
        match self {
            Self::Any => Some("*".to_owned()),
            Self::Only(list) => list.iter().any(|allowed| allowed == origin).then(|| origin.to_owned()),
        }
    }
}

/// Response headers a browser lets the page read: those of the gateway's own
/// that clients use, and the rate-limit and request-id headers.
pub const EXPOSED_HEADERS: &str = "x-litellm-model-id, x-litellm-model-group, x-litellm-model-api-base, \
    x-litellm-attempted-retries, x-litellm-max-retries, x-litellm-attempted-fallbacks, \
    x-litellm-response-duration-ms, x-litellm-cache-key, x-cache, x-ratelimit-remaining-requests, \
    x-ratelimit-remaining-tokens, x-request-id, x-litellm-call-id, llm_provider-x-request-id, \
    x-litellm-response-cost, retry-after, x-switchyard-config-error";

/// What a preflight (`OPTIONS`) is answered with, for an allowed origin:
/// `allow_origin` from [`AllowedOrigins::allow`], and the headers the browser
/// asks to send (the OpenAI SDK's `authorization`, `content-type` and
/// `x-stainless-*`, Anthropic's `x-api-key` and `anthropic-version`, ...) allowed.
pub fn preflight_headers(allow_origin: String, requested_headers: Option<&str>) -> Vec<(&'static str, String)> {
    let mut headers = vec![
        ("access-control-allow-origin", allow_origin.clone()),
        ("access-control-allow-methods", "GET, POST, OPTIONS".to_owned()),
        ("access-control-allow-headers", requested_headers.unwrap_or("authorization, content-type").to_owned()),
        ("access-control-max-age", "86400".to_owned()),
    ];
    if allow_origin != "*" {
        headers.push(("vary", "origin".to_owned()));
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_origin_by_default_and_only_the_listed_ones_otherwise() {
        assert_eq!(AllowedOrigins::default().allow("https://app.example"), Some("*".into()));
        let only = AllowedOrigins::from_list(vec!["https://app.example/".into(), "http://localhost:3000".into()]);
        assert_eq!(only.allow("https://app.example"), Some("https://app.example".into()));
        assert_eq!(only.allow("http://localhost:3000"), Some("http://localhost:3000".into()));
        assert_eq!(only.allow("https://evil.example"), None);
        assert_eq!(only.allow("https://app.example.evil.example"), None);
        assert_eq!(AllowedOrigins::from_list(vec!["https://a".into(), "*".into()]), AllowedOrigins::Any);
    }

    #[test]
    fn a_preflight_allows_what_the_browser_asks_to_send() {
        let headers = preflight_headers("https://app.example".into(), Some("authorization, x-stainless-os"));
        assert!(headers.contains(&("access-control-allow-headers", "authorization, x-stainless-os".into())));
        assert!(headers.contains(&("vary", "origin".into())));
        assert!(!preflight_headers("*".into(), None).iter().any(|(name, _)| *name == "vary"));
    }
}
