//! The waiting line against the real coordinator: who files, who a grant goes
//! to, and what nobody can take.

use super::*;
use crate::config::{Config, load};
use crate::coordinator::{Admission, Coordinator, Grant, QueueRequest, TicketRequest};

const ONE_SLOT: &str = "model_list:
  - {model_name: g, litellm_params: {model: x, mock_response: a, max_parallel_requests: 1}, model_info: {id: a}}
  - {model_name: g, litellm_params: {model: x, mock_response: b, max_parallel_requests: 1}, model_info: {id: b, max_input_tokens: 100}}
router_settings:
  enable_pre_call_checks: true
";

fn config() -> Config {
    load(ONE_SLOT, &|_| None).unwrap_or_else(|e| panic!("{e}")).config
}

fn plain(tokens: u64) -> Want {
    Want { avoid: vec![], estimated_tokens: tokens, region: None }
}

fn grant(deployment: &str) -> TicketReply {
    let deployment: DeploymentId = serde_json::from_str(&format!("\"{deployment}\"")).unwrap();
    TicketReply::Granted(Grant {
        ticket: 1,
        deployment,
        remaining_requests: None,
        remaining_tokens: None,
        waited_ms: Some(0),
    })
}

fn granted_to(line: &mut WaitingLine, waiter: u64, now: u64) -> Option<String> {
    match line.take(waiter, now) {
        Some(TicketReply::Granted(grant)) => Some(grant.deployment.as_str().to_owned()),
        _ => None,
    }
}

#[test]
fn the_best_requests_of_each_kind_file_and_the_rest_wait_unseen() {
    let mut line = WaitingLine::new(None, None);
    for waiter in 1..=6 {
        line.join(waiter, 2, waiter, 10_000, plain(10)).unwrap();
    }
    assert!(!line.file(2), "the request before it files first");
    let filed: Vec<u64> = (1..=6).filter(|&w| line.file(w)).collect();
    assert_eq!(filed, (1..=FILED_AHEAD as u64).collect::<Vec<_>>(), "the first FILED_AHEAD, in order");
    assert!(!line.file(1), "filed once");
    assert!(!(1..=6).any(|w| line.file(w)), "the others wait behind them");
    line.join(7, 0, 7, 10_000, plain(10)).unwrap();
    assert!(line.file(7), "a better priority files: fewer stand before it");
    let tried: DeploymentId = serde_json::from_str("\"a\"").unwrap();
    line.join(8, 9, 8, 10_000, Want { avoid: vec![tried], ..plain(10) }).unwrap();
    assert!(line.file(8), "a retry is of another kind: none stands before it");
    // An entry lost: the request that filed it files again.
    line.lost(7);
    assert!(line.file(7));
}

#[test]
fn a_grant_goes_to_its_request_or_if_that_left_to_the_best_without_an_entry() {
    let config = config();
    let (group, policy) = (config.group("g").unwrap(), &config.router);
    let mut line = WaitingLine::new(None, None);
    line.join(1, 3, 0, 10_000, plain(10)).unwrap();
    assert!(line.file(1));
    line.join(2, 1, 40, 10_000, plain(10)).unwrap();
    assert!(line.file(2));
    for waiter in 3..=7 {
        line.join(waiter, 2, 50 + waiter, 10_000, plain(10)).unwrap();
    }
    let filed: Vec<u64> = (3..=7).filter(|&w| line.file(w)).collect();
    assert_eq!(filed, [3, 4, 5], "four at priority 2 or better: 2, 3, 4, 5");
    // Request 1's grant is its own, though better ones wait: theirs come too.
    assert!(line.answered(1, grant("a"), 100, group, policy).is_none());
    assert_eq!(granted_to(&mut line, 1, 100).as_deref(), Some("a"));
    assert_eq!(line.take(2, 100), None);
    // Request 2 leaves before its grant comes: it goes to the best request
    // without an entry (6), not to one with its own on the way (3, 4, 5).
    assert!(line.leave(2, 110, Some((group, policy))).is_none());
    assert!(line.answered(2, grant("a"), 120, group, policy).is_none());
    match line.take(6, 120) {
        Some(TicketReply::Granted(grant)) => assert_eq!(grant.waited_ms, Some(64), "its own wait"),
        other => panic!("{other:?}"),
    }
    assert_eq!(line.take(3, 120), None);
    assert!(line.file(7), "fewer than four ahead of it now");
}

#[test]
fn a_grant_whose_request_left_skips_what_its_deployment_cannot_serve_and_comes_back_if_none_can() {
    let config = config();
    let (group, policy) = (config.group("g").unwrap(), &config.router);
    let mut line = WaitingLine::new(None, None);
    for waiter in 1..=4 {
        line.join(waiter, 0, 0, 10_000, plain(10)).unwrap();
        assert!(line.file(waiter));
    }
    // `b` takes prompts of 100 tokens at most.
    line.join(5, 1, 1, 10_000, plain(500)).unwrap();
    line.join(6, 2, 1, 10_000, plain(50)).unwrap();
    assert!(!line.file(5) && !line.file(6));
    assert!(line.leave(1, 5, Some((group, policy))).is_none());
    assert!(line.answered(1, grant("b"), 10, group, policy).is_none());
    assert_eq!(granted_to(&mut line, 5, 10), None);
    assert_eq!(granted_to(&mut line, 6, 10).as_deref(), Some("b"));
    assert!(line.leave(2, 15, Some((group, policy))).is_none());
    let back = line.answered(2, grant("b"), 20, group, policy);
    assert!(matches!(back, Some(TicketReply::Granted(_))), "nobody left can take it: given back");
    assert_eq!(line.take(5, 20), None, "request 5 still waits");
}

#[test]
fn a_grant_handed_to_a_request_whose_client_left_goes_to_the_next() {
    let config = config();
    let (group, policy) = (config.group("g").unwrap(), &config.router);
    let mut line = WaitingLine::new(None, None);
    line.join(1, 0, 0, 10_000, plain(10)).unwrap();
    line.join(2, 1, 0, 10_000, plain(10)).unwrap();
    assert!(line.file(1));
    assert!(line.answered(1, grant("a"), 10, group, policy).is_none());
    assert!(line.leave(1, 11, Some((group, policy))).is_none(), "request 2 takes it");
    assert_eq!(granted_to(&mut line, 2, 12).as_deref(), Some("a"));
    // The last to leave with a grant hands it back, with the entry it came for.
    line.join(3, 0, 20, 10_000, plain(10)).unwrap();
    assert!(line.file(3));
    assert!(line.answered(3, grant("a"), 30, group, policy).is_none());
    let back = line.leave(3, 31, Some((group, policy)));
    assert!(matches!(back, Some((3, TicketReply::Granted(_)))), "{back:?}");
    assert!(line.is_empty());
}

#[test]
fn each_request_keeps_its_own_deadline_and_other_answers_go_to_the_filer() {
    let config = config();
    let (group, policy) = (config.group("g").unwrap(), &config.router);
    let mut line = WaitingLine::new(None, None);
    line.join(1, 0, 0, 1_000, plain(10)).unwrap();
    line.join(2, 0, 0, 5_000, plain(10)).unwrap();
    assert!(line.file(1));
    // The coordinator's timeout of the entry answers nobody...
    let timeout = TicketReply::Unavailable(Unavailable::QueueTimeout { waited_ms: 1_000, position: 1 });
    assert!(line.answered(1, timeout, 1_000, group, policy).is_none());
    assert_eq!(line.take(2, 1_000), None);
    // ... each request's own deadline does, with its place here.
    match line.take(1, 1_000) {
        Some(TicketReply::Unavailable(Unavailable::QueueTimeout { waited_ms: 1_000, position: 1 })) => {}
        other => panic!("{other:?}"),
    }
    assert!(line.file(2));
    let full = TicketReply::Unavailable(Unavailable::QueueFull { max: 1 });
    assert!(line.answered(2, full.clone(), 1_100, group, policy).is_none());
    assert_eq!(line.take(2, 1_100), Some(full));
    assert!(line.is_empty());
}

/// Forty requests of one isolate wait for a group of two single slots: the
/// coordinator takes one message per admission, and the requests are served by
/// priority, as they would be in its queue.
#[test]
fn a_saturated_group_costs_the_coordinator_one_request_per_admission() {
    let config = config();
    let (group, policy) = (config.group("g").unwrap(), &config.router);
    let mut coordinator = Coordinator::default();
    let mut rng = fastrand::Rng::with_seed(5);
    let mut line = WaitingLine::new(None, None);
    let ticket = |waiter: u64, priority: u32| TicketRequest {
        avoid: vec![],
        estimated_tokens: 10,
        stream: false,
        queue: Some(QueueRequest { priority, max_wait_ms: 60_000, waiter }),
        region: None,
        isolate: 7,
    };
    let priorities: Vec<u32> = (0..40).map(|_| rng.u32(..4)).collect();
    let mut acquires = 0;
    let mut served = Vec::new();
    let mut running: Vec<u64> = Vec::new();
    for (waiter, &priority) in (1..).zip(&priorities) {
        line.join(waiter, priority, waiter, 60_000, plain(10)).unwrap();
    }
    for now in 100..10_000u64 {
        // Each waiting request looks whether it must file, as the Worker's do.
        for waiter in 1..=40u64 {
            if line.file(waiter) {
                acquires += 1;
                let priority = priorities[waiter as usize - 1];
                match coordinator.acquire(now, group, policy, &ticket(waiter, priority), &mut rng) {
                    Admission::Now(reply) => assert!(line.answered(waiter, reply, now, group, policy).is_none()),
                    Admission::Queued => {}
                }
            }
        }
        for (entry, reply) in coordinator.tick(now, group, policy, &mut rng) {
            assert!(line.answered(entry, reply, now, group, policy).is_none());
        }
        for waiter in 1..=40u64 {
            if let Some(TicketReply::Granted(grant)) = line.take(waiter, now) {
                served.push(priorities[waiter as usize - 1]);
                running.push(grant.ticket);
            }
        }
        // One call ends every 10 ms.
        if now % 10 == 0 && !running.is_empty() {
            let ticket = running.remove(0);
            let report =
                crate::coordinator::Report { ticket, latency_ms: 10, ttft_ms: None, tokens_used: None, failure: None };
            coordinator.report(now, group, policy, &report);
        }
    }
    assert_eq!(served.len(), 40, "every request served");
    assert!(acquires <= 40 + 2, "one acquire per admission, and the entries filed before: {acquires}");
    // Past the two served at once, in priority order.
    let mut sorted = served[2..].to_vec();
    sorted.sort_unstable();
    assert_eq!(served[2..], sorted[..], "served by priority");
    assert!(line.is_empty());
}

#[test]
fn the_line_holds_max_queue_size_requests_and_tells_its_depth() {
    let mut line = WaitingLine::new(None, Some(2));
    line.join(1, 4, 0, 10_000, plain(10)).unwrap();
    line.join(2, 1, 30, 10_000, plain(10)).unwrap();
    assert_eq!(line.join(3, 0, 40, 10_000, plain(10)), Err(Unavailable::QueueFull { max: 2 }));
    let depth = line.depth(100);
    assert_eq!(depth.by_priority, [(1, 1), (4, 1)].into());
    assert_eq!(depth.oldest_wait_ms, 100);
}
