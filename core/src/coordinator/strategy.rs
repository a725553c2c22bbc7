//! Routing strategies: each a pure choice over the candidates of one tier.
//!
//! Candidates reaching here are healthy, under their limits, not yet tried by the
//! request, and of the lowest `order` available.

use crate::config::{Deployment, RoutingStrategy};
use crate::select;

/// A deployment with what the strategies read of its state.
pub struct Candidate<'d> {
    pub deployment: &'d Deployment,
    /// Tokens reserved or used this minute.
    pub tokens: u64,
    pub requests: u64,
    pub in_flight: u32,
    /// `None`: no recent sample.
    pub latency_ms: Option<f64>,
}

impl<'d> Candidate<'d> {
    /// A deployment with no usage known: all the stateless strategies need.
    pub fn unloaded(deployment: &'d Deployment) -> Self {
        Self { deployment, tokens: 0, requests: 0, in_flight: 0, latency_ms: None }
    }
}

/// Picks one candidate.
///
/// - `SimpleShuffle`: random, weighted (see [`select::weighted`]).
/// - `UsageBased`: 1. lowest tokens this minute, 2. then fewest requests, 3. random among ties.
/// - `LatencyBased`: 1. a deployment with no recent sample first (to learn it), 2. else
///   any within `(1 + buffer)` times the fastest average, 3. random among those.
/// - `LeastBusy`: 1. fewest in flight, 2. random among ties.
/// - `CostBased`: 1. lowest input + output cost per token (unknown cost counts as
///   $1 per token, as in LiteLLM), 2. random among ties.
pub fn choose<'c, 'd>(
    strategy: RoutingStrategy,
    candidates: &'c [Candidate<'d>],
    latency_buffer: f64,
    rng: &mut fastrand::Rng,
) -> Option<&'c Candidate<'d>> {
    match strategy {
        RoutingStrategy::SimpleShuffle => select::weighted(candidates, |c| c.deployment.weight, rng),
        RoutingStrategy::UsageBased => lowest(candidates, |c| (c.tokens, c.requests), rng),
        RoutingStrategy::LeastBusy => lowest(candidates, |c| c.in_flight, rng),
        RoutingStrategy::CostBased => {
            let cost = |c: &Candidate<'_>| {
                c.deployment.input_cost_per_token.unwrap_or(1.0) + c.deployment.output_cost_per_token.unwrap_or(1.0)
            };
            let best = candidates.iter().map(cost).fold(f64::INFINITY, f64::min);
            random_of(candidates.iter().filter(|c| cost(c) <= best).collect(), rng)
        }
        RoutingStrategy::LatencyBased => {
            let unmeasured: Vec<_> = candidates.iter().filter(|c| c.latency_ms.is_none()).collect();
            if !unmeasured.is_empty() {
                return random_of(unmeasured, rng);
            }
            let best = candidates.iter().filter_map(|c| c.latency_ms).fold(f64::INFINITY, f64::min);
            let limit = best * (1.0 + latency_buffer);
            random_of(candidates.iter().filter(|c| c.latency_ms.is_some_and(|l| l <= limit)).collect(), rng)
        }
    }
}

fn lowest<'c, 'd, K: Ord + Copy>(
    candidates: &'c [Candidate<'d>],
    key: impl Fn(&Candidate<'d>) -> K,
    rng: &mut fastrand::Rng,
) -> Option<&'c Candidate<'d>> {
    let best = candidates.iter().map(&key).min()?;
    random_of(candidates.iter().filter(|c| key(c) == best).collect(), rng)
}

fn random_of<'c, 'd>(mut pool: Vec<&'c Candidate<'d>>, rng: &mut fastrand::Rng) -> Option<&'c Candidate<'d>> {
    if pool.is_empty() {
        return None;
    }
    let index = rng.usize(..pool.len());
    Some(pool.swap_remove(index))
}
