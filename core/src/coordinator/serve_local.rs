//! The coordinator's side of routing without tickets ([`local`](super::local)):
//! it counts what isolates say they sent, sets leases and slots aside for them,
//! and answers with the view they route by next.

use super::health::Health;
use super::local::{Full, HealthView, Lease, MIN_LEASE, ServedSince, TokensLeft, view_life};
use super::protocol::ReportedFailure;
use super::slots::NO_ISOLATE;
use super::window::MINUTE_MS;
use super::{Coordinator, recent};
use crate::config::{DeploymentId, ModelGroup, RouterPolicy, RoutingStrategy};

impl Coordinator {
    /// Takes what an isolate routing by itself has to say (see
    /// [`Message::Sync`](super::Message::Sync)) and answers with the view it routes
    /// by next, with its leases and slots. `isolate` names the isolate that asks.
    #[allow(clippy::too_many_arguments)]
    pub fn sync_local(
        &mut self,
        now_ms: u64,
        group: &ModelGroup,
        policy: &RouterPolicy,
        isolate: u64,
        served: &[ServedSince],
        failure: Option<&(DeploymentId, ReportedFailure)>,
        estimated_tokens: u64,
        rng: &mut fastrand::Rng,
    ) -> HealthView {
        self.forget_removed(group);
        self.expire_tickets(now_ms);
        let epoch = self.isolates.seen(now_ms, isolate);
        for s in served {
            let Some(deployment) = group.deployments.iter().find(|d| d.id == s.deployment) else {
                continue;
            };
            if let Some(since) = s.slots
                && isolate != NO_ISOLATE
            {
                self.slots.settle(isolate, epoch, deployment, since);
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
            for &class in &s.failures {
                self.fail(now_ms, group, policy, &s.deployment, ReportedFailure { class, retry_after_ms: None }, false);
            }
        }
        if let Some((id, failure)) = failure {
            self.fail(now_ms, group, policy, id, *failure, false);
        }
        // What the sync gave back goes to the requests waiting first (answered at
        // the next tick), so that the view says what is left after them.
        let admitted = self.tick(now_ms, group, policy, rng);
        self.ready.extend(admitted);
        let mut view = self.view(now_ms, group);
        // While requests wait, what frees is theirs: nothing is leased.
        if !view.coordinate && !view.queued {
            self.lease(now_ms, group, served, estimated_tokens, &mut view);
            if isolate != NO_ISOLATE {
                view.slot_epoch = epoch;
                self.lease_slots(group, isolate, served, estimated_tokens > 0, &mut view);
            }
        }
        self.mark_full(now_ms, group, &mut view);
        if policy.strategy == RoutingStrategy::LeastBusy {
            for d in &group.deployments {
                let tickets = self.deployments.get(&d.id).map_or(0, |s| s.in_flight);
                view.in_flight.push((d.id.clone(), tickets.saturating_add(self.slots.busy_elsewhere(&d.id, isolate))));
            }
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
    /// each deployment with an rpm or tpm it may call (see [`local`](super::local)
    /// for the sizes): none from a deployment where either limit has too little left.
    fn lease(
        &mut self,
        now_ms: u64,
        group: &ModelGroup,
        served: &[ServedSince],
        estimated_tokens: u64,
        view: &mut HealthView,
    ) {
        let reserve = self.lease_reserve(now_ms);
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
                Some(rpm) => Lease::share(rpm, window.taken(), used_requests.saturating_mul(2), MIN_LEASE, reserve),
                None => Some(0),
            };
            let tokens = match d.tpm {
                Some(tpm) => Lease::share(
                    tpm,
                    window.tokens_taken(),
                    used_tokens.saturating_mul(2),
                    MIN_LEASE.saturating_mul(per_request),
                    reserve,
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

    /// Leases in-flight slots of each deployment with `max_parallel_requests` the
    /// isolate may call (see [`slots`](super::slots) for the sizes); `asking`: a
    /// request asks for the sync (it came with the request's estimate).
    fn lease_slots(
        &mut self,
        group: &ModelGroup,
        isolate: u64,
        served: &[ServedSince],
        asking: bool,
        view: &mut HealthView,
    ) {
        for d in &group.deployments {
            if d.max_parallel_requests.is_none() || view.blocked.contains(&d.id) {
                continue;
            }
            let peak = served.iter().find(|s| s.deployment == d.id).and_then(|s| s.slots).map_or(0, |s| s.peak);
            let in_flight = self.deployments.get(&d.id).map_or(0, |s| s.in_flight);
            let lease = self.slots.share(d, isolate, peak, asking, in_flight);
            self.slots.grant(isolate, &d.id, lease.granted);
            // Near the limit, named even with none granted: the isolate's slots
            // go to waiting requests as they free.
            if lease.granted > 0 || lease.return_at_once {
                view.slots.push((d.id.clone(), lease));
            }
        }
    }

    /// Notes in `view` the deployments with nothing left for anyone, leases and
    /// slots granted included: at their rpm or tpm for the minute (what is never
    /// leased, or a ticket could have, is taken too), or at their `max_parallel_requests`;
    /// and what is left of a tpm once it is down to the part never leased; and
    /// whether the group is saturated ([`HealthView::saturated`]).
    fn mark_full(&mut self, now_ms: u64, group: &ModelGroup, view: &mut HealthView) {
        let minute_left_ms = MINUTE_MS - now_ms % MINUTE_MS;
        let reserve = self.lease_reserve(now_ms);
        for d in &group.deployments {
            let state = self.deployments.entry(d.id.clone()).or_default();
            let in_flight = state.in_flight;
            let window = state.window.current(now_ms);
            let rate =
                d.rpm.is_some_and(|rpm| window.taken() >= rpm) || d.tpm.is_some_and(|tpm| window.tokens_taken() >= tpm);
            let parallel =
                d.max_parallel_requests.is_some_and(|max| in_flight.saturating_add(self.slots.leased(&d.id)) >= max);
            let pace = |used: u64, limit: u64| on_pace(now_ms, used, limit);
            if rate
                || d.rpm.is_some_and(|rpm| pace(window.requests, rpm))
                || d.tpm.is_some_and(|tpm| pace(window.tokens, tpm))
            {
                self.saturated_minute = Some(now_ms / MINUTE_MS);
            }
            if rate {
                view.full.push((d.id.clone(), Full::Rate { retry_after_ms: minute_left_ms }));
            } else if parallel {
                view.full.push((d.id.clone(), Full::Parallel));
            } else if let Some(tpm) = d.tpm {
                let tokens = tpm.saturating_sub(window.tokens_taken());
                if tokens < tpm.div_ceil(reserve) {
                    view.tokens_left.push((d.id.clone(), TokensLeft { tokens, retry_after_ms: minute_left_ms }));
                }
            }
        }
        view.saturated = self.saturated_minute.is_some_and(|minute| minute.saturating_add(1) >= now_ms / MINUTE_MS);
    }

    /// Which deployments an isolate must leave out, and whether it must ask for
    /// tickets instead (a probe is due), or line up (requests wait).
    fn view(&mut self, now_ms: u64, group: &ModelGroup) -> HealthView {
        // Never past the minute: the leases it carries count in this one.
        let minute_left_ms = MINUTE_MS - now_ms % MINUTE_MS;
        let mut view = HealthView {
            blocked: Vec::new(),
            coordinate: false,
            queued: self.queue.as_ref().is_some_and(|queue| !queue.is_empty()),
            queue_best: self
                .queue
                .as_ref()
                .filter(|queue| !queue.ages())
                .and_then(|queue| queue.peek())
                .map(|entry| entry.priority),
            full: Vec::new(),
            tokens_left: Vec::new(),
            fresh_for_ms: view_life(self.isolates.count()).min(minute_left_ms),
            minute: now_ms / MINUTE_MS,
            leases: Vec::new(),
            usage: Vec::new(),
            latency: Vec::new(),
            slots: Vec::new(),
            slot_epoch: 0,
            in_flight: Vec::new(),
            saturated: false,
            relay: self.load.relay(),
        };
        for d in &group.deployments {
            let health = &mut self.deployments.entry(d.id.clone()).or_default().health;
            health.advance(now_ms);
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
}

/// How far into a minute its pace says whether a limit will run out before
/// its end ([`on_pace`]): before, a burst says little.
const PACE_AFTER_MS: u64 = 10_000;

/// Whether `used` of a minute's `limit` by `now_ms` (requests or tokens the
/// isolates told they sent, leases left out: those are set aside ahead of use)
/// reaches the limit before the minute ends at that pace.
fn on_pace(now_ms: u64, used: u64, limit: u64) -> bool {
    let elapsed_ms = now_ms % MINUTE_MS;
    elapsed_ms >= PACE_AFTER_MS
        && u128::from(used) * u128::from(MINUTE_MS) >= u128::from(limit) * u128::from(elapsed_ms)
}
