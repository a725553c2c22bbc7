//! One minute of a deployment's usage: what its rpm and tpm are held against.

use serde::{Deserialize, Serialize};

use crate::config::Deployment;

pub(super) const MINUTE_MS: u64 = 60_000;

/// One minute of a deployment's usage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct Window {
    pub(super) minute: u64,
    pub(super) requests: u64,
    pub(super) tokens: u64,
    pub(super) failures: u64,
    /// Requests and tokens set aside for isolates' leases and not yet settled.
    #[serde(default)]
    pub(super) leased: u64,
    #[serde(default)]
    pub(super) leased_tokens: u64,
}

impl Window {
    pub(super) fn current(&mut self, now_ms: u64) -> &mut Self {
        let minute = now_ms / MINUTE_MS;
        if self.minute != minute {
            *self = Self { minute, ..Self::default() };
        }
        self
    }

    /// Requests counted or set aside this minute: what the rpm is held against.
    pub(super) fn taken(&self) -> u64 {
        self.requests.saturating_add(self.leased)
    }

    /// Tokens counted or set aside this minute: what the tpm is held against.
    pub(super) fn tokens_taken(&self) -> u64 {
        self.tokens.saturating_add(self.leased_tokens)
    }

    /// Whether one more request of `tokens` stays within the deployment's rpm and tpm.
    pub(super) fn admits(&self, deployment: &Deployment, tokens: u64) -> bool {
        deployment.rpm.is_none_or(|rpm| self.taken() < rpm)
            && deployment.tpm.is_none_or(|tpm| self.tokens_taken().saturating_add(tokens) <= tpm)
    }

    /// Counts what an isolate reports it sent (tokens may be a correction below zero).
    pub(super) fn count(&mut self, requests: u64, tokens: i64) {
        self.requests = self.requests.saturating_add(requests);
        self.tokens = self.tokens.saturating_add_signed(tokens);
    }
}
