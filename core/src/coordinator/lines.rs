//! The isolates' waiting lines as they last told them
//! ([`local::waiting`](super::local::waiting)): only the best request of each
//! line waits in the coordinator's queue, so that the queue's own depth would
//! say little of how many requests wait. Each isolate tells its line's depth
//! with its syncs; [`Coordinator::queue_status`](super::Coordinator::queue_status)
//! counts the lines told lately, and the asking isolate's own line as it is now.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::local::VIEW_TTL_MS;

/// How long a line as told counts: an isolate with requests syncs at least
/// once a view's life; past that the line is taken for served, or its isolate
/// for gone, and its entries in the queue count alone.
pub const LINE_TOLD_MS: u64 = 2 * VIEW_TTL_MS;

/// How many requests wait in a line, by priority, and the longest wait.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineDepth {
    pub by_priority: BTreeMap<u32, usize>,
    pub oldest_wait_ms: u64,
}

impl LineDepth {
    pub fn is_empty(&self) -> bool {
        self.by_priority.values().all(|&n| n == 0)
    }

    /// Adds `other`, told `age_ms` ago (its waits went on since).
    pub fn add(&mut self, other: &LineDepth, age_ms: u64) {
        for (&priority, &n) in &other.by_priority {
            *self.by_priority.entry(priority).or_insert(0) += n;
        }
        if !other.is_empty() {
            self.oldest_wait_ms = self.oldest_wait_ms.max(other.oldest_wait_ms.saturating_add(age_ms));
        }
    }
}

/// The lines told, by isolate, with when.
#[derive(Debug, Default)]
pub(super) struct Lines {
    told: HashMap<u64, (u64, LineDepth)>,
}

impl Lines {
    /// Isolate `isolate` told its line (`None`: an older build, or nothing waits).
    pub fn tell(&mut self, now_ms: u64, isolate: u64, line: Option<&LineDepth>) {
        self.forget_old(now_ms);
        match line.filter(|l| !l.is_empty()) {
            Some(line) => {
                self.told.insert(isolate, (now_ms, line.clone()));
            }
            None => {
                self.told.remove(&isolate);
            }
        }
    }

    /// The lines told lately: `(isolate, told at, depth)`.
    pub fn fresh(&self, now_ms: u64) -> impl Iterator<Item = (u64, u64, &LineDepth)> {
        self.told
            .iter()
            .filter(move |(_, (at, _))| now_ms.saturating_sub(*at) <= LINE_TOLD_MS)
            .map(|(&isolate, (at, line))| (isolate, *at, line))
    }

    fn forget_old(&mut self, now_ms: u64) {
        // Only when some may be old: most syncs find every line fresh.
        if self.told.values().any(|(at, _)| now_ms.saturating_sub(*at) > LINE_TOLD_MS) {
            self.told.retain(|_, (at, _)| now_ms.saturating_sub(*at) <= LINE_TOLD_MS);
        }
    }
}
