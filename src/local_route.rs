//! The isolate's side of routing without tickets (`switchyard_core::coordinator::local`):
//! one [`LocalRouter`] per group for the isolate's life, refreshed from the
//! group's coordinator.

use std::cell::RefCell;
use std::collections::HashMap;

use switchyard_core::config::{Deployment, DeploymentId, ModelGroup, RouterPolicy};
use switchyard_core::coordinator::ReportedFailure;
use switchyard_core::coordinator::local::{Ask, Lease, LocalPick, LocalRouter, Outage};
use switchyard_core::error::ApiError;
use worker::Env;

use crate::durable::CallError;
use crate::respond::Limits;
use crate::{coordinator, runtime};

thread_local! {
    static ROUTERS: RefCell<HashMap<String, LocalRouter>> = RefCell::new(HashMap::new());
}

fn with_router<T>(group: &str, f: impl FnOnce(&mut LocalRouter) -> T) -> T {
    // Looked up before `entry`, which would allocate the key on every request.
    ROUTERS.with_borrow_mut(|routers| match routers.get_mut(group) {
        Some(router) => f(router),
        None => f(routers.entry(group.to_owned()).or_default()),
    })
}

/// The leases this isolate holds for `group` (`GET /debug/state`).
pub fn held(group: &str) -> Vec<(DeploymentId, Lease)> {
    ROUTERS.with_borrow(|routers| routers.get(group).map(LocalRouter::held).unwrap_or_default())
}

/// The deployment to call without a ticket, with what its lease says is left of its
/// rpm and tpm; `Ok(None)` when the request must take a ticket (the group needs
/// coordination); the error to answer when only the coordinator could admit the
/// request and it could not be reached lately (`core::coordinator::local::outage`).
pub async fn pick<'g>(
    env: &Env,
    group: &'g ModelGroup,
    policy: &RouterPolicy,
    ask: Ask<'_>,
    rng: &mut fastrand::Rng,
) -> Result<Option<(&'g Deployment, Limits)>, ApiError> {
    if !LocalRouter::eligible(group, policy) {
        return Ok(None);
    }
    let mut refreshed = false;
    loop {
        let now = runtime::now_ms() as u64;
        match with_router(&group.name, |r| r.pick(now, group, policy, ask, rng)) {
            LocalPick::Call { deployment, remaining_requests, remaining_tokens } => {
                return Ok(Some((deployment, Limits { requests: remaining_requests, tokens: remaining_tokens })));
            }
            LocalPick::Coordinate => return Ok(None),
            LocalPick::Unreachable(outage) => return Err(outage.error(&group.name)),
            // A view just fetched that is already stale (a cooldown ending now), or
            // whose lease is used up already: ask for a ticket.
            LocalPick::Refresh if refreshed => return Ok(None),
            // A failed refresh marks the router: the next pick routes by the old
            // view or answers Unreachable, never Refresh.
            LocalPick::Refresh => {
                refresh(env, &group.name, None, ask.estimated_tokens).await;
                refreshed = true;
            }
        }
    }
}

/// A ticket for `group` could not be had: its picks ask the coordinator nothing
/// for a while (see [`LocalRouter::unreachable`]).
pub fn unreachable(group: &str, error: &ApiError) {
    let outage = match error {
        ApiError::CoordinatorOverloaded { .. } => Outage::Overloaded,
        ApiError::CoordinatorUnavailable { .. } => Outage::Unreachable,
        _ => return,
    };
    let now = runtime::now_ms() as u64;
    ROUTERS.with_borrow_mut(|routers| {
        if let Some(router) = routers.get_mut(group) {
            router.unreachable(now, outage);
        }
    });
}

/// Tells the coordinator that a call without a ticket failed, and takes the view
/// it answers with, so that the next pick already sees a cooldown it started.
pub async fn failed(env: &Env, group: &str, deployment: &DeploymentId, failure: ReportedFailure) {
    refresh(env, group, Some((deployment.clone(), failure)), 0).await;
}

/// An answer of a deployment picked here came after `latency_ms` (a stream's first
/// token after `ttft_ms`; see [`LocalRouter::timed`]); `tokens`: the estimate of
/// its pick and what it used, where they count (see [`LocalRouter::answered`]).
pub fn answered(
    group: &str,
    deployment: &DeploymentId,
    latency_ms: u64,
    ttft_ms: Option<u64>,
    tokens: Option<(u64, u64)>,
) {
    with_router(group, |r| {
        r.timed(deployment, latency_ms, ttft_ms);
        if let Some((estimated, used)) = tokens {
            r.answered(deployment, estimated, used);
        }
    });
}

/// Sends what this isolate served since it last said (and a failure), settling its
/// leases, and takes the fresh view. When the coordinator could not be reached,
/// the counts and timings are lost (they steer the failure-rate rule and usage-
/// and latency-based routing; a leased deployment's requests stay counted in
/// full, as its lease stays set aside until its minute ends), the leases are given
/// up here, the old view stays, and the router is told why
/// ([`LocalRouter::unreachable`]).
async fn refresh(env: &Env, group: &str, failure: Option<(DeploymentId, ReportedFailure)>, estimated_tokens: u64) {
    let served = with_router(group, LocalRouter::take_served);
    let fetched = coordinator::fetch_view(env, group, served, failure, estimated_tokens).await;
    let now = runtime::now_ms() as u64;
    match fetched {
        Ok(view) => with_router(group, |r| r.update(now, view)),
        Err(error) => {
            worker::console_error!("syncing with the coordinator of `{group}` failed: {error}");
            let outage = match error {
                CallError::Overloaded(_) => Outage::Overloaded,
                CallError::Failed(_) => Outage::Unreachable,
            };
            with_router(group, |r| r.unreachable(now, outage));
        }
    }
}
