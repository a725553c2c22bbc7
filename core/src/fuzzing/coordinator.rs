//! The targets of what travels between isolates and a group's coordinator
//! ([`Message`], [`HealthView`]), driven against a small fixed config, and the
//! routing every config that loads must survive.
//!
//! An input is one message (or view), or several, one per line; a line that is a
//! number moves the clock on by that many milliseconds (at most a day: the
//! clock is the runtime's, never the input's). The coordinator is driven as its
//! Durable Object drives it, and after each message its snapshot must survive
//! the round trip the object's storage gives it.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::{self, Config, DeploymentId, FallbackKind, ModelGroup};
use crate::coordinator::local::{Ask, HealthView, LocalPick, LocalRouter};
use crate::coordinator::{
    Admission, Coordinator, Message, QueueRequest, Report, ReportedFailure, TicketReply, TicketRequest,
};
use crate::failure::FailureClass;

/// Two seconds before a minute turns, in Unix milliseconds: a few steps cross it.
const START_MS: u64 = 1_700_000_038_000;
/// The time one message takes to arrive after the one before.
const MESSAGE_MS: u64 = 250;
const DAY_MS: u64 = 86_400_000;

/// Groups with every kind of limit: `g` (rpm and tpm, unlimited, a context
/// window, a second tier) is routed locally; `p` (a parallel limit) by tickets.
const GROUPS: &str = "model_list:
  - {model_name: g, litellm_params: {model: openai/x, mock_response: a, rpm: 40, tpm: 4000}, model_info: {id: a}}
  - {model_name: g, litellm_params: {model: openai/x, mock_response: b}, model_info: {id: b, max_input_tokens: 1000}}
  - {model_name: g, litellm_params: {model: openai/x, mock_response: c, order: 2, rpm: 5}, model_info: {id: c}}
  - {model_name: p, litellm_params: {model: openai/x, mock_response: p, max_parallel_requests: 1, cooldown_time: 2}, model_info: {id: p}}
  - {model_name: p, litellm_params: {model: openai/x, mock_response: q, rpm: 3}, model_info: {id: q}}
";

/// The same groups under two routers: usage-based with `allowed_fails`, and
/// latency-based with LiteLLM's default cooldown rule and a bounded queue.
static CONFIGS: LazyLock<[Config; 2]> = LazyLock::new(|| {
    let load = |router: &str| match config::load(&format!("{GROUPS}router_settings:\n{router}"), &|_| None) {
        Ok(loaded) => loaded.config,
        Err(error) => panic!("the fuzz targets' own config: {error}"),
    };
    [
        load("  routing_strategy: usage-based-routing-v2\n  allowed_fails: 1\n  enable_pre_call_checks: true\n"),
        load("  routing_strategy: latency-based-routing\n  max_queue_size: 4\n  priority_aging_s: 1\n"),
    ]
});

/// The inputs of `data`: the whole of it when it decodes as one, else each line
/// that decodes, with the clock moves between them.
fn each_input<T: DeserializeOwned>(data: &[u8], mut on: impl FnMut(T, u64)) {
    let mut now = START_MS;
    if let Ok(whole) = serde_json::from_slice::<T>(data) {
        return on(whole, now);
    }
    for line in data.split(|&b| b == b'\n') {
        if let Some(ms) = std::str::from_utf8(line).ok().and_then(|text| text.trim().parse::<u64>().ok()) {
            now = now.saturating_add(ms.min(DAY_MS));
        } else if let Ok(input) = serde_json::from_slice::<T>(line) {
            on(input, now);
            now += MESSAGE_MS;
        }
    }
}

/// Coordinator messages, under each router.
pub fn message(data: &[u8]) {
    for config in CONFIGS.iter() {
        let mut coordinator = Coordinator::default();
        let mut rng = fastrand::Rng::with_seed(1);
        each_input(data, |message: Message, now| deliver(&mut coordinator, config, &message, now, &mut rng));
    }
}

/// What the coordinator's Durable Object does with one message.
fn deliver(coordinator: &mut Coordinator, config: &Config, message: &Message, now: u64, rng: &mut fastrand::Rng) {
    // An unknown group is answered with an error, and touches nothing.
    let Some(group) = config.group(message.group()) else {
        return;
    };
    let policy = &config.router;
    match message {
        Message::Acquire { request, reports, .. } => {
            for report in reports {
                coordinator.report(now, group, policy, report);
            }
            if let Admission::Now(reply) = coordinator.acquire(now, group, policy, request, rng) {
                round_trip(&reply);
            }
        }
        Message::Report { reports, .. } => {
            for report in reports {
                coordinator.report(now, group, policy, report);
            }
        }
        Message::Status { .. } => {
            round_trip(&coordinator.queue_status(now, &group.name));
        }
        Message::State { .. } => {
            round_trip(&coordinator.holdings(now, group));
        }
        // An admitted waiter gives its grant back, a waiting one leaves the line.
        Message::Leave { waiter, .. } => coordinator.leave(now, *waiter),
        Message::Sync { served, failure, estimated_tokens, isolate, tally, .. } => {
            if let Some(tally) = tally {
                coordinator.observed(tally);
            }
            round_trip(&coordinator.sync_local(
                now,
                group,
                policy,
                *isolate,
                served,
                failure.as_ref(),
                *estimated_tokens,
                rng,
            ));
        }
        Message::Wait { isolate, joined, left, handed, handed_untold, reports, .. } => {
            for report in reports {
                coordinator.report(now, group, policy, report);
            }
            coordinator.wait(now, group, policy, *isolate, joined, left, handed, handed_untold, rng);
        }
        Message::Observed { tally, .. } => coordinator.observed(tally),
        Message::Metrics { .. } => {
            let metrics = round_trip(&coordinator.metrics(now, group, policy));
            crate::metrics::prometheus::render(config, &[metrics]);
        }
        // A relay's batch: its isolates' messages in turn (one a relay carries
        // never nests a batch), and the lines of those gone leave.
        Message::Batch { messages, gone, .. } => {
            for &isolate in gone {
                coordinator.line_gone(now, isolate);
            }
            for message in messages.iter().filter(|m| m.relayed()) {
                deliver(coordinator, config, message, now, rng);
            }
        }
    }
    for (_, reply) in coordinator.tick(now, group, policy, rng) {
        round_trip(&reply);
    }
    for isolate in coordinator.owed_to() {
        round_trip(&coordinator.owed(isolate));
    }
    let _ = coordinator.next_wakeup(now);
    let snapshot = coordinator.snapshot(group);
    let stored = round_trip(&snapshot);
    assert_eq!(Coordinator::restore(stored).snapshot(group), snapshot, "a restored coordinator is the one stored");
}

/// `value` through JSON and back, as it travels; it must come back the same.
fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(value: &T) -> T {
    let text = match serde_json::to_string(value) {
        Ok(text) => text,
        Err(error) => panic!("{value:?} does not serialize: {error}"),
    };
    match serde_json::from_str::<T>(&text) {
        Ok(back) => {
            assert_eq!(&back, value, "{text}");
            back
        }
        Err(error) => panic!("{text} does not decode: {error}"),
    }
}

/// Views from a coordinator, taken by an isolate that routes group `g` by them:
/// it picks, hears answers, and tells the coordinator what it served. It never
/// sends more requests to a deployment with an rpm than its leases allow.
pub fn health_view(data: &[u8]) {
    let config = &CONFIGS[0];
    let Some(group) = config.group("g") else {
        return;
    };
    let policy = &config.router;
    let mut router = LocalRouter::default();
    let mut coordinator = Coordinator::default();
    let mut rng = fastrand::Rng::with_seed(2);
    let mut held = Leased::default();
    let mut views = 0;
    each_input(data, |view: HealthView, now| {
        round_trip(&view);
        take(&mut router, &mut held, now, view);
        for turn in 0..8u64 {
            let estimated_tokens = [0, 10, 900, 5_000][(turn % 4) as usize];
            let ask = Ask {
                avoid: &[],
                estimated_tokens,
                stream: turn % 3 == 0,
                region: None,
                may_wait: false,
                await_slot: false,
            };
            if let LocalPick::Call { deployment, .. } = router.pick(now, group, policy, ask, &mut rng) {
                if deployment.rpm.is_some() {
                    let (_, allowed, sent) = held.leases.entry(deployment.id.clone()).or_default();
                    *sent += 1;
                    assert!(sent <= allowed, "{} sent {sent} requests on leases of {allowed}", deployment.id);
                }
                router.answered(&deployment.id, estimated_tokens, estimated_tokens / 2 + turn * 40);
                router.timed(&deployment.id, 100 + turn, Some(20));
            }
        }
        // Every other view, the isolate refreshes: it settles its leases and takes new ones.
        views += 1;
        if views % 2 == 0 {
            let served = router.take_served(now);
            // What the sync settles goes back. A sync sent while the view lasts
            // keeps a part of a lease for the requests before its answer: at most
            // what was left of it, and all the isolate may still send on it.
            let carried: HashMap<DeploymentId, u64> =
                router.held().into_iter().map(|(id, lease)| (id, lease.requests)).collect();
            for (id, (_, allowed, sent)) in &mut held.leases {
                let kept = carried.get(id).copied().unwrap_or(0);
                assert!(*sent + kept <= *allowed, "{id} carries {kept} past a sync, with {sent} of {allowed} sent");
                *allowed = *sent + kept;
            }
            let failure = (views % 4 == 0).then(|| (group.deployments[0].id.clone(), rate_limited(Some(1_500))));
            let fresh = coordinator.sync_local(now, group, policy, 1, &served, failure.as_ref(), 10, &mut rng);
            take(&mut router, &mut held, now, fresh);
        }
    });
}

/// What the isolate was leased, as the target follows it.
#[derive(Default)]
struct Leased {
    /// The minute of the newest view taken.
    newest: u64,
    /// Per deployment: the minute of the leases held, the requests they allow,
    /// the requests sent.
    leases: HashMap<DeploymentId, (u64, u64, u64)>,
}

/// `router` takes `view`, and `held` follows the leases it keeps: those of the
/// view's minute, added up. A view of a minute before the newest taken (an
/// answer overtaken on the way) is not taken, nor are its leases.
fn take(router: &mut LocalRouter, held: &mut Leased, now: u64, view: HealthView) {
    if view.minute < held.newest {
        router.update(now, now, view);
        return;
    }
    held.newest = view.minute;
    let held = &mut held.leases;
    held.retain(|_, (minute, ..)| *minute == view.minute);
    for (id, lease) in &view.leases {
        let entry = held.entry(id.clone()).or_insert((lease.minute, 0, 0));
        entry.1 = entry.1.saturating_add(lease.requests);
    }
    router.update(now, now, view);
}

fn rate_limited(retry_after_ms: Option<u64>) -> ReportedFailure {
    ReportedFailure { class: FailureClass::RateLimit, retry_after_ms }
}

/// Routes each group of a loaded config with the config's own numbers: tickets
/// (queued when the config gives a default priority), answers and failures,
/// cooldowns, the queue's clock, an isolate's local picks, and the retry and
/// fallback lists.
pub fn route_every_group(config: &Config) {
    let policy = &config.router;
    let mut rng = fastrand::Rng::with_seed(3);
    for group in config.groups() {
        let mut coordinator = Coordinator::default();
        let mut now = START_MS;
        for round in 0..6u64 {
            let queue = policy.queue.default_priority.map(|priority| QueueRequest {
                priority,
                max_wait_ms: 30_000,
                waiter: round,
            });
            let request = TicketRequest {
                avoid: vec![],
                estimated_tokens: 100 * round,
                stream: round % 2 == 1,
                queue,
                region: None,
                isolate: round % 3,
            };
            if let Admission::Now(TicketReply::Granted(grant)) =
                coordinator.acquire(now, group, policy, &request, &mut rng)
            {
                let failure = match round % 3 {
                    0 => Some(rate_limited(None)),
                    1 => Some(ReportedFailure { class: FailureClass::Internal, retry_after_ms: Some(2_000) }),
                    _ => None,
                };
                let report =
                    Report { ticket: grant.ticket, latency_ms: 30, ttft_ms: Some(5), tokens_used: Some(150), failure };
                coordinator.report(now + 20, group, policy, &report);
            }
            let _ = coordinator.tick(now, group, policy, &mut rng);
            let _ = coordinator.next_wakeup(now);
            now += 2_500;
        }
        route_locally(&mut coordinator, group, config, now, &mut rng);
        for kind in [FallbackKind::Generic, FallbackKind::ContextWindow, FallbackKind::ContentPolicy] {
            let _ = policy.fallbacks_for(&group.name, kind);
        }
        let _ = policy.retries_for(&group.name, FailureClass::RateLimit, None);
    }
}

fn route_locally(
    coordinator: &mut Coordinator,
    group: &ModelGroup,
    config: &Config,
    now: u64,
    rng: &mut fastrand::Rng,
) {
    let policy = &config.router;
    let mut router = LocalRouter::default();
    router.update(now, now, coordinator.sync_local(now, group, policy, 1, &[], None, 100, rng));
    let mut first = None;
    for turn in 0..6 {
        let ask = Ask {
            avoid: &[],
            estimated_tokens: 100,
            stream: turn % 2 == 0,
            region: None,
            may_wait: false,
            await_slot: false,
        };
        if let LocalPick::Call { deployment, .. } = router.pick(now, group, policy, ask, rng) {
            router.answered(&deployment.id, 100, 120);
            router.timed(&deployment.id, 40, None);
            first.get_or_insert_with(|| deployment.id.clone());
        }
    }
    let served = router.take_served(now);
    let failure = first.map(|id| (id, rate_limited(Some(1_000))));
    router.update(
        now + 1,
        now + 1,
        coordinator.sync_local(now + 1, group, policy, 1, &served, failure.as_ref(), 100, rng),
    );
}
