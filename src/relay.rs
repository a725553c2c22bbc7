//! The relay Durable Object: one object per model group and location (named
//! `<group>@<colo>`), between that location's isolates and the group's
//! coordinator, when `router_settings.coordinator_relay_ms` says how often it
//! may send (`switchyard_core::coordinator::relay`, which decides when a batch
//! goes).
//!
//! An isolate sends its relay what it would send the coordinator as it routes
//! (`Message::relayed`; `coordinator::send` chooses); the relay sends what came
//! in one `Batch` at most every period, and answers each message with the
//! coordinator's answer to it. A
//! `Wait` is held here as the coordinator holds it: until answers are owed to
//! its line, nothing of its line is left at the coordinator, or for
//! `WAIT_HOLD_MS`. The coordinator pushes nothing: what it owes a line comes
//! with the answer to a batch, and while a `Wait` is held here a batch goes
//! every period, empty if nothing else came, naming the isolates whose `Wait`s
//! are held (`polls`). An isolate whose every `Wait` held here closed died:
//! the next batch says so (`gone`), and its line leaves the queue. A grant owed
//! to a line whose `Wait` closed goes back with the next batch, as a leaver.
//!
//! No timer of its own: each request waiting here wakes when the next batch is
//! due (or its answer comes), and the first to find it due sends it. If the
//! coordinator cannot be reached, every message of the batch, and every `Wait`
//! held for an isolate it named, is answered with the failure (an overloaded
//! coordinator's as such, so that the isolate does not retry into it).

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::pin::pin;
use std::time::Duration;

use futures_channel::oneshot;
use futures_util::future::{Either, select};
use switchyard_core::config::DEFAULT_RELAY_MS;
use switchyard_core::coordinator::relay::Relay as Batching;
use switchyard_core::coordinator::{BatchReply, Message, Relayed, TicketReply, WAIT_HOLD_MS};
use switchyard_core::error::ApiError;
use web_sys::AbortSignal;
use worker::{Delay, DurableObject, Env, Request, Response, Result, State, durable_object};

use crate::durable::{CallError, PASSED_ON_OVERLOADED};
use crate::{config_source, coordinator, respond, runtime};

/// A request waiting here with nothing due looks again this often at most.
const LOOK_MS: u64 = 1_000;

/// What a line's `Wait` is answered with: `(waiter, answer)`.
type Owed = Vec<(u64, TicketReply)>;

/// Why a relayed message got no answer from the coordinator.
#[derive(Clone)]
struct Failure {
    overloaded: bool,
    detail: String,
}

/// A message for the next batch: one whose answer comes with it, by id; a
/// `Wait`, whose answer comes to its isolate's `Wait`s held here.
struct Outgoing {
    id: Option<u64>,
    message: Message,
}

#[durable_object]
pub struct Relay {
    env: Env,
    inner: RefCell<Inner>,
}

#[derive(Default)]
struct Inner {
    batching: Batching<Outgoing>,
    /// Where each message's answer goes, by id.
    answers: HashMap<u64, oneshot::Sender<Result<Relayed, Failure>>>,
    /// The `Wait`s held open, per isolate, oldest first.
    held: HashMap<u64, VecDeque<oneshot::Sender<Result<Owed, Failure>>>>,
    /// Isolates whose every `Wait` held here closed: to tell.
    gone: Vec<u64>,
    next_id: u64,
}

/// How waiting for an answer here ended.
enum Waited<T> {
    Answered(T),
    /// Its time was up; what may have come since is still on the receiver.
    Expired(oneshot::Receiver<T>),
    CallerGone,
}

impl DurableObject for Relay {
    fn new(_state: State, env: Env) -> Self {
        Self { env, inner: RefCell::new(Inner::default()) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let caller_gone = req.inner().signal();
        // serde_json, not `req.json()`: JavaScript's JSON.parse would round 64-bit ids.
        let message = match serde_json::from_str::<Message>(&req.text().await?) {
            Ok(message) if message.relayed() => message,
            Ok(_) => return respond::error(&ApiError::Internal("not a message a relay carries".into())),
            Err(error) => return respond::error(&ApiError::Internal(format!("bad relayed message: {error}"))),
        };
        let group = message.group().to_owned();
        let period = match config_source::current(&self.env).await {
            Ok(current) =>
            // The config changed while the message was on its way: the default.
            {
                current.config.router.relaying.period_ms().unwrap_or(DEFAULT_RELAY_MS)
            }
            Err(error) => return respond::error(&error),
        };
        let turn = Turn { group: &group, period };
        if let Message::Wait { isolate, .. } = message {
            let (sender, receiver) = oneshot::channel();
            {
                let mut inner = self.inner.borrow_mut();
                inner.held.entry(isolate).or_default().push_back(sender);
                inner.batching.push(Outgoing { id: None, message });
            }
            let until = (runtime::now_ms() as u64).saturating_add(WAIT_HOLD_MS);
            return match self.wait(&turn, receiver, Some(until), caller_gone).await? {
                Waited::Answered(answer) => owed_answer(answer),
                // Dropped, its sender is skipped from now on.
                Waited::Expired(mut receiver) => owed_answer(receiver.try_recv().ok().flatten().unwrap_or(Ok(vec![]))),
                Waited::CallerGone => {
                    let mut inner = self.inner.borrow_mut();
                    let others = inner.held.get_mut(&isolate).is_some_and(|held| {
                        held.retain(|sender| !sender.is_canceled());
                        !held.is_empty()
                    });
                    if !others {
                        inner.held.remove(&isolate);
                        inner.gone.push(isolate);
                    }
                    Err(worker::Error::RustError("the caller went away".into()))
                }
            };
        }
        let (sender, receiver) = oneshot::channel();
        {
            let mut inner = self.inner.borrow_mut();
            let id = inner.next_id;
            inner.next_id += 1;
            inner.answers.insert(id, sender);
            inner.batching.push(Outgoing { id: Some(id), message });
        }
        match self.wait(&turn, receiver, None, caller_gone).await? {
            Waited::Answered(Ok(Relayed { status, body })) if body.is_empty() => {
                Ok(Response::empty()?.with_status(status))
            }
            Waited::Answered(Ok(Relayed { status, body })) => respond::json(status, body.into_bytes()),
            Waited::Answered(Err(failure)) => failed(&failure),
            Waited::Expired(_) | Waited::CallerGone => Err(worker::Error::RustError("the caller went away".into())),
        }
    }
}

/// The group a relay serves, and its period.
struct Turn<'a> {
    group: &'a str,
    period: u64,
}

impl Relay {
    /// Waits for an answer on `receiver` until `until_ms`, or until the caller
    /// goes away; meanwhile sends the relay's batch whenever it is due.
    async fn wait<T>(
        &self,
        turn: &Turn<'_>,
        mut receiver: oneshot::Receiver<T>,
        until_ms: Option<u64>,
        caller_gone: AbortSignal,
    ) -> Result<Waited<T>> {
        let mut caller_gone = pin!(runtime::aborted(caller_gone));
        loop {
            match receiver.try_recv() {
                Ok(Some(answer)) => return Ok(Waited::Answered(answer)),
                Ok(None) => {}
                Err(_) => return Err(worker::Error::RustError("the relay dropped a waiting fetch".into())),
            }
            let now = runtime::now_ms() as u64;
            let left_ms = until_ms.map_or(u64::MAX, |until| until.saturating_sub(now));
            if left_ms == 0 {
                return Ok(Waited::Expired(receiver));
            }
            let due = {
                let inner = self.inner.borrow();
                let polling = !inner.gone.is_empty() || inner.held.values().any(|held| !held.is_empty());
                inner.batching.due(now, turn.period, polling)
            };
            if due.is_some_and(|at| at <= now) {
                self.flush(turn, now).await;
                continue;
            }
            let look_ms = due.map_or(LOOK_MS, |at| at.saturating_sub(now)).min(LOOK_MS).min(left_ms);
            let look = Delay::from(Duration::from_millis(look_ms));
            match select(&mut receiver, select(pin!(look), caller_gone.as_mut())).await {
                Either::Left((Ok(answer), _)) => return Ok(Waited::Answered(answer)),
                Either::Left((Err(_), _)) => {
                    return Err(worker::Error::RustError("the relay dropped a waiting fetch".into()));
                }
                Either::Right((Either::Left(_), _)) => {}
                Either::Right((Either::Right(_), _)) => return Ok(Waited::CallerGone),
            }
        }
    }

    /// Sends the batch due now, and hands out its answers.
    async fn flush(&self, turn: &Turn<'_>, now: u64) {
        let (ids, messages, polls, gone) = {
            let mut inner = self.inner.borrow_mut();
            let batch = inner.batching.take(now);
            // The isolates with a `Wait` still open here; those of this
            // batch's `Wait`s among them.
            let mut polls: Vec<u64> = Vec::new();
            inner.held.retain(|&isolate, held| {
                held.retain(|sender| !sender.is_canceled());
                let open = !held.is_empty();
                if open {
                    polls.push(isolate);
                }
                open
            });
            let (ids, messages): (Vec<_>, Vec<_>) = batch.into_iter().map(|o| (o.id, o.message)).unzip();
            (ids, messages, polls, std::mem::take(&mut inner.gone))
        };
        let batch = Message::Batch { group: turn.group.to_owned(), messages, polls: polls.clone(), gone };
        match coordinator::batch(&self.env, turn.group, &batch).await {
            Ok(reply) => self.hand_out(turn, ids, reply),
            Err(error) => {
                let failure = match error {
                    CallError::Overloaded(detail) => Failure { overloaded: true, detail },
                    CallError::Failed(error) => Failure { overloaded: false, detail: error.to_string() },
                };
                let mut inner = self.inner.borrow_mut();
                for id in ids.into_iter().flatten() {
                    if let Some(sender) = inner.answers.remove(&id) {
                        let _ = sender.send(Err(failure.clone()));
                    }
                }
                for isolate in polls {
                    for sender in inner.held.remove(&isolate).unwrap_or_default() {
                        let _ = sender.send(Err(failure.clone()));
                    }
                }
            }
        }
    }

    /// Each answer to its message's request; what each line is owed to its
    /// oldest `Wait` held here. Grants for a line whose `Wait`s all closed go
    /// back with the next batch, as leavers.
    fn hand_out(&self, turn: &Turn<'_>, ids: Vec<Option<u64>>, reply: BatchReply) {
        let mut inner = self.inner.borrow_mut();
        // In the batch's order; one the reply left out is answered so rather
        // than left waiting for ever.
        let mut answers = reply.answers.into_iter();
        for id in ids {
            let answer = answers.next();
            if let Some(sender) = id.and_then(|id| inner.answers.remove(&id)) {
                let missing = || Failure { overloaded: false, detail: "the coordinator's reply left it out".into() };
                let _ = sender.send(answer.ok_or_else(missing));
            }
        }
        for (isolate, owed) in reply.lines {
            let sender = inner.held.get_mut(&isolate).and_then(|held| {
                held.retain(|sender| !sender.is_canceled());
                held.pop_front()
            });
            if inner.held.get(&isolate).is_some_and(VecDeque::is_empty) {
                inner.held.remove(&isolate);
            }
            let undelivered = match sender {
                Some(sender) => sender.send(Ok(owed)).err().and_then(Result::ok),
                None => Some(owed),
            };
            let left: Vec<u64> = undelivered
                .unwrap_or_default()
                .into_iter()
                .filter(|(_, reply)| matches!(reply, TicketReply::Granted(_)))
                .map(|(waiter, _)| waiter)
                .collect();
            if !left.is_empty() {
                let message = Message::Wait {
                    group: turn.group.to_owned(),
                    isolate,
                    joined: vec![],
                    left,
                    handed: vec![],
                    handed_untold: vec![],
                    reports: vec![],
                };
                inner.batching.push(Outgoing { id: None, message });
            }
        }
    }
}

/// A `Wait`'s answer, as the coordinator would give it.
fn owed_answer(answer: std::result::Result<Owed, Failure>) -> Result<Response> {
    match answer {
        Ok(owed) => respond::json(200, serde_json::to_vec(&owed)?),
        Err(failure) => failed(&failure),
    }
}

/// The coordinator could not be reached: told to the isolate, an overloaded
/// coordinator as such.
fn failed(failure: &Failure) -> Result<Response> {
    let text =
        if failure.overloaded { format!("{PASSED_ON_OVERLOADED}{}", failure.detail) } else { failure.detail.clone() };
    Ok(Response::ok(text)?.with_status(503))
}
