//! The model group's coordinator: the one place that knows every deployment's
//! health and usage, whatever isolate a request arrives in.
//!
//! A sans-IO state machine: every call takes `now_ms`, nothing reads a clock. The
//! Durable Object (`src/coordinator.rs`) is a thin shell that decodes a message,
//! calls [`Coordinator::acquire`] or [`Coordinator::report`], and persists
//! [`Coordinator::snapshot`].
//!
//! Per deployment it holds:
//! - **persisted** (in the snapshot, survives an eviction of the Durable Object):
//!   the cooldown state, and the current minute's request, token and failure
//!   counts of deployments with rpm/tpm limits, so that limits and cooldowns hold
//!   across a restart;
//! - **rebuilt** (memory only): in-flight tickets, latency samples, the queue, and
//!   the counts of unlimited deployments. After a restart in-flight counts start at
//!   zero and latency-based routing relearns.
//!
//! # The life of a request here
//! 1. `acquire`: the deployments that fit the prompt (pre-call checks), that are not
//!    cooling down and that are under their rpm/tpm; then those the request has not
//!    tried yet; then the lowest `order` tier among them; then the routing strategy
//!    picks one. The grant reserves one request and the estimated tokens.
//! 2. `report`: the ticket ends; tokens are reconciled with the actual usage,
//!    latency is recorded, and a failure may start a cooldown.

mod health;
pub mod local;
mod queue;
mod strategy;

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::config::{Deployment, DeploymentId, ModelGroup, RouterPolicy, RoutingStrategy};
use crate::failure::FailureClass;
use health::Health;
use local::{HealthView, Lease, LocalRouter, MIN_LEASE, Served, VIEW_TTL_MS};
use queue::PriorityQueue;

const MINUTE_MS: u64 = 60_000;
/// A ticket whose report never came (its isolate died) stops counting as in flight.
const TICKET_TTL_MS: u64 = 10 * MINUTE_MS;
/// Latency samples kept per deployment, at most: a ticket's report is one, an
/// isolate's sync one more (the sum of its answers since its last sync).
const MAX_SAMPLES: usize = 256;

/// A message from a Worker isolate to a model group's coordinator.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Message {
    /// Answered with a [`TicketReply`]. `reports` are this isolate's successes that
    /// waited to travel with its next message ([`reports_may_wait`]), applied first.
    Acquire { group: String, request: TicketRequest, reports: Vec<Report> },
    /// Answered with an empty 204.
    Report { group: String, reports: Vec<Report> },
    /// Answered with a [`QueueStatus`].
    Status { group: String },
    /// The client of a waiting request went away. Answered with an empty 204.
    Leave { group: String, waiter: u64 },
    /// From an isolate that routes the group itself ([`local`]): what it sent per
    /// deployment since it last said (settling its leases), the failure of one,
    /// if any, and the estimated tokens of the request that asks (a first lease of
    /// tokens is sized by it). Answered with a fresh [`local::HealthView`].
    Sync {
        group: String,
        served: Vec<Served>,
        failure: Option<(DeploymentId, ReportedFailure)>,
        #[serde(default)]
        estimated_tokens: u64,
    },
}

/// What a group's queue looks like now, for people watching the gateway.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QueueStatus {
    pub group: String,
    pub depth: usize,
    /// Waiting requests per priority.
    pub by_priority: std::collections::BTreeMap<u32, usize>,
    pub oldest_wait_ms: u64,
    /// Requests admitted from the queue, and answered at their deadline, since the
    /// coordinator started.
    pub admitted: u64,
    pub expired: u64,
}

/// What a request asks the coordinator for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TicketRequest {
    /// Deployments this request already tried: chosen only when nothing else is left.
    pub avoid: Vec<DeploymentId>,
    pub estimated_tokens: u64,
    pub stream: bool,
    /// Set for requests that may wait in the group's queue when nothing can serve them.
    pub queue: Option<QueueRequest>,
}

/// A request's place in line: its priority (lower first) and how long it may wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueRequest {
    pub priority: u32,
    pub max_wait_ms: u64,
    /// Names the request in the queue, chosen by the Worker so that it can take
    /// the request out again (`Message::Leave`).
    pub waiter: u64,
}

/// What `acquire` does with a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Admission {
    /// Answered at once.
    Now(TicketReply),
    /// Waiting in the queue: a later [`Coordinator::tick`] answers it.
    Queued,
}

/// The coordinator's answer to a [`TicketRequest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TicketReply {
    Granted(Grant),
    Unavailable(Unavailable),
}

/// Permission to call one deployment now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grant {
    pub ticket: u64,
    pub deployment: DeploymentId,
    pub remaining_requests: Option<u64>,
    pub remaining_tokens: Option<u64>,
}

/// Why no deployment can be called now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Unavailable {
    /// Only deployments this request already tried are available.
    OnlyAvoided,
    /// Every deployment (that fits the prompt) is cooling down.
    AllCoolingDown { retry_after_ms: u64 },
    /// Every available deployment is at its rpm or tpm for this minute.
    RateLimited { retry_after_ms: u64 },
    /// The prompt is longer than every deployment's `max_input_tokens`.
    ContextWindowExceeded,
    /// Every available deployment is at its `max_parallel_requests`.
    Busy,
    /// The group's queue holds `max_queue_size` requests already.
    QueueFull { max: usize },
    /// The request waited in the queue until its deadline.
    QueueTimeout { waited_ms: u64, position: usize },
}

impl Unavailable {
    /// Whether capacity comes back by itself (a request finishing, a cooldown
    /// ending, a new minute): what a request may wait out in the queue.
    pub fn passes_with_time(&self) -> bool {
        match self {
            Self::Busy | Self::RateLimited { .. } | Self::AllCoolingDown { .. } => true,
            Self::OnlyAvoided | Self::ContextWindowExceeded | Self::QueueFull { .. } | Self::QueueTimeout { .. } => {
                false
            }
        }
    }
}

/// How a ticket ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub ticket: u64,
    pub latency_ms: u64,
    /// Time to first token, for streams.
    pub ttft_ms: Option<u64>,
    pub tokens_used: Option<u64>,
    pub failure: Option<ReportedFailure>,
}

/// Answers' latencies, summed: those of one answer (a ticket's report), of an
/// isolate's answers between two syncs, or of a deployment's recent samples.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timings {
    pub answers: u64,
    /// Their whole latencies.
    pub latency_ms: u64,
    /// Their times to first token: a stream's own, else the whole latency.
    pub first_token_ms: u64,
}

impl Timings {
    pub fn one(latency_ms: u64, ttft_ms: Option<u64>) -> Self {
        Self { answers: 1, latency_ms, first_token_ms: ttft_ms.unwrap_or(latency_ms) }
    }

    pub fn add(&mut self, other: Timings) {
        self.answers = self.answers.saturating_add(other.answers);
        self.latency_ms = self.latency_ms.saturating_add(other.latency_ms);
        self.first_token_ms = self.first_token_ms.saturating_add(other.first_token_ms);
    }

    /// The mean latency, or for a stream the mean time to first token, that
    /// latency-based routing compares. `None` without answers: such a deployment
    /// is tried first.
    pub fn average(&self, stream: bool) -> Option<f64> {
        let sum = if stream { self.first_token_ms } else { self.latency_ms };
        (self.answers > 0).then(|| sum as f64 / self.answers as f64)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ReportedFailure {
    pub class: FailureClass,
    pub retry_after_ms: Option<u64>,
}

/// The persisted part of the state (see the module doc).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    deployments: Vec<(DeploymentId, Health, Window)>,
}

/// One minute of a deployment's usage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
struct Window {
    minute: u64,
    requests: u64,
    tokens: u64,
    failures: u64,
    /// Requests and tokens set aside for isolates' leases and not yet settled.
    #[serde(default)]
    leased: u64,
    #[serde(default)]
    leased_tokens: u64,
}

impl Window {
    fn current(&mut self, now_ms: u64) -> &mut Self {
        let minute = now_ms / MINUTE_MS;
        if self.minute != minute {
            *self = Self { minute, ..Self::default() };
        }
        self
    }

    /// Requests counted or set aside this minute: what the rpm is held against.
    fn taken(&self) -> u64 {
        self.requests.saturating_add(self.leased)
    }

    /// Tokens counted or set aside this minute: what the tpm is held against.
    fn tokens_taken(&self) -> u64 {
        self.tokens.saturating_add(self.leased_tokens)
    }

    /// Whether one more request of `tokens` stays within the deployment's rpm and tpm.
    fn admits(&self, deployment: &Deployment, tokens: u64) -> bool {
        deployment.rpm.is_none_or(|rpm| self.taken() < rpm)
            && deployment.tpm.is_none_or(|tpm| self.tokens_taken().saturating_add(tokens) <= tpm)
    }

    /// Counts what an isolate reports it sent (tokens may be a correction below zero).
    fn count(&mut self, requests: u64, tokens: i64) {
        self.requests = self.requests.saturating_add(requests);
        self.tokens = self.tokens.saturating_add_signed(tokens);
    }
}

/// Whether the report of a successful ticket may wait, at most a moment, to travel
/// with the isolate's next message to the coordinator instead of one of its own:
/// only where no one waits on it to free capacity (no `max_parallel_requests`) and
/// no strategy reads the requests in flight. Failures never wait: they may start a
/// cooldown the next attempt must see.
pub fn reports_may_wait(group: &ModelGroup, policy: &RouterPolicy) -> bool {
    !matches!(policy.strategy, RoutingStrategy::LeastBusy)
        && group.deployments.iter().all(|d| d.max_parallel_requests.is_none())
}

/// Whether the prompt fits the deployment (checked only with `enable_pre_call_checks`).
fn fits(policy: &RouterPolicy, deployment: &Deployment, tokens: u64) -> bool {
    !policy.pre_call_checks || deployment.max_input_tokens.is_none_or(|max| tokens <= max)
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    at_ms: u64,
    timings: Timings,
}

#[derive(Debug, Default)]
struct DeploymentState {
    health: Health,
    window: Window,
    in_flight: u32,
    samples: VecDeque<Sample>,
}

impl DeploymentState {
    fn sample(&mut self, now_ms: u64, timings: Timings) {
        self.samples.push_back(Sample { at_ms: now_ms, timings });
        if self.samples.len() > MAX_SAMPLES {
            self.samples.pop_front();
        }
    }
}

#[derive(Debug, Clone)]
struct Ticket {
    deployment: DeploymentId,
    granted_ms: u64,
    minute: u64,
    estimated_tokens: u64,
    probe: bool,
}

/// The coordinator of one model group.
#[derive(Debug, Default)]
pub struct Coordinator {
    deployments: HashMap<DeploymentId, DeploymentState>,
    tickets: HashMap<u64, Ticket>,
    next_ticket: u64,
    /// Waiting requests by waiter id (rebuilt: a restart answers them, see the shell).
    queue: Option<PriorityQueue<TicketRequest>>,
    admitted: u64,
    expired: u64,
}

impl Coordinator {
    pub fn restore(snapshot: Snapshot) -> Self {
        let deployments = snapshot
            .deployments
            .into_iter()
            .map(|(id, health, window)| (id, DeploymentState { health, window, ..DeploymentState::default() }))
            .collect();
        Self { deployments, ..Self::default() }
    }

    /// What must survive an eviction: every deployment's health, and the minute's
    /// counts of those with rpm/tpm limits (so that the limits hold across a
    /// restart). Other counts only steer usage-based routing and are rebuilt, which
    /// keeps the snapshot unchanged, and unwritten, while nothing that matters changes.
    pub fn snapshot(&self, group: &ModelGroup) -> Snapshot {
        let limited =
            |id: &DeploymentId| group.deployments.iter().any(|d| &d.id == id && (d.rpm.is_some() || d.tpm.is_some()));
        let mut deployments: Vec<_> = self
            .deployments
            .iter()
            .map(|(id, state)| (id.clone(), state.health, if limited(id) { state.window } else { Window::default() }))
            .collect();
        deployments.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        Snapshot { deployments }
    }

    /// Chooses a deployment for a request now, or queues it (when it may wait and
    /// nothing can serve it), or says why nothing can. A queued request is named
    /// by its `waiter` in what [`Coordinator::tick`] returns.
    pub fn acquire(
        &mut self,
        now_ms: u64,
        group: &ModelGroup,
        policy: &RouterPolicy,
        request: &TicketRequest,
        rng: &mut fastrand::Rng,
    ) -> Admission {
        self.sync(group);
        self.expire_tickets(now_ms);
        let waiting = self.queue.as_ref().is_some_and(|queue| !queue.is_empty());
        let reply = match request.queue {
            // Others wait already: this request takes its place in line behind them.
            Some(_) if waiting => TicketReply::Unavailable(Unavailable::Busy),
            _ => self.grant_now(now_ms, group, policy, request, rng),
        };
        let Some(QueueRequest { priority, max_wait_ms, waiter }) = request.queue else {
            return Admission::Now(reply);
        };
        match reply {
            TicketReply::Unavailable(reason) if reason.passes_with_time() => {
                // Known already to be too late: say so now rather than at the deadline.
                if self
                    .earliest_capacity(now_ms, group, policy, request)
                    .is_some_and(|at| at > now_ms.saturating_add(max_wait_ms))
                {
                    return Admission::Now(TicketReply::Unavailable(reason));
                }
                let queue = self.queue.get_or_insert_with(|| PriorityQueue::new(policy.queue.aging_ms));
                if let Some(max) = policy.queue.max_size
                    && queue.len() >= max
                {
                    return Admission::Now(TicketReply::Unavailable(Unavailable::QueueFull { max }));
                }
                queue.push(waiter, priority, now_ms, now_ms.saturating_add(max_wait_ms), request.clone());
                Admission::Queued
            }
            other => Admission::Now(other),
        }
    }

    /// Answers waiting requests: first those whose deadline came (with how long
    /// they waited and their place in line), then, strictly in order, as many as
    /// can be served now. Call it after every message, and at
    /// [`Coordinator::next_wakeup`].
    pub fn tick(
        &mut self,
        now_ms: u64,
        group: &ModelGroup,
        policy: &RouterPolicy,
        rng: &mut fastrand::Rng,
    ) -> Vec<(u64, TicketReply)> {
        let Some(mut queue) = self.queue.take() else {
            return Vec::new();
        };
        self.sync(group);
        self.expire_tickets(now_ms);
        let mut answers: Vec<(u64, TicketReply)> = queue
            .expire(now_ms)
            .into_iter()
            .map(|(entry, position)| {
                let waited_ms = now_ms.saturating_sub(entry.enqueued_ms);
                (entry.id, TicketReply::Unavailable(Unavailable::QueueTimeout { waited_ms, position }))
            })
            .collect();
        self.expired += answers.len() as u64;
        while let Some((id, request)) = queue.peek().map(|head| (head.id, head.payload.clone())) {
            match self.grant_now(now_ms, group, policy, &request, rng) {
                TicketReply::Unavailable(reason) if reason.passes_with_time() => break,
                // Granted, or an answer that waiting will not change.
                reply => {
                    queue.pop();
                    self.admitted += 1;
                    answers.push((id, reply));
                }
            }
        }
        self.queue = Some(queue);
        answers
    }

    /// The earliest time a deployment can serve `request` again, when only time
    /// stands in the way (cooldowns ending, a new minute). `None` when a deployment
    /// waits only for requests in flight: one may finish at any moment.
    fn earliest_capacity(
        &mut self,
        now_ms: u64,
        group: &ModelGroup,
        policy: &RouterPolicy,
        request: &TicketRequest,
    ) -> Option<u64> {
        let next_minute = now_ms - now_ms % MINUTE_MS + MINUTE_MS;
        let mut earliest: Option<u64> = None;
        for d in &group.deployments {
            if !fits(policy, d, request.estimated_tokens) {
                continue;
            }
            let state = self.deployments.entry(d.id.clone()).or_default();
            let healthy_at = state.health.available_at(now_ms).unwrap_or(now_ms);
            let over_rate = !state.window.current(now_ms).admits(d, request.estimated_tokens);
            if healthy_at <= now_ms && !over_rate {
                return None; // busy with requests in flight
            }
            let at = healthy_at.max(if over_rate { next_minute } else { now_ms });
            earliest = Some(earliest.map_or(at, |e| e.min(at)));
        }
        earliest
    }

    /// When capacity may come back without a report (a cooldown ends, a stale probe
    /// is given up, a new minute starts) or a waiting request's deadline comes:
    /// the time to call [`Coordinator::tick`] again. `None` while nobody waits.
    pub fn next_wakeup(&self, now_ms: u64) -> Option<u64> {
        let queue = self.queue.as_ref().filter(|q| !q.is_empty())?;
        let next_minute = now_ms - now_ms % MINUTE_MS + MINUTE_MS;
        let wake = self
            .deployments
            .values()
            .filter_map(|state| state.health.next_change())
            .chain(queue.next_deadline())
            .fold(next_minute, u64::min);
        Some(wake.max(now_ms + 1))
    }

    pub fn queue_status(&self, now_ms: u64, group: &str) -> QueueStatus {
        let (by_priority, oldest_wait_ms) = self.queue.as_ref().map(|q| q.depth(now_ms)).unwrap_or_default();
        QueueStatus {
            group: group.to_owned(),
            depth: by_priority.values().sum(),
            by_priority,
            oldest_wait_ms,
            admitted: self.admitted,
            expired: self.expired,
        }
    }

    /// Takes a waiting request out of the queue (its client went away).
    pub fn leave_queue(&mut self, waiter: u64) {
        if let Some(queue) = self.queue.as_mut() {
            queue.remove(waiter);
        }
    }

    /// Gives back a grant that was never used (its client went away): the request
    /// did not happen, so it counts neither in flight nor against the minute.
    pub fn release(&mut self, now_ms: u64, ticket: u64) {
        let Some(ticket) = self.tickets.remove(&ticket) else {
            return;
        };
        if let Some(state) = self.deployments.get_mut(&ticket.deployment) {
            state.in_flight = state.in_flight.saturating_sub(1);
            if ticket.probe {
                state.health.abandon_probe(ticket.granted_ms);
            }
            let window = state.window.current(now_ms);
            if window.minute == ticket.minute {
                window.requests = window.requests.saturating_sub(1);
                window.tokens = window.tokens.saturating_sub(ticket.estimated_tokens);
            }
        }
    }

    /// Chooses a deployment for a request now, or says why none can be called now.
    fn grant_now(
        &mut self,
        now_ms: u64,
        group: &ModelGroup,
        policy: &RouterPolicy,
        request: &TicketRequest,
        rng: &mut fastrand::Rng,
    ) -> TicketReply {
        let fits: Vec<_> = group.deployments.iter().filter(|d| fits(policy, d, request.estimated_tokens)).collect();
        if fits.is_empty() {
            return TicketReply::Unavailable(Unavailable::ContextWindowExceeded);
        }
        let mut soonest_healthy: Option<u64> = None;
        let mut healthy = Vec::new();
        for d in fits {
            let state = self.deployments.entry(d.id.clone()).or_default();
            match state.health.available_at(now_ms) {
                None => healthy.push(d),
                Some(at) => soonest_healthy = Some(soonest_healthy.map_or(at, |s| s.min(at))),
            }
        }
        if healthy.is_empty() {
            let retry_after_ms = soonest_healthy.unwrap_or(0).saturating_sub(now_ms);
            return TicketReply::Unavailable(Unavailable::AllCoolingDown { retry_after_ms });
        }
        let open: Vec<_> = healthy
            .into_iter()
            .filter(|d| {
                self.deployments
                    .entry(d.id.clone())
                    .or_default()
                    .window
                    .current(now_ms)
                    .admits(d, request.estimated_tokens)
            })
            .collect();
        if open.is_empty() {
            let retry_after_ms = MINUTE_MS - now_ms % MINUTE_MS;
            return TicketReply::Unavailable(Unavailable::RateLimited { retry_after_ms });
        }
        let free: Vec<_> = open
            .into_iter()
            .filter(|d| {
                let in_flight = self.deployments.get(&d.id).map_or(0, |s| s.in_flight);
                d.max_parallel_requests.is_none_or(|max| in_flight < max)
            })
            .collect();
        if free.is_empty() {
            return TicketReply::Unavailable(Unavailable::Busy);
        }
        let fresh: Vec<_> = free.into_iter().filter(|d| !request.avoid.contains(&d.id)).collect();
        let Some(tier) = fresh.iter().map(|d| d.order).min() else {
            return TicketReply::Unavailable(Unavailable::OnlyAvoided);
        };
        let tier: Vec<_> = fresh.into_iter().filter(|d| d.order == tier).collect();

        let candidates: Vec<_> = tier
            .iter()
            .map(|d| {
                let state = self.deployments.entry(d.id.clone()).or_default();
                strategy::Candidate {
                    deployment: d,
                    tokens: state.window.tokens,
                    requests: state.window.requests,
                    in_flight: state.in_flight,
                    latency_ms: recent(&state.samples, now_ms, policy.latency_ttl_ms).average(request.stream),
                }
            })
            .collect();
        let Some(chosen) = strategy::choose(policy.strategy, &candidates, policy.latency_buffer, rng) else {
            return TicketReply::Unavailable(Unavailable::OnlyAvoided);
        };
        let deployment = chosen.deployment;

        let ticket = self.next_ticket;
        self.next_ticket += 1;
        let state = self.deployments.entry(deployment.id.clone()).or_default();
        let probe = state.health.start_probe(ticket, now_ms);
        let window = state.window.current(now_ms);
        window.requests = window.requests.saturating_add(1);
        window.tokens = window.tokens.saturating_add(request.estimated_tokens);
        state.in_flight += 1;
        let grant = Grant {
            ticket,
            deployment: deployment.id.clone(),
            remaining_requests: deployment.rpm.map(|rpm| rpm.saturating_sub(window.taken())),
            remaining_tokens: deployment.tpm.map(|tpm| tpm.saturating_sub(window.tokens_taken())),
        };
        self.tickets.insert(
            ticket,
            Ticket {
                deployment: deployment.id.clone(),
                granted_ms: now_ms,
                minute: now_ms / MINUTE_MS,
                estimated_tokens: request.estimated_tokens,
                probe,
            },
        );
        TicketReply::Granted(grant)
    }

    /// Ends a ticket. A report for an unknown ticket (expired, or granted before a
    /// restart) is ignored.
    pub fn report(&mut self, now_ms: u64, group: &ModelGroup, policy: &RouterPolicy, report: &Report) {
        let Some(ticket) = self.tickets.remove(&report.ticket) else {
            return;
        };
        let Some(state) = self.deployments.get_mut(&ticket.deployment) else {
            return;
        };
        state.in_flight = state.in_flight.saturating_sub(1);
        let window = state.window.current(now_ms);
        if window.minute == ticket.minute
            && let Some(used) = report.tokens_used
        {
            window.tokens = window.tokens.saturating_sub(ticket.estimated_tokens).saturating_add(used);
        }
        match report.failure {
            None => {
                state.sample(now_ms, Timings::one(report.latency_ms, report.ttft_ms));
                state.health.on_success(ticket.probe);
            }
            Some(failure) => self.fail(now_ms, group, policy, &ticket.deployment, failure, ticket.probe),
        }
    }

    /// Takes what an isolate routing by itself has to say (see [`Message::Sync`])
    /// and answers with the view it routes by next, with its leases.
    pub fn sync_local(
        &mut self,
        now_ms: u64,
        group: &ModelGroup,
        policy: &RouterPolicy,
        served: &[Served],
        failure: Option<&(DeploymentId, ReportedFailure)>,
        estimated_tokens: u64,
    ) -> HealthView {
        self.sync(group);
        for s in served {
            if !group.deployments.iter().any(|d| d.id == s.deployment) {
                continue;
            }
            let state = self.deployments.entry(s.deployment.clone()).or_default();
            if s.timings.answers > 0 {
                state.sample(now_ms, s.timings);
            }
            let window = state.window.current(now_ms);
            match s.lease {
                // What was used counts; the rest goes back to the minute.
                Some(lease) if lease.minute == window.minute => {
                    window.leased = window.leased.saturating_sub(lease.requests);
                    window.leased_tokens = window.leased_tokens.saturating_sub(lease.tokens);
                    window.count(s.requests, s.tokens);
                }
                // Counted in its own minute when it was granted.
                Some(_) => {}
                None => window.count(s.requests, s.tokens),
            }
        }
        if let Some((id, failure)) = failure {
            self.fail(now_ms, group, policy, id, *failure, false);
        }
        let mut view = self.view(now_ms, group);
        if !view.coordinate && LocalRouter::eligible(group, policy) {
            self.lease(now_ms, group, served, estimated_tokens, &mut view);
        }
        if policy.strategy == RoutingStrategy::UsageBased {
            for d in &group.deployments {
                let window = *self.deployments.entry(d.id.clone()).or_default().window.current(now_ms);
                view.usage.push((d.id.clone(), window.tokens, window.requests));
            }
        }
        if policy.strategy == RoutingStrategy::LatencyBased {
            for d in &group.deployments {
                let state = self.deployments.entry(d.id.clone()).or_default();
                let timings = recent(&state.samples, now_ms, policy.latency_ttl_ms);
                if timings.answers > 0 {
                    view.latency.push((d.id.clone(), timings));
                }
            }
        }
        view
    }

    /// Sets requests and tokens aside for the isolate that asked for `view`, from
    /// each deployment with an rpm or tpm it may call (see [`local`] for the sizes):
    /// none from a deployment where either limit has too little left.
    fn lease(
        &mut self,
        now_ms: u64,
        group: &ModelGroup,
        served: &[Served],
        estimated_tokens: u64,
        view: &mut HealthView,
    ) {
        for d in &group.deployments {
            if (d.rpm.is_none() && d.tpm.is_none()) || view.blocked.contains(&d.id) {
                continue;
            }
            // What the isolate used of its last lease of `d`, if it held one.
            let used = served.iter().find(|s| s.deployment == d.id && s.lease.is_some());
            let (used_requests, used_tokens) = used.map_or((0, 0), |s| (s.requests, s.tokens.max(0).unsigned_abs()));
            let per_request = used_tokens.checked_div(used_requests).unwrap_or(estimated_tokens).max(1);
            let window = self.deployments.entry(d.id.clone()).or_default().window.current(now_ms);
            let requests = match d.rpm {
                Some(rpm) => Lease::share(rpm, window.taken(), used_requests.saturating_mul(2), MIN_LEASE),
                None => Some(0),
            };
            let tokens = match d.tpm {
                Some(tpm) => Lease::share(
                    tpm,
                    window.tokens_taken(),
                    used_tokens.saturating_mul(2),
                    MIN_LEASE.saturating_mul(per_request),
                ),
                None => Some(0),
            };
            let (Some(requests), Some(tokens)) = (requests, tokens) else {
                continue;
            };
            window.leased = window.leased.saturating_add(requests);
            window.leased_tokens = window.leased_tokens.saturating_add(tokens);
            view.leases.push((
                d.id.clone(),
                Lease {
                    minute: window.minute,
                    requests,
                    tokens,
                    remaining_requests: d.rpm.map_or(0, |rpm| rpm.saturating_sub(window.taken())),
                    remaining_tokens: d.tpm.map_or(0, |tpm| tpm.saturating_sub(window.tokens_taken())),
                },
            ));
        }
    }

    /// Which deployments an isolate must leave out, and whether it must ask for
    /// tickets instead (a probe is due, or requests wait).
    fn view(&mut self, now_ms: u64, group: &ModelGroup) -> HealthView {
        // Never past the minute: the leases it carries count in this one.
        let minute_left_ms = MINUTE_MS - now_ms % MINUTE_MS;
        let mut view = HealthView {
            blocked: Vec::new(),
            coordinate: self.queue.as_ref().is_some_and(|queue| !queue.is_empty()),
            fresh_for_ms: VIEW_TTL_MS.min(minute_left_ms),
            minute: now_ms / MINUTE_MS,
            leases: Vec::new(),
            usage: Vec::new(),
            latency: Vec::new(),
        };
        for d in &group.deployments {
            let health = &mut self.deployments.entry(d.id.clone()).or_default().health;
            match health.available_at(now_ms) {
                Some(at) => {
                    view.blocked.push(d.id.clone());
                    view.fresh_for_ms = view.fresh_for_ms.min(at.saturating_sub(now_ms));
                }
                // The cooldown is over: its probe must be the only request until it answers.
                None if matches!(health, Health::HalfOpen { .. }) => view.coordinate = true,
                None => {}
            }
        }
        view
    }

    /// Counts a failure of `id`, which may cool it down (see [`Health::on_failure`]).
    fn fail(
        &mut self,
        now_ms: u64,
        group: &ModelGroup,
        policy: &RouterPolicy,
        id: &DeploymentId,
        failure: ReportedFailure,
        probe: bool,
    ) {
        let Some(deployment) = group.deployments.iter().find(|d| &d.id == id) else {
            return;
        };
        let several = group.deployments.len() > 1;
        let state = self.deployments.entry(id.clone()).or_default();
        let window = state.window.current(now_ms);
        window.failures += 1;
        let window = *window;
        let length = cooldown_length(deployment.cooldown_ms, failure.retry_after_ms, policy);
        let may_cool = several && policy.cooldown.enabled && failure.class.counts_for_cooldown() && length > 0;
        state.health.on_failure(health::FailureContext {
            now_ms,
            class: failure.class,
            probe,
            may_cool,
            length_ms: length,
            allowed_fails: policy.cooldown.allowed_fails_for(failure.class),
            minute_requests: window.requests,
            minute_failures: window.failures,
        });
    }

    /// Forgets deployments that left the group (the config changed).
    fn sync(&mut self, group: &ModelGroup) {
        self.deployments.retain(|id, _| group.deployments.iter().any(|d| &d.id == id));
    }

    fn expire_tickets(&mut self, now_ms: u64) {
        let deployments = &mut self.deployments;
        self.tickets.retain(|_, ticket| {
            let alive = now_ms.saturating_sub(ticket.granted_ms) < TICKET_TTL_MS;
            if !alive && let Some(state) = deployments.get_mut(&ticket.deployment) {
                state.in_flight = state.in_flight.saturating_sub(1);
                state.health.abandon_probe(ticket.granted_ms);
            }
            alive
        });
    }
}

#[cfg(test)]
impl Coordinator {
    /// `id`'s counts in the minute of `now_ms` (all zero when nothing counted in
    /// it yet): what the property tests hold the rpm and tpm against.
    fn minute_of(&self, id: &DeploymentId, now_ms: u64) -> Window {
        self.deployments
            .get(id)
            .map(|state| state.window)
            .filter(|w| w.minute == now_ms / MINUTE_MS)
            .unwrap_or_default()
    }
}

/// The deployment's own `cooldown_time`, else the upstream's `Retry-After`, else the
/// router's `cooldown_time`, else 5 s. Zero means no cooldown.
fn cooldown_length(deployment_ms: Option<u64>, retry_after_ms: Option<u64>, policy: &RouterPolicy) -> u64 {
    deployment_ms
        .or(retry_after_ms.filter(|&ms| ms > 0))
        .or(policy.cooldown.cooldown_ms)
        .unwrap_or(crate::config::DEFAULT_COOLDOWN_MS)
}

/// The samples of the last `ttl_ms`, summed: what latency-based routing averages.
fn recent(samples: &VecDeque<Sample>, now_ms: u64, ttl_ms: u64) -> Timings {
    let mut sum = Timings::default();
    for sample in samples.iter().filter(|s| now_ms.saturating_sub(s.at_ms) <= ttl_ms) {
        sum.add(sample.timings);
    }
    sum
}

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;
