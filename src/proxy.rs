//! The OpenAI endpoints: parse the body once, then carry out what the core decides
//! (`switchyard_core::serving`, `switchyard_core::plan`): pick a deployment (in the
//! isolate while the group needs no coordination, else with a ticket from the
//! group's coordinator), call it, report how it went, until an answer or the final
//! error.

use std::rc::Rc;
use std::time::Duration;

use futures_channel::oneshot;
use switchyard_core::config::{Config, Deployment, DeploymentId, ModelGroup};
use switchyard_core::coordinator::local::Ask;
use switchyard_core::coordinator::{
    Grant, Report, ReportedFailure, TicketReply, TicketRequest, Unavailable, cools_down, report_may_wait,
};
use switchyard_core::cost;
use switchyard_core::endpoint::Endpoint;
use switchyard_core::error::ApiError;
use switchyard_core::failure::Failure;
use switchyard_core::inbound::client::Client;
use switchyard_core::mock::{self, MockContext};
use switchyard_core::observe::record::{self, Content, RequestRecord, StreamEnded, Tokens};
use switchyard_core::openai::Usage;
use switchyard_core::plan::Step;
use switchyard_core::request::{ParsedRequest, priority_header, timeout_header};
use switchyard_core::secret::{self, Secrets};
use switchyard_core::serving::{Attempt, Serving};
use switchyard_core::upstream::{self, CallContext, ClientHeaders};
use worker::{Context, Delay, Env, Result};

use crate::attempt::{self, Answer, Outbound, StreamEnd, Translated};
use crate::background::Background;
use crate::cache::Cached;
use crate::line::{self, Waited};
use crate::observe;
use crate::respond::{self, Body, HeaderList, Limits, Reply, Served};
use crate::{clients, coordinator, credentials, local_route, responses_store, runtime};

/// Who a request is served for.
pub enum Caller {
    /// A client: its API key scopes the response cache; its request's signal
    /// aborts when it disconnects (the `enable_request_signal` flag). The signal is
    /// asked for only by a request that waits: it is an object the runtime makes.
    Client { api_key: Option<String>, request: web_sys::Request },
    /// An async job: no client to lose, and no cache (a job carries no API key).
    Job,
}

impl Caller {
    /// The client's key, if it sent one.
    fn api_key(&self) -> Option<String> {
        match self {
            Self::Client { api_key, .. } => api_key.clone(),
            Self::Job => None,
        }
    }

    /// The request's id: the client's own `x-litellm-call-id` when it is plain,
    /// else a new one.
    fn request_id(&self, rng: &mut fastrand::Rng) -> String {
        let own = self.header("x-litellm-call-id");
        match own.as_deref().and_then(record::client_request_id) {
            Some(id) => id.to_owned(),
            None => record::request_id(rng.u128(..)),
        }
    }

    /// A header of the client's request (read only where a provider passes it on).
    fn header(&self, name: &str) -> Option<String> {
        match self {
            Self::Client { request, .. } => request.headers().get(name).ok().flatten(),
            Self::Job => None,
        }
    }
}

/// What a client may say in headers rather than in the body.
#[derive(Debug, Clone, Copy, Default)]
pub struct HeaderOptions {
    /// `x-litellm-timeout`, in milliseconds.
    pub timeout_ms: Option<u64>,
    /// `x-litellm-priority`, for clients that cannot add a body field (Anthropic's
    /// SDKs): the body's `priority` wins.
    pub priority: Option<u32>,
}

impl HeaderOptions {
    fn of(req: &web_sys::Request) -> std::result::Result<Self, ApiError> {
        let header = |name: &str| req.headers().get(name).ok().flatten();
        let timeout_ms = header("x-litellm-timeout").map(|value| timeout_header(&value)).transpose()?;
        let priority = header("x-litellm-priority").map(|value| priority_header(&value)).transpose()?;
        Ok(Self { timeout_ms, priority })
    }
}

pub async fn handle(
    endpoint: Endpoint,
    req: web_sys::Request,
    api_key: Option<String>,
    env: &Env,
    ctx: &Context,
    config: &Config,
) -> Result<Reply> {
    let headers = match HeaderOptions::of(&req) {
        Ok(headers) => headers,
        Err(error) => return Ok(Reply::error_for(endpoint, &error)),
    };
    let body = runtime::whole_body(req.array_buffer()).await?;
    let client = match clients::of(endpoint, &req, &body, api_key.as_deref(), env).await? {
        Ok(client) => client,
        Err(reply) => return Ok(reply),
    };
    let caller = Caller::Client { api_key, request: req };
    serve(endpoint, &body, headers, caller, env, Background::WaitUntil(ctx), config, client).await
}

/// Serves one request body, from a client or from an async job: the plan's steps,
/// each a pick and a call, until an answer or the final error. `client`: a client
/// of another API than Chat Completions (Anthropic's Messages, OpenAI's Responses).
#[allow(clippy::too_many_arguments)]
pub async fn serve(
    endpoint: Endpoint,
    body: &[u8],
    headers: HeaderOptions,
    caller: Caller,
    env: &Env,
    background: Background<'_>,
    config: &Config,
    client: Option<Rc<Client>>,
) -> Result<Reply> {
    let started = runtime::now_ms();
    let mut rng = runtime::rng();
    let mut record = RequestRecord::new(started as u64, caller.request_id(&mut rng), endpoint.client_path());
    record.hashed_api_key = caller.api_key().as_deref().map(secret::hashed);
    let served = route(endpoint, body, headers, &caller, env, &background, config, client, &mut record, rng).await;
    let mut reply = served?;
    reply.set("x-request-id", record.request_id.clone());
    reply.set("x-litellm-call-id", record.request_id.clone());
    record.status = reply.status();
    match reply.stream_end.take() {
        None => {
            record.latency_ms = (runtime::now_ms() - started) as u64;
            if let Some(work) = observe::finished(env, config.request_log, &config.callbacks, &record) {
                background.run(work);
            }
        }
        Some(ended) => {
            let env = env.clone();
            let deployment = last_deployment(config, &record);
            let (request_log, callbacks) = (config.request_log, config.callbacks.clone());
            background.run(async move {
                if let Ok(end) = ended.await {
                    record.stream_ended(end, deployment.as_deref());
                }
                record.latency_ms = (runtime::now_ms() - started) as u64;
                if let Some(work) = observe::finished(&env, request_log, &callbacks, &record) {
                    work.await;
                }
            });
        }
    }
    Ok(reply)
}

/// The deployment a record's last call went to, when it is priced: a stream's
/// cost is made at its end, from a copy (the config may have changed by then);
/// an unpriced one is not copied.
fn last_deployment(config: &Config, record: &RequestRecord) -> Option<Box<Deployment>> {
    let called = record.deployment.as_ref()?;
    let group = config.group(&called.group)?;
    let deployment = group.deployments.iter().find(|d| d.id.as_str() == called.id)?;
    cost::priced(deployment).then(|| Box::new(deployment.clone()))
}

/// Serves the request, telling `record` what it did: the plan's steps, each a
/// pick and a call, until an answer or the final error.
#[allow(clippy::too_many_arguments)]
async fn route(
    endpoint: Endpoint,
    body: &[u8],
    headers: HeaderOptions,
    caller: &Caller,
    env: &Env,
    background: &Background<'_>,
    config: &Config,
    client: Option<Rc<Client>>,
    record: &mut RequestRecord,
    mut rng: fastrand::Rng,
) -> Result<Reply> {
    let started = record.time_ms as f64;
    let mut request = match ParsedRequest::parse(endpoint, body) {
        Ok(request) => request,
        Err(error) => return Ok(Reply::error_for(endpoint, &error)),
    };
    request.priority = request.priority.or(headers.priority);
    record.model = request.model.to_owned();
    record.stream = request.stream;
    record.metadata = request.field("metadata").and_then(|raw| serde_json::from_str(raw.get()).ok());
    let serving = match Serving::new(config, &request, headers.timeout_ms, started as u64) {
        Ok(serving) => serving,
        Err(error) => return Ok(Reply::error_for(endpoint, &error)),
    };
    record.group = Some(serving.group.name.clone());
    record.priority = serving.priority;
    let cached = match caller {
        Caller::Client { api_key, .. } => Cached::of(&config.cache, &request, &serving.group.name, api_key.as_deref()),
        Caller::Job => None,
    };
    // A hit calls nobody and is counted nowhere as usage.
    if let Some(cached) = &cached
        && let Some(mut hit) = cached.lookup(env, endpoint, request.stream, client.as_deref()).await
    {
        hit.set("x-litellm-model-group", serving.group.name.as_str());
        record.cache_hit = Some(true);
        return Ok(hit);
    }
    record.cache_hit = cached.as_ref().map(|_| false);
    let (mut plan, mut step) = serving.plan(&request);
    let mut last_tried: Option<Picked<'_>> = None;
    let prioritized = serving.priority.is_some();
    loop {
        let (group, avoid) = match step {
            Step::Fail(error) => {
                record.error_type = Some(error.kind().to_owned());
                let mut reply = Reply::error_for(endpoint, &error);
                let served = last_tried.map(|p| Served { group: p.group, deployment: p.deployment, left: p.left });
                respond::attempt_headers(&mut reply, plan.group(), served, plan.attempts(), started, prioritized);
                return Ok(reply);
            }
            Step::Call { group, avoid, delay_ms } => {
                if delay_ms > 0 {
                    Delay::from(Duration::from_millis(delay_ms)).await;
                }
                (group, avoid)
            }
        };
        let Some(group) = config.group(&group) else {
            let error = ApiError::Internal(format!("fallback group `{group}` vanished"));
            return Ok(Reply::error_for(endpoint, &error));
        };
        let slot_wait_ms = &mut record.slot_wait_ms;
        let mut picked =
            match pick(env, group, &serving, &request, avoid, caller, background, &mut rng, slot_wait_ms).await {
                Ok(Ok(picked)) => picked,
                Ok(Err(reason)) => {
                    step = plan.on_unavailable(runtime::now_ms() as u64, &reason, &config.router, &mut rng);
                    continue;
                }
                Err(error) => return Ok(Reply::error_for(endpoint, &error)),
            };
        let attempt_started = runtime::now_ms();
        record.calling(&group.name, picked.deployment);
        if let Some(waited_ms) = picked.queue_wait_ms {
            record.queue_wait_ms = Some(record.queue_wait_ms.unwrap_or(0) + waited_ms);
        }
        let ticket = picked.grant.as_ref().map(|g| g.ticket);
        // A stream written for a client of another API is not kept whole: the
        // cache keeps chat answers.
        let controls = cached.as_ref().map(|c| &c.controls).filter(|_| !(client.is_some() && request.stream));
        let attempt = serving.attempt(picked.deployment, controls, attempt_started as u64);
        let settle = Settle {
            env: env.clone(),
            group: group.name.clone(),
            deployment: picked.deployment.id.clone(),
            ticket,
            report_may_wait: report_may_wait(picked.deployment, &config.router),
            cools_down: cools_down(group, picked.deployment, &config.router),
            estimated_tokens: request.prompt_tokens,
            counts_usage: attempt.counts_usage,
            started_ms: attempt_started,
            _in_flight: picked.in_flight.take(),
            _ticket_held: picked.ticket_held.take(),
        };
        let call = ClientCall { env, body, caller, secrets: &config.secrets, client: client.as_ref() };
        let mut reply = match run(picked.deployment, &request, endpoint, attempt, &call).await? {
            Err(mut failure) => {
                // What a provider says may echo the key it was sent.
                failure.error = failure.error.masked(&config.secrets);
                // Told before the next step, so that a retry sees the cooldown.
                let reported = ReportedFailure { class: failure.class, retry_after_ms: failure.retry_after_ms };
                record.call_failed(failure.class, (runtime::now_ms() - attempt_started) as u64);
                settle.ended(None, None, Some(reported)).await;
                step = plan.on_failure(runtime::now_ms() as u64, &picked.deployment.id, failure, &config.router);
                last_tried = Some(picked);
                continue;
            }
            Ok(answer) => {
                if config.callbacks.logs_messages() {
                    record.content = Some(content(&request, endpoint, &answer));
                }
                let cost = answer.usage().and_then(|usage| cost::of(picked.deployment, usage));
                record.usage = answer.usage().map(Tokens::from);
                record.cost = cost;
                record.api_latency_ms = Some((runtime::now_ms() - attempt_started) as u64);
                if let Answer::Stream { ttft_ms, .. } = &answer {
                    record.ttft_ms = Some(*ttft_ms);
                }
                let keeping = Keeping { cached: cached.as_ref(), client: client.clone(), api_key: caller.api_key() };
                let mut reply = answered(answer, settle, attempt, endpoint, &request, keeping, env, config, background);
                if let Some(cost) = cost {
                    reply.set("x-litellm-response-cost", cost.to_string());
                }
                reply
            }
        };
        if let Some(cached) = &cached {
            cached.mark(&mut reply, "MISS");
        }
        let served = Served { group, deployment: picked.deployment, left: picked.left };
        respond::attempt_headers(&mut reply, &group.name, Some(served), plan.attempts(), started, prioritized);
        return Ok(reply);
    }
}

/// A deployment to call: picked in the isolate, or granted by the coordinator.
struct Picked<'c> {
    group: &'c ModelGroup,
    deployment: &'c Deployment,
    grant: Option<Grant>,
    /// How long it waited in the group's queue, as its client did: from asking
    /// to the answer, for a request the coordinator queued or that was handed a
    /// slot freed in this isolate (which the coordinator may never have heard
    /// of); the coordinator's own count leaves out the isolate's line before it
    /// was told and the way back. None when granted at once.
    queue_wait_ms: Option<u64>,
    /// What its ticket or lease says is left of its rpm and tpm.
    left: Limits,
    /// Picked in the isolate, where it counts in flight: frees its slot when dropped.
    in_flight: Option<local_route::InFlight>,
    /// Granted a ticket: counted in the isolate while it runs, until dropped.
    ticket_held: Option<local_route::TicketHeld>,
}

/// Picks a deployment of `group` for the next call: in the isolate while the group
/// needs no coordination, else with a ticket (for which a request with a priority
/// may wait in the group's queue). `Ok(Err(reason))`: no deployment can be called.
/// What it waited in the isolate for a slot adds to `slot_wait_ms` (the record's)
/// whatever the outcome.
#[allow(clippy::too_many_arguments)]
async fn pick<'c>(
    env: &Env,
    group: &'c ModelGroup,
    serving: &Serving<'_>,
    request: &ParsedRequest<'_>,
    avoid: Vec<DeploymentId>,
    caller: &Caller,
    background: &Background<'_>,
    rng: &mut fastrand::Rng,
    slot_wait_ms: &mut Option<u64>,
) -> std::result::Result<std::result::Result<Picked<'c>, Unavailable>, ApiError> {
    let ask = Ask {
        avoid: &avoid,
        estimated_tokens: request.prompt_tokens,
        stream: request.stream,
        region: request.allowed_region,
        may_wait: serving.priority.is_some(),
        await_slot: true,
    };
    // Held until this function returns: after a refusal is recorded below.
    let mut asking = match local_route::pick(env, group, serving.router(), ask, background, rng, slot_wait_ms).await? {
        local_route::Local::Call(deployment, left, in_flight) => {
            let picked =
                Picked { group, deployment, grant: None, queue_wait_ms: None, left, in_flight, ticket_held: None };
            return Ok(Ok(picked));
        }
        local_route::Local::Refused(reason) => return Ok(Err(reason)),
        local_route::Local::Ticket(asking) => asking,
    };
    let queue = serving.queue(group, runtime::now_ms() as u64, rng.u64(..));
    // A request that can neither wait nor has tried anything: its refusal holds
    // for the isolate's requests like it (`local_route::refused`).
    let plain = queue.is_none() && avoid.is_empty();
    let ticket = TicketRequest {
        avoid,
        estimated_tokens: request.prompt_tokens,
        stream: request.stream,
        queue,
        region: request.allowed_region,
        isolate: runtime::isolate(),
    };
    let asked_ms = runtime::now_ms() as u64;
    let reply = take_ticket(env, &group.name, ticket, caller, background).await;
    if let (Some(asking), Ok(_)) = (&mut asking, &reply) {
        asking.answered();
    }
    let waited_ms = (runtime::now_ms() as u64).saturating_sub(asked_ms);
    // A coordinator that failed this ticket is not asked again by the next picks at once.
    if let Err(error) = &reply {
        local_route::unreachable(&group.name, error);
    }
    let grant = match reply? {
        Waited::Answered(TicketReply::Granted(grant)) => grant,
        Waited::Answered(TicketReply::Unavailable(reason)) => {
            if plain {
                local_route::refused(&group.name, request.prompt_tokens, request.allowed_region, &reason);
            }
            return Ok(Err(reason));
        }
        // A slot freed in this isolate came to it in its line: called as a pick.
        Waited::Slot(id, held) => {
            let in_flight = local_route::InFlight::handed(env, &group.name, held, background)?;
            let Some(deployment) = group.deployments.iter().find(|d| d.id == id) else {
                return Err(ApiError::Internal(format!("a slot of unknown `{id}` handed over")));
            };
            let left = Limits { requests: None, tokens: None };
            return Ok(Ok(Picked {
                group,
                deployment,
                grant: None,
                queue_wait_ms: Some(waited_ms),
                left,
                in_flight: Some(in_flight),
                ticket_held: None,
            }));
        }
    };
    let Some(deployment) = group.deployments.iter().find(|d| d.id == grant.deployment) else {
        return Err(ApiError::Internal(format!("coordinator chose unknown `{}`", grant.deployment)));
    };
    let left = Limits { requests: grant.remaining_requests, tokens: grant.remaining_tokens };
    let ticket_held = Some(local_route::TicketHeld::start(env, &group.name, &grant, background));
    let queue_wait_ms = grant.waited_ms.map(|_| waited_ms);
    let picked = Picked { group, deployment, grant: Some(grant), queue_wait_ms, left, in_flight: None, ticket_held };
    Ok(Ok(picked))
}

/// What is kept of an answer: the cache's entry, a Responses client's response.
struct Keeping<'a> {
    cached: Option<&'a Cached>,
    client: Option<Rc<Client>>,
    /// The caller's key: a kept response is its tenant's only.
    api_key: Option<String>,
}

/// The reply to an attempt that answered: its usage told (at once, or once a
/// stream ends), its answer stored in the cache and, for a Responses client, its
/// response kept for later, all off the critical path.
#[allow(clippy::too_many_arguments)]
fn answered(
    answer: Answer,
    settle: Settle,
    attempt: Attempt,
    endpoint: Endpoint,
    request: &ParsedRequest<'_>,
    keeping: Keeping<'_>,
    env: &Env,
    config: &Config,
    background: &Background<'_>,
) -> Reply {
    let Keeping { cached, client, api_key } = keeping;
    match answer {
        Answer::Complete { status, headers, upstream, body, usage, chat } => {
            let tokens = usage.map(|usage| usage.total_tokens);
            if (200..300).contains(&status) {
                // A client of another API is kept the chat answer its own was made
                // from, or, from a deployment that speaks its API, its own answer.
                let kept = match (&chat, &body) {
                    (Some(chat), _) => serde_json::to_vec(chat).ok().map(|bytes| (Endpoint::ChatCompletions, bytes)),
                    (None, Body::Bytes(bytes)) => Some((endpoint, bytes.clone())),
                    (None, _) => None,
                };
                if let (Some(cached), Some((kept_as, bytes))) = (cached, kept)
                    && let Some(store) = cached.store(env, &config.cache, kept_as, request.stream, &bytes)
                {
                    background.run(store);
                }
                if let Some(stored) = client.as_ref().and_then(|client| client.stored(chat.as_deref(), None)) {
                    background.run(responses_store::keep(env.clone(), stored, api_key, config.responses_ttl_ms));
                }
            }
            // A success without a ticket has nothing to tell now: the next sync
            // counts it, with the tokens it used where they matter.
            if settle.ticket.is_some() {
                background.run(settle.ended(None, tokens, None));
            } else {
                settle.answered_here(None, tokens);
            }
            Reply::new(status, headers, body).passing(upstream)
        }
        Answer::Stream { status, upstream, body, ended, ttft_ms, translation } => {
            let (env, cache_policy, cached) = (env.clone(), config.cache.clone(), cached.cloned());
            let ttl_ms = config.responses_ttl_ms;
            let stall_ms = attempt.deadlines.stall_ms;
            let (told, stream_end) = oneshot::channel();
            background.run(async move {
                let id = settle.deployment.clone();
                let watched = translation.clone();
                let end = attempt::stream_end(ended, id.as_str(), attempt.read, stall_ms, translation).await;
                let _ = told.send(stream_ended(end.as_ref(), settle.started_ms));
                let (tokens, failure) = match end {
                    Some(StreamEnd::Failed(f)) => {
                        (None, Some(ReportedFailure { class: f.class, retry_after_ms: None }))
                    }
                    Some(StreamEnd::Finished { whole, usage }) => {
                        let tokens = usage.map(|usage| usage.total_tokens);
                        // Cached once complete, after the client has it all.
                        if let (Some(cached), Some(sse)) = (&cached, whole)
                            && let Some(store) = cached.store(&env, &cache_policy, endpoint, true, &sse)
                        {
                            store.await;
                        }
                        let stored = client.as_ref().and_then(|client| {
                            let translation = watched.as_ref()?.try_borrow().ok()?;
                            client.stored(None, Some(translation.encoder()))
                        });
                        if let Some(stored) = stored {
                            responses_store::keep(env.clone(), stored, api_key, ttl_ms).await;
                        }
                        (tokens, None)
                    }
                    // The client went away: the deployment did its part.
                    None => (None, None),
                };
                settle.ended(Some(ttft_ms), tokens, failure).await;
            });
            let mut reply = Reply::new(status, HeaderList::new(), Body::Stream(body)).passing(Some(upstream));
            reply.stream_end = Some(stream_end);
            reply
        }
    }
}

/// The request's input and the answer's text, for callbacks that log messages. A
/// stream's text, and an answer left in JavaScript, are not kept.
fn content(request: &ParsedRequest<'_>, endpoint: Endpoint, answer: &Answer) -> Content {
    let input = request.field(endpoint.input_param()).map(|raw| raw.get().to_owned());
    let output = match answer {
        Answer::Complete { body: Body::Bytes(bytes), .. } => Content::answer_text(bytes),
        Answer::Complete { .. } | Answer::Stream { .. } => None,
    };
    Content { input, output }
}

/// How a relayed stream ended, for its request's record.
fn stream_ended(end: Option<&StreamEnd>, started_ms: f64) -> StreamEnded {
    let (usage, failure) = match end {
        Some(StreamEnd::Finished { usage, .. }) => (*usage, None),
        Some(StreamEnd::Failed(failure)) => (None, Some(failure.class)),
        None => (None, None),
    };
    StreamEnded { usage, failure, latency_ms: (runtime::now_ms() - started_ms) as u64 }
}

/// Asks the group's coordinator for a ticket; a request that may wait waits in
/// this isolate's line for the group (`line`), which it leaves when its client
/// disconnects, and where a slot freed in this isolate may come to it instead.
async fn take_ticket(
    env: &Env,
    group: &str,
    ticket: TicketRequest,
    caller: &Caller,
    background: &Background<'_>,
) -> std::result::Result<Waited, ApiError> {
    if ticket.queue.is_none() {
        return coordinator::acquire(env, group, ticket).await.map(Waited::Answered);
    }
    let client_gone = match caller {
        Caller::Client { request, .. } => Some(request.signal()),
        Caller::Job => None,
    };
    line::wait(env, group, ticket, client_gone, background).await
}

/// Tells how an attempt ended: with a ticket, its report to the coordinator;
/// picked in the isolate, a failure that may start a cooldown at once (any
/// other with the isolate's next sync), a success's latency (and usage) to
/// the isolate's router (which tells it at its next sync).
struct Settle {
    env: Env,
    group: String,
    deployment: DeploymentId,
    ticket: Option<u64>,
    /// A success may travel with the isolate's next message ([`report_may_wait`]).
    report_may_wait: bool,
    /// A failure picked in the isolate may start a cooldown ([`cools_down`]).
    cools_down: bool,
    /// The prompt's estimated tokens, spent at the pick; an answer's usage corrects them.
    estimated_tokens: u64,
    /// The answer's usage is told (see [`switchyard_core::serving::Attempt::counts_usage`]).
    counts_usage: bool,
    started_ms: f64,
    /// Picked in the isolate where it counts in flight: dropped with the settling,
    /// when the attempt's end is told, however it ended.
    _in_flight: Option<local_route::InFlight>,
    /// With a ticket: counted in the isolate until the report is sent (or the
    /// settling dropped), so that the isolate keeps syncing and its ticket lives.
    _ticket_held: Option<local_route::TicketHeld>,
}

impl Settle {
    fn elapsed_ms(&self) -> u64 {
        (runtime::now_ms() - self.started_ms) as u64
    }

    /// A success picked in the isolate: counted there, told at the next sync.
    fn answered_here(&self, ttft_ms: Option<u64>, tokens_used: Option<u64>) {
        let tokens = tokens_used.filter(|_| self.counts_usage).map(|used| (self.estimated_tokens, used));
        local_route::answered(&self.group, &self.deployment, self.elapsed_ms(), ttft_ms, tokens);
    }

    async fn ended(self, ttft_ms: Option<u64>, tokens_used: Option<u64>, failure: Option<ReportedFailure>) {
        let Some(ticket) = self.ticket else {
            match failure {
                Some(failure) if failure.may_cool(self.cools_down) => {
                    local_route::failed(&self.env, &self.group, &self.deployment, failure).await;
                }
                Some(failure) => local_route::failed_later(&self.group, &self.deployment, failure.class),
                None => self.answered_here(ttft_ms, tokens_used),
            }
            return;
        };
        let may_wait = failure.is_none() && self.report_may_wait;
        let latency_ms = self.elapsed_ms();
        let report = Report { ticket, latency_ms, ttft_ms, tokens_used, failure };
        // A lost report costs only accuracy (the ticket expires); never the answer.
        if let Err(error) = coordinator::report(&self.env, &self.group, report, may_wait).await {
            worker::console_error!("reporting to the coordinator of `{}` failed: {error}", self.group);
        }
    }
}

/// Runs one attempt: a mock answers at once; anything else is a call, with the
/// client's body as it came or translated for the deployment's provider. A client
/// of another API than Chat Completions gets its body to deployments that speak
/// its API, and the request as chat to the others.
async fn run(
    deployment: &Deployment,
    request: &ParsedRequest<'_>,
    endpoint: Endpoint,
    attempt: Attempt,
    call: &ClientCall<'_>,
) -> Result<std::result::Result<Answer, Failure>> {
    // A mock in the request wins over the deployment's, as in LiteLLM.
    if let Some(content) = request.mock_response.as_deref().or(deployment.mock_response.as_deref()) {
        let mut rng = runtime::rng();
        let ctx = MockContext { now_secs: (runtime::now_ms() / 1000.0) as u64, rng: &mut rng };
        let answer = mock::answer(request, &deployment.model, content, ctx);
        // A mock's usage: the prompt's estimate, and its content's.
        let completion = (content.len() as u64).div_ceil(4);
        let usage = Some(Usage::of(request.prompt_tokens, completion));
        if let Some(client) = call.client {
            let chat = attempt::ChatAnswer { body: answer.body, stream: answer.is_stream, usage };
            let estimated = request.prompt_tokens;
            return Ok(attempt::for_client(client, chat, estimated, call.secrets, deployment.id.as_str()));
        }
        let headers =
            vec![("content-type", if answer.is_stream { "text/event-stream" } else { "application/json" }.into())];
        let body = Body::Bytes(answer.body);
        return Ok(Ok(Answer::Complete { status: 200, headers, upstream: None, body, usage, chat: None }));
    }
    let bearer = match credentials::bearer(call.env, deployment).await {
        Ok(bearer) => bearer,
        Err(failure) => return Ok(Err(failure)),
    };
    let now_s = (runtime::now_ms() / 1000.0) as u64;
    let translated = |dialect, native| Translated {
        dialect,
        client: call.client.cloned(),
        native,
        created: now_s,
        include_usage: request.include_usage,
        estimated_tokens: request.prompt_tokens,
        secrets: call.secrets.clone(),
    };
    let outbound = match call.client {
        Some(client) if client.speaks(deployment) => {
            let native = client.native_call(deployment, request.upstream_body(&deployment.model));
            Outbound::translated(vec![native], translated(None, true))?
        }
        Some(client) => {
            // What only a deployment of the client's own API serves is refused
            // here; another deployment may serve it.
            let chat = match client.chat_body() {
                Ok(chat) => chat,
                Err(error) => return Ok(Err(Failure::refused(error))),
            };
            if deployment.kind.forwards_bytes() {
                let body = match ParsedRequest::parse(Endpoint::ChatCompletions, chat) {
                    Ok(parsed) => parsed.upstream_body(&deployment.model),
                    Err(error) => return Ok(Err(Failure::refused(error))),
                };
                let translated = Some(translated(None, false));
                Outbound::forwarded(deployment, Endpoint::ChatCompletions, body, bearer.as_deref(), translated)?
            } else {
                match translation(deployment, Endpoint::ChatCompletions, chat, call, bearer.as_deref(), now_s) {
                    Ok(calls) => Outbound::translated(calls.calls, translated(Some(calls.dialect), false))?,
                    Err(failure) => return Ok(Err(failure)),
                }
            }
        }
        None if deployment.kind.forwards_bytes() => {
            let body = request.upstream_body(&deployment.model);
            Outbound::forwarded(deployment, endpoint, body, bearer.as_deref(), None)?
        }
        None => match translation(deployment, endpoint, call.body, call, bearer.as_deref(), now_s) {
            Ok(calls) => Outbound::translated(calls.calls, translated(Some(calls.dialect), false))?,
            Err(failure) => return Ok(Err(failure)),
        },
    };
    attempt::call(deployment.id.as_str(), endpoint, outbound, request.stream, attempt.read, attempt.deadlines).await
}

/// The calls of a translated deployment for a chat (or embeddings) `body`. What
/// its provider cannot take is the request's fault here, but another deployment
/// (of another provider) may take it.
// A failure is the rare way out, taken once per attempt: boxing it buys nothing.
#[allow(clippy::result_large_err)]
fn translation(
    deployment: &Deployment,
    endpoint: Endpoint,
    body: &[u8],
    call: &ClientCall<'_>,
    bearer: Option<&str>,
    now_s: u64,
) -> std::result::Result<upstream::Translated, Failure> {
    let anthropic_beta = call.caller.header("anthropic-beta");
    let ctx = CallContext {
        client: ClientHeaders { anthropic_beta: anthropic_beta.as_deref() },
        bearer,
        now_s,
        seed: runtime::rng().u64(..),
    };
    upstream::translate(deployment, endpoint, body, ctx).map_err(Failure::refused)
}

/// What a call needs of the client's request beyond its parsed fields.
struct ClientCall<'a> {
    env: &'a Env,
    /// The body as the client sent it, for a translation to parse whole.
    body: &'a [u8],
    caller: &'a Caller,
    secrets: &'a Secrets,
    /// A client of another API than Chat Completions.
    client: Option<&'a Rc<Client>>,
}
