//! Scaled-down scenarios: every limit holds exactly, and a run is reproducible.

use super::{Scenario, run};

/// A fortieth of the scenario (25 isolates, 500 requests per second,
/// rpm 7,500, tpm 7.5 M, 125 in flight at most), isolates living a minute on
/// average: rpm never exceeded in any minute, `max_parallel_requests` at no
/// instant (calls of dead isolates included), tpm within what estimates allow;
/// and the coordinator's storage written a few times a minute.
#[test]
fn every_limit_holds_at_a_fortieth_of_the_edge() {
    let report = run(&Scenario::scaled(40)).unwrap();
    println!("{report}");
    assert_eq!(report.limit_violations(), Vec::<String>::new());
    // The run did reach every limit, or holding them would prove little.
    for d in &report.deployments {
        let (mean, _) = d.utilisation().unwrap();
        assert!(mean > 0.2, "{}: {mean}", d.id);
    }
    assert!(report.isolate_deaths > 20 && report.orphaned_calls > 0, "{report}");
    // Saturated, requests waited in their isolates for slots freed there, and
    // `max_parallel_requests` held with them.
    assert!(report.routed.awaited_slot > 1_000, "{report}");
    // The coordinator writes its counts ahead, about a fiftieth of each limit at
    // a time (two limited deployments, two minutes), not once per message.
    assert!(report.writes > 0 && report.writes <= 2 * 2 * 60, "{report}");
}

/// Every slot of `max_parallel_requests` is counted in exactly one place at
/// each count: the calls on the upstream are those the isolates' and the
/// coordinator's counts say, the parts add up to the limit, no live isolate
/// ever holds more than the coordinator counts as leased to it, and the calls
/// counted are the utilisation measured. Isolates died holding slots.
#[test]
fn the_slots_of_a_concurrency_limit_are_all_accounted_for() {
    let report = run(&Scenario { minutes: 1, ..Scenario::scaled(40) }).unwrap();
    let c = report.deployments.iter().find(|d| d.max_parallel.is_some()).unwrap();
    let slots = c.slots.as_ref().unwrap();
    assert_eq!(slots.counts, 60_000 / 50, "{report}");
    assert_eq!((slots.unsplit, slots.overheld), (0, 0), "{report}");
    let sum: f64 = slots.parts().iter().map(|(_, n)| n).sum();
    assert!((sum - f64::from(slots.limit)).abs() < 1e-6, "{sum}: {report}");
    let (utilisation, _) = c.utilisation().unwrap();
    assert!((slots.in_calls / f64::from(slots.limit) - utilisation).abs() < 0.005, "{report}");
    assert!(slots.dead > 0.0 && slots.idle > 0.0, "{report}");
}

/// The same scenario and seed give the same report; another seed another one.
#[test]
fn a_run_is_reproducible() {
    let scenario = Scenario { minutes: 1, ..Scenario::scaled(100) };
    let first = run(&scenario).unwrap();
    assert_eq!(first, run(&scenario).unwrap());
    assert_ne!(first, run(&Scenario { seed: scenario.seed + 1, ..scenario }).unwrap());
}

/// Every request with a priority and demand over capacity, over two minutes (a
/// minute's turn, when the queue drains into the new minute at once, included):
/// no request is admitted while one of a better priority that arrived before it
/// has waited beyond the bound, every limit holds, and requests do reach their
/// calls from the queue (or the order would be held by nobody being served), and
/// in slots their isolates freed (handed over in the line, or to a request that
/// waited for one there while the queue was empty, which the order binds as
/// much).
#[test]
fn priority_order_holds_when_every_request_may_wait() {
    let report = run(&Scenario::scaled(40).all_priorities()).unwrap();
    println!("{report}");
    assert_eq!(report.limit_violations(), Vec::<String>::new());
    assert_eq!(report.inversions.beyond_bound, 0, "{report}");
    // Requests of worse priorities were admitted while better ones waited
    // within the bound (a view's life): the measure sees passing at all.
    assert!(report.inversions.any > 0, "{report}");
    assert!(report.routed.queued > 1_000 && report.refused.get("queue timeout").is_some_and(|&n| n > 0), "{report}");
    assert!(report.routed.handed > 1_000, "{report}");
    assert!(report.routed.awaited_slot > 1_000, "{report}");
}

/// A coordinator that takes time on each message takes them one at a time:
/// its busy time is the messages it took times the time each took, messages
/// that came while it was busy waited their turn, and every limit still holds.
/// Without a service time it is never busy and no message waits.
#[test]
fn a_coordinator_with_a_service_time_takes_messages_in_turn() {
    let scenario = Scenario { minutes: 1, ..Scenario::scaled(40) };
    let at_once = run(&scenario).unwrap();
    assert_eq!((at_once.busy.share, at_once.busy.turn.max_ms), (0.0, 0), "{at_once}");

    let service_us = 2_000;
    let report = run(&Scenario { service_us, ..scenario }).unwrap();
    println!("{report}");
    assert_eq!(report.limit_violations(), Vec::<String>::new());
    let taken = report.busy.turn.count;
    // Messages still on their way or waiting their turn when the run ends were
    // counted as sent but not taken.
    assert!(taken > 0 && taken <= report.messages.total(), "{report}");
    let busy_share = (taken * service_us) as f64 / (60_000.0 * 1_000.0);
    assert!((report.busy.share - busy_share).abs() < 1e-9, "{report}");
    assert!(report.busy.turn.max_ms > 0 && report.busy.turn.mean_ms > 0.0, "{report}");
}

/// A coordinator that lags is not asked a ticket per request that waited for its
/// late view: its isolates' requests that may not wait ask a few at a time
/// (`coordinator::local::asking`), so its load does not grow with its lag and the
/// lag stays bounded. At 3 ms a message here, with every request free to ask,
/// acquires grew from about 1,300 to 8,900 and a message waited up to 6 s for its
/// turn.
#[test]
fn a_lagging_coordinator_is_asked_a_few_tickets_at_a_time() {
    let scenario = Scenario { minutes: 1, ..Scenario::scaled(40) };
    let at_once = run(&scenario).unwrap();
    let lagging = run(&Scenario { service_us: 3_000, ..scenario }).unwrap();
    println!("{lagging}");
    assert_eq!(lagging.limit_violations(), Vec::<String>::new());
    assert!(lagging.busy.turn.max_ms > 300, "the coordinator did lag: {lagging}");
    assert!(
        lagging.messages.acquire < 2 * at_once.messages.acquire,
        "{} acquires lagging, {} answered at once",
        lagging.messages.acquire,
        at_once.messages.acquire
    );
    assert!(lagging.busy.turn.max_ms < 2_000, "{lagging}");
}

/// A coordinator that lags is not sent a `Wait` per request that joins a short
/// line: while an isolate's last view came late, its line tells its news at the
/// line's pace (`Line::pace`), so the lag stays short and the priority order
/// holds within its bound. At 4 ms a message here, with a `Wait` per joiner, a
/// message waited up to 1.4 s for its turn and 255 requests were admitted past
/// the bound; paced, 0.6 s and none.
#[test]
fn a_lagging_coordinators_lines_tell_at_their_pace() {
    let scenario = Scenario { minutes: 1, service_us: 4_000, ..Scenario::scaled(40).all_priorities() };
    let lagging = run(&scenario).unwrap();
    println!("{lagging}");
    assert_eq!(lagging.limit_violations(), Vec::<String>::new());
    assert!(lagging.busy.turn.max_ms > 500, "the coordinator did lag past the bound of a one-second view: {lagging}");
    assert!(lagging.busy.turn.max_ms < 1_000, "{lagging}");
    assert_eq!(lagging.inversions.beyond_bound, 0, "{lagging}");
}

/// Relays between the isolates and the coordinator (`relay`): the coordinator
/// takes at most one batch per relay per period, however many messages the
/// isolates send; every limit holds, and the priority order holds within its
/// bound (which grows by the relays' trips and periods). Where the coordinator
/// lagged past half a second at 4 ms a message (above), behind relays, at 4 ms a
/// batch and 1 ms for each further message in it, it keeps up.
#[test]
fn relays_bound_the_coordinators_requests_by_their_number_and_period() {
    let relays = 5;
    let scenario = Scenario {
        minutes: 1,
        service_us: 4_000,
        inner_us: 1_000,
        ..Scenario::scaled(40).all_priorities().relayed(relays, 100)
    };
    let report = run(&scenario).unwrap();
    println!("{report}");
    assert_eq!(report.limit_violations(), Vec::<String>::new());
    assert_eq!(report.inversions.beyond_bound, 0, "{report}");
    assert!(report.routed.queued > 1_000 && report.routed.handed > 1_000, "{report}");
    let batches = report.messages.batches;
    assert!(batches <= relays as u64 * 60_000 / 100, "{batches} batches");
    // Five isolates a relay here: about three messages a batch.
    assert!(report.messages.total() > 2 * batches, "{report}");
    assert!(report.busy.turn.max_ms < 250, "{report}");
    let direct = run(&Scenario { relays: 0, ..scenario }).unwrap();
    assert!(direct.busy.turn.max_ms > 500, "without relays it lags: {direct}");
}

/// Automatic relays (`Relaying::Auto`): isolates relay once the coordinator's
/// views say so, a second after its isolates' messages passed the threshold,
/// and not while they stay below it; every limit and the priority order hold
/// through the switch.
#[test]
fn automatic_relays_start_when_the_coordinators_messages_pass_the_threshold() {
    let scenario = Scenario { minutes: 1, ..Scenario::scaled(40).relayed(5, 100) };
    let busy = run(&scenario.clone().relayed_above(50)).unwrap();
    println!("{busy}");
    assert_eq!(busy.limit_violations(), Vec::<String>::new());
    assert_eq!(busy.inversions.beyond_bound, 0, "{busy}");
    let per_s = busy.messages.total() / 60;
    assert!(per_s > 50, "the isolates send {per_s} messages a second");
    // Direct only until the first views that say to relay came.
    assert!(busy.messages.batches > 0 && busy.messages.direct * 10 < busy.messages.total(), "{busy}");
    // A threshold no second reaches (the whole minute's messages).
    let quiet = run(&scenario.relayed_above(busy.messages.total())).unwrap();
    assert_eq!((quiet.messages.batches, quiet.messages.direct), (0, quiet.messages.total()), "{quiet}");
}
