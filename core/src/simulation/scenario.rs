//! What a simulation runs: its isolates, traffic, network, upstreams and group.

/// An upstream call's latency: log-normal around `median_ms`, within `min_ms..=max_ms`.
#[derive(Debug, Clone, Copy)]
pub struct Latency {
    pub median_ms: f64,
    pub sigma: f64,
    pub min_ms: u64,
    pub max_ms: u64,
}

/// The parameters of one run. The group has three deployments, each with one
/// limit, so that each limit is reached and measured on its own: `a` with an
/// `rpm`, `b` with a `tpm`, `c` with `max_parallel_requests`.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub seed: u64,
    /// Isolates alive at any moment (one that dies is replaced at once by a new one).
    pub isolates: usize,
    /// Mean of each isolate's life (exponential).
    pub isolate_life_s: f64,
    /// Requests per second over the whole gateway (Poisson), each to a random isolate.
    pub requests_per_s: f64,
    /// Simulated time; whole minutes, so that every minute measured is complete.
    pub minutes: u64,
    pub rpm: u64,
    pub tpm: u64,
    pub max_parallel: u32,
    /// One-way network delay of every message between an isolate and the
    /// coordinator, drawn per message, uniformly in this range (inclusive).
    pub delay_ms: (u64, u64),
    pub latency: Latency,
    /// Share of upstream calls that fail, half with a 429, half with a 500.
    pub failure_rate: f64,
    /// A request's estimated tokens, uniformly in this range (inclusive).
    pub estimated_tokens: (u64, u64),
    /// What an answer uses, as a share of its estimate, uniformly in this range.
    pub used_share: (f64, f64),
    /// Share of requests with a priority (they may wait in the queue), their
    /// priorities drawn uniformly in `0..priority_levels`.
    pub priority_share: f64,
    pub priority_levels: u32,
    /// How long a request with a priority may wait in the queue.
    pub max_wait_ms: u64,
    /// The CPU time the coordinator spends on each message: as a Durable Object
    /// it takes one at a time, so a message that comes while it is busy waits
    /// its turn. 0: each is answered as it comes. A batch from a relay costs
    /// this once and `inner_us` for each message in it past the first.
    pub service_us: u64,
    /// Relays between the isolates and the coordinator (`relay`): each isolate
    /// sends to its location's, which sends what came in one batch at most every
    /// `relay_every_ms`. 0: every isolate sends to the coordinator itself.
    pub relays: usize,
    pub relay_every_ms: u64,
    /// With relays: `None`, isolates always send through them; `Some(n)`,
    /// while the coordinator's views say so, from a second in which it took
    /// `n` of their messages (`Relaying::Auto`).
    pub relay_above_per_s: Option<u64>,
    /// One-way delay between an isolate and its relay (the same location).
    pub relay_delay_ms: (u64, u64),
    /// The coordinator's CPU time on each further message of a batch: its own
    /// work, without what the runtime costs per request it takes.
    pub inner_us: u64,
}

impl Scenario {
    /// Issue 19's scenario: 1,000 isolates, 20,000 requests per second, delays of
    /// 1 to 150 ms. Each deployment can serve about 5,000 requests per second
    /// (300,000 rpm; 300 M tpm at about 950 tokens per answer; 5,000 in flight at
    /// about 1 s each), so the 20,000 asked exceed the group's 15,000 and each limit.
    pub fn issue() -> Self {
        Self {
            seed: 19,
            isolates: 1_000,
            isolate_life_s: 300.0,
            requests_per_s: 20_000.0,
            minutes: 3,
            rpm: 300_000,
            tpm: 300_000_000,
            max_parallel: 5_000,
            delay_ms: (1, 150),
            latency: Latency { median_ms: 800.0, sigma: 0.6, min_ms: 200, max_ms: 5_000 },
            failure_rate: 0.02,
            estimated_tokens: (200, 1_800),
            used_share: (0.6, 1.3),
            priority_share: 0.1,
            priority_levels: 3,
            max_wait_ms: 10_000,
            // BENCHMARKS.md's table is measured so. `make bench-coordinator`
            // measured 100 to 150 µs a message under workerd; at 150 µs this
            // scenario's coordinator lags up to 1.6 s once the group is
            // saturated (BENCHMARKS.md, "A coordinator that takes time").
            service_us: 0,
            relays: 0,
            relay_every_ms: 100,
            relay_above_per_s: None,
            relay_delay_ms: (1, 5),
            inner_us: 0,
        }
    }

    /// The same shape, `1 / scale` of it, over 2 minutes: for `cargo test`.
    pub fn scaled(scale: u32) -> Self {
        let issue = Self::issue();
        Self {
            seed: 7,
            isolates: issue.isolates / scale as usize,
            isolate_life_s: 60.0,
            requests_per_s: issue.requests_per_s / f64::from(scale),
            minutes: 2,
            rpm: issue.rpm / u64::from(scale),
            tpm: issue.tpm / u64::from(scale),
            max_parallel: issue.max_parallel / scale,
            ..issue
        }
    }

    /// The same with `relays` relays, each sending a batch at most every
    /// `every_ms`, always.
    pub fn relayed(self, relays: usize, every_ms: u64) -> Self {
        Self { relays, relay_every_ms: every_ms, ..self }
    }

    /// The same with relays used while the coordinator takes `above_per_s`
    /// messages a second or more.
    pub fn relayed_above(self, above_per_s: u64) -> Self {
        Self { relay_above_per_s: Some(above_per_s), ..self }
    }

    /// The issue's scenario without priorities: no request waits in the queue.
    pub fn without_priorities(self) -> Self {
        Self { priority_share: 0.0, ..self }
    }

    /// The issue's scenario with every request carrying a priority: demand
    /// exceeds capacity, so the queue is never empty and every request may wait
    /// in it: what the queue costs the coordinator under saturation.
    pub fn all_priorities(self) -> Self {
        Self { priority_share: 1.0, ..self }
    }

    /// The group's config. Cooldowns are off: under LiteLLM's default a single 429
    /// cools a deployment at once, and random 429s at this rate would keep every
    /// deployment out, which is not what this measures. Every deployment weighs
    /// the same: by LiteLLM's rule simple-shuffle would weigh them by rpm, `a`
    /// alone, and send `c` nothing until `a`'s minute is spent (a quarter of each
    /// minute), so that demand would not exceed each limit throughout.
    pub(super) fn yaml(&self) -> String {
        let deployment = |id: &str, limit: String| {
            format!(
                "  - {{model_name: g, litellm_params: {{model: openai/x, mock_response: ok, weight: 1, {limit}}}, model_info: {{id: {id}}}}}\n"
            )
        };
        let relaying = match (self.relays, self.relay_above_per_s) {
            (0, _) => "coordinator_relay_ms: 0".to_owned(),
            (_, None) => format!("coordinator_relay_ms: {}", self.relay_every_ms),
            (_, Some(above)) => {
                format!("coordinator_relay_ms: {}\n  coordinator_relay_above: {above}", self.relay_every_ms)
            }
        };
        format!(
            "model_list:\n{}{}{}router_settings:\n  disable_cooldowns: true\n  {relaying}\n",
            deployment("a", format!("rpm: {}", self.rpm)),
            deployment("b", format!("tpm: {}", self.tpm)),
            deployment("c", format!("max_parallel_requests: {}", self.max_parallel)),
        )
    }
}
