//! What the coordinator tells people watching its group: the counts isolates
//! hand over, added up, and each deployment's state now.

use super::health::Health;
use super::protocol::{DeploymentMetrics, GroupMetrics, HealthState, RECENT_FAILURE_MINUTES};
use super::window::MINUTE_MS;
use super::{Coordinator, recent};
use crate::config::{ModelGroup, Relaying, RouterPolicy};
use crate::failure::FailureClass;
use crate::observe::tally::{Tally, entry};

/// A deployment's failures per minute and class, for the last few minutes.
#[derive(Debug, Default)]
pub(super) struct RecentFailures {
    counts: Vec<((u64, FailureClass), u64)>,
}

impl RecentFailures {
    pub(super) fn count(&mut self, now_ms: u64, class: FailureClass) {
        let minute = now_ms / MINUTE_MS;
        self.forget(minute);
        *entry(&mut self.counts, &(minute, class)) += 1;
    }

    fn forget(&mut self, minute: u64) {
        let oldest = minute.saturating_sub(RECENT_FAILURE_MINUTES - 1);
        self.counts.retain(|((m, _), _)| *m >= oldest);
    }

    /// The last minutes' failures, by class, in the order classes first came.
    fn by_class(&mut self, now_ms: u64) -> Vec<(FailureClass, u64)> {
        self.forget(now_ms / MINUTE_MS);
        let mut sums = Vec::new();
        for &((_, class), count) in &self.counts {
            *entry(&mut sums, &class) += count;
        }
        sums
    }
}

impl Coordinator {
    /// Counts a request taken at `now_ms`, whatever it asked: the
    /// coordinator's load. `routing`: the isolates' messages in it (one, or a
    /// relay's batch's), for whether views say to relay (`policy.relaying`).
    pub fn took_message(&mut self, now_ms: u64, routing: u64, policy: &RouterPolicy) {
        self.messages = self.messages.saturating_add(1);
        if let Relaying::Auto { above_per_s, .. } = policy.relaying {
            self.load.took(now_ms, routing, above_per_s);
        }
    }

    /// Adds what an isolate counted.
    pub fn observed(&mut self, tally: &Tally) {
        self.observed.add(tally);
    }

    /// The group's counts and every deployment's state at `now_ms`.
    pub fn metrics(&mut self, now_ms: u64, group: &ModelGroup, policy: &RouterPolicy) -> GroupMetrics {
        self.forget_removed(group);
        self.expire_tickets(now_ms);
        let mut probes = 0;
        let deployments = group
            .deployments
            .iter()
            .map(|d| {
                let state = self.deployments.entry(d.id.clone()).or_default();
                state.health.advance(now_ms);
                probes += state.probes;
                let window = *state.window.current(now_ms);
                let timings = recent(&state.samples, now_ms, policy.latency_ttl_ms);
                let (health, cooling_left_ms) = match state.health {
                    Health::Cooling { until_ms, .. } => (HealthState::Cooling, Some(until_ms.saturating_sub(now_ms))),
                    Health::HalfOpen { .. } => (HealthState::Probing, None),
                    Health::Healthy { .. } => (HealthState::Healthy, None),
                };
                DeploymentMetrics {
                    id: d.id.clone(),
                    state: health,
                    cooling_left_ms,
                    in_flight: state.in_flight,
                    requests_taken: window.taken(),
                    tokens_taken: window.tokens_taken(),
                    leased_requests: window.leased,
                    leased_tokens: window.leased_tokens,
                    leased_slots: self.slots.leased(&d.id),
                    latency_ms: timings.average(false),
                    ttft_ms: timings.average(true),
                    cooled_down: state.cooled_down,
                    recent_failures: state.recent_failures.by_class(now_ms),
                }
            })
            .collect();
        GroupMetrics {
            group: group.name.clone(),
            queue: self.queue_status(now_ms, &group.name),
            queue_wait: self.queue_wait.clone(),
            probes,
            messages: self.messages,
            writes: self.writes,
            relaying: self.load.relay(),
            observed: self.observed.clone(),
            deployments,
        }
    }
}
