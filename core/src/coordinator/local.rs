//! Routing inside the isolate, without a ticket, while a group needs no coordination.
//!
//! A ticket from the coordinator costs a Durable Object round trip before the call
//! and a report after it. A group whose deployments have no rpm, tpm or
//! `max_parallel_requests` limit, routed by a strategy that reads no shared state
//! (simple-shuffle, cost-based), needs neither while it is healthy: all an isolate
//! must know is which deployments are out. So the isolate keeps a [`HealthView`]
//! from the coordinator, refreshed at most [`VIEW_TTL_MS`] after it was fetched,
//! and picks from it itself. It tells the coordinator how many requests it sent
//! to each deployment when it refreshes, and every failure at once (the answer is
//! a fresh view, so a retry already sees the cooldown the failure started).
//!
//! Everything that needs one decision for the whole group still goes through a
//! ticket: a deployment whose cooldown ended waits for its single probe, a queue
//! with requests in it is served in order, and a request that only tried
//! deployments are left for, or that nothing can serve, gets the coordinator's
//! exact answer. A cooldown started in another isolate is seen here within
//! [`VIEW_TTL_MS`].

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::fits;
use super::strategy::{self, Candidate};
use crate::config::{Deployment, DeploymentId, ModelGroup, RouterPolicy, RoutingStrategy};

/// How long an isolate relies on a view before it asks again.
pub const VIEW_TTL_MS: u64 = 1_000;

/// What an isolate needs to know of its group to route by itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthView {
    /// Out of every pick: cooling down, or with a half-open probe in flight.
    pub blocked: Vec<DeploymentId>,
    /// Only the coordinator may decide now: a probe is due, or requests are queued.
    pub coordinate: bool,
    /// How long the view holds from when it was made: [`VIEW_TTL_MS`], or less
    /// when a cooldown ends sooner. Relative, so that the clocks of the isolate
    /// and of the coordinator (which may run elsewhere) need not agree.
    pub fresh_for_ms: u64,
}

/// Where a request goes, as far as this isolate can tell.
#[derive(Debug)]
pub enum LocalPick<'g> {
    /// Call this deployment, no ticket needed.
    Call(&'g Deployment),
    /// The view is missing or too old: fetch one, then pick again.
    Refresh,
    /// Take a ticket from the coordinator.
    Coordinate,
}

/// One isolate's knowledge of one group: the last view, and the requests it sent
/// since it last told the coordinator.
#[derive(Debug, Default)]
pub struct LocalRouter {
    view: Option<(HealthView, u64)>,
    served: HashMap<DeploymentId, u64>,
}

impl LocalRouter {
    /// Whether the group can be routed without tickets at all (see the module doc).
    pub fn eligible(group: &ModelGroup, policy: &RouterPolicy) -> bool {
        matches!(policy.strategy, RoutingStrategy::SimpleShuffle | RoutingStrategy::CostBased)
            && group.deployments.iter().all(|d| d.rpm.is_none() && d.tpm.is_none() && d.max_parallel_requests.is_none())
    }

    /// Picks a deployment as the coordinator would: one that fits the prompt, is
    /// not out and was not tried by this request, from the lowest `order`, by the
    /// strategy. Counts the request against the deployment when it picks.
    pub fn pick<'g>(
        &mut self,
        now_ms: u64,
        group: &'g ModelGroup,
        policy: &RouterPolicy,
        avoid: &[DeploymentId],
        estimated_tokens: u64,
        rng: &mut fastrand::Rng,
    ) -> LocalPick<'g> {
        if !Self::eligible(group, policy) {
            return LocalPick::Coordinate;
        }
        let Some((view, valid_until_ms)) = &self.view else {
            return LocalPick::Refresh;
        };
        if now_ms >= *valid_until_ms {
            return LocalPick::Refresh;
        }
        if view.coordinate {
            return LocalPick::Coordinate;
        }
        let open: Vec<&Deployment> = group
            .deployments
            .iter()
            .filter(|d| fits(policy, d, estimated_tokens) && !view.blocked.contains(&d.id) && !avoid.contains(&d.id))
            .collect();
        let Some(tier) = open.iter().map(|d| d.order).min() else {
            return LocalPick::Coordinate;
        };
        let candidates: Vec<Candidate<'g>> =
            open.into_iter().filter(|d| d.order == tier).map(Candidate::unloaded).collect();
        let Some(chosen) = strategy::choose(policy.strategy, &candidates, policy.latency_buffer, rng) else {
            return LocalPick::Coordinate;
        };
        *self.served.entry(chosen.deployment.id.clone()).or_default() += 1;
        LocalPick::Call(chosen.deployment)
    }

    /// Takes a view fetched at `now_ms`.
    pub fn update(&mut self, now_ms: u64, view: HealthView) {
        let valid_until_ms = now_ms.saturating_add(view.fresh_for_ms);
        self.view = Some((view, valid_until_ms));
    }

    /// The requests sent per deployment since the last call, for the coordinator.
    pub fn take_served(&mut self) -> Vec<(DeploymentId, u64)> {
        let mut served: Vec<_> = self.served.drain().collect();
        served.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        served
    }
}

#[cfg(test)]
mod tests;
