//! The agenda: events by time, those of the same millisecond in the order they
//! were scheduled (a sequence number breaks ties, so runs are deterministic).

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::config::DeploymentId;
use crate::coordinator::local::line::Tell;
use crate::coordinator::local::{HealthView, ServedSince};
use crate::coordinator::{Report, ReportedFailure, TicketReply, TicketRequest};
use crate::failure::FailureClass;

/// An isolate as messages name it: its place among the isolates alive, and its
/// own id (a message to an isolate that died since finds another id there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Sender {
    pub slot: usize,
    pub isolate: u64,
}

/// A client's request, from its arrival at an isolate to its call or refusal.
#[derive(Debug, Clone)]
pub(super) struct Request {
    pub id: u64,
    pub arrived_ms: u64,
    pub priority: Option<u32>,
    pub estimated: u64,
    /// It asked for a view already (the Worker refreshes once, then takes a ticket).
    pub refreshed: bool,
    /// When it asked for its ticket, which names it among those its isolate
    /// asks for at once (`Asking`).
    pub asked_ms: u64,
    /// It waited in its isolate for a slot (`slot_wait`): it does not again.
    pub awaited_slot: bool,
}

/// A call to an upstream deployment.
#[derive(Debug, Clone)]
pub(super) struct Call {
    /// The deployment's place in the group.
    pub deployment: usize,
    pub ticket: Option<u64>,
    pub estimated: u64,
    pub used: u64,
    pub latency_ms: u64,
    pub failure: Option<FailureClass>,
}

/// Why an isolate syncs: each is a message to the coordinator, counted apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SyncWhy {
    /// A pick found no view, a stale one, or a lease or slots used up; or a
    /// call's pick found the view three quarters through its life (refreshed ahead).
    Refresh,
    /// The keeper: slots are due back (`LocalRouter::sync_due`).
    Keeper,
    /// A slot goes back at once as its request ends, near the limit.
    Release,
    /// A call without a ticket failed: the coordinator is told at once.
    Failure,
}

/// A message arriving at the coordinator.
#[derive(Debug)]
pub(super) enum ToCoordinator {
    Sync {
        from: Sender,
        asked_ms: u64,
        served: Vec<ServedSince>,
        failure: Option<(DeploymentId, ReportedFailure)>,
        estimated: u64,
        /// Requests wait for its view (the isolate's shared refresh).
        shared: bool,
    },
    Acquire {
        from: Sender,
        request: Request,
        ticket: TicketRequest,
    },
    /// An isolate's line tells who joined, who left and who it admitted
    /// itself (`Message::Wait`).
    Wait {
        from: Sender,
        tell: Tell,
    },
    /// Reports that waited their time for another message, sent on their own.
    Report,
}

#[derive(Debug)]
pub(super) enum Event {
    /// The next client request arrives.
    Arrival,
    /// A message arrives at the coordinator, with the reports of tickets that
    /// waited to travel with it (`report_may_wait`), applied first.
    AtCoordinator(ToCoordinator, Vec<Report>),
    /// The coordinator is done with the messages it took: it takes the next.
    CoordinatorTurn,
    /// A view arrives at the isolate that asked for it at `asked_ms`.
    View { to: Sender, asked_ms: u64, view: HealthView, shared: bool },
    /// A ticket's answer arrives; `minute`: the coordinator's when it granted it;
    /// `queued`: the request waited in the queue for it.
    Ticket { to: Sender, request: Request, reply: TicketReply, minute: u64, queued: bool },
    /// The answer to a line's `Wait`: the answers owed to it, each with the
    /// coordinator's minute when it was decided.
    LineAnswer { to: Sender, replies: Vec<(u64, TicketReply, u64)> },
    /// An upstream call ends (whether or not its isolate is still alive).
    CallEnd { at: Sender, call: Call },
    /// A request of an isolate's line reaches its own deadline there.
    LineDeadline { at: Sender, waiter: u64 },
    /// An isolate's line may send its next `Wait` (`Line::due`).
    Tell { at: Sender },
    /// A request's wait in its isolate for a slot (`slot_wait`) ends.
    SlotWaitOver { at: Sender, request: u64 },
    /// An isolate's keeper wakes up.
    Keeper { at: Sender },
    /// The reports an isolate holds have waited their time (`REPORT_WAIT_MS`).
    ReportsDue { at: Sender },
    /// The coordinator's alarm (`Coordinator::next_wakeup`).
    Wakeup,
    /// A message from one of its isolates arrives at a relay, with its reports.
    AtRelay { relay: usize, message: ToCoordinator, reports: Vec<Report> },
    /// A relay's next batch may go.
    RelayFlush { relay: usize },
    /// A relay's batch arrives at the coordinator.
    Batch { relay: usize, batch: Vec<(ToCoordinator, Vec<Report>)> },
    /// The answer to a relay's batch arrives there: what the coordinator owed
    /// its isolates, for each.
    RelayBack { relay: usize, answers: Vec<Event> },
    /// The isolate in this slot dies; a new one takes its place.
    Death { slot: usize },
}

impl Event {
    /// The isolate an answer from the coordinator goes to.
    pub fn to(&self) -> Option<Sender> {
        match self {
            Self::View { to, .. } | Self::Ticket { to, .. } | Self::LineAnswer { to, .. } => Some(*to),
            _ => None,
        }
    }
}

struct Scheduled {
    at_ms: u64,
    sequence: u64,
    event: Event,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at_ms, self.sequence) == (other.at_ms, other.sequence)
    }
}

impl Eq for Scheduled {}

impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scheduled {
    /// Reversed: the max-heap pops the earliest first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at_ms, other.sequence).cmp(&(self.at_ms, self.sequence))
    }
}

#[derive(Default)]
pub(super) struct Agenda {
    heap: BinaryHeap<Scheduled>,
    sequence: u64,
}

impl Agenda {
    pub fn push(&mut self, at_ms: u64, event: Event) {
        self.sequence += 1;
        self.heap.push(Scheduled { at_ms, sequence: self.sequence, event });
    }

    pub fn pop(&mut self) -> Option<(u64, Event)> {
        self.heap.pop().map(|s| (s.at_ms, s.event))
    }
}
