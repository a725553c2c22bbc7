//! What each request did, once it is over (`switchyard_core::observe`): its line
//! in the request log, and its counts, handed to the coordinators of the groups
//! it touched for `GET /metrics` and `GET /ui/state`.
//!
//! Off the request's critical path: a complete answer's record is written as its
//! reply leaves, a stream's in the background at its end; the counts wait in the
//! isolate and go to each coordinator at most once per [`HAND_OVER_MS`].

use std::cell::RefCell;
use std::time::Duration;

use switchyard_core::observe::record::RequestRecord;
use switchyard_core::observe::tally::Tallies;
use worker::{Delay, Env};

use crate::coordinator;

/// How long counts wait in the isolate for more to travel with: under load, one
/// message per group and isolate per second carries every request of that second.
const HAND_OVER_MS: u64 = 1_000;

thread_local! {
    static TALLIES: RefCell<Tallies> = RefCell::new(Tallies::default());
}

/// Logs the request and counts it. Returns the hand-over of the counts to run
/// off the critical path, when this is the first count since the last one.
pub fn finished(env: &Env, record: &RequestRecord) -> Option<impl Future<Output = ()> + 'static> {
    // One JSON line: what Workers Logs and Logpush index by field.
    worker::console_log!("{}", record.log_line());
    let first = TALLIES.with_borrow_mut(|tallies| {
        let first = tallies.is_empty();
        tallies.count(record);
        first && !tallies.is_empty()
    });
    first.then(|| hand_over(env.clone()))
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
