//! Routing inside the isolate, without a ticket, while a group needs no coordination.
//!
//! A ticket from the coordinator costs a Durable Object round trip before the call
//! and a report after it. A group whose deployments have no tpm or
//! `max_parallel_requests` limit, routed by a strategy that reads no shared state
//! (simple-shuffle, cost-based), needs neither while it is healthy: all an isolate
//! must know is which deployments are out, and, for a deployment with an rpm
//! limit, how many requests it may send. So the isolate keeps a [`HealthView`]
//! from the coordinator, refreshed at most [`VIEW_TTL_MS`] after it was fetched,
//! and picks from it itself. It tells the coordinator how many requests it sent
//! to each deployment when it refreshes, and every failure at once (the answer is
//! a fresh view, so a retry already sees the cooldown the failure started).
//!
//! **Leases.** An rpm-limited deployment is called without a ticket only under a
//! [`Lease`]: requests the coordinator set aside in the minute's count for this
//! isolate. The isolate settles it at its next refresh, saying how many it used;
//! the rest go back to the minute. So the limit holds exactly, whatever the number
//! of isolates. A lease is sized by what the isolate used of its last one (twice
//! that, so a busy isolate refreshes about once per view), is at most a quarter of
//! what is left, and is never smaller than [`MIN_LEASE`]; the last tenth of a
//! minute's rpm is never leased. Near the limit, then, requests take tickets again,
//! and the priority queue decides who gets what is left. A lease lives no longer
//! than its view, nor past its minute; one held by an isolate that dies comes back
//! with the next minute.
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
/// The smallest lease: one saves a Durable Object round trip per request it
/// covers, for the one sync that settles it; a smaller one is not worth the
/// capacity it holds away from other isolates and the queue.
pub const MIN_LEASE: u64 = 16;
/// A lease is at most this fraction of what is left of the minute's rpm.
const LEASE_SHARE: u64 = 4;
/// The part of an rpm never leased: `1 / LEASE_RESERVE` of it.
const LEASE_RESERVE: u64 = 10;

/// What an isolate needs to know of its group to route by itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthView {
    /// Out of every pick: cooling down, or with a half-open probe in flight.
    pub blocked: Vec<DeploymentId>,
    /// Only the coordinator may decide now: a probe is due, or requests are queued.
    pub coordinate: bool,
    /// How long the view holds from when it was made: [`VIEW_TTL_MS`], or less
    /// when a cooldown ends or the minute turns sooner. Relative, so that the
    /// clocks of the isolate and of the coordinator (which may run elsewhere)
    /// need not agree.
    pub fresh_for_ms: u64,
    /// The coordinator's minute when it made the view: the one its leases count in.
    #[serde(default)]
    pub minute: u64,
    /// Requests set aside for this isolate, per rpm-limited deployment.
    #[serde(default)]
    pub leases: Vec<(DeploymentId, Lease)>,
}

/// Requests an isolate may send to an rpm-limited deployment without tickets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The coordinator's minute whose count holds them.
    pub minute: u64,
    pub requests: u64,
    /// What was left of the rpm for everyone else once they were set aside.
    pub remaining: u64,
}

impl Lease {
    /// The lease for a deployment of `rpm` of which `taken` are counted or set
    /// aside this minute, for an isolate that used `used` of its last lease
    /// (`None`: it held none). `None` when none is worth granting.
    pub fn size(rpm: u64, taken: u64, used: Option<u64>) -> Option<u64> {
        let leasable = rpm.saturating_sub(taken).saturating_sub(rpm.div_ceil(LEASE_RESERVE));
        let wanted = used.map_or(MIN_LEASE, |used| used.saturating_mul(2).max(MIN_LEASE));
        Some((leasable / LEASE_SHARE).min(wanted)).filter(|&size| size >= MIN_LEASE)
    }
}

/// What an isolate tells of one deployment when it refreshes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Served {
    pub deployment: DeploymentId,
    /// Requests sent since the last refresh.
    pub requests: u64,
    /// The lease they were sent under, settled by this refresh.
    pub lease: Option<Lease>,
}

/// Where a request goes, as far as this isolate can tell.
#[derive(Debug)]
pub enum LocalPick<'g> {
    /// Call this deployment, no ticket needed. `remaining_requests`: for an
    /// rpm-limited one, what its lease says is left of the minute.
    Call { deployment: &'g Deployment, remaining_requests: Option<u64> },
    /// The view is missing or too old, or a lease is used up: fetch one, then
    /// pick again.
    Refresh,
    /// Take a ticket from the coordinator.
    Coordinate,
}

/// A lease as the isolate spends it.
#[derive(Debug, Clone, Copy)]
struct Held {
    lease: Lease,
    left: u64,
}

/// One isolate's knowledge of one group: the last view, its leases, and the
/// requests it sent since it last told the coordinator.
#[derive(Debug, Default)]
pub struct LocalRouter {
    view: Option<(HealthView, u64)>,
    served: HashMap<DeploymentId, u64>,
    leases: HashMap<DeploymentId, Held>,
}

impl LocalRouter {
    /// Whether the group can be routed without tickets at all (see the module doc).
    pub fn eligible(group: &ModelGroup, policy: &RouterPolicy) -> bool {
        matches!(policy.strategy, RoutingStrategy::SimpleShuffle | RoutingStrategy::CostBased)
            && group.deployments.iter().all(|d| d.tpm.is_none() && d.max_parallel_requests.is_none())
    }

    /// Picks a deployment as the coordinator would: one that fits the prompt, is
    /// not out and was not tried by this request, from the lowest `order`, by the
    /// strategy. Counts the request against the deployment (and its lease) when it
    /// picks. An rpm-limited deployment without a lease is the coordinator's to give.
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
        let deployment = chosen.deployment;
        let remaining_requests = match (deployment.rpm, self.leases.get_mut(&deployment.id)) {
            (None, _) => None,
            (Some(_), Some(held)) if held.left > 0 => {
                held.left -= 1;
                Some(held.lease.remaining + held.left)
            }
            // Used up within its view: a busy isolate, whose next lease is bigger.
            (Some(_), Some(_)) => return LocalPick::Refresh,
            (Some(_), None) => return LocalPick::Coordinate,
        };
        *self.served.entry(deployment.id.clone()).or_default() += 1;
        LocalPick::Call { deployment, remaining_requests }
    }

    /// Takes a view fetched at `now_ms`. Its leases add to those of the same
    /// minute already held: views fetched side by side by concurrent requests
    /// each set requests aside, and each must be settled.
    pub fn update(&mut self, now_ms: u64, view: HealthView) {
        // A lease of a minute gone is not settled: its requests counted in that
        // minute when it was granted, and that minute's count is gone.
        let served = &mut self.served;
        self.leases.retain(|id, held| {
            let current = held.lease.minute == view.minute;
            if !current {
                served.remove(id);
            }
            current
        });
        for (id, lease) in &view.leases {
            let held =
                self.leases.entry(id.clone()).or_insert(Held { lease: Lease { requests: 0, ..*lease }, left: 0 });
            held.lease.requests += lease.requests;
            held.lease.remaining = lease.remaining;
            held.left += lease.requests;
        }
        let valid_until_ms = now_ms.saturating_add(view.fresh_for_ms);
        self.view = Some((view, valid_until_ms));
    }

    /// What to tell the coordinator at a refresh: the requests sent per
    /// deployment since the last one, and the leases they settle (given up here).
    pub fn take_served(&mut self) -> Vec<Served> {
        let mut served: Vec<Served> =
            self.served.drain().map(|(deployment, requests)| Served { deployment, requests, lease: None }).collect();
        for (deployment, held) in self.leases.drain() {
            match served.iter_mut().find(|s| s.deployment == deployment) {
                Some(s) => s.lease = Some(held.lease),
                None => served.push(Served { deployment, requests: 0, lease: Some(held.lease) }),
            }
        }
        served.sort_by(|a, b| a.deployment.as_str().cmp(b.deployment.as_str()));
        served
    }
}

#[cfg(test)]
mod tests;
