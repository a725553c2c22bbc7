//! The live page's JSON (`GET /ui/state`): each group, its deployments' state
//! now and their counts, its queue and its cache.

use serde::Serialize;

use crate::config::{Config, ModelGroup};
use crate::coordinator::{DeploymentMetrics, GroupMetrics, HealthState, QueueStatus};
use crate::failure::FailureClass;

#[derive(Debug, Serialize)]
pub struct PageState<'a> {
    pub time_ms: u64,
    pub groups: Vec<GroupState<'a>>,
}

#[derive(Debug, Serialize)]
pub struct GroupState<'a> {
    pub name: &'a str,
    pub strategy: &'static str,
    pub queue: &'a QueueStatus,
    pub cache: CacheState,
    pub deployments: Vec<DeploymentState<'a>>,
}

#[derive(Debug, Serialize)]
pub struct CacheState {
    pub hits: u64,
    pub misses: u64,
}

#[derive(Debug, Serialize)]
pub struct DeploymentState<'a> {
    pub id: &'a str,
    pub model: &'a str,
    pub provider: &'static str,
    pub state: HealthState,
    pub cooling_left_ms: Option<u64>,
    pub in_flight: u32,
    pub rpm: Option<Used>,
    pub tpm: Option<Used>,
    pub latency_ms: Option<f64>,
    pub ttft_ms: Option<f64>,
    pub requests: u64,
    pub successes: u64,
    /// The last minutes' failures, by class: an object, class to count.
    #[serde(serialize_with = "as_object")]
    pub failures: Vec<(FailureClass, u64)>,
}

fn as_object<S: serde::Serializer>(pairs: &[(FailureClass, u64)], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_map(pairs.iter().map(|(class, count)| (class, count)))
}

/// This minute's use of a limit.
#[derive(Debug, Serialize)]
pub struct Used {
    pub used: u64,
    pub limit: u64,
}

/// The page's state from each group's metrics (`metrics` in config order; a
/// group whose coordinator did not answer is left out).
pub fn state<'a>(config: &'a Config, metrics: &'a [GroupMetrics], time_ms: u64) -> PageState<'a> {
    let groups = metrics
        .iter()
        .filter_map(|m| Some((config.group(&m.group)?, m)))
        .map(|(group, m)| GroupState {
            name: &group.name,
            strategy: config.router.strategy.name(),
            queue: &m.queue,
            cache: CacheState { hits: m.observed.cache_hits, misses: m.observed.cache_misses },
            deployments: deployments(group, m),
        })
        .collect();
    PageState { time_ms, groups }
}

fn deployments<'a>(group: &'a ModelGroup, m: &'a GroupMetrics) -> Vec<DeploymentState<'a>> {
    m.deployments
        .iter()
        .filter_map(|now: &DeploymentMetrics| {
            let d = group.deployments.iter().find(|d| d.id == now.id)?;
            let counted = m.observed.counted(d.id.as_str());
            Some(DeploymentState {
                id: d.id.as_str(),
                model: &d.model,
                provider: d.provider,
                state: now.state,
                cooling_left_ms: now.cooling_left_ms,
                in_flight: now.in_flight,
                rpm: d.rpm.map(|limit| Used { used: now.requests_taken, limit }),
                tpm: d.tpm.map(|limit| Used { used: now.tokens_taken, limit }),
                latency_ms: now.latency_ms,
                ttft_ms: now.ttft_ms,
                requests: counted.map_or(0, |t| t.requests),
                successes: counted.map_or(0, |t| t.successes),
                failures: now.recent_failures.clone(),
            })
        })
        .collect()
}
