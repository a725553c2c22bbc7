//! Two isolates routing one group by themselves, with the coordinator between them.

use super::*;
use crate::config::{Config, load};
use crate::coordinator::{Admission, Coordinator, Report, ReportedFailure, TicketReply, TicketRequest};
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
        for _ in 0..2 {
            let group = self.config.group("g").unwrap();
            match self.isolates[i].pick(now, group, &self.config.router, &avoid, 10, &mut self.rng) {
                LocalPick::Call(d) => return Some(d.id.as_str().to_owned()),
                LocalPick::Coordinate => return None,
                LocalPick::Refresh => self.sync(i, now, None),
            }
        }
        panic!("a fresh view still asked for a refresh");
    }

    /// Isolate `i` tells the coordinator what it served (and a failure) and
    /// takes the view it answers with.
    fn sync(&mut self, i: usize, now: u64, failure: Option<(&str, FailureClass)>) {
        let served = self.isolates[i].take_served();
        let failure = failure.map(|(id, class)| (self.id(id), ReportedFailure { class, retry_after_ms: None }));
        let group = self.config.group("g").unwrap();
        let view = self.coordinator.sync_local(now, group, &self.config.router, &served, failure.as_ref());
        self.isolates[i].update(now, view);
    }

    fn id(&self, id: &str) -> DeploymentId {
        self.group().deployments.iter().find(|d| d.id.as_str() == id).map(|d| d.id.clone()).unwrap()
    }

    /// A ticket from the coordinator, as a request that must coordinate takes one.
    fn ticket(&mut self, now: u64) -> (String, u64) {
        let request = TicketRequest { avoid: vec![], estimated_tokens: 10, stream: false, queue: None };
        let group = self.config.group("g").unwrap();
        match self.coordinator.acquire(now, group, &self.config.router, &request, &mut self.rng) {
            Admission::Now(TicketReply::Granted(g)) => (g.deployment.as_str().to_owned(), g.ticket),
            other => panic!("expected a grant, got {other:?}"),
        }
    }
}

#[test]
fn only_stateless_strategies_over_unlimited_deployments_route_locally() {
    let eligible = |yaml: &str| {
        let config = load(yaml, &|_| None).unwrap().config;
        LocalRouter::eligible(config.group("g").unwrap(), &config.router)
    };
    assert!(eligible(TWO));
    assert!(eligible(&format!("{TWO}  routing_strategy: cost-based-routing\n")));
    assert!(!eligible(&format!("{TWO}  routing_strategy: least-busy\n")));
    assert!(!eligible(&format!("{TWO}  routing_strategy: latency-based-routing\n")));
    assert!(!eligible(&format!("{TWO}  routing_strategy: usage-based-routing-v2\n")));
    for limit in ["rpm: 5", "tpm: 500", "max_parallel_requests: 2"] {
        let yaml = TWO.replace("mock_response: b}", &format!("mock_response: b, {limit}}}"));
        assert!(!eligible(&yaml), "{limit}");
    }
}

#[test]
fn a_view_is_fetched_once_then_trusted_until_it_is_stale() {
    let mut w = World::new(TWO);
    let group = w.config.group("g").unwrap();
    let pick = w.isolates[0].pick(0, group, &w.config.router, &[], 10, &mut w.rng);
    assert!(matches!(pick, LocalPick::Refresh), "no view yet");
    w.sync(0, 0, None);
    let group = w.config.group("g").unwrap();
    for now in [0, 500, VIEW_TTL_MS - 1] {
        let pick = w.isolates[0].pick(now, group, &w.config.router, &[], 10, &mut w.rng);
        assert!(matches!(pick, LocalPick::Call(_)), "fresh at {now}");
    }
    let pick = w.isolates[0].pick(VIEW_TTL_MS, group, &w.config.router, &[], 10, &mut w.rng);
    assert!(matches!(pick, LocalPick::Refresh), "stale at the TTL");
}

#[test]
fn a_failure_in_one_isolate_cools_the_deployment_for_the_other_within_the_ttl() {
    let mut w = World::new(TWO);
    assert!(w.route(0, 0, &[]).is_some());
    assert!(w.route(1, 0, &[]).is_some());
    // Isolate 0 sees `a` rate-limited: its retry already avoids it.
    w.sync(0, 100, Some(("a", FailureClass::RateLimit)));
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
    w.sync(0, 0, Some(("a", FailureClass::RateLimit)));
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
    w.sync(0, 10_001, None);
    for _ in 0..20 {
        assert_eq!(w.route(0, 10_001, &[]).as_deref(), Some("b"));
    }
    let group = w.config.group("g").unwrap();
    let report = Report { ticket: probe, latency_ms: 5, ttft_ms: None, tokens_used: None, failure: None };
    w.coordinator.report(10_050, group, &w.config.router, &report);
    w.sync(0, 10_050, None);
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
        w.sync(0, 10, Some(("a", FailureClass::Internal)));
    }
    assert_eq!(w.route(0, 20, &["b"]).as_deref(), Some("a"));
    // One more failure and one more request: 8 requests, 4 failures, still not over half.
    w.sync(0, 30, Some(("a", FailureClass::Internal)));
    assert_eq!(w.route(0, 30, &["b"]).as_deref(), Some("a"));
    // A fifth failure makes it 5 of 9: over half, `a` cools.
    w.sync(0, 40, Some(("a", FailureClass::Internal)));
    assert_eq!(w.route(0, 40, &["b"]), None, "only the avoided `b` is left: the coordinator answers");
}

#[test]
fn what_only_the_coordinator_can_answer_goes_to_it() {
    let mut w = World::new(TWO);
    // Every deployment tried already.
    assert_eq!(w.route(0, 0, &["a", "b"]), None);
    // Every deployment out.
    w.sync(0, 0, Some(("a", FailureClass::RateLimit)));
    w.sync(0, 0, Some(("b", FailureClass::RateLimit)));
    assert_eq!(w.route(0, 1, &[]), None);
    // Requests waiting in the queue come first.
    let mut w = World::new(&format!("{TWO}  default_priority: 1\n"));
    w.sync(0, 0, Some(("a", FailureClass::RateLimit)));
    w.sync(0, 0, Some(("b", FailureClass::RateLimit)));
    let group = w.config.group("g").unwrap();
    let queued = crate::coordinator::QueueRequest { priority: 1, max_wait_ms: 60_000, waiter: 9 };
    let request = TicketRequest { avoid: vec![], estimated_tokens: 10, stream: false, queue: Some(queued) };
    let admission = w.coordinator.acquire(1, group, &w.config.router, &request, &mut w.rng);
    assert_eq!(admission, Admission::Queued);
    let view = w.coordinator.sync_local(2, group, &w.config.router, &[], None);
    assert!(view.coordinate, "{view:?}");
}

#[test]
fn counts_are_told_once() {
    let mut w = World::new(TWO);
    for _ in 0..5 {
        w.route(0, 0, &[]);
    }
    let served: u64 = w.isolates[0].take_served().iter().map(|(_, n)| n).sum();
    assert_eq!(served, 5);
    assert!(w.isolates[0].take_served().is_empty());
}
