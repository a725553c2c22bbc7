//! This isolate's lines (`switchyard_core::coordinator::local::line`): its
//! requests that wait in a group's queue, told to the group's coordinator
//! together in `Wait`s, whose answers each request takes for itself.
//!
//! No request wakes another: a request woken by another's code would run in
//! that request's context, where its own I/O (its upstream call) is refused
//! ("Cannot perform I/O on behalf of a different request"). So each waiting
//! request looks on a timer of its own, every [`LINE_POLL_MS`], whether its
//! answer came, and sends the line's next `Wait` when one is due, from its own
//! context (kept alive after its response by `waitUntil` until the `Wait` is
//! answered). A `Wait`'s answers are left where their requests look, as is a
//! slot freed in this isolate that goes to one of its requests ([`hand`]).

use std::any::Any;
use std::cell::RefCell;
use std::collections::HashMap;
use std::pin::pin;
use std::time::Duration;

use futures_util::future::{Either, select};

use switchyard_core::config::DeploymentId;
use switchyard_core::coordinator::local::line::{LOCAL_GRACE_MS, Line, Tell};
use switchyard_core::coordinator::{TicketReply, TicketRequest};
use switchyard_core::error::ApiError;
use web_sys::AbortSignal;
use worker::{Delay, Env};

use crate::background::Background;
use crate::{coordinator, runtime};

/// How often a waiting request looks whether its answer came: what a request
/// admitted from the queue may wait beyond its admission.
const LINE_POLL_MS: u64 = 10;

/// What a request that waited in the line gets.
pub enum Waited {
    /// The coordinator's answer.
    Answered(TicketReply),
    /// A slot of this deployment freed in this isolate ([`hand`]), with what
    /// frees it again when the call ends (`local_route::InFlight`; boxed, as
    /// this module comes before that one).
    Slot(DeploymentId, Box<dyn Any>),
}

#[derive(Default)]
struct Pending {
    line: Line,
    /// Answers that came, for their requests to take.
    answered: HashMap<u64, Result<Waited, ApiError>>,
}

thread_local! {
    static LINES: RefCell<HashMap<String, Pending>> = RefCell::new(HashMap::new());
}

fn with_line<T>(group: &str, f: impl FnOnce(&mut Pending) -> T) -> T {
    // Looked up before `entry`, which would allocate the key on every poll.
    LINES.with_borrow_mut(|lines| match lines.get_mut(group) {
        Some(pending) => f(pending),
        None => f(lines.entry(group.to_owned()).or_default()),
    })
}

/// Waits in this isolate's line for `group` until the coordinator answers the
/// request (a grant, or why none), its client goes away, or its time and a
/// grace pass (the coordinator lost it: a retryable 503).
pub async fn wait(
    env: &Env,
    group: &str,
    request: TicketRequest,
    client_gone: Option<AbortSignal>,
    background: &Background<'_>,
) -> Result<Waited, ApiError> {
    let Some(queue) = request.queue else {
        return Err(ApiError::Internal("a request that may not wait joined a line".into()));
    };
    let joined_ms = runtime::now_ms() as u64;
    let deadline_ms = joined_ms.saturating_add(queue.max_wait_ms).saturating_add(LOCAL_GRACE_MS);
    with_line(group, |pending| pending.line.join(joined_ms, request));
    // A client's disconnection is an event: the request's timers may not fire
    // again once it is gone.
    let mut gone = pin!(async {
        match client_gone {
            Some(signal) => runtime::aborted(signal).await,
            None => std::future::pending().await,
        }
    });
    loop {
        tell(env, group, background);
        if let Some(answer) = with_line(group, |pending| pending.answered.remove(&queue.waiter)) {
            return answer;
        }
        let now = runtime::now_ms() as u64;
        if now >= deadline_ms {
            leave(env, group, queue.waiter, background);
            let detail = format!("its queue did not answer within {} ms", now.saturating_sub(joined_ms));
            return Err(ApiError::CoordinatorUnavailable { group: group.to_owned(), detail });
        }
        let poll = Delay::from(Duration::from_millis(LINE_POLL_MS));
        if let Either::Right(_) = select(pin!(poll), gone.as_mut()).await {
            leave(env, group, queue.waiter, background);
            return Err(ApiError::Internal("the client disconnected".into()));
        }
    }
}

/// `waiter` leaves the line; a grant it was answered with meanwhile goes back,
/// and a slot handed to it is freed (for the next in line, or the coordinator).
/// The news goes now, or, when a `Wait` went lately, from this request's
/// `waitUntil` when it is due: no other request may be left to send it.
fn leave(env: &Env, group: &str, waiter: u64, background: &Background<'_>) {
    let answered = with_line(group, |pending| {
        pending.line.leave(waiter);
        pending.answered.remove(&waiter)
    });
    match answered {
        Some(Ok(Waited::Answered(TicketReply::Granted(_)))) => with_line(group, |p| p.line.give_back(waiter)),
        // Dropped out of the line's borrow: freeing a slot may hand it over again.
        other => drop(other),
    }
    tell(env, group, background);
    let now = runtime::now_ms() as u64;
    let Some(due) = with_line(group, |pending| pending.line.due(now)) else {
        return;
    };
    let (env, group) = (env.clone(), group.to_owned());
    background.run(async move {
        Delay::from(Duration::from_millis(due.saturating_sub(now))).await;
        if let Some(news) = take_due(&group) {
            send(&env, &group, news).await;
        }
    });
}

/// Sends the line's `Wait` if one is due now, from the calling request's context.
fn tell(env: &Env, group: &str, background: &Background<'_>) {
    let Some(news) = take_due(group) else {
        return;
    };
    let (env, group) = (env.clone(), group.to_owned());
    background.run(async move { send(&env, &group, news).await });
}

/// What the line's `Wait` carries, if one is due now.
fn take_due(group: &str) -> Option<Tell> {
    let now = runtime::now_ms() as u64;
    with_line(group, |pending| pending.line.due(now).filter(|&at| at <= now).map(|_| pending.line.take(now)))
}

/// Whether `group`'s coordinator lags, as this isolate's last view of it says
/// ([`Line::pace`]): news held back for the line's pace goes, if due, with the
/// next look of a waiting request.
pub fn pace(group: &str, lags: bool) {
    with_line(group, |pending| pending.line.pace(lags));
}

/// Whether requests of this isolate wait in `group`'s line.
pub fn waits(group: &str) -> bool {
    LINES.with_borrow(|lines| lines.get(group).is_some_and(|pending| pending.line.waits()))
}

/// A slot of a deployment freed in this isolate goes to the best request of
/// `group`'s line as good as `best` whose `suits` ([`Line::hand`]): `fill`
/// counts it filled again for the request's estimated tokens and gives what
/// frees it, left where the request looks. `false` when none takes it.
pub fn hand(
    group: &str,
    best: u32,
    deployment: &DeploymentId,
    suits: impl Fn(&TicketRequest) -> bool,
    fill: impl FnOnce(u64) -> Box<dyn Any>,
) -> bool {
    with_line(group, |pending| {
        let Some((waiter, estimated_tokens)) = pending.line.hand(runtime::now_ms() as u64, best, suits) else {
            return false;
        };
        pending.answered.insert(waiter, Ok(Waited::Slot(deployment.clone(), fill(estimated_tokens))));
        true
    })
}

/// Sends a `Wait` and leaves its answers where their requests look.
async fn send(env: &Env, group: &str, tell: Tell) {
    let answer = coordinator::wait(env, group, runtime::isolate(), tell).await;
    let now = runtime::now_ms() as u64;
    with_line(group, |pending| match answer {
        Ok(replies) => {
            for (waiter, reply) in pending.line.answered(now, replies) {
                pending.answered.insert(waiter, Ok(Waited::Answered(reply)));
            }
        }
        Err(error) => {
            for waiter in pending.line.failed() {
                pending.answered.insert(waiter, Err(error.clone()));
            }
        }
    });
}
