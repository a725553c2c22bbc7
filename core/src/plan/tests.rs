//! The planner's rules, one story each.

use super::*;
use crate::config::{Config, load};

fn config(router: &str) -> Config {
    let yaml = format!(
        "model_list:\n{}router_settings:\n{router}",
        ["a", "b", "c", "d"]
            .iter()
            .map(|g| format!("  - {{model_name: {g}, litellm_params: {{model: x, mock_response: x}}}}\n"))
            .collect::<String>()
    );
    load(&yaml, &|_| None).unwrap_or_else(|e| panic!("{e}")).config
}

fn id(name: &str) -> DeploymentId {
    serde_json::from_str(&format!("\"{name}\"")).unwrap()
}

fn upstream(status: u16) -> Failure {
    Failure::from_upstream(status, format!(r#"{{"error":{{"message":"status {status}"}}}}"#).as_bytes(), None)
}

fn call_group(step: &Step) -> &str {
    match step {
        Step::Call { group, .. } => group,
        Step::Fail(e) => panic!("expected a call, got {e:?}"),
    }
}

fn failed(step: Step) -> ApiError {
    match step {
        Step::Fail(e) => e,
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn retries_stay_in_the_group_then_the_first_groups_error_says_what_was_tried() {
    let config = config("  num_retries: 2\n");
    let (mut plan, step) = Plan::new("a", RequestPolicy::default(), 10, &config.router, None);
    assert_eq!(step, Step::Call { group: "a".into(), avoid: vec![], delay_ms: 0 });
    let step = plan.on_failure(0, &id("a1"), upstream(500), &config.router);
    assert_eq!(step, Step::Call { group: "a".into(), avoid: vec![id("a1")], delay_ms: 0 }, "at once, avoiding a1");
    let step = plan.on_failure(0, &id("a2"), upstream(503), &config.router);
    assert_eq!(call_group(&step), "a");
    let error = failed(plan.on_failure(0, &id("a1"), upstream(500), &config.router));
    assert_eq!(error.status(), 500);
    let message = error.to_string();
    assert!(message.starts_with("status 500 (tried: a/a1: 500 InternalServerError; a/a2: 503"), "{message}");
    assert_eq!(plan.attempts(), Attempts { retries: 2, max_retries: 2, fallbacks: 0 });
}

#[test]
fn with_no_retries_and_no_fallbacks_the_upstreams_own_error_is_the_answer() {
    let config = config("  num_retries: 0\n");
    let (mut plan, _) = Plan::new("a", RequestPolicy::default(), 10, &config.router, None);
    let error = failed(plan.on_failure(0, &id("a1"), upstream(429), &config.router));
    assert_eq!(error.to_string(), "status 429");
    assert_eq!(error.status(), 429);
}

#[test]
fn the_request_num_retries_overrides_the_router() {
    let config = config("  num_retries: 5\n");
    let request = RequestPolicy { num_retries: Some(0), ..RequestPolicy::default() };
    let (mut plan, _) = Plan::new("a", request, 10, &config.router, None);
    assert!(matches!(plan.on_failure(0, &id("a1"), upstream(500), &config.router), Step::Fail(_)));
}

#[test]
fn a_tried_deployment_is_retried_at_once_unless_the_provider_asked_to_slow_down() {
    let config = config("  num_retries: 4\n");
    let mut rng = fastrand::Rng::with_seed(1);
    let (mut plan, _) = Plan::new("a", RequestPolicy::default(), 10, &config.router, None);
    // A generic error: at once, as LiteLLM documents.
    plan.on_failure(0, &id("a1"), upstream(500), &config.router);
    let step = plan.on_unavailable(0, &Unavailable::OnlyAvoided, &config.router, &mut rng);
    assert_eq!(step, Step::Call { group: "a".into(), avoid: vec![], delay_ms: 0 });
    // A rate limit with Retry-After: that long.
    let limited = Failure { retry_after_ms: Some(7_000), ..upstream(429) };
    plan.on_failure(0, &id("a1"), limited, &config.router);
    let step = plan.on_unavailable(0, &Unavailable::OnlyAvoided, &config.router, &mut rng);
    assert_eq!(step, Step::Call { group: "a".into(), avoid: vec![], delay_ms: 7_000 });
    // An overload without Retry-After: 0.5 s doubling per retry (third retry: 2 s), plus up to 0.75 s.
    plan.on_failure(0, &id("a1"), upstream(529), &config.router);
    let Step::Call { delay_ms, .. } = plan.on_unavailable(0, &Unavailable::OnlyAvoided, &config.router, &mut rng)
    else {
        panic!()
    };
    assert!((2_000..2_750).contains(&delay_ms), "third retry: {delay_ms}");
    // A Retry-After over 60 s is not waited for: backoff instead.
    let far = Failure { retry_after_ms: Some(120_000), ..upstream(429) };
    plan.on_failure(0, &id("a1"), far, &config.router);
    let Step::Call { delay_ms, .. } = plan.on_unavailable(0, &Unavailable::OnlyAvoided, &config.router, &mut rng)
    else {
        panic!()
    };
    assert!((4_000..4_750).contains(&delay_ms), "fourth retry: {delay_ms}");
}

#[test]
fn a_deployment_timing_out_twice_with_two_retries_is_three_timeouts_back_to_back() {
    // `timeout: 1` with `num_retries: 2` on a group of one: about 3 s in all, not 5.
    let config = config("  num_retries: 2\n");
    let mut rng = fastrand::Rng::with_seed(1);
    let (mut plan, _) = Plan::new("a", RequestPolicy::default(), 10, &config.router, None);
    let mut waited = 0;
    for now in [1_000, 2_000] {
        plan.on_failure(now, &id("a1"), Failure::timeout("a1", 1_000), &config.router);
        let Step::Call { delay_ms, .. } = plan.on_unavailable(now, &Unavailable::OnlyAvoided, &config.router, &mut rng)
        else {
            panic!()
        };
        waited += delay_ms;
    }
    assert_eq!(waited, 0);
    assert_eq!(failed(plan.on_failure(3_000, &id("a1"), Failure::timeout("a1", 1_000), &config.router)).status(), 408);
}

#[test]
fn the_requests_own_deadline_bounds_every_call_and_wait() {
    let config = config("  num_retries: 3\n  fallbacks: [{a: [b]}]\n");
    let mut rng = fastrand::Rng::with_seed(1);
    let (mut plan, step) = Plan::new("a", RequestPolicy::default(), 10, &config.router, Some(5_000));
    assert_eq!(step, Step::Call { group: "a".into(), avoid: vec![], delay_ms: 0 });
    let step = plan.on_failure(1_000, &id("a1"), upstream(500), &config.router);
    assert_eq!(step, Step::Call { group: "a".into(), avoid: vec![id("a1")], delay_ms: 0 });
    // A wait of 7 s would end past the deadline: the answer is what failed so far.
    plan.on_failure(1_500, &id("a1"), Failure { retry_after_ms: Some(7_000), ..upstream(429) }, &config.router);
    let error = failed(plan.on_unavailable(1_500, &Unavailable::OnlyAvoided, &config.router, &mut rng));
    assert_eq!(error.status(), 429, "the group's last failure is the answer");
    assert!(error.to_string().contains("tried: a/a1: 500"), "{error}");
    // Nor does a fallback start once the time is up.
    let (mut plan, _) = Plan::new(
        "a",
        RequestPolicy { num_retries: Some(0), ..RequestPolicy::default() },
        10,
        &config.router,
        Some(5_000),
    );
    assert!(matches!(plan.on_failure(5_000, &id("a1"), Failure::timeout("a1", 5_000), &config.router), Step::Fail(_)));
}

#[test]
fn backoff_doubles_up_to_eight_seconds() {
    let mut rng = fastrand::Rng::with_seed(3);
    for (retry, base) in [(1, 500), (2, 1_000), (3, 2_000), (4, 4_000), (5, 8_000), (6, 8_000), (40, 8_000)] {
        let wait = backoff_ms(retry, None, &mut rng);
        assert!((base..base + 750).contains(&wait), "retry {retry}: {wait}");
    }
}

#[test]
fn fallbacks_in_order_each_with_its_own_retries() {
    let config = config("  num_retries: 1\n  fallbacks: [{a: [b, c]}]\n");
    let (mut plan, _) = Plan::new("a", RequestPolicy::default(), 10, &config.router, None);
    assert_eq!(call_group(&plan.on_failure(0, &id("a1"), upstream(500), &config.router)), "a");
    assert_eq!(call_group(&plan.on_failure(0, &id("a1"), upstream(500), &config.router)), "b");
    assert_eq!(call_group(&plan.on_failure(0, &id("b1"), upstream(500), &config.router)), "b", "b's own retry");
    assert_eq!(call_group(&plan.on_failure(0, &id("b1"), upstream(500), &config.router)), "c");
    assert_eq!(plan.attempts().fallbacks, 2);
}

#[test]
fn the_star_entry_catches_all_and_default_fallbacks_come_last() {
    let config = config("  num_retries: 0\n  fallbacks: [{\"*\": [d]}]\n");
    let (mut plan, _) = Plan::new("b", RequestPolicy::default(), 10, &config.router, None);
    assert_eq!(call_group(&plan.on_failure(0, &id("b1"), upstream(500), &config.router)), "d");
    let config = self::config("  num_retries: 0\n  default_fallbacks: [c]\n");
    let (mut plan, _) = Plan::new("a", RequestPolicy::default(), 10, &config.router, None);
    assert_eq!(call_group(&plan.on_failure(0, &id("a1"), upstream(500), &config.router)), "c");
}

#[test]
fn a_cycle_ends_and_max_fallbacks_caps_the_hops() {
    let config = config("  num_retries: 0\n  fallbacks: [{a: [b]}, {b: [a, c]}, {c: [d]}]\n  max_fallbacks: 2\n");
    let (mut plan, _) = Plan::new("a", RequestPolicy::default(), 10, &config.router, None);
    assert_eq!(call_group(&plan.on_failure(0, &id("a1"), upstream(500), &config.router)), "b");
    assert_eq!(
        call_group(&plan.on_failure(0, &id("b1"), upstream(500), &config.router)),
        "c",
        "a is not visited twice"
    );
    let error = failed(plan.on_failure(0, &id("c1"), upstream(500), &config.router));
    assert!(error.to_string().contains("c/c1"), "{error}");
    assert_eq!(plan.attempts().fallbacks, 2, "d would be a third hop");
}

#[test]
fn the_requests_own_fallbacks_replace_the_configured_ones_and_can_be_disabled() {
    let config = config("  num_retries: 0\n  fallbacks: [{a: [b]}]\n");
    let request = RequestPolicy { fallbacks: Some(vec!["c".into()]), ..RequestPolicy::default() };
    let (mut plan, _) = Plan::new("a", request, 10, &config.router, None);
    assert_eq!(call_group(&plan.on_failure(0, &id("a1"), upstream(500), &config.router)), "c");
    let request = RequestPolicy { disable_fallbacks: true, ..RequestPolicy::default() };
    let (mut plan, _) = Plan::new("a", request, 10, &config.router, None);
    assert_eq!(failed(plan.on_failure(0, &id("a1"), upstream(500), &config.router)).status(), 500);
}

#[test]
fn context_window_and_content_policy_errors_skip_retries_and_use_their_lists() {
    let config = config(
        "  num_retries: 3\n  fallbacks: [{a: [b]}]\n  context_window_fallbacks: [{a: [c]}]\n  content_policy_fallbacks: [{a: [d]}]\n",
    );
    let context = Failure::from_upstream(400, br#"{"error":{"message":"x","code":"context_length_exceeded"}}"#, None);
    let (mut plan, _) = Plan::new("a", RequestPolicy::default(), 10, &config.router, None);
    assert_eq!(call_group(&plan.on_failure(0, &id("a1"), context, &config.router)), "c");
    let policy = Failure::from_upstream(400, br#"{"error":{"message":"x","code":"content_policy_violation"}}"#, None);
    let (mut plan, _) = Plan::new("a", RequestPolicy::default(), 10, &config.router, None);
    assert_eq!(call_group(&plan.on_failure(0, &id("a1"), policy, &config.router)), "d");
    let (mut plan, _) = Plan::new("a", RequestPolicy::default(), 10, &config.router, None);
    assert_eq!(call_group(&plan.on_failure(0, &id("a1"), upstream(400), &config.router)), "b", "a plain 400: no retry");
}

#[test]
fn a_group_all_cooling_down_falls_back_or_answers_429_with_retry_after() {
    let mut rng = fastrand::Rng::with_seed(1);
    let config = config("  fallbacks: [{a: [b]}]\n");
    let (mut plan, _) = Plan::new("a", RequestPolicy::default(), 10, &config.router, None);
    let step = plan.on_unavailable(0, &Unavailable::AllCoolingDown { retry_after_ms: 2_500 }, &config.router, &mut rng);
    assert_eq!(call_group(&step), "b");
    let (mut plan, _) = Plan::new("c", RequestPolicy::default(), 10, &config.router, None);
    let error = failed(plan.on_unavailable(
        0,
        &Unavailable::AllCoolingDown { retry_after_ms: 2_500 },
        &config.router,
        &mut rng,
    ));
    assert_eq!((error.status(), error.retry_after_secs()), (429, Some(3)));
    assert!(error.to_string().contains("cooling down"));
}

#[test]
fn a_prompt_too_long_everywhere_goes_straight_to_the_context_window_fallback() {
    let mut rng = fastrand::Rng::with_seed(1);
    let config = config("  context_window_fallbacks: [{a: [b]}]\n");
    let (mut plan, _) = Plan::new("a", RequestPolicy::default(), 5_000, &config.router, None);
    assert_eq!(call_group(&plan.on_unavailable(0, &Unavailable::ContextWindowExceeded, &config.router, &mut rng)), "b");
    let (mut plan, _) = Plan::new("c", RequestPolicy::default(), 5_000, &config.router, None);
    let error = failed(plan.on_unavailable(0, &Unavailable::ContextWindowExceeded, &config.router, &mut rng));
    assert_eq!(error.status(), 400);
    assert!(error.to_string().contains("about 5000 tokens"), "{error}");
}
