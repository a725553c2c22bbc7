//! The model group's coordinator: the one place that knows every deployment's
//! health and usage, whatever isolate a request arrives in.
//!
//! A sans-IO state machine: every call takes `now_ms`, nothing reads a clock. The
//! Durable Object (`src/coordinator.rs`) is a thin shell that decodes a
//! [`Message`], calls the coordinator with the time, answers the waiting requests
//! the message made admissible ([`Coordinator::tick`]), and writes the snapshot
//! [`Coordinator::snapshot_due`] hands it.
//!
//! # What it answers
//! Each [`Message`] names its group, and the shell answers it with:
//! - `Acquire`: a [`TicketReply`]. The reports that came with it are applied first
//!   ([`Coordinator::report`]); then [`Coordinator::acquire`] answers at once, or
//!   queues a request that may wait, which a later [`Coordinator::tick`] answers (a
//!   grant, or why none). When its caller goes away, a waiting request leaves the
//!   queue, or gives back the grant it was just sent ([`Coordinator::leave`]).
//! - `Report`: an empty 204, once [`Coordinator::report`] took each report and
//!   the queue was ticked.
//! - `Status`: a [`QueueStatus`] ([`Coordinator::queue_status`]).
//! - `Leave`: an empty 204, once the request left as when its caller goes away.
//! - `Wait`: the answers owed to the isolate's line ([`Coordinator::wait`], then
//!   [`Coordinator::owed`] after a tick), held open until some are owed, or for
//!   [`WAIT_HOLD_MS`] at most.
//! - `State`: the [`Holdings`] ([`Coordinator::holdings`], `GET /debug/state`).
//! - `Sync`: a fresh [`local::HealthView`], with its leases, for an isolate that
//!   routes the group itself ([`Coordinator::sync_local`]); then the queue is ticked,
//!   as a settled lease may give requests back to the minute.
//! - `Observed`: an empty 204, once the isolate's counts are added ([`Coordinator::observed`]).
//! - `Metrics`: the [`GroupMetrics`] ([`Coordinator::metrics`]).
//! - `Batch`: a relay's messages ([`relay`]), each answered as above but for a
//!   `Wait`, which is not held: a [`BatchReply`] with each one's answer and
//!   what is owed to the lines of the relay's isolates.
//!
//! # What it holds
//! Per deployment:
//! - **persisted** (in the [`Snapshot`], survives an eviction of the Durable
//!   Object): the cooldown state, and the current minute's request, token and
//!   failure counts of deployments with rpm/tpm limits, written ahead (see
//!   `snapshot`), so that limits and cooldowns hold across a restart;
//! - **rebuilt** (memory only): in-flight tickets, latency samples, the queue, and
//!   the counts of unlimited deployments. After a restart in-flight counts start at
//!   zero and latency-based routing relearns.
//!
//! # Layout
//! - `mod.rs`: the [`Coordinator`] and its state per deployment, and the latency samples.
//! - `snapshot`: what is kept in storage ([`Snapshot`]), and when it is written.
//! - `protocol`: the messages, and the requests and replies they carry.
//! - `window`: one minute of a deployment's usage, that rpm and tpm are held against.
//! - `health`: a deployment's health: healthy, cooling down, or half-open with one probe.
//! - `admission`: answering a request at once or queueing it; the queue's ticks,
//!   wakeups and leavers; grants given back.
//! - `queue`: the priority queue itself.
//! - `lines`: requests waiting in isolates' lines, whose answers are owed to
//!   their isolate (`Wait`).
//! - `grant`: the selection pipeline: fits, healthy, under limits, free, not tried,
//!   lowest tier, then the strategy; the grant.
//! - `strategy`: the routing strategies, each a choice among one tier.
//! - `reports`: how tickets end (reports, failures and cooldowns, expiry).
//! - `tickets`: the tickets granted and not ended, by id, by age and by isolate.
//! - `isolates`: which isolates are alive; what an isolate holds (its slots, its
//!   tickets) comes back when it lapses.
//! - `serve_local`: the coordinator's side of routing without tickets: counts,
//!   leases and views.
//! - `relay`: when a relay's batch of its isolates' messages goes (`Batch`).
//! - `load`: the isolates' messages a second, and whether views say to relay.
//! - `slots`: in-flight slots leased to isolates (`max_parallel_requests`).
//! - `holdings`: what is held at a moment, for `GET /debug/state`.
//! - `metrics`: the counts isolates hand over and the state of each deployment,
//!   for `GET /metrics` and `GET /ui/state`.
//! - [`local`]: the isolate's side of routing without tickets.

mod admission;
mod grant;
mod health;
mod holdings;
mod isolates;
mod lines;
mod load;
pub mod local;
mod metrics;
mod protocol;
mod queue;
pub mod relay;
mod reports;
mod serve_local;
pub mod slots;
mod snapshot;
mod strategy;
mod tickets;
mod window;

use std::collections::{HashMap, VecDeque};

use crate::config::{DeploymentId, ModelGroup};
use health::Health;
use queue::PriorityQueue;
use window::Window;

pub use admission::Admission;
pub use lines::{OWED_TTL_MS, WAIT_HOLD_MS};
pub use protocol::{
    BatchReply, DeploymentHoldings, DeploymentMetrics, Grant, GroupMetrics, HealthState, Holdings, Message,
    QueueRequest, QueueStatus, RECENT_FAILURE_MINUTES, REPORT_WAIT_MS, Relayed, Report, ReportedFailure, TicketReply,
    TicketRequest, Timings, Unavailable, cools_down, report_may_wait,
};
pub use snapshot::{Snapshot, WRITTEN_AHEAD};

/// Latency samples kept per deployment, at most: a ticket's report is one, an
/// isolate's sync one more (the sum of its answers since its last sync).
const MAX_SAMPLES: usize = 256;

#[derive(Debug, Clone, Copy)]
struct Sample {
    at_ms: u64,
    timings: Timings,
}

#[derive(Debug, Default)]
struct DeploymentState {
    health: Health,
    window: Window,
    in_flight: u32,
    samples: VecDeque<Sample>,
    /// For the metrics (rebuilt): probes granted, cooldowns started, recent failures.
    probes: u64,
    cooled_down: u64,
    recent_failures: metrics::RecentFailures,
}

impl DeploymentState {
    fn sample(&mut self, now_ms: u64, timings: Timings) {
        self.samples.push_back(Sample { at_ms: now_ms, timings });
        if self.samples.len() > MAX_SAMPLES {
            self.samples.pop_front();
        }
    }
}

/// The coordinator of one model group.
#[derive(Debug, Default)]
pub struct Coordinator {
    deployments: HashMap<DeploymentId, DeploymentState>,
    /// Tickets in flight (rebuilt: after a restart they start at zero).
    tickets: tickets::Tickets,
    next_ticket: u64,
    /// Waiting requests by waiter id (rebuilt: a restart answers them, see the shell).
    queue: Option<PriorityQueue<TicketRequest>>,
    /// The ticket each request admitted from the queue was granted, until it is
    /// reported: a client that left just as it was admitted gives its grant back.
    admitted_waiters: HashMap<u64, u64>,
    /// Which waiting requests wait in isolates' lines, and the answers owed to them.
    lines: lines::Lines,
    /// Waiting requests a sync admitted, for the next [`Coordinator::tick`] to answer.
    ready: Vec<(u64, protocol::TicketReply)>,
    admitted: u64,
    expired: u64,
    /// Of those admitted, by their isolates in slots freed there.
    handed_over: u64,
    /// In-flight slots leased to isolates (rebuilt: after a restart, each
    /// isolate's requests in flight count again from its next sync, as tickets'
    /// start at zero).
    slots: slots::Slots,
    /// The isolates seen lately, whose slots and tickets lapse with them (rebuilt).
    isolates: isolates::Isolates,
    /// The last minute in which a request that may wait (one with a priority)
    /// came here, by ticket or through a line: the part of each limit never
    /// leased is kept for the queue from then to the next minute's end
    /// ([`Coordinator::lease_reserve`]). Rebuilt: until such a request comes
    /// again after a restart, less is kept, which only the queue's order feels.
    ordered_minute: Option<u64>,
    /// The last minute in which a view found a deployment at its rpm or tpm,
    /// or on pace to reach it before the minute ends: until the next minute's
    /// end, views say the group is saturated
    /// ([`local::HealthView::saturated`]). Rebuilt: a restart forgets it until
    /// a limit is reached again.
    saturated_minute: Option<u64>,
    /// For the metrics (rebuilt): the messages taken, the snapshots written, what
    /// isolates counted, and the queue's waits.
    messages: u64,
    writes: u64,
    /// The isolates' messages a second (rebuilt: after a restart, relays start
    /// again a second after the isolates' traffic).
    load: load::Load,
    observed: crate::observe::tally::Tally,
    queue_wait: crate::observe::tally::Histogram,
    /// The last snapshot handed to the shell to write ([`Coordinator::snapshot_due`]).
    written: Option<Snapshot>,
}

impl Coordinator {
    /// A request that may wait came at `now_ms`.
    fn ordered(&mut self, now_ms: u64) {
        self.ordered_minute = Some(now_ms / window::MINUTE_MS);
    }

    /// The part of each rpm and tpm never leased now, as `1 / reserve` of it.
    fn lease_reserve(&self, now_ms: u64) -> u64 {
        let minute = now_ms / window::MINUTE_MS;
        match self.ordered_minute {
            Some(ordered) if minute <= ordered.saturating_add(1) => local::LEASE_RESERVE,
            _ => local::LEASE_RESERVE_UNORDERED,
        }
    }

    /// Forgets deployments that left the group (the config changed).
    fn forget_removed(&mut self, group: &ModelGroup) {
        let kept = |id: &DeploymentId| group.deployments.iter().any(|d| &d.id == id);
        // Every deployment slots were leased of has state here (its view made
        // it): when none left, nothing is to be forgotten, and the isolates'
        // slots (one entry per isolate) are not walked on every message.
        if self.deployments.keys().all(kept) {
            return;
        }
        self.deployments.retain(|id, _| kept(id));
        self.slots.retain(kept);
    }
}

/// The samples of the last `ttl_ms`, summed: what latency-based routing averages.
fn recent(samples: &VecDeque<Sample>, now_ms: u64, ttl_ms: u64) -> Timings {
    let mut sum = Timings::default();
    for sample in samples.iter().filter(|s| now_ms.saturating_sub(s.at_ms) <= ttl_ms) {
        sum.add(sample.timings);
    }
    sum
}

#[cfg(test)]
use window::MINUTE_MS;

#[cfg(test)]
impl Coordinator {
    /// `id`'s counts in the minute of `now_ms` (all zero when nothing counted in
    /// it yet): what the property tests hold the rpm and tpm against.
    fn minute_of(&self, id: &DeploymentId, now_ms: u64) -> Window {
        self.deployments
            .get(id)
            .map(|state| state.window)
            .filter(|w| w.minute == now_ms / MINUTE_MS)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;
