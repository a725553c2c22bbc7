//! The OpenAI endpoints: parse the body once, then run the planner's steps: pick a
//! deployment (in the isolate while the group needs no coordination, else with a
//! ticket from the group's coordinator), call it, report how it went, until an
//! answer or the final error.

use std::pin::pin;
use std::time::Duration;

use futures_util::future::{Either, select};
use switchyard_core::config::{Config, Deployment, DeploymentId, ModelGroup};
use switchyard_core::coordinator::local::{Ask, LocalRouter};
use switchyard_core::coordinator::{
    QueueRequest, Report, ReportedFailure, TicketReply, TicketRequest, reports_may_wait,
};
use switchyard_core::endpoint::Endpoint;
use switchyard_core::error::ApiError;
use switchyard_core::failure::Failure;
use switchyard_core::mock::{self, MockContext};
use switchyard_core::plan::{Plan, Step};
use switchyard_core::request::ParsedRequest;
use worker::{Context, Delay, Env, Result};

use crate::attempt::{self, Answer, Deadlines, Read, StreamEnd};
use crate::cache::Cached;
use crate::respond::{self, Body, HeaderList, Limits, Reply, Served};
use crate::{coordinator, local_route, routes, runtime};

/// LiteLLM's default when no timeout is configured anywhere: 10 minutes.
const DEFAULT_TIMEOUT_MS: u64 = 600_000;

/// Where work off the response's critical path (reports to the coordinator) runs.
pub enum Background<'a> {
    /// A client request: `ctx.waitUntil`, so it finishes after the response.
    WaitUntil(&'a Context),
    /// Inside a Durable Object (an async job): spawned on the object's event loop.
    Spawn,
}

impl Background<'_> {
    fn run(&self, work: impl std::future::Future<Output = ()> + 'static) {
        match self {
            Self::WaitUntil(ctx) => ctx.wait_until(work),
            Self::Spawn => wasm_bindgen_futures::spawn_local(work),
        }
    }
}

/// Who a request is served for.
pub enum Caller {
    /// A client: its API key scopes the response cache; its request's signal
    /// aborts when it disconnects (the `enable_request_signal` flag). The signal is
    /// asked for only by a request that waits: it is an object the runtime makes.
    Client { api_key: Option<String>, request: web_sys::Request },
    /// An async job: no client to lose, and no cache (a job carries no API key).
    Job,
}

pub async fn handle(
    endpoint: Endpoint,
    req: web_sys::Request,
    env: &Env,
    ctx: &Context,
    config: &Config,
) -> Result<Reply> {
    let header_timeout = match header_timeout(&req) {
        Ok(timeout) => timeout,
        Err(error) => return Ok(Reply::error(&error)),
    };
    let body = runtime::whole_body(req.array_buffer()).await?;
    let caller = Caller::Client { api_key: routes::api_key(&req), request: req };
    serve(endpoint, &body, header_timeout, caller, env, Background::WaitUntil(ctx), config).await
}

/// Serves one request body, from a client or from an async job.
pub async fn serve(
    endpoint: Endpoint,
    body: &[u8],
    header_timeout: Option<u64>,
    caller: Caller,
    env: &Env,
    background: Background<'_>,
    config: &Config,
) -> Result<Reply> {
    let started = runtime::now_ms();
    let request = match ParsedRequest::parse(endpoint, body) {
        Ok(request) => request,
        Err(error) => return Ok(Reply::error(&error)),
    };
    let Some(group) = config.group(&request.model) else {
        let error = ApiError::ModelNotFound { model: request.model, available: config.listed_models().to_vec() };
        return Ok(Reply::error(&error));
    };
    if let Some(fallbacks) = &request.policy.fallbacks
        && let Some(unknown) = fallbacks.iter().find(|f| config.group(f).is_none())
    {
        let message = format!("fallback `{unknown}` is not a model on this gateway");
        return Ok(Reply::error(&ApiError::InvalidParam { param: "fallbacks", message }));
    }

    let cached = match &caller {
        Caller::Client { api_key, .. } => Cached::of(&config.cache, &request, &group.name, api_key.as_deref()),
        Caller::Job => None,
    };
    // A hit calls nobody and is counted nowhere as usage.
    if let Some(cached) = &cached
        && let Some(mut hit) = cached.lookup(env, endpoint, request.stream).await
    {
        hit.set("x-litellm-model-group", group.name.as_str());
        return Ok(hit);
    }

    // As in LiteLLM, only requests with a priority wait in the queue, unless the
    // router gives every request a default one.
    let priority = request.priority.or(config.router.queue.default_priority);
    let mut rng = runtime::rng();
    // The request's own timeout bounds the whole of it, retries and waits included.
    let deadline = request.timeout_ms.or(header_timeout).map(|ms| started as u64 + ms);
    let (mut plan, mut step) =
        Plan::new(&group.name, request.policy.clone(), request.prompt_tokens, &config.router, deadline);
    let mut last_served: Option<(&ModelGroup, &Deployment, Limits)> = None;
    loop {
        let (name, avoid, delay_ms, deadline_ms) = match step {
            Step::Fail(error) => {
                let mut reply = Reply::error(&error);
                let served = last_served.map(|(group, deployment, left)| Served { group, deployment, left });
                let prioritized = priority.is_some();
                respond::attempt_headers(&mut reply, plan.group(), served, plan.attempts(), started, prioritized);
                return Ok(reply);
            }
            Step::Call { group, avoid, delay_ms, deadline_ms } => (group, avoid, delay_ms, deadline_ms),
        };
        if delay_ms > 0 {
            Delay::from(Duration::from_millis(delay_ms)).await;
        }
        let Some(group) = config.group(&name) else {
            return Ok(Reply::error(&ApiError::Internal(format!("fallback group `{name}` vanished"))));
        };
        let ask = Ask { avoid: &avoid, estimated_tokens: request.prompt_tokens, stream: request.stream };
        let picked = local_route::pick(env, group, &config.router, ask, &mut rng).await;
        let (deployment, grant, left) = match picked {
            Some((deployment, left)) => (deployment, None, left),
            None => {
                let queue = priority.map(|priority| QueueRequest {
                    priority,
                    max_wait_ms: max_wait_ms(&request, header_timeout, group, config)
                        .min(deadline_ms.map_or(u64::MAX, |at| at.saturating_sub(runtime::now_ms() as u64))),
                    waiter: rng.u64(..),
                });
                let ticket =
                    TicketRequest { avoid, estimated_tokens: request.prompt_tokens, stream: request.stream, queue };
                let grant = match take_ticket(env, &group.name, ticket, &caller, &background).await {
                    Ok(TicketReply::Granted(grant)) => grant,
                    Ok(TicketReply::Unavailable(reason)) => {
                        step = plan.on_unavailable(runtime::now_ms() as u64, &reason, &config.router, &mut rng);
                        continue;
                    }
                    Err(error) => return Ok(Reply::error(&error)),
                };
                let Some(deployment) = group.deployments.iter().find(|d| d.id == grant.deployment) else {
                    let error = ApiError::Internal(format!("coordinator chose unknown `{}`", grant.deployment));
                    return Ok(Reply::error(&error));
                };
                let left = Limits { requests: grant.remaining_requests, tokens: grant.remaining_tokens };
                (deployment, Some(grant), left)
            }
        };
        let attempt_started = runtime::now_ms();
        let deadlines = deadlines(&request, header_timeout, deployment, config)
            .within((deadline_ms.unwrap_or(u64::MAX) as f64 - attempt_started).max(1.0) as u64);
        // The whole answer for the cache; else its usage, for the tokens a ticket
        // reports or the isolate counts (see `LocalRouter::wants_usage`). A ticket's
        // report of a stream carries them only where they count, as it costs the
        // stream's end copied into Wasm.
        let wants_usage = LocalRouter::wants_usage(deployment, &config.router);
        let read = if cached.as_ref().is_some_and(|c| !(request.stream && c.controls.no_store)) {
            Read::Whole
        } else if wants_usage || (grant.is_some() && !request.stream) {
            Read::Usage
        } else {
            Read::Nothing
        };
        let outcome = run(deployment, &request, endpoint, read, deadlines).await?;
        let elapsed = |since: f64| (runtime::now_ms() - since) as u64;
        let settle = Settle {
            env: env.clone(),
            group: group.name.clone(),
            deployment: deployment.id.clone(),
            ticket: grant.as_ref().map(|g| g.ticket),
            reports_may_wait: reports_may_wait(group, &config.router),
            estimated_tokens: request.prompt_tokens,
        };
        let mut reply = match outcome {
            Err(mut failure) => {
                // What a provider says may echo the key it was sent.
                failure.error = failure.error.masked(&config.secrets);
                // Told before the next step, so that a retry sees the cooldown.
                let reported = ReportedFailure { class: failure.class, retry_after_ms: failure.retry_after_ms };
                settle.ended(elapsed(attempt_started), None, None, Some(reported)).await;
                step = plan.on_failure(runtime::now_ms() as u64, &deployment.id, failure, &config.router);
                last_served = Some((group, deployment, left));
                continue;
            }
            Ok(Answer::Complete { status, headers, upstream, body, tokens }) => {
                if let (Some(cached), Body::Bytes(bytes)) = (&cached, &body)
                    && (200..300).contains(&status)
                    && let Some(store) = cached.store(env, &config.cache, endpoint, request.stream, bytes)
                {
                    background.run(store);
                }
                let latency_ms = elapsed(attempt_started);
                // A success without a ticket has nothing to tell now: the next sync
                // counts it, with the tokens it used where they matter.
                if settle.ticket.is_some() {
                    background.run(settle.ended(latency_ms, None, tokens, None));
                } else {
                    let tokens = tokens.filter(|_| wants_usage).map(|used| (request.prompt_tokens, used));
                    local_route::answered(&group.name, &deployment.id, latency_ms, None, tokens);
                }
                Reply::new(status, headers, body).passing(upstream)
            }
            Ok(Answer::Stream { status, upstream, body, ended, ttft_ms }) => {
                let (env, cache_policy, cached) = (env.clone(), config.cache.clone(), cached.clone());
                let (id, stall_ms) = (deployment.id.clone(), deadlines.stall_ms);
                background.run(async move {
                    let (tokens, failure) = match attempt::stream_end(ended, id.as_str(), read, stall_ms).await {
                        Some(StreamEnd::Failed(f)) => {
                            (None, Some(ReportedFailure { class: f.class, retry_after_ms: None }))
                        }
                        Some(StreamEnd::Finished { whole, tokens }) => {
                            // Cached once complete, after the client has it all.
                            if let (Some(cached), Some(sse)) = (&cached, whole)
                                && let Some(store) = cached.store(&env, &cache_policy, endpoint, true, &sse)
                            {
                                store.await;
                            }
                            (tokens.filter(|_| wants_usage), None)
                        }
                        // The client went away: the deployment did its part.
                        None => (None, None),
                    };
                    settle.ended(elapsed(attempt_started), Some(ttft_ms), tokens, failure).await;
                });
                Reply::new(status, HeaderList::new(), Body::Stream(body)).passing(Some(upstream))
            }
        };
        if let Some(cached) = &cached {
            cached.mark(&mut reply, "MISS");
        }
        let served = Served { group, deployment, left };
        let prioritized = priority.is_some();
        respond::attempt_headers(&mut reply, &group.name, Some(served), plan.attempts(), started, prioritized);
        return Ok(reply);
    }
}

/// Asks the group's coordinator for a ticket. A request that may wait there leaves
/// the queue when its client disconnects.
async fn take_ticket(
    env: &Env,
    group: &str,
    ticket: TicketRequest,
    caller: &Caller,
    background: &Background<'_>,
) -> std::result::Result<TicketReply, ApiError> {
    let waiter = ticket.queue.map(|q| q.waiter);
    let acquired = coordinator::acquire(env, group, ticket);
    let (Some(waiter), Caller::Client { request, .. }) = (waiter, caller) else {
        return acquired.await;
    };
    match select(pin!(acquired), pin!(runtime::aborted(request.signal()))).await {
        Either::Left((acquired, _)) => acquired,
        Either::Right(_) => {
            let (env, group) = (env.clone(), group.to_owned());
            background.run(async move {
                let _ = coordinator::leave(&env, &group, waiter).await;
            });
            Err(ApiError::Internal("the client disconnected".into()))
        }
    }
}

/// Tells how an attempt ended: with a ticket, its report to the coordinator;
/// picked in the isolate, a failure at once, a success's latency to the isolate's
/// router (which tells it at its next sync).
struct Settle {
    env: Env,
    group: String,
    deployment: DeploymentId,
    ticket: Option<u64>,
    /// A success may travel with the isolate's next ticket ([`reports_may_wait`]).
    reports_may_wait: bool,
    /// The prompt's estimated tokens, spent at the pick; an answer's usage corrects them.
    estimated_tokens: u64,
}

impl Settle {
    async fn ended(
        self,
        latency_ms: u64,
        ttft_ms: Option<u64>,
        tokens_used: Option<u64>,
        failure: Option<ReportedFailure>,
    ) {
        let Some(ticket) = self.ticket else {
            match failure {
                Some(failure) => local_route::failed(&self.env, &self.group, &self.deployment, failure).await,
                None => {
                    let tokens = tokens_used.map(|used| (self.estimated_tokens, used));
                    local_route::answered(&self.group, &self.deployment, latency_ms, ttft_ms, tokens);
                }
            }
            return;
        };
        let may_wait = failure.is_none() && self.reports_may_wait;
        let report = Report { ticket, latency_ms, ttft_ms, tokens_used, failure };
        // A lost report costs only accuracy (the ticket expires); never the answer.
        if let Err(error) = coordinator::report(&self.env, &self.group, report, may_wait).await {
            worker::console_error!("reporting to the coordinator of `{}` failed: {error}", self.group);
        }
    }
}

/// Runs one attempt: a mock answers at once; anything else is a call.
async fn run(
    deployment: &Deployment,
    request: &ParsedRequest<'_>,
    endpoint: Endpoint,
    read: Read,
    deadlines: Deadlines,
) -> Result<std::result::Result<Answer, Failure>> {
    // A mock in the request wins over the deployment's, as in LiteLLM.
    if let Some(content) = request.mock_response.as_deref().or(deployment.mock_response.as_deref()) {
        let mut rng = runtime::rng();
        let ctx = MockContext { now_secs: (runtime::now_ms() / 1000.0) as u64, rng: &mut rng };
        let answer = mock::answer(request, &deployment.model, content, ctx);
        let headers =
            vec![("content-type", if answer.is_stream { "text/event-stream" } else { "application/json" }.into())];
        let tokens = request.prompt_tokens + (content.len() as u64).div_ceil(4);
        let body = Body::Bytes(answer.body);
        return Ok(Ok(Answer::Complete { status: 200, headers, upstream: None, body, tokens: Some(tokens) }));
    }
    let body = request.upstream_body(&deployment.model);
    attempt::call(deployment, endpoint, body, request.stream, read, deadlines).await
}

/// The attempt's deadlines: the request's (body, else `x-litellm-timeout`), else the
/// deployment's, else the router's; for streams `stream_timeout` first at each level.
fn deadlines(
    request: &ParsedRequest<'_>,
    header_ms: Option<u64>,
    deployment: &Deployment,
    config: &Config,
) -> Deadlines {
    let router = &config.router;
    let timeout =
        request.timeout_ms.or(header_ms).or(deployment.timeout_ms).or(router.timeout_ms).unwrap_or(DEFAULT_TIMEOUT_MS);
    let stream_timeout = request
        .stream_timeout_ms
        .or(request.timeout_ms)
        .or(header_ms)
        .or(deployment.stream_timeout_ms)
        .or(deployment.timeout_ms)
        .or(router.stream_timeout_ms)
        .or(router.timeout_ms)
        .unwrap_or(DEFAULT_TIMEOUT_MS);
    if request.stream {
        Deadlines { first_ms: stream_timeout, stall_ms: stream_timeout }
    } else {
        Deadlines { first_ms: timeout, stall_ms: timeout }
    }
}

/// How long a request may wait in the queue: its own timeout, else the longest
/// of its group's deployments', else the router's, else the default.
fn max_wait_ms(request: &ParsedRequest<'_>, header_ms: Option<u64>, group: &ModelGroup, config: &Config) -> u64 {
    let deployments = group.deployments.iter().filter_map(|d| d.timeout_ms).max();
    request.timeout_ms.or(header_ms).or(deployments).or(config.router.timeout_ms).unwrap_or(DEFAULT_TIMEOUT_MS)
}

/// `x-litellm-timeout: <seconds>`.
fn header_timeout(req: &web_sys::Request) -> std::result::Result<Option<u64>, ApiError> {
    let Some(value) = req.headers().get("x-litellm-timeout").ok().flatten() else {
        return Ok(None);
    };
    match value.trim().parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 => Ok(Some((s * 1000.0).ceil() as u64)),
        _ => Err(ApiError::InvalidParam {
            param: "x-litellm-timeout",
            message: format!("the x-litellm-timeout header must be a number of seconds > 0, got `{value}`"),
        }),
    }
}
