//! The isolate's side of its waiting lines
//! (`switchyard_core::coordinator::local::waiting`): one [`WaitingLine`] per
//! group for the isolate's life, where the requests that may wait for a ticket
//! line up; only the best of them wait in the coordinator's queue, and a grant
//! that comes back for any goes to the best that can take it.
//!
//! Each waiting request looks at the line on a timer of its own: a request woken
//! by another's code would run in that request's context, where its own I/O is
//! refused ("Cannot perform I/O on behalf of a different request"). The request
//! the line tells to file sends the ticket request from its own context and hands
//! the answer to the line; should it be answered first (a grant another request
//! filed for), its ticket request goes on in its background, for the line.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::{Pin, pin};
use std::time::Duration;

use futures_util::future::{Either, select};
use switchyard_core::config::{ModelGroup, RouterPolicy};
use switchyard_core::coordinator::local::waiting::{WaitingLine, Want};
use switchyard_core::coordinator::{LineDepth, TicketReply, TicketRequest};
use switchyard_core::error::ApiError;
use wasm_bindgen_futures::spawn_local;
use web_sys::AbortSignal;
use worker::{Delay, Env};

use crate::background::Background;
use crate::{config_source, coordinator, runtime};

thread_local! {
    static LINES: RefCell<HashMap<String, WaitingLine>> = RefCell::new(HashMap::new());
}

/// How often a waiting request looks whether the line has its answer, or wants
/// it to file.
const POLL_MS: u64 = 5;

/// A ticket request on its way to the coordinator, or waiting in its queue.
type Filing = Pin<Box<dyn Future<Output = Result<(), ApiError>>>>;

/// `group`'s line, made at a request's first wait.
fn with_line<T>(group: &str, f: impl FnOnce(&mut WaitingLine) -> T) -> Option<T> {
    LINES.with_borrow_mut(|lines| lines.get_mut(group).map(f))
}

/// How many of this isolate's requests wait in `group`'s line now, by
/// priority: told to the coordinator with each sync, and in place of that
/// when this isolate asks for the queue's status.
pub fn depth(group: &str) -> Option<LineDepth> {
    let now = runtime::now_ms() as u64;
    with_line(group, |line| line.depth(now)).filter(|depth| !depth.is_empty())
}

/// Waits in `group`'s line for a ticket: `ticket` carries the request's place
/// (its priority, how long it may wait, its waiter id). `signal`: aborts when the
/// client goes away, which takes the request out of line.
pub async fn wait(
    env: &Env,
    group: &ModelGroup,
    policy: &RouterPolicy,
    ticket: TicketRequest,
    signal: Option<AbortSignal>,
    background: &Background<'_>,
) -> Result<TicketReply, ApiError> {
    let Some(queue) = ticket.queue else {
        return coordinator::acquire(env, &group.name, ticket).await;
    };
    let (name, waiter) = (group.name.as_str(), queue.waiter);
    let now = runtime::now_ms() as u64;
    let want = Want { avoid: ticket.avoid.clone(), estimated_tokens: ticket.estimated_tokens, region: ticket.region };
    let deadline_ms = now.saturating_add(queue.max_wait_ms);
    let joined = LINES.with_borrow_mut(|lines| {
        let line = match lines.get_mut(name) {
            Some(line) => line,
            None => lines
                .entry(name.to_owned())
                .or_insert_with(|| WaitingLine::new(policy.queue.aging_ms, policy.queue.max_size)),
        };
        line.join(waiter, queue.priority, now, deadline_ms, want)
    });
    if let Err(full) = joined {
        return Ok(TicketReply::Unavailable(full));
    }
    let mut place = Place { env: env.clone(), group: name.to_owned(), waiter, answered: false };
    let mut filing: Option<Filing> = None;
    let mut gone = pin!(async move {
        match signal {
            Some(signal) => runtime::aborted(signal).await,
            None => std::future::pending().await,
        }
    });
    loop {
        let now = runtime::now_ms() as u64;
        if let Some(reply) = with_line(name, |line| line.take(waiter, now)).flatten() {
            place.answered = true;
            // Its own ticket request goes on for the others in line.
            if let Some(filing) = filing {
                background.run(async move {
                    let _ = filing.await;
                });
            }
            return Ok(reply);
        }
        if filing.is_none() && with_line(name, |line| line.file(waiter)) == Some(true) {
            filing = Some(file(env.clone(), name.to_owned(), ticket.clone()));
        }
        let tick = Delay::from(Duration::from_millis(POLL_MS));
        let woke = match filing.as_mut() {
            Some(sent) => match select(sent, select(tick, gone.as_mut())).await {
                Either::Left((Ok(()), _)) => {
                    filing = None;
                    continue;
                }
                // The coordinator could not be asked: this request says so; the
                // others in line file for themselves.
                Either::Left((Err(error), _)) => return Err(error),
                Either::Right((woke, _)) => woke,
            },
            None => select(tick, gone.as_mut()).await,
        };
        if let Either::Right(_) = woke {
            let others = with_line(name, |line| line.waits()) == Some(true);
            match filing {
                // The others in line take its answer when it comes.
                Some(filing) if others => background.run(async move {
                    let _ = filing.await;
                }),
                // Nobody else waits: it leaves the coordinator's queue now.
                Some(_) => {
                    let (env, group) = (env.clone(), name.to_owned());
                    background.run(async move {
                        let _ = coordinator::leave(&env, &group, waiter).await;
                    });
                }
                None => {}
            }
            return Err(ApiError::Internal("the client disconnected".into()));
        }
    }
}

/// Sends `ticket`, the request of the line's best waiting request, and hands
/// the coordinator's answer to the line.
fn file(env: Env, group: String, ticket: TicketRequest) -> Filing {
    Box::pin(async move {
        let entry = ticket.queue.map_or(0, |q| q.waiter);
        let mut filed = Filed { group: group.clone(), entry, answered: false };
        let reply = coordinator::acquire(&env, &group, ticket).await?;
        filed.answered = true;
        let now = runtime::now_ms() as u64;
        let config = config_source::in_force();
        let kept = config.as_deref().and_then(|c| Some((c.group(&group)?, &c.router)));
        let unused = match kept {
            Some((kept, policy)) => LINES.with_borrow_mut(|lines| match lines.get_mut(&group) {
                Some(line) => line.answered(entry, reply, now, kept, policy),
                None => Some(reply),
            }),
            // The group left the config meanwhile: nobody here can take it.
            None => {
                with_line(&group, |line| line.lost(entry));
                Some(reply)
            }
        };
        if let Some(TicketReply::Granted(_)) = unused {
            give_back(env, group, entry).await;
        }
        Ok(())
    })
}

/// Gives back a grant nobody in line could take: the coordinator releases the
/// ticket the entry `entry` was granted.
async fn give_back(env: Env, group: String, entry: u64) {
    if let Err(error) = coordinator::leave(&env, &group, entry).await {
        worker::console_error!("giving back a grant to the coordinator of `{group}` failed: {error}");
    }
}

/// A filed entry whose answer has not come: dropped unanswered (its request
/// failed, or the runtime stopped it), the line files again.
struct Filed {
    group: String,
    entry: u64,
    answered: bool,
}

impl Drop for Filed {
    fn drop(&mut self) {
        if !self.answered {
            with_line(&self.group, |line| line.lost(self.entry));
        }
    }
}

/// A request's place in line: dropped before it took its answer (its client
/// went away, or it failed), it leaves, and a grant handed to it goes to the
/// next that can take it, or back to the coordinator.
struct Place {
    env: Env,
    group: String,
    waiter: u64,
    answered: bool,
}

impl Drop for Place {
    fn drop(&mut self) {
        if self.answered {
            return;
        }
        let now = runtime::now_ms() as u64;
        let config = config_source::in_force();
        let kept = config.as_deref().and_then(|c| Some((c.group(&self.group)?, &c.router)));
        let unused = LINES.with_borrow_mut(|lines| lines.get_mut(&self.group)?.leave(self.waiter, now, kept));
        if let Some((entry, _)) = unused {
            spawn_local(give_back(self.env.clone(), std::mem::take(&mut self.group), entry));
        }
    }
}
