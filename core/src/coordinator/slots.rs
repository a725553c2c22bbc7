//! In-flight slots leased to isolates: `max_parallel_requests` held like rpm.
//!
//! A deployment with `max_parallel_requests` is called without a ticket only in a
//! slot the coordinator leased to the isolate. Leases are deltas, so that messages
//! crossing on the way need no ordering: at each sync an isolate gives back every
//! slot it does not use at that moment (it stops using them when it sends) and
//! says how many its requests still fill; the coordinator takes the unused ones
//! back and may lease more, which the isolate adds when the answer comes. So what
//! the coordinator counts as leased to an isolate is never less than what the
//! isolate uses. The in-flight limit is held against the tickets in flight plus
//! every slot leased: exactly, whatever the number of isolates.
//!
//! An isolate that dies says nothing: its slots come back [`SLOTS_TTL_MS`] after
//! its last sync. What the coordinator knows of an isolate has an epoch (when it
//! first heard of it, since it last forgot it): slots given back or still on
//! their way from an epoch gone were taken back already, and count no more. A live isolate with requests in flight syncs at least every
//! third of that (the Worker's keeper), so its slots never lapse under requests
//! still running, unless it cannot reach the coordinator for that long.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::config::{Deployment, DeploymentId};

/// The isolate id of a sync from a build before slot leases: it leases none.
pub const NO_ISOLATE: u64 = 0;

/// Slots leased to an isolate come back this long after its last sync.
pub const SLOTS_TTL_MS: u64 = 30_000;

/// What an isolate says of its slots of one deployment at a sync.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotsSince {
    /// The epoch of the slots it holds (see the module doc).
    pub epoch: u64,
    /// Leased slots it gives back (unused when it sent the sync).
    pub released: u32,
    /// Slots its requests fill now: kept.
    pub busy: u32,
    /// The most its requests filled at once since its last sync: what the next
    /// lease is sized by.
    pub peak: u32,
}

/// Slots of one deployment leased to the isolate by a sync: added to those it keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotLease {
    pub granted: u32,
    /// The deployment is near its limit: give each slot back as its request ends
    /// (a sync of its own), so that the queue and other isolates get it at once.
    pub return_at_once: bool,
}

/// One isolate's slots and requests in flight, per deployment.
#[derive(Debug, Default)]
struct Isolate {
    epoch: u64,
    seen_ms: u64,
    /// Per deployment: slots leased, and slots its requests fill (as of its last sync).
    held: HashMap<DeploymentId, (u32, u32)>,
}

/// Every isolate's slots, and their sum per deployment.
#[derive(Debug, Default)]
pub(super) struct Slots {
    isolates: HashMap<u64, Isolate>,
    leased: HashMap<DeploymentId, u32>,
}

impl Slots {
    /// Slots of `deployment` leased to isolates now.
    pub(super) fn leased(&self, deployment: &DeploymentId) -> u32 {
        self.leased.get(deployment).copied().unwrap_or(0)
    }

    /// Requests in flight on `deployment` in isolates other than `isolate`, as of
    /// their last syncs: what least-busy adds to the tickets in flight.
    pub(super) fn busy_elsewhere(&self, deployment: &DeploymentId, isolate: u64) -> u32 {
        self.isolates
            .iter()
            .filter(|(id, _)| **id != isolate)
            .filter_map(|(_, i)| i.held.get(deployment))
            .fold(0u32, |sum, (_, busy)| sum.saturating_add(*busy))
    }

    /// Takes what `isolate` says at a sync of `deployment`: its unused slots come
    /// back and its requests in flight are noted.
    pub(super) fn settle(&mut self, isolate: u64, deployment: &Deployment, since: SlotsSince) {
        let entry = self.isolates.entry(isolate).or_default();
        let released = if since.epoch == entry.epoch { since.released } else { 0 };
        let held = entry.held.entry(deployment.id.clone()).or_default();
        let mut kept = held.0.saturating_sub(released);
        if deployment.max_parallel_requests.is_some() {
            // Never under what its requests fill: a coordinator that restarted
            // (and forgot its leases) learns them again here.
            kept = kept.max(since.busy);
        }
        let total = self.leased.entry(deployment.id.clone()).or_default();
        *total = total.saturating_sub(held.0).saturating_add(kept);
        *held = (kept, since.busy);
    }

    /// Marks `isolate` alive at `now_ms`: it synced. Returns the epoch of its slots.
    pub(super) fn seen(&mut self, now_ms: u64, isolate: u64) -> u64 {
        let entry = self.isolates.entry(isolate).or_insert_with(|| Isolate { epoch: now_ms, ..Isolate::default() });
        entry.seen_ms = entry.seen_ms.max(now_ms);
        entry.epoch
    }

    /// The slots of `deployment` an isolate that filled `peak` at once may lease
    /// now, with `in_flight` tickets: twice its peak (at least two) less what it
    /// keeps, at most a quarter of what is free beyond the tenth never leased
    /// (at least one while any is). The flag: what is left after it is under a
    /// quarter of the limit.
    pub(super) fn share(&self, deployment: &Deployment, isolate: u64, peak: u32, in_flight: u32) -> SlotLease {
        let Some(max) = deployment.max_parallel_requests else {
            return SlotLease::default();
        };
        let kept = self.isolates.get(&isolate).and_then(|i| i.held.get(&deployment.id)).map_or(0, |h| h.0);
        let taken = in_flight.saturating_add(self.leased(&deployment.id));
        let leasable = max.saturating_sub(taken).saturating_sub(max.div_ceil(10));
        let wanted = peak.saturating_mul(2).max(2).saturating_sub(kept);
        let granted = wanted.min((leasable / 4).max(leasable.min(1)));
        let left = max.saturating_sub(taken).saturating_sub(granted);
        SlotLease { granted, return_at_once: left < max / 4 }
    }

    /// Leases `granted` slots of `deployment` to `isolate`.
    pub(super) fn grant(&mut self, isolate: u64, deployment: &DeploymentId, granted: u32) {
        if granted == 0 {
            return;
        }
        let entry = self.isolates.entry(isolate).or_default();
        entry.held.entry(deployment.clone()).or_default().0 += granted;
        *self.leased.entry(deployment.clone()).or_default() += granted;
    }

    /// Takes back the slots of isolates silent for [`SLOTS_TTL_MS`].
    pub(super) fn expire(&mut self, now_ms: u64) {
        let leased = &mut self.leased;
        self.isolates.retain(|_, isolate| {
            let alive = now_ms.saturating_sub(isolate.seen_ms) < SLOTS_TTL_MS;
            if !alive {
                for (deployment, (slots, _)) in &isolate.held {
                    if let Some(total) = leased.get_mut(deployment) {
                        *total = total.saturating_sub(*slots);
                    }
                }
            }
            alive
        });
    }

    /// When the next isolate holding slots lapses, if one does.
    pub(super) fn next_lapse(&self) -> Option<u64> {
        self.isolates
            .values()
            .filter(|i| i.held.values().any(|(slots, _)| *slots > 0))
            .map(|i| i.seen_ms.saturating_add(SLOTS_TTL_MS))
            .min()
    }

    /// Forgets deployments that left the group.
    pub(super) fn retain(&mut self, keep: impl Fn(&DeploymentId) -> bool) {
        self.leased.retain(|id, _| keep(id));
        for isolate in self.isolates.values_mut() {
            isolate.held.retain(|id, _| keep(id));
        }
    }
}
