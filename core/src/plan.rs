//! The retry and fallback planner: after each outcome, what to do next.
//!
//! A state machine the Worker drives:
//! 1. [`Plan::new`] gives the first [`Step`]: call the requested group.
//! 2. For a `Call`, the Worker waits `delay_ms`, gets a deployment other than those
//!    listed (picked in its isolate where the group allows it, see
//!    [`crate::coordinator::local`], else granted by a ticket from the group's
//!    coordinator), and calls it.
//! 3. It feeds back what happened: [`Plan::on_unavailable`] when the coordinator
//!    granted no ticket, [`Plan::on_failure`] when the call failed. Each returns the
//!    next step.
//! 4. A success ends the plan; `Fail` ends it with the error to answer.
//!
//! Rules:
//! - Retries stay in the group, on another deployment when one is available. A
//!   retry that must go to a deployment already tried goes at once, as LiteLLM's
//!   router documents ("for generic errors, we retry immediately"), unless the
//!   provider asked to slow down (a rate limit or an overload, see
//!   [`Failure::slow_down`]): then it waits the provider's `Retry-After` (when
//!   0 < it <= 60 s) or 0.5 s doubling per retry up to 8 s, plus up to 0.75 s of
//!   jitter. The number of retries comes from [`RouterPolicy::retries_for`].
//! - A request's own timeout (in its body or `x-litellm-timeout`) bounds the whole
//!   of it: no call or wait starts past it (and [`crate::serving::Serving::attempt`]
//!   caps each call's own timeout by it).
//! - When a group is exhausted, fallbacks: the request's own `fallbacks` for the
//!   requested group, else the configured list for the failure's kind. Groups are
//!   visited breadth first, each at most once (a cycle `a -> b -> a` ends), at most
//!   `max_fallbacks` hops, none with `disable_fallbacks`.
//! - When everything failed, the answer is the requested group's last error (the
//!   upstream's own status with `num_retries: 0` and no fallbacks), followed by the
//!   list of what was tried when there was more than one attempt.

use std::collections::VecDeque;

use crate::config::{DeploymentId, FallbackKind, RouterPolicy};
use crate::coordinator::Unavailable;
use crate::error::ApiError;
use crate::failure::{Failure, FailureClass};
use crate::request::RequestPolicy;

const BACKOFF_BASE_MS: u64 = 500;
const BACKOFF_MAX_MS: u64 = 8_000;
const JITTER_MS: u64 = 750;
const RETRY_AFTER_MAX_MS: u64 = 60_000;

/// What the Worker does next.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Wait `delay_ms`, then call a deployment of `group` that is not in `avoid`.
    Call {
        group: String,
        avoid: Vec<DeploymentId>,
        delay_ms: u64,
    },
    Fail(ApiError),
}

/// Counts the client sees in `x-litellm-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempts {
    pub retries: u32,
    pub max_retries: u32,
    pub fallbacks: u32,
}

#[derive(Debug)]
pub struct Plan {
    request: RequestPolicy,
    prompt_tokens: u64,
    original: String,
    current: String,
    /// Groups entered or queued, so that each is visited once.
    seen: Vec<String>,
    queue: VecDeque<String>,
    avoid: Vec<DeploymentId>,
    retries_here: u32,
    attempts: Attempts,
    last_retry_after_ms: Option<u64>,
    /// The last failure asked to slow down before the same deployment is tried again.
    last_slowed_down: bool,
    /// When the request's own timeout ends, if it set one.
    deadline_ms: Option<u64>,
    primary_error: Option<ApiError>,
    last_error: Option<ApiError>,
    tried: Vec<String>,
}

impl Plan {
    /// `prompt_tokens` is the request's estimate, for the pre-call context-window
    /// error; `deadline_ms` is when the request's own timeout ends, if it set one.
    pub fn new(
        group: &str,
        request: RequestPolicy,
        prompt_tokens: u64,
        policy: &RouterPolicy,
        deadline_ms: Option<u64>,
    ) -> (Self, Step) {
        let max_retries = request.num_retries.unwrap_or(policy.num_retries);
        let plan = Self {
            request,
            prompt_tokens,
            original: group.to_owned(),
            current: group.to_owned(),
            seen: vec![group.to_owned()],
            queue: VecDeque::new(),
            avoid: Vec::new(),
            retries_here: 0,
            attempts: Attempts { retries: 0, max_retries, fallbacks: 0 },
            last_retry_after_ms: None,
            last_slowed_down: false,
            deadline_ms,
            primary_error: None,
            last_error: None,
            tried: Vec::new(),
        };
        let step = plan.first_call();
        (plan, step)
    }

    pub fn attempts(&self) -> Attempts {
        self.attempts
    }

    /// The group currently being tried.
    pub fn group(&self) -> &str {
        &self.current
    }

    /// A call to `deployment` of the current group failed, and it is `now_ms`.
    pub fn on_failure(
        &mut self,
        now_ms: u64,
        deployment: &DeploymentId,
        failure: Failure,
        policy: &RouterPolicy,
    ) -> Step {
        self.tried.push(format!("{}/{}: {}", self.current, deployment, describe(&failure)));
        self.avoid.push(deployment.clone());
        self.last_retry_after_ms = failure.retry_after_ms;
        self.last_slowed_down = failure.slow_down;
        let class = failure.class;
        self.record(failure.error);
        let max = policy.retries_for(&self.current, class, self.request.num_retries);
        self.attempts.max_retries = max;
        if self.retries_here < max {
            self.retries_here += 1;
            self.attempts.retries += 1;
            return self.call(now_ms, 0);
        }
        self.fall_back(now_ms, kind_of(class), policy)
    }

    /// No ticket was granted in the current group, and it is `now_ms`.
    pub fn on_unavailable(
        &mut self,
        now_ms: u64,
        reason: &Unavailable,
        policy: &RouterPolicy,
        rng: &mut fastrand::Rng,
    ) -> Step {
        let group = self.current.clone();
        let (error, kind) = match *reason {
            // The retry must go to a deployment this request already tried: at
            // once, unless the provider asked to slow down.
            Unavailable::OnlyAvoided => {
                self.avoid.clear();
                let delay = if self.last_slowed_down {
                    backoff_ms(self.retries_here, self.last_retry_after_ms, rng)
                } else {
                    0
                };
                return self.call(now_ms, delay);
            }
            Unavailable::AllCoolingDown { retry_after_ms } => {
                (ApiError::AllCoolingDown { group, retry_after_ms }, FallbackKind::Generic)
            }
            Unavailable::RateLimited { retry_after_ms } => {
                (ApiError::GroupRateLimited { group, retry_after_ms }, FallbackKind::Generic)
            }
            Unavailable::ContextWindowExceeded => {
                (ApiError::ContextWindowExceeded { group, tokens: self.prompt_tokens }, FallbackKind::ContextWindow)
            }
            Unavailable::NoneInRegion => (ApiError::NoneInRegion { group }, FallbackKind::Generic),
            Unavailable::Busy => (ApiError::GroupBusy { group }, FallbackKind::Generic),
            Unavailable::QueueFull { max } => (ApiError::QueueFull { group, max }, FallbackKind::Generic),
            // The request's own time is up: nothing more is tried for it.
            Unavailable::QueueTimeout { waited_ms, position } => {
                return Step::Fail(ApiError::QueueTimeout { group, waited_ms, position });
            }
        };
        self.tried.push(format!("{}: {}", self.current, short(&error)));
        self.record(error);
        self.fall_back(now_ms, kind, policy)
    }

    fn record(&mut self, error: ApiError) {
        if self.current == self.original {
            self.primary_error = Some(error.clone());
        }
        self.last_error = Some(error);
    }

    fn fall_back(&mut self, now_ms: u64, kind: FallbackKind, policy: &RouterPolicy) -> Step {
        if !self.request.disable_fallbacks {
            let targets: Vec<String> = match (&self.request.fallbacks, self.current == self.original) {
                (Some(own), true) => own.clone(),
                _ => policy.fallbacks_for(&self.current, kind).to_vec(),
            };
            for target in targets {
                if !self.seen.contains(&target) {
                    self.seen.push(target.clone());
                    self.queue.push_back(target);
                }
            }
            if self.attempts.fallbacks < policy.max_fallbacks
                && let Some(next) = self.queue.pop_front()
            {
                self.attempts.fallbacks += 1;
                self.current = next;
                self.retries_here = 0;
                self.avoid.clear();
                self.last_retry_after_ms = None;
                self.last_slowed_down = false;
                return self.call(now_ms, 0);
            }
        }
        Step::Fail(self.final_error())
    }

    fn final_error(&mut self) -> ApiError {
        let error = self
            .primary_error
            .take()
            .or_else(|| self.last_error.take())
            .unwrap_or_else(|| ApiError::Internal("the request failed before any attempt".into()));
        if self.tried.len() > 1 {
            ApiError::Tried { error: Box::new(error), tried: self.tried.join("; ") }
        } else {
            error
        }
    }

    fn first_call(&self) -> Step {
        Step::Call { group: self.current.clone(), avoid: Vec::new(), delay_ms: 0 }
    }

    /// The next call, unless the request's own time would be up before it starts:
    /// then the answer is what failed so far.
    fn call(&mut self, now_ms: u64, delay_ms: u64) -> Step {
        if self.deadline_ms.is_some_and(|deadline| now_ms.saturating_add(delay_ms) >= deadline) {
            return Step::Fail(self.final_error());
        }
        Step::Call { group: self.current.clone(), avoid: self.avoid.clone(), delay_ms }
    }
}

/// Which fallback list a failure of this class draws from.
fn kind_of(class: FailureClass) -> FallbackKind {
    match class {
        FailureClass::ContextWindow => FallbackKind::ContextWindow,
        FailureClass::ContentPolicy => FallbackKind::ContentPolicy,
        FailureClass::BadRequest
        | FailureClass::Authentication
        | FailureClass::NotFound
        | FailureClass::Timeout
        | FailureClass::RateLimit
        | FailureClass::Internal
        | FailureClass::Connection
        | FailureClass::InvalidResponse => FallbackKind::Generic,
    }
}

/// The wait before retrying a deployment already tried: the upstream's
/// `Retry-After` when reasonable, else exponential backoff with jitter.
fn backoff_ms(retry: u32, retry_after_ms: Option<u64>, rng: &mut fastrand::Rng) -> u64 {
    if let Some(ms) = retry_after_ms.filter(|&ms| ms > 0 && ms <= RETRY_AFTER_MAX_MS) {
        return ms;
    }
    let exponent = retry.saturating_sub(1).min(16);
    let base = BACKOFF_BASE_MS.saturating_mul(1 << exponent).min(BACKOFF_MAX_MS);
    base + rng.u64(..JITTER_MS)
}

fn describe(failure: &Failure) -> String {
    match failure.error.status() {
        502 if failure.class == FailureClass::Connection => "unreachable".to_owned(),
        status => format!("{status} {}", failure.class.litellm_name()),
    }
}

/// What a group's coordinator answered instead of a deployment, for the list of
/// what was tried.
fn short(error: &ApiError) -> &'static str {
    match error {
        ApiError::AllCoolingDown { .. } => "all deployments cooling down",
        ApiError::GroupRateLimited { .. } => "at its rpm/tpm limit",
        ApiError::ContextWindowExceeded { .. } => "prompt too long for every deployment",
        ApiError::NoneInRegion { .. } => "no deployment in the allowed region",
        ApiError::GroupBusy { .. } => "every deployment busy",
        ApiError::QueueFull { .. } => "queue full",
        ApiError::MalformedJson(_)
        | ApiError::InvalidParam { .. }
        | ApiError::MissingApiKey
        | ApiError::InvalidApiKey
        | ApiError::ModelNotFound { .. }
        | ApiError::JobNotFound { .. }
        | ApiError::ResponseNotFound { .. }
        | ApiError::RouteNotFound { .. }
        | ApiError::MethodNotAllowed { .. }
        | ApiError::Upstream { .. }
        | ApiError::UpstreamUnreachable { .. }
        | ApiError::UpstreamInvalidResponse { .. }
        | ApiError::Timeout { .. }
        | ApiError::QueueTimeout { .. }
        | ApiError::Tried { .. }
        | ApiError::CoordinatorUnavailable { .. }
        | ApiError::CoordinatorOverloaded { .. }
        | ApiError::Config(_)
        | ApiError::Internal(_) => "failed",
    }
}

#[cfg(test)]
mod tests;
