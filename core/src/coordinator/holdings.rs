//! What a coordinator holds at a moment (`GET /debug/state`): tickets granted and
//! not given back, each deployment's counts and leases this minute, and what waits;
//! and, for the simulation's count of where a concurrency limit's slots are, the
//! slots it counts as taken, without the expiries a message would run first.

use super::Coordinator;
use super::health::Health;
use super::protocol::{DeploymentHoldings, Holdings};
use super::queue::PriorityQueue;
use super::window::MINUTE_MS;
use crate::config::{DeploymentId, ModelGroup};

impl Coordinator {
    /// What is granted and not given back, and what waits, now.
    pub fn holdings(&mut self, now_ms: u64, group: &ModelGroup) -> Holdings {
        self.forget_removed(group);
        self.expire_tickets(now_ms);
        let deployments = group
            .deployments
            .iter()
            .map(|d| {
                let state = self.deployments.entry(d.id.clone()).or_default();
                let window = *state.window.current(now_ms);
                DeploymentHoldings {
                    id: d.id.clone(),
                    in_flight: state.in_flight,
                    requests: window.requests,
                    tokens: window.tokens,
                    leased_requests: window.leased,
                    leased_tokens: window.leased_tokens,
                    leased_slots: self.slots.leased(&d.id),
                    cooling_until_ms: match state.health {
                        Health::Cooling { until_ms, .. } if until_ms > now_ms => Some(until_ms),
                        _ => None,
                    },
                }
            })
            .collect();
        Holdings {
            group: group.name.clone(),
            minute: now_ms / MINUTE_MS,
            tickets: self.tickets.len(),
            waiting: self.queue.as_ref().map_or(0, PriorityQueue::len),
            admitted_unreported: self.admitted_waiters.len(),
            deployments,
            ..Holdings::default()
        }
    }
}

impl Coordinator {
    /// Of `deployment`'s `max_parallel_requests`: tickets in flight, and slots
    /// leased to isolates, as counted now.
    pub fn slots_taken(&self, deployment: &DeploymentId) -> (u32, u32) {
        let tickets = self.deployments.get(deployment).map_or(0, |state| state.in_flight);
        (tickets, self.slots.leased(deployment))
    }

    /// Slots of `deployment` counted as leased to `isolate` now.
    pub fn slots_leased_to(&self, isolate: u64, deployment: &DeploymentId) -> u32 {
        self.slots.leased_to(isolate, deployment)
    }
}
