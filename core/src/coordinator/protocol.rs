//! What isolates and a group's coordinator say to each other: the [`Message`]s,
//! the requests and replies they carry, and whether a report may wait to travel
//! with the next message.

use serde::{Deserialize, Serialize};

use super::local::ServedSince;
use crate::config::{Deployment, DeploymentId, ModelGroup, RouterPolicy, RoutingStrategy};
use crate::failure::FailureClass;
use crate::observe::tally::{Histogram, Tally};
use crate::region::Area;

/// A message from a Worker isolate to a model group's coordinator.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Message {
    /// Answered with a [`TicketReply`]. `reports` are this isolate's successes that
    /// waited to travel with its next message ([`report_may_wait`]), applied first.
    Acquire { group: String, request: TicketRequest, reports: Vec<Report> },
    /// Answered with an empty 204.
    Report { group: String, reports: Vec<Report> },
    /// Answered with a [`QueueStatus`].
    Status { group: String },
    /// The client of a waiting request went away. Answered with an empty 204.
    Leave { group: String, waiter: u64 },
    /// From an isolate whose requests wait in its own line (`coordinator::lines`):
    /// those that joined it since its last `Wait` (each a request that may
    /// wait) and the waiters that left it. Answered, once any are owed (or
    /// after [`WAIT_HOLD_MS`](super::WAIT_HOLD_MS)), with the answers owed to its line: `Vec<(waiter, TicketReply)>`. `reports` are applied first,
    /// as with an acquire.
    Wait {
        group: String,
        isolate: u64,
        joined: Vec<TicketRequest>,
        left: Vec<u64>,
        /// Admitted in the isolate, in a slot freed there (`Line::hand`).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        handed: Vec<u64>,
        /// The waits (ms) of those admitted there before the isolate told of them.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        handed_untold: Vec<u64>,
        reports: Vec<Report>,
    },
    /// Answered with the coordinator's [`Holdings`] (`GET /debug/state`).
    State { group: String },
    /// From an isolate that routes the group itself ([`local`](super::local)): what
    /// it sent per deployment since it last said (settling its leases), the failure
    /// of one, if any, and the estimated tokens of the request that asks (a first
    /// lease of tokens is sized by it; 0 when no request asks, as for the keeper's
    /// syncs, which then lease no new slots to an isolate idle since its last).
    /// Answered with a fresh
    /// [`HealthView`](super::local::HealthView).
    Sync {
        group: String,
        served: Vec<ServedSince>,
        failure: Option<(DeploymentId, ReportedFailure)>,
        #[serde(default)]
        estimated_tokens: u64,
        /// Names the isolate, whose slots ([`slots`](super::slots)) its syncs
        /// settle; [`NO_ISOLATE`](super::slots::NO_ISOLATE) from older builds.
        #[serde(default)]
        isolate: u64,
        /// What the isolate counted of the group's requests, for the metrics: it
        /// travels with the sync, which saves the coordinator an `Observed`.
        #[serde(default)]
        tally: Option<Tally>,
        /// Reports that waited to travel with the isolate's next message
        /// ([`report_may_wait`]), applied first.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        reports: Vec<Report>,
    },
    /// What an isolate counted of the requests it served, for the metrics.
    /// Answered with an empty 204.
    Observed { group: String, tally: Tally },
    /// Answered with the group's [`GroupMetrics`] (`GET /metrics`, `GET /ui/state`).
    Metrics { group: String },
    /// From a relay ([`relay`](super::relay)): its isolates' messages since its
    /// last batch, each a [`relayed`](Message::relayed) one, taken in order.
    /// Answered with a [`BatchReply`]: the answer to each, where a `Wait` is not
    /// held (its answers come in `lines`, now or with a later batch); and what
    /// is owed to the lines of the isolates in `polls` (those with a `Wait`
    /// open at the relay) and of those whose `Wait` came in this batch.
    /// `gone`: isolates whose every `Wait` the relay held closed (they died).
    Batch {
        group: String,
        messages: Vec<Message>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        polls: Vec<u64>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        gone: Vec<u64>,
    },
}

/// The answer to a [`Message::Batch`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchReply {
    /// The answer to each message of the batch, in its order.
    pub answers: Vec<Relayed>,
    /// What is owed to each line answered now: an isolate's answers, or none
    /// when nothing of its line is left at the coordinator (its `Wait` ends).
    pub lines: Vec<(u64, Vec<(u64, TicketReply)>)>,
}

/// One message's answer in a [`BatchReply`]: what the coordinator would have
/// answered it with on its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Relayed {
    pub status: u16,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub body: String,
}

impl Message {
    /// The model group whose coordinator the message is for.
    pub fn group(&self) -> &str {
        match self {
            Self::Acquire { group, .. }
            | Self::Report { group, .. }
            | Self::Status { group }
            | Self::Leave { group, .. }
            | Self::Wait { group, .. }
            | Self::State { group }
            | Self::Sync { group, .. }
            | Self::Observed { group, .. }
            | Self::Metrics { group }
            | Self::Batch { group, .. } => group,
        }
    }

    /// Whether a relay carries it: what isolates send as they route. What
    /// people ask (status, state, metrics) and a leaver (whose fetch ends with
    /// the answer) go to the coordinator itself.
    pub fn relayed(&self) -> bool {
        matches!(
            self,
            Self::Acquire { request: TicketRequest { queue: None, .. }, .. }
                | Self::Report { .. }
                | Self::Wait { .. }
                | Self::Sync { .. }
                | Self::Observed { .. }
        )
    }
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
    /// Of those admitted, the requests their isolate admitted itself, in a slot
    /// freed there (`Line::hand`).
    #[serde(default)]
    pub handed_over: u64,
}

/// What a coordinator holds at a moment, for operators and tests (`GET
/// /debug/state`): what is granted and not yet given back, and what waits.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Holdings {
    pub group: String,
    /// The minute whose counts and leases these are.
    pub minute: u64,
    /// Tickets granted and not yet reported (nor expired).
    pub tickets: usize,
    /// Requests waiting in the queue.
    pub waiting: usize,
    /// Set by the Durable Object: waiting requests whose fetch it holds open.
    pub waiters: usize,
    /// Requests admitted from the queue whose report has not come.
    pub admitted_unreported: usize,
    pub deployments: Vec<DeploymentHoldings>,
}

/// One deployment's part of [`Holdings`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentHoldings {
    pub id: DeploymentId,
    pub in_flight: u32,
    /// Requests and tokens counted this minute.
    pub requests: u64,
    pub tokens: u64,
    /// Set aside this minute for isolates' leases, not yet settled.
    pub leased_requests: u64,
    pub leased_tokens: u64,
    /// In-flight slots leased to isolates now.
    #[serde(default)]
    pub leased_slots: u32,
    /// When its cooldown ends, if it is cooling down.
    pub cooling_until_ms: Option<u64>,
}

/// Everything the coordinator knows of its group that people watching it want:
/// the counts isolates handed over, and the state of each deployment now.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupMetrics {
    pub group: String,
    pub queue: QueueStatus,
    /// How long requests admitted from the queue waited there.
    pub queue_wait: Histogram,
    /// Half-open probes granted.
    pub probes: u64,
    /// Messages the coordinator took since it started: its load.
    #[serde(default)]
    pub messages: u64,
    /// Snapshots it wrote to its storage since it started ([`Coordinator::snapshot_due`]).
    ///
    /// [`Coordinator::snapshot_due`]: super::Coordinator::snapshot_due
    #[serde(default)]
    pub writes: u64,
    /// Its views tell isolates to send through relays now (automatic relays,
    /// `RouterPolicy::relaying`).
    #[serde(default)]
    pub relaying: bool,
    /// What isolates counted and handed over ([`Message::Observed`]) since the
    /// coordinator started.
    pub observed: Tally,
    pub deployments: Vec<DeploymentMetrics>,
}

/// One deployment's part of [`GroupMetrics`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentMetrics {
    pub id: DeploymentId,
    pub state: HealthState,
    /// While cooling down: until its cooldown ends.
    pub cooling_left_ms: Option<u64>,
    /// Requests holding a ticket to it now (not those routed in isolates).
    pub in_flight: u32,
    /// This minute's requests and tokens: counted, or set aside in isolates' leases.
    pub requests_taken: u64,
    pub tokens_taken: u64,
    pub leased_requests: u64,
    pub leased_tokens: u64,
    /// In-flight slots leased to isolates now ([`slots`](super::slots)).
    #[serde(default)]
    pub leased_slots: u32,
    /// Mean latency and time to first token of its recent answers.
    pub latency_ms: Option<f64>,
    pub ttft_ms: Option<f64>,
    /// Times it was cooled down since the coordinator started.
    pub cooled_down: u64,
    /// Its failures of the last [`RECENT_FAILURE_MINUTES`] minutes, by class.
    pub recent_failures: Vec<(FailureClass, u64)>,
}

/// How many minutes of failures [`DeploymentMetrics::recent_failures`] covers.
pub const RECENT_FAILURE_MINUTES: u64 = 5;

/// A deployment's health as people read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthState {
    Healthy,
    Cooling,
    /// Its cooldown is over; one probe decides whether it is healthy again.
    Probing,
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
    /// Only deployments in this area may serve it (`allowed_model_region`).
    #[serde(default)]
    pub region: Option<Area>,
    /// Names the isolate that asks: the ticket ends with it if it lapses
    /// (`coordinator::isolates`); [`NO_ISOLATE`](super::slots::NO_ISOLATE)
    /// from older builds, whose tickets expire only with age.
    #[serde(default)]
    pub isolate: u64,
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
    /// How long the request waited in the queue for it, if it waited there.
    #[serde(default)]
    pub waited_ms: Option<u64>,
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
    /// No deployment runs in the area the request allows (`allowed_model_region`).
    NoneInRegion,
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
            Self::OnlyAvoided
            | Self::ContextWindowExceeded
            | Self::NoneInRegion
            | Self::QueueFull { .. }
            | Self::QueueTimeout { .. } => false,
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

impl ReportedFailure {
    /// Whether this failure may cool its deployment down, where `cools_down`
    /// says whether any may ([`cools_down`]): the one rule the coordinator
    /// decides by, and by which an isolate tells it at once or with its next sync.
    pub fn may_cool(&self, cools_down: bool) -> bool {
        cools_down && self.class.counts_for_cooldown()
    }
}

/// How long a report that may wait ([`report_may_wait`]) waits for the isolate's
/// next message to the coordinator before it is sent on its own.
pub const REPORT_WAIT_MS: u64 = 100;

/// Whether the report of a successful ticket to `deployment` may wait, at most
/// [`REPORT_WAIT_MS`], to travel with the isolate's next message to the
/// coordinator instead of one of its own: only where no one waits on it to free
/// capacity (the deployment has no `max_parallel_requests`; its rpm was counted
/// at the grant, and its tpm counts the estimate until the answer's usage
/// comes) and no strategy reads the requests in flight. Failures never wait:
/// they may start a cooldown the next attempt must see.
pub fn report_may_wait(deployment: &Deployment, policy: &RouterPolicy) -> bool {
    !matches!(policy.strategy, RoutingStrategy::LeastBusy) && deployment.max_parallel_requests.is_none()
}

/// Whether a failure of `deployment` of a class that counts
/// ([`FailureClass::counts_for_cooldown`]) may cool it down: its group has
/// another deployment to send requests to, cooldowns are on, and its own
/// `cooldown_time` is not 0. The failure of a call picked in the isolate that
/// can start no cooldown waits for the isolate's next sync
/// ([`LocalRouter::failed`](super::local::LocalRouter::failed)): no next attempt must
/// see it (a retry avoids the deployment anyway), and a group with one
/// deployment, cooldowns off or a client's bad request would otherwise cost its
/// coordinator a message, and the retry or fallback a round trip, per failure.
pub fn cools_down(group: &ModelGroup, deployment: &Deployment, policy: &RouterPolicy) -> bool {
    group.deployments.len() > 1 && policy.cooldown.enabled && deployment.cooldown_ms != Some(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failure::FailureClass;

    /// The Worker and its coordinator may run different builds for a moment during a
    /// deploy: every message survives JSON both ways, 64-bit ids included, and a
    /// sync (without `estimated_tokens`) or an acquire (without `isolate`) from an
    /// older build is still read.
    #[test]
    fn every_message_goes_through_json_and_back() {
        let id: DeploymentId = serde_json::from_str("\"d1\"").unwrap();
        let report = Report {
            ticket: u64::MAX,
            latency_ms: 12,
            ttft_ms: Some(3),
            tokens_used: Some(40),
            failure: Some(ReportedFailure { class: FailureClass::RateLimit, retry_after_ms: Some(1_000) }),
        };
        let request = TicketRequest {
            avoid: vec![id.clone()],
            estimated_tokens: 9,
            stream: true,
            queue: Some(QueueRequest { priority: 2, max_wait_ms: 500, waiter: u64::MAX - 1 }),
            region: None,
            isolate: u64::MAX - 2,
        };
        let messages = [
            Message::Acquire { group: "g".into(), request, reports: vec![report.clone()] },
            Message::Report { group: "g".into(), reports: vec![report.clone()] },
            Message::Status { group: "g".into() },
            Message::Leave { group: "g".into(), waiter: u64::MAX },
            Message::Wait {
                group: "g".into(),
                isolate: 3,
                joined: vec![],
                left: vec![u64::MAX],
                handed: vec![7],
                handed_untold: vec![120],
                reports: vec![],
            },
            Message::State { group: "g".into() },
            Message::Sync {
                group: "g".into(),
                served: vec![],
                failure: None,
                estimated_tokens: 7,
                isolate: u64::MAX,
                tally: Some(Tally::default()),
                reports: vec![report],
            },
            Message::Observed { group: "g".into(), tally: Tally::default() },
            Message::Metrics { group: "g".into() },
        ];
        for message in messages {
            let text = serde_json::to_string(&message).unwrap();
            let back: Message = serde_json::from_str(&text).unwrap();
            assert_eq!(serde_json::to_string(&back).unwrap(), text);
            assert_eq!(back.group(), "g");
        }
        let older: Message = serde_json::from_str(r#"{"Sync":{"group":"g","served":[],"failure":null}}"#).unwrap();
        assert!(
            matches!(older, Message::Sync { estimated_tokens: 0, isolate: 0, ref reports, .. } if reports.is_empty())
        );
        let older: Message = serde_json::from_str(
            r#"{"Acquire":{"group":"g","request":{"avoid":[],"estimated_tokens":1,"stream":false,"queue":null},"reports":[]}}"#,
        )
        .unwrap();
        assert!(matches!(older, Message::Acquire { request: TicketRequest { isolate: 0, .. }, .. }));
        let older: ServedSince = serde_json::from_str(r#"{"deployment":"d1","requests":1,"lease":null}"#).unwrap();
        assert!(older.failures.is_empty());
    }
}
