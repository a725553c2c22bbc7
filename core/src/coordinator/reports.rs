//! How tickets end: a report takes the request out of flight, reconciles its
//! estimated tokens with the actual usage, and records the latency of a success;
//! a failure may cool the deployment down. A ticket whose report never comes
//! expires.

use super::Coordinator;
use super::health;
use super::protocol::{Report, ReportedFailure, Timings};
use super::window::MINUTE_MS;
use crate::config::{DeploymentId, ModelGroup, RouterPolicy};

/// A ticket whose report never came (its isolate died) stops counting as in flight.
pub(super) const TICKET_TTL_MS: u64 = 10 * MINUTE_MS;

impl Coordinator {
    /// Ends a ticket. A report for an unknown ticket (expired, or granted before a
    /// restart) is ignored.
    pub fn report(&mut self, now_ms: u64, group: &ModelGroup, policy: &RouterPolicy, report: &Report) {
        let Some(ticket) = self.tickets.remove(&report.ticket) else {
            return;
        };
        if let Some(waiter) = ticket.waiter {
            self.admitted_waiters.remove(&waiter);
        }
        let Some(state) = self.deployments.get_mut(&ticket.deployment) else {
            return;
        };
        state.in_flight = state.in_flight.saturating_sub(1);
        let window = state.window.current(now_ms);
        if window.minute == ticket.minute
            && let Some(used) = report.tokens_used
        {
            window.tokens = window.tokens.saturating_sub(ticket.estimated_tokens).saturating_add(used);
        }
        match report.failure {
            None => {
                state.sample(now_ms, Timings::one(report.latency_ms, report.ttft_ms));
                state.health.on_success(ticket.probe);
            }
            Some(failure) => self.fail(now_ms, group, policy, &ticket.deployment, failure, ticket.probe),
        }
    }

    /// Counts a failure of `id`, which may cool it down (see [`health::Health::on_failure`]).
    pub(super) fn fail(
        &mut self,
        now_ms: u64,
        group: &ModelGroup,
        policy: &RouterPolicy,
        id: &DeploymentId,
        failure: ReportedFailure,
        probe: bool,
    ) {
        let Some(deployment) = group.deployments.iter().find(|d| &d.id == id) else {
            return;
        };
        let several = group.deployments.len() > 1;
        let state = self.deployments.entry(id.clone()).or_default();
        let window = state.window.current(now_ms);
        window.failures += 1;
        let window = *window;
        state.recent_failures.count(now_ms, failure.class);
        let was_cooling = matches!(state.health, health::Health::Cooling { .. });
        let length = cooldown_length(deployment.cooldown_ms, failure.retry_after_ms, policy);
        let may_cool = several && policy.cooldown.enabled && failure.class.counts_for_cooldown() && length > 0;
        state.health.on_failure(health::FailureContext {
            now_ms,
            class: failure.class,
            probe,
            may_cool,
            length_ms: length,
            allowed_fails: policy.cooldown.allowed_fails_for(failure.class),
            minute_requests: window.requests,
            minute_failures: window.failures,
        });
        if !was_cooling && matches!(state.health, health::Health::Cooling { .. }) {
            state.cooled_down += 1;
        }
    }

    /// Ends tickets whose report never came, and the slot leases of isolates
    /// that stopped syncing.
    pub(super) fn expire_tickets(&mut self, now_ms: u64) {
        self.slots.expire(now_ms);
        let (deployments, admitted_waiters) = (&mut self.deployments, &mut self.admitted_waiters);
        self.tickets.retain(|_, ticket| {
            let alive = now_ms.saturating_sub(ticket.granted_ms) < TICKET_TTL_MS;
            if !alive {
                if let Some(state) = deployments.get_mut(&ticket.deployment) {
                    state.in_flight = state.in_flight.saturating_sub(1);
                    state.health.abandon_probe(ticket.granted_ms);
                }
                if let Some(waiter) = ticket.waiter {
                    admitted_waiters.remove(&waiter);
                }
            }
            alive
        });
    }
}

/// The deployment's own `cooldown_time`, else the upstream's `Retry-After`, else the
/// router's `cooldown_time`, else 5 s. Zero means no cooldown.
fn cooldown_length(deployment_ms: Option<u64>, retry_after_ms: Option<u64>, policy: &RouterPolicy) -> u64 {
    deployment_ms
        .or(retry_after_ms.filter(|&ms| ms > 0))
        .or(policy.cooldown.cooldown_ms)
        .unwrap_or(crate::config::DEFAULT_COOLDOWN_MS)
}
