//! The coordinator's load: how many messages its isolates send it a second,
//! and whether its views tell them to relay (`RouterPolicy::relaying`,
//! `Relaying::Auto`). Every message an isolate sends as it routes counts, on
//! its own or in a relay's batch, so the rate does not fall when relays start,
//! and relays stop only when the isolates' traffic does.

/// Messages counted in the current second, and the verdict of the last.
#[derive(Debug, Default)]
pub(super) struct Load {
    second: u64,
    count: u64,
    relay: bool,
}

impl Load {
    /// `messages` of isolates came at `now_ms`. When a second ended, its count
    /// decides: `above_per_s` or more starts relays, fewer than half that stops
    /// them (between the two, as they were: views do not flap at the line). A
    /// second with no message counts as none.
    pub(super) fn took(&mut self, now_ms: u64, messages: u64, above_per_s: u64) {
        let second = now_ms / 1_000;
        if second != self.second {
            let last = if second == self.second.saturating_add(1) { self.count } else { 0 };
            if last >= above_per_s {
                self.relay = true;
            } else if last.saturating_mul(2) < above_per_s {
                self.relay = false;
            }
            self.second = second;
            self.count = 0;
        }
        self.count = self.count.saturating_add(messages);
    }

    /// Whether views say to relay now.
    pub(super) fn relay(&self) -> bool {
        self.relay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `per_s` messages spread over the second that starts at `second`.
    fn second_of(load: &mut Load, second: u64, per_s: u64) {
        for i in 0..per_s {
            load.took(second * 1_000 + i * 1_000 / per_s, 1, 100);
        }
    }

    #[test]
    fn relays_start_at_the_threshold_and_stop_below_half_of_it() {
        let mut load = Load::default();
        // Each second's first message ends the one before.
        second_of(&mut load, 1, 99);
        second_of(&mut load, 2, 100);
        assert!(!load.relay(), "99 a second: below the threshold");
        second_of(&mut load, 3, 60);
        assert!(load.relay(), "a second of 100 ended");
        second_of(&mut load, 4, 50);
        assert!(load.relay(), "60 a second is above half: still relaying");
        second_of(&mut load, 5, 49);
        assert!(load.relay(), "50 is half: still relaying");
        load.took(6_000, 1, 100);
        assert!(!load.relay(), "49 is below half");
    }

    #[test]
    fn a_batch_counts_its_messages_and_a_silent_second_counts_none() {
        let mut load = Load::default();
        load.took(1_000, 100, 100);
        load.took(2_000, 1, 100);
        assert!(load.relay(), "one batch of 100 messages");
        load.took(4_000, 1, 100);
        assert!(!load.relay(), "the second before was silent");
    }
}
