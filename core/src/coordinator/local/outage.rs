//! When an isolate cannot reach its group's coordinator: how long it keeps
//! routing by its last view, and what the client is told when nothing can be
//! admitted without the coordinator.
//!
//! Health decisions fail open: a view past its time still routes, for
//! [`STALE_GRACE_MS`], to the deployments it saw healthy. Limits fail closed: a
//! deployment with an rpm or a tpm is called only under a lease, no new lease
//! comes while the coordinator is away, and no ticket either; a request that
//! nothing else can serve is answered at once with why ([`Outage::error`]),
//! rather than by another call into an object that just failed (an overloaded
//! Durable Object is made worse by every retry, Cloudflare's docs say).

use crate::error::ApiError;

/// How long past its time a view still routes while its coordinator cannot be
/// reached: long enough to ride out a restart or a burst of overload, short
/// enough that cooldowns started elsewhere are not ignored for long.
pub const STALE_GRACE_MS: u64 = 10_000;
/// After a failed call, how long the isolate waits before it asks the
/// coordinator again (per group): at most one sync a second, as when healthy.
pub const OUTAGE_RETRY_MS: u64 = super::VIEW_TTL_MS;

/// Why the group's coordinator could not be asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outage {
    /// Cloudflare refused the call: the Durable Object is overloaded (the thrown
    /// error's `.overloaded`).
    Overloaded,
    /// The call failed otherwise: the object reset, the network, an error answer.
    Unreachable,
}

impl Outage {
    /// What a request that needed the coordinator of `group` is answered.
    pub fn error(self, group: &str) -> ApiError {
        match self {
            Self::Overloaded => ApiError::CoordinatorOverloaded { group: group.to_owned() },
            Self::Unreachable => ApiError::CoordinatorUnavailable {
                group: group.to_owned(),
                detail: format!(
                    "this gateway could not reach it; until it does, only deployments without an rpm/tpm \
                     limit are served, from its last view (for up to {} s)",
                    STALE_GRACE_MS / 1000
                ),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_says_why_and_is_a_retryable_503() {
        for outage in [Outage::Overloaded, Outage::Unreachable] {
            let error = outage.error("g");
            assert_eq!(error.status(), 503, "{outage:?}");
            assert_eq!(error.retry_after_secs(), Some(1), "{outage:?}");
            assert!(error.to_string().contains("`g`"), "{error}");
            assert!(error.to_string().contains("rpm/tpm"), "{error}");
        }
        let body: serde_json::Value = serde_json::from_slice(&Outage::Overloaded.error("g").body()).unwrap();
        assert_eq!(body["error"]["code"], "coordinator_overloaded");
        assert!(body["error"]["message"].as_str().unwrap().contains("overloaded"), "{body}");
        let body: serde_json::Value = serde_json::from_slice(&Outage::Unreachable.error("g").body()).unwrap();
        assert_eq!(body["error"]["code"], "coordinator_unavailable");
        assert!(body["error"]["message"].as_str().unwrap().contains("could not reach it"), "{body}");
    }
}
