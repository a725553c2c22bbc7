//! Stories told against the coordinator with a fake clock and a seeded generator.

use super::tickets::TICKET_TTL_MS;
use super::*;
use crate::config::{Config, load};
use crate::coordinator::local::ServedSince;
use crate::failure::FailureClass;
use crate::region::Area;

/// Shared with the other modules' tests of the coordinator (`snapshot`).
pub(super) struct World {
    pub(super) config: Config,
    pub(super) group: String,
    pub(super) coordinator: Coordinator,
    pub(super) rng: fastrand::Rng,
}

impl World {
    pub(super) fn new(yaml: &str) -> Self {
        let config = load(yaml, &|_| None).unwrap_or_else(|e| panic!("{e}")).config;
        let group = config.listed_models()[0].clone();
        Self { config, group, coordinator: Coordinator::default(), rng: fastrand::Rng::with_seed(7) }
    }

    pub(super) fn ask(&mut self, now: u64, avoid: &[&str], tokens: u64, stream: bool) -> TicketReply {
        let group = self.config.group(&self.group).unwrap();
        let request = TicketRequest {
            avoid: avoid.iter().map(|id| id_of(group, id)).collect(),
            estimated_tokens: tokens,
            stream,
            queue: None,
            region: None,
            isolate: slots::NO_ISOLATE,
        };
        match self.coordinator.acquire(now, group, &self.config.router, &request, &mut self.rng) {
            Admission::Now(reply) => reply,
            Admission::Queued => panic!("a request without a priority never waits"),
        }
    }

    /// Asks for a ticket with a priority: `Some(reply)` at once, `None` when queued.
    fn wait(&mut self, now: u64, waiter: u64, priority: u32, max_wait_ms: u64) -> Option<TicketReply> {
        let group = self.config.group(&self.group).unwrap();
        let request = TicketRequest {
            avoid: vec![],
            estimated_tokens: 10,
            stream: false,
            queue: Some(QueueRequest { priority, max_wait_ms, waiter }),
            region: None,
            isolate: slots::NO_ISOLATE,
        };
        match self.coordinator.acquire(now, group, &self.config.router, &request, &mut self.rng) {
            Admission::Now(reply) => Some(reply),
            Admission::Queued => None,
        }
    }

    fn tick(&mut self, now: u64) -> Vec<(u64, TicketReply)> {
        let group = self.config.group(&self.group).unwrap();
        self.coordinator.tick(now, group, &self.config.router, &mut self.rng)
    }

    fn acquire(&mut self, now: u64) -> TicketReply {
        self.ask(now, &[], 10, false)
    }

    /// The granted deployment and ticket, or a panic naming what came instead.
    pub(super) fn grant(&mut self, now: u64, avoid: &[&str]) -> (String, u64) {
        match self.ask(now, avoid, 10, false) {
            TicketReply::Granted(g) => (g.deployment.as_str().to_owned(), g.ticket),
            other => panic!("expected a grant at {now}, got {other:?}"),
        }
    }

    pub(super) fn finish(&mut self, now: u64, ticket: u64, failure: Option<(FailureClass, Option<u64>)>) {
        self.finish_with(now, ticket, 100, None, failure);
    }

    fn finish_with(
        &mut self,
        now: u64,
        ticket: u64,
        latency: u64,
        ttft: Option<u64>,
        failure: Option<(FailureClass, Option<u64>)>,
    ) {
        let group = self.config.group(&self.group).unwrap();
        let report = Report {
            ticket,
            latency_ms: latency,
            ttft_ms: ttft,
            tokens_used: None,
            failure: failure.map(|(class, retry_after_ms)| ReportedFailure { class, retry_after_ms }),
        };
        self.coordinator.report(now, group, &self.config.router, &report);
    }

    /// Calls `id` (avoiding the others) and fails it with `class`.
    pub(super) fn fail(&mut self, now: u64, id: &str, class: FailureClass) {
        let others: Vec<String> = self.ids().into_iter().filter(|d| d != id).collect();
        let avoid: Vec<&str> = others.iter().map(String::as_str).collect();
        let (got, ticket) = self.grant(now, &avoid);
        assert_eq!(got, id);
        self.finish(now, ticket, Some((class, None)));
    }

    /// Whether `id` is out of rotation at `now`: asked for with every other
    /// deployment avoided, nothing is granted.
    fn out_of_rotation(&mut self, now: u64, id: &str) -> bool {
        let others: Vec<String> = self.ids().into_iter().filter(|d| d != id).collect();
        let avoid: Vec<&str> = others.iter().map(String::as_str).collect();
        match self.ask(now, &avoid, 10, false) {
            TicketReply::Unavailable(Unavailable::OnlyAvoided) => true,
            TicketReply::Granted(g) if g.deployment.as_str() == id => false,
            other => panic!("unexpected {other:?}"),
        }
    }

    fn ids(&self) -> Vec<String> {
        self.config.group(&self.group).unwrap().deployments.iter().map(|d| d.id.as_str().to_owned()).collect()
    }

    /// Which deployments `n` fresh requests at `now` land on (each finished at once).
    fn spread(&mut self, now: u64, n: usize) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for _ in 0..n {
            let (id, ticket) = self.grant(now, &[]);
            self.finish(now, ticket, None);
            *counts.entry(id).or_insert(0) += 1;
        }
        counts
    }
}

fn id_of(group: &ModelGroup, id: &str) -> DeploymentId {
    group.deployments.iter().find(|d| d.id.as_str() == id).map(|d| d.id.clone()).unwrap_or_else(|| panic!("no {id}"))
}

fn two(extra_router: &str, a: &str, b: &str) -> String {
    format!(
        "model_list:\n  - {{model_name: g, litellm_params: {{model: x, mock_response: x{a}}}, model_info: {{id: a}}}}\n  - {{model_name: g, litellm_params: {{model: x, mock_response: x{b}}}, model_info: {{id: b}}}}\nrouter_settings:\n  {extra_router}\n"
    )
}

#[test]
fn an_rpm_limit_is_never_exceeded_within_a_minute() {
    let mut w = World::new(
        "model_list:\n  - {model_name: g, litellm_params: {model: x, mock_response: x, rpm: 3}, model_info: {id: a}}\n",
    );
    for t in [0, 10, 20] {
        let (_, ticket) = w.grant(t, &[]);
        w.finish(t + 1, ticket, None);
    }
    assert_eq!(w.acquire(59_000), TicketReply::Unavailable(Unavailable::RateLimited { retry_after_ms: 1_000 }));
    // A new minute opens the window again.
    assert!(matches!(w.acquire(60_000), TicketReply::Granted(Grant { remaining_requests: Some(2), .. })));
}

#[test]
fn rpm_spills_to_the_other_deployment_before_refusing() {
    let mut w = World::new(&two("num_retries: 0", ", rpm: 1", ", rpm: 1"));
    let (first, _) = w.grant(0, &[]);
    let (second, _) = w.grant(1, &[]);
    assert_ne!(first, second);
    assert!(matches!(w.acquire(2), TicketReply::Unavailable(Unavailable::RateLimited { .. })));
}

#[test]
fn tpm_reserves_the_estimate_and_reconciles_with_actual_usage() {
    let mut w = World::new(
        "model_list:\n  - {model_name: g, litellm_params: {model: x, mock_response: x, tpm: 100}, model_info: {id: a}}\n",
    );
    let TicketReply::Granted(grant) = w.ask(0, &[], 80, false) else { panic!() };
    assert_eq!(grant.remaining_tokens, Some(20));
    assert!(matches!(w.ask(1, &[], 30, false), TicketReply::Unavailable(Unavailable::RateLimited { .. })));
    // It used only 40 tokens: 60 are free again.
    let group = w.config.group("g").unwrap();
    let report = Report { ticket: grant.ticket, latency_ms: 5, ttft_ms: None, tokens_used: Some(40), failure: None };
    w.coordinator.report(2, group, &w.config.router, &report);
    assert!(matches!(w.ask(3, &[], 60, false), TicketReply::Granted(_)));
}

#[test]
fn a_429_cools_a_deployment_and_the_probe_restores_it() {
    let mut w = World::new(&two("num_retries: 0", "", ""));
    // t=0: a answers 429. With the default rule that cools it at once, for 5 s.
    w.fail(0, "a", FailureClass::RateLimit);
    // Until t=5 s every pick goes to b, even when a request asks to avoid b.
    assert_eq!(w.spread(1_000, 20), HashMap::from([("b".to_owned(), 20)]));
    assert!(w.out_of_rotation(4_999, "a"), "a is still cooling: b again");
    // t=5 s: a is half-open. One probe goes to it...
    let (probe, probe_ticket) = w.grant(5_000, &["b"]);
    assert_eq!(probe, "a");
    // ...and while the probe is out, nobody else is sent there.
    assert_eq!(w.spread(5_001, 10), HashMap::from([("b".to_owned(), 10)]));
    // The probe succeeds: a is back in rotation.
    w.finish(5_100, probe_ticket, None);
    let spread = w.spread(5_200, 40);
    assert!(spread.get("a").copied().unwrap_or(0) > 5, "{spread:?}");
}

#[test]
fn a_failed_probe_doubles_the_cooldown() {
    let mut w = World::new(&two("num_retries: 0", "", ""));
    w.fail(0, "a", FailureClass::Internal); // not enough for the 50% rule alone
    assert_eq!(w.spread(1, 1).len(), 1);
    w.fail(2, "a", FailureClass::RateLimit); // cools for 5 s
    let (probe, ticket) = w.grant(5_002, &["b"]);
    assert_eq!(probe, "a");
    w.finish(5_010, ticket, Some((FailureClass::Internal, None)));
    // Cooling again, for 10 s this time.
    assert!(w.out_of_rotation(14_999, "a"));
    assert_eq!(w.grant(15_010, &["b"]).0, "a");
}

#[test]
fn a_failure_rate_over_half_in_the_minute_cools_once_five_requests_are_seen() {
    let mut w = World::new(&two("num_retries: 0", "", ""));
    w.fail(0, "a", FailureClass::Internal);
    w.fail(1, "a", FailureClass::Internal);
    // 2 requests, 2 failures: fewer than 5 requests, still healthy.
    assert_eq!(w.grant(2, &["b"]).0, "a");
    let mut w = World::new(&two("num_retries: 0", "", ""));
    for t in 0..2 {
        let (_, ticket) = w.grant(t, &["b"]);
        w.finish(t, ticket, None);
    }
    for t in 2..5 {
        w.fail(t, "a", FailureClass::Internal);
    }
    // 5 requests, 3 failures: over 50%.
    assert!(w.out_of_rotation(10, "a"));
}

#[test]
fn allowed_fails_cools_after_more_than_that_many_within_the_cooldown_time() {
    let mut w = World::new(&two("allowed_fails: 1", "", ""));
    w.fail(0, "a", FailureClass::Internal);
    assert_eq!(w.grant(1, &["b"]).0, "a", "one failure is allowed");
    // Spaced beyond the 5 s window, failures start a new count.
    w.fail(6_000, "a", FailureClass::Internal);
    assert_eq!(w.grant(6_001, &["b"]).0, "a");
    w.fail(7_000, "a", FailureClass::Internal);
    assert!(w.out_of_rotation(7_001, "a"), "a second within 5 s of the first cools");
    let mut w = World::new(&two("allowed_fails: 0", "", ""));
    w.fail(0, "a", FailureClass::Timeout);
    assert!(w.out_of_rotation(1, "a"), "allowed_fails: 0 cools on the first");
}

#[test]
fn allowed_fails_policy_sets_a_threshold_per_class() {
    let mut w = World::new(&two("allowed_fails_policy: {RateLimitErrorAllowedFails: 2}", "", ""));
    w.fail(0, "a", FailureClass::RateLimit);
    w.fail(1, "a", FailureClass::RateLimit);
    assert_eq!(w.grant(2, &["b"]).0, "a", "two 429s allowed");
    w.fail(3, "a", FailureClass::RateLimit);
    assert!(w.out_of_rotation(4, "a"));
}

#[test]
fn request_errors_never_cool_and_single_deployments_never_do() {
    let mut w = World::new(&two("allowed_fails: 0", "", ""));
    for class in [FailureClass::BadRequest, FailureClass::ContextWindow, FailureClass::ContentPolicy] {
        w.fail(0, "a", class);
    }
    assert_eq!(w.grant(1, &["b"]).0, "a");
    let mut w = World::new(
        "model_list:\n  - {model_name: g, litellm_params: {model: x, mock_response: x}, model_info: {id: a}}\nrouter_settings:\n  allowed_fails: 0\n",
    );
    w.fail(0, "a", FailureClass::RateLimit);
    assert_eq!(w.grant(1, &[]).0, "a", "nothing else to call");
}

#[test]
fn cooldowns_can_be_turned_off() {
    for setting in ["disable_cooldowns: true", "cooldown_time: 0"] {
        let mut w = World::new(&two(setting, "", ""));
        w.fail(0, "a", FailureClass::RateLimit);
        assert_eq!(w.grant(1, &["b"]).0, "a", "{setting}");
    }
    let mut w = World::new(&two("num_retries: 0", ", cooldown_time: 0", ""));
    w.fail(0, "a", FailureClass::RateLimit);
    assert_eq!(w.grant(1, &["b"]).0, "a", "a deployment's own cooldown_time: 0");
}

#[test]
fn cooldown_length_prefers_the_deployment_then_retry_after_then_the_router() {
    let check = |yaml: String, retry_after: Option<u64>, expected: u64| {
        let mut w = World::new(&yaml);
        let (_, ticket) = w.grant(0, &["b"]);
        w.finish(0, ticket, Some((FailureClass::RateLimit, retry_after)));
        assert!(w.out_of_rotation(expected - 1, "a"), "{yaml}: still cooling at {}", expected - 1);
        assert_eq!(w.grant(expected, &["b"]).0, "a", "{yaml}: probe at {expected}");
    };
    check(two("cooldown_time: 3", ", cooldown_time: 2", ""), Some(9_000), 2_000);
    check(two("cooldown_time: 3", "", ""), Some(9_000), 9_000);
    check(two("cooldown_time: 3", "", ""), None, 3_000);
    check(two("num_retries: 1", "", ""), None, 5_000);
}

#[test]
fn all_cooling_down_says_when_the_first_comes_back() {
    let mut w = World::new(&two("num_retries: 0", ", cooldown_time: 2", ", cooldown_time: 7"));
    w.fail(0, "a", FailureClass::RateLimit);
    w.fail(1_000, "b", FailureClass::RateLimit);
    assert_eq!(w.acquire(1_500), TicketReply::Unavailable(Unavailable::AllCoolingDown { retry_after_ms: 500 }));
}

#[test]
fn only_tried_deployments_left_is_its_own_answer() {
    let mut w = World::new(&two("num_retries: 0", "", ""));
    assert_eq!(w.ask(0, &["a", "b"], 1, false), TicketReply::Unavailable(Unavailable::OnlyAvoided));
}

#[test]
fn the_lowest_order_serves_while_it_can_then_the_next_tier() {
    let yaml = "model_list:\n  - {model_name: g, litellm_params: {model: x, mock_response: x, order: 1}, model_info: {id: a}}\n  - {model_name: g, litellm_params: {model: x, mock_response: x, order: 2}, model_info: {id: b}}\n  - {model_name: g, litellm_params: {model: x, mock_response: x}, model_info: {id: c}}\n";
    let mut w = World::new(yaml);
    assert_eq!(w.spread(0, 20), HashMap::from([("a".to_owned(), 20)]));
    assert_eq!(w.grant(1, &["a"]).0, "b", "tier 1 tried: tier 2 before any fallback");
    assert_eq!(w.grant(1, &["a", "b"]).0, "c", "unset order is the last tier");
}

#[test]
fn weight_zero_is_never_chosen_while_another_has_weight() {
    let mut w = World::new(&two("num_retries: 0", ", weight: 0", ", weight: 1"));
    assert_eq!(w.spread(0, 50), HashMap::from([("b".to_owned(), 50)]));
}

#[test]
fn least_busy_picks_the_fewest_in_flight() {
    let mut w = World::new(&two("routing_strategy: least-busy", "", ""));
    let (first, _) = w.grant(0, &[]); // left in flight
    let (second, ticket) = w.grant(1, &[]);
    assert_ne!(first, second);
    w.finish(2, ticket, None);
    for t in 3..10 {
        let (id, ticket) = w.grant(t, &[]);
        assert_eq!(id, second, "the other one still has a request in flight");
        w.finish(t, ticket, None);
    }
}

#[test]
fn usage_based_picks_the_lowest_usage_this_minute() {
    let mut w = World::new(&two("routing_strategy: usage-based-routing-v2", ", tpm: 1000", ", tpm: 1000"));
    let TicketReply::Granted(big) = w.ask(0, &[], 500, false) else { panic!() };
    for t in 1..10 {
        let TicketReply::Granted(g) = w.ask(t, &[], 10, false) else { panic!() };
        assert_ne!(g.deployment, big.deployment);
        w.finish(t, g.ticket, None);
    }
}

#[test]
fn latency_based_learns_then_prefers_the_fastest_within_the_buffer() {
    let mut w = World::new(&two("routing_strategy: latency-based-routing", "", ""));
    // Unmeasured deployments are tried first: each once.
    let (one, t1) = w.grant(0, &[]);
    // a: slow overall (900 ms) but first token fast (50 ms); b: the other way round.
    let ttft_pair = |id: &str| if id == "a" { (900, 50) } else { (100, 500) };
    w.finish_with(1, t1, ttft_pair(&one).0, Some(ttft_pair(&one).1), None);
    let (other, t2) = w.grant(2, &[]);
    assert_ne!(one, other);
    w.finish_with(3, t2, ttft_pair(&other).0, Some(ttft_pair(&other).1), None);
    // Now b (100 ms) beats a (900 ms) for plain requests...
    assert_eq!(w.spread(10, 10), HashMap::from([("b".to_owned(), 10)]));
    // ...but streams compare time to first token: a's 50 ms beats b's 500 ms.
    for t in 20..25 {
        let TicketReply::Granted(g) = w.ask(t, &[], 1, true) else { panic!() };
        assert_eq!(g.deployment.as_str(), "a");
        w.finish_with(t, g.ticket, 900, Some(50), None);
    }
}

#[test]
fn latency_buffer_spreads_among_near_equals_and_ttl_forgets() {
    let mut w = World::new(&two(
        "routing_strategy: latency-based-routing\n  routing_strategy_args: {lowest_latency_buffer: 0.5, ttl: 10}",
        "",
        "",
    ));
    let (one, t1) = w.grant(0, &[]);
    w.finish_with(0, t1, if one == "a" { 100 } else { 140 }, None, None);
    let (_, t2) = w.grant(0, &[]);
    w.finish_with(0, t2, if one == "a" { 140 } else { 100 }, None, None);
    // 140 ms is within 50% of 100 ms: both are chosen.
    let mut seen = HashMap::new();
    for i in 0..40 {
        let TicketReply::Granted(g) = w.ask(100 + i, &[], 1, false) else { panic!() };
        *seen.entry(g.deployment.as_str().to_owned()).or_insert(0) += 1;
        // Not reported: samples stay as they were.
        w.coordinator.tickets.remove(g.ticket);
    }
    assert_eq!(seen.len(), 2, "{seen:?}");
    // After the 10 s ttl both are unmeasured again.
    let samples = &w.coordinator.deployments[&id_of(w.config.group("g").unwrap(), "a")].samples;
    assert_eq!(recent(samples, 20_000, 10_000).average(false), None);
}

#[test]
fn cost_based_picks_the_cheapest() {
    let yaml = "model_list:\n  - {model_name: g, litellm_params: {model: x, mock_response: x}, model_info: {id: a, input_cost_per_token: 0.00001, output_cost_per_token: 0.00003}}\n  - {model_name: g, litellm_params: {model: x, mock_response: x}, model_info: {id: b, input_cost_per_token: 0.000001, output_cost_per_token: 0.000002}}\n  - {model_name: g, litellm_params: {model: x, mock_response: x}, model_info: {id: c}}\nrouter_settings:\n  routing_strategy: cost-based-routing\n";
    let mut w = World::new(yaml);
    assert_eq!(w.spread(0, 20), HashMap::from([("b".to_owned(), 20)]));
    assert_eq!(w.grant(1, &["b"]).0, "a", "an unknown cost counts as expensive");
}

#[test]
fn pre_call_checks_skip_deployments_too_small_for_the_prompt() {
    let yaml = "model_list:\n  - {model_name: g, litellm_params: {model: x, mock_response: x}, model_info: {id: small, max_input_tokens: 100}}\n  - {model_name: g, litellm_params: {model: x, mock_response: x}, model_info: {id: big, max_input_tokens: 1000}}\nrouter_settings:\n  enable_pre_call_checks: true\n";
    let mut w = World::new(yaml);
    for t in 0..10 {
        let TicketReply::Granted(g) = w.ask(t, &[], 500, false) else { panic!() };
        assert_eq!(g.deployment.as_str(), "big");
    }
    assert_eq!(w.ask(10, &[], 5_000, false), TicketReply::Unavailable(Unavailable::ContextWindowExceeded));
    let mut off = World::new(&yaml.replace("enable_pre_call_checks: true", "num_retries: 1"));
    assert!(matches!(off.ask(0, &[], 5_000, false), TicketReply::Granted(_)), "only with enable_pre_call_checks");
}

#[test]
fn cooldowns_and_windows_survive_a_restart_but_in_flight_does_not() {
    let mut w = World::new(&two("num_retries: 0", ", rpm: 2", ""));
    w.fail(0, "a", FailureClass::RateLimit);
    let (_, _in_flight) = w.grant(1, &[]);
    let snapshot = w.coordinator.snapshot(w.config.group("g").unwrap());
    let json = serde_json::to_string(&snapshot).unwrap();
    w.coordinator = Coordinator::restore(serde_json::from_str(&json).unwrap());
    assert!(w.out_of_rotation(2, "a"), "a is still cooling after the restart");
    // a's window (1 request of 2) survived: one more fits, then none.
    let (id, _) = w.grant(5_000, &["b"]);
    assert_eq!(id, "a");
    assert!(w.out_of_rotation(5_001, "a"), "a reached rpm 2 across the restart");
}

#[test]
fn lost_reports_stop_counting_after_the_ticket_ttl() {
    let mut w = World::new(&two("routing_strategy: least-busy", "", ""));
    let (first, _) = w.grant(0, &[]);
    assert_ne!(w.grant(1, &[]).0, first);
    // Both have one request in flight whose report never comes; after the ttl
    // neither counts, and unknown tickets are ignored.
    w.finish(TICKET_TTL_MS + 10, 999, None);
    w.acquire(TICKET_TTL_MS + 10);
    let states = &w.coordinator.deployments;
    assert!(states.values().map(|s| s.in_flight).sum::<u32>() <= 1, "expired tickets released");
}

#[test]
fn time_going_backwards_does_not_panic() {
    let mut w = World::new(&two("allowed_fails: 0", ", rpm: 5", ""));
    w.fail(10_000, "a", FailureClass::RateLimit);
    for t in [9_000, 0, 10_001, 5] {
        let _ = w.acquire(t);
    }
    let (_, ticket) = w.grant(100_000, &[]);
    w.finish(0, ticket, Some((FailureClass::Internal, Some(u64::MAX))));
}

#[test]
fn the_config_changing_forgets_removed_deployments() {
    let mut w = World::new(&two("num_retries: 0", "", ""));
    w.fail(0, "a", FailureClass::RateLimit);
    let config = load(
        "model_list:\n  - {model_name: g, litellm_params: {model: x, mock_response: x}, model_info: {id: b}}\n",
        &|_| None,
    )
    .unwrap()
    .config;
    w.config = config;
    w.acquire(1);
    assert!(w.coordinator.deployments.keys().all(|id| id.as_str() == "b"));
}

fn ticket_of(reply: &TicketReply) -> u64 {
    match reply {
        TicketReply::Granted(grant) => grant.ticket,
        other => panic!("expected a grant, got {other:?}"),
    }
}

const ONE_AT_A_TIME: &str = "model_list:\n  - {model_name: g, litellm_params: {model: x, mock_response: x, max_parallel_requests: 1}, model_info: {id: a}}\n";

#[test]
fn waiting_requests_are_admitted_by_priority_then_in_arrival_order() {
    let mut w = World::new(ONE_AT_A_TIME);
    let busy = ticket_of(&w.wait(0, 100, 9, 60_000).expect("capacity: admitted at once"));
    for (waiter, priority) in [(1, 5), (2, 1), (3, 3), (4, 1), (5, 0)] {
        assert_eq!(w.wait(waiter, waiter, priority, 60_000), None, "waits");
    }
    let status = w.coordinator.queue_status(9, "g");
    assert_eq!(status.depth, 5);
    assert_eq!(status.by_priority, [(0, 1), (1, 2), (3, 1), (5, 1)].into_iter().collect());
    assert_eq!(status.oldest_wait_ms, 8);
    // A request without a priority is not queued: it is told at once.
    assert_eq!(w.acquire(6), TicketReply::Unavailable(Unavailable::Busy));
    assert!(w.tick(10).is_empty(), "nothing freed yet");
    let mut order = vec![];
    let mut running = busy;
    for t in [100, 200, 300, 400, 500] {
        w.finish(t, running, None);
        let admitted = w.tick(t);
        assert_eq!(admitted.len(), 1, "one slot, one admission");
        order.push(admitted[0].0);
        running = ticket_of(&admitted[0].1);
    }
    assert_eq!(order, [5, 2, 4, 3, 1]);
    assert_eq!(w.coordinator.queue_status(500, "g").admitted, 5);
}

#[test]
fn a_priority_0_request_waits_like_any_other() {
    let mut w = World::new(ONE_AT_A_TIME);
    ticket_of(&w.wait(0, 1, 3, 60_000).unwrap());
    assert_eq!(w.wait(1, 2, 0, 60_000), None);
}

#[test]
fn a_deadline_answers_with_the_wait_and_the_place_in_line() {
    let mut w = World::new(ONE_AT_A_TIME);
    ticket_of(&w.wait(0, 1, 0, 60_000).unwrap());
    assert_eq!(w.wait(0, 2, 0, 5_000), None);
    assert_eq!(w.wait(1_000, 3, 1, 2_000), None);
    assert_eq!(w.coordinator.next_wakeup(1_000), Some(3_000));
    assert!(w.tick(2_999).is_empty());
    assert_eq!(
        w.tick(3_000),
        [(3, TicketReply::Unavailable(Unavailable::QueueTimeout { waited_ms: 2_000, position: 2 }))]
    );
    assert_eq!(
        w.tick(5_000),
        [(2, TicketReply::Unavailable(Unavailable::QueueTimeout { waited_ms: 5_000, position: 1 }))]
    );
    assert_eq!(w.coordinator.next_wakeup(5_000), None, "nobody waits");
    let status = w.coordinator.queue_status(5_000, "g");
    assert_eq!((status.depth, status.expired, status.admitted), (0, 2, 0));
}

#[test]
fn a_full_queue_refuses_at_once() {
    let yaml = format!("{ONE_AT_A_TIME}router_settings:\n  max_queue_size: 2\n");
    let mut w = World::new(&yaml);
    ticket_of(&w.wait(0, 1, 0, 60_000).unwrap());
    assert_eq!(w.wait(0, 2, 0, 60_000), None);
    assert_eq!(w.wait(0, 3, 0, 60_000), None);
    assert_eq!(w.wait(0, 4, 0, 60_000), Some(TicketReply::Unavailable(Unavailable::QueueFull { max: 2 })));
}

#[test]
fn a_new_minute_admits_requests_held_by_rpm() {
    let mut w = World::new(
        "model_list:\n  - {model_name: g, litellm_params: {model: x, mock_response: x, rpm: 1}, model_info: {id: a}}\n",
    );
    let first = ticket_of(&w.wait(30_000, 1, 0, 120_000).unwrap());
    w.finish(30_100, first, None);
    assert_eq!(w.wait(30_200, 2, 0, 120_000), None, "rpm used up: waits");
    assert!(w.tick(30_300).is_empty(), "a completion does not free rpm");
    assert_eq!(w.coordinator.next_wakeup(30_300), Some(60_000));
    let admitted = w.tick(60_000);
    assert_eq!(admitted.len(), 1);
    assert_eq!(admitted[0].0, 2);
}

#[test]
fn the_end_of_a_cooldown_admits_waiting_requests() {
    let mut w = World::new(&two("cooldown_time: 2", "", ""));
    w.fail(0, "a", FailureClass::RateLimit);
    w.fail(10, "b", FailureClass::RateLimit);
    assert_eq!(w.wait(20, 1, 0, 60_000), None, "all cooling: waits");
    assert_eq!(w.coordinator.next_wakeup(20), Some(2_000));
    let admitted = w.tick(2_000);
    assert!(matches!(admitted[..], [(1, TicketReply::Granted(_))]), "{admitted:?}");
}

#[test]
fn aging_lets_low_priority_through_eventually() {
    let yaml = format!("{ONE_AT_A_TIME}router_settings:\n  priority_aging_s: 1\n");
    let mut w = World::new(&yaml);
    let running = ticket_of(&w.wait(0, 1, 0, 600_000).unwrap());
    assert_eq!(w.wait(0, 2, 5, 600_000), None);
    assert_eq!(w.wait(6_000, 3, 0, 600_000), None, "newer and urgent, but 2 has aged past it");
    w.finish(7_000, running, None);
    assert_eq!(w.tick(7_000)[0].0, 2);
}

#[test]
fn a_grant_given_back_by_a_waiter_that_left_frees_its_slot_and_its_rpm() {
    let mut w = World::new(
        "model_list:\n  - {model_name: g, litellm_params: {model: x, mock_response: x, rpm: 1, max_parallel_requests: 1}, model_info: {id: a}}\n",
    );
    let group = w.config.group(&w.group).unwrap().clone();
    let running = ticket_of(&w.wait(0, 1, 0, 120_000).unwrap());
    assert_eq!(w.wait(1, 2, 0, 120_000), None);
    assert_eq!(w.wait(1, 3, 0, 120_000), None);
    w.finish(2, running, None);
    assert!(w.tick(2).is_empty(), "the minute's one request is spent");
    let admitted = w.tick(60_000);
    assert!(matches!(admitted[..], [(2, TicketReply::Granted(_))]), "{admitted:?}");
    assert_eq!(w.coordinator.holdings(60_000, &group).admitted_unreported, 1);
    // 2's client left just as it was admitted: its slot and its request go to 3.
    w.coordinator.leave(60_001, 2);
    assert_eq!(w.coordinator.holdings(60_001, &group).admitted_unreported, 0);
    let admitted = w.tick(60_001);
    assert!(matches!(admitted[..], [(3, TicketReply::Granted(_))]), "{admitted:?}");
}

#[test]
fn a_waiting_timer_sleeps_until_the_next_wakeup_within_bounds() {
    let mut w = World::new(ONE_AT_A_TIME);
    assert_eq!(w.coordinator.wait_ms(0), 1_000, "nothing waits");
    let _running = ticket_of(&w.wait(0, 1, 0, 60_000).unwrap());
    assert_eq!(w.wait(0, 2, 0, 250), None);
    assert_eq!(w.coordinator.wait_ms(0), 250, "its deadline");
    assert_eq!(w.coordinator.wait_ms(250), 1, "never less than a millisecond");
}

#[test]
fn a_request_that_leaves_the_queue_is_never_admitted() {
    let mut w = World::new(ONE_AT_A_TIME);
    let running = ticket_of(&w.wait(0, 1, 0, 60_000).unwrap());
    assert_eq!(w.wait(0, 2, 0, 60_000), None);
    assert_eq!(w.wait(0, 3, 1, 60_000), None);
    w.coordinator.leave(1, 2);
    w.finish(10, running, None);
    assert_eq!(w.tick(10).iter().map(|(id, _)| *id).collect::<Vec<_>>(), [3]);
}

#[test]
fn a_request_that_cannot_be_admitted_before_its_deadline_is_told_at_once() {
    let mut w = World::new(
        "model_list:\n  - {model_name: g, litellm_params: {model: x, mock_response: x, rpm: 1}, model_info: {id: a}}\n",
    );
    let first = ticket_of(&w.wait(30_000, 1, 0, 60_000).unwrap());
    w.finish(30_100, first, None);
    // The next minute starts at 60 s: a 5 s wait cannot reach it.
    assert_eq!(
        w.wait(30_200, 2, 0, 5_000),
        Some(TicketReply::Unavailable(Unavailable::RateLimited { retry_after_ms: 29_800 }))
    );
    assert_eq!(w.wait(30_200, 3, 0, 40_000), None, "a 40 s wait can: it queues");
    // Waiting only for requests in flight, nobody can tell: it queues.
    let mut w = World::new(ONE_AT_A_TIME);
    ticket_of(&w.wait(0, 1, 0, 60_000).unwrap());
    assert_eq!(w.wait(0, 2, 0, 1), None);
    // Every deployment cooling down past the deadline: told at once.
    let mut w = World::new(&two("cooldown_time: 30", "", ""));
    w.fail(0, "a", FailureClass::RateLimit);
    w.fail(0, "b", FailureClass::RateLimit);
    assert!(matches!(w.wait(1_000, 1, 0, 5_000), Some(TicketReply::Unavailable(Unavailable::AllCoolingDown { .. }))));
    assert_eq!(w.wait(1_000, 2, 0, 60_000), None);
}

#[test]
fn the_snapshot_changes_with_health_and_limited_windows_only() {
    let mut w = World::new(&two("num_retries: 0", ", rpm: 100", ""));
    let group = w.config.group("g").unwrap().clone();
    w.acquire(0); // the first request creates the deployments' state: written once
    let before = w.coordinator.snapshot(&group);
    let (_, ticket) = w.grant(0, &["a"]); // b has no limits
    w.finish(1, ticket, None);
    assert_eq!(w.coordinator.snapshot(&group), before, "an unlimited deployment's traffic writes nothing");
    let (_, ticket) = w.grant(2, &["b"]);
    w.finish(3, ticket, None);
    assert_ne!(w.coordinator.snapshot(&group), before, "a limited deployment's window is kept");
    let limited = w.coordinator.snapshot(&group);
    w.fail(4, "b", FailureClass::RateLimit);
    assert_ne!(w.coordinator.snapshot(&group), limited, "a cooldown is kept");
}

#[test]
fn only_reports_nobody_waits_on_may_wait_for_the_next_message() {
    // Of each of the group's two deployments.
    let may_wait = |yaml: &str| {
        let w = World::new(yaml);
        let group = w.config.group(&w.group).unwrap();
        let each: Vec<bool> = group.deployments.iter().map(|d| report_may_wait(d, &w.config.router)).collect();
        (each[0], each[1])
    };
    assert_eq!(may_wait(&two("routing_strategy: usage-based-routing-v2", "", "")), (true, true));
    assert_eq!(may_wait(&two("routing_strategy: latency-based-routing", "", "")), (true, true));
    assert_eq!(may_wait(&two("routing_strategy: simple-shuffle", ", rpm: 5", ", tpm: 50")), (true, true));
    assert_eq!(may_wait(&two("routing_strategy: least-busy", "", "")), (false, false));
    // A slot frees with the report: only the other's may wait.
    assert_eq!(may_wait(&two("routing_strategy: simple-shuffle", ", max_parallel_requests: 1", "")), (false, true));
}

#[test]
fn only_a_failure_that_may_cool_its_deployment_is_told_at_once() {
    // Of each of the group's deployments; the class is the caller's to add.
    let cools = |yaml: &str| {
        let w = World::new(yaml);
        let group = w.config.group(&w.group).unwrap();
        group.deployments.iter().map(|d| cools_down(group, d, &w.config.router)).collect::<Vec<bool>>()
    };
    assert_eq!(cools(&two("num_retries: 0", "", "")), [true, true]);
    assert_eq!(cools(&two("disable_cooldowns: true", "", "")), [false, false]);
    assert_eq!(cools(&two("cooldown_time: 0", "", "")), [false, false]);
    assert_eq!(cools(&two("cooldown_time: 5", ", cooldown_time: 0", "")), [false, true]);
    // A group of one has nowhere else to send requests: LiteLLM never cools it.
    assert_eq!(
        cools("model_list:\n  - {model_name: g, litellm_params: {model: x, mock_response: x}, model_info: {id: a}}\n"),
        [false]
    );
}

#[test]
fn a_cooldown_too_long_to_add_to_the_clock_lasts_to_its_end() {
    // Found by the config and coordinator_message fuzz targets: `cooldown_time: 1e300`,
    // or a provider's `Retry-After: 1e300`, made `now + length` overflow (a panic
    // natively; in the Worker a wrapped time, so no cooldown at all).
    let now = 1_700_000_000_000;
    let mut w = World::new(&two("num_retries: 0", "", ""));
    let (_, ticket) = w.grant(now, &["b"]);
    w.finish(now, ticket, Some((FailureClass::RateLimit, Some(u64::MAX))));
    assert!(w.out_of_rotation(now + 86_400_000, "a"), "a Retry-After past the end of time");
    let mut w = World::new(&two("num_retries: 0", ", cooldown_time: 1e300", ""));
    w.fail(now, "a", FailureClass::RateLimit);
    assert!(w.out_of_rotation(now + 86_400_000, "a"), "a cooldown_time past the end of time");
}

#[test]
fn counts_told_at_the_edge_of_u64_saturate() {
    // Found by the coordinator_message fuzz target: an estimate of u64::MAX tokens, or
    // an isolate telling u64::MAX requests served, overflowed the minute's counts.
    let mut w = World::new(&two("num_retries: 0", ", tpm: 1000, rpm: 100", ""));
    assert!(matches!(w.ask(0, &["a"], 120, false), TicketReply::Granted(_)));
    assert!(matches!(w.ask(1, &["a"], u64::MAX, false), TicketReply::Granted(_)), "b has no limits");
    assert!(matches!(w.ask(2, &["a"], 1, false), TicketReply::Granted(_)));
    assert_eq!(w.ask(3, &["b"], u64::MAX, false), TicketReply::Unavailable(Unavailable::OnlyAvoided), "over a's tpm");
    let group = w.config.group("g").unwrap();
    let served = [ServedSince {
        deployment: id_of(group, "a"),
        requests: u64::MAX,
        tokens: i64::MAX,
        lease: None,
        timings: Timings::default(),
        slots: None,
        failures: Vec::new(),
    }];
    for now in [4, 5] {
        w.coordinator.sync_local(now, group, &w.config.router, 1, &served, None, u64::MAX, &mut w.rng);
    }
    assert_eq!(w.ask(6, &["b"], 1, false), TicketReply::Unavailable(Unavailable::OnlyAvoided), "a is full");
    // A deadline past the end of time: the request waits for the next minute.
    let mut w = World::new(
        "model_list:\n  - {model_name: g, litellm_params: {model: x, mock_response: x, rpm: 1}, model_info: {id: a}}\n",
    );
    w.grant(30_000, &[]);
    assert_eq!(w.wait(30_001, 1, 0, u64::MAX), None, "queued");
    assert!(matches!(w.tick(60_000)[..], [(1, TicketReply::Granted(_))]));
}

#[test]
fn a_request_that_allows_one_area_is_served_only_by_deployments_there() {
    let mut w = World::new(
        "model_list:
  - {model_name: g, litellm_params: {model: x, mock_response: x, region_name: swedencentral}, model_info: {id: eu1}}
  - {model_name: g, litellm_params: {model: x, mock_response: x, region_name: eastus}, model_info: {id: us1}}
  - {model_name: g, litellm_params: {model: x, mock_response: x}, model_info: {id: nowhere}}
",
    );
    let group = w.config.group("g").unwrap().clone();
    let ask = |w: &mut World, region: Option<Area>| {
        let request = TicketRequest {
            avoid: vec![],
            estimated_tokens: 10,
            stream: false,
            queue: None,
            region,
            isolate: slots::NO_ISOLATE,
        };
        match w.coordinator.acquire(0, &group, &w.config.router, &request, &mut w.rng) {
            Admission::Now(TicketReply::Granted(grant)) => Ok(grant.deployment.as_str().to_owned()),
            Admission::Now(TicketReply::Unavailable(reason)) => Err(reason),
            Admission::Queued => panic!("no priority: never queued"),
        }
    };
    for _ in 0..20 {
        assert_eq!(ask(&mut w, Some(Area::Eu)), Ok("eu1".to_owned()));
        assert_eq!(ask(&mut w, Some(Area::Us)), Ok("us1".to_owned()));
    }
    let only_nowhere = World::new(
        "model_list:\n  - {model_name: g, litellm_params: {model: x, mock_response: x}, model_info: {id: nowhere}}\n",
    );
    let mut w = only_nowhere;
    let group = w.config.group("g").unwrap().clone();
    let request = TicketRequest {
        avoid: vec![],
        estimated_tokens: 10,
        stream: false,
        queue: None,
        region: Some(Area::Eu),
        isolate: slots::NO_ISOLATE,
    };
    let reply = w.coordinator.acquire(0, &group, &w.config.router, &request, &mut w.rng);
    assert_eq!(
        reply,
        Admission::Now(TicketReply::Unavailable(Unavailable::NoneInRegion)),
        "an unknown region is in none"
    );
}

#[test]
fn the_metrics_show_a_cooldown_its_probe_the_queues_waits_and_the_isolates_counts() {
    let mut w = World::new(&two("num_retries: 0", "", ""));
    let group = w.config.group("g").unwrap().clone();
    let policy = w.config.router.clone();
    w.fail(0, "a", FailureClass::RateLimit);
    let m = w.coordinator.metrics(1_000, &group, &policy);
    let a = m.deployments.iter().find(|d| d.id.as_str() == "a").unwrap();
    assert_eq!((a.state, a.cooling_left_ms, a.cooled_down), (HealthState::Cooling, Some(4_000), 1));
    assert_eq!(a.recent_failures, [(FailureClass::RateLimit, 1)]);
    let b = m.deployments.iter().find(|d| d.id.as_str() == "b").unwrap();
    assert_eq!((b.state, b.cooled_down), (HealthState::Healthy, 0));
    let m = w.coordinator.metrics(5_000, &group, &policy);
    assert_eq!(m.deployments[0].state, HealthState::Probing);
    let (probe, _) = w.grant(5_000, &["b"]);
    assert_eq!(probe, "a");
    assert_eq!(w.coordinator.metrics(5_001, &group, &policy).probes, 1);
    // Past the recent minutes, the failure is forgotten; the cooldown count stays.
    let later = 5_001 + RECENT_FAILURE_MINUTES * MINUTE_MS;
    let a = w.coordinator.metrics(later, &group, &policy).deployments.remove(0);
    assert_eq!((a.recent_failures.len(), a.cooled_down), (0, 1));

    let mut tally = crate::observe::tally::Tally { requests: 3, ..Default::default() };
    w.coordinator.observed(&tally);
    tally.requests = 2;
    w.coordinator.observed(&tally);
    assert_eq!(w.coordinator.metrics(later, &group, &policy).observed.requests, 5);

    // A request admitted from the queue: how long it waited.
    let mut w = World::new(ONE_AT_A_TIME);
    let (group, policy) = (w.config.group("g").unwrap().clone(), w.config.router.clone());
    let (_, first) = w.grant(0, &[]);
    assert_eq!(w.wait(10, 7, 0, 10_000), None, "queued behind the one in flight");
    w.finish(260, first, None);
    let admitted = w.tick(260);
    assert!(matches!(&admitted[..], [(7, TicketReply::Granted(Grant { waited_ms: Some(250), .. }))]), "{admitted:?}");
    let m = w.coordinator.metrics(300, &group, &policy);
    assert_eq!((m.queue_wait.count, m.queue_wait.sum_ms, m.queue.admitted), (1, 250, 1));
}

/// A request of isolate `isolate`'s line, as its `Wait` carries it.
fn in_line(waiter: u64, priority: u32, max_wait_ms: u64) -> TicketRequest {
    TicketRequest {
        avoid: vec![],
        estimated_tokens: 10,
        stream: false,
        queue: Some(QueueRequest { priority, max_wait_ms, waiter }),
        region: None,
        isolate: 0,
    }
}

impl World {
    /// A `Wait` of `isolate` telling `joined` and `left`, then a tick: the answers owed to it.
    fn tell(&mut self, now: u64, isolate: u64, joined: &[TicketRequest], left: &[u64]) -> Vec<(u64, TicketReply)> {
        let group = self.config.group(&self.group).unwrap();
        self.coordinator.wait(now, group, &self.config.router, isolate, joined, left, &[], &[], &mut self.rng);
        assert!(self.tick(now).is_empty(), "no answer of a line goes to a fetch of its own");
        self.coordinator.owed(isolate)
    }
}

fn waiters_of(answers: &[(u64, TicketReply)]) -> Vec<u64> {
    answers.iter().map(|(w, _)| *w).collect()
}

#[test]
fn lines_of_two_isolates_merge_in_the_queue_by_priority_and_answers_wait_for_their_isolate() {
    let mut w = World::new(ONE_AT_A_TIME);
    let group = w.config.group(&w.group).unwrap().clone();
    let first = w.tell(0, 7, &[in_line(1, 0, 60_000)], &[]);
    let running = ticket_of(&first[0].1);
    // Isolate 7 tells three more at once, isolate 8 one that is better than two of them.
    assert!(w.tell(10, 7, &[in_line(2, 0, 60_000), in_line(3, 2, 60_000), in_line(4, 2, 60_000)], &[]).is_empty());
    assert!(w.tell(20, 8, &[in_line(5, 1, 60_000)], &[]).is_empty());
    assert_eq!(w.coordinator.queue_status(20, "g").depth, 4);
    w.finish(30, running, None);
    assert!(w.tick(30).is_empty());
    assert_eq!(w.coordinator.owed_to(), [7], "2 is admitted, owed to its isolate until it asks");
    let answers = w.coordinator.owed(7);
    assert_eq!(waiters_of(&answers), [2]);
    w.finish(40, ticket_of(&answers[0].1), None);
    w.tick(40);
    assert_eq!(waiters_of(&w.coordinator.owed(8)), [5], "priority 1 of another isolate before 7's priority 2");
    assert_eq!(w.coordinator.holdings(40, &group).waiting, 2);
}

#[test]
fn a_line_leaver_leaves_the_queue_and_a_grant_it_could_not_use_goes_to_the_next() {
    let mut w = World::new(ONE_AT_A_TIME);
    let running = ticket_of(&w.tell(0, 7, &[in_line(1, 0, 60_000)], &[])[0].1);
    assert!(w.tell(1, 7, &[in_line(2, 0, 60_000), in_line(3, 0, 60_000), in_line(4, 0, 60_000)], &[]).is_empty());
    // 2 left before it was admitted; 3 is admitted, but its client leaves as the grant travels.
    assert!(w.tell(2, 7, &[], &[2]).is_empty());
    w.finish(3, running, None);
    assert_eq!(waiters_of(&w.tell(3, 7, &[], &[])), [3]);
    assert_eq!(waiters_of(&w.tell(4, 7, &[], &[3])), [4], "3's grant given back: 4 has it");
    assert!(w.coordinator.owed_to().is_empty());
}

#[test]
fn a_deadline_in_a_line_is_owed_like_a_grant_with_its_place() {
    let mut w = World::new(ONE_AT_A_TIME);
    let _running = ticket_of(&w.tell(0, 7, &[in_line(1, 0, 60_000)], &[])[0].1);
    assert!(w.tell(0, 7, &[in_line(2, 0, 500), in_line(3, 1, 60_000)], &[]).is_empty());
    let answers = w.tell(500, 7, &[], &[]);
    assert!(
        matches!(
            answers[..],
            [(2, TicketReply::Unavailable(Unavailable::QueueTimeout { waited_ms: 500, position: 1 }))]
        ),
        "{answers:?}"
    );
}

#[test]
fn what_a_dead_isolate_was_owed_goes_back_and_its_line_leaves_the_queue() {
    let mut w = World::new(ONE_AT_A_TIME);
    let group = w.config.group(&w.group).unwrap().clone();
    let running = ticket_of(&w.tell(0, 7, &[in_line(1, 0, 60_000)], &[])[0].1);
    assert!(w.tell(1, 7, &[in_line(2, 0, 60_000), in_line(3, 0, 60_000)], &[]).is_empty());
    assert!(w.tell(2, 8, &[in_line(4, 1, 60_000)], &[]).is_empty());
    w.finish(3, running, None);
    w.tick(3);
    assert_eq!(w.coordinator.owed_to(), [7]);
    // Isolate 7 dies with 2's grant owed and 3 waiting: both go, and 4 is admitted.
    w.coordinator.line_gone(4, 7);
    assert_eq!(w.coordinator.holdings(4, &group).tickets, 0);
    w.tick(4);
    assert_eq!(waiters_of(&w.coordinator.owed(8)), [4]);
    assert!(w.coordinator.owed_to().is_empty());
}

#[test]
fn a_grant_owed_and_never_asked_for_goes_back_after_its_time() {
    let mut w = World::new(ONE_AT_A_TIME);
    let group = w.config.group(&w.group).unwrap().clone();
    let running = ticket_of(&w.tell(0, 7, &[in_line(1, 0, 60_000)], &[])[0].1);
    assert!(w.tell(1, 7, &[in_line(2, 0, 60_000)], &[]).is_empty());
    assert!(w.tell(2, 8, &[in_line(3, 1, 60_000)], &[]).is_empty());
    w.finish(3, running, None);
    w.tick(3);
    assert_eq!(w.coordinator.owed_to(), [7]);
    w.tick(3 + OWED_TTL_MS - 1);
    assert_eq!(w.coordinator.owed_to(), [7], "not yet");
    w.tick(3 + OWED_TTL_MS);
    assert_eq!(w.coordinator.owed_to(), [8], "2's grant went back, to 3");
    assert_eq!(w.coordinator.holdings(3 + OWED_TTL_MS, &group).tickets, 1);
}

#[test]
fn a_request_told_twice_waits_once() {
    let mut w = World::new(ONE_AT_A_TIME);
    let _running = ticket_of(&w.tell(0, 7, &[in_line(1, 0, 60_000)], &[])[0].1);
    assert!(w.tell(1, 7, &[in_line(2, 0, 60_000)], &[]).is_empty());
    assert!(w.tell(2, 7, &[in_line(2, 0, 60_000)], &[]).is_empty(), "a Wait retried");
    assert_eq!(w.coordinator.queue_status(2, "g").depth, 1);
}

#[test]
fn a_request_its_isolate_admitted_in_a_slot_freed_there_leaves_the_queue_as_admitted() {
    let mut w = World::new(ONE_AT_A_TIME);
    let group = w.config.group(&w.group).unwrap().clone();
    let running = ticket_of(&w.tell(0, 7, &[in_line(1, 0, 60_000)], &[])[0].1);
    assert!(w.tell(1, 7, &[in_line(2, 0, 60_000), in_line(3, 1, 60_000)], &[]).is_empty());
    let admitted = w.coordinator.queue_status(1, "g").admitted;
    w.coordinator.wait(5, &group, &w.config.router, 7, &[], &[], &[2], &[], &mut w.rng);
    let status = w.coordinator.queue_status(5, "g");
    assert_eq!((status.depth, status.admitted, status.handed_over), (1, admitted + 1, 1));
    // Two admitted there before the isolate told of them: counted all the same.
    w.coordinator.wait(5, &group, &w.config.router, 7, &[], &[], &[], &[40, 90], &mut w.rng);
    let status = w.coordinator.queue_status(5, "g");
    assert_eq!((status.depth, status.admitted, status.handed_over), (1, admitted + 3, 3));
    let waits = w.coordinator.metrics(5, &group, &w.config.router).queue_wait;
    assert_eq!((waits.count, waits.sum_ms), (3, 4 + 40 + 90), "2's wait (joined at 1), then theirs");
    // The running request ends: 3 is admitted next, 2 no longer waits.
    w.finish(6, running, None);
    w.tick(6);
    assert_eq!(waiters_of(&w.coordinator.owed(7)), [3]);
}

#[test]
fn a_grant_made_as_its_request_joined_comes_back_when_the_request_leaves_or_is_handed_a_slot() {
    for handed in [false, true] {
        let mut w = World::new(ONE_AT_A_TIME);
        let group = w.config.group(&w.group).unwrap().clone();
        let granted = w.tell(0, 7, &[in_line(1, 0, 60_000)], &[]);
        assert!(matches!(granted.as_slice(), [(1, TicketReply::Granted(_))]), "{granted:?}");
        assert_eq!(w.coordinator.holdings(1, &group).tickets, 1);
        // The line had let it go before the grant came: the grant goes back.
        let (left, by_isolate): (&[u64], &[u64]) = if handed { (&[], &[1]) } else { (&[1], &[]) };
        w.coordinator.wait(2, &group, &w.config.router, 7, &[], left, by_isolate, &[], &mut w.rng);
        assert_eq!(w.coordinator.holdings(2, &group).tickets, 0, "handed: {handed}");
        assert_eq!(w.coordinator.queue_status(2, "g").handed_over, 0, "it was never in the queue");
    }
}

#[test]
fn views_say_to_relay_after_a_second_of_messages_at_the_threshold_and_stop_below_half() {
    let view_at = |w: &mut World, now: u64| {
        let group = w.config.group(&w.group).unwrap();
        w.coordinator.sync_local(now, group, &w.config.router, 1, &[], None, 10, &mut w.rng)
    };
    // Each message is taken as the shell takes it: counted, then answered.
    let took = |w: &mut World, now: u64, messages: u64| w.coordinator.took_message(now, messages, &w.config.router);
    let mut w = World::new(&two("coordinator_relay_above: 10", "", ""));
    for ms in 0..9 {
        took(&mut w, 1_000 + ms * 100, 1);
    }
    took(&mut w, 2_000, 1);
    assert!(!view_at(&mut w, 2_000).relay, "9 a second");
    // A relay's batch of 9, and one more message: 10 in the second.
    took(&mut w, 2_100, 9);
    took(&mut w, 2_200, 1);
    took(&mut w, 3_000, 1);
    assert!(view_at(&mut w, 3_000).relay, "10 a second");
    took(&mut w, 3_500, 4);
    took(&mut w, 4_000, 1);
    assert!(view_at(&mut w, 4_000).relay, "5 a second: half");
    took(&mut w, 4_500, 3);
    took(&mut w, 5_000, 1);
    assert!(!view_at(&mut w, 5_000).relay, "4 a second: below half");

    // A period alone relays always, whatever the views say; 0 never.
    for settings in ["coordinator_relay_ms: 100", "coordinator_relay_ms: 0"] {
        let mut w = World::new(&two(settings, "", ""));
        took(&mut w, 1_000, 10_000);
        took(&mut w, 2_000, 1);
        assert!(!view_at(&mut w, 2_000).relay, "{settings}");
    }
}
