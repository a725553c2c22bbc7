//! The tickets one isolate's requests are asking its group's coordinator for, at
//! most a few at once among the requests that may not wait (those that may go
//! through the isolate's [`line`](super::line), which tells many at once).
//!
//! Why a cap: a coordinator that falls behind (a Durable Object takes one message
//! at a time) answers a sync late, and the requests that waited for that view
//! find its lease or slots spent by the others that waited with it. Each would
//! then ask for a ticket of its own, so the coordinator's load would grow with its
//! lag, and it would fall further behind (BENCHMARKS.md, "A coordinator that takes
//! time"). Capped, the others wait for an answer and pick again: a refusal then
//! holds for them in the isolate ([`LocalRouter::refused`](super::LocalRouter::refused)),
//! a grant lets the next one ask.
//!
//! The cap follows the answers, as a sender's window follows acknowledgements:
//! [`MAX_ASKING`] while they come within [`SLOW_ANSWER_MS`], halved by each that
//! comes later (down to one), and one more for each that comes in time. So a
//! healthy coordinator costs a request no wait (four round trips of 300 ms carry
//! 26 tickets a second, more than an isolate's requests need near a limit), and a
//! lagging one gets one ticket per isolate per round trip, which falls as its lag
//! grows.

/// The most tickets asked for at once by one isolate's requests that may not
/// wait, per group.
pub const MAX_ASKING: usize = 8;

/// An answer later than this says the coordinator lags: a round trip across the
/// world is 300 ms at most.
pub const SLOW_ANSWER_MS: u64 = 1_000;

/// A ticket asked for longer ago than this is taken for lost: the runtime may stop
/// a request's work without dropping what it held, and a count that never came
/// back must not block its isolate's requests for good. A ticket of a request
/// that may not wait is answered at once by the coordinator.
pub const ASKING_LOST_MS: u64 = 10_000;

/// When each ticket being asked for was asked for, and how many may be at once.
#[derive(Debug)]
pub struct Asking {
    since: Vec<u64>,
    limit: usize,
}

impl Default for Asking {
    fn default() -> Self {
        Self { since: Vec::new(), limit: MAX_ASKING }
    }
}

impl Asking {
    /// Whether a request may ask for a ticket now (those asked for longer ago than
    /// [`ASKING_LOST_MS`] count no more).
    pub fn has_room(&mut self, now_ms: u64) -> bool {
        self.since.retain(|&asked_ms| now_ms.saturating_sub(asked_ms) < ASKING_LOST_MS);
        self.since.len() < self.limit
    }

    /// A request asks now; the time returned names its ticket for [`Asking::answered`].
    pub fn ask(&mut self, now_ms: u64) -> u64 {
        self.since.push(now_ms);
        now_ms
    }

    /// The ticket asked for at `asked_ms` was answered now (`None`: its request
    /// went away first, which says nothing of the coordinator).
    pub fn answered(&mut self, asked_ms: u64, now_ms: Option<u64>) {
        let Some(at) = self.since.iter().position(|&since| since == asked_ms) else {
            return;
        };
        self.since.swap_remove(at);
        if let Some(now_ms) = now_ms {
            self.limit = if now_ms.saturating_sub(asked_ms) > SLOW_ANSWER_MS {
                (self.limit / 2).max(1)
            } else {
                (self.limit + 1).min(MAX_ASKING)
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(asking: &mut Asking, now_ms: u64) -> Vec<u64> {
        let mut asked = Vec::new();
        while asking.has_room(now_ms) {
            asked.push(asking.ask(now_ms));
        }
        asked
    }

    #[test]
    fn at_most_max_asking_tickets_at_once_and_an_answer_makes_room() {
        let mut asking = Asking::default();
        let asked: Vec<u64> = (0..MAX_ASKING as u64)
            .map(|n| {
                assert!(asking.has_room(100 + n));
                asking.ask(100 + n)
            })
            .collect();
        assert!(!asking.has_room(150));
        asking.answered(asked[1], Some(150));
        assert!(asking.has_room(150));
        asking.ask(150);
        assert!(!asking.has_room(151));
        // An answer of a ticket not counted (answered twice) frees nothing.
        asking.answered(asked[1], Some(160));
        assert!(!asking.has_room(160));
    }

    #[test]
    fn late_answers_halve_the_cap_down_to_one_and_answers_in_time_raise_it_again() {
        let mut asking = Asking::default();
        let asked = fill(&mut asking, 0);
        // Three late answers: 8 -> 4 -> 2 -> 1; the five still asking exceed it.
        for &at in &asked[..3] {
            asking.answered(at, Some(SLOW_ANSWER_MS + 1));
        }
        assert!(!asking.has_room(SLOW_ANSWER_MS + 1));
        for &at in &asked[3..] {
            asking.answered(at, Some(2 * SLOW_ANSWER_MS));
        }
        assert_eq!(fill(&mut asking, 3_000).len(), 1, "one at a time while the coordinator lags");
        // Answers in time give one more each, up to the most.
        let mut now = 3_000;
        for limit in 2..=MAX_ASKING {
            now += 10;
            asking.answered(asking.since[0], Some(now));
            fill(&mut asking, now);
            assert_eq!(asking.since.len(), limit);
        }
        asking.answered(asking.since[0], Some(now + 10));
        assert_eq!(fill(&mut asking, now + 10).len(), 1, "never more than {MAX_ASKING}");
    }

    #[test]
    fn a_request_gone_before_its_answer_frees_its_place_and_leaves_the_cap() {
        let mut asking = Asking::default();
        let asked = fill(&mut asking, 0);
        asking.answered(asked[0], None);
        asking.answered(asked[1], None);
        assert_eq!(fill(&mut asking, 5_000).len(), 2);
    }

    #[test]
    fn tickets_asked_in_the_same_millisecond_are_answered_one_each() {
        let mut asking = Asking::default();
        let first = asking.ask(7);
        let second = asking.ask(7);
        asking.answered(first, Some(8));
        asking.answered(second, Some(8));
        assert_eq!(fill(&mut asking, 8).len(), MAX_ASKING);
    }

    #[test]
    fn a_ticket_never_answered_counts_no_more_once_taken_for_lost() {
        let mut asking = Asking::default();
        fill(&mut asking, 1_000);
        assert!(!asking.has_room(1_000 + ASKING_LOST_MS - 1));
        assert!(asking.has_room(1_000 + ASKING_LOST_MS));
        // Time going back (another clock) takes nothing for lost.
        let mut asking = Asking::default();
        fill(&mut asking, 5_000);
        assert!(!asking.has_room(4_000));
    }
}
