//! Secrets: a value (API key, master key) that never prints, and the set of every
//! configured secret, masked wherever text from a provider goes on.

use std::borrow::Cow;
use std::fmt;

/// Holds a secret string. `Debug` and `Display` print a placeholder, so a secret
/// cannot reach a log line, an error message or a header by accident; the only way
/// out is [`Secret::expose`], which call sites use where the secret is meant to go.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The secret itself, for the one place it is sent (an upstream's
    /// `Authorization` header) or compared (the master key check).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Compares in time independent of where the inputs differ, so that a client
    /// cannot learn the master key byte by byte from response times.
    pub fn matches(&self, candidate: &str) -> bool {
        constant_time_eq::constant_time_eq(self.0.as_bytes(), candidate.as_bytes())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Secrets shorter than this are masked whole: what a prefix and a suffix keep of
/// them would reveal too much.
const MIN_PARTLY_SHOWN: usize = 24;

/// A secret as it may be shown: its first five and last two characters, as
/// OpenAI shows a key (`sk-ab...yz`), or nothing of it when it is short.
pub fn masked(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() < MIN_PARTLY_SHOWN {
        return "****".to_owned();
    }
    let head: String = chars[..5].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}...{tail}")
}

/// A key as it may be kept and compared without being held: the SHA-256 of it in
/// lowercase hex, as LiteLLM's `hashed_api_key`. Names a tenant (async jobs,
/// stored responses) and the caller in the request log.
pub fn hashed(key: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(key.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Every secret the configuration holds: deployment keys, the master key and
/// every `os.environ/` value. Text from a provider (an error message, a header)
/// passes through [`Secrets::mask`] before it reaches a client, a log line or the
/// cache: some providers and proxies echo the key they were sent.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    /// Each secret with its masked form, longest first, so that a secret that
    /// contains another is masked whole.
    masks: Vec<(String, String)>,
}

impl Secrets {
    pub fn new<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        let mut secrets: Vec<&str> = values.into_iter().filter(|v| !v.trim().is_empty()).collect();
        secrets.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        secrets.dedup();
        Self { masks: secrets.into_iter().map(|s| (s.to_owned(), masked(s))).collect() }
    }

    /// `text` with every secret in it masked, in one pass: a masked form is never
    /// masked again.
    pub fn mask<'t>(&self, text: &'t str) -> Cow<'t, str> {
        if !self.masks.iter().any(|(secret, _)| text.contains(secret.as_str())) {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            match self.masks.iter().find(|(secret, _)| rest.starts_with(secret.as_str())) {
                Some((secret, masked)) => {
                    out.push_str(masked);
                    rest = &rest[secret.len()..];
                }
                None => {
                    out.push(c);
                    rest = &rest[c.len_utf8()..];
                }
            }
        }
        Cow::Owned(out)
    }

    /// Each secret with what it is masked as (for the Worker's JavaScript, which
    /// masks the provider's headers it passes on).
    pub fn pairs(&self) -> &[(String, String)] {
        &self.masks
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secrets({} masked)", self.masks.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_secrets_keep_a_short_prefix_and_suffix_and_short_ones_nothing() {
        assert_eq!(masked("sk-abcdefghijklmnopqrstuvwxyz"), "sk-ab...yz");
        assert_eq!(masked("short-key-123"), "****");
        assert_eq!(masked("ü".repeat(30).as_str()), "üüüüü...üü");
    }

    #[test]
    fn every_occurrence_of_every_secret_is_masked() {
        let long = "sk-proj-0123456789abcdefghijklmnop";
        let secrets = Secrets::new([long, "hunter2", "", long]);
        let said = format!("Incorrect API key provided: {long}. Also hunter2, and {long} again.");
        assert_eq!(secrets.mask(&said), "Incorrect API key provided: sk-pr...op. Also ****, and sk-pr...op again.");
        assert!(matches!(secrets.mask("nothing to hide"), Cow::Borrowed(_)));
        assert_eq!(format!("{secrets:?}"), "Secrets(2 masked)");
    }

    #[test]
    fn a_secret_containing_another_is_masked_whole() {
        let secrets = Secrets::new(["abc", "abc-and-a-much-longer-secret-value"]);
        assert_eq!(secrets.mask("key abc-and-a-much-longer-secret-value"), "key abc-a...ue");
    }

    #[test]
    fn a_key_is_hashed_as_litellm_hashes_it() {
        // sha256("sk-1234"), as `hashlib.sha256(b"sk-1234").hexdigest()` gives it.
        assert_eq!(hashed("sk-1234"), "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b");
    }

    #[test]
    fn never_prints_its_value() {
        let secret = Secret::new("sk-very-secret".into());
        assert_eq!(format!("{secret:?}"), "Secret(***)");
    }

    #[test]
    fn matches_only_the_exact_value() {
        let secret = Secret::new("sk-1234".into());
        assert!(secret.matches("sk-1234"));
        assert!(!secret.matches("sk-1235"));
        assert!(!secret.matches("sk-123"));
        assert!(!secret.matches("sk-12345"));
        assert!(!secret.matches(""));
    }
}
