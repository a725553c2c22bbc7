//! The per-model-group coordinator Durable Object: a thin shell around
//! `switchyard_core::coordinator::Coordinator`, and the client the Worker uses.
//!
//! One object per model group (named after it) is the single source of truth for
//! its deployments' cooldowns, usage and queue, shared by every isolate. For each
//! [`Message`] it calls the core with the time, answers waiting requests that the
//! message made admissible ([`Coordinator::tick`]), writes the core's snapshot
//! when one is due (cooldowns and the minute's counts, written ahead: what must
//! survive an eviction, see `switchyard_core::coordinator::Snapshot`), and encodes
//! the answer. In-flight tickets, latency samples and the queue live in memory.
//!
//! A request that must wait waits in its isolate's line (`src/line.rs`), whose
//! `Wait` is not polled: its `fetch` stays open here on a channel, and whoever
//! frees capacity (a report, or the timer of any open `Wait` at
//! [`Coordinator::next_wakeup`]) sends it the answers owed to its line. (A
//! request of an older build waits the same way with an `Acquire` of its own.)
//! If the object is reset, every open `fetch` fails, and the Worker answers
//! those clients with a retryable 503 rather than leaving them hanging.
//!
//! [`Coordinator::tick`]: switchyard_core::coordinator::Coordinator::tick
//! [`Coordinator::next_wakeup`]: switchyard_core::coordinator::Coordinator::next_wakeup

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::pin::pin;
use std::time::Duration;

use futures_channel::oneshot;
use futures_util::future::{Either, select};
use serde::de::DeserializeOwned;
use switchyard_core::config::{Config, DeploymentId, ModelGroup, Relaying};
use switchyard_core::coordinator::local::line::Tell;
use switchyard_core::coordinator::local::{HealthView, ServedSince};
use switchyard_core::coordinator::{
    self, Admission, BatchReply, GroupMetrics, Holdings, Message, QueueStatus, REPORT_WAIT_MS, Relayed, Report,
    ReportedFailure, Snapshot, TicketReply, TicketRequest, WAIT_HOLD_MS,
};
use switchyard_core::error::ApiError;
use switchyard_core::observe::tally::Tally;
use web_sys::AbortSignal;
use worker::{Delay, DurableObject, Env, Request, Response, Result, State, durable_object};

use crate::durable::CallError;
use crate::{config_source, durable, relay_way, respond, runtime};

const SNAPSHOT_KEY: &str = "snapshot";

#[durable_object]
pub struct Coordinator {
    state: State,
    env: Env,
    /// `None` until the persisted snapshot is read, on the first message.
    core: RefCell<Option<coordinator::Coordinator>>,
    /// Where to send each waiting request's answer.
    waiters: RefCell<HashMap<u64, oneshot::Sender<TicketReply>>>,
    /// The `Wait`s held open, per isolate, oldest first: where to send what
    /// its line is owed.
    lines: RefCell<HashMap<u64, VecDeque<oneshot::Sender<Owed>>>>,
}

/// What a line's `Wait` is answered with: `(waiter, answer)`.
type Owed = Vec<(u64, TicketReply)>;

/// How a held fetch ended ([`Coordinator::hold`]).
enum Held<T> {
    Answered(T),
    /// Its time was up; what may have come since is still on the receiver.
    Expired(oneshot::Receiver<T>),
    CallerGone,
}

/// What handling one message needs: the group it names, under the config in
/// force, and the time it is handled at (read once per message).
struct Turn<'a> {
    config: &'a Config,
    group: &'a ModelGroup,
    now: u64,
}

impl DurableObject for Coordinator {
    fn new(state: State, env: Env) -> Self {
        Self {
            state,
            env,
            core: RefCell::new(None),
            waiters: RefCell::new(HashMap::new()),
            lines: RefCell::new(HashMap::new()),
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
        let Some(group) = config.group(message.group()) else {
            return respond::error(&ApiError::Internal(format!("no model group `{}`", message.group())));
        };
        if self.core.borrow().is_none() {
            // Storage reads hold the input gate: no other message runs meanwhile.
            let stored: Option<String> = self.state.storage().get(SNAPSHOT_KEY).await.ok().flatten();
            // An unreadable snapshot (from an older version) starts the state afresh.
            let snapshot: Snapshot = stored.and_then(|s| serde_json::from_str(&s).ok()).unwrap_or_default();
            self.core.borrow_mut().get_or_insert_with(|| coordinator::Coordinator::restore(snapshot));
        }
        let turn = Turn { config: &config, group, now: runtime::now_ms() as u64 };
        let routing = match &message {
            Message::Batch { messages, .. } => messages.len() as u64,
            message => u64::from(message.relayed()),
        };
        self.with_core(|core| core.took_message(turn.now, routing, &config.router));
        match message {
            Message::Acquire { request, reports, .. } => {
                self.apply_reports(&turn, &reports);
                let reply = self.acquire(&turn, &request, caller_gone).await?;
                respond::json(200, serde_json::to_vec(&reply)?)
            }
            Message::Status { .. } => {
                let status = self.with_core(|core| core.queue_status(turn.now, &group.name)).unwrap_or_default();
                respond::json(200, serde_json::to_vec(&status)?)
            }
            Message::State { .. } => {
                let mut holdings = self.with_core(|core| core.holdings(turn.now, group)).unwrap_or_default();
                let held: usize = self.lines.borrow().values().map(VecDeque::len).sum();
                holdings.waiters = self.waiters.borrow().len() + held;
                respond::json(200, serde_json::to_vec(&holdings)?)
            }
            Message::Wait { isolate, joined, left, handed, handed_untold, reports, .. } => {
                self.tell_line(&turn, isolate, &Tell { joined, left, handed, handed_untold }, &reports);
                let owed = self.hold_line(&turn, isolate, caller_gone).await?;
                respond::json(200, serde_json::to_vec(&owed)?)
            }
            Message::Leave { waiter, .. } => {
                self.leave(&turn, waiter).await?;
                Ok(Response::empty()?.with_status(204))
            }
            Message::Report { reports, .. } => {
                self.apply_reports(&turn, &reports);
                self.tick(&turn);
                self.persist(group).await?;
                Ok(Response::empty()?.with_status(204))
            }
            Message::Observed { tally, .. } => {
                self.with_core(|core| core.observed(&tally));
                Ok(Response::empty()?.with_status(204))
            }
            Message::Batch { messages, polls, gone, .. } => {
                let reply = self.batch(&turn, messages, polls, gone).await?;
                respond::json(200, serde_json::to_vec(&reply)?)
            }
            Message::Metrics { .. } => {
                let metrics = self.with_core(|core| core.metrics(turn.now, group, &config.router)).unwrap_or_default();
                respond::json(200, serde_json::to_vec(&metrics)?)
            }
            message @ Message::Sync { .. } => {
                let view = self.sync(&turn, message);
                // What the sync gave back went to waiting requests first: answer them.
                self.tick(&turn);
                self.persist(group).await?;
                respond::json(200, serde_json::to_vec(&view)?)
            }
        }
    }
}

impl Coordinator {
    /// A sync's view, its reports applied and its counts added first.
    fn sync(&self, turn: &Turn<'_>, message: Message) -> HealthView {
        let Message::Sync { served, failure, estimated_tokens, isolate, tally, reports, .. } = message else {
            return HealthView::default();
        };
        self.apply_reports(turn, &reports);
        let mut rng = runtime::rng();
        let (group, policy) = (turn.group, &turn.config.router);
        self.with_core(|core| {
            if let Some(tally) = &tally {
                core.observed(tally);
            }
            core.sync_local(turn.now, group, policy, isolate, &served, failure.as_ref(), estimated_tokens, &mut rng)
        })
        .unwrap_or_default()
    }

    /// What an isolate's `Wait` tells of its line, its reports applied first.
    fn tell_line(&self, turn: &Turn<'_>, isolate: u64, tell: &Tell, reports: &[Report]) {
        self.apply_reports(turn, reports);
        let mut rng = runtime::rng();
        let (group, router) = (turn.group, &turn.config.router);
        let Tell { joined, left, handed, handed_untold } = tell;
        self.with_core(|core| {
            core.wait(turn.now, group, router, isolate, joined, left, handed, handed_untold, &mut rng)
        });
    }

    /// A relay's batch (`switchyard_core::coordinator::relay`): each message
    /// taken in turn as on its own, but a `Wait`, which is not held: what its
    /// line is owed goes in the reply's `lines`, now or with a later batch, as
    /// for every isolate the relay polls. One tick and one write for all.
    async fn batch(
        &self,
        turn: &Turn<'_>,
        messages: Vec<Message>,
        polls: Vec<u64>,
        gone: Vec<u64>,
    ) -> Result<BatchReply> {
        for isolate in gone {
            self.lines.borrow_mut().remove(&isolate);
            self.with_core(|core| core.line_gone(turn.now, isolate));
        }
        let mut lines = polls;
        let mut answers = Vec::with_capacity(messages.len());
        for message in messages {
            answers.push(match message {
                Message::Wait { isolate, joined, left, handed, handed_untold, reports, .. } => {
                    self.tell_line(turn, isolate, &Tell { joined, left, handed, handed_untold }, &reports);
                    lines.push(isolate);
                    Relayed { status: 202, body: String::new() }
                }
                message @ Message::Sync { .. } => {
                    Relayed { status: 200, body: serde_json::to_string(&self.sync(turn, message))? }
                }
                Message::Acquire { request, reports, .. } if request.queue.is_none() => {
                    self.apply_reports(turn, &reports);
                    match self.admission(turn, &request) {
                        Some(Admission::Now(reply)) => Relayed { status: 200, body: serde_json::to_string(&reply)? },
                        _ => Relayed { status: 500, body: "a relayed ticket was not answered at once".into() },
                    }
                }
                Message::Report { reports, .. } => {
                    self.apply_reports(turn, &reports);
                    Relayed { status: 204, body: String::new() }
                }
                Message::Observed { tally, .. } => {
                    self.with_core(|core| core.observed(&tally));
                    Relayed { status: 204, body: String::new() }
                }
                _ => Relayed { status: 400, body: "not a message a relay carries".into() },
            });
        }
        self.tick(turn);
        lines.sort_unstable();
        lines.dedup();
        let lines = lines
            .into_iter()
            .filter_map(|isolate| {
                let owed = self.with_core(|core| core.owed(isolate)).unwrap_or_default();
                // Nothing of its line left here: its `Wait` ends, empty.
                let done = owed.is_empty() && self.with_core(|core| core.line_done(isolate)).unwrap_or(true);
                (!owed.is_empty() || done).then_some((isolate, owed))
            })
            .collect();
        self.persist(turn.group).await?;
        Ok(BatchReply { answers, lines })
    }

    /// A ticket now, or the request queued ([`coordinator::Coordinator::acquire`]).
    fn admission(&self, turn: &Turn<'_>, request: &TicketRequest) -> Option<Admission> {
        let mut rng = runtime::rng();
        self.with_core(|core| core.acquire(turn.now, turn.group, &turn.config.router, request, &mut rng))
    }

    async fn acquire(&self, turn: &Turn<'_>, request: &TicketRequest, caller_gone: AbortSignal) -> Result<TicketReply> {
        match self.admission(turn, request) {
            None => return Err(worker::Error::RustError("coordinator state missing".into())),
            Some(Admission::Now(reply)) => {
                self.persist(turn.group).await?;
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
        self.tick(turn);
        match self.hold(turn, receiver, caller_gone, None).await? {
            Held::Answered(reply) => Ok(reply),
            // The Worker that sent the request is gone (its isolate died, or it
            // was cancelled): its place in line, or the grant it was just sent,
            // goes to the next in line.
            Held::CallerGone | Held::Expired(_) => {
                self.leave(&Turn { now: runtime::now_ms() as u64, ..*turn }, waiter).await?;
                Err(worker::Error::RustError("the caller went away".into()))
            }
        }
    }

    /// Holds an isolate's `Wait` open until answers are owed to its line, until
    /// nothing of its line is left here, or for [`WAIT_HOLD_MS`] (then with
    /// whatever is owed, perhaps nothing: the isolate sends another while its
    /// line waits). When its caller goes away
    /// with no other `Wait` of the isolate open, the isolate died: its line
    /// leaves the queue.
    async fn hold_line(&self, turn: &Turn<'_>, isolate: u64, caller_gone: AbortSignal) -> Result<Owed> {
        let (sender, receiver) = oneshot::channel();
        self.lines.borrow_mut().entry(isolate).or_default().push_back(sender);
        // Answers may be owed right now (granted at once, or before it came); or
        // nothing of its line is left here (it told only leavers).
        self.tick(turn);
        self.close_if_done(isolate);
        let until = turn.now.saturating_add(WAIT_HOLD_MS);
        match self.hold(turn, receiver, caller_gone, Some(until)).await? {
            Held::Answered(owed) => Ok(owed),
            // Dropped, its sender is skipped from now on.
            Held::Expired(mut receiver) => Ok(receiver.try_recv().ok().flatten().unwrap_or_default()),
            Held::CallerGone => {
                let now = runtime::now_ms() as u64;
                let others = self.lines.borrow_mut().get_mut(&isolate).is_some_and(|held| {
                    held.retain(|sender| !sender.is_canceled());
                    !held.is_empty()
                });
                if !others {
                    self.lines.borrow_mut().remove(&isolate);
                    self.with_core(|core| core.line_gone(now, isolate));
                    self.tick(&Turn { now, ..*turn });
                    self.persist(turn.group).await?;
                }
                Err(worker::Error::RustError("the caller went away".into()))
            }
        }
    }

    /// Holds a fetch open until its answer comes on `receiver` (then persists
    /// what answering changed), its caller goes away, or `until_ms`. Meanwhile
    /// its timer ticks the queue at the next wakeup: time may free capacity or
    /// end a deadline, and each held fetch's timer serves every waiting request.
    async fn hold<T>(
        &self,
        turn: &Turn<'_>,
        mut receiver: oneshot::Receiver<T>,
        caller_gone: AbortSignal,
        until_ms: Option<u64>,
    ) -> Result<Held<T>> {
        let mut caller_gone = pin!(runtime::aborted(caller_gone));
        loop {
            let now = runtime::now_ms() as u64;
            let left_ms = until_ms.map_or(u64::MAX, |until| until.saturating_sub(now));
            if left_ms == 0 {
                return Ok(Held::Expired(receiver));
            }
            let wait_ms = self.with_core(|core| core.wait_ms(now)).unwrap_or(1_000).min(left_ms);
            let wait = Delay::from(Duration::from_millis(wait_ms));
            match select(&mut receiver, select(pin!(wait), caller_gone.as_mut())).await {
                Either::Left((Ok(answer), _)) => {
                    self.persist(turn.group).await?;
                    return Ok(Held::Answered(answer));
                }
                Either::Left((Err(_), _)) => {
                    return Err(worker::Error::RustError("the queue dropped a waiting fetch".into()));
                }
                Either::Right((Either::Left(_), _)) => {
                    self.tick(&Turn { now: runtime::now_ms() as u64, ..*turn });
                }
                Either::Right((Either::Right(_), _)) => return Ok(Held::CallerGone),
            }
        }
    }

    /// A waiting request whose caller is gone leaves the line, or gives back the
    /// grant it was just sent ([`coordinator::Coordinator::leave`]), and the next in
    /// line may come in. Dropping its sender ends its waiting fetch.
    async fn leave(&self, turn: &Turn<'_>, waiter: u64) -> Result<()> {
        self.waiters.borrow_mut().remove(&waiter);
        self.with_core(|core| core.leave(turn.now, waiter));
        self.tick(turn);
        self.persist(turn.group).await
    }

    /// Admits or expires waiting requests and sends them their answers. A grant
    /// whose request is gone (its client left) is given back at once.
    fn tick(&self, turn: &Turn<'_>) {
        let mut rng = runtime::rng();
        // A grant given back frees capacity for the next in line: tick again.
        loop {
            let answers = self.with_core(|core| core.tick(turn.now, turn.group, &turn.config.router, &mut rng));
            let mut given_back = false;
            for (waiter, reply) in answers.unwrap_or_default() {
                let sender = self.waiters.borrow_mut().remove(&waiter);
                let undelivered = match sender {
                    Some(sender) => sender.send(reply).err(),
                    None => Some(reply),
                };
                if let Some(TicketReply::Granted(_)) = undelivered {
                    self.with_core(|core| core.leave(turn.now, waiter));
                    given_back = true;
                }
            }
            given_back |= self.answer_lines(turn);
            if !given_back {
                return;
            }
        }
    }

    /// Sends each isolate with a `Wait` open what its line is owed, to the
    /// oldest `Wait` open. Returns whether a grant was given back (sent to a
    /// `Wait` whose caller had just gone).
    fn answer_lines(&self, turn: &Turn<'_>) -> bool {
        let mut given_back = false;
        for isolate in self.with_core(|core| core.owed_to()).unwrap_or_default() {
            let sender = {
                let mut lines = self.lines.borrow_mut();
                let Some(held) = lines.get_mut(&isolate) else {
                    continue;
                };
                held.retain(|sender| !sender.is_canceled());
                let sender = held.pop_front();
                if held.is_empty() {
                    lines.remove(&isolate);
                }
                sender
            };
            let Some(sender) = sender else {
                continue;
            };
            let owed = self.with_core(|core| core.owed(isolate)).unwrap_or_default();
            if let Err(undelivered) = sender.send(owed) {
                for (waiter, reply) in undelivered {
                    if matches!(reply, TicketReply::Granted(_)) {
                        self.with_core(|core| core.leave(turn.now, waiter));
                        given_back = true;
                    }
                }
            }
            self.close_if_done(isolate);
        }
        given_back
    }

    /// Answers, empty, the `Wait`s of `isolate` held open when nothing of its
    /// line is left here: a fetch is not held for nothing.
    fn close_if_done(&self, isolate: u64) {
        if !self.with_core(|core| core.line_done(isolate)).unwrap_or(true) {
            return;
        }
        for sender in self.lines.borrow_mut().remove(&isolate).unwrap_or_default() {
            let _ = sender.send(Vec::new());
        }
    }

    fn apply_reports(&self, turn: &Turn<'_>, reports: &[Report]) {
        for report in reports {
            self.with_core(|core| core.report(turn.now, turn.group, &turn.config.router, report));
        }
    }

    fn with_core<T>(&self, f: impl FnOnce(&mut coordinator::Coordinator) -> T) -> Option<T> {
        self.core.borrow_mut().as_mut().map(f)
    }

    /// Writes the core's snapshot when one is due ([`coordinator::Coordinator::snapshot_due`]),
    /// by the clock now: a held fetch persists what its answer changed seconds
    /// after its message came, maybe in another minute.
    async fn persist(&self, group: &ModelGroup) -> Result<()> {
        let now = runtime::now_ms() as u64;
        let Some(snapshot) = self.with_core(|core| core.snapshot_due(now, group)).flatten() else {
            return Ok(());
        };
        let written = match serde_json::to_string(&snapshot) {
            Ok(text) => self.state.storage().put(SNAPSHOT_KEY, &text).await,
            Err(error) => Err(error.into()),
        };
        if written.is_err() {
            self.with_core(coordinator::Coordinator::unwritten);
        }
        written
    }
}

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
/// A call the object refused as overloaded is answered as such, never retried into it.
pub async fn acquire(env: &Env, group: &str, request: TicketRequest) -> std::result::Result<TicketReply, ApiError> {
    let message = Message::Acquire { group: group.to_owned(), request, reports: take_waiting_reports(group) };
    ask(env, group, &message).await.map_err(|error| unreachable(group, error))
}

/// Sends isolate `isolate`'s line's news for `group` (who joined, who left, who
/// it admitted itself), with the reports waiting to travel, and answers with
/// what the coordinator owes the line. An overloaded coordinator's refusal is
/// never retried into it.
pub async fn wait(env: &Env, group: &str, isolate: u64, tell: Tell) -> std::result::Result<Owed, ApiError> {
    let Tell { joined, left, handed, handed_untold } = tell;
    let reports = take_waiting_reports(group);
    let message = Message::Wait { group: group.to_owned(), isolate, joined, left, handed, handed_untold, reports };
    ask(env, group, &message).await.map_err(|error| unreachable(group, error))
}

/// A coordinator's failure as the client reads it.
fn unreachable(group: &str, error: CallError) -> ApiError {
    match error {
        CallError::Overloaded(_) => ApiError::CoordinatorOverloaded { group: group.to_owned() },
        CallError::Failed(error) => {
            ApiError::CoordinatorUnavailable { group: group.to_owned(), detail: error.to_string() }
        }
    }
}

/// Tells the group's coordinator what isolate `isolate`, routing by itself, served
/// (and a failure), with the reports waiting to travel, and answers with the view
/// to route by next.
pub async fn fetch_view(
    env: &Env,
    group: &str,
    isolate: u64,
    served: Vec<ServedSince>,
    failure: Option<(DeploymentId, ReportedFailure)>,
    estimated_tokens: u64,
    tally: Option<Tally>,
) -> std::result::Result<HealthView, CallError> {
    let reports = take_waiting_reports(group);
    let message = Message::Sync { group: group.to_owned(), served, failure, estimated_tokens, isolate, tally, reports };
    let view: HealthView = ask(env, group, &message).await?;
    relay_way::view_says(group, view.relay);
    Ok(view)
}

/// What the group's coordinator holds now (`GET /debug/state`).
pub async fn holdings(env: &Env, group: &str) -> Result<Holdings> {
    Ok(ask(env, group, &Message::State { group: group.to_owned() }).await?)
}

/// The group's counts and its deployments' state (`GET /metrics`, `GET /ui/state`).
pub async fn metrics(env: &Env, group: &str) -> Result<GroupMetrics> {
    Ok(ask(env, group, &Message::Metrics { group: group.to_owned() }).await?)
}

/// Hands what this isolate counted of the group's requests to its coordinator.
pub async fn observed(env: &Env, group: &str, tally: Tally) -> Result<()> {
    send(env, group, &Message::Observed { group: group.to_owned(), tally }).await?;
    Ok(())
}

/// The group's queue as its coordinator sees it now.
pub async fn status(env: &Env, group: &str) -> Result<QueueStatus> {
    Ok(ask(env, group, &Message::Status { group: group.to_owned() }).await?)
}

/// Tells the group's coordinator how a ticket ended: at once, or, when it `may_wait`,
/// with this isolate's next message for the group (a ticket, a sync, its line's
/// `Wait`), or on its own [`REPORT_WAIT_MS`] later if none went by then. Under load
/// that halves the requests to the coordinator; a report lost with its isolate
/// costs only accuracy (the ticket expires).
pub async fn report(env: &Env, group: &str, report: Report, may_wait: bool) -> Result<()> {
    if !may_wait {
        let message = Message::Report { group: group.to_owned(), reports: vec![report] };
        send(env, group, &message).await?;
        return Ok(());
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
    Delay::from(Duration::from_millis(REPORT_WAIT_MS)).await;
    let reports = take_waiting_reports(group);
    if reports.is_empty() {
        return Ok(());
    }
    send(env, group, &Message::Report { group: group.to_owned(), reports }).await?;
    Ok(())
}

/// Sends a message answered with JSON, and decodes the answer (serde_json, not
/// JavaScript's JSON.parse, which would round 64-bit ids).
async fn ask<T: DeserializeOwned>(env: &Env, group: &str, message: &Message) -> std::result::Result<T, CallError> {
    let answer = send(env, group, message).await?;
    if answer.status != 200 {
        return Err(worker::Error::RustError(format!("it answered {}: {}", answer.status, answer.text)).into());
    }
    Ok(serde_json::from_str(&answer.text)?)
}

/// Sends a relay's batch of its isolates' messages (`crate::relay`), and reads
/// the answer to each.
pub async fn batch(env: &Env, group: &str, batch: &Message) -> std::result::Result<BatchReply, CallError> {
    ask(env, group, batch).await
}

/// Every call to a coordinator carries its group's location hint
/// (`ModelGroup::coordinator_location`), from the config this isolate serves:
/// whichever call comes first creates the object, and Cloudflare reads the hint
/// only then. What an isolate sends as it routes goes through its location's
/// relay instead when the config says to, or its group's last view does under
/// automatic relays (a relay's failure to reach the coordinator passed on as
/// the coordinator's; under automatic relays, a relay that fails sends its
/// group's messages directly for a while, `relay_way`).
async fn send(env: &Env, group: &str, message: &Message) -> std::result::Result<durable::ObjectReply, CallError> {
    let config = config_source::in_force();
    let relaying = config.as_ref().map_or(Relaying::Off, |config| config.router.relaying);
    if message.relayed() && relay_way::through_relay(group, relaying) {
        // This isolate's data center's relay (`crate::relay`), read as the coordinator.
        let relay = format!("{group}@{}", runtime::location());
        match durable::call_located(env, "RELAY", &relay, None, Some(serde_json::to_string(message)?)).await {
            Ok(answer) => return durable::passed_on(answer),
            // Its relay itself failed (not the coordinator behind it, whose
            // failure it answers with). A message it never took goes directly
            // now, under automatic relays; one it may have taken fails, as it
            // may be on its way in a batch.
            Err(error) => {
                let Relaying::Auto { .. } = relaying else { return Err(error) };
                relay_way::relay_failed(group);
                let never_taken = matches!(error, CallError::Overloaded(_)) || env.durable_object("RELAY").is_err();
                if !never_taken {
                    return Err(error);
                }
            }
        }
    }
    let location = config.as_ref().and_then(|config| config.group(group)?.coordinator_location);
    durable::call_located(env, "COORDINATOR", group, location, Some(serde_json::to_string(message)?)).await
}
