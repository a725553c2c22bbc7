//! A relay: a Durable Object per location between that location's isolates and
//! a group's coordinator (`router_settings.coordinator_relay_ms`). Each isolate
//! sends its messages to its location's relay, a few milliseconds away, and the
//! relay sends what came in one [`Message::Batch`] at most every period; the
//! coordinator takes each batch as one request, and answers it with the answer
//! to each message in it and what it owes the relay's isolates' lines by then.
//! Nothing is pushed to a relay: an answer owed outside a batch (a `Wait`'s,
//! when capacity frees) waits for the relay's next batch, which goes every
//! period while a `Wait` is open there, empty if nothing else came. So the
//! coordinator takes at most one request per relay per period, whatever the
//! isolates and the arrivals: its load follows the locations, not the traffic.
//!
//! Sans-IO: the Worker (`src/relay.rs`) and the simulation hold the messages
//! and their answers' way back; this decides when a batch goes.
//!
//! [`Message::Batch`]: super::Message::Batch

/// A relay's messages waiting for its next batch, and when its last went.
#[derive(Debug)]
pub struct Relay<T> {
    pending: Vec<T>,
    last_sent_ms: Option<u64>,
}

impl<T> Default for Relay<T> {
    fn default() -> Self {
        Self { pending: Vec::new(), last_sent_ms: None }
    }
}

impl<T> Relay<T> {
    /// A message from one of its isolates, for the next batch.
    pub fn push(&mut self, message: T) {
        self.pending.push(message);
    }

    /// When the next batch should go, if one should: with messages, or while
    /// `polling` (answers may be owed to its isolates: a `Wait` is open), a
    /// period after the last one went, or at once.
    pub fn due(&self, now_ms: u64, period_ms: u64, polling: bool) -> Option<u64> {
        if self.pending.is_empty() && !polling {
            return None;
        }
        Some(self.last_sent_ms.map_or(now_ms, |at| at.saturating_add(period_ms)).max(now_ms))
    }

    /// The messages of the batch that goes now.
    pub fn take(&mut self, now_ms: u64) -> Vec<T> {
        self.last_sent_ms = Some(now_ms);
        std::mem::take(&mut self.pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_goes_at_most_every_period_with_messages_or_while_polling() {
        let mut relay = Relay::default();
        assert_eq!(relay.due(0, 100, false), None, "nothing to send");
        assert_eq!(relay.due(0, 100, true), Some(0), "a Wait open: a first poll goes at once");
        relay.push(1);
        assert_eq!(relay.due(5, 100, false), Some(5));
        assert_eq!(relay.take(5), [1]);
        relay.push(2);
        relay.push(3);
        assert_eq!(relay.due(20, 100, false), Some(105), "a period after the last");
        assert_eq!(relay.due(300, 100, false), Some(300));
        assert_eq!(relay.take(300), [2, 3]);
        assert_eq!(relay.due(310, 100, false), None);
        assert_eq!(relay.due(310, 100, true), Some(400), "polling, a period after the last");
    }
}
