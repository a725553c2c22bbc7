//! Where a concurrency limit's slots are, counted every [`CENSUS_EVERY_MS`]: what
//! keeps a deployment with `max_parallel_requests` from its limit.
//!
//! At each count, every slot of the limit is in one of these:
//! - **in calls**: calls on the upstream, with a ticket, in a slot held by a
//!   live isolate, or of an isolate that died (the upstream still serves them);
//! - **idle in live isolates**: slots held there that no request fills;
//! - **on their way**: slots the coordinator counts as leased to a live isolate
//!   that the isolate does not hold (yet, or any more): a lease whose answer
//!   travels, or slots given back by a sync that travels;
//! - **held for dead isolates**: slots leased to isolates that died, not lapsed
//!   yet, beyond their calls still running;
//! - **tickets not in a call**: tickets the coordinator counts whose call has not
//!   started (the grant travels) or has ended (the report travels), or whose
//!   isolate died;
//! - **free**: counted by nobody.
//!
//! The parts add up to the limit only if the calls on the upstream are exactly
//! those the counts say: live isolates' requests in their slots, calls with a
//! ticket, and dead isolates' calls in slots. A count where they are not is
//! counted as unsplit; one where a live isolate holds more slots than the
//! coordinator counts as leased to it breaks the lease's rule (`slots`) and is
//! counted as overheld.

use super::report::SlotShares;
use crate::config::DeploymentId;

/// How often the slots are counted, in simulated time.
pub(super) const CENSUS_EVERY_MS: u64 = 50;

/// One count of one deployment's slots, as the world sees them.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Count {
    /// Calls on the upstream now.
    pub calls: u64,
    /// Tickets in flight and slots leased, as the coordinator counts them.
    pub tickets: u32,
    pub leased: u32,
    /// Of live isolates: the slots the coordinator counts as theirs, those they
    /// hold, and those their requests fill.
    pub leased_to_live: u32,
    pub held: u32,
    pub busy: u32,
    /// Live isolates holding more slots than the coordinator counts as theirs.
    pub overheld: u32,
}

/// The counts of one deployment with `max_parallel_requests`, summed.
#[derive(Debug)]
pub(super) struct Census {
    /// The deployment's index in its group, its id, and its limit.
    pub index: usize,
    pub id: DeploymentId,
    limit: u32,
    /// Calls with a ticket running on the upstream, and calls in slots of
    /// isolates that died.
    ticket_calls: u32,
    dead_slot_calls: u32,
    counts: u64,
    /// In the order of [`SlotShares`]'s parts.
    sums: [f64; 6],
    tickets: f64,
    unsplit: u64,
    overheld: u64,
}

impl Census {
    pub fn new(index: usize, id: DeploymentId, limit: u32) -> Self {
        Self {
            index,
            id,
            limit,
            ticket_calls: 0,
            dead_slot_calls: 0,
            counts: 0,
            sums: [0.0; 6],
            tickets: 0.0,
            unsplit: 0,
            overheld: 0,
        }
    }

    /// A call leaves, with a ticket or in a slot.
    pub fn call_started(&mut self, ticket: bool) {
        if ticket {
            self.ticket_calls += 1;
        }
    }

    /// A call ends; `alive`: its isolate still lives.
    pub fn call_ended(&mut self, ticket: bool, alive: bool) {
        if ticket {
            self.ticket_calls = self.ticket_calls.saturating_sub(1);
        } else if !alive {
            self.dead_slot_calls = self.dead_slot_calls.saturating_sub(1);
        }
    }

    /// An isolate died with `busy` of its slots filled: their calls run on.
    pub fn died(&mut self, busy: u32) {
        self.dead_slot_calls += busy;
    }

    pub fn add(&mut self, c: Count) {
        let split = u64::from(c.busy) + u64::from(self.ticket_calls) + u64::from(self.dead_slot_calls);
        self.unsplit += u64::from(c.calls != split);
        self.overheld += u64::from(c.overheld);
        let taken = c.leased.saturating_add(c.tickets);
        let parts = [
            c.calls as f64,
            f64::from(c.held.saturating_sub(c.busy)),
            f64::from(c.leased_to_live.saturating_sub(c.held)),
            f64::from(c.leased.saturating_sub(c.leased_to_live).saturating_sub(self.dead_slot_calls)),
            f64::from(c.tickets.saturating_sub(self.ticket_calls)),
            f64::from(self.limit.saturating_sub(taken)),
        ];
        for (sum, part) in self.sums.iter_mut().zip(parts) {
            *sum += part;
        }
        self.tickets += f64::from(c.tickets);
        self.counts += 1;
    }

    /// The mean of each part over the counts.
    pub fn finish(&self) -> SlotShares {
        let mean = |i: usize| self.sums[i] / self.counts.max(1) as f64;
        SlotShares {
            limit: self.limit,
            counts: self.counts,
            in_calls: mean(0),
            idle: mean(1),
            on_their_way: mean(2),
            dead: mean(3),
            tickets_not_in_call: mean(4),
            free: mean(5),
            tickets: self.tickets / self.counts.max(1) as f64,
            unsplit: self.unsplit,
            overheld: self.overheld,
        }
    }
}
