//! The isolate's line for one group: its requests that wait in the group's
//! queue, told to the coordinator together ([`Message::Wait`]) rather than
//! each with a fetch of its own.
//!
//! A request that may wait joins the line; the isolate tells the coordinator
//! who joined and who left with its next `Wait`, and the coordinator answers a
//! `Wait` with every answer it owes the line by then ([`lines`]). So, however
//! fast requests arrive, the isolate sends about one `Wait` per answer that
//! comes back, and at most one per [`TELL_EVERY_MS`] while one is open: what
//! the coordinator takes follows the capacity it hands out, not the arrivals.
//!
//! **When a `Wait` goes** ([`Line::due`]): at once when none is open and the
//! line holds anything (a `Wait` must be open for answers to come back), or
//! with news (requests joined or left since the last) while fewer than
//! [`TELL_AT_ONCE_BELOW`] requests wait told and the coordinator keeps up;
//! otherwise, with news, at most every [`TELL_EVERY_MS`]. A request that joins
//! a long line while a `Wait` is open, or any line while the coordinator lags
//! ([`Line::pace`]), is told that much later at most: the line's part of the
//! queue's ordering bound.
//!
//! **Nothing lost.** A grant that comes for a request no longer in the line
//! (its client left while the grant was on its way) goes back with the next
//! `Wait`, as a leaver. A `Wait` that fails (the coordinator restarted, or
//! could not be reached) fails every request told so far, which the
//! coordinator may have lost with it; each is told again as a leaver, in case
//! it did not.
//!
//! Sans-IO: the Worker (`src/line.rs`) and the simulation send the `Wait`s and
//! hand the answers out.
//!
//! [`Message::Wait`]: crate::coordinator::Message::Wait
//! [`lines`]: crate::coordinator::Coordinator::wait

use std::collections::BTreeMap;

use crate::coordinator::{TicketReply, TicketRequest, Unavailable};

/// While a `Wait` is open and the line is long, news goes at most this often.
pub const TELL_EVERY_MS: u64 = 250;
/// While fewer requests than this wait told, news goes at once: under a light
/// load every request reaches the queue as it arrives, in the exact order it
/// would with a fetch of its own, and the batching binds only where the
/// coordinator's load is at stake, a line this long.
pub const TELL_AT_ONCE_BELOW: usize = 8;

/// A request waits in its line at most its `max_wait_ms` and this, then the
/// isolate answers it itself (a retryable 503). The coordinator's answer at its
/// deadline comes well before: this only answers a request the coordinator
/// lost (it gave back what it owed an isolate that did not ask for it).
pub const LOCAL_GRACE_MS: u64 = 5_000;

/// What a `Wait` carries: the requests that joined, the waiters that left, and
/// those the isolate admitted itself ([`Line::hand`]): by waiter when they were
/// told, else by how long each waited (the coordinator counts them admitted from
/// the queue all the same).
#[derive(Debug, Default)]
pub struct Tell {
    pub joined: Vec<TicketRequest>,
    pub left: Vec<u64>,
    pub handed: Vec<u64>,
    pub handed_untold: Vec<u64>,
}

#[derive(Debug, Default)]
pub struct Line {
    /// Joined, not yet told, in the order they joined, each with when.
    untold: Vec<(u64, TicketRequest)>,
    /// Told to the coordinator, not yet answered, by waiter.
    told: BTreeMap<u64, Told>,
    /// How many joined before: the next to join's place.
    joined: u64,
    /// Told once, left since (or their grant is given back): to tell.
    left: Vec<u64>,
    /// Told once, handed a slot here since: to tell.
    handed: Vec<u64>,
    /// The waits of those handed a slot here before they were told: to tell.
    handed_untold: Vec<u64>,
    /// `Wait`s sent and not answered.
    open: u32,
    last_sent_ms: Option<u64>,
    /// After an empty answer, a `Wait` without news waits until then.
    quiet_until_ms: u64,
    /// The coordinator lags: news goes at the line's pace, however short.
    paced: bool,
}

impl Line {
    /// A request that may wait (its `queue` names its waiter) joins the line at `now_ms`.
    pub fn join(&mut self, now_ms: u64, request: TicketRequest) {
        if request.queue.is_some() {
            self.untold.push((now_ms, request));
        }
    }

    /// Whether the line holds `waiter`, told or not.
    pub fn holds(&self, waiter: u64) -> bool {
        self.told.contains_key(&waiter) || self.untold.iter().any(|(_, r)| waiter_of(r) == Some(waiter))
    }

    /// `waiter` leaves the line (its client went away, or its time ran out
    /// here): not yet told, it is forgotten; told, it is told as a leaver.
    pub fn leave(&mut self, waiter: u64) {
        if let Some(Taken::Told) = self.take_out(waiter) {
            self.left.push(waiter);
        }
    }

    /// Takes `waiter` out of the line, if it is in it.
    fn take_out(&mut self, waiter: u64) -> Option<Taken> {
        if self.told.remove(&waiter).is_some() {
            return Some(Taken::Told);
        }
        let place = self.untold.iter().position(|(_, r)| waiter_of(r) == Some(waiter))?;
        Some(Taken::Untold { joined_ms: self.untold.remove(place).0 })
    }

    /// The request of the line a slot freed here goes to, if one is as good as
    /// `best` (the best priority waiting in the group's queue, as the view
    /// says): the best of the line, first come first served, whose `suits`, as
    /// its waiter and its estimated tokens, and whose wait has not run out at
    /// `now_ms` (one whose has waits for the coordinator's answer, a timeout: it
    /// would be called after its client's deadline). It leaves the line, and is
    /// told as admitted here: by its waiter, or, not told yet, by its wait.
    pub fn hand(&mut self, now_ms: u64, best: u32, suits: impl Fn(&TicketRequest) -> bool) -> Option<(u64, u64)> {
        // Those not told joined after every one told: (priority, place) orders both.
        let untold = self.untold.iter().enumerate().map(|(place, (joined_ms, r))| {
            let deadline_ms = r.queue.map_or(0, |q| joined_ms.saturating_add(q.max_wait_ms));
            (self.joined.saturating_add(place as u64), deadline_ms, r)
        });
        let (_, waiter) = self
            .told
            .values()
            .map(|told| (told.place, told.deadline_ms, &told.request))
            .chain(untold)
            .filter(|&(_, deadline_ms, _)| deadline_ms > now_ms)
            .filter_map(|(place, _, r)| r.queue.map(|q| (q, place, r)))
            .filter(|(q, _, r)| q.priority <= best && suits(r))
            .map(|(q, place, r)| ((q.priority, place), (q.waiter, r.estimated_tokens)))
            .min()?;
        match self.take_out(waiter.0) {
            Some(Taken::Told) => self.handed.push(waiter.0),
            Some(Taken::Untold { joined_ms }) => self.handed_untold.push(now_ms.saturating_sub(joined_ms)),
            None => {}
        }
        Some(waiter)
    }

    /// A grant handed to `waiter` that its request did not take (it went away
    /// meanwhile) goes back with the next `Wait`.
    pub fn give_back(&mut self, waiter: u64) {
        self.left.push(waiter);
    }

    /// Whether the coordinator lags (its isolate's last view came late,
    /// [`LocalRouter::lags`]). While it does, news goes at most every
    /// [`TELL_EVERY_MS`] while a `Wait` is open, however short the line: a
    /// coordinator that takes its messages in turn and has fallen behind would
    /// otherwise take a `Wait` per request that joins, most of them
    /// while the one before still waits for its turn, and fall further
    /// behind. What the short line's exact order is worth is lost to the lag
    /// anyway.
    ///
    /// [`LocalRouter::lags`]: super::LocalRouter::lags
    pub fn pace(&mut self, lags: bool) {
        self.paced = lags;
    }

    /// When the next `Wait` should go, if one should.
    pub fn due(&self, now_ms: u64) -> Option<u64> {
        let news = !self.untold.is_empty()
            || !self.left.is_empty()
            || !self.handed.is_empty()
            || !self.handed_untold.is_empty();
        let short = self.told.len() < TELL_AT_ONCE_BELOW && !self.paced;
        if news && (self.open == 0 || short) {
            return Some(now_ms);
        }
        if !news {
            // Told requests wait: a `Wait` must be open for their answers. After
            // an empty answer (the coordinator held the last one its time, or
            // has nothing of this line), not at once: no loop of empty answers.
            return (self.open == 0 && !self.told.is_empty()).then_some(now_ms.max(self.quiet_until_ms));
        }
        let next = self.last_sent_ms.map_or(now_ms, |at| at.saturating_add(TELL_EVERY_MS));
        Some(next.max(now_ms))
    }

    /// What the `Wait` sent now carries; it is open until [`Line::answered`]
    /// or [`Line::failed`]. Each request joined is told with what is left of its
    /// `max_wait_ms`: the coordinator's deadline for it counts from when it is
    /// told, and must not pass its client's (told late, by the line's pace or a
    /// lagging coordinator, it would otherwise be admitted after its client's
    /// timeout, or with a moment of it left, and called for nothing).
    pub fn take(&mut self, now_ms: u64) -> Tell {
        let mut joined = Vec::with_capacity(self.untold.len());
        for (joined_ms, mut request) in std::mem::take(&mut self.untold) {
            let Some(queue) = request.queue.as_mut() else { continue };
            let deadline_ms = joined_ms.saturating_add(queue.max_wait_ms);
            queue.max_wait_ms = deadline_ms.saturating_sub(now_ms.max(joined_ms));
            let waiter = queue.waiter;
            let told = Told { place: self.joined, joined_ms, deadline_ms, request: request.clone() };
            self.told.insert(waiter, told);
            self.joined += 1;
            joined.push(request);
        }
        self.open += 1;
        self.last_sent_ms = Some(now_ms);
        Tell {
            joined,
            left: std::mem::take(&mut self.left),
            handed: std::mem::take(&mut self.handed),
            handed_untold: std::mem::take(&mut self.handed_untold),
        }
    }

    /// A `Wait` came back at `now_ms` with these answers: those of requests
    /// still in the line, to hand to them. A grant for one that left goes back.
    /// A queue timeout says how long its request waited since it joined the
    /// line: the coordinator counts from when it was told.
    pub fn answered(&mut self, now_ms: u64, replies: Vec<(u64, TicketReply)>) -> Vec<(u64, TicketReply)> {
        self.open = self.open.saturating_sub(1);
        if replies.is_empty() {
            self.quiet_until_ms = now_ms.saturating_add(TELL_EVERY_MS);
        }
        let mut kept = Vec::with_capacity(replies.len());
        for (waiter, mut reply) in replies {
            if let Some(told) = self.told.remove(&waiter) {
                if let TicketReply::Unavailable(Unavailable::QueueTimeout { waited_ms, .. }) = &mut reply {
                    *waited_ms = (*waited_ms).max(now_ms.saturating_sub(told.joined_ms));
                }
                kept.push((waiter, reply));
            } else if matches!(reply, TicketReply::Granted(_)) {
                self.left.push(waiter);
            }
        }
        kept
    }

    /// A `Wait` failed: the requests told so far, to fail (the coordinator may
    /// have lost them). Each is told as a leaver with the next `Wait`.
    pub fn failed(&mut self) -> Vec<u64> {
        self.open = self.open.saturating_sub(1);
        let told: Vec<u64> = std::mem::take(&mut self.told).into_keys().collect();
        self.left.extend(&told);
        told
    }

    /// Whether requests wait in the line, told or not.
    pub fn waits(&self) -> bool {
        !self.untold.is_empty() || !self.told.is_empty()
    }

    /// Whether nothing waits, nothing is to tell, and no `Wait` is open.
    pub fn is_idle(&self) -> bool {
        self.untold.is_empty()
            && self.told.is_empty()
            && self.left.is_empty()
            && self.handed.is_empty()
            && self.handed_untold.is_empty()
            && self.open == 0
    }
}

/// A request told to the coordinator, not yet answered.
#[derive(Debug)]
struct Told {
    /// The order it joined the line in.
    place: u64,
    joined_ms: u64,
    /// When its client's wait runs out (`max_wait_ms` from when it joined).
    deadline_ms: u64,
    request: TicketRequest,
}

/// Where a waiter taken out of the line was.
enum Taken {
    /// Told to the coordinator, which must hear why it went.
    Told,
    /// Not told yet: the coordinator knows nothing of it.
    Untold { joined_ms: u64 },
}

fn waiter_of(request: &TicketRequest) -> Option<u64> {
    request.queue.map(|q| q.waiter)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coordinator::{Grant, QueueRequest};

    fn request(waiter: u64) -> TicketRequest {
        with_priority(waiter, 1)
    }

    fn with_priority(waiter: u64, priority: u32) -> TicketRequest {
        TicketRequest {
            avoid: vec![],
            estimated_tokens: 10,
            stream: false,
            queue: Some(QueueRequest { priority, max_wait_ms: 5_000, waiter }),
            region: None,
            isolate: 9,
        }
    }

    fn grant() -> TicketReply {
        let deployment = serde_json::from_str("\"d\"").unwrap();
        TicketReply::Granted(Grant {
            ticket: 1,
            deployment,
            remaining_requests: None,
            remaining_tokens: None,
            waited_ms: Some(5),
        })
    }

    fn waiters(tell: &Tell) -> Vec<u64> {
        tell.joined.iter().filter_map(waiter_of).collect()
    }

    #[test]
    fn requests_joining_while_a_wait_is_open_go_together_at_most_every_tell_period() {
        let mut line = Line::default();
        assert_eq!(line.due(0), None);
        line.join(0, request(1));
        assert_eq!(line.due(100), Some(100), "none open: at once");
        assert_eq!(waiters(&line.take(100)), [1]);
        assert_eq!(line.due(150), None, "one open, nothing new");
        line.join(0, request(2));
        assert_eq!(line.due(150), Some(150), "a short line tells at once");
        let short = TELL_AT_ONCE_BELOW as u64;
        for waiter in 3..=short {
            line.join(0, request(waiter));
        }
        assert_eq!(waiters(&line.take(150)).len(), TELL_AT_ONCE_BELOW - 1);
        for waiter in short + 1..=short + 5 {
            line.join(0, request(waiter));
        }
        assert_eq!(line.due(160), Some(150 + TELL_EVERY_MS), "a long line: at most every period");
        let tell = line.take(150 + TELL_EVERY_MS);
        assert_eq!(waiters(&tell), (short + 1..=short + 5).collect::<Vec<_>>(), "five arrivals, one message");
        let kept = line.answered(0, vec![(1, grant()), (3, TicketReply::Unavailable(Unavailable::Busy))]);
        assert_eq!(kept.iter().map(|(w, _)| *w).collect::<Vec<_>>(), [1, 3]);
        assert_eq!(line.due(450), None, "Waits are still open for the rest");
        line.answered(450, vec![]);
        line.answered(450, vec![]);
        assert_eq!(
            line.due(500),
            Some(450 + TELL_EVERY_MS),
            "told requests wait: a Wait must be open, not at once after an empty answer"
        );
    }

    #[test]
    fn while_the_coordinator_lags_even_a_short_line_tells_at_its_pace() {
        let mut line = Line::default();
        line.pace(true);
        line.join(0, request(1));
        assert_eq!(line.due(10), Some(10), "none open: at once, lagging or not");
        line.take(10);
        line.join(20, request(2));
        assert_eq!(line.due(20), Some(10 + TELL_EVERY_MS), "one open: at the line's pace");
        line.join(30, request(3));
        line.pace(false);
        assert_eq!(line.due(30), Some(30), "in time again: a short line tells at once");
        assert_eq!(waiters(&line.take(30)), [2, 3]);
    }

    #[test]
    fn a_request_is_told_with_what_is_left_of_its_wait() {
        let mut line = Line::default();
        line.join(100, request(1));
        line.join(350, request(2));
        let tell = line.take(400);
        let waits: Vec<u64> = tell.joined.iter().filter_map(|r| r.queue.map(|q| q.max_wait_ms)).collect();
        assert_eq!(waits, [5_000 - 300, 5_000 - 50]);
        line.join(400, request(3));
        assert_eq!(line.take(9_000).joined[0].queue.map(|q| q.max_wait_ms), Some(0), "its time is up");
    }

    #[test]
    fn a_leaver_is_forgotten_before_it_is_told_and_told_after() {
        let mut line = Line::default();
        line.join(0, request(1));
        line.join(0, request(2));
        line.leave(2);
        assert_eq!(waiters(&line.take(0)), [1]);
        line.leave(1);
        assert!(!line.holds(1));
        line.leave(9);
        assert!(line.left == [1], "one never in the line is not told as a leaver");
        let Tell { joined, left, .. } = line.take(TELL_EVERY_MS);
        assert!(joined.is_empty());
        assert_eq!(left, [1]);
        line.give_back(7);
        assert_eq!(line.due(TELL_EVERY_MS), Some(TELL_EVERY_MS), "a grant to give back is news, told at once");
        assert_eq!(line.take(TELL_EVERY_MS).left, [7]);
    }

    #[test]
    fn a_grant_for_a_request_gone_goes_back_and_a_refusal_is_dropped() {
        let mut line = Line::default();
        line.join(0, request(1));
        line.join(0, request(2));
        line.take(0);
        line.leave(1);
        line.leave(2);
        let _ = line.take(TELL_EVERY_MS);
        let kept = line.answered(0, vec![(1, grant()), (2, TicketReply::Unavailable(Unavailable::Busy))]);
        assert!(kept.is_empty());
        assert_eq!(line.take(2 * TELL_EVERY_MS).left, [1], "the grant is given back; the refusal needs nothing");
    }

    #[test]
    fn a_slot_freed_goes_to_the_best_request_of_the_line_as_good_as_the_queues_best() {
        let mut line = Line::default();
        line.join(0, with_priority(1, 2));
        line.join(0, with_priority(2, 1));
        line.join(0, with_priority(3, 1));
        line.take(0);
        line.join(20, with_priority(4, 0));
        line.join(30, with_priority(5, 0));
        assert_eq!(
            line.hand(100, 0, |r| r.queue.is_some_and(|q| q.waiter != 4)),
            Some((5, 10)),
            "untold, the best that suits"
        );
        assert_eq!(line.due(100), Some(100), "one handed before it was told is news");
        assert_eq!(line.hand(120, 0, |_| true), Some((4, 10)));
        assert_eq!(line.hand(120, 0, |_| true), None, "none as good as the queue's best");
        assert_eq!(line.hand(120, 1, |_| true), Some((2, 10)), "of one priority, the first to join");
        assert_eq!(line.hand(120, 2, |_| true), Some((3, 10)));
        // Told ones are told as admitted here by waiter; untold ones by their waits.
        let tell = line.take(TELL_EVERY_MS);
        assert_eq!((tell.joined.len(), tell.left.len()), (0, 0));
        assert_eq!(tell.handed, [2, 3]);
        assert_eq!(tell.handed_untold, [70, 100]);
        assert!(line.holds(1) && !line.holds(2));
    }

    #[test]
    fn a_slot_freed_goes_to_none_whose_wait_ran_out() {
        let mut line = Line::default();
        line.join(0, with_priority(1, 0));
        line.take(1_000);
        line.join(2_000, with_priority(2, 0));
        line.join(2_500, with_priority(3, 1));
        assert_eq!(line.hand(5_000, 1, |_| true), Some((2, 10)), "the first's 5 s ran out, told or not");
        assert_eq!(line.hand(7_499, 1, |_| true), Some((3, 10)), "a moment left");
        line.join(7_499, with_priority(4, 0));
        assert_eq!(line.hand(12_499, 1, |_| true), None, "untold, its 5 s ran out too");
        assert!(line.holds(1) && line.holds(4), "both wait for the coordinator's answer");
    }

    #[test]
    fn a_queue_timeout_says_how_long_its_request_waited_since_it_joined() {
        let mut line = Line::default();
        line.join(100, request(1));
        line.join(400, request(2));
        line.take(400);
        let timeout = |waited_ms| TicketReply::Unavailable(Unavailable::QueueTimeout { waited_ms, position: 1 });
        let kept = line.answered(5_450, vec![(1, timeout(4_700)), (2, timeout(5_000)), (3, timeout(9))]);
        let waited: Vec<(u64, u64)> = kept
            .iter()
            .filter_map(|(w, r)| match r {
                TicketReply::Unavailable(Unavailable::QueueTimeout { waited_ms, .. }) => Some((*w, *waited_ms)),
                _ => None,
            })
            .collect();
        assert_eq!(waited, [(1, 5_350), (2, 5_050)], "from when each joined, as its client waited");
    }

    #[test]
    fn a_failed_wait_fails_every_told_request_and_tells_them_as_leavers() {
        let mut line = Line::default();
        line.join(0, request(1));
        line.take(0);
        line.join(0, request(2));
        assert_eq!(line.failed(), [1]);
        assert!(line.holds(2), "not told yet: it is told with the next Wait");
        let tell = line.take(10);
        assert_eq!(waiters(&tell), [2]);
        assert_eq!(tell.left, [1]);
        line.answered(0, vec![(2, grant())]);
        assert!(line.is_idle());
    }
}
