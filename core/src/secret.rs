//! A secret value (API key, master key) that never prints.

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

#[cfg(test)]
mod tests {
    use super::*;

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
