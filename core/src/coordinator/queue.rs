//! A model group's priority queue: who waits, in which order, and until when.
//!
//! Lower `priority` is served first; within one priority, first come, first served.
//! With aging (`router_settings.priority_aging_s`), a waiting entry's effective
//! priority improves by one per aging period, continuously. Because every entry
//! ages at the same rate, the order never changes while they wait: comparing
//! `priority - (now - enqueued) / aging` between two entries is comparing
//! `priority * aging + enqueued`, a key fixed at push. So the queue is a B-tree
//! on that key, and every operation is O(log n) however many entries wait,
//! telling an entry its place in line included: the B-tree counts what it
//! holds (`indexset`), since a saturated group's queue tells one to every request
//! that waits out its time.

use std::collections::{BTreeMap, BTreeSet, HashMap};

/// One waiting request.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry<T> {
    pub id: u64,
    pub priority: u32,
    pub enqueued_ms: u64,
    pub deadline_ms: u64,
    pub payload: T,
    key: (u64, u64),
}

#[derive(Debug)]
pub struct PriorityQueue<T> {
    /// `(score, sequence)` to id: the admission order, with each key's rank.
    order: indexset::BTreeMap<(u64, u64), u64>,
    /// `(deadline, id)`: the expiry order.
    deadlines: BTreeSet<(u64, u64)>,
    entries: HashMap<u64, Entry<T>>,
    aging_ms: Option<u64>,
    next_sequence: u64,
}

impl<T> PriorityQueue<T> {
    pub fn new(aging_ms: Option<u64>) -> Self {
        Self {
            order: indexset::BTreeMap::new(),
            deadlines: BTreeSet::new(),
            entries: HashMap::new(),
            aging_ms: aging_ms.filter(|&ms| ms > 0),
            next_sequence: 0,
        }
    }

    /// Whether waiting improves an entry's priority (see the module doc).
    pub fn ages(&self) -> bool {
        self.aging_ms.is_some()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn push(&mut self, id: u64, priority: u32, now_ms: u64, deadline_ms: u64, payload: T) {
        let score = match self.aging_ms {
            Some(aging) => u64::from(priority).saturating_mul(aging).saturating_add(now_ms),
            None => u64::from(priority),
        };
        let key = (score, self.next_sequence);
        self.next_sequence += 1;
        self.order.insert(key, id);
        self.deadlines.insert((deadline_ms, id));
        self.entries.insert(id, Entry { id, priority, enqueued_ms: now_ms, deadline_ms, payload, key });
    }

    /// The entry admitted next.
    pub fn peek(&self) -> Option<&Entry<T>> {
        self.order.first_key_value().and_then(|(_, id)| self.entries.get(id))
    }

    pub fn pop(&mut self) -> Option<Entry<T>> {
        let (_, &id) = self.order.first_key_value()?;
        self.remove(id)
    }

    pub fn remove(&mut self, id: u64) -> Option<Entry<T>> {
        let entry = self.entries.remove(&id)?;
        self.order.remove(&entry.key);
        self.deadlines.remove(&(entry.deadline_ms, id));
        Some(entry)
    }

    /// Removes and returns every entry whose deadline has come, soonest first,
    /// each with the place in line it had.
    pub fn expire(&mut self, now_ms: u64) -> Vec<(Entry<T>, usize)> {
        let due: Vec<u64> =
            self.deadlines.iter().take_while(|(deadline, _)| *deadline <= now_ms).map(|&(_, id)| id).collect();
        due.into_iter()
            .filter_map(|id| {
                let position = self.position(id)?;
                self.remove(id).map(|entry| (entry, position))
            })
            .collect()
    }

    pub fn next_deadline(&self) -> Option<u64> {
        self.deadlines.iter().next().map(|&(deadline, _)| deadline)
    }

    /// 1-based place of `id` in the admission order.
    pub fn position(&self, id: u64) -> Option<usize> {
        let key = self.entries.get(&id)?.key;
        Some(self.order.rank(&key) + 1)
    }

    /// How many wait at each priority, and the longest wait so far.
    pub fn depth(&self, now_ms: u64) -> (BTreeMap<u32, usize>, u64) {
        let mut by_priority = BTreeMap::new();
        let mut oldest = 0;
        for entry in self.entries.values() {
            *by_priority.entry(entry.priority).or_insert(0) += 1;
            oldest = oldest.max(now_ms.saturating_sub(entry.enqueued_ms));
        }
        (by_priority, oldest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(queue: &mut PriorityQueue<()>) -> Vec<u64> {
        std::iter::from_fn(|| queue.pop().map(|e| e.id)).collect()
    }

    #[test]
    fn lower_priority_first_then_first_come_first_served() {
        let mut queue = PriorityQueue::new(None);
        for (id, priority) in [(1, 5), (2, 0), (3, 5), (4, 1), (5, 0)] {
            queue.push(id, priority, id * 10, 1_000, ());
        }
        assert_eq!(queue.position(3), Some(5));
        assert_eq!(drain(&mut queue), [2, 5, 4, 1, 3]);
    }

    #[test]
    fn aging_lets_an_old_low_priority_entry_pass_newer_urgent_ones() {
        let mut queue = PriorityQueue::new(Some(1_000));
        queue.push(1, 3, 0, 60_000, ()); // at t=3 s it is as urgent as a new priority 0
        queue.push(2, 0, 2_000, 60_000, ());
        queue.push(3, 0, 3_500, 60_000, ());
        assert_eq!(drain(&mut queue), [2, 1, 3]);
    }

    #[test]
    fn expiry_takes_exactly_the_entries_whose_deadline_came() {
        let mut queue = PriorityQueue::new(None);
        queue.push(1, 0, 0, 500, ());
        queue.push(2, 1, 0, 300, ());
        queue.push(3, 2, 0, 900, ());
        assert_eq!(queue.next_deadline(), Some(300));
        assert_eq!(queue.expire(499).iter().map(|(e, place)| (e.id, *place)).collect::<Vec<_>>(), [(2, 2)]);
        assert_eq!(queue.expire(500).iter().map(|(e, place)| (e.id, *place)).collect::<Vec<_>>(), [(1, 1)]);
        assert_eq!(queue.len(), 1);
        assert_eq!(queue.peek().map(|e| e.id), Some(3));
    }

    #[test]
    fn removing_an_entry_leaves_no_trace() {
        let mut queue = PriorityQueue::new(None);
        queue.push(1, 0, 0, 100, ());
        queue.push(2, 0, 0, 200, ());
        assert!(queue.remove(1).is_some());
        assert!(queue.remove(1).is_none());
        assert_eq!(queue.next_deadline(), Some(200));
        assert!(queue.expire(150).is_empty());
        assert_eq!(drain(&mut queue), [2]);
        assert!(queue.is_empty());
    }

    #[test]
    fn ten_thousand_entries_drain_in_order() {
        let mut queue = PriorityQueue::new(None);
        let mut rng = fastrand::Rng::with_seed(9);
        for id in 0..10_000 {
            queue.push(id, rng.u32(..10), id, 1_000_000, ());
        }
        let (by_priority, oldest) = queue.depth(10_000);
        assert_eq!(by_priority.values().sum::<usize>(), 10_000);
        assert_eq!(oldest, 10_000);
        let mut last = (0, 0);
        while let Some(entry) = queue.pop() {
            let now = (entry.priority, entry.enqueued_ms);
            assert!(now >= last, "{now:?} after {last:?}");
            last = now;
        }
    }
}
