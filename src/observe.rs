//! What each request did, once it is over (`switchyard_core::observe`): its line
//! in the request log; its counts, handed to the coordinators of the groups it
//! touched for `GET /metrics` and `GET /ui/state`; its record, offered to the
//! configured callbacks ([`callbacks`]).
//!
//! Off the request's critical path: a complete answer's record is written as its
//! reply leaves, a stream's in the background at its end; the counts wait in the
//! isolate and go to each coordinator with the isolate's next sync of the group
//! ([`take_tally`]), or on their own after [`HAND_OVER_MS`].

use std::cell::RefCell;
use std::time::Duration;

use futures_util::future::join;
use switchyard_core::config::Callbacks;
use switchyard_core::observe::record::RequestRecord;
use switchyard_core::observe::tally::{Tallies, Tally};
use worker::{Delay, Env};

use crate::{callbacks, coordinator};

/// How long counts wait in the isolate for more to travel with, or for a sync to
/// carry them: an isolate with traffic syncs each group about once a second
/// (its view's life), so the counts seldom need a message of their own.
const HAND_OVER_MS: u64 = 2_000;

thread_local! {
    static TALLIES: RefCell<Tallies> = RefCell::new(Tallies::default());
}

/// Logs the request (`request_log`: `general_settings.request_log`), counts it
/// and offers it to the callbacks. Returns what to
/// run off the critical path: the hand-over of the counts when this is the first
/// since the last one, the callbacks' sending when due.
pub fn finished(
    env: &Env,
    request_log: bool,
    callbacks: &Callbacks,
    record: &RequestRecord,
) -> Option<impl Future<Output = ()> + 'static> {
    // One JSON line: what Workers Logs and Logpush index by field. The largest
    // part of the observing's cost (BENCHMARKS.md), hence its switch.
    if request_log {
        worker::console_log!("{}", record.log_line());
    }
    let first = TALLIES.with_borrow_mut(|tallies| {
        let first = tallies.is_empty();
        tallies.count(record);
        first && !tallies.is_empty()
    });
    let hand_over = first.then(|| hand_over(env.clone()));
    let sending = callbacks::offer(callbacks, record);
    (hand_over.is_some() || sending.is_some()).then_some(async move {
        join(
            async {
                if let Some(hand_over) = hand_over {
                    hand_over.await;
                }
            },
            async {
                if let Some(sending) = sending {
                    sending.await;
                }
            },
        )
        .await;
    })
}

/// `group`'s counts, to travel with a sync to its coordinator.
pub fn take_tally(group: &str) -> Option<Tally> {
    TALLIES.with_borrow_mut(|tallies| tallies.take_group(group))
}

/// After [`HAND_OVER_MS`], sends each group's counts to its coordinator. Counts
/// that cannot be sent are lost: they are the metrics' only, never a limit's.
async fn hand_over(env: Env) {
    Delay::from(Duration::from_millis(HAND_OVER_MS)).await;
    let tallies = TALLIES.with_borrow_mut(Tallies::take);
    for (group, tally) in tallies {
        if let Err(error) = coordinator::observed(&env, &group, tally).await {
            worker::console_error!("handing counts to the coordinator of `{group}` failed: {error}");
        }
    }
}
