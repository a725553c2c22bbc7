//! The priority queue's order, stated without its B-tree: the entry admitted next
//! is the one of lowest effective priority now (its priority, less one per aging
//! period it has waited, continuously), the first pushed among equals; expiry
//! takes exactly the entries whose deadline came, soonest first, each with its
//! place in line.

use proptest::prelude::*;

use crate::coordinator::queue::PriorityQueue;

#[derive(Debug, Clone)]
enum Op {
    Push {
        priority: u32,
        wait_ms: u64,
    },
    Pop,
    /// The `nth` waiting entry (modulo how many wait), or an unknown id when none does.
    Remove {
        nth: usize,
    },
    Expire,
    Advance {
        ms: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u32..6, 1u64..20_000).prop_map(|(priority, wait_ms)| Op::Push { priority, wait_ms }),
        2 => Just(Op::Pop),
        1 => any::<usize>().prop_map(|nth| Op::Remove { nth }),
        1 => Just(Op::Expire),
        2 => (0u64..5_000).prop_map(|ms| Op::Advance { ms }),
    ]
}

#[derive(Debug)]
struct Waiting {
    id: u64,
    priority: u32,
    enqueued_ms: u64,
    deadline_ms: u64,
}

/// Effective priority at `now`, times the aging period (to stay whole): lower goes first.
fn effective(w: &Waiting, now: u64, aging_ms: Option<u64>) -> i128 {
    match aging_ms {
        Some(aging) => i128::from(w.priority) * i128::from(aging) - i128::from(now - w.enqueued_ms),
        None => i128::from(w.priority),
    }
}

/// The index in `model` of the entry to admit at `now` (ids grow with pushes: the
/// smaller id was pushed first).
fn next(model: &[Waiting], now: u64, aging_ms: Option<u64>) -> Option<usize> {
    (0..model.len()).min_by_key(|&i| (effective(&model[i], now, aging_ms), model[i].id))
}

/// 1-based place of `model[i]` in line at `now`.
fn place(model: &[Waiting], i: usize, now: u64, aging_ms: Option<u64>) -> usize {
    let key = |w: &Waiting| (effective(w, now, aging_ms), w.id);
    1 + model.iter().filter(|w| key(w) < key(&model[i])).count()
}

proptest! {
    #![proptest_config(super::config(256))]

    #[test]
    fn the_queue_admits_the_lowest_effective_priority_first(
        aging_ms in prop::option::of(1u64..10_000),
        ops in prop::collection::vec(op(), 1..150),
    ) {
        let mut queue = PriorityQueue::new(aging_ms);
        let mut model: Vec<Waiting> = Vec::new();
        let mut now = 1_700_000_000_000;
        let mut next_id = 0;
        for op in ops {
            match op {
                Op::Push { priority, wait_ms } => {
                    queue.push(next_id, priority, now, now + wait_ms, ());
                    model.push(Waiting { id: next_id, priority, enqueued_ms: now, deadline_ms: now + wait_ms });
                    next_id += 1;
                }
                Op::Pop => {
                    let expected = next(&model, now, aging_ms).map(|i| model.remove(i).id);
                    prop_assert_eq!(queue.pop().map(|e| e.id), expected);
                }
                Op::Remove { nth } => {
                    if model.is_empty() {
                        prop_assert!(queue.remove(u64::MAX).is_none());
                    } else {
                        let id = model.remove(nth % model.len()).id;
                        prop_assert_eq!(queue.remove(id).map(|e| e.id), Some(id));
                        prop_assert!(queue.remove(id).is_none(), "removed twice");
                    }
                }
                Op::Expire => {
                    let mut expected = Vec::new();
                    while let Some(i) = (0..model.len())
                        .filter(|&i| model[i].deadline_ms <= now)
                        .min_by_key(|&i| (model[i].deadline_ms, model[i].id))
                    {
                        expected.push((model[i].id, place(&model, i, now, aging_ms)));
                        model.remove(i);
                    }
                    let got: Vec<(u64, usize)> = queue.expire(now).iter().map(|(e, at)| (e.id, *at)).collect();
                    prop_assert_eq!(got, expected);
                }
                Op::Advance { ms } => now += ms,
            }
            prop_assert_eq!(queue.len(), model.len());
            prop_assert_eq!(queue.peek().map(|e| e.id), next(&model, now, aging_ms).map(|i| model[i].id));
            prop_assert_eq!(queue.next_deadline(), model.iter().map(|w| w.deadline_ms).min());
            for (i, w) in model.iter().enumerate() {
                prop_assert_eq!(queue.position(w.id), Some(place(&model, i, now, aging_ms)));
            }
        }
    }
}
