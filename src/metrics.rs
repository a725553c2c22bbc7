//! `GET /metrics` and `GET /ui/state`: every group's coordinator asked at once
//! for its [`GroupMetrics`], written as Prometheus' exposition or the live
//! page's JSON (`switchyard_core::metrics`).

use futures_util::future::join_all;
use switchyard_core::config::Config;
use switchyard_core::coordinator::GroupMetrics;
use switchyard_core::metrics::{page, prometheus};
use worker::{Env, Result};

use crate::respond::{Body, Reply};
use crate::{coordinator, runtime};

/// Prometheus' text format, version 0.0.4.
const EXPOSITION: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The exposition of every group's metrics.
pub async fn exposition(env: &Env, config: &Config) -> Result<Reply> {
    let text = prometheus::render(config, &every_group(env, config).await);
    let headers = vec![("content-type", EXPOSITION.to_owned()), ("cache-control", "no-store".to_owned())];
    Ok(Reply::new(200, headers, Body::Bytes(text.into_bytes())))
}

/// The live page's state.
pub async fn page_state(env: &Env, config: &Config) -> Result<Reply> {
    let metrics = every_group(env, config).await;
    let state = page::state(config, &metrics, runtime::now_ms() as u64);
    let mut reply = Reply::json(200, serde_json::to_vec(&state)?);
    reply.set("cache-control", "no-store");
    Ok(reply)
}

/// Every group's metrics, in config order. A coordinator that does not answer is
/// left out (and logged): the others' figures still serve.
async fn every_group(env: &Env, config: &Config) -> Vec<GroupMetrics> {
    let answers = join_all(config.groups().iter().map(|group| coordinator::metrics(env, &group.name))).await;
    let mut metrics = Vec::with_capacity(answers.len());
    for (group, answer) in config.groups().iter().zip(answers) {
        match answer {
            Ok(m) => metrics.push(m),
            Err(error) => worker::console_error!("the coordinator of `{}` gave no metrics: {error}", group.name),
        }
    }
    metrics
}
