//! Scaled-down scenarios: every limit holds exactly, and a run is reproducible.

use super::{Scenario, run};

/// A fortieth of the scenario (25 isolates, 500 requests per second,
/// rpm 7,500, tpm 7.5 M, 125 in flight at most), isolates living a minute on
/// average: rpm never exceeded in any minute, `max_parallel_requests` at no
/// instant (calls of dead isolates included), tpm within what estimates allow.
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
}

/// The same scenario and seed give the same report; another seed another one.
#[test]
fn a_run_is_reproducible() {
    let scenario = Scenario { minutes: 1, ..Scenario::scaled(100) };
    let first = run(&scenario).unwrap();
    assert_eq!(first, run(&scenario).unwrap());
    assert_ne!(first, run(&Scenario { seed: scenario.seed + 1, ..scenario }).unwrap());
}

/// Every request with a priority, demand over capacity: the queue never
/// empties and a fifth of the requests wait out their time. Those wait in their
/// isolate's line, unseen: the coordinator takes about one ticket request per
/// request it admits by ticket (each isolate's best few, and those of them whose
/// time runs out), not one per request that waits; and no request is admitted
/// past a better one that waited longer than the bound.
#[test]
fn requests_that_wait_cost_the_coordinator_their_admissions_not_their_arrivals() {
    let report = run(&Scenario { minutes: 1, ..Scenario::scaled(40).all_priorities() }).unwrap();
    println!("{report}");
    assert_eq!(report.limit_violations(), Vec::<String>::new());
    let timed_out = report.refused.get("queue timeout").copied().unwrap_or(0);
    let by_ticket = report.routed.ticket + report.routed.queued;
    assert!(timed_out > by_ticket / 4, "demand over capacity: {report}");
    let acquires = report.messages.acquire;
    assert!(acquires < by_ticket + by_ticket / 5, "{acquires} ticket requests for {by_ticket} admitted by ticket");
    assert_eq!(report.inversions.beyond_bound, 0, "{report}");
}
