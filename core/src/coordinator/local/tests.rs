//! Two isolates routing one group by themselves, with the coordinator between them.

use std::collections::HashSet;

use super::*;
use crate::config::{Config, load};
use crate::coordinator::slots::{NO_ISOLATE, SLOTS_TTL_MS};
use crate::coordinator::{
    Admission, Coordinator, QueueRequest, Report, ReportedFailure, TicketReply, TicketRequest, Timings, Unavailable,
};
use crate::failure::FailureClass;

struct World {
    config: Config,
    coordinator: Coordinator,
    isolates: [LocalRouter; 2],
    rng: fastrand::Rng,
}

const TWO: &str = "model_list:
  - {model_name: g, litellm_params: {model: x, mock_response: a}, model_info: {id: a}}
  - {model_name: g, litellm_params: {model: x, mock_response: b}, model_info: {id: b}}
router_settings:
  cooldown_time: 10
";

impl World {
    fn new(yaml: &str) -> Self {
        let config = load(yaml, &|_| None).unwrap_or_else(|e| panic!("{e}")).config;
        let rng = fastrand::Rng::with_seed(3);
        Self { config, coordinator: Coordinator::default(), isolates: Default::default(), rng }
    }

    fn group(&self) -> &ModelGroup {
        self.config.group("g").unwrap()
    }

    /// What isolate `i` does for a fresh request at `now`, refreshing its view
    /// from the coordinator when it must: the deployment it calls, or `None`
    /// when the request must take a ticket.
    fn route(&mut self, i: usize, now: u64, avoid: &[&str]) -> Option<String> {
        let avoid: Vec<DeploymentId> = avoid.iter().map(|a| self.id(a)).collect();
        for refreshed in [false, true] {
            let group = self.config.group("g").unwrap();
            match self.isolates[i].pick(now, group, &self.config.router, ask(&avoid), &mut self.rng) {
                LocalPick::Call { deployment, .. } => return Some(deployment.id.as_str().to_owned()),
                LocalPick::Coordinate | LocalPick::Full(_) => return None,
                // As the Worker does: a fresh view whose lease or slots are used
                // up already sends the request for a ticket.
                LocalPick::Refresh if refreshed => return None,
                LocalPick::Refresh => self.refresh(i, now, None),
                LocalPick::Unreachable(outage) => panic!("no outage in this world: {outage:?}"),
                LocalPick::AwaitSlot(d) => panic!("a request that may not wait for a slot waits for {}", d.id),
            }
        }
        None
    }

    /// Isolate `i` tells the coordinator what it served (and a failure) and
    /// takes the view it answers with, for a request of 10 tokens.
    fn refresh(&mut self, i: usize, now: u64, failure: Option<(&str, FailureClass)>) {
        self.sync(i, now, failure, 10);
    }

    /// Isolate `i`'s keeper syncs: no request asks.
    fn keeper_sync(&mut self, i: usize, now: u64) {
        self.sync(i, now, None, 0);
    }

    fn sync(&mut self, i: usize, now: u64, failure: Option<(&str, FailureClass)>, estimated_tokens: u64) {
        let served = self.isolates[i].take_served(now);
        let failure = failure.map(|(id, class)| (self.id(id), ReportedFailure { class, retry_after_ms: None }));
        let group = self.config.group("g").unwrap();
        let view = self.coordinator.sync_local(
            now,
            group,
            &self.config.router,
            i as u64 + 1,
            &served,
            failure.as_ref(),
            estimated_tokens,
            &mut self.rng,
        );
        self.isolates[i].update(now, now, view);
    }

    fn id(&self, id: &str) -> DeploymentId {
        self.group().deployments.iter().find(|d| d.id.as_str() == id).map(|d| d.id.clone()).unwrap()
    }

    /// A ticket from the coordinator, as a request that must coordinate takes one.
    fn ticket(&mut self, now: u64) -> (String, u64) {
        let request = plain_request();
        let group = self.config.group("g").unwrap();
        match self.coordinator.acquire(now, group, &self.config.router, &request, &mut self.rng) {
            Admission::Now(TicketReply::Granted(g)) => (g.deployment.as_str().to_owned(), g.ticket),
            other => panic!("expected a grant, got {other:?}"),
        }
    }
}

/// A request that may not wait, has tried nothing, and names no isolate.
fn plain_request() -> TicketRequest {
    TicketRequest { avoid: vec![], estimated_tokens: 10, stream: false, queue: None, region: None, isolate: NO_ISOLATE }
}

fn ask(avoid: &[DeploymentId]) -> Ask<'_> {
    Ask { avoid, estimated_tokens: 10, stream: false, region: None, may_wait: false, await_slot: false }
}

#[test]
fn every_strategy_and_limit_routes_locally() {
    for extra in [
        "  routing_strategy: cost-based-routing\n",
        "  routing_strategy: least-busy\n",
        "  routing_strategy: latency-based-routing\n",
        "  routing_strategy: usage-based-routing-v2\n",
    ] {
        let mut w = World::new(&format!("{TWO}{extra}"));
        assert!(w.route(0, 0, &[]).is_some(), "{extra}");
    }
    // rpm and tpm limits are held by leases, max_parallel_requests by slots.
    for limit in ["rpm: 500", "tpm: 50000", "max_parallel_requests: 100"] {
        let mut w = World::new(&TWO.replace("mock_response: b}", &format!("mock_response: b, {limit}}}")));
        let routed: Vec<_> = (0..40).filter_map(|_| w.route(0, 0, &["a"])).collect();
        assert_eq!(routed.len(), 40, "{limit}");
    }
}

#[test]
fn a_view_is_fetched_once_then_trusted_until_it_is_stale() {
    let mut w = World::new(TWO);
    let group = w.config.group("g").unwrap();
    let pick = w.isolates[0].pick(0, group, &w.config.router, ask(&[]), &mut w.rng);
    assert!(matches!(pick, LocalPick::Refresh), "no view yet");
    w.refresh(0, 0, None);
    let group = w.config.group("g").unwrap();
    for now in [0, 500, VIEW_TTL_MS - 1] {
        let pick = w.isolates[0].pick(now, group, &w.config.router, ask(&[]), &mut w.rng);
        assert!(matches!(pick, LocalPick::Call { .. }), "fresh at {now}");
    }
    let pick = w.isolates[0].pick(VIEW_TTL_MS, group, &w.config.router, ask(&[]), &mut w.rng);
    assert!(matches!(pick, LocalPick::Refresh), "stale at the TTL");
}

#[test]
fn a_failure_in_one_isolate_cools_the_deployment_for_the_other_within_the_ttl() {
    let mut w = World::new(TWO);
    assert!(w.route(0, 0, &[]).is_some());
    assert!(w.route(1, 0, &[]).is_some());
    // Isolate 0 sees `a` rate-limited: its retry already avoids it.
    w.refresh(0, 100, Some(("a", FailureClass::RateLimit)));
    for _ in 0..20 {
        assert_eq!(w.route(0, 100, &[]).as_deref(), Some("b"));
    }
    // Isolate 1 still trusts its view until it goes stale, then knows.
    let before: Vec<_> = (0..40).filter_map(|_| w.route(1, 900, &[])).collect();
    assert!(before.iter().any(|d| d == "a"), "its view predates the cooldown");
    for _ in 0..20 {
        assert_eq!(w.route(1, VIEW_TTL_MS + 1, &[]).as_deref(), Some("b"));
    }
}

#[test]
fn when_a_cooldown_ends_the_probe_goes_by_ticket_and_its_success_reopens_the_deployment() {
    let mut w = World::new(TWO);
    w.refresh(0, 0, Some(("a", FailureClass::RateLimit)));
    // The view lasts no longer than the cooldown.
    assert_eq!(w.route(0, 9_999, &[]).as_deref(), Some("b"));
    // At its end a probe is due: every request takes a ticket, one of them the probe.
    assert_eq!(w.route(0, 10_000, &[]), None);
    let mut probe = None;
    for _ in 0..20 {
        let (id, ticket) = w.ticket(10_000);
        if id == "a" {
            probe = Some(ticket);
            break;
        }
    }
    let probe = probe.expect("the coordinator sends the probe to `a`");
    // While the probe is out, isolates route around `a` by themselves.
    w.refresh(0, 10_001, None);
    for _ in 0..20 {
        assert_eq!(w.route(0, 10_001, &[]).as_deref(), Some("b"));
    }
    let group = w.config.group("g").unwrap();
    let report = Report { ticket: probe, latency_ms: 5, ttft_ms: None, tokens_used: None, failure: None };
    w.coordinator.report(10_050, group, &w.config.router, &report);
    w.refresh(0, 10_050, None);
    let spread: Vec<_> = (0..40).filter_map(|_| w.route(0, 10_050, &[])).collect();
    assert!(spread.iter().any(|d| d == "a") && spread.iter().any(|d| d == "b"), "{spread:?}");
}

#[test]
fn the_requests_an_isolate_served_count_for_the_failure_rate_rule() {
    // LiteLLM's default: over half failing once the minute has 5 requests cools.
    let mut w = World::new(TWO);
    for _ in 0..7 {
        w.route(0, 0, &["b"]);
    }
    // 7 requests to `a` told with 3 failures: under half, `a` stays.
    for _ in 0..3 {
        w.refresh(0, 10, Some(("a", FailureClass::Internal)));
    }
    assert_eq!(w.route(0, 20, &["b"]).as_deref(), Some("a"));
    // One more failure and one more request: 8 requests, 4 failures, still not over half.
    w.refresh(0, 30, Some(("a", FailureClass::Internal)));
    assert_eq!(w.route(0, 30, &["b"]).as_deref(), Some("a"));
    // A fifth failure makes it 5 of 9: over half, `a` cools.
    w.refresh(0, 40, Some(("a", FailureClass::Internal)));
    assert_eq!(w.route(0, 40, &["b"]), None, "only the avoided `b` is left: the coordinator answers");
}

#[test]
fn failures_that_can_cool_nothing_travel_with_the_next_sync_once_and_count_there() {
    let mut w = World::new(TWO);
    for _ in 0..7 {
        w.route(0, 0, &["b"]);
    }
    let a = w.id("a");
    for _ in 0..4 {
        w.isolates[0].failed(&a, FailureClass::BadRequest);
    }
    // Told with the next sync (7 requests, 4 failures): a bad request cools nothing.
    w.refresh(0, 10, None);
    w.refresh(0, 15, None);
    assert_eq!(w.route(0, 20, &["b"]).as_deref(), Some("a"));
    // They count for the failure-rate rule: one server error told at once makes
    // 5 of 8 failed, over half, and `a` cools.
    w.refresh(0, 30, Some(("a", FailureClass::Internal)));
    assert_eq!(w.route(0, 30, &["b"]), None, "only the avoided `b` is left: the coordinator answers");

    // Each is told once.
    let mut router = LocalRouter::default();
    router.failed(&a, FailureClass::ContextWindow);
    router.failed(&a, FailureClass::BadRequest);
    let served = router.take_served(0);
    assert_eq!(served[0].failures, [FailureClass::ContextWindow, FailureClass::BadRequest]);
    assert!(router.take_served(1).iter().all(|s| s.failures.is_empty()));
}

#[test]
fn what_only_the_coordinator_can_answer_goes_to_it() {
    let mut w = World::new(TWO);
    // Every deployment tried already.
    assert_eq!(w.route(0, 0, &["a", "b"]), None);
    // Every deployment out.
    w.refresh(0, 0, Some(("a", FailureClass::RateLimit)));
    w.refresh(0, 0, Some(("b", FailureClass::RateLimit)));
    assert_eq!(w.route(0, 1, &[]), None);
}

const ONE_SLOT: &str = "model_list:
  - {model_name: g, litellm_params: {model: x, mock_response: a, max_parallel_requests: 1}, model_info: {id: a}}
";

/// A request that may wait, by the view isolate `i` holds at `now`.
fn look_waiting(w: &mut World, i: usize, now: u64) -> String {
    let group = w.config.group("g").unwrap();
    let ask = Ask { may_wait: true, ..ask(&[]) };
    match w.isolates[i].pick(now, group, &w.config.router, ask, &mut w.rng) {
        LocalPick::Call { deployment, .. } => deployment.id.as_str().to_owned(),
        LocalPick::Coordinate => "coordinate".into(),
        other => format!("{other:?}"),
    }
}

#[test]
fn requests_that_may_wait_line_up_behind_those_waiting_and_others_are_refused_as_the_coordinator_would() {
    let mut w = World::new(ONE_SLOT);
    let (_, ticket) = w.ticket(0);
    let group = w.config.group("g").unwrap();
    let queued = crate::coordinator::QueueRequest { priority: 1, max_wait_ms: 60_000, waiter: 9 };
    let request = TicketRequest { queue: Some(queued), ..plain_request() };
    assert_eq!(w.coordinator.acquire(1, group, &w.config.router, &request, &mut w.rng), Admission::Queued);
    w.refresh(0, 2, None);
    let view = &w.isolates[0].view.as_ref().unwrap().0;
    assert!(view.queued && !view.coordinate && view.slots.is_empty(), "{view:?}");
    assert_eq!(look_waiting(&mut w, 0, 3), "coordinate", "behind the one waiting");
    assert_eq!(w.look(0, 3, &[]), "full: Busy", "no message: the coordinator would say busy");
    // The ticket ends: the sync that comes next admits the waiting request first
    // (its grant goes out at the next tick), and its view says what is left: nothing.
    let group = w.config.group("g").unwrap();
    let report = Report { ticket, latency_ms: 5, ttft_ms: None, tokens_used: None, failure: None };
    w.coordinator.report(4, group, &w.config.router, &report);
    w.refresh(1, 5, None);
    let view = &w.isolates[1].view.as_ref().unwrap().0;
    assert!(!view.queued && view.slots.is_empty(), "{view:?}");
    let group = w.config.group("g").unwrap();
    let answers = w.coordinator.tick(5, group, &w.config.router, &mut w.rng);
    assert!(matches!(answers.as_slice(), [(9, TicketReply::Granted(_))]), "{answers:?}");
    assert_eq!(w.look(1, 6, &[]), "full: Busy");
    assert_eq!(look_waiting(&mut w, 1, 6), "coordinate", "it may wait: the coordinator queues it");
}

#[test]
fn a_deployment_at_its_rpm_refuses_locally_until_the_minute_turns() {
    let mut w = World::new(
        "model_list:\n  - {model_name: g, litellm_params: {model: x, mock_response: a, rpm: 100}, model_info: {id: a}}\n",
    );
    // Isolate 0 takes a lease, tickets take the rest of the minute.
    w.refresh(0, 0, None);
    let leased = w.isolates[0].held_for(&w.id("a")).unwrap().requests;
    for now in 0..100 - leased {
        w.ticket(now);
    }
    assert_eq!(w.look(0, 500, &[]), "a", "its lease, set aside before, still serves");
    w.refresh(1, 1_000, None);
    assert_eq!(w.look(1, 1_000, &[]), "full: RateLimited { retry_after_ms: 59000 }");
    assert_eq!(w.look(1, 1_500, &[]), "full: RateLimited { retry_after_ms: 58500 }", "counted from the view");
    assert_eq!(look_waiting(&mut w, 1, 1_500), "coordinate");
    // The next minute's view has room again.
    w.refresh(1, 60_000, None);
    assert_eq!(w.look(1, 60_000, &[]), "a");
}

#[test]
fn counts_are_told_once() {
    let mut w = World::new(TWO);
    for _ in 0..5 {
        w.route(0, 0, &[]);
    }
    let served: u64 = w.isolates[0].take_served(0).iter().map(|s| s.requests).sum();
    assert_eq!(served, 5);
    assert!(w.isolates[0].take_served(0).is_empty());
}

const LIMITED: &str = "model_list:
  - {model_name: g, litellm_params: {model: x, mock_response: a, rpm: 100}, model_info: {id: a}}
";

impl World {
    /// Tickets granted until the coordinator refuses one for the rpm or tpm.
    fn tickets_until_refused(&mut self, now: u64) -> u64 {
        self.tickets_until_refused_at_most(now, u64::MAX)
    }

    /// Tickets of 10 tokens granted, at most `most`, until the coordinator refuses one.
    fn tickets_until_refused_at_most(&mut self, now: u64, most: u64) -> u64 {
        let request = plain_request();
        let mut granted = 0;
        while granted < most {
            let group = self.config.group("g").unwrap();
            match self.coordinator.acquire(now, group, &self.config.router, &request, &mut self.rng) {
                Admission::Now(TicketReply::Granted(_)) => granted += 1,
                Admission::Now(TicketReply::Unavailable(Unavailable::RateLimited { .. })) => return granted,
                other => panic!("expected a grant or the limit, got {other:?}"),
            }
        }
        granted
    }

    /// The requests a view sets aside.
    fn lease_of(&self, view: &HealthView) -> u64 {
        view.leases.iter().map(|(_, lease)| lease.requests).sum()
    }
}

impl World {
    /// 3,000 requests over three seconds of one minute, alternating isolates, each
    /// of 10 tokens: how many went by lease, by ticket, and were refused.
    fn three_thousand_requests(&mut self) -> (u64, u64, u64) {
        let (mut local, mut ticketed, mut refused) = (0, 0, 0);
        for n in 0..3_000u64 {
            if self.route((n % 2) as usize, n, &[]).is_some() {
                local += 1;
            } else if self.tickets_until_refused_at_most(n, 1) == 1 {
                ticketed += 1;
            } else {
                refused += 1;
            }
        }
        (local, ticketed, refused)
    }

    /// Both isolates settle at `now`: the deployment's minute as the coordinator keeps it.
    fn settled_window(&mut self, now: u64) -> crate::coordinator::Window {
        self.refresh(0, now, None);
        self.refresh(1, now, None);
        let group = self.config.group("g").unwrap();
        self.coordinator.snapshot(group).deployments[0].2
    }
}

#[test]
fn an_rpm_is_held_exactly_by_leases_and_tickets_together_across_isolates() {
    let mut w = World::new(&LIMITED.replace("rpm: 100", "rpm: 1000"));
    let (local, ticketed, refused) = w.three_thousand_requests();
    assert_eq!(local + ticketed, 1_000, "{local} local, {ticketed} by ticket");
    assert_eq!(refused, 2_000);
    assert!(local >= 700, "leases carried most of the minute: {local} local");
    // Once both isolates settle, every request is counted once and nothing is set aside.
    let window = w.settled_window(3_000);
    assert_eq!(w.tickets_until_refused(3_000), 0);
    assert_eq!((window.requests, window.leased), (1_000, 0));
}

#[test]
fn what_a_lease_leaves_unused_goes_back_to_the_minute_when_it_is_settled() {
    let mut w = World::new(LIMITED);
    for _ in 0..3 {
        assert_eq!(w.route(0, 0, &[]).as_deref(), Some("a"));
    }
    // Settled at the refresh: 3 used, and a new lease of the smallest size set aside.
    w.refresh(0, 1_000, None);
    // Past the new view's time: all of it is settled, nothing carried.
    let held = w.isolates[0].take_served(2_000);
    assert_eq!(held.len(), 1);
    let lease = held[0].lease.expect("a new lease");
    assert_eq!(lease.requests, MIN_LEASE);
    assert_eq!(lease.remaining_requests, 100 - 3 - MIN_LEASE);
    assert_eq!(w.tickets_until_refused(1_000), 100 - 3 - MIN_LEASE);
    // The lease given back unused (it was taken above), the last of the minute goes by ticket.
    let group = w.config.group("g").unwrap();
    w.coordinator.sync_local(1_001, group, &w.config.router, 1, &held, None, 10, &mut w.rng);
    assert_eq!(w.tickets_until_refused(1_001), MIN_LEASE);
}

#[test]
fn a_used_up_lease_is_refreshed_and_the_next_one_is_twice_what_was_used() {
    let mut w = World::new(&LIMITED.replace("rpm: 100", "rpm: 10000"));
    w.refresh(0, 0, None);
    let group = w.config.group("g").unwrap();
    for n in 0..MIN_LEASE {
        let pick = w.isolates[0].pick(n, group, &w.config.router, ask(&[]), &mut w.rng);
        let LocalPick::Call { remaining_requests, .. } = pick else { panic!("{pick:?}") };
        // What a ticket would have said: the rest of the rpm, this lease's unspent part included.
        assert_eq!(remaining_requests, Some(10_000 - n - 1));
    }
    let pick = w.isolates[0].pick(MIN_LEASE, group, &w.config.router, ask(&[]), &mut w.rng);
    assert!(matches!(pick, LocalPick::Refresh), "{pick:?}");
    let served = w.isolates[0].take_served(0);
    let view = w.coordinator.sync_local(MIN_LEASE, group, &w.config.router, 1, &served, None, 10, &mut w.rng);
    assert_eq!(w.lease_of(&view), 2 * MIN_LEASE);
}

#[test]
fn a_lease_is_at_most_a_quarter_of_what_is_left_and_never_the_last_twentieth() {
    // 10,000 a minute, 9,000 taken: 500 never leased, a quarter of the other 500.
    assert_eq!(Lease::share(10_000, 9_000, 1_000, MIN_LEASE, LEASE_RESERVE), Some(125));
    assert_eq!(Lease::share(10_000, 9_000, 40, MIN_LEASE, LEASE_RESERVE), Some(40), "what it used twice over");
    assert_eq!(Lease::share(10_000, 9_000, 1, MIN_LEASE, LEASE_RESERVE), Some(MIN_LEASE), "never under the least");
    // 9,436 taken: a quarter of 64 is 16, the least; 9,437: 15, none.
    assert_eq!(Lease::share(10_000, 9_436, 1_000, MIN_LEASE, LEASE_RESERVE), Some(MIN_LEASE));
    assert_eq!(Lease::share(10_000, 9_437, 1_000, MIN_LEASE, LEASE_RESERVE), None);
    assert_eq!(Lease::share(10_000, 9_500, 1_000, 1, LEASE_RESERVE), None, "the last twentieth goes by ticket");
}

#[test]
fn near_the_limit_no_lease_is_granted_and_requests_go_by_ticket_where_the_queue_decides() {
    let mut w = World::new(LIMITED);
    // 80 of 100 by ticket: what is left beyond the never-leased part is 15 or 19, under
    // a quarter of which is worth leasing.
    for _ in 0..80 {
        w.ticket(0);
    }
    w.refresh(0, 0, None);
    assert_eq!(w.route(0, 1, &[]), None);
    // A group of small rpm never leases at all: its requests keep their exact tickets.
    let mut w = World::new(&LIMITED.replace("rpm: 100", "rpm: 40"));
    w.refresh(0, 0, None);
    assert_eq!(w.route(0, 1, &[]), None);
}

#[test]
fn without_requests_that_may_wait_all_but_a_sliver_is_leased_and_one_that_may_keeps_the_twentieth_a_minute_more() {
    let mut w = World::new(&LIMITED.replace("rpm: 100", "rpm: 1000"));
    let lease_after_900 = |w: &mut World, now: u64| {
        assert_eq!(w.tickets_until_refused_at_most(now, 900), 900);
        let group = w.config.group("g").unwrap();
        let view = w.coordinator.sync_local(now, group, &w.config.router, 1, &[], None, 10, &mut w.rng);
        w.lease_of(&view)
    };
    // 100 left: 3 never leased (a four-hundredth), a quarter of the rest is 24.
    assert_eq!(lease_after_900(&mut w, 0), MIN_LEASE, "no order to keep: leased");
    // A request that may wait comes, by ticket: from then on the last twentieth
    // (50) waits for the queue, this minute and the next.
    let queue = Some(QueueRequest { priority: 3, max_wait_ms: 1_000, waiter: 9 });
    let group = w.config.group("g").unwrap();
    let request = TicketRequest { queue, ..plain_request() };
    let granted = w.coordinator.acquire(1, group, &w.config.router, &request, &mut w.rng);
    assert!(matches!(granted, Admission::Now(TicketReply::Granted(_))), "{granted:?}");
    let group = w.config.group("g").unwrap();
    let view = w.coordinator.sync_local(2, group, &w.config.router, 1, &[], None, 10, &mut w.rng);
    assert_eq!(w.lease_of(&view), 0, "83 left, 50 of them kept: a quarter of 33 is under the least");
    assert_eq!(lease_after_900(&mut w, 60_000), 0, "the next minute too");
    assert_eq!(lease_after_900(&mut w, 120_000), MIN_LEASE, "a minute without one: leased again");
}

#[test]
fn leases_from_views_fetched_side_by_side_add_up_and_are_all_settled() {
    let mut w = World::new(LIMITED);
    let group = w.config.group("g").unwrap();
    // Two requests of one isolate refresh at once: each view sets a lease aside.
    let first = w.coordinator.sync_local(0, group, &w.config.router, 1, &[], None, 10, &mut w.rng);
    let second = w.coordinator.sync_local(0, group, &w.config.router, 1, &[], None, 10, &mut w.rng);
    w.isolates[0].update(0, 0, first);
    w.isolates[0].update(0, 0, second);
    assert_eq!(w.route(0, 1, &[]).as_deref(), Some("a"));
    // Past the views' time: nothing is carried past the sync.
    let served = w.isolates[0].take_served(VIEW_TTL_MS);
    assert_eq!(served[0].lease.map(|l| l.requests), Some(2 * MIN_LEASE));
    let group = w.config.group("g").unwrap();
    let view = w.coordinator.sync_local(VIEW_TTL_MS, group, &w.config.router, 1, &served, None, 10, &mut w.rng);
    w.isolates[0].update(VIEW_TTL_MS, VIEW_TTL_MS, view);
    // All of it comes back but the request used and the new lease.
    assert_eq!(w.tickets_until_refused(VIEW_TTL_MS), 100 - 1 - MIN_LEASE);
}

#[test]
fn a_lease_ends_with_its_minute() {
    let mut w = World::new(LIMITED);
    w.refresh(0, 59_500, None);
    assert_eq!(w.route(0, 59_500, &[]).as_deref(), Some("a"));
    let group = w.config.group("g").unwrap();
    // The view does not outlive the minute its lease counts in.
    let pick = w.isolates[0].pick(60_000, group, &w.config.router, ask(&[]), &mut w.rng);
    assert!(matches!(pick, LocalPick::Refresh), "{pick:?}");
    // A view of the next minute drops the old lease, and the request sent under it,
    // which counted in its own minute.
    let view = w.coordinator.sync_local(60_000, group, &w.config.router, 1, &[], None, 10, &mut w.rng);
    w.isolates[0].update(60_000, 60_000, view);
    let served = w.isolates[0].take_served(0);
    assert_eq!(served.len(), 1);
    assert_eq!(served[0].requests, 0);
    assert_eq!(served[0].lease.map(|l| l.minute), Some(1));
}

const TPM: &str = "model_list:
  - {model_name: g, litellm_params: {model: x, mock_response: a, tpm: 10000}, model_info: {id: a}}
";

#[test]
fn a_tpm_is_held_by_leases_and_tickets_together_across_isolates() {
    // Every request estimated and answered at 10 tokens: the tpm is 1,000 requests.
    let mut w = World::new(TPM);
    let (local, ticketed, refused) = w.three_thousand_requests();
    assert_eq!(refused, 2_000);
    assert_eq!(local + ticketed, 1_000, "{local} local, {ticketed} by ticket");
    assert!(local >= 700, "leases carried most of the minute: {local} local");
    let window = w.settled_window(3_000);
    assert_eq!((window.tokens, window.leased_tokens), (10_000, 0));
}

/// Down to the part of its tpm never leased, the view says what is left: a
/// request estimated at more is refused here as the coordinator would refuse
/// it, without asking; a smaller one still takes a ticket for it.
#[test]
fn a_tpm_down_to_a_few_tokens_refuses_here_the_requests_that_would_not_fit() {
    let mut w = World::new(TPM);
    let group = w.config.group("g").unwrap();
    // A ticket of a request that may wait takes all but 60 of the 10,000 tokens:
    // 500 are never leased (requests that may wait come).
    let queue = Some(QueueRequest { priority: 0, max_wait_ms: 1_000, waiter: 1 });
    let request = TicketRequest { estimated_tokens: 9_940, queue, ..plain_request() };
    let granted = w.coordinator.acquire(0, group, &w.config.router, &request, &mut w.rng);
    assert!(matches!(granted, Admission::Now(TicketReply::Granted(_))), "{granted:?}");
    w.refresh(0, 1_000, None);
    let view = &w.isolates[0].view.as_ref().unwrap().0;
    assert!(view.full.is_empty() && view.leases.is_empty(), "{view:?}");
    let left = TokensLeft { tokens: 60, retry_after_ms: 59_000 };
    assert_eq!(view.tokens_left, [(w.id("a"), left)]);
    let look = |w: &mut World, now: u64, estimated_tokens: u64| {
        let group = w.config.group("g").unwrap();
        let ask = Ask { estimated_tokens, ..ask(&[]) };
        match w.isolates[0].pick(now, group, &w.config.router, ask, &mut w.rng) {
            LocalPick::Full(reason) => format!("full: {reason:?}"),
            LocalPick::Coordinate => "coordinate".into(),
            other => format!("{other:?}"),
        }
    };
    assert_eq!(look(&mut w, 1_500, 61), "full: RateLimited { retry_after_ms: 58500 }");
    assert_eq!(look(&mut w, 1_500, 60), "coordinate", "it fits: a ticket");
    let may_wait = Ask { estimated_tokens: 61, may_wait: true, ..ask(&[]) };
    let group = w.config.group("g").unwrap();
    let pick = w.isolates[0].pick(1_500, group, &w.config.router, may_wait, &mut w.rng);
    assert!(matches!(pick, LocalPick::Coordinate), "one that may wait queues for the next minute: {pick:?}");
    // Far from the limit, the view says nothing of it.
    w.refresh(0, 60_000, None);
    assert!(w.isolates[0].view.as_ref().unwrap().0.tokens_left.is_empty());
}

#[test]
fn answers_that_use_more_than_their_estimate_overdraw_the_lease_and_count_in_full() {
    let mut w = World::new(TPM);
    w.refresh(0, 0, None);
    let id = w.id("a");
    let group = w.config.group("g").unwrap();
    // A first lease of 16 requests at the 10 tokens the asking request estimated.
    for _ in 0..4 {
        let pick = w.isolates[0].pick(1, group, &w.config.router, ask(&[]), &mut w.rng);
        let LocalPick::Call { remaining_tokens, .. } = pick else { panic!("{pick:?}") };
        assert!(remaining_tokens.is_some());
        w.isolates[0].answered(&id, 10, 50);
    }
    // 200 of its 160 tokens used: the lease is overdrawn, the next pick refreshes.
    let pick = w.isolates[0].pick(1, group, &w.config.router, ask(&[]), &mut w.rng);
    assert!(matches!(pick, LocalPick::Refresh), "{pick:?}");
    // The 200 count; the next lease is 16 requests at the 50 tokens each used.
    w.refresh(0, 2, None);
    assert_eq!(w.tickets_until_refused(2), (10_000 - 200 - 16 * 50) / 10);
}

#[test]
fn usage_based_routing_goes_by_the_view_and_what_the_isolate_sent_since() {
    let mut w = World::new(&format!("{TWO}  routing_strategy: usage-based-routing-v2\n"));
    let heavy = w.route(1, 0, &[]).expect("a local pick");
    let other = if heavy == "a" { "b" } else { "a" };
    let id = w.id(&heavy);
    w.isolates[1].answered(&id, 10, 5_000);
    // The isolate that sent it avoids it at once.
    for _ in 0..10 {
        assert_eq!(w.route(1, 1, &[]).as_deref(), Some(other));
    }
    // Another isolate sees it at its next refresh, once the first has told.
    w.refresh(0, 1, None);
    w.refresh(1, 500, None);
    let before: Vec<_> = (0..10).filter_map(|_| w.route(0, 600, &[])).collect();
    assert!(before.contains(&heavy), "its view predates the usage: {before:?}");
    for _ in 0..10 {
        assert_eq!(w.route(0, 1_001, &[]).as_deref(), Some(other));
    }
}

#[test]
fn latency_based_routing_goes_by_the_view_and_what_the_isolate_timed_since() {
    let mut w = World::new(&format!("{TWO}  routing_strategy: latency-based-routing\n"));
    // a answers in 900 ms but streams its first token in 50; b the other way round.
    let times = |id: &str| if id == "a" { (900, Some(50)) } else { (100, Some(500)) };
    w.refresh(1, 0, None);
    // Isolate 0 tries each unmeasured deployment once, timing it at once.
    let first = w.route(0, 0, &[]).expect("a local pick");
    let (id, (latency, ttft)) = (w.id(&first), times(&first));
    w.isolates[0].timed(&id, latency, ttft);
    let second = w.route(0, 1, &[]).expect("a local pick");
    assert_ne!(first, second, "the unmeasured one first");
    let (id, (latency, ttft)) = (w.id(&second), times(&second));
    w.isolates[0].timed(&id, latency, ttft);
    for _ in 0..10 {
        assert_eq!(w.route(0, 2, &[]).as_deref(), Some("b"));
    }
    // Streams go by the time to first token.
    let group = w.config.group("g").unwrap();
    for _ in 0..10 {
        let pick = w.isolates[0].pick(2, group, &w.config.router, Ask { stream: true, ..ask(&[]) }, &mut w.rng);
        let LocalPick::Call { deployment, .. } = pick else { panic!("{pick:?}") };
        assert_eq!(deployment.id.as_str(), "a");
    }
    // Isolate 1, which timed nothing, learns both at its refresh after 0 told.
    let untimed: HashSet<_> = (0..20).filter_map(|_| w.route(1, 500, &[])).collect();
    assert_eq!(untimed.len(), 2, "its view has no samples yet: {untimed:?}");
    w.refresh(0, 600, None);
    for _ in 0..10 {
        assert_eq!(w.route(1, 1_000, &[]).as_deref(), Some("b"));
    }
}

#[test]
fn an_isolates_answers_are_one_sample_weighted_by_their_number() {
    let mut w = World::new(&format!("{TWO}  routing_strategy: latency-based-routing\n"));
    let b = w.id("b");
    for _ in 0..9 {
        w.isolates[0].timed(&b, 100, None);
    }
    w.refresh(0, 0, None);
    // One answer by ticket, at 1,000 ms: the mean is (9 x 100 + 1,000) / 10.
    let request = TicketRequest { avoid: vec![w.id("a")], ..plain_request() };
    let group = w.config.group("g").unwrap();
    let Admission::Now(TicketReply::Granted(grant)) =
        w.coordinator.acquire(1, group, &w.config.router, &request, &mut w.rng)
    else {
        panic!("b is free");
    };
    let ticket = grant.ticket;
    let report = Report { ticket, latency_ms: 1_000, ttft_ms: None, tokens_used: None, failure: None };
    let group = w.config.group("g").unwrap();
    w.coordinator.report(2, group, &w.config.router, &report);
    let view = w.coordinator.sync_local(3, group, &w.config.router, 1, &[], None, 10, &mut w.rng);
    let expected = Timings { answers: 10, latency_ms: 1_900, first_token_ms: 1_900 };
    assert_eq!(view.latency, vec![(b, expected)]);
    assert_eq!(expected.average(false), Some(190.0));
}

#[test]
fn holdings_show_what_is_granted_and_by_whom_until_it_is_given_back() {
    let mut w = World::new(LIMITED);
    assert_eq!(w.route(0, 0, &[]).as_deref(), Some("a"));
    let (_, ticket) = w.ticket(1);
    let group = w.config.group("g").unwrap().clone();
    let held = w.coordinator.holdings(2, &group);
    assert_eq!((held.tickets, held.deployments[0].in_flight), (1, 1));
    // What the coordinator sets aside is exactly what the isolate holds.
    let granted: u64 = w.isolates[0].held().iter().map(|(_, lease)| lease.requests).sum();
    assert_eq!(held.deployments[0].leased_requests, granted);
    assert!(granted >= MIN_LEASE);

    let report = Report { ticket, latency_ms: 5, ttft_ms: None, tokens_used: None, failure: None };
    w.coordinator.report(3, &group, &w.config.router, &report);
    let served = w.isolates[0].take_served(0);
    w.coordinator.sync_local(4, &group, &w.config.router, 1, &served, None, 10, &mut w.rng);
    let held = w.coordinator.holdings(5, &group);
    assert_eq!((held.tickets, held.deployments[0].in_flight), (0, 0));
    assert_eq!(held.deployments[0].requests, 2, "the leased request and the ticket's, each once");
}

#[test]
fn a_view_with_figures_at_the_edge_of_u64_does_not_overflow() {
    // Found by the health_view fuzz target: leases and usage of u64::MAX, added up.
    let yaml = TWO.replace("mock_response: a}", "mock_response: a, rpm: 5, tpm: 500}");
    let mut w = World::new(&format!("{yaml}  routing_strategy: usage-based-routing-v2\n"));
    let id = w.id("a");
    let huge = Lease {
        minute: 0,
        requests: u64::MAX,
        tokens: u64::MAX,
        remaining_requests: u64::MAX,
        remaining_tokens: u64::MAX,
    };
    let view = HealthView {
        fresh_for_ms: 1_000,
        leases: vec![(id.clone(), huge), (id.clone(), huge)],
        usage: vec![(id.clone(), u64::MAX, u64::MAX)],
        ..HealthView::default()
    };
    w.isolates[0].update(0, 0, view.clone());
    w.isolates[0].update(0, 0, view.clone());
    let group = w.config.group("g").unwrap();
    let pick = w.isolates[0].pick(1, group, &w.config.router, ask(&[w.id("b")]), &mut w.rng);
    let LocalPick::Call { remaining_requests, .. } = pick else { panic!("{pick:?}") };
    assert_eq!(remaining_requests, Some(u64::MAX));
    let served = w.isolates[0].take_served(VIEW_TTL_MS);
    assert_eq!(served[0].lease.map(|l| l.requests), Some(u64::MAX));
    // Split while the view lasts, the two parts still add up to the lease.
    w.isolates[0].update(VIEW_TTL_MS, VIEW_TTL_MS, view);
    let served = w.isolates[0].take_served(VIEW_TTL_MS + 1);
    let carried = w.isolates[0].held()[0].1;
    let settled = served[0].lease.unwrap();
    assert_eq!((settled.requests + carried.requests, settled.tokens + carried.tokens), (u64::MAX, u64::MAX));
}

#[test]
fn a_view_answering_an_older_refresh_that_arrives_last_changes_nothing() {
    // Found by the property every_lease_is_settled_exactly_once: a refresh sent as
    // the minute ended, answered after a refresh of the next minute, dropped the
    // newer lease unsettled (set aside for the rest of the minute) and the request
    // sent under it from the counts.
    let mut w = World::new(LIMITED);
    let group = w.config.group("g").unwrap();
    let late = w.coordinator.sync_local(59_990, group, &w.config.router, 1, &[], None, 10, &mut w.rng);
    let fresh = w.coordinator.sync_local(60_010, group, &w.config.router, 1, &[], None, 10, &mut w.rng);
    w.isolates[0].update(60_010, 60_010, fresh);
    assert_eq!(w.route(0, 60_020, &[]).as_deref(), Some("a"));
    w.isolates[0].update(60_030, 60_030, late);
    w.refresh(0, 60_040, None);
    let window = w.coordinator.snapshot(w.group()).deployments[0].2;
    // One request; the new lease, and the part of the last one the refresh carried.
    let held = MIN_LEASE + MIN_LEASE.div_ceil(LEASE_CARRIED);
    assert_eq!((window.minute, window.requests, window.leased), (1, 1, held));
}

const PARALLEL: &str = "model_list:
  - {model_name: g, litellm_params: {model: x, mock_response: a, max_parallel_requests: 40}, model_info: {id: a}}
";

impl World {
    /// Requests in flight on `a`: tickets held and isolates' requests in their slots.
    fn a_in_flight(&self, tickets: u32) -> u32 {
        tickets + self.isolates.iter().map(|i| i.busy_on(&self.id("a"))).sum::<u32>()
    }
}

#[test]
fn max_parallel_requests_holds_across_isolates_and_tickets() {
    let mut w = World::new(PARALLEL);
    let (mut local, mut tickets) = ([0u32; 2], 0u32);
    // Both isolates start requests that do not end, then tickets take what is left.
    for round in 0..30 {
        for (i, count) in local.iter_mut().enumerate() {
            if w.route(i, round, &[]).is_some() {
                *count += 1;
            }
        }
    }
    assert!(local[0] >= 8 && local[1] >= 4, "slots leased to both: {local:?}");
    let group = w.config.group("g").unwrap();
    let request = plain_request();
    while let Admission::Now(TicketReply::Granted(_)) =
        w.coordinator.acquire(40, group, &w.config.router, &request, &mut w.rng)
    {
        tickets += 1;
    }
    // Every slot is filled or was given back: exactly the limit (past its tenth,
    // one slot at a time to the isolates, the rest by ticket), never more.
    w.refresh(0, 41, None);
    w.refresh(1, 41, None);
    assert_eq!(w.a_in_flight(tickets), local[0] + local[1] + tickets);
    assert_eq!(w.a_in_flight(tickets), 40, "{local:?} and {tickets} tickets");
    let group = w.config.group("g").unwrap();
    assert!(!matches!(
        w.coordinator.acquire(42, group, &w.config.router, &request, &mut w.rng),
        Admission::Now(TicketReply::Granted(_))
    ));
}

#[test]
fn a_slot_freed_serves_the_isolates_next_request_without_a_sync() {
    let mut w = World::new(PARALLEL);
    assert_eq!(w.route(0, 0, &[]).as_deref(), Some("a"));
    let a = w.id("a");
    let group = w.config.group("g").unwrap();
    for now in 1..200 {
        assert!(!w.isolates[0].release(&a, false), "far from the limit: kept");
        let pick = w.isolates[0].pick(now, group, &w.config.router, ask(&[]), &mut w.rng);
        assert!(matches!(pick, LocalPick::Call { .. }), "at {now}: {pick:?}");
    }
    assert_eq!(w.isolates[0].busy_on(&a), 1);
}

#[test]
fn unused_slots_go_back_at_the_next_sync_and_a_dead_isolates_after_the_ttl() {
    let mut w = World::new(PARALLEL);
    let a = w.id("a");
    for _ in 0..3 {
        w.route(0, 0, &[]);
    }
    // Isolate 0 keeps its 3 requests' slots, gives back the rest, leases again.
    assert_eq!(w.isolates[0].sync_due(), Some(VIEW_TTL_MS), "some of its slots are unused");
    w.refresh(0, 10, None);
    let leased = w.coordinator.slots.leased(&a);
    assert!((3..=3 + 6).contains(&leased), "3 kept, twice its peak at most: {leased}");
    // It dies with them: they come back once it has been silent for the TTL.
    w.route(1, 20, &[]);
    w.coordinator.expire_tickets(10 + SLOTS_TTL_MS - 1);
    assert!(w.coordinator.slots.leased(&a) >= 3);
    w.refresh(1, 10 + SLOTS_TTL_MS, None);
    w.coordinator.expire_tickets(10 + SLOTS_TTL_MS);
    assert_eq!(w.coordinator.slots.leased(&a), w.isolates[1].held_slots(&a), "only isolate 1's are left");
}

#[test]
fn an_isolate_whose_requests_fill_its_slots_syncs_before_the_coordinator_takes_them_back() {
    let mut w = World::new(PARALLEL);
    let a = w.id("a");
    assert_eq!(w.isolates[0].sync_due(), None, "no slots, nothing due");
    w.route(0, 0, &[]);
    // Fill every slot it holds: only the keep-alive is due then.
    let group = w.config.group("g").unwrap();
    while let LocalPick::Call { .. } = w.isolates[0].pick(0, group, &w.config.router, ask(&[]), &mut w.rng) {}
    assert_eq!(w.isolates[0].busy_on(&a), w.isolates[0].held_slots(&a));
    assert_eq!(w.isolates[0].sync_due(), Some(SLOTS_TTL_MS / 3));
    // Its requests end: the unused slots are due back within a view's life.
    w.isolates[0].release(&a, false);
    assert_eq!(w.isolates[0].sync_due(), Some(VIEW_TTL_MS));
}

#[test]
fn a_view_lasts_a_second_up_to_views_per_s_isolates_then_longer_up_to_its_most() {
    assert_eq!(view_life(0), VIEW_TTL_MS);
    assert_eq!(view_life(VIEWS_PER_S as usize), VIEW_TTL_MS);
    assert_eq!(view_life(2 * VIEWS_PER_S as usize), 2 * VIEW_TTL_MS);
    assert_eq!(view_life(1_000), 2_500);
    assert_eq!(view_life(100_000), MAX_VIEW_TTL_MS);
    assert_eq!(view_life(usize::MAX), MAX_VIEW_TTL_MS);
}

#[test]
fn a_view_that_came_after_half_its_life_or_a_second_says_the_coordinator_lags() {
    let mut router = LocalRouter::default();
    assert!(!router.lags());
    let view = |fresh_for_ms| HealthView { fresh_for_ms, ..HealthView::default() };
    router.update(0, 500, view(1_000));
    assert!(!router.lags(), "half a one-second view's life: a far coordinator, not a late one");
    router.update(1_000, 1_501, view(1_000));
    assert!(router.lags());
    router.update(2_000, 2_900, view(2_500));
    assert!(!router.lags(), "in time again; a longer view may take longer");
    router.update(3_000, 4_001, view(2_500));
    assert!(router.lags(), "but never more than a second");
    assert_eq!((lag_bound(VIEW_TTL_MS), lag_bound(MAX_VIEW_TTL_MS)), (500, 1_000));
}

impl World {
    /// `n` other isolates sync once at `now` (ids past this world's two), idle.
    fn others_sync(&mut self, n: u64, now: u64) -> HealthView {
        let group = self.config.group("g").unwrap();
        let mut last = None;
        for isolate in 100..100 + n {
            let view =
                self.coordinator.sync_local(now, group, &self.config.router, isolate, &[], None, 0, &mut self.rng);
            last = Some(view);
        }
        last.unwrap()
    }
}

#[test]
fn a_coordinator_that_hears_from_many_isolates_makes_its_views_last_longer_and_keepers_follow() {
    let mut w = World::new(PARALLEL);
    assert_eq!(w.others_sync(VIEWS_PER_S, 0).fresh_for_ms, VIEW_TTL_MS, "as many as it serves views a second");
    assert_eq!(w.others_sync(2 * VIEWS_PER_S, 0).fresh_for_ms, 2 * VIEW_TTL_MS, "twice as many: twice as long");
    // Isolate 0's view, then, lasts 2 s (and 2 ms: it counts too), and so does
    // the wait for its unused slots.
    w.route(0, 0, &[]);
    let a = w.id("a");
    assert!(w.isolates[0].held_slots(&a) > w.isolates[0].busy_on(&a), "some of its slots are unused");
    assert_eq!(w.isolates[0].sync_due(), Some(2 * VIEW_TTL_MS + 2));
    // The others lapse: views last a second again.
    let group = w.config.group("g").unwrap();
    w.coordinator.expire_tickets(SLOTS_TTL_MS + 1);
    let view = w.coordinator.sync_local(SLOTS_TTL_MS + 1, group, &w.config.router, 1, &[], None, 0, &mut w.rng);
    assert_eq!(view.fresh_for_ms, VIEW_TTL_MS);
}

#[test]
fn near_the_limit_a_slot_goes_back_as_its_request_ends_while_requests_wait() {
    let mut w = World::new(PARALLEL);
    let a = w.id("a");
    assert_eq!(w.route(0, 0, &[]).as_deref(), Some("a"));
    assert!(!w.isolates[0].release(&a, false), "far from the limit: kept");
    // Tickets fill 32 of the 40: the next lease leaves under a quarter.
    for _ in 0..32 {
        w.ticket(1);
    }
    w.refresh(0, 2, None);
    assert_eq!(w.route(0, 2, &[]).as_deref(), Some("a"));
    assert_eq!(w.route(0, 2, &[]).as_deref(), Some("a"));
    assert!(!w.isolates[0].release(&a, false), "near the limit, nobody waiting: kept for this isolate's next request");
    // Requests of its own line wait, which its view does not know of: the slot
    // goes to them, whatever their priority (the queue was empty).
    assert!(w.isolates[0].release(&a, true));
    let group = w.config.group("g").unwrap();
    assert_eq!(w.isolates[0].hand_over(2, &group.deployments[0]), Some(u32::MAX));
    w.isolates[0].refill(&a, 10);
    // Tickets take the rest, and two requests with a priority wait.
    let group = w.config.group("g").unwrap();
    while let Admission::Now(TicketReply::Granted(_)) =
        w.coordinator.acquire(3, group, &w.config.router, &plain_request(), &mut w.rng)
    {}
    for waiter in [8, 9] {
        let queue = Some(crate::coordinator::QueueRequest { priority: 1, max_wait_ms: 60_000, waiter });
        let request = TicketRequest { queue, ..plain_request() };
        assert_eq!(w.coordinator.acquire(3, group, &w.config.router, &request, &mut w.rng), Admission::Queued);
    }
    // The sync gives back the slot it kept (the first in line takes it); its
    // view says requests wait: the slot its request fills goes back as it ends.
    w.refresh(0, 4, None);
    assert!(w.isolates[0].view.as_ref().unwrap().0.queued);
    assert_eq!(w.isolates[0].busy_on(&a), 1);
    assert!(w.isolates[0].release(&a, false), "requests wait: given back at once");
    // Or handed to a request of this isolate's line as good as the queue's best.
    let group = w.config.group("g").unwrap();
    assert_eq!(w.isolates[0].view.as_ref().unwrap().0.queue_best, Some(1));
    assert_eq!(w.isolates[0].hand_over(4, &group.deployments[0]), Some(1));
    assert_eq!(w.isolates[0].hand_over(4 + SLOTS_TTL_MS, &group.deployments[0]), None, "too old to use");
    w.isolates[0].refill(&a, 10);
    assert_eq!(w.isolates[0].busy_on(&a), 1);
    assert!(w.isolates[0].release(&a, false));
    // The sync that gives it back keeps none unused, whatever its requests filled.
    let held = w.isolates[0].held_slots(&a);
    let served = w.isolates[0].take_served(5);
    assert_eq!(served.iter().find_map(|s| s.slots).map(|s| (s.released, s.busy, s.peak)), Some((held, 0, 1)));
    assert_eq!(w.isolates[0].held_slots(&a), 0);
    // Given back for the requests waiting, not for this isolate's next: one
    // that may not wait is refused by the view's word meanwhile, as the
    // coordinator would refuse it.
    assert_eq!(w.look(0, 6, &[]), "full: Busy");
}

const PARALLEL_AND_FREE: &str = "model_list:
  - {model_name: g, litellm_params: {model: x, mock_response: a, max_parallel_requests: 40, weight: 1}, model_info: {id: a}}
  - {model_name: g, litellm_params: {model: x, mock_response: b, weight: 1}, model_info: {id: b}}
";

/// Where each of 40 requests goes, each ending before the next comes.
fn one_at_a_time(w: &mut World, now: u64) -> Vec<String> {
    let a = w.id("a");
    (0..40)
        .filter_map(|_| {
            let routed = w.route(0, now, &[]);
            w.isolates[0].release(&a, false);
            routed
        })
        .collect()
}

/// Near its limit, a slot held here and unused is capacity lost while it idles
/// (a lease's requests keep for later in its minute): a request that could go
/// to it takes it first. Far from the limit, the strategy picks as ever.
#[test]
fn near_its_limit_a_slot_held_here_is_taken_before_the_strategy_picks() {
    let mut w = World::new(PARALLEL_AND_FREE);
    let routed = one_at_a_time(&mut w, 0);
    assert!(routed.iter().any(|d| d == "a") && routed.iter().any(|d| d == "b"), "{routed:?}");
    // Tickets fill `a` to 30 of its 40: the next lease leaves under a quarter.
    let mut on_a = 0;
    while on_a < 30 {
        on_a += u32::from(w.ticket(1).0 == "a");
    }
    w.keeper_sync(0, 2);
    w.refresh(0, 3, None);
    let a = w.id("a");
    let slot = w.isolates[0].slots.get(&a).copied().unwrap_or_default();
    assert!(slot.return_at_once && slot.held > 0, "{slot:?}");
    let routed = one_at_a_time(&mut w, 3);
    assert!(routed.len() == 40 && routed.iter().all(|d| d == "a"), "{routed:?}");
}

const PARALLEL_AND_RATE: &str = "model_list:
  - {model_name: g, litellm_params: {model: x, mock_response: a, max_parallel_requests: 40, weight: 1}, model_info: {id: a}}
  - {model_name: g, litellm_params: {model: x, mock_response: b, rpm: 1000, weight: 1}, model_info: {id: b}}
";

/// A view says the group is saturated from when a deployment of it is found
/// at its rpm or tpm to the end of the next minute.
#[test]
fn views_say_a_group_is_saturated_from_a_rate_limit_reached_to_the_next_minutes_end() {
    let mut w = World::new(&PARALLEL_AND_RATE.replace("rpm: 1000", "rpm: 5"));
    let saturated = |w: &mut World, now: u64| {
        w.refresh(1, now, None);
        w.isolates[1].view.as_ref().is_some_and(|(view, _)| view.saturated)
    };
    assert!(!saturated(&mut w, 0));
    let mut on_b = 0;
    while on_b < 5 {
        on_b += u32::from(w.ticket(1).0 == "b");
    }
    assert!(saturated(&mut w, 2));
    assert!(saturated(&mut w, 60_002), "the next minute too");
    assert!(!saturated(&mut w, 120_002));
}

/// So does a view made when a deployment is on pace to reach its rpm before
/// its minute ends, by what was sent (not leased) from a sixth of it on.
#[test]
fn views_say_a_group_is_saturated_when_a_limit_is_on_pace_to_run_out() {
    let mut w = World::new(PARALLEL_AND_RATE);
    let saturated = |w: &mut World, now: u64| {
        w.refresh(1, now, None);
        w.isolates[1].view.as_ref().is_some_and(|(view, _)| view.saturated)
    };
    let mut on_b = 0;
    // 40 tickets fill `a` (never reported here), the rest go to `b` (rpm 1000).
    while on_b < 180 {
        on_b += u32::from(w.ticket(1_000).0 == "b");
    }
    assert!(!saturated(&mut w, 9_999), "180 in 10 s would reach 1,080, but a sixth has not passed");
    assert!(saturated(&mut w, 10_000));
    assert!(saturated(&mut w, 60_000 + 30_000), "to the next minute's end");
    // Two minutes on, `a`'s tickets still fill it: 100 in 15 s is under pace.
    let mut on_b = 0;
    while on_b < 100 {
        on_b += u32::from(w.ticket(120_000).0 == "b");
    }
    assert!(!saturated(&mut w, 135_000), "100 in 15 s would reach 400");
}

/// Near its concurrency limit, where every slot this isolate holds is filled
/// and the group is saturated (its view says so), a request waits for a slot
/// rather than go elsewhere, be refused or (with a priority) join the queue,
/// and a slot that frees goes to it; while requests wait in the queue, or
/// where no rate limit ran out, it does not wait.
#[test]
fn a_saturated_groups_request_waits_for_a_slot_its_isolate_frees() {
    let mut w = World::new(PARALLEL_AND_RATE);
    let a = w.id("a");
    let wants_slot = |w: &mut World, now: u64, await_slot: bool| {
        let group = w.config.group("g").unwrap();
        let ask = Ask { await_slot, ..ask(&[]) };
        match w.isolates[0].pick(now, group, &w.config.router, ask, &mut w.rng) {
            LocalPick::AwaitSlot(d) => Some(d.id.as_str().to_owned()),
            _ => None,
        }
    };
    // Tickets fill `a` to 30 of its 40, so that what is left is under a quarter.
    let mut on_a = 0;
    while on_a < 30 {
        on_a += u32::from(w.ticket(1).0 == "a");
    }
    w.refresh(0, 2, None);
    let held = w.isolates[0].held_slots(&a);
    assert!(held > 0 && w.isolates[0].slots.get(&a).is_some_and(|s| s.return_at_once), "{held}");
    while w.isolates[0].slots.get(&a).is_some_and(|s| s.busy < s.held) {
        w.isolates[0].count_pick(&a, 10, true);
    }
    assert_eq!(wants_slot(&mut w, 3, true), None, "no rate limit ran out: it goes elsewhere");
    if let Some((view, _)) = w.isolates[0].view.as_mut() {
        view.saturated = true;
    }
    assert_eq!(wants_slot(&mut w, 5, true).as_deref(), Some("a"));
    assert_eq!(wants_slot(&mut w, 5, false), None, "one that waited once picks as ever");
    let group = w.config.group("g").unwrap();
    // One with a priority, too, while nobody waits in the queue: it would join
    // the queue only to be handed the next slot that frees.
    let priority = Ask { may_wait: true, await_slot: true, ..ask(&[]) };
    let picked = w.isolates[0].pick(5, group, &w.config.router, priority, &mut w.rng);
    assert!(matches!(picked, LocalPick::AwaitSlot(d) if d.id == a), "{picked:?}");
    // A slot frees: nobody waits in the queue, so it goes to the waiting request.
    let busy = w.isolates[0].slots.get(&a).map_or(0, |s| s.busy);
    assert!(!w.isolates[0].release(&a, false), "not given back");
    let deployment = w.group().deployments[0].clone();
    assert!(w.isolates[0].hand_to_waiter(6, &deployment, 10));
    assert_eq!(w.isolates[0].slots.get(&a).map_or(0, |s| s.busy), busy, "filled again");
    assert!(!w.isolates[0].hand_to_waiter(6, &deployment, 10), "none free");
    // While the queue holds requests, freed slots are theirs.
    w.isolates[0].release(&a, false);
    if let Some((view, _)) = w.isolates[0].view.as_mut() {
        view.queued = true;
    }
    assert!(!w.isolates[0].hand_to_waiter(6, &deployment, 10));
    assert_eq!(wants_slot(&mut w, 6, true), None);
    // And a request with a priority lines up behind them.
    let group = w.config.group("g").unwrap();
    let picked = w.isolates[0].pick(6, group, &w.config.router, priority, &mut w.rng);
    assert!(matches!(picked, LocalPick::Coordinate), "{picked:?}");
}

/// A sync keeps the slots its requests filled at once since the last sync and
/// gives back only the rest: a slot sent back and leased again idles for a trip
/// there and back. One whose requests filled none keeps none.
#[test]
fn a_sync_keeps_the_slots_its_requests_filled_at_once_since_the_last() {
    let mut w = World::new(PARALLEL);
    let a = w.id("a");
    for _ in 0..3 {
        assert_eq!(w.route(0, 0, &[]).as_deref(), Some("a"));
    }
    let held = w.isolates[0].held_slots(&a);
    assert!(held > 3, "{held}");
    w.isolates[0].release(&a, false);
    w.isolates[0].release(&a, false);
    let since = |served: &[ServedSince]| served.iter().find_map(|s| s.slots).unwrap();
    let first = since(&w.isolates[0].take_served(1));
    assert_eq!((first.released, first.busy, first.peak), (held - 3, 1, 3));
    assert_eq!(w.isolates[0].held_slots(&a), 3, "three filled at once: three kept");
    w.isolates[0].release(&a, false);
    let second = since(&w.isolates[0].take_served(2));
    assert_eq!((second.released, second.busy, second.peak), (2, 0, 1));
    let third = since(&w.isolates[0].take_served(3));
    assert_eq!((third.released, third.busy, third.peak), (1, 0, 0));
    assert_eq!(w.isolates[0].held_slots(&a), 0, "none filled since: none kept");
}

/// The view said the deployment was at its concurrency limit when this
/// isolate held every slot; its requests ended, and a sync gave back all but
/// one. Until that sync's answer comes, the view's word counted the slots
/// given back: a request waits for the answer rather than be refused on it.
#[test]
fn a_request_after_a_sync_that_gave_back_slots_waits_for_its_answer_not_refused() {
    let mut w = World::new(PARALLEL);
    let a = w.id("a");
    let mut filled = 0;
    while w.route(0, 0, &[]).is_some() {
        filled += 1;
    }
    assert_eq!(filled, 40, "every slot leased here");
    for _ in 0..filled {
        w.isolates[0].release(&a, false);
    }
    // Its keeper's sync keeps them (its requests filled all at once since the last).
    w.keeper_sync(0, 100);
    assert_eq!(w.coordinator.slots.leased(&a), 40);
    assert_eq!(w.look(0, 110, &[]), "a", "a slot held here");
    // A sync goes (ahead of the view's end) keeping the one filled since.
    let served = w.isolates[0].take_served(120);
    assert_eq!(served[0].slots.map(|s| s.released), Some(39));
    assert_eq!(w.look(0, 121, &[]), "refresh", "the sync's answer says what is free");
    let group = w.config.group("g").unwrap();
    let view = w.coordinator.sync_local(122, group, &w.config.router, 1, &served, None, 10, &mut w.rng);
    w.isolates[0].update(120, 123, view);
    assert_eq!(w.look(0, 124, &[]), "a", "leased again by the answer");
}

/// A keeper's sync (no request asks for it) leases slots again only to an
/// isolate whose requests filled some since its last sync: an idle isolate's
/// go back to the group for good, not to be taken back a view at a time while
/// other isolates' requests are refused for want of them.
#[test]
fn an_idle_isolates_keeper_gives_its_slots_back_and_takes_none() {
    let mut w = World::new(PARALLEL);
    let a = w.id("a");
    assert_eq!(w.route(0, 0, &[]).as_deref(), Some("a"));
    assert!(!w.isolates[0].release(&a, false), "kept for its next request");
    w.keeper_sync(0, VIEW_TTL_MS);
    assert!(w.coordinator.slots.leased(&a) > 0, "a request filled one since the last sync");
    w.keeper_sync(0, 2 * VIEW_TTL_MS);
    assert_eq!(w.coordinator.slots.leased(&a), 0, "none filled since: none leased");
    assert_eq!(w.isolates[0].sync_due(), None, "nothing left for its keeper");
    // A request's own sync is leased slots as ever.
    assert_eq!(w.route(0, 3 * VIEW_TTL_MS, &[]).as_deref(), Some("a"));
}

#[test]
fn least_busy_counts_the_other_isolates_requests_in_flight() {
    let mut w = World::new(&format!("{TWO}  routing_strategy: least-busy\n"));
    // Isolate 0 fills `a` with 6 requests and tells the coordinator.
    w.refresh(0, 0, None);
    for _ in 0..6 {
        assert_eq!(w.route(0, 0, &["b"]).as_deref(), Some("a"));
    }
    w.refresh(0, 1, None);
    // Isolate 1 sends its requests to `b` until it is as busy as `a` elsewhere.
    w.refresh(1, 2, None);
    let routed: Vec<_> = (0..6).filter_map(|_| w.route(1, 2, &[])).collect();
    assert!(routed.iter().all(|d| d == "b"), "{routed:?}");
}

#[test]
fn a_coordinator_that_restarted_learns_the_slots_filled_again() {
    let mut w = World::new(PARALLEL);
    for _ in 0..5 {
        w.route(0, 0, &[]);
    }
    w.coordinator = Coordinator::default();
    w.refresh(0, 5, None);
    assert!(w.coordinator.slots.leased(&w.id("a")) >= 5);
}

// --- When the coordinator cannot be reached (`outage`) ---

/// `a` with an rpm (held by leases), `b` without limits, picked alike.
const ONE_LIMITED: &str = "model_list:
  - {model_name: g, litellm_params: {model: x, mock_response: a, rpm: 10000, weight: 1}, model_info: {id: a}}
  - {model_name: g, litellm_params: {model: x, mock_response: b, weight: 1}, model_info: {id: b}}
router_settings:
  cooldown_time: 10
";

impl World {
    /// What isolate `i`'s pick at `now` says, without refreshing: `a`, `b`,
    /// `refresh`, `coordinate`, or `down: <why>`.
    fn look(&mut self, i: usize, now: u64, avoid: &[&str]) -> String {
        let avoid: Vec<DeploymentId> = avoid.iter().map(|a| self.id(a)).collect();
        let group = self.config.group("g").unwrap();
        match self.isolates[i].pick(now, group, &self.config.router, ask(&avoid), &mut self.rng) {
            LocalPick::Call { deployment, .. } => deployment.id.as_str().to_owned(),
            LocalPick::Refresh => "refresh".into(),
            LocalPick::Coordinate => "coordinate".into(),
            LocalPick::Full(reason) => format!("full: {reason:?}"),
            LocalPick::Unreachable(outage) => format!("down: {outage:?}"),
            LocalPick::AwaitSlot(d) => format!("await: {}", d.id),
        }
    }

    /// Isolate `i`'s sync at `now` fails: what it served is taken (and lost), as
    /// the shell does.
    fn sync_fails(&mut self, i: usize, now: u64, outage: Outage) {
        self.isolates[i].take_served(now);
        self.isolates[i].unreachable(now, outage);
    }

    fn looks(&mut self, i: usize, now: u64, avoid: &[&str]) -> HashSet<String> {
        // Fewer than a lease's requests, so that none is used up.
        (0..12).map(|_| self.look(i, now, avoid)).collect()
    }
}

#[test]
fn a_view_past_its_time_still_routes_by_health_while_the_coordinator_is_down_for_the_grace() {
    let mut w = World::new(TWO);
    w.refresh(0, 0, Some(("a", FailureClass::RateLimit)));
    // `a` cools for 10 s; the view holds for a second.
    assert_eq!(w.looks(0, 999, &[]), HashSet::from(["b".to_owned()]));
    assert_eq!(w.look(0, 1_000, &[]), "refresh");
    w.sync_fails(0, 1_000, Outage::Unreachable);
    // Routed by the last view, `a` still out: the coordinator is not asked again for a second.
    for now in [1_000, 1_500, 1_999] {
        assert_eq!(w.looks(0, now, &[]), HashSet::from(["b".to_owned()]), "at {now}");
    }
    assert_eq!(w.look(0, 2_000, &[]), "refresh", "asked again after OUTAGE_RETRY_MS");
    w.sync_fails(0, 2_000, Outage::Unreachable);
    assert_eq!(w.look(0, 2_000, &[]), "b");
    // What only the coordinator could answer (every deployment tried) is refused, not asked.
    assert_eq!(w.look(0, 2_000, &["b"]), "down: Unreachable");
    // The grace ends STALE_GRACE_MS after the view's time (1 s): then nothing is admitted here.
    w.sync_fails(0, 10_999, Outage::Unreachable);
    assert_eq!(w.look(0, 10_999, &[]), "b");
    assert_eq!(w.look(0, 11_000, &[]), "down: Unreachable");
    // Back: a fresh view, and what it coordinates (`a`'s probe, due since 10 s) goes to the coordinator again.
    w.refresh(0, 11_500, None);
    assert_eq!(w.look(0, 11_500, &[]), "coordinate");
}

#[test]
fn with_no_view_yet_a_down_coordinator_admits_nothing_and_is_not_asked_again_at_once() {
    let mut w = World::new(TWO);
    assert_eq!(w.look(0, 0, &[]), "refresh");
    w.sync_fails(0, 0, Outage::Overloaded);
    assert_eq!(w.look(0, 0, &[]), "down: Overloaded");
    assert_eq!(w.look(0, OUTAGE_RETRY_MS - 1, &[]), "down: Overloaded");
    assert_eq!(w.look(0, OUTAGE_RETRY_MS, &[]), "refresh");
    // The other isolate knows nothing of it: its own sync decides.
    assert_eq!(w.look(1, 0, &[]), "refresh");
}

#[test]
fn limits_fail_closed_while_the_coordinator_is_down() {
    let mut w = World::new(ONE_LIMITED);
    w.refresh(0, 0, None);
    assert_eq!(w.looks(0, 0, &[]), HashSet::from(["a".to_owned(), "b".to_owned()]));
    // A failed call while the view is fresh (a ticket's, say): the lease held still serves `a`.
    w.isolates[0].unreachable(100, Outage::Overloaded);
    assert_eq!(w.look(0, 100, &["b"]), "a");
    // A failed sync gave up the part of the lease it settled: no new one comes.
    // The part it carried (still set aside in the coordinator's counts) serves
    // `a` to its end; then `a` is out and `b` serves.
    w.sync_fails(0, 200, Outage::Overloaded);
    let carried = (0..MIN_LEASE).take_while(|_| w.look(0, 200, &["b"]) == "a").count();
    assert_eq!(carried as u64, MIN_LEASE.div_ceil(LEASE_CARRIED));
    assert_eq!(w.looks(0, 200, &[]), HashSet::from(["b".to_owned()]));
    assert_eq!(w.look(0, 200, &["b"]), "down: Overloaded", "`a` needs the coordinator");
    // Nor does a stale view ever serve it.
    assert_eq!(w.look(0, 1_200, &[]), "refresh");
    w.sync_fails(0, 1_200, Outage::Overloaded);
    assert_eq!(w.looks(0, 1_200, &[]), HashSet::from(["b".to_owned()]));
    assert_eq!(w.look(0, 1_200, &["b"]), "down: Overloaded");
    // A group whose only deployment has an rpm admits nothing.
    let mut w = World::new(LIMITED);
    w.refresh(0, 0, None);
    w.sync_fails(0, 1_000, Outage::Unreachable);
    assert_eq!(w.look(0, 1_000, &[]), "down: Unreachable");
}

#[test]
fn a_used_up_lease_while_the_coordinator_is_down_is_not_refreshed() {
    let mut w = World::new(&LIMITED.replace("rpm: 100", "rpm: 10000"));
    w.refresh(0, 0, None);
    w.isolates[0].unreachable(0, Outage::Overloaded);
    for _ in 0..MIN_LEASE {
        assert_eq!(w.look(0, 10, &[]), "a");
    }
    assert_eq!(w.look(0, 10, &[]), "down: Overloaded");
    // Beside a deployment without limits, the one whose lease is spent is out.
    let mut w = World::new(ONE_LIMITED);
    w.refresh(0, 0, None);
    w.isolates[0].unreachable(0, Outage::Overloaded);
    for _ in 0..MIN_LEASE {
        assert_eq!(w.look(0, 10, &["b"]), "a");
    }
    assert_eq!(w.looks(0, 10, &[]), HashSet::from(["b".to_owned()]));
    assert_eq!(w.look(0, 10, &["b"]), "down: Overloaded");
}

#[test]
fn what_a_fresh_view_would_coordinate_is_refused_while_down_and_a_stale_one_routes_by_health() {
    let mut w = World::new(TWO);
    w.refresh(0, 0, Some(("a", FailureClass::RateLimit)));
    // At the end of `a`'s cooldown a probe is due: the view says coordinate.
    w.refresh(0, 10_000, None);
    assert_eq!(w.look(0, 10_000, &[]), "coordinate");
    w.isolates[0].unreachable(10_100, Outage::Overloaded);
    assert_eq!(w.look(0, 10_100, &[]), "down: Overloaded");
    // Once stale, its view routes by health alone (the probe waits for the coordinator).
    w.sync_fails(0, 11_000, Outage::Overloaded);
    let picked = w.looks(0, 11_000, &[]);
    assert!(!picked.is_empty() && picked.iter().all(|p| p == "a" || p == "b"), "{picked:?}");
}

#[test]
fn a_view_is_refreshed_behind_the_requests_before_it_is_stale_unless_the_coordinator_is_down() {
    let mut w = World::new(TWO);
    assert!(!w.isolates[0].refresh_ahead(0), "no view: a request refreshes it itself");
    w.refresh(0, 0, None);
    assert!(!w.isolates[0].refresh_ahead(VIEW_TTL_MS * 3 / 4 - 1));
    assert!(w.isolates[0].refresh_ahead(VIEW_TTL_MS * 3 / 4));
    // Once one sync is on its way, no other is asked for ahead of the requests.
    w.isolates[0].take_served(VIEW_TTL_MS * 3 / 4);
    assert!(!w.isolates[0].refresh_ahead(VIEW_TTL_MS * 3 / 4 + 1));
    w.isolates[0].unreachable(VIEW_TTL_MS * 3 / 4 + 1, Outage::Unreachable);
    assert!(!w.isolates[0].refresh_ahead(VIEW_TTL_MS), "not into a coordinator that just failed");
    w.refresh(0, 2 * VIEW_TTL_MS, None);
    assert!(w.isolates[0].refresh_ahead(2 * VIEW_TTL_MS + VIEW_TTL_MS * 3 / 4));
}

#[test]
fn a_view_lives_from_when_it_was_asked_for_not_from_when_it_came() {
    let mut w = World::new(TWO);
    let group = w.config.group("g").unwrap();
    let view = w.coordinator.sync_local(0, group, &w.config.router, 1, &[], None, 10, &mut w.rng);
    // Asked for at 0, it came 400 ms later: a cooldown started elsewhere at 0 is
    // seen by the view's end at 1,000, not 1,400.
    w.isolates[0].update(0, 400, view);
    let group = w.config.group("g").unwrap();
    let pick = w.isolates[0].pick(VIEW_TTL_MS - 1, group, &w.config.router, ask(&[]), &mut w.rng);
    assert!(matches!(pick, LocalPick::Call { .. }));
    let pick = w.isolates[0].pick(VIEW_TTL_MS, group, &w.config.router, ask(&[]), &mut w.rng);
    assert!(matches!(pick, LocalPick::Refresh), "{pick:?}");
}

#[test]
fn a_request_finding_its_lease_spent_while_a_sync_is_on_its_way_waits_for_the_next_not_a_ticket() {
    let mut w = World::new(LIMITED);
    assert_eq!(w.route(0, 0, &[]).as_deref(), Some("a"), "under a lease");
    let served = w.isolates[0].take_served(10);
    let group = w.config.group("g").unwrap();
    // The part of the lease the sync carried serves first (see the test below).
    for _ in 0..MIN_LEASE.div_ceil(LEASE_CARRIED) {
        let pick = w.isolates[0].pick(10, group, &w.config.router, ask(&[]), &mut w.rng);
        assert!(matches!(pick, LocalPick::Call { .. }), "{pick:?}");
    }
    let pick = w.isolates[0].pick(10, group, &w.config.router, ask(&[]), &mut w.rng);
    assert!(matches!(pick, LocalPick::Refresh), "the sync on its way brings a lease: {pick:?}");
    let view = w.coordinator.sync_local(10, group, &w.config.router, 1, &served, None, 10, &mut w.rng);
    w.isolates[0].update(10, 20, view);
    let group = w.config.group("g").unwrap();
    let pick = w.isolates[0].pick(20, group, &w.config.router, ask(&[]), &mut w.rng);
    assert!(matches!(pick, LocalPick::Call { .. }), "{pick:?}");
}

#[test]
fn a_sync_sent_while_the_view_lasts_carries_part_of_the_lease_for_the_requests_before_its_answer() {
    let mut w = World::new(LIMITED);
    assert_eq!(w.route(0, 0, &[]).as_deref(), Some("a"));
    // Ahead of the view's end: a quarter of the lease stays, the rest is settled.
    let served = w.isolates[0].take_served(750);
    let carried = MIN_LEASE.div_ceil(LEASE_CARRIED);
    assert_eq!((served[0].requests, served[0].lease.map(|l| l.requests)), (1, Some(MIN_LEASE - carried)));
    let group = w.config.group("g").unwrap();
    let mut sent = 1;
    // Requests while the sync is on its way go under the part carried, not after the answer.
    while matches!(w.isolates[0].pick(760, group, &w.config.router, ask(&[]), &mut w.rng), LocalPick::Call { .. }) {
        sent += 1;
    }
    assert_eq!(sent, 1 + carried);
    let view = w.coordinator.sync_local(800, group, &w.config.router, 1, &served, None, 10, &mut w.rng);
    let leased = w.lease_of(&view);
    w.isolates[0].update(750, 850, view);
    // The part carried is still set aside, beside the new lease.
    let window = w.coordinator.snapshot(w.group()).deployments[0].2;
    assert_eq!((window.requests, window.leased), (1, carried + leased));
    // The next sync settles the part carried with the new lease: every request counted once.
    while w.route(0, 900, &[]).is_some() {
        sent += 1;
        if sent == 60 {
            break;
        }
    }
    w.refresh(0, 1_750, None);
    let served = w.isolates[0].take_served(3_000);
    let group = w.config.group("g").unwrap();
    w.coordinator.sync_local(3_000, group, &w.config.router, 1, &served, None, 10, &mut w.rng);
    let window = w.coordinator.snapshot(w.group()).deployments[0].2;
    assert_eq!((window.requests, window.leased), (sent, 0));
}

#[test]
fn near_its_limit_a_deployment_leased_no_more_gives_way_to_one_with_room_here() {
    let mut w = World::new(
        "model_list:
  - {model_name: g, litellm_params: {model: x, mock_response: a, rpm: 100}, model_info: {id: a}}
  - {model_name: g, litellm_params: {model: x, mock_response: b, rpm: 1000}, model_info: {id: b}}
",
    );
    // Tickets take `a` into what is never leased (91 of 100: a quarter of the
    // 4 left beyond its last twentieth is under the least lease).
    let avoid_b = vec![w.id("b")];
    for now in 0..91 {
        let request = TicketRequest { avoid: avoid_b.clone(), ..plain_request() };
        let group = w.config.group("g").unwrap();
        let admission = w.coordinator.acquire(now, group, &w.config.router, &request, &mut w.rng);
        assert!(matches!(admission, Admission::Now(TicketReply::Granted(ref g)) if g.deployment.as_str() == "a"));
    }
    w.refresh(0, 100, None);
    assert!(w.isolates[0].held_for(&w.id("a")).is_none() && w.isolates[0].held_for(&w.id("b")).is_some());
    let picks: HashSet<String> = (0..MIN_LEASE).map(|_| w.look(0, 101, &[])).collect();
    assert_eq!(picks, HashSet::from(["b".to_owned()]), "a would cost a ticket");
    // Only where nothing here has room does `a` go by ticket.
    assert_eq!(w.look(0, 101, &["b"]), "coordinate");
}

#[test]
fn a_deployment_full_in_the_view_is_asked_for_again_once_a_request_of_this_isolate_to_it_ended() {
    let mut w = World::new(ONE_SLOT);
    let (_, ticket) = w.ticket(0);
    w.isolates[0].ticket_started();
    w.refresh(0, 1, None);
    assert_eq!(w.look(0, 2, &[]), "full: Busy");
    let a = w.id("a");
    w.isolates[0].ticket_ended(&a, 3);
    assert_eq!(w.look(0, 4, &[]), "refresh", "its own request freed the place: the coordinator decides");
    assert_eq!(w.look(0, 4, &[]), "full: Busy", "one place freed, one request tries for it");
    // Its report reaches the coordinator: a view asked for since knows it.
    let group = w.config.group("g").unwrap();
    let report = Report { ticket, latency_ms: 2, ttft_ms: None, tokens_used: None, failure: None };
    w.coordinator.report(5, group, &w.config.router, &report);
    w.refresh(0, 6, None);
    assert!(w.isolates[0].view.as_ref().unwrap().0.full.is_empty());
}

#[test]
fn syncs_crossing_on_the_way_give_back_exactly_the_slots_given_back() {
    let mut w = World::new(PARALLEL);
    let a = w.id("a");
    // The isolate fills what it leases, a few syncs over.
    for now in 0..5 {
        while w.route(0, now, &[]).is_some_and(|_| w.isolates[0].busy_on(&a) < w.isolates[0].held_slots(&a)) {}
        w.refresh(0, now, None);
    }
    let held = w.isolates[0].held_slots(&a);
    let busy = w.isolates[0].busy_on(&a);
    assert!(busy >= 8, "{busy} of {held}");
    // Tickets take what is left to lease, so that the syncs below lease nothing new.
    for now in 5..5 + 36 - held {
        w.ticket(u64::from(now));
    }
    // Two requests end, a sync leaves; four more end, another sync leaves.
    for _ in 0..2 {
        w.isolates[0].release(&a, false);
    }
    let first = w.isolates[0].take_served(10);
    for _ in 0..4 {
        w.isolates[0].release(&a, false);
    }
    let second = w.isolates[0].take_served(11);
    // Each sync keeps what its requests filled at once since the one before.
    assert_eq!(w.isolates[0].held_slots(&a), busy - 2);
    // The second arrives first; then both views come back.
    let group = w.config.group("g").unwrap();
    for served in [second, first] {
        let view = w.coordinator.sync_local(12, group, &w.config.router, 1, &served, None, 10, &mut w.rng);
        w.isolates[0].update(12, 13, view);
    }
    let leased = w.coordinator.holdings(13, group).deployments[0].leased_slots;
    assert_eq!(leased, w.isolates[0].held_slots(&a), "the coordinator counts exactly what the isolate holds");
}

#[test]
fn past_the_tenth_slots_go_one_at_a_time_but_a_limit_of_ten_or_less_keeps_its_last_for_tickets() {
    for (max, expected) in [(40u32, Some(1)), (10, None)] {
        let mut w = World::new(&format!(
            "model_list:\n  - {{model_name: g, litellm_params: {{model: x, mock_response: a, max_parallel_requests: {max}}}, model_info: {{id: a}}}}\n"
        ));
        for now in 0..u64::from(max - 1) {
            w.ticket(now);
        }
        w.refresh(0, 100, None);
        let view = &w.isolates[0].view.as_ref().unwrap().0;
        let lease = view.slots.first().map(|(_, lease)| *lease);
        assert_eq!(lease.map(|l| l.granted).filter(|&g| g > 0), expected, "max_parallel_requests {max}");
        assert!(lease.is_none_or(|l| l.return_at_once), "given back as its request ends while requests wait");
    }
}

#[test]
fn a_refusal_by_the_coordinator_holds_for_requests_like_it_until_a_view_asked_after_it() {
    let mut w = World::new(ONE_SLOT);
    w.refresh(0, 0, None);
    // Another isolate's ticket takes the only slot after the view was made.
    let (_, ticket) = w.ticket(1);
    assert_eq!(w.look(0, 2, &[]), "refresh", "the view saw room: it syncs, then asks");
    w.isolates[0].refused(3, 10, None, &Unavailable::Busy);
    assert_eq!(w.look(0, 4, &[]), "full: Busy", "refused here: no message");
    let pick = |w: &mut World, ask: Ask<'_>| {
        let group = w.config.group("g").unwrap();
        !matches!(w.isolates[0].pick(4, group, &w.config.router, ask, &mut w.rng), LocalPick::Full(_))
    };
    assert!(pick(&mut w, Ask { estimated_tokens: 9, ..ask(&[]) }), "a smaller request may fit: it asks");
    assert!(pick(&mut w, Ask { may_wait: true, ..ask(&[]) }), "one that may wait lines up");
    let tried = [w.id("a")];
    assert!(pick(&mut w, ask(&tried)), "one that tried a deployment gets the coordinator's own answer");
    // A view asked for before the refusal came changes nothing; one asked after it does.
    let group = w.config.group("g").unwrap();
    let view = w.coordinator.sync_local(5, group, &w.config.router, 1, &[], None, 10, &mut w.rng);
    w.isolates[0].update(2, 5, view);
    assert_eq!(w.look(0, 5, &[]), "full: Busy");
    w.isolates[0].refused(6, 10, None, &Unavailable::RateLimited { retry_after_ms: 1_000 });
    assert_eq!(w.look(0, 106, &[]), "full: RateLimited { retry_after_ms: 900 }", "its wait counts down");
    // A request of this isolate with a ticket ends: the place it freed may be had.
    w.isolates[0].ticket_started();
    let a = w.id("a");
    w.isolates[0].ticket_ended(&a, 107);
    assert_ne!(w.look(0, 108, &[]), "full: Busy");
    w.isolates[0].refused(109, 10, None, &Unavailable::Busy);
    let report = Report { ticket, latency_ms: 5, ttft_ms: None, tokens_used: None, failure: None };
    let group = w.config.group("g").unwrap();
    w.coordinator.report(110, group, &w.config.router, &report);
    w.refresh(0, 111, None);
    assert_eq!(w.look(0, 112, &[]), "refresh", "a newer view: the slot is free again");
}

const SMALL_FIRST: &str = "model_list:
  - {model_name: g, litellm_params: {model: x, mock_response: a, rpm: 1, order: 1}, model_info: {id: a}}
  - {model_name: g, litellm_params: {model: x, mock_response: b, rpm: 1000, order: 2}, model_info: {id: b}}
";

#[test]
fn a_ticket_that_spent_a_deployments_minute_leaves_it_out_here_until_a_view_asked_after_it() {
    let mut w = World::new(SMALL_FIRST);
    w.refresh(0, 0, None);
    w.refresh(1, 0, None);
    // `a` comes first, and its rpm is too small to lease: each request asks for it.
    assert_eq!(w.look(0, 1, &[]), "coordinate");
    let group = w.config.group("g").unwrap();
    let Admission::Now(TicketReply::Granted(grant)) =
        w.coordinator.acquire(2, group, &w.config.router, &plain_request(), &mut w.rng)
    else {
        panic!("a grant of `a`");
    };
    assert_eq!((grant.deployment.as_str(), grant.remaining_requests), ("a", Some(0)));
    w.isolates[0].granted(2, &grant);
    // Its minute is spent: here the next tier serves; the other isolate, whose
    // view says `a` has room, still asks.
    assert_eq!(w.look(0, 3, &[]), "b");
    assert_eq!(w.look(1, 3, &[]), "coordinate");
    // A request only `a` could serve still asks: the coordinator says when it frees.
    assert_eq!(w.look(0, 3, &["b"]), "coordinate");
    // A view asked for before the grant leaves it out still; one asked for after
    // it says so itself.
    let group = w.config.group("g").unwrap();
    let before = w.coordinator.sync_local(4, group, &w.config.router, 1, &[], None, 10, &mut w.rng);
    w.isolates[0].update(1, 4, before);
    assert_eq!(w.look(0, 5, &[]), "b");
    w.refresh(0, 6, None);
    assert_eq!(w.look(0, 7, &[]), "b");
    assert!(w.look(0, 7, &["b"]).starts_with("full: RateLimited"), "the view says `a` is spent");
    // A grant that leaves room spends nothing.
    let mut w = World::new(SMALL_FIRST);
    w.refresh(0, 0, None);
    w.isolates[0].granted(1, &Grant { remaining_requests: Some(1), ..grant });
    assert_eq!(w.look(0, 2, &[]), "coordinate");
}
