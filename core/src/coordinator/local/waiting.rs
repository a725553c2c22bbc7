//! The isolate's waiting line for a group: its requests that may wait (they
//! carry a priority) for a ticket, kept here rather than each in the
//! coordinator's queue.
//!
//! Only the best of them wait in the coordinator's queue: a request files its
//! ticket request there when fewer than [`FILED_AHEAD`] requests of its kind
//! (same deployments tried, same area) that stand before it, or level with it,
//! have filed. Each grant goes to the request that filed for it; one whose
//! request went away (its client left, or its deadline came) goes to the best
//! request waiting here without an entry of its own. So a saturated group's
//! coordinator takes a message for each request it admits (and for each filed
//! request whose time runs out), not for each request that arrives: those that
//! wait out their time behind better ones do it here, unseen.
//!
//! The order across isolates is the coordinator queue's: a request of priority
//! p that waits here unfiled has [`FILED_AHEAD`] requests of its isolate at p or
//! better in that queue, which go before any worse one; it files as soon as
//! they are fewer, and is in the queue a one-way trip later. So a worse request
//! is admitted before it only if every one of them was admitted within that
//! trip. Within the isolate, an entry stands exactly for its request, whose
//! priority and aging the coordinator's queue orders.
//!
//! Pure: the Worker (`src/waiting_line.rs`) sends what this decides and polls
//! it for each request's answer.

use std::collections::HashMap;

use super::super::grant::{fits, in_region};
use super::super::queue::PriorityQueue;
use super::super::{LineDepth, TicketReply, Unavailable};
use crate::config::{DeploymentId, ModelGroup, RouterPolicy};
use crate::region::Area;

/// How many requests of a kind, at most, wait in the coordinator's queue
/// before a request of that kind that stands behind them: enough that the next
/// is there when a grant comes, for an isolate sent several grants within a
/// round trip (one of 1,000 isolates sharing 15,000 admissions a second gets
/// about five in the longest round trip of 300 ms).
pub const FILED_AHEAD: usize = 4;

/// What a waiting request can be served by.
#[derive(Debug, Clone, PartialEq)]
pub struct Want {
    /// Deployments it tried already.
    pub avoid: Vec<DeploymentId>,
    pub estimated_tokens: u64,
    pub region: Option<Area>,
}

impl Want {
    /// Requests of one kind share the coordinator's entries: any of them can be
    /// served by what the others can (the prompt's fit aside, checked at hand-over).
    fn same_kind(&self, other: &Want) -> bool {
        self.avoid == other.avoid && self.region == other.region
    }
}

/// A request filed in the coordinator's queue, by the id of the request that filed it.
#[derive(Debug)]
struct Filed {
    score: u64,
    want: Want,
}

/// An answer waiting for its request to take it, with the entry it came for.
#[derive(Debug)]
struct Answer {
    entry: u64,
    reply: TicketReply,
}

/// One group's waiting line in an isolate.
#[derive(Debug)]
pub struct WaitingLine {
    waiting: PriorityQueue<Want>,
    /// `max_queue_size`: the most requests this line holds.
    max_size: Option<usize>,
    filed: HashMap<u64, Filed>,
    answers: HashMap<u64, Answer>,
}

impl WaitingLine {
    /// `aging_ms`: the group's `priority_aging_s`, as the coordinator's queue
    /// ages; `max_size`: its `max_queue_size`, held by each line (and by the
    /// coordinator's queue for the entries filed).
    pub fn new(aging_ms: Option<u64>, max_size: Option<usize>) -> Self {
        Self { waiting: PriorityQueue::new(aging_ms), max_size, filed: HashMap::new(), answers: HashMap::new() }
    }

    /// Requests waiting here, answered or not, and entries filed: an empty line
    /// may be dropped.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty() && self.filed.is_empty() && self.answers.is_empty()
    }

    /// Request `waiter` lines up until `deadline_ms`; or, the line holding
    /// `max_queue_size` requests already, is told so.
    pub fn join(
        &mut self,
        waiter: u64,
        priority: u32,
        now_ms: u64,
        deadline_ms: u64,
        want: Want,
    ) -> Result<(), Unavailable> {
        if let Some(max) = self.max_size.filter(|&max| self.waiting.len() >= max) {
            return Err(Unavailable::QueueFull { max });
        }
        self.waiting.push(waiter, priority, now_ms, deadline_ms, want);
        Ok(())
    }

    /// How many wait here, by priority, and the longest wait: told to the
    /// coordinator with each sync, for the queue's status.
    pub fn depth(&self, now_ms: u64) -> LineDepth {
        let (by_priority, oldest_wait_ms) = self.waiting.depth(now_ms);
        LineDepth { by_priority, oldest_wait_ms }
    }

    /// Whether `waiter` must file its ticket request now: it waits unanswered,
    /// has not filed, fewer than [`FILED_AHEAD`] entries of its kind stand
    /// before it or level with it, and it is the first of its kind that has
    /// not filed. Once this says yes, the entry counts as filed (its request
    /// on its way).
    pub fn file(&mut self, waiter: u64) -> bool {
        let Some(entry) = self.waiting.get(waiter) else {
            return false;
        };
        if self.filed.contains_key(&waiter) {
            return false;
        }
        let ahead =
            self.filed.values().filter(|f| f.want.same_kind(&entry.payload) && f.score <= entry.score()).count();
        // The best unfiled request of its kind files first, so that the entries
        // filed are the line's best.
        let first = self
            .waiting
            .iter()
            .find(|w| w.payload.same_kind(&entry.payload) && !self.filed.contains_key(&w.id))
            .is_some_and(|w| w.id == waiter);
        if ahead >= FILED_AHEAD || !first {
            return false;
        }
        let filed = Filed { score: entry.score(), want: entry.payload.clone() };
        self.filed.insert(waiter, filed);
        true
    }

    /// The coordinator answered the entry `entry` filed. A grant goes to that
    /// request if it still waits, else to the best request waiting without an
    /// entry of its own that the granted deployment can serve; a queue timeout
    /// to no one (each request here keeps its own deadline); any other answer
    /// (a reason of the filing request's own, or the queue full) to the request
    /// that filed, if it still waits. Returns the grant when no one here can
    /// take it: the caller gives it back (`Message::Leave` with `entry`).
    pub fn answered(
        &mut self,
        entry: u64,
        reply: TicketReply,
        now_ms: u64,
        group: &ModelGroup,
        policy: &RouterPolicy,
    ) -> Option<TicketReply> {
        self.filed.remove(&entry);
        match reply {
            TicketReply::Granted(_) => self.hand_over(entry, reply, now_ms, group, policy),
            TicketReply::Unavailable(Unavailable::QueueTimeout { .. }) => None,
            TicketReply::Unavailable(_) => {
                if self.waiting.remove(entry).is_some() {
                    self.answers.insert(entry, Answer { entry, reply });
                }
                None
            }
        }
    }

    /// The entry `entry` filed is gone from the coordinator's queue unanswered
    /// (its request failed, or was dropped): the request that filed it, if it
    /// still waits, files again.
    pub fn lost(&mut self, entry: u64) {
        self.filed.remove(&entry);
    }

    /// `waiter`'s answer, if it has one: a grant or a reason handed to it, or,
    /// past its deadline, a queue timeout with its place here. It leaves the line.
    pub fn take(&mut self, waiter: u64, now_ms: u64) -> Option<TicketReply> {
        if let Some(answer) = self.answers.remove(&waiter) {
            return Some(answer.reply);
        }
        let entry = self.waiting.get(waiter)?;
        if entry.deadline_ms > now_ms {
            return None;
        }
        let waited_ms = now_ms.saturating_sub(entry.enqueued_ms);
        let position = self.waiting.position(waiter).unwrap_or(1);
        self.waiting.remove(waiter);
        Some(TicketReply::Unavailable(Unavailable::QueueTimeout { waited_ms, position }))
    }

    /// Whether any request waits here unanswered.
    pub fn waits(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// `waiter`'s client went away: it leaves the line. A grant handed to it and
    /// not taken goes to the best request without an entry that can take it
    /// under `serving` (the
    /// group and policy in force; `None` when the group left the config), or is
    /// returned, with its entry, for the caller to give back (as from
    /// [`WaitingLine::answered`]).
    pub fn leave(
        &mut self,
        waiter: u64,
        now_ms: u64,
        serving: Option<(&ModelGroup, &RouterPolicy)>,
    ) -> Option<(u64, TicketReply)> {
        self.waiting.remove(waiter);
        let answer = self.answers.remove(&waiter)?;
        let TicketReply::Granted(_) = answer.reply else {
            return None;
        };
        let entry = answer.entry;
        match serving {
            Some((group, policy)) => self.hand_over(entry, answer.reply, now_ms, group, policy),
            None => Some(answer.reply),
        }
        .map(|reply| (entry, reply))
    }

    fn hand_over(
        &mut self,
        entry: u64,
        mut reply: TicketReply,
        now_ms: u64,
        group: &ModelGroup,
        policy: &RouterPolicy,
    ) -> Option<TicketReply> {
        let TicketReply::Granted(grant) = &mut reply else {
            return Some(reply);
        };
        let Some(deployment) = group.deployments.iter().find(|d| d.id == grant.deployment) else {
            return Some(reply);
        };
        let taker = match self.waiting.get(entry) {
            Some(filer) => Some(filer),
            None => self.waiting.iter().find(|w| {
                !self.filed.contains_key(&w.id)
                    && !w.payload.avoid.contains(&deployment.id)
                    && in_region(deployment, w.payload.region)
                    && fits(policy, deployment, w.payload.estimated_tokens)
            }),
        };
        let Some(taker) = taker else {
            return Some(reply);
        };
        let (waiter, enqueued_ms) = (taker.id, taker.enqueued_ms);
        self.waiting.remove(waiter);
        // Its own wait, here and in the coordinator's queue.
        grant.waited_ms = Some(now_ms.saturating_sub(enqueued_ms));
        self.answers.insert(waiter, Answer { entry, reply });
        None
    }
}

#[cfg(test)]
mod tests;
