//! How tickets end: a report takes the request out of flight, reconciles its
//! estimated tokens with the actual usage, and records the latency of a success;
//! a failure may cool the deployment down. A ticket whose report never comes
//! ends with its isolate, or expires ([`tickets`](super::tickets)).

use super::Coordinator;
use super::health;
use super::protocol::{Report, ReportedFailure, Timings, cools_down};
use super::tickets::Ticket;
use crate::config::{DeploymentId, ModelGroup, RouterPolicy};

impl Coordinator {
    /// Ends a ticket. A report for an unknown ticket (expired, or granted before a
    /// restart) is ignored.
    pub fn report(&mut self, now_ms: u64, group: &ModelGroup, policy: &RouterPolicy, report: &Report) {
        let Some(ticket) = self.tickets.remove(report.ticket) else {
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
        let state = self.deployments.entry(id.clone()).or_default();
        let window = state.window.current(now_ms);
        window.failures += 1;
        let window = *window;
        state.recent_failures.count(now_ms, failure.class);
        let was_cooling = matches!(state.health, health::Health::Cooling { .. });
        let length = cooldown_length(deployment.cooldown_ms, failure.retry_after_ms, policy);
        // `cools_down` holds exactly when `length` > 0 with cooldowns on.
        let may_cool = failure.may_cool(cools_down(group, deployment, policy));
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

    /// Takes back what isolates silent for [`SLOTS_TTL_MS`] held (their slots,
    /// their tickets), and ends the tickets granted [`TICKET_TTL_MS`] ago whose
    /// report never came: O(log n) for each that ends, nothing for the others.
    ///
    /// [`SLOTS_TTL_MS`]: super::slots::SLOTS_TTL_MS
    /// [`TICKET_TTL_MS`]: super::tickets::TICKET_TTL_MS
    pub(super) fn expire_tickets(&mut self, now_ms: u64) {
        for isolate in self.isolates.lapse(now_ms) {
            self.slots.forget(isolate);
            self.line_gone(now_ms, isolate);
            for ticket in self.tickets.take_isolate(isolate) {
                self.unreported(&ticket);
            }
        }
        for ticket in self.tickets.take_expired(now_ms) {
            self.unreported(&ticket);
        }
    }

    /// A ticket ended without its report: out of flight, its probe (if it was
    /// one) given up so that another may go, its waiter forgotten. Its request
    /// and estimated tokens stay counted in their minute: it may have been sent.
    fn unreported(&mut self, ticket: &Ticket) {
        if let Some(state) = self.deployments.get_mut(&ticket.deployment) {
            state.in_flight = state.in_flight.saturating_sub(1);
            state.health.abandon_probe(ticket.granted_ms);
        }
        if let Some(waiter) = ticket.waiter {
            self.admitted_waiters.remove(&waiter);
        }
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
