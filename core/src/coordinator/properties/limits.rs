//! The rate limits and the leases, on random sequences of what a group's traffic
//! does: tickets granted, reported and released, requests waiting in the queue,
//! isolates picking under leases, answering, refreshing their views in order,
//! side by side (the answers arriving in any order) or losing them, and time
//! passing minutes by.
//!
//! - A rate window never admits past its limit: at every step the requests
//!   counted or set aside in the minute stay within the rpm (and the tokens
//!   within the tpm, while answers use no more than their estimates), and so do
//!   the requests actually sent in each minute (tickets, and picks under the
//!   minute's leases).
//! - `max_parallel_requests` is never exceeded: at every step, the tickets in
//!   flight to a deployment and the requests isolates picked to it in their slots
//!   and have not seen answered stay within it (isolates sync when their slots
//!   are due, as the Worker's keeper does, and a slot is given back at once when
//!   the lease says so).
//! - Every lease is settled exactly once: whenever every isolate has refreshed,
//!   the requests the coordinator counted in the minute are exactly those granted
//!   and picked in it, and what it sets aside is exactly the leases the isolates
//!   hold.

use std::collections::HashMap;

use proptest::prelude::*;

use crate::config::{Config, DeploymentId, ModelGroup, load};
use crate::coordinator::local::{Ask, HealthView, LocalPick, LocalRouter, ServedSince};
use crate::coordinator::slots::NO_ISOLATE;
use crate::coordinator::window::MINUTE_MS;
use crate::coordinator::{Admission, Coordinator, QueueRequest, Report, ReportedFailure, TicketReply, TicketRequest};
use crate::failure::FailureClass;

/// A minute and a half before the hour: runs cross a few minutes.
const START_MS: u64 = 1_700_000_010_000;

#[derive(Debug, Clone)]
enum Step {
    /// A request that takes a ticket (trying `a` only when `avoid_b`); with a
    /// priority it may wait in the queue.
    Ticket {
        tokens: u64,
        avoid_b: bool,
        priority: Option<u32>,
    },
    /// The `nth` ticket in flight answers, with `used` (per cent of its estimate).
    Report {
        nth: usize,
        used: u64,
        failure: Option<FailureClass>,
    },
    /// The `nth` ticket in flight is given back unused.
    Release {
        nth: usize,
    },
    /// Waiting requests whose turn came are admitted.
    Tick,
    /// An isolate picks for a request: under its view and leases, else a refresh, else a ticket.
    Pick {
        isolate: usize,
        tokens: u64,
        avoid_b: bool,
    },
    /// A burst: `count` requests for `a` picked by one isolate.
    Burst {
        isolate: usize,
        count: u32,
        tokens: u64,
    },
    /// The `nth` request an isolate picked answers.
    Answer {
        isolate: usize,
        nth: usize,
        used: u64,
    },
    /// An isolate refreshes, and takes the view at once.
    Sync {
        isolate: usize,
        failure: bool,
    },
    /// An isolate refreshes but the answer is still on its way (`arrives: false`:
    /// the message never reached the coordinator).
    Send {
        isolate: usize,
        arrives: bool,
    },
    /// The `nth` view on its way to an isolate arrives (`lost`: the fetch failed).
    Receive {
        isolate: usize,
        nth: usize,
        lost: bool,
    },
    Wait {
        ms: u64,
    },
}

fn step(lossy: bool) -> impl Strategy<Value = Step> {
    let tokens = prop_oneof![3 => 1u64..30, 1 => 30u64..400];
    let percent = prop_oneof![3 => 20u64..=100, 1 => Just(100u64)];
    let failure = prop::option::weighted(
        0.2,
        prop_oneof![Just(FailureClass::RateLimit), Just(FailureClass::Internal), Just(FailureClass::BadRequest)],
    );
    prop_oneof![
        3 => (tokens.clone(), prop::bool::weighted(0.7), prop::option::weighted(0.3, 0u32..3))
            .prop_map(|(tokens, avoid_b, priority)| Step::Ticket { tokens, avoid_b, priority }),
        2 => (any::<usize>(), percent.clone(), failure).prop_map(|(nth, used, failure)| Step::Report { nth, used, failure }),
        1 => any::<usize>().prop_map(|nth| Step::Release { nth }),
        1 => Just(Step::Tick),
        8 => (0usize..2, tokens, prop::bool::weighted(0.7))
            .prop_map(|(isolate, tokens, avoid_b)| Step::Pick { isolate, tokens, avoid_b }),
        2 => (0usize..2, 1u32..100, 1u64..20).prop_map(|(isolate, count, tokens)| Step::Burst { isolate, count, tokens }),
        2 => (0usize..2, any::<usize>(), percent).prop_map(|(isolate, nth, used)| Step::Answer { isolate, nth, used }),
        1 => (0usize..2, prop::bool::weighted(0.1)).prop_map(|(isolate, failure)| Step::Sync { isolate, failure }),
        2 => (0usize..2, prop::bool::weighted(if lossy { 0.8 } else { 1.0 }))
            .prop_map(|(isolate, arrives)| Step::Send { isolate, arrives }),
        2 => (0usize..2, any::<usize>(), prop::bool::weighted(if lossy { 0.2 } else { 0.0 }))
            .prop_map(|(isolate, nth, lost)| Step::Receive { isolate, nth, lost }),
        2 => prop_oneof![9 => 0u64..600, 1 => 600u64..40_000].prop_map(|ms| Step::Wait { ms }),
    ]
}

/// A ticket in flight.
#[derive(Debug)]
struct Ticket {
    id: u64,
    deployment: DeploymentId,
    minute: u64,
    tokens: u64,
}

/// A request an isolate picked and is waiting on.
#[derive(Debug)]
struct Call {
    deployment: DeploymentId,
    tokens: u64,
}

#[derive(Debug, Default)]
struct Isolate {
    router: LocalRouter,
    calls: Vec<Call>,
    /// Views on their way to it, with when each was asked for.
    inbox: Vec<(u64, HealthView)>,
}

/// The group's traffic, and what was sent.
struct Sim {
    config: Config,
    coordinator: Coordinator,
    isolates: [Isolate; 2],
    tickets: Vec<Ticket>,
    /// Waiting requests: waiter id and estimated tokens.
    waiting: Vec<(u64, u64)>,
    next_waiter: u64,
    now: u64,
    rng: fastrand::Rng,
    /// Requests granted or picked per deployment and minute (less tickets given back).
    sent: HashMap<(DeploymentId, u64), u64>,
}

impl Sim {
    fn new(yaml: &str) -> Self {
        let config = load(yaml, &|_| None).unwrap_or_else(|e| panic!("{e}")).config;
        Self {
            config,
            coordinator: Coordinator::default(),
            isolates: Default::default(),
            tickets: Vec::new(),
            waiting: Vec::new(),
            next_waiter: 0,
            now: START_MS,
            rng: fastrand::Rng::with_seed(11),
            sent: HashMap::new(),
        }
    }

    fn group(&self) -> &ModelGroup {
        &self.config.groups()[0]
    }

    fn id(&self, name: &str) -> DeploymentId {
        self.group().deployments.iter().find(|d| d.id.as_str() == name).map(|d| d.id.clone()).unwrap()
    }

    fn minute(&self) -> u64 {
        self.now / MINUTE_MS
    }

    fn send(&mut self, deployment: &DeploymentId, minute: u64) {
        *self.sent.entry((deployment.clone(), minute)).or_default() += 1;
    }

    fn granted(&mut self, reply: TicketReply, tokens: u64) {
        if let TicketReply::Granted(grant) = reply {
            let minute = self.minute();
            self.send(&grant.deployment, minute);
            self.tickets.push(Ticket { id: grant.ticket, deployment: grant.deployment, minute, tokens });
        }
    }

    fn ticket(&mut self, tokens: u64, avoid_b: bool, priority: Option<u32>) {
        let queue = priority.map(|priority| {
            self.next_waiter += 1;
            QueueRequest { priority, max_wait_ms: 20_000, waiter: self.next_waiter }
        });
        let avoid = if avoid_b { vec![self.id("b")] } else { vec![] };
        let request =
            TicketRequest { avoid, estimated_tokens: tokens, stream: false, queue, region: None, isolate: NO_ISOLATE };
        let group = &self.config.groups()[0];
        match self.coordinator.acquire(self.now, group, &self.config.router, &request, &mut self.rng) {
            Admission::Now(reply) => self.granted(reply, tokens),
            Admission::Queued => self.waiting.extend(queue.map(|q| (q.waiter, tokens))),
        }
    }

    fn tick(&mut self) {
        let group = &self.config.groups()[0];
        for (waiter, reply) in self.coordinator.tick(self.now, group, &self.config.router, &mut self.rng) {
            let at = self.waiting.iter().position(|(w, _)| *w == waiter);
            let (_, tokens) =
                self.waiting.remove(at.unwrap_or_else(|| panic!("admitted {waiter}, which never waited")));
            self.granted(reply, tokens);
        }
    }

    fn report(&mut self, nth: usize, percent: u64, failure: Option<FailureClass>) {
        if self.tickets.is_empty() {
            return;
        }
        let ticket = self.tickets.remove(nth % self.tickets.len());
        let failure = failure.map(|class| ReportedFailure { class, retry_after_ms: None });
        let used = ticket.tokens * percent / 100;
        let report = Report { ticket: ticket.id, latency_ms: 50, ttft_ms: None, tokens_used: Some(used), failure };
        let group = &self.config.groups()[0];
        self.coordinator.report(self.now, group, &self.config.router, &report);
    }

    fn release(&mut self, nth: usize) {
        if self.tickets.is_empty() {
            return;
        }
        let ticket = self.tickets.remove(nth % self.tickets.len());
        self.coordinator.release(self.now, ticket.id);
        if let Some(sent) = self.sent.get_mut(&(ticket.deployment, ticket.minute)) {
            *sent -= 1;
        }
    }

    /// A request of isolate `i`: picked locally, refreshing once if it must, else by ticket.
    fn pick(&mut self, i: usize, tokens: u64, avoid_b: bool) {
        let avoid = if avoid_b { vec![self.id("b")] } else { vec![] };
        for refreshed in [false, true] {
            let ask = Ask {
                avoid: &avoid,
                estimated_tokens: tokens,
                stream: false,
                region: None,
                may_wait: false,
                await_slot: false,
            };
            let group = &self.config.groups()[0];
            match self.isolates[i].router.pick(self.now, group, &self.config.router, ask, &mut self.rng) {
                LocalPick::Call { deployment, .. } => {
                    let deployment = deployment.id.clone();
                    // A pick under a lease counts in the lease's minute; another in the next refresh's.
                    let minute =
                        self.isolates[i].router.held_for(&deployment).map_or(self.minute(), |lease| lease.minute);
                    self.send(&deployment, minute);
                    self.isolates[i].calls.push(Call { deployment, tokens });
                    return;
                }
                LocalPick::Refresh if !refreshed => self.sync(i, false),
                // Refused as the coordinator would: nothing is sent.
                LocalPick::Full(_) => return,
                LocalPick::Refresh | LocalPick::Coordinate | LocalPick::Unreachable(_) | LocalPick::AwaitSlot(_) => {
                    break;
                }
            }
        }
        self.ticket(tokens, avoid_b, None);
    }

    fn answer(&mut self, i: usize, nth: usize, percent: u64) {
        let isolate = &mut self.isolates[i];
        if isolate.calls.is_empty() {
            return;
        }
        let call = isolate.calls.remove(nth % isolate.calls.len());
        isolate.router.answered(&call.deployment, call.tokens, call.tokens * percent / 100);
        isolate.router.timed(&call.deployment, 80, None);
        let deployment = self.group().deployments.iter().find(|d| d.id == call.deployment);
        if deployment.is_some_and(|d| LocalRouter::counts_in_flight(d, &self.config.router))
            && self.isolates[i].router.release(&call.deployment, false)
        {
            self.sync(i, false);
        }
    }

    /// Time passes; each isolate syncs when its slots are due, as its keeper does.
    fn wait(&mut self, ms: u64) {
        let end = self.now + ms;
        loop {
            let due = (0..2).filter_map(|i| self.isolates[i].router.sync_due().map(|at| (at, i))).min();
            match due {
                Some((at, i)) if at <= end => {
                    self.now = self.now.max(at);
                    self.sync(i, false);
                }
                _ => break,
            }
        }
        self.now = end;
    }

    /// Requests in flight to `id`: tickets, and isolates' picks not yet answered.
    fn in_flight(&self, id: &DeploymentId) -> usize {
        let tickets = self.tickets.iter().filter(|t| &t.deployment == id).count();
        tickets + self.isolates.iter().map(|i| i.calls.iter().filter(|c| &c.deployment == id).count()).sum::<usize>()
    }

    /// The coordinator takes what isolate `i` served, and answers with a view.
    fn ask_view(&mut self, i: usize, served: &[ServedSince], failure: bool) -> HealthView {
        let failure =
            failure.then(|| (self.id("a"), ReportedFailure { class: FailureClass::RateLimit, retry_after_ms: None }));
        let group = &self.config.groups()[0];
        self.coordinator.sync_local(
            self.now,
            group,
            &self.config.router,
            i as u64 + 1,
            served,
            failure.as_ref(),
            10,
            &mut self.rng,
        )
    }

    fn take(&mut self, i: usize, asked_ms: u64, view: HealthView) {
        self.isolates[i].router.update(asked_ms, self.now, view);
    }

    fn sync(&mut self, i: usize, failure: bool) {
        let served = self.isolates[i].router.take_served(self.now);
        let view = self.ask_view(i, &served, failure);
        self.take(i, self.now, view);
    }

    /// Isolate `i` refreshes, but its answer has not come yet.
    fn send_sync(&mut self, i: usize, arrives: bool) {
        let served = self.isolates[i].router.take_served(self.now);
        if arrives {
            let view = self.ask_view(i, &served, false);
            self.isolates[i].inbox.push((self.now, view));
        }
    }

    fn receive(&mut self, i: usize, nth: usize, lost: bool) {
        let inbox = &mut self.isolates[i].inbox;
        if inbox.is_empty() {
            return;
        }
        let (asked_ms, view) = inbox.remove(nth % inbox.len());
        if !lost {
            self.take(i, asked_ms, view);
        }
    }

    fn run(&mut self, step: &Step) {
        match *step {
            Step::Ticket { tokens, avoid_b, priority } => self.ticket(tokens, avoid_b, priority),
            Step::Report { nth, used, failure } => self.report(nth, used, failure),
            Step::Release { nth } => self.release(nth),
            Step::Tick => self.tick(),
            Step::Pick { isolate, tokens, avoid_b } => self.pick(isolate, tokens, avoid_b),
            Step::Burst { isolate, count, tokens } => {
                for _ in 0..count {
                    self.pick(isolate, tokens, true);
                }
            }
            Step::Answer { isolate, nth, used } => self.answer(isolate, nth, used),
            Step::Sync { isolate, failure } => self.sync(isolate, failure),
            Step::Send { isolate, arrives } => self.send_sync(isolate, arrives),
            Step::Receive { isolate, nth, lost } => self.receive(isolate, nth, lost),
            Step::Wait { ms } => self.wait(ms),
        }
        // The queue is served after every message, as the coordinator's object does.
        self.tick();
    }
}

/// A group of `a` (limited) and `b` (not), routed by `strategy`.
fn group(rpm: u64, tpm: Option<u64>, strategy: &str) -> String {
    let tpm = tpm.map_or(String::new(), |tpm| format!(", tpm: {tpm}"));
    format!(
        "model_list:
  - {{model_name: g, litellm_params: {{model: x, mock_response: a, rpm: {rpm}{tpm}}}, model_info: {{id: a}}}}
  - {{model_name: g, litellm_params: {{model: x, mock_response: b}}, model_info: {{id: b}}}}
router_settings:
  routing_strategy: {strategy}
  cooldown_time: 3
"
    )
}

fn strategy() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("simple-shuffle"), Just("usage-based-routing-v2"), Just("latency-based-routing")]
}

/// The rate limits hold at every step of `steps`.
fn rate_limits_hold(rpm: u64, tpm: Option<u64>, strategy: &str, steps: &[Step]) -> Result<(), TestCaseError> {
    let mut sim = Sim::new(&group(rpm, tpm, strategy));
    let a = sim.id("a");
    for (n, step) in steps.iter().enumerate() {
        sim.run(step);
        let window = sim.coordinator.minute_of(&a, sim.now);
        prop_assert!(window.taken() <= rpm, "step {n}: {window:?} over rpm {rpm}");
        if let Some(tpm) = tpm {
            prop_assert!(window.tokens_taken() <= tpm, "step {n}: {window:?} over tpm {tpm}");
        }
        for ((id, minute), sent) in &sim.sent {
            prop_assert!(id != &a || *sent <= rpm, "step {n}: {sent} sent to a in minute {minute}, rpm {rpm}");
        }
    }
    Ok(())
}

/// `max_parallel_requests` holds at every step of `steps`.
fn in_flight_holds(max: u32, strategy: &str, steps: &[Step]) -> Result<(), TestCaseError> {
    let yaml = group(1_000_000, None, strategy).replace("rpm: 1000000", &format!("max_parallel_requests: {max}"));
    let mut sim = Sim::new(&yaml);
    let a = sim.id("a");
    for (n, step) in steps.iter().enumerate() {
        sim.run(step);
        let in_flight = sim.in_flight(&a);
        prop_assert!(in_flight <= max as usize, "step {n}: {in_flight} in flight to a, max {max}");
    }
    Ok(())
}

/// Every 25 steps (and after the last), every view on its way arrives, every
/// isolate refreshes, and the minute's counts must be exactly what was sent, its
/// leases exactly what the isolates hold. Then the clock moves to the next minute
/// (it moves only then), and when `straddles` says so, one isolate's refresh is
/// answered only in that next minute.
fn leases_settle_once(rpm: u64, strategy: &str, steps: &[Step], straddles: &[bool]) -> Result<(), TestCaseError> {
    let mut sim = Sim::new(&group(rpm, None, strategy));
    let ids = [sim.id("a"), sim.id("b")];
    for (n, step) in steps.iter().enumerate() {
        if let Step::Wait { ms } = step
            && (sim.now + ms) / MINUTE_MS != sim.minute()
        {
            continue;
        }
        sim.run(step);
        if n % 25 != 24 && n != steps.len() - 1 {
            continue;
        }
        for i in 0..2 {
            while !sim.isolates[i].inbox.is_empty() {
                sim.receive(i, n, false);
            }
        }
        for i in 0..2 {
            sim.sync(i, false);
        }
        // A sync may admit a waiting request into the capacity it freed, answered
        // by the tick that follows every message, as the coordinator's object does.
        sim.tick();
        let minute = sim.minute();
        for id in &ids {
            let window = sim.coordinator.minute_of(id, sim.now);
            let sent = sim.sent.get(&(id.clone(), minute)).copied().unwrap_or(0);
            prop_assert_eq!(window.requests, sent, "step {}: {} counted {:?}, sent {}", n, id, window, sent);
            let held: u64 =
                (0..2).filter_map(|i| sim.isolates[i].router.held_for(id)).map(|lease| lease.requests).sum();
            prop_assert_eq!(window.leased, held, "step {}: {} sets aside {:?}, isolates hold {}", n, id, window, held);
        }
        if straddles[(n / 25) % straddles.len()] {
            sim.send_sync(0, true);
        }
        sim.now = (minute + 1) * MINUTE_MS + sim.now % 7_000;
    }
    Ok(())
}

proptest! {
    #![proptest_config(super::config(96))]

    #[test]
    fn a_rate_window_never_admits_past_its_limit(
        rpm in prop_oneof![Just(5u64), Just(20), Just(80), Just(120)],
        tpm in prop::option::of(prop_oneof![Just(600u64), Just(2_000), Just(20_000)]),
        strategy in strategy(),
        steps in prop::collection::vec(step(true), 1..400),
    ) {
        rate_limits_hold(rpm, tpm, strategy, &steps)?;
    }

    #[test]
    fn max_parallel_requests_is_never_exceeded(
        max in prop_oneof![Just(1u32), Just(8), Just(20), Just(60)],
        strategy in prop_oneof![Just("simple-shuffle"), Just("least-busy"), Just("latency-based-routing")],
        steps in prop::collection::vec(step(true), 1..400),
    ) {
        in_flight_holds(max, strategy, &steps)?;
    }

    #[test]
    fn every_lease_is_settled_exactly_once(
        rpm in prop_oneof![Just(80u64), Just(120), Just(1_000)],
        strategy in strategy(),
        steps in prop::collection::vec(step(false), 1..250),
        straddles in prop::collection::vec(any::<bool>(), 10),
    ) {
        leases_settle_once(rpm, strategy, &steps, &straddles)?;
    }
}
