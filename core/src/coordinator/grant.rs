//! The selection pipeline: of a group's deployments, those in the area the request
//! allows, then those that fit the prompt,
//! then the healthy, then those under their rpm and tpm, then those under their
//! `max_parallel_requests` (tickets in flight and slots leased to isolates), then those the request has not tried, then the lowest
//! `order` tier; the routing strategy picks one of those, and the grant reserves
//! one request and the estimated tokens. Each stage that leaves nothing says why.

use super::protocol::{Grant, TicketReply, TicketRequest, Unavailable};
use super::slots::NO_ISOLATE;
use super::tickets::Ticket;
use super::window::MINUTE_MS;
use super::{Coordinator, recent, strategy};
use crate::config::{Deployment, ModelGroup, RouterPolicy, RoutingStrategy};
use crate::region::Area;

/// Whether the prompt fits the deployment (checked only with `enable_pre_call_checks`).
pub(super) fn fits(policy: &RouterPolicy, deployment: &Deployment, tokens: u64) -> bool {
    !policy.pre_call_checks || deployment.max_input_tokens.is_none_or(|max| tokens <= max)
}

/// Whether the deployment runs in the area the request allows, if it names one. A
/// deployment whose `region_name` is unknown runs in none. Checked whatever
/// `enable_pre_call_checks` says: a request that asks for data to stay in an area
/// is never served outside it.
pub(super) fn in_region(deployment: &Deployment, area: Option<Area>) -> bool {
    area.is_none_or(|area| deployment.region.as_deref().is_some_and(|region| area.contains(region)))
}

impl Coordinator {
    /// Chooses a deployment for a request now, or says why none can be called now.
    pub(super) fn grant_now(
        &mut self,
        now_ms: u64,
        group: &ModelGroup,
        policy: &RouterPolicy,
        request: &TicketRequest,
        rng: &mut fastrand::Rng,
    ) -> TicketReply {
        let local: Vec<_> = group.deployments.iter().filter(|d| in_region(d, request.region)).collect();
        if local.is_empty() {
            return TicketReply::Unavailable(Unavailable::NoneInRegion);
        }
        let fits: Vec<_> = local.into_iter().filter(|d| fits(policy, d, request.estimated_tokens)).collect();
        if fits.is_empty() {
            return TicketReply::Unavailable(Unavailable::ContextWindowExceeded);
        }
        let mut soonest_healthy: Option<u64> = None;
        let mut healthy = Vec::new();
        for d in fits {
            let state = self.deployments.entry(d.id.clone()).or_default();
            state.health.advance(now_ms);
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
                let taken = in_flight.saturating_add(self.slots.leased(&d.id));
                d.max_parallel_requests.is_none_or(|max| taken < max)
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
                    in_flight: match policy.strategy {
                        // Only least-busy reads it, and the isolates' share is a scan of them all.
                        RoutingStrategy::LeastBusy => {
                            state.in_flight.saturating_add(self.slots.busy_elsewhere(&d.id, NO_ISOLATE))
                        }
                        _ => state.in_flight,
                    },
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
        state.probes += u64::from(probe);
        let window = state.window.current(now_ms);
        window.requests = window.requests.saturating_add(1);
        window.tokens = window.tokens.saturating_add(request.estimated_tokens);
        state.in_flight += 1;
        let grant = Grant {
            ticket,
            deployment: deployment.id.clone(),
            remaining_requests: deployment.rpm.map(|rpm| rpm.saturating_sub(window.taken())),
            remaining_tokens: deployment.tpm.map(|tpm| tpm.saturating_sub(window.tokens_taken())),
            waited_ms: None,
        };
        self.tickets.insert(
            ticket,
            Ticket {
                deployment: deployment.id.clone(),
                granted_ms: now_ms,
                minute: now_ms / MINUTE_MS,
                estimated_tokens: request.estimated_tokens,
                probe,
                waiter: None,
                isolate: request.isolate,
            },
        );
        TicketReply::Granted(grant)
    }
}
