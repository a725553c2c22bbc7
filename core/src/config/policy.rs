//! The router's reliability settings (`router_settings`), validated.

use std::collections::{BTreeMap, HashMap};

use super::raw::{RawAllowedFailsPolicy, RawLitellmSettings, RawRetryPolicy, RawRouterSettings};
use super::{ConfigError, seconds_to_ms};
use crate::failure::FailureClass;

/// LiteLLM's default: two retries, three attempts in all.
pub const DEFAULT_NUM_RETRIES: u32 = 2;
/// LiteLLM's default cap on fallback hops.
pub const DEFAULT_MAX_FALLBACKS: u32 = 5;
/// LiteLLM's default cooldown.
pub const DEFAULT_COOLDOWN_MS: u64 = 5_000;
/// Latency history that latency-based routing averages over, when `ttl` is not set.
pub const DEFAULT_LATENCY_TTL_MS: u64 = 3_600_000;

/// How a deployment is chosen within a group (`router_settings.routing_strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoutingStrategy {
    SimpleShuffle,
    UsageBased,
    LatencyBased,
    LeastBusy,
    CostBased,
}

impl RoutingStrategy {
    /// Its name in LiteLLM's `routing_strategy`.
    pub fn name(self) -> &'static str {
        match self {
            Self::SimpleShuffle => "simple-shuffle",
            Self::UsageBased => "usage-based-routing-v2",
            Self::LatencyBased => "latency-based-routing",
            Self::LeastBusy => "least-busy",
            Self::CostBased => "cost-based-routing",
        }
    }
}

/// Retries per failure class (`retry_policy`); `None` falls back to `num_retries`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RetryPolicy(PerClass);

impl RetryPolicy {
    /// The retries this policy sets for a class, if it sets any.
    pub fn for_class(&self, class: FailureClass) -> Option<u32> {
        self.0.get(class)
    }
}

/// A value for each exception class LiteLLM's `retry_policy` and
/// `allowed_fails_policy` name: one mapping from failure classes for both.
#[derive(Debug, Clone, Copy, Default)]
struct PerClass {
    bad_request: Option<u32>,
    authentication: Option<u32>,
    timeout: Option<u32>,
    rate_limit: Option<u32>,
    content_policy: Option<u32>,
    internal: Option<u32>,
}

impl PerClass {
    /// Unreachable deployments and unreadable answers count as server errors; context-window and
    /// not-found failures have no slot in LiteLLM's policies.
    fn get(&self, class: FailureClass) -> Option<u32> {
        match class {
            FailureClass::BadRequest => self.bad_request,
            FailureClass::Authentication => self.authentication,
            FailureClass::Timeout => self.timeout,
            FailureClass::RateLimit => self.rate_limit,
            FailureClass::ContentPolicy => self.content_policy,
            FailureClass::Internal | FailureClass::Connection | FailureClass::InvalidResponse => self.internal,
            FailureClass::ContextWindow | FailureClass::NotFound => None,
        }
    }
}

impl From<RawRetryPolicy> for PerClass {
    fn from(p: RawRetryPolicy) -> Self {
        Self {
            bad_request: p.bad_request_error_retries,
            authentication: p.authentication_error_retries,
            timeout: p.timeout_error_retries,
            rate_limit: p.rate_limit_error_retries,
            content_policy: p.content_policy_violation_error_retries,
            internal: p.internal_server_error_retries,
        }
    }
}

impl From<RawAllowedFailsPolicy> for PerClass {
    fn from(p: RawAllowedFailsPolicy) -> Self {
        Self {
            bad_request: p.bad_request_error_allowed_fails,
            authentication: p.authentication_error_allowed_fails,
            timeout: p.timeout_error_allowed_fails,
            rate_limit: p.rate_limit_error_allowed_fails,
            content_policy: p.content_policy_violation_error_allowed_fails,
            internal: p.internal_server_error_allowed_fails,
        }
    }
}

/// When a deployment is cooled down, and for how long.
#[derive(Debug, Clone)]
pub struct CooldownPolicy {
    /// `false` with `disable_cooldowns: true` or `cooldown_time: 0`.
    pub enabled: bool,
    /// `allowed_fails`: unset means LiteLLM's smart rule (see the coordinator).
    pub allowed_fails: Option<u32>,
    per_class: PerClass,
    /// The router's `cooldown_time`, if set.
    pub cooldown_ms: Option<u64>,
}

impl CooldownPolicy {
    /// Failures of this class tolerated before a cooldown, when a threshold is set.
    pub fn allowed_fails_for(&self, class: FailureClass) -> Option<u32> {
        self.per_class.get(class).or(self.allowed_fails)
    }
}

/// Which fallback list a failure draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FallbackKind {
    Generic,
    ContextWindow,
    ContentPolicy,
}

/// Who waits in a group's queue, how many, and how they age.
#[derive(Debug, Clone, Default)]
pub struct QueuePolicy {
    /// Applied to requests without a `priority`: then every request may wait.
    pub default_priority: Option<u32>,
    /// Waiting requests per group at most; `None`: unbounded.
    pub max_size: Option<usize>,
    pub aging_ms: Option<u64>,
    /// How long an async job's result is kept.
    pub job_ttl_ms: u64,
}

/// A relay's period at most: every message of its isolates waits up to this
/// for its batch, a view's life is a second, and a line tells what is new
/// every quarter second.
const MAX_RELAY_MS: u64 = 1_000;
/// A relay's period when the config names none: a message waits a tenth of a
/// second at most, and the coordinator takes ten batches a second per location.
pub const DEFAULT_RELAY_MS: u64 = 100;
/// The isolates' messages a second to a group's coordinator above which they
/// relay, when the config names no threshold: half what one Durable Object
/// takes (about a thousand requests a second, Cloudflare's guidance), so that
/// relays start before the object is the bottleneck.
pub const DEFAULT_RELAY_ABOVE_PER_S: u64 = 500;

/// How isolates reach a group's coordinator (`router_settings.coordinator_relay_ms`
/// and `coordinator_relay_above`; `coordinator::relay`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relaying {
    /// Each isolate sends its own messages (`coordinator_relay_ms: 0`).
    Off,
    /// Through their location's relay, which sends a batch at most every
    /// `period_ms` (`coordinator_relay_ms` alone).
    Always { period_ms: u64 },
    /// Through relays while the coordinator's views say so: from a second in
    /// which its isolates sent it `above_per_s` messages or more, to one in
    /// which they sent fewer than half that (the default).
    Auto { period_ms: u64, above_per_s: u64 },
}

impl Relaying {
    /// A relay's period, if relays may be used.
    pub fn period_ms(self) -> Option<u64> {
        match self {
            Self::Off => None,
            Self::Always { period_ms } | Self::Auto { period_ms, .. } => Some(period_ms),
        }
    }
}

/// Everything `router_settings` says about reliability.
#[derive(Debug, Clone)]
pub struct RouterPolicy {
    pub strategy: RoutingStrategy,
    pub latency_ttl_ms: u64,
    pub latency_buffer: f64,
    pub num_retries: u32,
    pub retry_policy: RetryPolicy,
    pub group_retry_policy: HashMap<String, RetryPolicy>,
    fallbacks: HashMap<String, Vec<String>>,
    context_window_fallbacks: HashMap<String, Vec<String>>,
    content_policy_fallbacks: HashMap<String, Vec<String>>,
    default_fallbacks: Vec<String>,
    pub max_fallbacks: u32,
    pub timeout_ms: Option<u64>,
    pub stream_timeout_ms: Option<u64>,
    pub cooldown: CooldownPolicy,
    pub pre_call_checks: bool,
    pub queue: QueuePolicy,
    /// Whether isolates send a group's coordinator their messages through a
    /// relay in their location, which sends them on in one batch.
    pub relaying: Relaying,
}

impl RouterPolicy {
    /// The fallback groups configured for `group` after a failure of `kind`.
    /// Context-window and content-policy failures use their own lists when the
    /// group has one, else the generic list; the generic list is the group's
    /// entry, else the `"*"` entry, else `default_fallbacks`.
    pub fn fallbacks_for(&self, group: &str, kind: FallbackKind) -> &[String] {
        let special = match kind {
            FallbackKind::Generic => None,
            FallbackKind::ContextWindow => {
                self.context_window_fallbacks.get(group).or(self.context_window_fallbacks.get("*"))
            }
            FallbackKind::ContentPolicy => {
                self.content_policy_fallbacks.get(group).or(self.content_policy_fallbacks.get("*"))
            }
        };
        special
            .or_else(|| self.fallbacks.get(group))
            .or_else(|| self.fallbacks.get("*"))
            .map_or(self.default_fallbacks.as_slice(), Vec::as_slice)
    }

    /// Retries for a failure of `class` in `group`: the group's retry policy, else
    /// the router's, else `num_retries` (the request's own when it sets one).
    pub fn retries_for(&self, group: &str, class: FailureClass, request_num_retries: Option<u32>) -> u32 {
        let from_policy = self.group_retry_policy.get(group).unwrap_or(&self.retry_policy).for_class(class);
        match (from_policy, class) {
            (Some(n), _) => n,
            // Not retried in the same group unless a policy says so: another try of
            // the same prompt fails the same way; fallbacks exist for these.
            (None, FailureClass::BadRequest | FailureClass::ContextWindow | FailureClass::ContentPolicy) => 0,
            (None, _) => request_num_retries.unwrap_or(self.num_retries),
        }
    }
}

type FallbackLists = Option<Vec<BTreeMap<String, Vec<String>>>>;

/// The `router_settings` value when set, else LiteLLM proxy's `litellm_settings`
/// one, with the section it came from (for error paths).
fn either<T>(router: Option<T>, litellm: Option<T>) -> (Option<T>, &'static str) {
    match router {
        Some(value) => (Some(value), "router_settings"),
        None => (litellm, "litellm_settings"),
    }
}

/// Builds the policy; `is_group` tells model group names, to check fallback targets.
/// LiteLLM's proxy also reads `num_retries`, `request_timeout` and the fallback
/// lists from `litellm_settings`: they apply where `router_settings` sets none.
pub(super) fn build(
    raw: RawRouterSettings,
    litellm: RawLitellmSettings,
    strategy: RoutingStrategy,
    is_group: &dyn Fn(&str) -> bool,
) -> Result<RouterPolicy, ConfigError> {
    let fallback_map = |key: &str, (lists, section): (FallbackLists, &str)| {
        let mut map = HashMap::new();
        for (i, entry) in lists.unwrap_or_default().into_iter().enumerate() {
            for (from, targets) in entry {
                for target in &targets {
                    if !is_group(target) {
                        return Err(ConfigError::at(
                            format!("{section}.{key}[{i}].{from}"),
                            format!("fallback `{target}` is not a model_name in model_list"),
                        ));
                    }
                }
                if from != "*" && !is_group(&from) {
                    return Err(ConfigError::at(
                        format!("{section}.{key}[{i}]"),
                        format!("`{from}` is not a model_name in model_list"),
                    ));
                }
                map.insert(from, targets);
            }
        }
        Ok(map)
    };
    let fallbacks = fallback_map("fallbacks", either(raw.fallbacks, litellm.fallbacks))?;
    let context_window_fallbacks = fallback_map(
        "context_window_fallbacks",
        either(raw.context_window_fallbacks, litellm.context_window_fallbacks),
    )?;
    let content_policy_fallbacks = fallback_map(
        "content_policy_fallbacks",
        either(raw.content_policy_fallbacks, litellm.content_policy_fallbacks),
    )?;
    let (default_fallbacks, section) = either(raw.default_fallbacks, litellm.default_fallbacks);
    let default_fallbacks = default_fallbacks.unwrap_or_default();
    if let Some(target) = default_fallbacks.iter().find(|t| !is_group(t)) {
        return Err(ConfigError::at(
            format!("{section}.default_fallbacks"),
            format!("fallback `{target}` is not a model_name in model_list"),
        ));
    }
    let timeout_ms = match either(raw.timeout, litellm.request_timeout) {
        (seconds, "router_settings") => seconds_to_ms("router_settings.timeout", seconds)?,
        (seconds, _) => seconds_to_ms("litellm_settings.request_timeout", seconds)?,
    };
    let buffer = raw.routing_strategy_args.lowest_latency_buffer.unwrap_or(0.0);
    if !(buffer.is_finite() && buffer >= 0.0) {
        return Err(ConfigError::at(
            "router_settings.routing_strategy_args.lowest_latency_buffer",
            format!("must be a number >= 0, got {buffer}"),
        ));
    }
    let router_cooldown = seconds_to_ms("router_settings.cooldown_time", raw.cooldown_time)?;
    let relaying = relaying(raw.coordinator_relay_ms, raw.coordinator_relay_above)?;
    let policy = RouterPolicy {
        strategy,
        latency_ttl_ms: seconds_to_ms("router_settings.routing_strategy_args.ttl", raw.routing_strategy_args.ttl)?
            .unwrap_or(DEFAULT_LATENCY_TTL_MS),
        latency_buffer: buffer,
        num_retries: raw.num_retries.or(litellm.num_retries).unwrap_or(DEFAULT_NUM_RETRIES),
        retry_policy: RetryPolicy(raw.retry_policy.unwrap_or_default().into()),
        group_retry_policy: raw.model_group_retry_policy.into_iter().map(|(g, p)| (g, RetryPolicy(p.into()))).collect(),
        fallbacks,
        context_window_fallbacks,
        content_policy_fallbacks,
        default_fallbacks,
        max_fallbacks: raw.max_fallbacks.unwrap_or(DEFAULT_MAX_FALLBACKS),
        timeout_ms,
        stream_timeout_ms: seconds_to_ms("router_settings.stream_timeout", raw.stream_timeout)?,
        cooldown: CooldownPolicy {
            enabled: !raw.disable_cooldowns.unwrap_or(false) && router_cooldown != Some(0),
            allowed_fails: raw.allowed_fails,
            per_class: raw.allowed_fails_policy.unwrap_or_default().into(),
            cooldown_ms: router_cooldown,
        },
        pre_call_checks: raw.enable_pre_call_checks.unwrap_or(false),
        queue: QueuePolicy {
            default_priority: raw.default_priority,
            max_size: raw.max_queue_size,
            aging_ms: seconds_to_ms("router_settings.priority_aging_s", raw.priority_aging_s)?,
            job_ttl_ms: seconds_to_ms("router_settings.job_ttl", raw.job_ttl)?
                .unwrap_or(crate::jobs::DEFAULT_JOB_TTL_MS),
        },
        relaying,
    };
    Ok(policy)
}

/// `coordinator_relay_ms` and `coordinator_relay_above`: 0 turns relays off; a
/// period alone relays always; otherwise they relay above a threshold.
fn relaying(period_ms: Option<u64>, above_per_s: Option<u64>) -> Result<Relaying, ConfigError> {
    const PERIOD: &str = "router_settings.coordinator_relay_ms";
    const ABOVE: &str = "router_settings.coordinator_relay_above";
    match (period_ms, above_per_s) {
        (Some(0), None) => Ok(Relaying::Off),
        (Some(0), Some(_)) => Err(ConfigError::at(ABOVE, "has no effect with coordinator_relay_ms: 0 (relays off)")),
        (Some(period), _) if period > MAX_RELAY_MS => Err(ConfigError::at(
            PERIOD,
            format!("must be 0 (off) or between 1 and {MAX_RELAY_MS} milliseconds, got {period}"),
        )),
        (_, Some(0)) => Err(ConfigError::at(ABOVE, "must be at least 1 message a second")),
        (Some(period_ms), None) => Ok(Relaying::Always { period_ms }),
        (period_ms, above_per_s) => Ok(Relaying::Auto {
            period_ms: period_ms.unwrap_or(DEFAULT_RELAY_MS),
            above_per_s: above_per_s.unwrap_or(DEFAULT_RELAY_ABOVE_PER_S),
        }),
    }
}
