//! `GET /metrics`: Prometheus' text exposition format (version 0.0.4) of every
//! group's [`GroupMetrics`], under LiteLLM's metric and label names where LiteLLM
//! has the figure (so that its Grafana dashboards read Switchyard), and
//! `switchyard_*` names for what LiteLLM lacks (the queue, leases, probes).
//!
//! Counters are written as `<name>_total` (their `# TYPE` line too), histograms
//! in seconds with LiteLLM's buckets, as `prometheus_client` writes them. Every sample of a family is
//! written together, after its `# HELP` and `# TYPE`.

use std::fmt::Write;

use crate::config::{Config, Deployment};
use crate::coordinator::{DeploymentMetrics, GroupMetrics, HealthState};
use crate::failure::FailureClass;
use crate::observe::tally::{DeploymentTally, Fallback, Histogram, LATENCY_BUCKETS_S};

/// The exposition of `metrics` (one per group whose coordinator answered).
pub fn render(config: &Config, metrics: &[GroupMetrics]) -> String {
    let mut out = Exposition { text: String::with_capacity(4096) };
    let groups: Vec<_> = metrics.iter().filter_map(|m| Some((config.group(&m.group)?, m))).collect();
    // Each deployment with the group that holds it, its state now and its counts.
    let deployments: Vec<_> = groups
        .iter()
        .flat_map(|(group, m)| {
            m.deployments.iter().filter_map(move |now| {
                let d = group.deployments.iter().find(|d| d.id == now.id)?;
                let counted = m.observed.counted(d.id.as_str());
                Some((group.name.as_str(), d, now, counted))
            })
        })
        .collect();
    let counted: Vec<_> = deployments.iter().filter_map(|&(g, d, _, t)| Some((g, d, t?))).collect();

    out.family("litellm_deployment_state", "gauge", "0 healthy, 1 partial outage (probing), 2 outage (cooling down)");
    for &(_, d, now, _) in &deployments {
        let state = match now.state {
            HealthState::Healthy => 0,
            HealthState::Probing => 1,
            HealthState::Cooling => 2,
        };
        out.sample("litellm_deployment_state", &deployment_labels(d), state);
    }
    out.family("litellm_deployment_cooled_down", "counter", "Times a deployment was cooled down");
    for &(_, d, now, _) in &deployments {
        out.sample("litellm_deployment_cooled_down_total", &deployment_labels(d), now.cooled_down);
    }
    let calls: [Figure<DeploymentTally>; 2] = [
        ("litellm_deployment_total_requests", "Calls made to a deployment", |t| t.requests),
        ("litellm_deployment_success_responses", "Calls to a deployment that answered", |t| t.successes),
    ];
    for (name, help, count) in calls {
        out.family(name, "counter", help);
        for &(group, d, t) in &counted {
            out.sample(&format!("{name}_total"), &call_labels(group, d), count(t));
        }
    }
    out.family("litellm_deployment_failure_responses", "counter", "Calls to a deployment that failed, by class");
    for &(group, d, t) in &counted {
        for &(class, count) in &t.failures {
            let mut labels = call_labels(group, d);
            labels.push(("exception_class", exception_class(class).to_owned()));
            out.sample("litellm_deployment_failure_responses_total", &labels, count);
        }
    }
    out.family("litellm_remaining_requests_metric", "gauge", "Requests left of a deployment's rpm this minute");
    for &(group, d, now, _) in &deployments {
        if let Some(rpm) = d.rpm {
            out.sample(
                "litellm_remaining_requests_metric",
                &limit_labels(group, d),
                rpm.saturating_sub(now.requests_taken),
            );
        }
    }
    out.family("litellm_remaining_tokens_metric", "gauge", "Tokens left of a deployment's tpm this minute");
    for &(group, d, now, _) in &deployments {
        if let Some(tpm) = d.tpm {
            out.sample(
                "litellm_remaining_tokens_metric",
                &limit_labels(group, d),
                tpm.saturating_sub(now.tokens_taken),
            );
        }
    }
    let tokens: [Figure<DeploymentTally>; 3] = [
        ("litellm_input_tokens_metric", "Prompt tokens of answered calls", |t| t.input_tokens),
        ("litellm_output_tokens_metric", "Completion tokens of answered calls", |t| t.output_tokens),
        ("litellm_total_tokens_metric", "Tokens of answered calls", |t| t.input_tokens + t.output_tokens),
    ];
    for (name, help, count) in tokens {
        out.family(name, "counter", help);
        for &(group, d, t) in &counted {
            out.sample(&format!("{name}_total"), &model_labels(group, d), count(t));
        }
    }
    out.family("litellm_spend_metric", "counter", "USD spent, at model_info prices");
    for &(group, d, t) in &counted {
        out.float("litellm_spend_metric_total", &model_labels(group, d), t.spend);
    }
    type Timing = fn(&DeploymentTally) -> &Histogram;
    let timings: [(&str, &str, Timing); 2] = [
        ("litellm_llm_api_latency_metric", "A deployment's answers' latency, in seconds", |t| &t.api_latency),
        ("litellm_llm_api_time_to_first_token_metric", "A stream's time to its first chunk, in seconds", |t| &t.ttft),
    ];
    for (name, help, histogram) in timings {
        out.family(name, "histogram", help);
        for &(group, d, t) in &counted {
            out.histogram(name, &model_labels(group, d), histogram(t));
        }
    }

    out.family("litellm_requests_metric", "counter", "Requests that asked for a model group");
    for (group, m) in &groups {
        out.sample("litellm_requests_metric_total", &[("model", group.name.clone())], m.observed.requests);
    }
    out.family("litellm_request_total_latency_metric", "histogram", "A request's whole latency, in seconds");
    for (group, m) in &groups {
        out.histogram(
            "litellm_request_total_latency_metric",
            &[("model", group.name.clone())],
            &m.observed.request_latency,
        );
    }
    out.family("litellm_cache_hits_metric", "counter", "Requests answered from the cache");
    for (group, m) in &groups {
        out.sample("litellm_cache_hits_metric_total", &[("model", group.name.clone())], m.observed.cache_hits);
    }
    let fallbacks: [Figure<Fallback>; 2] = [
        ("litellm_deployment_successful_fallbacks", "Requests answered by a fallback group", |f| f.succeeded),
        ("litellm_deployment_failed_fallbacks", "Requests that fell back and still failed", |f| f.failed),
    ];
    for (name, help, count) in fallbacks {
        out.family(name, "counter", help);
        for (group, m) in &groups {
            for (to, f) in &m.observed.fallbacks {
                let labels = [("requested_model", group.name.clone()), ("fallback_model", to.clone())];
                out.sample(&format!("{name}_total"), &labels, count(f));
            }
        }
    }

    out.family("switchyard_cache_misses", "counter", "Requests looked up in the cache and not found");
    for (group, m) in &groups {
        out.sample("switchyard_cache_misses_total", &group_label(&group.name), m.observed.cache_misses);
    }
    out.family("switchyard_retries", "counter", "Attempts after a request's first (retries and fallbacks)");
    for (group, m) in &groups {
        out.sample("switchyard_retries_total", &group_label(&group.name), m.observed.retries);
    }
    out.family("switchyard_queue_depth", "gauge", "Requests waiting in a group's queue, by priority");
    for (group, m) in &groups {
        for (priority, depth) in &m.queue.by_priority {
            let labels = [("model_group", group.name.clone()), ("priority", priority.to_string())];
            out.sample("switchyard_queue_depth", &labels, *depth as u64);
        }
    }
    out.family("switchyard_queue_oldest_wait_seconds", "gauge", "How long the oldest waiting request has waited");
    for (group, m) in &groups {
        out.float(
            "switchyard_queue_oldest_wait_seconds",
            &group_label(&group.name),
            m.queue.oldest_wait_ms as f64 / 1e3,
        );
    }
    out.family("switchyard_queue_wait_seconds", "histogram", "How long requests admitted from the queue waited");
    for (group, m) in &groups {
        out.histogram("switchyard_queue_wait_seconds", &group_label(&group.name), &m.queue_wait);
    }
    let queue: [Figure<GroupMetrics>; 3] = [
        ("switchyard_queue_admitted", "Requests admitted from the queue", |m| m.queue.admitted),
        ("switchyard_queue_expired", "Requests answered at their deadline in the queue", |m| m.queue.expired),
        ("switchyard_probes", "Half-open probes granted", |m| m.probes),
    ];
    let load: [Figure<GroupMetrics>; 2] = [
        ("switchyard_coordinator_messages", "Messages the group's coordinator took (its load)", |m| m.messages),
        (
            "switchyard_coordinator_writes",
            "Snapshots the group's coordinator wrote to its storage (cooldowns, limited deployments' counts)",
            |m| m.writes,
        ),
    ];
    for (name, help, count) in queue.into_iter().chain(load) {
        out.family(name, "counter", help);
        for (group, m) in &groups {
            out.sample(&format!("{name}_total"), &group_label(&group.name), count(m));
        }
    }
    let relaying = "switchyard_coordinator_relaying";
    out.family(
        relaying,
        "gauge",
        "1 while the group's coordinator tells isolates to send through relays (automatic relays)",
    );
    for (group, m) in &groups {
        out.sample(relaying, &group_label(&group.name), u64::from(m.relaying));
    }
    let held: [Figure<DeploymentMetrics>; 4] = [
        ("switchyard_in_flight_requests", "Calls holding a ticket now", |n| u64::from(n.in_flight)),
        ("switchyard_leased_slots", "In-flight slots leased to isolates now", |n| u64::from(n.leased_slots)),
        ("switchyard_leased_requests", "Requests set aside this minute in isolates' leases", |n| n.leased_requests),
        ("switchyard_leased_tokens", "Tokens set aside this minute in isolates' leases", |n| n.leased_tokens),
    ];
    for (name, help, value) in held {
        out.family(name, "gauge", help);
        for &(group, d, now, _) in &deployments {
            out.sample(name, &[("model_group", group.to_owned()), ("model_id", d.id.as_str().to_owned())], value(now));
        }
    }
    out.text
}

type Labels = Vec<(&'static str, String)>;

/// A family's name, its help, and how to read its value off one `T`.
type Figure<T> = (&'static str, &'static str, fn(&T) -> u64);

/// LiteLLM's labels of a deployment's state.
fn deployment_labels(d: &Deployment) -> Labels {
    vec![
        ("litellm_model_name", d.model.clone()),
        ("model_id", d.id.as_str().to_owned()),
        ("api_base", d.api_base.clone()),
        ("api_provider", d.provider.to_owned()),
    ]
}

/// LiteLLM's labels of the calls to a deployment.
fn call_labels(group: &str, d: &Deployment) -> Labels {
    let mut labels = deployment_labels(d);
    labels.insert(0, ("requested_model", group.to_owned()));
    labels
}

/// LiteLLM's labels of its rate-limit gauges.
fn limit_labels(group: &str, d: &Deployment) -> Labels {
    vec![
        ("model_group", group.to_owned()),
        ("api_provider", d.provider.to_owned()),
        ("api_base", d.api_base.clone()),
        ("litellm_model_name", d.model.clone()),
    ]
}

/// LiteLLM's labels of its per-model token, spend and latency metrics.
fn model_labels(group: &str, d: &Deployment) -> Labels {
    vec![("model", d.model.clone()), ("requested_model", group.to_owned()), ("model_id", d.id.as_str().to_owned())]
}

fn group_label(group: &str) -> Labels {
    vec![("model_group", group.to_owned())]
}

/// LiteLLM's exception class names (its `exception_class` label).
fn exception_class(class: FailureClass) -> &'static str {
    match class {
        FailureClass::BadRequest => "BadRequestError",
        FailureClass::ContextWindow => "ContextWindowExceededError",
        FailureClass::ContentPolicy => "ContentPolicyViolationError",
        FailureClass::Authentication => "AuthenticationError",
        FailureClass::NotFound => "NotFoundError",
        FailureClass::Timeout => "Timeout",
        FailureClass::RateLimit => "RateLimitError",
        FailureClass::Internal => "InternalServerError",
        FailureClass::Connection => "APIConnectionError",
        FailureClass::InvalidResponse => "APIError",
    }
}

struct Exposition {
    text: String,
}

// Writing to a String cannot fail: the `fmt::Result`s below are always `Ok`.
impl Exposition {
    /// A family's `# HELP` and `# TYPE`: a counter's under its samples' name,
    /// `<name>_total`, as `prometheus_client` writes the text format.
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let total = if kind == "counter" { "_total" } else { "" };
        let _ = writeln!(self.text, "# HELP {name}{total} {help}\n# TYPE {name}{total} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, String)], value: u64) {
        self.labels(name, labels, None);
        let _ = writeln!(self.text, " {value}");
    }

    fn float(&mut self, name: &str, labels: &[(&str, String)], value: f64) {
        self.labels(name, labels, None);
        let value = if value.is_finite() { value } else { 0.0 };
        let _ = writeln!(self.text, " {value}");
    }

    fn histogram(&mut self, name: &str, labels: &[(&str, String)], histogram: &Histogram) {
        let bucket = format!("{name}_bucket");
        let cumulative = histogram.cumulative();
        for (bound, count) in LATENCY_BUCKETS_S.iter().map(|b| b.to_string()).chain(["+Inf".into()]).zip(cumulative) {
            self.labels(&bucket, labels, Some(&bound));
            let _ = writeln!(self.text, " {count}");
        }
        self.labels(&format!("{name}_count"), labels, None);
        let _ = writeln!(self.text, " {}", histogram.count);
        self.float(&format!("{name}_sum"), labels, histogram.sum_ms as f64 / 1e3);
    }

    fn labels(&mut self, name: &str, labels: &[(&str, String)], le: Option<&str>) {
        self.text.push_str(name);
        if labels.is_empty() && le.is_none() {
            return;
        }
        self.text.push('{');
        let le = le.map(|bound| ("le", bound));
        for (i, (key, value)) in labels.iter().map(|(k, v)| (*k, v.as_str())).chain(le).enumerate() {
            if i > 0 {
                self.text.push(',');
            }
            let _ = write!(self.text, "{key}=\"");
            for c in value.chars() {
                match c {
                    '\\' => self.text.push_str("\\\\"),
                    '"' => self.text.push_str("\\\""),
                    '\n' => self.text.push_str("\\n"),
                    c => self.text.push(c),
                }
            }
            self.text.push('"');
        }
        self.text.push('}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coordinator::{DeploymentMetrics, QueueStatus};
    use crate::observe::tally::Tally;

    #[test]
    fn every_family_is_written_together_under_its_type_and_labels_are_escaped() {
        let config = crate::config::load(
            "model_list:\n  - {model_name: 'g\"1', litellm_params: {model: openai/m, api_base: 'http://h/a\\b', rpm: 10}, \
             model_info: {id: d1}}\n",
            &|_| None,
        )
        .unwrap()
        .config;
        let group = &config.groups()[0];
        let mut observed = Tally { requests: 4, ..Tally::default() };
        let counts = observed.deployment("d1");
        counts.requests = 4;
        counts.successes = 3;
        counts.failures = vec![(FailureClass::Timeout, 1)];
        counts.api_latency.observe(1_200);
        let metrics = GroupMetrics {
            group: group.name.clone(),
            queue: QueueStatus { by_priority: [(0, 2)].into(), ..QueueStatus::default() },
            observed,
            messages: 41,
            writes: 3,
            relaying: true,
            deployments: vec![DeploymentMetrics {
                id: group.deployments[0].id.clone(),
                state: HealthState::Cooling,
                cooling_left_ms: Some(1),
                in_flight: 0,
                requests_taken: 4,
                tokens_taken: 0,
                leased_requests: 0,
                leased_tokens: 0,
                leased_slots: 3,
                latency_ms: None,
                ttft_ms: None,
                cooled_down: 1,
                recent_failures: vec![],
            }],
            ..GroupMetrics::default()
        };
        let text = render(&config, &[metrics]);
        let lines: Vec<&str> = text.lines().collect();
        // One `# TYPE` per family, before its samples, which all follow it.
        let mut seen = std::collections::HashSet::new();
        let mut family = "";
        for line in &lines {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                family = rest.split(' ').next().unwrap();
                assert!(seen.insert(family.to_owned()), "{family} twice");
            } else if !line.starts_with('#') {
                let base = family.trim_end_matches("_total");
                assert!(line.starts_with(base), "{line} outside {family}");
            }
        }
        assert!(text.contains("# TYPE litellm_deployment_total_requests_total counter\n"));
        assert!(text.contains(r#"requested_model="g\"1""#), "a quote escaped");
        assert!(text.contains(r#"api_base="http://h/a\\b""#), "a backslash escaped");
        assert!(lines.iter().any(|l| l.starts_with("litellm_deployment_state{") && l.ends_with(" 2")));
        assert!(lines.iter().any(|l| l.starts_with("litellm_remaining_requests_metric{") && l.ends_with(" 6")));
        assert!(lines.iter().any(|l| l.contains(r#"exception_class="Timeout""#) && l.ends_with(" 1")));
        assert!(lines.iter().any(|l| l.starts_with("litellm_llm_api_latency_metric_bucket{")
            && l.contains(r#"le="1.5""#)
            && l.ends_with(" 1")));
        assert!(lines.iter().any(|l| l.starts_with("litellm_llm_api_latency_metric_bucket{")
            && l.contains(r#"le="1""#)
            && l.ends_with(" 0")));
        assert!(lines.iter().any(|l| l.starts_with("litellm_llm_api_latency_metric_sum{") && l.ends_with(" 1.2")));
        assert!(lines.iter().any(|l| l.starts_with("switchyard_coordinator_messages_total{") && l.ends_with(" 41")));
        assert!(lines.iter().any(|l| l.starts_with("switchyard_coordinator_writes_total{") && l.ends_with(" 3")));
        assert!(lines.iter().any(|l| l.starts_with("switchyard_coordinator_relaying{") && l.ends_with(" 1")));
        assert!(lines.iter().any(|l| l.starts_with("switchyard_leased_slots{") && l.ends_with(" 3")));
        assert!(
            lines.iter().any(|l| l.starts_with("switchyard_queue_depth{")
                && l.contains(r#"priority="0""#)
                && l.ends_with(" 2"))
        );
    }
}
