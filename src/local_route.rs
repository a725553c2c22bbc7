//! The isolate's side of routing without tickets (`switchyard_core::coordinator::local`):
//! one [`LocalRouter`] per group for the isolate's life, refreshed from the
//! group's coordinator; the slots its requests fill freed as they end
//! ([`InFlight`]), its requests' tickets counted while they run ([`TicketHeld`]),
//! and a keeper that syncs for both when no request does.

use std::any::Any;
use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

use switchyard_core::config::{Config, Deployment, DeploymentId, ModelGroup, RouterPolicy};
use switchyard_core::coordinator::local::asking::Asking;
use switchyard_core::coordinator::local::{Ask, Lease, LocalPick, LocalRouter, Outage, VIEW_TTL_MS};
use switchyard_core::coordinator::{Grant, ReportedFailure, TicketRequest, Unavailable};
use switchyard_core::error::ApiError;
use switchyard_core::failure::FailureClass;
use switchyard_core::region::Area;
use wasm_bindgen_futures::spawn_local;
use worker::{Delay, Env};

use crate::background::Background;
use crate::durable::CallError;
use crate::respond::Limits;
use crate::{config_source, coordinator, line, observe, runtime, slot_wait};

thread_local! {
    static ROUTERS: RefCell<HashMap<String, LocalRouter>> = RefCell::new(HashMap::new());
    /// Groups whose keeper runs, with when it last woke.
    static KEEPERS: RefCell<HashMap<String, u64>> = RefCell::new(HashMap::new());
    /// Groups with a refresh in flight, and when it started.
    static SYNCING: RefCell<HashMap<String, u64>> = RefCell::new(HashMap::new());
    /// Per group, the tickets this isolate's requests that may not wait are asking for.
    static ASKING: RefCell<HashMap<String, Asking>> = RefCell::new(HashMap::new());
}

/// How long a request waits for another's refresh, after which a refresh in
/// flight is taken for lost (the runtime may stop a request's work without
/// dropping it).
const SHARED_SYNC_MS: u64 = 2_000;
/// How often a request waiting for another's refresh looks whether it came. It
/// looks on a timer of its own: a request woken by another's code would run in
/// that request's context, where its own I/O is refused ("Cannot perform I/O on
/// behalf of a different request").
const SHARED_SYNC_POLL_MS: u64 = 5;
/// The longest a keeper sleeps before it looks again when its sync is due. A
/// request's end can bring that time forward (a slot kept unused is due back a
/// view's life after the last sync, where filled ones are due a third of
/// `SLOTS_TTL_MS` after), and no other request may wake the keeper (see above).
const KEEPER_POLL_MS: u64 = VIEW_TTL_MS / 4;

fn with_router<T>(group: &str, f: impl FnOnce(&mut LocalRouter) -> T) -> T {
    // Looked up before `entry`, which would allocate the key on every request.
    ROUTERS.with_borrow_mut(|routers| match routers.get_mut(group) {
        Some(router) => f(router),
        None => f(routers.entry(group.to_owned()).or_default()),
    })
}

/// The leases this isolate holds for `group` (`GET /debug/state`).
pub fn held(group: &str) -> Vec<(DeploymentId, Lease)> {
    ROUTERS.with_borrow(|routers| routers.get(group).map(LocalRouter::held).unwrap_or_default())
}

/// A request picked here that counts in flight (it fills a slot, or least-busy
/// counts it): dropped when the request ended, however it ended, which frees it.
pub struct InFlight {
    env: Env,
    group: String,
    deployment: DeploymentId,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let line_waits = line::waits(&self.group);
        if !with_router(&self.group, |r| r.release(&self.deployment, line_waits)) {
            // Nobody waits in the queue: to a request of this isolate waiting for one.
            self.hand_to_waiter();
        } else if !self.hand_over() {
            // Near the limit: the slot goes back now, for the queue and other isolates.
            let (env, group) = (self.env.clone(), std::mem::take(&mut self.group));
            spawn_local(async move {
                refresh(&env, &group, None, 0).await;
            });
        }
    }
}

impl InFlight {
    /// Near the limit with requests waiting, the slot just freed goes to the
    /// best request of this isolate's line as good as the best in the queue,
    /// if one suits ([`LocalRouter::hand_over`]): it finds it where it looks
    /// for its answer, with what frees the slot again. No message: the request
    /// is told as one that left with the line's next `Wait`.
    fn hand_over(&self) -> bool {
        self.with_deployment(|config, deployment| {
            let now = runtime::now_ms() as u64;
            let best = with_router(&self.group, |r| r.hand_over(now, deployment))?;
            let suits = |request: &TicketRequest| LocalRouter::suits(&config.router, deployment, request);
            Some(line::hand(&self.group, best, &self.deployment, suits, |estimated_tokens| {
                with_router(&self.group, |r| r.refill(&self.deployment, estimated_tokens));
                Box::new(self.again())
            }))
        })
        .unwrap_or(false)
    }

    /// The slot just freed goes to the first request of this isolate waiting
    /// for one ([`slot_wait`]), if the router lets it ([`LocalRouter::hand_to_waiter`]).
    fn hand_to_waiter(&self) {
        // The config is looked up only when a request waits: this runs as every
        // request that filled a slot ends.
        slot_wait::hand(&self.group, &self.deployment, |estimated_tokens| {
            self.with_deployment(|_, deployment| {
                let now = runtime::now_ms() as u64;
                with_router(&self.group, |r| r.hand_to_waiter(now, deployment, estimated_tokens))
                    .then(|| Box::new(self.again()) as Box<dyn Any>)
            })
        });
    }

    /// `f` of the config in force and this slot's deployment in it, if both are there.
    fn with_deployment<T>(&self, f: impl FnOnce(&Config, &Deployment) -> Option<T>) -> Option<T> {
        let config = config_source::in_force()?;
        let deployment = config.group(&self.group)?.deployments.iter().find(|d| d.id == self.deployment)?;
        f(&config, deployment)
    }

    /// What holds the same slot again, for a request it is handed to.
    fn again(&self) -> Self {
        InFlight { env: self.env.clone(), group: self.group.clone(), deployment: self.deployment.clone() }
    }

    /// What [`InFlight::hand_over`] or [`InFlight::hand_to_waiter`] handed a
    /// request, for its call: the keeper runs while it fills the slot, as for a pick.
    pub fn handed(env: &Env, group: &str, held: Box<dyn Any>, background: &Background<'_>) -> Result<Self, ApiError> {
        let held =
            held.downcast::<Self>().map_err(|_| ApiError::Internal("a slot handed over without its hold".into()))?;
        keep(env, group, background);
        Ok(*held)
    }
}

/// A request of this isolate holding a ticket: counted while it runs, so that
/// the keeper syncs and the coordinator, which ends the tickets of an isolate
/// silent for `SLOTS_TTL_MS`, keeps it ([`LocalRouter::ticket_started`]).
/// Dropped when the request ended, however it ended.
pub struct TicketHeld {
    group: String,
    deployment: DeploymentId,
}

impl TicketHeld {
    /// `grant`, a ticket of `group`, was just granted to a request of this isolate.
    pub fn start(env: &Env, group: &str, grant: &Grant, background: &Background<'_>) -> Self {
        let now = runtime::now_ms() as u64;
        with_router(group, |r| {
            r.ticket_started();
            r.granted(now, grant);
        });
        keep(env, group, background);
        Self { group: group.to_owned(), deployment: grant.deployment.clone() }
    }
}

impl Drop for TicketHeld {
    fn drop(&mut self) {
        let now = runtime::now_ms() as u64;
        with_router(&self.group, |r| r.ticket_ended(&self.deployment, now));
    }
}

/// Where the isolate sends a request, as far as it can tell.
pub enum Local<'g> {
    /// The deployment to call without a ticket, with what its lease says is left
    /// of its rpm and tpm, and when it counts in flight what frees it.
    Call(&'g Deployment, Limits, Option<InFlight>),
    /// Take a ticket: the group needs coordination. Counted among the tickets
    /// this isolate asks for at once while held, for a request that may not wait.
    Ticket(Option<AskingTicket>),
    /// What the coordinator would answer: every deployment that could serve the
    /// request is full, and it may not wait.
    Refused(Unavailable),
}

/// Where the request goes ([`Local`]); the error to answer when only the
/// coordinator could admit the request and it could not be reached lately
/// (`core::coordinator::local::outage`). What it waited in the isolate for a
/// slot ([`slot_wait`]) adds to `slot_wait_ms`, whatever comes of it after:
/// served in the slot, elsewhere, by ticket, or refused.
pub async fn pick<'g>(
    env: &Env,
    group: &'g ModelGroup,
    policy: &RouterPolicy,
    ask: Ask<'_>,
    background: &Background<'_>,
    rng: &mut fastrand::Rng,
    slot_wait_ms: &mut Option<u64>,
) -> Result<Local<'g>, ApiError> {
    let (mut ask, mut refreshed) = (ask, false);
    loop {
        ask.await_slot = ask.await_slot && slot_wait::room(&group.name);
        let now = runtime::now_ms() as u64;
        // One look-up of the router for both: this runs for every request.
        let (picked, ahead) = with_router(&group.name, |r| {
            let picked = r.pick(now, group, policy, ask, rng);
            let ahead = matches!(picked, LocalPick::Call { .. }) && r.refresh_ahead(now);
            (picked, ahead)
        });
        match picked {
            LocalPick::Call { deployment, remaining_requests, remaining_tokens } => {
                if ahead {
                    let (env, group, tokens) = (env.clone(), group.name.clone(), ask.estimated_tokens);
                    background.run(async move { refresh_shared(&env, &group, tokens).await });
                }
                let limits = Limits { requests: remaining_requests, tokens: remaining_tokens };
                let in_flight = LocalRouter::counts_in_flight(deployment, policy).then(|| {
                    keep(env, &group.name, background);
                    InFlight { env: env.clone(), group: group.name.clone(), deployment: deployment.id.clone() }
                });
                return Ok(Local::Call(deployment, limits, in_flight));
            }
            LocalPick::AwaitSlot(deployment) => {
                let held = slot_wait::wait(&group.name, &deployment.id, ask.estimated_tokens).await;
                let waited_ms = (runtime::now_ms() as u64).saturating_sub(now);
                *slot_wait_ms = Some(slot_wait_ms.unwrap_or(0).saturating_add(waited_ms));
                if let Some(held) = held {
                    let in_flight = InFlight::handed(env, &group.name, held, background)?;
                    let limits = Limits { requests: None, tokens: None };
                    return Ok(Local::Call(deployment, limits, Some(in_flight)));
                }
                // None freed in time: it picks again, and waits no more.
                ask.await_slot = false;
                continue;
            }
            LocalPick::Coordinate => {}
            LocalPick::Full(reason) => return Ok(Local::Refused(reason)),
            LocalPick::Unreachable(outage) => return Err(outage.error(&group.name)),
            // A view just fetched that is already stale (a cooldown ending now), or
            // whose lease is used up already: ask for a ticket.
            LocalPick::Refresh if refreshed => {}
            // A failed refresh marks the router: the next pick routes by the old
            // view or answers Unreachable, never Refresh.
            LocalPick::Refresh => {
                refresh_shared(env, &group.name, ask.estimated_tokens).await;
                refreshed = true;
                continue;
            }
        }
        // Only the coordinator can decide: a ticket. A request that may wait goes
        // through its line, which tells many at once.
        if ask.may_wait {
            return Ok(Local::Ticket(None));
        }
        if let Some(asking) = AskingTicket::ask(&group.name) {
            return Ok(Local::Ticket(Some(asking)));
        }
        // As many ask already: once one is answered, pick again (a refusal holds
        // for this request too, and a grant may have come with a view).
        while !AskingTicket::has_room(&group.name) {
            Delay::from(Duration::from_millis(SHARED_SYNC_POLL_MS)).await;
        }
    }
}

/// A ticket asked for by a request that may not wait, counted among those this
/// isolate asks for at once ([`Asking`]) until dropped: after its answer was
/// taken in (a refusal recorded for the requests waiting to ask).
pub struct AskingTicket {
    group: String,
    asked_ms: u64,
    answered: bool,
}

impl AskingTicket {
    fn has_room(group: &str) -> bool {
        let now = runtime::now_ms() as u64;
        ASKING.with_borrow_mut(|asking| asking.get_mut(group).is_none_or(|a| a.has_room(now)))
    }

    /// Counts a ticket asked for now, if there is room for one.
    fn ask(group: &str) -> Option<Self> {
        let now = runtime::now_ms() as u64;
        ASKING.with_borrow_mut(|asking| {
            let of_group = match asking.get_mut(group) {
                Some(of_group) => of_group,
                None => asking.entry(group.to_owned()).or_default(),
            };
            let asked_ms = of_group.has_room(now).then(|| of_group.ask(now))?;
            Some(Self { group: group.to_owned(), asked_ms, answered: false })
        })
    }

    /// The coordinator answered (how soon sets how many may ask at once).
    pub fn answered(&mut self) {
        self.answered = true;
    }
}

impl Drop for AskingTicket {
    fn drop(&mut self) {
        ASKING.with_borrow_mut(|asking| {
            if let Some(of_group) = asking.get_mut(&self.group) {
                of_group.answered(self.asked_ms, self.answered.then(|| runtime::now_ms() as u64));
            }
        });
    }
}

/// A ticket for `group` could not be had: its picks ask the coordinator nothing
/// for a while (see [`LocalRouter::unreachable`]).
pub fn unreachable(group: &str, error: &ApiError) {
    let outage = match error {
        ApiError::CoordinatorOverloaded { .. } => Outage::Overloaded,
        ApiError::CoordinatorUnavailable { .. } => Outage::Unreachable,
        _ => return,
    };
    let now = runtime::now_ms() as u64;
    with_router(group, |r| r.unreachable(now, outage));
}

/// The coordinator refused a ticket to a request of `group` that could not wait
/// and had tried nothing: requests like it are refused here the same way until
/// a newer view (see [`LocalRouter::refused`]).
pub fn refused(group: &str, estimated_tokens: u64, region: Option<Area>, reason: &Unavailable) {
    let now = runtime::now_ms() as u64;
    with_router(group, |r| r.refused(now, estimated_tokens, region, reason));
}

/// Tells the coordinator that a call without a ticket failed, and takes the view
/// it answers with, so that the next pick already sees a cooldown it started.
pub async fn failed(env: &Env, group: &str, deployment: &DeploymentId, failure: ReportedFailure) {
    refresh(env, group, Some((deployment.clone(), failure)), 0).await;
}

/// A call of a deployment picked here failed in a way that can start no
/// cooldown: told with the next sync (see [`LocalRouter::failed`]).
pub fn failed_later(group: &str, deployment: &DeploymentId, class: FailureClass) {
    with_router(group, |r| r.failed(deployment, class));
}

/// An answer of a deployment picked here came after `latency_ms` (a stream's first
/// token after `ttft_ms`; see [`LocalRouter::timed`]); `tokens`: the estimate of
/// its pick and what it used, where they count (see [`LocalRouter::answered`]).
pub fn answered(
    group: &str,
    deployment: &DeploymentId,
    latency_ms: u64,
    ttft_ms: Option<u64>,
    tokens: Option<(u64, u64)>,
) {
    with_router(group, |r| {
        r.timed(deployment, latency_ms, ttft_ms);
        if let Some((estimated, used)) = tokens {
            r.answered(deployment, estimated, used);
        }
    });
}

/// Refreshes `group`'s view, or waits for the refresh in flight: the requests that
/// find the view stale together share one sync (each sent its own, a burst of
/// them per view under load).
async fn refresh_shared(env: &Env, group: &str, estimated_tokens: u64) {
    let now = runtime::now_ms() as u64;
    let in_flight = SYNCING.with_borrow_mut(|syncing| match syncing.get(group) {
        Some(&started_ms) if now.saturating_sub(started_ms) < SHARED_SYNC_MS => Some(started_ms),
        // None in flight, or one taken for lost.
        _ => {
            syncing.insert(group.to_owned(), now);
            None
        }
    });
    match in_flight {
        // Until the view came, or the request syncing went away, or the bound:
        // either way, the caller picks again.
        Some(started_ms) => {
            while SYNCING.with_borrow(|syncing| syncing.get(group) == Some(&started_ms))
                && (runtime::now_ms() as u64) < started_ms + SHARED_SYNC_MS
            {
                Delay::from(Duration::from_millis(SHARED_SYNC_POLL_MS)).await;
            }
        }
        None => {
            let _syncing = Syncing { group, started_ms: now };
            refresh(env, group, None, estimated_tokens).await;
        }
    }
}

/// The refresh in flight for a group: when it ends, however it ends (its request
/// may be cancelled midway), the requests waiting for it see it gone.
struct Syncing<'a> {
    group: &'a str,
    started_ms: u64,
}

impl Drop for Syncing<'_> {
    fn drop(&mut self) {
        // A refresh started since, in place of this one taken for lost, is left alone.
        SYNCING.with_borrow_mut(|syncing| {
            if syncing.get(self.group) == Some(&self.started_ms) {
                syncing.remove(self.group);
            }
        });
    }
}

/// Runs `group`'s keeper unless it runs: while this isolate holds slots or
/// tickets, it syncs when they are due ([`LocalRouter::sync_due`]), looking at
/// least every [`KEEPER_POLL_MS`]: unused slots go back within a view's life of
/// the last sync, and filled ones (and tickets) stay while long requests
/// (streams) run with no other request to sync. It runs in the
/// background of the request that started it, so the runtime may stop it (30 s
/// after that request's answer): one that has not woken when it should have is
/// started again by the next request. An isolate that is evicted dies with its
/// requests, and the coordinator takes back its slots and its tickets.
fn keep(env: &Env, group: &str, background: &Background<'_>) {
    let now = runtime::now_ms() as u64;
    // It wakes at least every `KEEPER_POLL_MS` while it holds slots or tickets
    // (a sync on its way may hold it up to a view's life more).
    let alive = |woke: &u64| now.saturating_sub(*woke) <= KEEPER_POLL_MS + VIEW_TTL_MS;
    if KEEPERS.with_borrow(|keepers| keepers.get(group).is_some_and(alive)) {
        return;
    }
    KEEPERS.with_borrow_mut(|keepers| keepers.insert(group.to_owned(), now));
    let (env, group) = (env.clone(), group.to_owned());
    background.run(async move {
        while let Some(due_ms) = with_router(&group, |r| r.sync_due()) {
            let now = runtime::now_ms() as u64;
            KEEPERS.with_borrow_mut(|keepers| keepers.insert(group.clone(), now));
            if due_ms > now {
                Delay::from(Duration::from_millis((due_ms - now).min(KEEPER_POLL_MS))).await;
            } else {
                // A failed sync is due again a view's life later (its time was noted).
                refresh(&env, &group, None, 0).await;
            }
        }
        KEEPERS.with_borrow_mut(|keepers| keepers.remove(&group));
    });
}

/// Sends what this isolate served since it last said (and a failure), settling its
/// leases and giving back its unused slots, and takes the fresh view. When the
/// coordinator could not be reached, the counts and timings are lost (they steer
/// the failure-rate rule and usage- and latency-based routing; a leased
/// deployment's requests stay counted in full, as its lease stays set aside until
/// its minute ends, and its unused slots until the coordinator takes them back),
/// the leases are given up here, the old view stays, and the router is told why
/// ([`LocalRouter::unreachable`]).
async fn refresh(env: &Env, group: &str, failure: Option<(DeploymentId, ReportedFailure)>, estimated_tokens: u64) {
    let asked = runtime::now_ms() as u64;
    let served = with_router(group, |r| r.take_served(asked));
    let isolate = runtime::isolate();
    let tally = observe::take_tally(group);
    let fetched = coordinator::fetch_view(env, group, isolate, served, failure, estimated_tokens, tally).await;
    let now = runtime::now_ms() as u64;
    match fetched {
        Ok(view) => {
            let lags = with_router(group, |r| {
                r.update(asked, now, view);
                r.lags()
            });
            line::pace(group, lags);
        }
        Err(error) => {
            worker::console_error!("syncing with the coordinator of `{group}` failed: {error}");
            let outage = match error {
                CallError::Overloaded(_) => Outage::Overloaded,
                CallError::Failed(_) => Outage::Unreachable,
            };
            with_router(group, |r| r.unreachable(now, outage));
        }
    }
}
