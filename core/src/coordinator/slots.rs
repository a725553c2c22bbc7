//! In-flight slots leased to isolates: `max_parallel_requests` held like rpm.
//!
//! A deployment with `max_parallel_requests` is called without a ticket only in a
//! slot the coordinator leased to the isolate. Leases are deltas, so that messages
//! crossing on the way need no ordering: at each sync an isolate gives back the
//! slots it does not use at that moment beyond the most its requests filled at
//! once since its last sync (it stops using them when it sends) and says how
//! many its requests still fill; the coordinator takes those back and may lease
//! more, which the isolate adds when the answer comes. So what
//! the coordinator counts as leased to an isolate is never less than what the
//! isolate uses. The in-flight limit is held against the tickets in flight plus
//! every slot leased: exactly, whatever the number of isolates.
//!
//! An isolate that dies says nothing: its slots come back when it lapses,
//! [`SLOTS_TTL_MS`] after its last sync (`coordinator::isolates`, which also
//! keeps the epoch of what it holds: slots given back or still on their way from
//! an epoch gone were taken back already, and count no more).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::config::{Deployment, DeploymentId};

pub use super::isolates::{NO_ISOLATE, SLOTS_TTL_MS};

/// What an isolate says of its slots of one deployment at a sync.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotsSince {
    /// The epoch of the slots it holds (see the module doc).
    pub epoch: u64,
    /// Leased slots it gives back (unused when it sent the sync, beyond what it keeps).
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
    /// The deployment is near its limit: a request takes a slot held unused
    /// before the strategy picks, and while the isolate's view says requests
    /// wait in the queue, each slot goes back as its request ends (a sync of its
    /// own) and every unused one at a sync, so that they get it at once.
    pub return_at_once: bool,
}

/// One isolate's slots and requests in flight, per deployment.
#[derive(Debug, Default)]
struct Isolate {
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

    /// Slots of `deployment` leased to `isolate` now.
    pub(super) fn leased_to(&self, isolate: u64, deployment: &DeploymentId) -> u32 {
        self.isolates.get(&isolate).and_then(|i| i.held.get(deployment)).map_or(0, |held| held.0)
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

    /// Takes what `isolate`, of `epoch` now, says at a sync of `deployment`: its
    /// unused slots come back and its requests in flight are noted.
    pub(super) fn settle(&mut self, isolate: u64, epoch: u64, deployment: &Deployment, since: SlotsSince) {
        let entry = self.isolates.entry(isolate).or_default();
        let held = entry.held.entry(deployment.id.clone()).or_default();
        let kept = if since.epoch == epoch {
            // A delta, so that syncs crossing on the way settle in any order (a
            // floor at the requests in flight, which an older sync reports higher,
            // would keep slots counted that the isolate gave back).
            held.0.saturating_sub(since.released)
        } else if deployment.max_parallel_requests.is_some() {
            // Slots of an epoch gone were taken back already, but its requests in
            // flight still fill theirs: a coordinator that restarted (and forgot
            // its leases) learns them here.
            held.0.max(since.busy)
        } else {
            held.0
        };
        let total = self.leased.entry(deployment.id.clone()).or_default();
        *total = total.saturating_sub(held.0).saturating_add(kept);
        *held = (kept, since.busy);
    }

    /// The slots of `deployment` an isolate that filled `peak` at once may lease
    /// now, with `in_flight` tickets: twice its peak (at least two) less what it
    /// keeps, at most a quarter of what is free beyond the last tenth (at least
    /// one while any is free, of a limit over ten). The flag: what is left after
    /// it is under a quarter of the limit. A sync no request asks for (`asking`
    /// false: the keeper's, a slot given back, a failure told) of an isolate
    /// whose requests filled none since its last sync is leased none: slots do
    /// not lapse with the view as leases do, and an idle isolate's keeper would
    /// otherwise take back, a second at a time, the slots it gives back, while
    /// other isolates' requests are refused for want of them.
    pub(super) fn share(
        &self,
        deployment: &Deployment,
        isolate: u64,
        peak: u32,
        asking: bool,
        in_flight: u32,
    ) -> SlotLease {
        let Some(max) = deployment.max_parallel_requests else {
            return SlotLease::default();
        };
        let kept = self.leased_to(isolate, &deployment.id);
        let taken = in_flight.saturating_add(self.leased(&deployment.id));
        let leasable = max.saturating_sub(taken).saturating_sub(max.div_ceil(10));
        let wanted = if asking || peak > 0 { peak.saturating_mul(2).max(2) } else { 0 }.saturating_sub(kept);
        // Past the tenth, one slot at a time while nobody waits (no slot is leased
        // then), given back as its request ends once requests wait: where a
        // ticket would cost the sync that found no slot, an acquire and a report.
        // A limit of ten or less keeps its last slot for tickets, so that the
        // queue orders it.
        let single = if max > 10 { max.saturating_sub(taken) } else { leasable };
        let granted = wanted.min((leasable / 4).max(single.min(1)));
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

    /// Takes back the slots of `isolate`, which lapsed.
    pub(super) fn forget(&mut self, isolate: u64) {
        let Some(lapsed) = self.isolates.remove(&isolate) else {
            return;
        };
        for (deployment, (slots, _)) in &lapsed.held {
            if let Some(total) = self.leased.get_mut(deployment) {
                *total = total.saturating_sub(*slots);
            }
        }
    }

    /// Forgets deployments that left the group.
    pub(super) fn retain(&mut self, keep: impl Fn(&DeploymentId) -> bool) {
        self.leased.retain(|id, _| keep(id));
        for isolate in self.isolates.values_mut() {
            isolate.held.retain(|id, _| keep(id));
        }
    }
}
