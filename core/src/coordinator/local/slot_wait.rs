//! A request that waits in its isolate for a slot one of the isolate's own
//! requests frees, near a deployment's concurrency limit.
//!
//! Near its limit, a deployment with `max_parallel_requests` leases the isolate
//! few slots, all filled, and a slot that frees idles until the isolate's next
//! request: about one request's gap (50 ms at 20 requests a second), against
//! calls of about a second in issue 19's scenario, and longer where the strategy
//! sends the next requests elsewhere. Giving it back idles it longer (a trip to
//! the coordinator and a lease's trip back). So where every slot an isolate
//! holds of such a deployment is filled, a request that could otherwise go
//! elsewhere, be refused, or (with a priority) join the queue may wait for one
//! here instead, as LiteLLM's requests wait on a deployment's semaphore: at
//! most [`SLOT_WAITERS`] of the isolate's requests at once, each for at most
//! [`SLOT_WAIT_MS`], after which it picks again and does not wait a second
//! time. Only while the view says the group's queue is empty: requests with a
//! priority waiting there get the slots first (see [`LocalRouter::release`]).
//! A request with a priority handed a slot so is admitted by the same rule as
//! one of its isolate's line handed a slot while the queue was empty when the
//! view was made ([`LocalRouter::hand_over`]): the queue's order binds it
//! within a view's life.

use crate::config::{Deployment, DeploymentId, ModelGroup, RouterPolicy};
use crate::region::Area;

use super::{HealthView, LocalRouter};
use crate::coordinator::grant::{fits, in_region};

/// How many of an isolate's requests may wait for a slot of a group at once.
/// One: a second waiter took `c` in issue 19's simulation from 94.4 to 95.7%,
/// at twice the time each request waits on average.
pub const SLOT_WAITERS: usize = 1;

/// How long a request waits for a slot before it picks again: about the time
/// one of five slots frees in a call of a second.
pub const SLOT_WAIT_MS: u64 = 250;

/// Whether `deployment` may hand a freed slot to a waiting request: one only a
/// concurrency limit holds (a rate limit would need a lease too).
fn only_parallel(deployment: &Deployment) -> bool {
    deployment.max_parallel_requests.is_some() && deployment.rpm.is_none() && deployment.tpm.is_none()
}

impl LocalRouter {
    /// The deployment of `group` a request estimated at `estimated_tokens`,
    /// which may go to none of `avoid`, may wait for a slot of in this isolate
    /// at `now_ms` under `view`: one near its concurrency limit, in the best
    /// tier that may serve the request, whose slots held here are all filled.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn slot_to_await<'g>(
        &self,
        now_ms: u64,
        view: &HealthView,
        group: &'g ModelGroup,
        policy: &RouterPolicy,
        avoid: &[DeploymentId],
        estimated_tokens: u64,
        region: Option<Area>,
    ) -> Option<&'g Deployment> {
        if !view.saturated || view.queued || now_ms >= self.slots_valid_until_ms {
            return None;
        }
        let eligible = |d: &&Deployment| {
            in_region(d, region)
                && fits(policy, d, estimated_tokens)
                && !view.blocked.contains(&d.id)
                && !avoid.contains(&d.id)
        };
        let tier = group.deployments.iter().filter(eligible).map(|d| d.order).min()?;
        group.deployments.iter().filter(eligible).find(|d| {
            d.order == tier
                && only_parallel(d)
                && self.slots.get(&d.id).is_some_and(|s| s.return_at_once && s.held > 0 && s.busy >= s.held)
        })
    }

    /// A slot of `deployment` freed at `now_ms` goes to a request waiting for
    /// one here, estimated at `estimated_tokens`: `true` when it may (nobody
    /// waits in the queue, and [`LocalRouter::hand_over`] would give the slot
    /// to any request), and it is filled again, counted as a pick.
    pub fn hand_to_waiter(&mut self, now_ms: u64, deployment: &Deployment, estimated_tokens: u64) -> bool {
        let handed = !self.queued() && self.hand_over(now_ms, deployment).is_some();
        if handed {
            self.refill(&deployment.id, estimated_tokens);
        }
        handed
    }
}
