//! What an isolate counts of the requests it served, per model group, until it
//! hands the counts to the group's coordinator ([`Message::Observed`]); and what
//! the coordinator adds them up into, for `GET /metrics` and `GET /ui/state`.
//!
//! Counts only add: a tally merged into another is the tally of both, whatever
//! the order, so an isolate may hand them over whenever it likes.
//!
//! [`Message::Observed`]: crate::coordinator::Message::Observed

use std::borrow::Borrow;

use serde::{Deserialize, Serialize};

use super::record::RequestRecord;
use crate::failure::FailureClass;

/// The upper bounds of the latency histograms' buckets, in seconds: LiteLLM's
/// `LATENCY_BUCKETS`, so that its dashboards' quantiles read the same. One more
/// bucket, `+Inf`, follows.
pub const LATENCY_BUCKETS_S: [f64; 35] = [
    0.005, 0.00625, 0.0125, 0.025, 0.05, 0.1, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 5.5, 6.0, 6.5, 7.0,
    7.5, 8.0, 8.5, 9.0, 9.5, 10.0, 15.0, 20.0, 25.0, 30.0, 60.0, 120.0, 180.0, 240.0, 300.0,
];

/// Durations counted into [`LATENCY_BUCKETS_S`] (each bucket its own count, not
/// cumulative), with their sum.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Histogram {
    /// Empty until the first observation; then one count per bucket and `+Inf`.
    pub buckets: Vec<u64>,
    pub sum_ms: u64,
    pub count: u64,
}

impl Histogram {
    pub fn observe(&mut self, ms: u64) {
        if self.buckets.is_empty() {
            self.buckets = vec![0; LATENCY_BUCKETS_S.len() + 1];
        }
        let seconds = ms as f64 / 1_000.0;
        let at = LATENCY_BUCKETS_S.iter().position(|&bound| seconds <= bound).unwrap_or(LATENCY_BUCKETS_S.len());
        if let Some(bucket) = self.buckets.get_mut(at) {
            *bucket += 1;
        }
        self.sum_ms = self.sum_ms.saturating_add(ms);
        self.count += 1;
    }

    pub fn add(&mut self, other: &Histogram) {
        if other.count == 0 {
            return;
        }
        if self.buckets.len() < other.buckets.len() {
            self.buckets.resize(other.buckets.len(), 0);
        }
        for (mine, theirs) in self.buckets.iter_mut().zip(&other.buckets) {
            *mine = mine.saturating_add(*theirs);
        }
        self.sum_ms = self.sum_ms.saturating_add(other.sum_ms);
        self.count = self.count.saturating_add(other.count);
    }

    /// The cumulative count at each bound, `+Inf` last: the exposition's `_bucket` lines.
    pub fn cumulative(&self) -> Vec<u64> {
        let mut total = 0;
        let mut counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|count| {
                total += count;
                total
            })
            .collect();
        counts.resize(LATENCY_BUCKETS_S.len() + 1, total);
        counts
    }
}

/// One deployment's counts (LiteLLM's `litellm_deployment_*` and per-model metrics).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeploymentTally {
    /// Calls made to it: each attempt.
    pub requests: u64,
    /// Calls that gave the client its answer.
    pub successes: u64,
    /// Calls that failed, by class.
    pub failures: Vec<(FailureClass, u64)>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// USD, at its `model_info` prices.
    pub spend: f64,
    /// Its answers' latencies (the call's, not the request's), and a stream's
    /// time to its first chunk.
    pub api_latency: Histogram,
    pub ttft: Histogram,
}

/// The value kept under `key` in a list of pairs, made (default) when there is
/// none. The lists are short (a group's deployments, the failure classes seen),
/// where a scan costs less than a map's hashing, and serialize as they are.
pub(crate) fn entry<'a, K, Q, V>(pairs: &'a mut Vec<(K, V)>, key: &Q) -> &'a mut V
where
    K: Borrow<Q>,
    Q: PartialEq + ToOwned<Owned = K> + ?Sized,
    V: Default,
{
    let at = match pairs.iter().position(|(k, _)| k.borrow() == key) {
        Some(at) => at,
        None => {
            pairs.push((key.to_owned(), V::default()));
            pairs.len() - 1
        }
    };
    &mut pairs[at].1
}

impl DeploymentTally {
    fn failed(&mut self, class: FailureClass) {
        self.requests += 1;
        *entry(&mut self.failures, &class) += 1;
    }

    fn add(&mut self, other: &DeploymentTally) {
        self.requests = self.requests.saturating_add(other.requests);
        self.successes = self.successes.saturating_add(other.successes);
        for &(class, count) in &other.failures {
            let mine = entry(&mut self.failures, &class);
            *mine = mine.saturating_add(count);
        }
        self.input_tokens = self.input_tokens.saturating_add(other.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(other.output_tokens);
        // Never past what JSON can carry to the coordinator and back.
        let spend = self.spend + other.spend;
        if spend.is_finite() {
            self.spend = spend;
        }
        self.api_latency.add(&other.api_latency);
        self.ttft.add(&other.ttft);
    }
}

/// A model group's counts: per deployment, and per request that asked for it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    /// By deployment id.
    pub deployments: Vec<(String, DeploymentTally)>,
    /// Requests that asked for the group, answered or not, cache hits included.
    pub requests: u64,
    /// Of those, answered from the cache, and looked up there and missed.
    pub cache_hits: u64,
    pub cache_misses: u64,
    /// Attempts after a request's first, and requests answered (or failed) by a
    /// fallback group, by that group.
    pub retries: u64,
    pub fallbacks: Vec<(String, Fallback)>,
    /// From arrival to the answer's end, of every request that asked for the group.
    pub request_latency: Histogram,
}

/// Requests of a group that fell back to another, and how they ended there.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fallback {
    pub succeeded: u64,
    pub failed: u64,
}

impl Tally {
    pub fn is_empty(&self) -> bool {
        self.requests == 0 && self.deployments.is_empty()
    }

    pub fn deployment(&mut self, id: &str) -> &mut DeploymentTally {
        entry(&mut self.deployments, id)
    }

    /// What was counted of deployment `id`, if anything.
    pub fn counted(&self, id: &str) -> Option<&DeploymentTally> {
        self.deployments.iter().find(|(d, _)| d == id).map(|(_, counts)| counts)
    }

    pub fn add(&mut self, other: &Tally) {
        for (id, counts) in &other.deployments {
            self.deployment(id).add(counts);
        }
        self.requests = self.requests.saturating_add(other.requests);
        self.cache_hits = self.cache_hits.saturating_add(other.cache_hits);
        self.cache_misses = self.cache_misses.saturating_add(other.cache_misses);
        self.retries = self.retries.saturating_add(other.retries);
        for (to, theirs) in &other.fallbacks {
            let mine = entry(&mut self.fallbacks, to.as_str());
            mine.succeeded = mine.succeeded.saturating_add(theirs.succeeded);
            mine.failed = mine.failed.saturating_add(theirs.failed);
        }
        self.request_latency.add(&other.request_latency);
    }
}

/// An isolate's tallies, per group, until they are handed over.
#[derive(Debug, Default)]
pub struct Tallies {
    groups: Vec<(String, Tally)>,
}

impl Tallies {
    fn of(&mut self, group: &str) -> &mut Tally {
        entry(&mut self.groups, group)
    }

    /// Counts one request: its own figures to the group it asked for, each call's
    /// to the group of the deployment called (a fallback's is another group).
    pub fn count(&mut self, record: &RequestRecord) {
        let Some(group) = record.group.as_deref() else {
            return;
        };
        let requested = self.of(group);
        requested.requests += 1;
        requested.request_latency.observe(record.latency_ms);
        match record.cache_hit {
            Some(true) => requested.cache_hits += 1,
            Some(false) => requested.cache_misses += 1,
            None => {}
        }
        requested.retries += u64::from(record.retries);
        if let Some(called) = record.deployment.as_ref().filter(|c| c.group != group) {
            let fallback = entry(&mut requested.fallbacks, called.group.as_str());
            if record.succeeded() { fallback.succeeded += 1 } else { fallback.failed += 1 }
        }
        for attempt in &record.failed_attempts {
            self.of(&attempt.group).deployment(&attempt.deployment).failed(attempt.class);
        }
        let Some(called) = record.deployment.as_ref().filter(|_| record.succeeded()) else {
            return;
        };
        let counts = self.of(&called.group).deployment(&called.id);
        counts.requests += 1;
        counts.successes += 1;
        if let Some(usage) = record.usage {
            counts.input_tokens += usage.prompt_tokens;
            counts.output_tokens += usage.completion_tokens;
        }
        counts.spend += record.cost.filter(|c| c.is_finite()).unwrap_or(0.0);
        if let Some(ms) = record.api_latency_ms {
            counts.api_latency.observe(ms);
        }
        if let Some(ms) = record.ttft_ms {
            counts.ttft.observe(ms);
        }
    }

    /// Hands `group`'s counts over, if it has any.
    pub fn take_group(&mut self, group: &str) -> Option<Tally> {
        let at = self.groups.iter().position(|(name, _)| name == group)?;
        Some(self.groups.swap_remove(at).1)
    }

    /// Hands every group's counts over, leaving none.
    pub fn take(&mut self) -> Vec<(String, Tally)> {
        std::mem::take(&mut self.groups)
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::record::{Called, FailedAttempt, Tokens};

    fn called(group: &str, id: &str) -> Called {
        Called { group: group.into(), id: id.into(), model: "m".into(), provider: "openai" }
    }

    #[test]
    fn a_histogram_counts_into_litellms_buckets_and_adds_up() {
        let mut h = Histogram::default();
        for ms in [5, 6, 100, 400_000] {
            h.observe(ms);
        }
        let cumulative = h.cumulative();
        assert_eq!(cumulative.len(), LATENCY_BUCKETS_S.len() + 1);
        assert_eq!((cumulative[0], cumulative[1], cumulative[5]), (1, 2, 3), "5 ms <= 0.005 s, 6 ms <= 0.00625 s");
        assert_eq!(cumulative[LATENCY_BUCKETS_S.len() - 1], 3, "400 s is past the last bound");
        assert_eq!(*cumulative.last().unwrap(), 4);
        let mut sum = Histogram::default();
        sum.add(&h);
        sum.add(&h);
        assert_eq!((sum.count, sum.sum_ms), (8, 2 * (5 + 6 + 100 + 400_000)));
        assert_eq!(Histogram::default().cumulative(), vec![0; LATENCY_BUCKETS_S.len() + 1]);
    }

    #[test]
    fn a_request_counts_for_its_group_and_each_call_for_the_group_called() {
        let mut tallies = Tallies::default();
        let record = RequestRecord {
            group: Some("a".into()),
            deployment: Some(called("b", "b1")),
            status: 200,
            latency_ms: 30,
            api_latency_ms: Some(10),
            usage: Some(Tokens { prompt_tokens: 7, completion_tokens: 2, total_tokens: 9 }),
            cost: Some(0.25),
            failed_attempts: vec![
                FailedAttempt {
                    group: "a".into(),
                    deployment: "a1".into(),
                    class: FailureClass::RateLimit,
                    latency_ms: 1,
                },
                FailedAttempt {
                    group: "a".into(),
                    deployment: "a1".into(),
                    class: FailureClass::Internal,
                    latency_ms: 1,
                },
            ],
            retries: 2,
            fallbacks: 1,
            cache_hit: Some(false),
            ..RequestRecord::default()
        };
        tallies.count(&record);
        tallies.count(&RequestRecord {
            cache_hit: Some(true),
            deployment: None,
            failed_attempts: vec![],
            ..record.clone()
        });
        // A sync of `b` carries its counts; the rest are handed over later.
        let mut synced = Tallies::default();
        synced.count(&record);
        assert_eq!(synced.take_group("b").map(|t| t.deployments.len()), Some(1));
        assert!(synced.take_group("b").is_none(), "taken once");
        assert_eq!(synced.take().iter().map(|(g, _)| g.as_str()).collect::<Vec<_>>(), ["a"]);
        let mut groups = tallies.take();
        assert!(tallies.is_empty());
        groups.sort_by(|x, y| x.0.cmp(&y.0));
        let (a, b) = (&groups[0].1, &groups[1].1);
        assert_eq!((a.requests, a.cache_hits, a.cache_misses, a.retries), (2, 1, 1, 4));
        assert_eq!(a.fallbacks, [("b".to_owned(), Fallback { succeeded: 1, failed: 0 })]);
        let (_, a1) = &a.deployments[0];
        assert_eq!((a1.requests, a1.successes), (2, 0));
        assert_eq!(a1.failures, [(FailureClass::RateLimit, 1), (FailureClass::Internal, 1)]);
        let (id, b1) = &b.deployments[0];
        assert_eq!((id.as_str(), b1.requests, b1.successes, b1.input_tokens, b1.output_tokens), ("b1", 1, 1, 7, 2));
        assert_eq!((b1.spend, b1.api_latency.count, b1.ttft.count), (0.25, 1, 0));
        assert_eq!(b.requests, 0, "the request asked for `a`");
        let mut both = a.clone();
        both.add(a);
        assert_eq!((both.requests, both.deployments[0].1.failures[0].1), (4, 2));
    }
}
