//! Which isolates are alive, as far as the coordinator can tell: what an isolate
//! holds (slots leased to it, tickets its requests took) is tied to it, and comes
//! back when it lapses.
//!
//! An isolate that dies says nothing. Each message that names it (a sync, a
//! ticket's acquire, a request of its admitted from the queue, whose fetch was
//! held open until then) marks it seen; one silent for [`SLOTS_TTL_MS`] lapses,
//! and what it held is taken back. A live isolate holding anything syncs at least
//! every third of that (the Worker's keeper, [`LocalRouter::sync_due`]), so what
//! it holds never lapses under requests still running, unless it cannot reach
//! the coordinator for that long.
//!
//! What the coordinator knows of an isolate has an epoch: when it first heard of
//! it, since it last forgot it. Slots given back or still on their way from an
//! epoch gone were taken back already, and count no more ([`slots`](super::slots)).
//!
//! Isolates are kept in the order they lapse in, so that finding those that did
//! costs O(log n) each, not a scan of every isolate per message.
//!
//! [`LocalRouter::sync_due`]: super::local::LocalRouter::sync_due

use std::collections::{BTreeSet, HashMap};

/// The isolate id of a message from a build before isolates were named: it
/// holds no slots, and its tickets last `TICKET_TTL_MS` (`tickets`).
pub const NO_ISOLATE: u64 = 0;

/// What an isolate holds comes back this long after it was last seen (the name
/// is from when only slots were tied to it).
pub const SLOTS_TTL_MS: u64 = 10_000;

#[derive(Debug, Clone, Copy)]
struct Known {
    epoch: u64,
    seen_ms: u64,
}

/// The isolates seen lately, by id and in the order they lapse in.
#[derive(Debug, Default)]
pub(super) struct Isolates {
    known: HashMap<u64, Known>,
    /// `(seen_ms, isolate)` of every known isolate.
    by_seen: BTreeSet<(u64, u64)>,
}

impl Isolates {
    /// Marks `isolate` alive at `now_ms`. Returns the epoch of what it holds.
    /// [`NO_ISOLATE`] is never known: its epoch is 0.
    pub(super) fn seen(&mut self, now_ms: u64, isolate: u64) -> u64 {
        if isolate == NO_ISOLATE {
            return 0;
        }
        let known = self.known.entry(isolate).or_insert(Known { epoch: now_ms, seen_ms: now_ms });
        self.by_seen.remove(&(known.seen_ms, isolate));
        // Never back: messages may arrive out of order, and a clock may step back.
        known.seen_ms = known.seen_ms.max(now_ms);
        self.by_seen.insert((known.seen_ms, isolate));
        known.epoch
    }

    /// Forgets the isolates silent for [`SLOTS_TTL_MS`] at `now_ms`, and returns
    /// them, the longest silent first: what they hold is to be taken back.
    pub(super) fn lapse(&mut self, now_ms: u64) -> Vec<u64> {
        let mut lapsed = Vec::new();
        while let Some(&(seen_ms, isolate)) = self.by_seen.first()
            && now_ms.saturating_sub(seen_ms) >= SLOTS_TTL_MS
        {
            self.by_seen.pop_first();
            self.known.remove(&isolate);
            lapsed.push(isolate);
        }
        lapsed
    }

    /// How many isolates were seen within [`SLOTS_TTL_MS`].
    pub(super) fn count(&self) -> usize {
        self.known.len()
    }

    /// When the next isolate lapses, if any is known. It may hold nothing: a
    /// wakeup then finds nothing to take back, which costs less than finding the
    /// next one that holds something.
    pub(super) fn next_lapse(&self) -> Option<u64> {
        self.by_seen.first().map(|(seen_ms, _)| seen_ms.saturating_add(SLOTS_TTL_MS))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_isolate_lapses_once_silent_for_the_ttl_and_comes_back_with_a_new_epoch() {
        let mut isolates = Isolates::default();
        assert_eq!(isolates.seen(100, 7), 100);
        assert_eq!(isolates.seen(5_000, 8), 5_000);
        assert_eq!(isolates.seen(10_000, 7), 100, "seen again: the same epoch");
        assert_eq!(isolates.next_lapse(), Some(5_000 + SLOTS_TTL_MS));
        assert!(isolates.lapse(5_000 + SLOTS_TTL_MS - 1).is_empty());
        assert_eq!(isolates.lapse(10_000 + SLOTS_TTL_MS), [8, 7]);
        assert_eq!(isolates.next_lapse(), None);
        assert_eq!(isolates.seen(50_000, 7), 50_000, "forgotten: a new epoch");
    }

    #[test]
    fn no_isolate_is_never_known_and_time_going_back_keeps_the_latest() {
        let mut isolates = Isolates::default();
        assert_eq!(isolates.seen(100, NO_ISOLATE), 0);
        assert_eq!(isolates.next_lapse(), None);
        isolates.seen(9_000, 3);
        isolates.seen(1_000, 3);
        assert_eq!(isolates.next_lapse(), Some(9_000 + SLOTS_TTL_MS));
        assert!(isolates.lapse(1_000 + SLOTS_TTL_MS).is_empty());
    }
}
