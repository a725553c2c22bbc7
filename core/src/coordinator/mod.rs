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
//!   the cooldown state and the current minute's request, token and failure counts,
//!   so that an rpm limit and a cooldown hold across a restart;
//! - **rebuilt** (memory only): in-flight tickets and latency samples. After a
//!   restart in-flight counts start at zero and latency-based routing relearns.
//!
//! # The life of a request here
//! 1. `acquire`: the deployments that fit the prompt (pre-call checks), that are not
//!    cooling down and that are under their rpm/tpm; then those the request has not
//!    tried yet; then the lowest `order` tier among them; then the routing strategy
//!    picks one. The grant reserves one request and the estimated tokens.
//! 2. `report`: the ticket ends; tokens are reconciled with the actual usage,
//!    latency is recorded, and a failure may start a cooldown.

mod health;
mod strategy;

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::config::{DeploymentId, ModelGroup, RouterPolicy};
use crate::failure::FailureClass;
use health::Health;

const MINUTE_MS: u64 = 60_000;
/// A ticket whose report never came (its isolate died) stops counting as in flight.
const TICKET_TTL_MS: u64 = 10 * MINUTE_MS;
/// Latency samples kept per deployment, at most.
const MAX_SAMPLES: usize = 256;

/// A message from a Worker isolate to a model group's coordinator.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Message {
    /// Answered with a [`TicketReply`].
    Acquire { group: String, request: TicketRequest },
    /// Answered with an empty 204.
    Report { group: String, report: Report },
}

/// What a request asks the coordinator for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TicketRequest {
    /// Deployments this request already tried: chosen only when nothing else is left.
    pub avoid: Vec<DeploymentId>,
    pub estimated_tokens: u64,
    pub stream: bool,
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
}

impl Window {
    fn current(&mut self, now_ms: u64) -> &mut Self {
        let minute = now_ms / MINUTE_MS;
        if self.minute != minute {
            *self = Self { minute, ..Self::default() };
        }
        self
    }
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    at_ms: u64,
    latency_ms: u64,
    ttft_ms: Option<u64>,
}

#[derive(Debug, Default)]
struct DeploymentState {
    health: Health,
    window: Window,
    in_flight: u32,
    samples: VecDeque<Sample>,
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

    pub fn snapshot(&self) -> Snapshot {
        let mut deployments: Vec<_> =
            self.deployments.iter().map(|(id, state)| (id.clone(), state.health, state.window)).collect();
        deployments.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        Snapshot { deployments }
    }

    /// Chooses a deployment for a request, or says why none can be called now.
    pub fn acquire(
        &mut self,
        now_ms: u64,
        group: &ModelGroup,
        policy: &RouterPolicy,
        request: &TicketRequest,
        rng: &mut fastrand::Rng,
    ) -> TicketReply {
        self.sync(group);
        self.expire_tickets(now_ms);

        let fits: Vec<_> = group
            .deployments
            .iter()
            .filter(|d| !policy.pre_call_checks || d.max_input_tokens.is_none_or(|max| request.estimated_tokens <= max))
            .collect();
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
                let window = self.deployments.entry(d.id.clone()).or_default().window.current(now_ms);
                d.rpm.is_none_or(|rpm| window.requests < rpm)
                    && d.tpm.is_none_or(|tpm| window.tokens + request.estimated_tokens <= tpm)
            })
            .collect();
        if open.is_empty() {
            let retry_after_ms = MINUTE_MS - now_ms % MINUTE_MS;
            return TicketReply::Unavailable(Unavailable::RateLimited { retry_after_ms });
        }
        let fresh: Vec<_> = open.into_iter().filter(|d| !request.avoid.contains(&d.id)).collect();
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
                    latency_ms: average_latency(&state.samples, now_ms, policy.latency_ttl_ms, request.stream),
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
        window.requests += 1;
        window.tokens += request.estimated_tokens;
        state.in_flight += 1;
        let grant = Grant {
            ticket,
            deployment: deployment.id.clone(),
            remaining_requests: deployment.rpm.map(|rpm| rpm.saturating_sub(window.requests)),
            remaining_tokens: deployment.tpm.map(|tpm| tpm.saturating_sub(window.tokens)),
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
        let Some(deployment) = group.deployments.iter().find(|d| d.id == ticket.deployment) else {
            return;
        };
        let several = group.deployments.len() > 1;
        let Some(state) = self.deployments.get_mut(&ticket.deployment) else {
            return;
        };
        state.in_flight = state.in_flight.saturating_sub(1);
        let window = state.window.current(now_ms);
        if window.minute == ticket.minute
            && let Some(used) = report.tokens_used
        {
            window.tokens = window.tokens.saturating_sub(ticket.estimated_tokens) + used;
        }
        match report.failure {
            None => {
                state.samples.push_back(Sample {
                    at_ms: now_ms,
                    latency_ms: report.latency_ms,
                    ttft_ms: report.ttft_ms,
                });
                if state.samples.len() > MAX_SAMPLES {
                    state.samples.pop_front();
                }
                state.health.on_success(ticket.probe);
            }
            Some(failure) => {
                window.failures += 1;
                let window = *window;
                let length = cooldown_length(deployment.cooldown_ms, failure.retry_after_ms, policy);
                let may_cool = several && policy.cooldown.enabled && failure.class.counts_for_cooldown() && length > 0;
                state.health.on_failure(health::FailureContext {
                    now_ms,
                    class: failure.class,
                    probe: ticket.probe,
                    may_cool,
                    length_ms: length,
                    allowed_fails: policy.cooldown.allowed_fails_for(failure.class),
                    minute_requests: window.requests,
                    minute_failures: window.failures,
                });
            }
        }
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

/// The deployment's own `cooldown_time`, else the upstream's `Retry-After`, else the
/// router's `cooldown_time`, else 5 s. Zero means no cooldown.
fn cooldown_length(deployment_ms: Option<u64>, retry_after_ms: Option<u64>, policy: &RouterPolicy) -> u64 {
    deployment_ms
        .or(retry_after_ms.filter(|&ms| ms > 0))
        .or(policy.cooldown.cooldown_ms)
        .unwrap_or(crate::config::DEFAULT_COOLDOWN_MS)
}

/// Mean latency over the last `ttl_ms`; for streams, time to first token where
/// known. `None` when there is no sample: such a deployment is tried first.
fn average_latency(samples: &VecDeque<Sample>, now_ms: u64, ttl_ms: u64, stream: bool) -> Option<f64> {
    let recent = samples.iter().filter(|s| now_ms.saturating_sub(s.at_ms) <= ttl_ms);
    let values: Vec<u64> =
        recent.map(|s| if stream { s.ttft_ms.unwrap_or(s.latency_ms) } else { s.latency_ms }).collect();
    (!values.is_empty()).then(|| values.iter().sum::<u64>() as f64 / values.len() as f64)
}

#[cfg(test)]
mod tests;
