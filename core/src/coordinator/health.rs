//! A deployment's health: healthy, cooling down, or half-open with one probe.

use serde::{Deserialize, Serialize};

use crate::failure::FailureClass;

/// A half-open probe that never reported (its isolate died) is given up after this.
const PROBE_STALE_MS: u64 = 60_000;
/// Probe failures double the cooldown up to this.
const MAX_COOLDOWN_MS: u64 = 300_000;
/// While a probe is out, others are told to come back after about this long.
const PROBE_WAIT_MS: u64 = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Health {
    /// Serving. Counts failures since `fails_since` for `allowed_fails`.
    Healthy { fails_since_ms: u64, fails: u32 },
    /// Out of every pick until `until_ms`.
    Cooling { until_ms: u64, length_ms: u64 },
    /// The cooldown ended: one probe request is let through first. Its success
    /// restores the deployment; its failure cools it again for twice as long.
    HalfOpen { length_ms: u64, probe: Option<(u64, u64)> },
}

impl Default for Health {
    fn default() -> Self {
        Self::Healthy { fails_since_ms: 0, fails: 0 }
    }
}

/// What a failure report tells the health state.
pub struct FailureContext {
    pub now_ms: u64,
    pub class: FailureClass,
    /// The failed ticket was the half-open probe.
    pub probe: bool,
    /// Cooldowns are on, the group has other deployments, and the class counts.
    pub may_cool: bool,
    pub length_ms: u64,
    pub allowed_fails: Option<u32>,
    pub minute_requests: u64,
    pub minute_failures: u64,
}

impl Health {
    /// Brings the state to `now_ms`: a cooldown that ended turns half-open, and a
    /// probe gone stale (its report never came) is given up, so that another may go.
    /// Called on a deployment before [`Health::available_at`] asks about it.
    pub fn advance(&mut self, now_ms: u64) {
        match *self {
            Self::Healthy { .. } | Self::HalfOpen { probe: None, .. } => {}
            Self::Cooling { until_ms, length_ms } => {
                if now_ms >= until_ms {
                    *self = Self::HalfOpen { length_ms, probe: None };
                }
            }
            Self::HalfOpen { length_ms, probe: Some((_, since_ms)) } => {
                if now_ms.saturating_sub(since_ms) >= PROBE_STALE_MS {
                    *self = Self::HalfOpen { length_ms, probe: None };
                }
            }
        }
    }

    /// `None` when a ticket may be granted now, else when it may be again. A state
    /// not yet [advanced](Health::advance) to `now_ms` gets the answer it would get
    /// once advanced.
    pub fn available_at(&self, now_ms: u64) -> Option<u64> {
        match *self {
            Self::Healthy { .. } | Self::HalfOpen { probe: None, .. } => None,
            Self::Cooling { until_ms, .. } => (now_ms < until_ms).then_some(until_ms),
            Self::HalfOpen { probe: Some((_, since_ms)), .. } => {
                (now_ms.saturating_sub(since_ms) < PROBE_STALE_MS).then(|| now_ms + PROBE_WAIT_MS)
            }
        }
    }

    /// When this state changes by itself: a cooldown ends, or a probe goes stale.
    pub fn next_change(&self) -> Option<u64> {
        match *self {
            Self::Cooling { until_ms, .. } => Some(until_ms),
            Self::HalfOpen { probe: Some((_, since_ms)), .. } => Some(since_ms + PROBE_STALE_MS),
            Self::Healthy { .. } | Self::HalfOpen { probe: None, .. } => None,
        }
    }

    /// Marks the grant of `ticket` as the probe when the deployment is half-open.
    pub fn start_probe(&mut self, ticket: u64, now_ms: u64) -> bool {
        if let Self::HalfOpen { length_ms, probe: None } = *self {
            *self = Self::HalfOpen { length_ms, probe: Some((ticket, now_ms)) };
            true
        } else {
            false
        }
    }

    /// A probe whose ticket expired unreported: let another one through.
    pub fn abandon_probe(&mut self, granted_ms: u64) {
        if let Self::HalfOpen { length_ms, probe: Some((_, since_ms)) } = *self
            && since_ms == granted_ms
        {
            *self = Self::HalfOpen { length_ms, probe: None };
        }
    }

    pub fn on_success(&mut self, probe: bool) {
        if probe {
            *self = Self::default();
        }
    }

    /// Decides whether this failure cools the deployment down: a failed probe cools
    /// it again for twice as long (when it may cool at all; else another probe may
    /// go); a failure while healthy cools it by the rules below. Whether it may cool
    /// (`may_cool`) and for how long are the reporting coordinator's to say.
    pub fn on_failure(&mut self, f: FailureContext) {
        match *self {
            Self::HalfOpen { length_ms, probe: Some(_) } if f.probe => {
                *self = if f.may_cool {
                    let length_ms = length_ms.saturating_mul(2).min(MAX_COOLDOWN_MS).max(f.length_ms);
                    Self::Cooling { until_ms: f.now_ms.saturating_add(length_ms), length_ms }
                } else {
                    Self::HalfOpen { length_ms, probe: None }
                };
            }
            Self::Healthy { fails_since_ms, fails } if f.may_cool => {
                let trip = match f.allowed_fails {
                    // More than `allowed` failures within the cooldown length of the first.
                    Some(allowed) => {
                        let (since, count) = if f.now_ms.saturating_sub(fails_since_ms) > f.length_ms || fails == 0 {
                            (f.now_ms, 1)
                        } else {
                            (fails_since_ms, fails + 1)
                        };
                        *self = Self::Healthy { fails_since_ms: since, fails: count };
                        count > allowed
                    }
                    // LiteLLM's default: a 429 cools at once, and so does a failure
                    // rate over 50% in the minute once it has 5 requests.
                    None => {
                        f.class == FailureClass::RateLimit
                            || (f.minute_requests >= 5 && f.minute_failures * 2 > f.minute_requests)
                    }
                };
                if trip {
                    *self = Self::Cooling { until_ms: f.now_ms.saturating_add(f.length_ms), length_ms: f.length_ms };
                }
            }
            // Already cooling, or a failure that does not count: nothing changes.
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asking_changes_nothing_and_advancing_ends_a_cooldown_and_a_stale_probe() {
        let cooling = Health::Cooling { until_ms: 5_000, length_ms: 5_000 };
        let mut health = cooling;
        assert_eq!(health.available_at(4_999), Some(5_000));
        assert_eq!(health.available_at(5_000), None);
        assert_eq!(health, cooling, "a question leaves the state as it was");
        health.advance(4_999);
        assert_eq!(health, cooling);
        health.advance(5_000);
        assert_eq!(health, Health::HalfOpen { length_ms: 5_000, probe: None });

        assert!(health.start_probe(7, 5_000));
        let probing = health;
        assert_eq!(health.available_at(5_001), Some(5_001 + PROBE_WAIT_MS), "one probe at a time");
        assert_eq!(health.available_at(5_000 + PROBE_STALE_MS), None);
        assert_eq!(health, probing);
        health.advance(5_000 + PROBE_STALE_MS);
        assert_eq!(health, Health::HalfOpen { length_ms: 5_000, probe: None }, "a stale probe is given up");
    }
}
