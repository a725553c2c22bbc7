//! Isolates' lines: requests that wait in the group's queue without a fetch of
//! their own.
//!
//! A request that may wait joins its isolate's line ([`local::line`]), and the
//! isolate tells the coordinator who joined and who left with one message for
//! many ([`Message::Wait`]). Each joined request is asked for as an acquire
//! would ask: it is answered at once, or it waits in the queue under its own
//! priority and deadline, in the same order as requests that wait with a fetch
//! of their own. Its answer (a grant, or why none) is *owed* to its isolate and
//! goes back with the answer to the isolate's next `Wait`, together with every
//! other answer owed to it by then. So a saturated group's coordinator takes a
//! message per answer sent to an isolate (and one per ticket's report), not one
//! per request that arrives: requests arriving faster than answers go back
//! travel together.
//!
//! What nobody takes is given back: a grant owed for [`OWED_TTL_MS`] (its
//! isolate stopped asking), the requests of an isolate whose waiting fetch
//! closed with none other open ([`Coordinator::line_gone`]: the isolate died),
//! and those of an isolate that lapsed.
//!
//! [`local::line`]: super::local::line
//! [`Message::Wait`]: super::Message::Wait

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::protocol::{TicketReply, TicketRequest};
use super::{Admission, Coordinator};
use crate::config::{ModelGroup, RouterPolicy};

/// A `Wait` is held open at most this long, then answered with whatever is
/// owed (perhaps nothing): the isolate, whose line still waits, sends another,
/// which marks it alive (half of [`SLOTS_TTL_MS`], so that a live isolate whose
/// only business is its line never lapses).
///
/// [`SLOTS_TTL_MS`]: super::isolates::SLOTS_TTL_MS
pub const WAIT_HOLD_MS: u64 = 5_000;

/// An answer owed to an isolate that has not asked for it this long is given
/// back (a grant) or dropped: a live isolate with requests in its line always
/// has a `Wait` open or on its way, at most [`WAIT_HOLD_MS`] apart. Shorter
/// than [`SLOTS_TTL_MS`]: an isolate alive by its syncs but no longer asking
/// (its last `Wait` failed) gives its grants back before it would lapse.
///
/// [`SLOTS_TTL_MS`]: super::isolates::SLOTS_TTL_MS
pub const OWED_TTL_MS: u64 = 8_000;

/// Answers owed to one isolate, and its requests still waiting.
#[derive(Debug, Default)]
struct IsolateLine {
    waiting: BTreeSet<u64>,
    owed: Vec<(u64, TicketReply)>,
    /// When the oldest answer owed was decided.
    owed_since_ms: u64,
}

#[derive(Debug, Default)]
pub(super) struct Lines {
    /// The isolate of each waiter in a line (waiting, or its answer owed).
    isolate_of: HashMap<u64, u64>,
    /// Ordered: a lapsed isolate's requests leave in a fixed order.
    isolates: BTreeMap<u64, IsolateLine>,
    /// `(owed_since_ms, isolate)` of every isolate owed answers: the order
    /// they reach [`OWED_TTL_MS`] in, so that finding those costs no scan.
    owed: BTreeSet<(u64, u64)>,
}

impl Lines {
    /// Whether `waiter` waits in a line (its answer is owed to its isolate).
    fn owns(&self, waiter: u64) -> bool {
        self.isolate_of.contains_key(&waiter)
    }

    /// `waiter` waits in `isolate`'s line.
    fn join(&mut self, isolate: u64, waiter: u64) {
        self.isolate_of.insert(waiter, isolate);
        self.isolates.entry(isolate).or_default().waiting.insert(waiter);
    }

    fn owe(&mut self, now_ms: u64, waiter: u64, reply: TicketReply) {
        let Some(&isolate) = self.isolate_of.get(&waiter) else {
            return;
        };
        let line = self.isolates.entry(isolate).or_default();
        line.waiting.remove(&waiter);
        if line.owed.is_empty() {
            line.owed_since_ms = now_ms;
            self.owed.insert((now_ms, isolate));
        }
        line.owed.push((waiter, reply));
    }

    /// Takes what is owed to `isolate`.
    fn take_owed(&mut self, isolate: u64) -> Vec<(u64, TicketReply)> {
        let Some(line) = self.isolates.get_mut(&isolate) else {
            return Vec::new();
        };
        self.owed.remove(&(line.owed_since_ms, isolate));
        let owed = std::mem::take(&mut line.owed);
        for (waiter, _) in &owed {
            self.isolate_of.remove(waiter);
        }
        if line.waiting.is_empty() {
            self.isolates.remove(&isolate);
        }
        owed
    }

    fn forget(&mut self, waiter: u64) {
        let Some(isolate) = self.isolate_of.remove(&waiter) else {
            return;
        };
        if let Some(line) = self.isolates.get_mut(&isolate) {
            line.waiting.remove(&waiter);
            let owed = !line.owed.is_empty();
            line.owed.retain(|(w, _)| *w != waiter);
            if owed && line.owed.is_empty() {
                self.owed.remove(&(line.owed_since_ms, isolate));
            }
            if line.waiting.is_empty() && line.owed.is_empty() {
                self.isolates.remove(&isolate);
            }
        }
    }
}

impl Coordinator {
    /// Isolate `isolate` tells who joined its line since its last `Wait` (each
    /// answered at once or queued) and who left it (a client gone, a deadline
    /// passed there, a grant it could not use): those leave the queue, or give
    /// back the grant they were sent; and who it admitted itself, in slots freed
    /// there (`handed`: out of the queue as admitted from it; `handed_untold`:
    /// the waits of those admitted before it told of them, counted as admitted
    /// from the queue, whose part its line is). The answers owed
    /// to it are then taken with [`Coordinator::owed`], after a
    /// [`Coordinator::tick`].
    #[allow(clippy::too_many_arguments)]
    pub fn wait(
        &mut self,
        now_ms: u64,
        group: &ModelGroup,
        policy: &RouterPolicy,
        isolate: u64,
        joined: &[TicketRequest],
        left: &[u64],
        handed: &[u64],
        handed_untold: &[u64],
        rng: &mut fastrand::Rng,
    ) {
        self.isolates.seen(now_ms, isolate);
        if !joined.is_empty() {
            self.ordered(now_ms);
        }
        for &waiter in left {
            self.leave(now_ms, waiter);
        }
        for &waiter in handed {
            self.handed(now_ms, waiter);
        }
        for &waited_ms in handed_untold {
            self.admitted_here(waited_ms);
        }
        // In the queue's order (priority, then arrival): capacity free now goes
        // to the best of them first.
        let mut joined: Vec<&TicketRequest> = joined.iter().collect();
        joined.sort_by_key(|request| request.queue.map(|q| q.priority));
        for request in joined {
            // Only a request that may wait has a waiter to answer it by.
            // A request told twice (a `Wait` retried) waits once.
            let Some(queue) = request.queue.filter(|q| !self.lines.owns(q.waiter)) else {
                continue;
            };
            self.lines.join(isolate, queue.waiter);
            let request = TicketRequest { isolate, ..request.clone() };
            if let Admission::Now(reply) = self.acquire(now_ms, group, policy, &request, rng) {
                // Granted at once, it is tied to its waiter as one admitted from
                // the queue is.
                self.tie_to_waiter(queue.waiter, &reply);
                self.lines.owe(now_ms, queue.waiter, reply);
            }
        }
    }

    /// Takes the answers owed to `isolate`'s line, for the answer to its `Wait`.
    pub fn owed(&mut self, isolate: u64) -> Vec<(u64, TicketReply)> {
        self.lines.take_owed(isolate)
    }

    /// What is owed to `isolate` now, left where it is (for the simulation,
    /// which measures when answers are decided).
    pub fn owed_of(&self, isolate: u64) -> &[(u64, TicketReply)] {
        self.lines.isolates.get(&isolate).map_or(&[], |line| &line.owed)
    }

    /// The isolates answers are owed to, those owed the longest first.
    pub fn owed_to(&self) -> Vec<u64> {
        self.lines.owed.iter().map(|&(_, isolate)| isolate).collect()
    }

    /// Whether nothing of `isolate`'s line is here (waiting, or owed): its
    /// `Wait`s held open are answered, empty, rather than kept for nothing.
    pub fn line_done(&self, isolate: u64) -> bool {
        !self.lines.isolates.contains_key(&isolate)
    }

    /// The isolate's waiting fetches all closed: it died. Its requests leave
    /// the queue, and what it was owed goes back.
    pub fn line_gone(&mut self, now_ms: u64, isolate: u64) {
        let Some(line) = self.lines.isolates.get(&isolate) else {
            return;
        };
        let waiters: Vec<u64> = line.waiting.iter().copied().chain(line.owed.iter().map(|(w, _)| *w)).collect();
        for waiter in waiters {
            self.leave(now_ms, waiter);
        }
    }

    /// A queue's answer: owed to its isolate when the request waits in a line
    /// (then `None`), else handed back for the shell to send.
    pub(super) fn owe_or_answer(&mut self, now_ms: u64, waiter: u64, reply: TicketReply) -> Option<TicketReply> {
        if !self.lines.owns(waiter) {
            return Some(reply);
        }
        self.lines.owe(now_ms, waiter, reply);
        None
    }

    /// Gives back what was owed [`OWED_TTL_MS`] and never asked for.
    pub(super) fn expire_owed(&mut self, now_ms: u64) {
        let stale: Vec<u64> = self
            .lines
            .owed
            .iter()
            .take_while(|(since_ms, _)| now_ms.saturating_sub(*since_ms) >= OWED_TTL_MS)
            .filter_map(|(_, isolate)| self.lines.isolates.get(isolate))
            .flat_map(|line| line.owed.iter().map(|(w, _)| *w))
            .collect();
        for waiter in stale {
            self.leave(now_ms, waiter);
        }
    }

    /// `waiter` left: it is forgotten in its line. Returns the ticket of the
    /// grant it was sent or owed, if it has not been reported: to give back.
    pub(super) fn forget_in_line(&mut self, waiter: u64) -> Option<u64> {
        self.lines.forget(waiter);
        self.admitted_waiters.remove(&waiter)
    }
}
