//! Queue admission: a request is answered at once, or waits in the group's queue
//! until capacity comes back (a request finishing, a cooldown ending, a new minute)
//! or its deadline comes; a grant whose client went away is given back.

use super::Coordinator;
use super::grant::{fits, in_region};
use super::protocol::{QueueRequest, QueueStatus, TicketReply, TicketRequest, Unavailable};
use super::queue::PriorityQueue;
use super::window::MINUTE_MS;
use crate::config::{ModelGroup, RouterPolicy};

/// What `acquire` does with a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Admission {
    /// Answered at once.
    Now(TicketReply),
    /// Waiting in the queue: a later [`Coordinator::tick`] answers it.
    Queued,
}

impl Coordinator {
    /// Chooses a deployment for a request now, or queues it (when it may wait and
    /// nothing can serve it), or says why nothing can. A queued request is named
    /// by its `waiter` in what [`Coordinator::tick`] returns.
    pub fn acquire(
        &mut self,
        now_ms: u64,
        group: &ModelGroup,
        policy: &RouterPolicy,
        request: &TicketRequest,
        rng: &mut fastrand::Rng,
    ) -> Admission {
        self.forget_removed(group);
        self.expire_tickets(now_ms);
        // Its isolate is alive, as a sync says: a ticket granted now is tied to it.
        self.isolates.seen(now_ms, request.isolate);
        if request.queue.is_some() {
            self.ordered(now_ms);
        }
        let waiting = self.queue.as_ref().is_some_and(|queue| !queue.is_empty());
        let reply = match request.queue {
            // Others wait already: this request takes its place in line behind them.
            Some(_) if waiting => TicketReply::Unavailable(Unavailable::Busy),
            _ => self.grant_now(now_ms, group, policy, request, rng),
        };
        let Some(QueueRequest { priority, max_wait_ms, waiter }) = request.queue else {
            return Admission::Now(reply);
        };
        match reply {
            TicketReply::Unavailable(reason) if reason.passes_with_time() => {
                // Known already to be too late: say so now rather than at the deadline.
                if self
                    .earliest_capacity(now_ms, group, policy, request)
                    .is_some_and(|at| at > now_ms.saturating_add(max_wait_ms))
                {
                    return Admission::Now(TicketReply::Unavailable(reason));
                }
                let queue = self.queue.get_or_insert_with(|| PriorityQueue::new(policy.queue.aging_ms));
                if let Some(max) = policy.queue.max_size
                    && queue.len() >= max
                {
                    return Admission::Now(TicketReply::Unavailable(Unavailable::QueueFull { max }));
                }
                queue.push(waiter, priority, now_ms, now_ms.saturating_add(max_wait_ms), request.clone());
                Admission::Queued
            }
            other => Admission::Now(other),
        }
    }

    /// Answers waiting requests: first those whose deadline came (with how long
    /// they waited and their place in line), then, strictly in order, as many as
    /// can be served now. Call it after every message, and at
    /// [`Coordinator::next_wakeup`].
    pub fn tick(
        &mut self,
        now_ms: u64,
        group: &ModelGroup,
        policy: &RouterPolicy,
        rng: &mut fastrand::Rng,
    ) -> Vec<(u64, TicketReply)> {
        // Those admitted by a sync (`sync_local`) first: they were admitted before.
        // Before the queue is taken out: an isolate that lapsed takes its line's
        // requests out of it.
        self.forget_removed(group);
        self.expire_tickets(now_ms);
        self.expire_owed(now_ms);
        let ready = std::mem::take(&mut self.ready);
        let Some(mut queue) = self.queue.take() else {
            return self.owe_or_answer_all(now_ms, ready);
        };
        let expired: Vec<(u64, TicketReply)> = queue
            .expire(now_ms)
            .into_iter()
            .map(|(entry, position)| {
                let waited_ms = now_ms.saturating_sub(entry.enqueued_ms);
                (entry.id, TicketReply::Unavailable(Unavailable::QueueTimeout { waited_ms, position }))
            })
            .collect();
        self.expired += expired.len() as u64;
        let mut answers = ready;
        answers.extend(expired);
        while let Some((id, request, enqueued_ms)) =
            queue.peek().map(|head| (head.id, head.payload.clone(), head.enqueued_ms))
        {
            match self.grant_now(now_ms, group, policy, &request, rng) {
                TicketReply::Unavailable(reason) if reason.passes_with_time() => break,
                // Granted, or an answer that waiting will not change.
                mut reply => {
                    queue.pop();
                    self.admitted += 1;
                    let waited_ms = now_ms.saturating_sub(enqueued_ms);
                    self.queue_wait.observe(waited_ms);
                    if let TicketReply::Granted(grant) = &mut reply {
                        grant.waited_ms = Some(waited_ms);
                    }
                    if self.tie_to_waiter(id, &reply) {
                        // Its fetch was held open until now (the shell takes it
                        // out of line when its caller goes away): its isolate is
                        // alive, however long it waited since it last synced.
                        self.isolates.seen(now_ms, request.isolate);
                    }
                    answers.push((id, reply));
                }
            }
        }
        self.queue = Some(queue);
        self.owe_or_answer_all(now_ms, answers)
    }

    /// The answers whose request waits with a fetch of its own; those of
    /// requests in isolates' lines are owed to their isolate instead.
    fn owe_or_answer_all(&mut self, now_ms: u64, answers: Vec<(u64, TicketReply)>) -> Vec<(u64, TicketReply)> {
        answers
            .into_iter()
            .filter_map(|(waiter, reply)| Some((waiter, self.owe_or_answer(now_ms, waiter, reply)?)))
            .collect()
    }

    /// The earliest time a deployment can serve `request` again, when only time
    /// stands in the way (cooldowns ending, a new minute). `None` when a deployment
    /// waits only for requests in flight: one may finish at any moment.
    fn earliest_capacity(
        &mut self,
        now_ms: u64,
        group: &ModelGroup,
        policy: &RouterPolicy,
        request: &TicketRequest,
    ) -> Option<u64> {
        let next_minute = now_ms - now_ms % MINUTE_MS + MINUTE_MS;
        let mut earliest: Option<u64> = None;
        for d in &group.deployments {
            if !fits(policy, d, request.estimated_tokens) || !in_region(d, request.region) {
                continue;
            }
            let state = self.deployments.entry(d.id.clone()).or_default();
            state.health.advance(now_ms);
            let healthy_at = state.health.available_at(now_ms).unwrap_or(now_ms);
            let over_rate = !state.window.current(now_ms).admits(d, request.estimated_tokens);
            if healthy_at <= now_ms && !over_rate {
                return None; // busy with requests in flight
            }
            let at = healthy_at.max(if over_rate { next_minute } else { now_ms });
            earliest = Some(earliest.map_or(at, |e| e.min(at)));
        }
        earliest
    }

    /// When capacity may come back without a report (a cooldown ends, a stale probe
    /// is given up, a new minute starts) or a waiting request's deadline comes:
    /// the time to call [`Coordinator::tick`] again. `None` while nobody waits.
    pub fn next_wakeup(&self, now_ms: u64) -> Option<u64> {
        let queue = self.queue.as_ref().filter(|q| !q.is_empty())?;
        let next_minute = now_ms - now_ms % MINUTE_MS + MINUTE_MS;
        let wake = self
            .deployments
            .values()
            .filter_map(|state| state.health.next_change())
            .chain(queue.next_deadline())
            .chain(self.isolates.next_lapse())
            .fold(next_minute, u64::min);
        Some(wake.max(now_ms + 1))
    }

    pub fn queue_status(&self, now_ms: u64, group: &str) -> QueueStatus {
        let (by_priority, oldest_wait_ms) = self.queue.as_ref().map(|q| q.depth(now_ms)).unwrap_or_default();
        QueueStatus {
            group: group.to_owned(),
            depth: by_priority.values().sum(),
            by_priority,
            oldest_wait_ms,
            admitted: self.admitted,
            expired: self.expired,
            handed_over: self.handed_over,
        }
    }

    /// How long a waiting request's timer sleeps before it ticks: until the next
    /// wakeup, at least a millisecond, at most a minute (then it looks again), or
    /// a second when nothing is due.
    pub fn wait_ms(&self, now_ms: u64) -> u64 {
        self.next_wakeup(now_ms).map_or(1_000, |at| at.saturating_sub(now_ms)).clamp(1, MINUTE_MS)
    }

    /// The waiting request `waiter` is gone (its client went away, or the grant it
    /// was sent could not be delivered): it leaves the line, or gives back the grant
    /// it was admitted with, so that the next in line may have it.
    pub fn leave(&mut self, now_ms: u64, waiter: u64) {
        match self.forget_in_line(waiter) {
            Some(ticket) => self.release(now_ms, ticket),
            None => {
                if let Some(queue) = self.queue.as_mut() {
                    queue.remove(waiter);
                }
            }
        }
    }

    /// Ties a grant to the waiter it answers until it is reported: should the
    /// request go before it takes the grant (its client gone, handed a slot in
    /// its isolate, its isolate dead), the grant comes back ([`Coordinator::leave`]).
    /// `false` when `reply` is no grant of a ticket held.
    pub(super) fn tie_to_waiter(&mut self, waiter: u64, reply: &TicketReply) -> bool {
        let TicketReply::Granted(grant) = reply else {
            return false;
        };
        let Some(ticket) = self.tickets.get_mut(grant.ticket) else {
            return false;
        };
        ticket.waiter = Some(waiter);
        self.admitted_waiters.insert(waiter, grant.ticket);
        true
    }

    /// `waiter` was admitted in its isolate, in a slot freed there (its line
    /// handed it over): out of the queue, counted as admitted from it with its
    /// wait. A grant sent to it meanwhile comes back unused (it was counted
    /// when granted).
    pub(super) fn handed(&mut self, now_ms: u64, waiter: u64) {
        if let Some(ticket) = self.forget_in_line(waiter) {
            self.release(now_ms, ticket);
        } else if let Some(entry) = self.queue.as_mut().and_then(|queue| queue.remove(waiter)) {
            self.admitted_here(now_ms.saturating_sub(entry.enqueued_ms));
        }
    }

    /// A request was admitted in its isolate after waiting `waited_ms`:
    /// counted as admitted from the queue, and handed over.
    pub(super) fn admitted_here(&mut self, waited_ms: u64) {
        self.admitted += 1;
        self.handed_over += 1;
        self.queue_wait.observe(waited_ms);
    }

    /// Gives back a grant that was never used: the request did not happen, so it
    /// counts neither in flight nor against the minute.
    pub(super) fn release(&mut self, now_ms: u64, ticket: u64) {
        let Some(ticket) = self.tickets.remove(ticket) else {
            return;
        };
        if let Some(state) = self.deployments.get_mut(&ticket.deployment) {
            state.in_flight = state.in_flight.saturating_sub(1);
            if ticket.probe {
                state.health.abandon_probe(ticket.granted_ms);
            }
            let window = state.window.current(now_ms);
            if window.minute == ticket.minute {
                window.requests = window.requests.saturating_sub(1);
                window.tokens = window.tokens.saturating_sub(ticket.estimated_tokens);
            }
        }
    }
}
