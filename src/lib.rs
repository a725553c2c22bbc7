//! Switchyard's Worker: the thin shell around `switchyard_core`.
//!
//! It receives HTTP requests, loads the configuration, hands decisions to the core
//! and performs their effects (`fetch` to providers, KV reads, the clock).
//!
//! # Layout
//! - [`routes`]: which handler answers which method and path, and authentication.
//! - [`config_source`]: the configuration from KV, a Worker variable or the bundled
//!   default, cached in the isolate.
//! - [`proxy`]: the routed endpoints (OpenAI's, Anthropic's Messages, OpenAI's
//!   Responses): the planner's steps, run against the coordinator and the deployments.
//! - [`clients`]: clients of another API than Chat Completions: their requests
//!   read, `count_tokens`, stored responses given back.
//! - [`responses_store`]: Responses API responses kept for later, one Durable
//!   Object each.
//! - [`cache`]: the response cache in KV.
//! - [`callbacks`]: each request's record sent to the configured sinks (`otel`,
//!   `langfuse`), batched per isolate, in the background.
//! - [`attempt`]: one call to a deployment under its deadlines; streams relayed
//!   (and translated, through a [`translator`], for providers of another format).
//! - [`credentials`]: Entra ID tokens for Azure deployments and Google tokens for
//!   Vertex AI deployments, cached per isolate.
//! - [`respond`]: JSON and error responses, and the `x-litellm-*` headers.
//! - [`background`]: where work off the response's critical path runs.
//! - [`runtime`]: the clock and the random seed, read from JavaScript.
//! - [`coordinator`]: the per-model-group Durable Object, and its client.
//! - [`relay`]: the Durable Object per group and location that batches that
//!   location's messages to the group's coordinator, when the config asks.
//! - [`relay_way`]: whether an isolate's messages to a group's coordinator go
//!   through its relay now.
//! - [`local_route`]: routing in the isolate, by the coordinator's health view,
//!   for groups that need no ticket per request.
//! - [`observe`]: each request's log line, and its counts handed to the
//!   coordinators for the metrics.
//! - [`metrics`]: `GET /metrics` and `GET /ui/state`, from every group's coordinator.
//! - [`jobs`]: async jobs, one Durable Object each.
//! - [`durable`]: calling a Durable Object by name.
//! - [`ui`]: the live page's files (`GET /ui`), which poll `/ui/state`.

// The Worker's API is what it exports to the runtime; its documentation is for
// those who work on it, and names its private modules.
#![allow(rustdoc::private_intra_doc_links)]

mod attempt;
mod background;
mod cache;
mod callbacks;
mod clients;
mod config_source;
mod coordinator;
mod credentials;
mod durable;
mod jobs;
mod line;
mod local_route;
mod metrics;
mod observe;
mod proxy;
mod relay;
mod relay_way;
mod respond;
mod responses_store;
mod routes;
mod runtime;
mod slot_wait;
mod translator;
mod ui;

use switchyard_core::error::ApiError;
use worker::{Context, Env, Result, event};

use crate::respond::Reply;

/// At instantiation, before any request.
#[event(start)]
fn start() {
    // A panic kills the isolate and every request in it: at least its message
    // and location reach the log, rather than `RuntimeError: unreachable`.
    console_error_panic_hook::set_once();
    runtime::prefer_promise_microtasks();
}

#[event(fetch)]
async fn fetch(req: web_sys::Request, env: Env, ctx: Context) -> Result<web_sys::Response> {
    // A failure of the runtime itself still answers in OpenAI's shape, not as the
    // runtime's plain-text 500.
    runtime::note_location(&req);
    let reply = routes::handle(req, env, ctx).await;
    reply.unwrap_or_else(|error| Reply::error(&ApiError::Internal(error.to_string()))).into_response()
}
