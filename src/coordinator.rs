//! The per-model-group coordinator Durable Object: a thin shell around
//! `switchyard_core::coordinator::Coordinator`, and the client the Worker uses.
//!
//! One object per model group (named after it) is the single source of truth for
//! its deployments' cooldowns, usage and queue, shared by every isolate. For each
//! [`Message`] it calls the core with the time, answers waiting requests that the
//! message made admissible ([`Coordinator::tick`]), persists the core's snapshot
//! (cooldowns and the minute's counts: what must survive an eviction), and encodes
//! the answer. In-flight tickets, latency samples and the queue live in memory.
//!
//! A request that must wait is not polled: its `fetch` stays open here on a
//! channel, and whoever frees capacity (a report, or the timer of any waiting
//! request at [`Coordinator::next_wakeup`]) sends it its ticket. If the object is
//! reset, every open `fetch` fails, and the Worker answers those clients with a
//! retryable 503 rather than leaving them hanging.
//!
//! [`Coordinator::tick`]: switchyard_core::coordinator::Coordinator::tick
//! [`Coordinator::next_wakeup`]: switchyard_core::coordinator::Coordinator::next_wakeup

use std::cell::RefCell;
use std::collections::HashMap;
use std::pin::pin;
use std::time::Duration;

use futures_channel::oneshot;
use futures_util::future::{Either, select};
use serde::de::DeserializeOwned;
use switchyard_core::config::Config;
use switchyard_core::config::DeploymentId;
use switchyard_core::coordinator::local::{HealthView, ServedSince};
use switchyard_core::coordinator::{
    self, Admission, Holdings, Message, QueueStatus, Report, ReportedFailure, Snapshot, TicketReply, TicketRequest,
};
use switchyard_core::error::ApiError;
use web_sys::AbortSignal;
use worker::{Delay, DurableObject, Env, Request, Response, Result, State, durable_object};

use crate::{config_source, durable, respond, runtime};

const SNAPSHOT_KEY: &str = "snapshot";

#[durable_object]
pub struct Coordinator {
    state: State,
    env: Env,
    /// `None` until the persisted snapshot is read, on the first message.
    core: RefCell<Option<coordinator::Coordinator>>,
    /// The last snapshot written, so that an unchanged state is not written again.
    persisted: RefCell<String>,
    /// Where to send each waiting request's answer.
    waiters: RefCell<HashMap<u64, oneshot::Sender<TicketReply>>>,
    /// The ticket each admitted waiter was sent, until it is reported: a client that
    /// left just as it was admitted gives its grant back.
    admitted: RefCell<HashMap<u64, u64>>,
}

impl DurableObject for Coordinator {
    fn new(state: State, env: Env) -> Self {
        Self {
            state,
            env,
            core: RefCell::new(None),
            persisted: RefCell::new(String::new()),
            waiters: RefCell::new(HashMap::new()),
            admitted: RefCell::new(HashMap::new()),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let caller_gone = req.inner().signal();
        // serde_json, not `req.json()`: JavaScript's JSON.parse would round 64-bit ids.
        let message: Message = match serde_json::from_str(&req.text().await?) {
            Ok(message) => message,
            Err(error) => return respond::error(&ApiError::Internal(format!("bad coordinator message: {error}"))),
        };
        let config = match config_source::current(&self.env).await.map(|current| current.config) {
            Ok(config) => config,
            Err(error) => return respond::error(&error),
        };
        if self.core.borrow().is_none() {
            // Storage reads hold the input gate: no other message runs meanwhile.
            let stored: Option<String> = self.state.storage().get(SNAPSHOT_KEY).await.ok().flatten();
            // An unreadable snapshot (from an older version) starts the state afresh.
            let snapshot: Snapshot = stored.and_then(|s| serde_json::from_str(&s).ok()).unwrap_or_default();
            self.core.borrow_mut().get_or_insert_with(|| coordinator::Coordinator::restore(snapshot));
        }
        match message {
            Message::Acquire { group, request, reports } => {
                self.apply_reports(&config, &group, &reports);
                let reply = self.acquire(&config, &group, &request, caller_gone).await?;
                respond::json(200, serde_json::to_vec(&reply)?)
            }
            Message::Status { group } => {
                let status = self.with_core(|core, now| core.queue_status(now, &group)).unwrap_or_default();
                respond::json(200, serde_json::to_vec(&status)?)
            }
            Message::State { group } => {
                let Some(model_group) = config.group(&group) else {
                    return respond::error(&ApiError::Internal(format!("no model group `{group}`")));
                };
                let mut holdings = self.with_core(|core, now| core.holdings(now, model_group)).unwrap_or_default();
                holdings.waiters = self.waiters.borrow().len();
                holdings.admitted_unreported = self.admitted.borrow().len();
                respond::json(200, serde_json::to_vec(&holdings)?)
            }
            Message::Leave { group, waiter } => {
                self.leave(&config, &group, waiter).await?;
                Ok(Response::empty()?.with_status(204))
            }
            Message::Report { group, reports } => {
                self.apply_reports(&config, &group, &reports);
                self.tick(&config, &group);
                self.persist(&config, &group).await?;
                Ok(Response::empty()?.with_status(204))
            }
            Message::Sync { group, served, failure, estimated_tokens } => {
                let Some(model_group) = config.group(&group) else {
                    return respond::error(&ApiError::Internal(format!("no model group `{group}`")));
                };
                let view = self
                    .with_core(|core, now| {
                        core.sync_local(now, model_group, &config.router, &served, failure.as_ref(), estimated_tokens)
                    })
                    .unwrap_or_default();
                self.persist(&config, &group).await?;
                respond::json(200, serde_json::to_vec(&view)?)
            }
        }
    }
}

impl Coordinator {
    async fn acquire(
        &self,
        config: &Config,
        group: &str,
        request: &TicketRequest,
        caller_gone: AbortSignal,
    ) -> Result<TicketReply> {
        let Some(model_group) = config.group(group) else {
            return Err(worker::Error::RustError(format!("no model group `{group}`")));
        };
        let mut rng = runtime::rng();
        let admission = self.with_core(|core, now| core.acquire(now, model_group, &config.router, request, &mut rng));
        match admission {
            None => return Err(worker::Error::RustError("coordinator state missing".into())),
            Some(Admission::Now(reply)) => {
                self.persist(config, group).await?;
                return Ok(reply);
            }
            Some(Admission::Queued) => {}
        }
        let Some(waiter) = request.queue.map(|q| q.waiter) else {
            return Err(worker::Error::RustError("queued a request that may not wait".into()));
        };
        let (sender, receiver) = oneshot::channel();
        self.waiters.borrow_mut().insert(waiter, sender);
        // Capacity may be free right now (the queue was not empty when it came).
        self.tick(config, group);
        let mut receiver = receiver;
        let mut caller_gone = pin!(runtime::aborted(caller_gone));
        loop {
            let now = runtime::now_ms() as u64;
            let wake = self.with_core(|core, now| core.next_wakeup(now)).flatten().unwrap_or(now + 1_000);
            let wait = Delay::from(Duration::from_millis(wake.saturating_sub(now).clamp(1, 60_000)));
            match select(&mut receiver, select(pin!(wait), caller_gone.as_mut())).await {
                Either::Left((Ok(reply), _)) => {
                    self.persist(config, group).await?;
                    return Ok(reply);
                }
                Either::Left((Err(_), _)) => {
                    return Err(worker::Error::RustError("the queue dropped a waiting request".into()));
                }
                // Time may have freed capacity or ended a deadline: this waiter's
                // timer serves every waiter, itself included.
                Either::Right((Either::Left(_), _)) => self.tick(config, group),
                // The Worker that sent the request is gone (its isolate died, or it
                // was cancelled): its place in line, or the grant it was just sent,
                // goes to the next in line.
                Either::Right((Either::Right(_), _)) => {
                    self.leave(config, group, waiter).await?;
                    return Err(worker::Error::RustError("the caller went away".into()));
                }
            }
        }
    }

    /// Takes a waiting request whose caller is gone out of the line, or gives back
    /// the grant it was just sent (`admitted` holds it until it is reported), and
    /// lets the next in line in. Dropping its sender ends its waiting fetch.
    async fn leave(&self, config: &Config, group: &str, waiter: u64) -> Result<()> {
        self.waiters.borrow_mut().remove(&waiter);
        let ticket = self.admitted.borrow_mut().remove(&waiter);
        self.with_core(|core, now| match ticket {
            Some(ticket) => core.release(now, ticket),
            None => core.leave_queue(waiter),
        });
        self.tick(config, group);
        self.persist(config, group).await
    }

    /// Admits or expires waiting requests and sends them their answers. A grant
    /// whose request is gone (its client left) is given back at once.
    fn tick(&self, config: &Config, group: &str) {
        let Some(model_group) = config.group(group) else {
            return;
        };
        let mut rng = runtime::rng();
        // A grant given back frees capacity for the next in line: tick again.
        loop {
            let answers = self.with_core(|core, now| core.tick(now, model_group, &config.router, &mut rng));
            let mut given_back = false;
            for (waiter, reply) in answers.unwrap_or_default() {
                let sender = self.waiters.borrow_mut().remove(&waiter);
                if let TicketReply::Granted(grant) = &reply {
                    self.admitted.borrow_mut().insert(waiter, grant.ticket);
                }
                let undelivered = match sender {
                    Some(sender) => sender.send(reply).err(),
                    None => Some(reply),
                };
                if let Some(TicketReply::Granted(grant)) = undelivered {
                    self.admitted.borrow_mut().remove(&waiter);
                    self.with_core(|core, now| core.release(now, grant.ticket));
                    given_back = true;
                }
            }
            if !given_back {
                return;
            }
        }
    }

    fn apply_reports(&self, config: &Config, group: &str, reports: &[Report]) {
        let Some(model_group) = config.group(group) else {
            return;
        };
        for report in reports {
            self.admitted.borrow_mut().retain(|_, ticket| *ticket != report.ticket);
            self.with_core(|core, now| core.report(now, model_group, &config.router, report));
        }
    }

    fn with_core<T>(&self, f: impl FnOnce(&mut coordinator::Coordinator, u64) -> T) -> Option<T> {
        let now = runtime::now_ms() as u64;
        self.core.borrow_mut().as_mut().map(|core| f(core, now))
    }

    async fn persist(&self, config: &Config, group: &str) -> Result<()> {
        let Some(model_group) = config.group(group) else {
            return Ok(());
        };
        let Some(snapshot) = self.with_core(|core, _| serde_json::to_string(&core.snapshot(model_group))) else {
            return Ok(());
        };
        let snapshot = snapshot?;
        if *self.persisted.borrow() != snapshot {
            self.state.storage().put(SNAPSHOT_KEY, &snapshot).await?;
            *self.persisted.borrow_mut() = snapshot;
        }
        Ok(())
    }
}

/// How long a report that may wait ([`coordinator::reports_may_wait`]) waits for
/// the isolate's next ticket to travel with before it is sent on its own.
const REPORT_DELAY_MS: u64 = 100;

thread_local! {
    /// Reports waiting to travel with this isolate's next message, per group.
    static WAITING_REPORTS: RefCell<HashMap<String, Vec<Report>>> = RefCell::new(HashMap::new());
}

fn take_waiting_reports(group: &str) -> Vec<Report> {
    WAITING_REPORTS.with_borrow_mut(|waiting| waiting.remove(group).unwrap_or_default())
}

/// Asks the group's coordinator for a ticket; a request with a priority may wait
/// there until one is free or its deadline comes. The reports waiting in this
/// isolate for the group travel with it.
pub async fn acquire(env: &Env, group: &str, request: TicketRequest) -> std::result::Result<TicketReply, ApiError> {
    let unavailable = |detail: String| ApiError::CoordinatorUnavailable { group: group.to_owned(), detail };
    let message = Message::Acquire { group: group.to_owned(), request, reports: take_waiting_reports(group) };
    ask(env, group, &message).await.map_err(|e| unavailable(e.to_string()))
}

/// Tells the group's coordinator what an isolate routing by itself served (and a
/// failure), and answers with the view to route by next.
pub async fn sync(
    env: &Env,
    group: &str,
    served: Vec<ServedSince>,
    failure: Option<(DeploymentId, ReportedFailure)>,
    estimated_tokens: u64,
) -> Result<HealthView> {
    ask(env, group, &Message::Sync { group: group.to_owned(), served, failure, estimated_tokens }).await
}

/// What the group's coordinator holds now (`GET /debug/state`).
pub async fn holdings(env: &Env, group: &str) -> Result<Holdings> {
    ask(env, group, &Message::State { group: group.to_owned() }).await
}

/// The group's queue as its coordinator sees it now.
pub async fn status(env: &Env, group: &str) -> Result<QueueStatus> {
    ask(env, group, &Message::Status { group: group.to_owned() }).await
}

/// Takes a waiting request whose client went away out of the group's queue (or
/// gives back the grant it was just sent).
pub async fn leave(env: &Env, group: &str, waiter: u64) -> Result<()> {
    send(env, group, &Message::Leave { group: group.to_owned(), waiter }).await.map(|_| ())
}

/// Tells the group's coordinator how a ticket ended: at once, or, when it `may_wait`,
/// with this isolate's next ticket for the group, or on its own [`REPORT_DELAY_MS`]
/// later if none was asked for by then. Under load that halves the requests to
/// the coordinator; a report lost with its isolate costs only accuracy (the ticket
/// expires).
pub async fn report(env: &Env, group: &str, report: Report, may_wait: bool) -> Result<()> {
    if !may_wait {
        let message = Message::Report { group: group.to_owned(), reports: vec![report] };
        return send(env, group, &message).await.map(|_| ());
    }
    let first = WAITING_REPORTS.with_borrow_mut(|waiting| {
        let reports = waiting.entry(group.to_owned()).or_default();
        reports.push(report);
        reports.len() == 1
    });
    // The first report to wait also sends whatever is left waiting when the delay ends.
    if !first {
        return Ok(());
    }
    Delay::from(Duration::from_millis(REPORT_DELAY_MS)).await;
    let reports = take_waiting_reports(group);
    if reports.is_empty() {
        return Ok(());
    }
    send(env, group, &Message::Report { group: group.to_owned(), reports }).await.map(|_| ())
}

/// Sends a message answered with JSON, and decodes the answer (serde_json, not
/// JavaScript's JSON.parse, which would round 64-bit ids).
async fn ask<T: DeserializeOwned>(env: &Env, group: &str, message: &Message) -> Result<T> {
    let answer = send(env, group, message).await?;
    if answer.status != 200 {
        return Err(worker::Error::RustError(format!("it answered {}: {}", answer.status, answer.text)));
    }
    Ok(serde_json::from_str(&answer.text)?)
}

async fn send(env: &Env, group: &str, message: &Message) -> Result<durable::Answer> {
    durable::call(env, "COORDINATOR", group, Some(serde_json::to_string(message)?)).await
}
