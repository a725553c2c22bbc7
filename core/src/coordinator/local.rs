//! Routing inside the isolate, without a ticket, while a group needs no coordination.
//!
//! A ticket from the coordinator costs a Durable Object round trip before the call
//! and a report after it. A healthy group needs neither: all an isolate must know
//! is which deployments are out, for usage-based routing what each used this
//! minute, for latency-based routing how fast each answered lately, for
//! least-busy how many requests each has in flight elsewhere, and, for a
//! deployment with an rpm, a tpm or a `max_parallel_requests`, how much of it it
//! may use. So the isolate keeps a [`HealthView`] from the coordinator, refreshed at
//! most [`VIEW_TTL_MS`] after it was fetched (longer where the coordinator hears
//! from more isolates than [`VIEWS_PER_S`]: [`view_life`]), and picks from it
//! itself. It tells the coordinator what it sent to each deployment, and how long
//! the answers took, when it refreshes, and every failure that may start a
//! cooldown at once (the answer is a fresh view, so a retry already sees the
//! cooldown the failure started; any other failure waits for the refresh,
//! [`LocalRouter::failed`]). Usage- and
//! latency-based routing here go by the view plus what this isolate sent and
//! timed since: what other isolates saw since the view is seen at the next
//! refresh, as LiteLLM's instances see each other's through Redis.
//!
//! **Leases.** A deployment with an rpm or a tpm is called without a ticket only
//! under a [`Lease`]: requests and tokens the coordinator set aside in the minute's
//! counts for this isolate. A pick spends one request and the prompt's estimated
//! tokens; the answer's usage then corrects the tokens, as a ticket's report does.
//! The isolate settles the lease at its next refresh, saying what it used; the
//! rest goes back to the minute, but for a part it keeps, while the view lasts,
//! for the requests that come before the refresh's answer (`Held::carry`; the
//! next refresh settles it). So the limits hold as with tickets (exactly for
//! requests; for tokens, up to what answers in flight use beyond their
//! estimates), whatever the number of isolates. A lease is sized by what the
//! isolate used of its last one (twice that, so a busy isolate refreshes about
//! once per view), is at most a quarter of what is left, and is never smaller
//! than [`MIN_LEASE`] requests (or their tokens); the last twentieth of a minute's
//! rpm and tpm is never leased (`LEASE_RESERVE`; a four-hundredth while no request
//! that may wait came to the coordinator in this minute or the last). Near a limit,
//! then, requests take tickets again, and the priority queue decides who gets what
//! is left. A lease lives no longer than its view, nor past its minute; one held
//! by an isolate that dies comes back with the next minute.
//!
//! **Slots.** A deployment with `max_parallel_requests` is called without a ticket
//! only in an in-flight slot leased to the isolate ([`slots`](super::slots)): a
//! pick fills one, the request's end frees it for the isolate's next request, and
//! each sync gives back the slots unused at that moment beyond the most its
//! requests filled at once since the last sync (kept: a slot sent back and leased
//! again idles for the round trip). An isolate holding slots
//! syncs within a view's life while some are unused and within a third of
//! [`SLOTS_TTL_MS`] while its requests fill them ([`LocalRouter::sync_due`]). Near
//! the limit a request takes a slot held here unused before the strategy picks
//! (an idle slot is capacity lost; a lease's requests keep for later in the
//! minute); while its view says requests wait in the coordinator's queue, it
//! gives each slot back as its request ends, and every unused one at a sync, so
//! that they get them; while nobody waits it keeps the slot for its own next
//! request (a slot sent back and leased again idles for the round trip, and
//! costs a sync). A sync no request asks for
//! (the keeper's) leases no slots to an isolate whose requests filled none since
//! its last sync, so an idle isolate's slots go back for good. Slots leased are
//! never fewer than the isolate's requests in flight, so the limit holds exactly.
//!
//! **Full.** The view names the deployments with nothing left for anyone when it
//! was made ([`HealthView::full`]: at their rpm or tpm for the minute, or at their
//! `max_parallel_requests`). A request only those could serve, that may not wait,
//! is refused here with the coordinator's own answer ([`LocalPick::Full`]), so
//! that a saturated group's coordinator is not asked once per refused request.
//! Such a deployment stays full here until the next view, except that a request
//! of this isolate with a ticket to it that ended since lets one request try for
//! the place it freed ([`LocalRouter::ticket_ended`]), and one whose slots this
//! isolate gave back with a sync is not full here until that sync's answer
//! says what is (its requests wait for it). Near a limit, a pick
//! prefers a deployment of its tier it holds room in over one the coordinator
//! leased it nothing of. What the last view did not know, a refusal tells: once
//! the coordinator refused a request of this isolate that could not wait (busy,
//! rate limited), requests like it are refused here with that answer until a
//! view asked for after it, or a ticket of this isolate ending
//! ([`LocalRouter::refused`]), so that a view a moment old costs an isolate one
//! refused acquire, not one per request.
//!
//! Everything that needs one decision for the whole group still goes through a
//! ticket: a deployment whose cooldown ended waits for its single probe; while the
//! queue holds requests ([`HealthView::queued`]), a request that may wait lines up
//! behind them, told to the coordinator by its isolate's [`line`](mod@line) (no lease is
//! granted meanwhile: what frees is theirs); and a request that only tried deployments are left for, or that nothing can serve,
//! gets the coordinator's exact answer. A cooldown started in another isolate is
//! seen here within a view's life ([`view_life`]).
//!
//! **When the coordinator cannot be reached** (an overloaded Durable Object, a
//! restart): see [`outage`]. The isolate keeps routing by its last view, for
//! health only, up to [`STALE_GRACE_MS`] past its time, asks again at most every
//! [`OUTAGE_RETRY_MS`], and answers what only the coordinator could admit with why.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use self::asking::SLOW_ANSWER_MS;
use super::grant::{fits, in_region};
use super::slots::{SLOTS_TTL_MS, SlotLease, SlotsSince};
use super::strategy::{self, Candidate};
use super::{Grant, TicketRequest, Timings, Unavailable};
use crate::config::{Deployment, DeploymentId, ModelGroup, RouterPolicy, RoutingStrategy};
use crate::failure::FailureClass;
use crate::region::Area;

pub mod asking;
pub mod line;
pub mod outage;
pub mod slot_wait;
pub use outage::{OUTAGE_RETRY_MS, Outage, STALE_GRACE_MS};

/// `refresh_after_ms` while a sync is on its way: no time reaches it.
const SYNC_ON_ITS_WAY: u64 = u64::MAX;

/// How long an isolate relies on a view before it asks again, while the
/// coordinator hears from at most [`VIEWS_PER_S`] isolates ([`view_life`]).
pub const VIEW_TTL_MS: u64 = 1_000;
/// The views a second a coordinator makes for its isolates' refreshes, at
/// most, before it makes each last longer: one Durable Object serves about
/// 1,000 requests a second (Cloudflare's guidance), and tickets, lines and
/// reports need the rest.
pub const VIEWS_PER_S: u64 = 400;
/// The longest a view lasts, however many isolates ask. Under a third of
/// [`SLOTS_TTL_MS`]: an isolate whose requests fill its slots syncs that often
/// anyway, so a longer view would save no sync.
pub const MAX_VIEW_TTL_MS: u64 = 3_000;

/// How long a view lasts when the coordinator heard from `isolates` lately:
/// [`VIEW_TTL_MS`] up to [`VIEWS_PER_S`] isolates, then as long as keeps their
/// refreshes near that many a second, up to [`MAX_VIEW_TTL_MS`] (from 1,200
/// isolates on). Past [`VIEWS_PER_S`] isolates, then, a cooldown started
/// elsewhere, or a queue that started to hold requests, is seen within this
/// instead of a second: what keeps the coordinator's load from growing with
/// the number of isolates.
pub fn view_life(isolates: usize) -> u64 {
    let isolates = u64::try_from(isolates).unwrap_or(u64::MAX);
    (isolates.saturating_mul(1_000) / VIEWS_PER_S).clamp(VIEW_TTL_MS, MAX_VIEW_TTL_MS)
}

/// A view that took longer than this to come, for a view of `life_ms`, says the
/// coordinator lags ([`LocalRouter::lags`]): half the view's life, and at most
/// [`SLOW_ANSWER_MS`] (a round trip across the world is 300 ms at most, and a
/// view lives a second at least).
pub fn lag_bound(life_ms: u64) -> u64 {
    (life_ms / 2).min(SLOW_ANSWER_MS)
}

/// The smallest lease, in requests: one saves a Durable Object round trip per
/// request it covers, for the one sync that settles it; a smaller one is not worth
/// the capacity it holds away from other isolates and the queue.
pub const MIN_LEASE: u64 = 16;
/// A lease is at most this fraction of what is left of the minute's rpm or tpm.
const LEASE_SHARE: u64 = 4;
/// At a sync, at most this fraction of a lease stays in the isolate for the
/// requests that come before the answer ([`Held::carry`]). A lease is sized at
/// twice what the isolate used in a view, and the answer of a sync sent at three
/// quarters of the view's life is due before its end: a quarter of the lease is
/// half a view's worth, twice what that last quarter needs.
const LEASE_CARRIED: u64 = 4;
/// The part of an rpm or tpm never leased while requests that may wait come to
/// the group (`1 / LEASE_RESERVE` of it), so that the queue decides who gets it. A
/// twentieth: each request near a limit takes a ticket (an acquire and a report),
/// and the simulation measured a tenth at 0.54 coordinator messages per routed
/// request against 0.47 for a twentieth, with the same utilisation and no
/// inversion beyond the queue's bound (BENCHMARKS.md).
pub(super) const LEASE_RESERVE: u64 = 20;
/// The part never leased while no request that may wait came to the coordinator
/// in this minute or the last: there is no order to keep, so all but a sliver
/// goes by lease (a lease of a minute's last requests would take many isolates'
/// syncs for a few requests each: the sliver goes by ticket).
pub(super) const LEASE_RESERVE_UNORDERED: u64 = 400;

/// What an isolate needs to know of its group to route by itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthView {
    /// Out of every pick: cooling down, or with a half-open probe in flight.
    pub blocked: Vec<DeploymentId>,
    /// Only the coordinator may decide now: a probe is due.
    pub coordinate: bool,
    /// Requests wait in the coordinator's queue: a request that may wait lines
    /// up behind them (through its isolate's [`line`](mod@line)); one that may not routes
    /// as usual, under what this isolate holds (it never joins the queue).
    #[serde(default)]
    pub queued: bool,
    /// The best priority waiting in the queue when the view was made, where the
    /// queue does not age: a slot freed here may go to a request of this
    /// isolate's line as good as that ([`LocalRouter::hand_over`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_best: Option<u32>,
    /// Deployments with nothing left for anyone when the view was made (what
    /// was left went to this isolate's leases and slots, if anywhere): not
    /// picked here without a lease or slot of their own, nor asked for by ticket.
    #[serde(default)]
    pub full: Vec<(DeploymentId, Full)>,
    /// Deployments with a tpm of which less is left this minute than is never
    /// leased (what is left goes by ticket), with what was left when the view
    /// was made, counting leases: a request estimated at more would be
    /// refused, so it is refused here ([`Full::Rate`]) without asking, unless
    /// this isolate holds room for it. Without this, near the end of a busy
    /// minute every isolate's requests ask for a few tokens left that none fits
    /// in ([`LocalRouter::refused`] holds one refusal only for requests as large).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tokens_left: Vec<(DeploymentId, TokensLeft)>,
    /// How long the view holds from when it was made: [`view_life`], or less
    /// when a cooldown ends or the minute turns sooner. Relative, so that the
    /// clocks of the isolate and of the coordinator (which may run elsewhere)
    /// need not agree.
    pub fresh_for_ms: u64,
    /// The coordinator's minute when it made the view: the one its leases count in.
    #[serde(default)]
    pub minute: u64,
    /// What is set aside for this isolate, per deployment with an rpm or a tpm.
    #[serde(default)]
    pub leases: Vec<(DeploymentId, Lease)>,
    /// For usage-based routing: the tokens and requests each deployment used this minute.
    #[serde(default)]
    pub usage: Vec<(DeploymentId, u64, u64)>,
    /// For latency-based routing: the recent samples of each deployment that has any.
    #[serde(default)]
    pub latency: Vec<(DeploymentId, Timings)>,
    /// In-flight slots leased by this sync, per deployment with
    /// `max_parallel_requests`: added to those the isolate kept.
    #[serde(default)]
    pub slots: Vec<(DeploymentId, SlotLease)>,
    /// The epoch of the isolate's slots at the coordinator ([`slots`](super::slots)).
    #[serde(default)]
    pub slot_epoch: u64,
    /// For least-busy: each deployment's requests in flight elsewhere (tickets,
    /// and other isolates' as of their last syncs).
    #[serde(default)]
    pub in_flight: Vec<(DeploymentId, u32)>,
    /// A deployment of the group was at its rpm or tpm in this minute or the
    /// last, or on pace to reach it before its minute's end: the group's demand
    /// exceeds what its minutes allow, so a request served in a slot that
    /// would idle is one more served ([`slot_wait`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub saturated: bool,
    /// The coordinator takes more of its isolates' messages than it should
    /// alone (`RouterPolicy::relaying`): under `Relaying::Auto`, the isolate
    /// sends them through its location's relay until a view says otherwise.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub relay: bool,
}

/// Which limit a [`HealthView::full`] deployment is at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Full {
    /// Its rpm or tpm, until the minute turns, `retry_after_ms` after the view was made.
    Rate { retry_after_ms: u64 },
    /// Its `max_parallel_requests`, until requests end.
    Parallel,
}

/// What is left of a deployment's tpm this minute ([`HealthView::tokens_left`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokensLeft {
    pub tokens: u64,
    /// When the minute turns, after the view was made.
    pub retry_after_ms: u64,
}

/// What an isolate may send to a deployment with an rpm or a tpm without tickets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The coordinator's minute whose counts hold it.
    pub minute: u64,
    /// Requests, for a deployment with an rpm (else 0).
    pub requests: u64,
    /// Tokens, for a deployment with a tpm (else 0).
    pub tokens: u64,
    /// What was left of the rpm and the tpm for everyone else once it was set aside.
    pub remaining_requests: u64,
    pub remaining_tokens: u64,
}

impl Lease {
    /// What to set aside of a per-minute `limit` of which `taken` is counted or set
    /// aside already: `wanted`, or `least` if more, but at most a quarter of what
    /// is left beyond the part never leased (`1 / reserve` of the limit). `None`
    /// when that is under `least`.
    pub fn share(limit: u64, taken: u64, wanted: u64, least: u64, reserve: u64) -> Option<u64> {
        let leasable = limit.saturating_sub(taken).saturating_sub(limit.div_ceil(reserve));
        Some((leasable / LEASE_SHARE).min(wanted.max(least))).filter(|&size| size >= least)
    }
}

/// What an isolate sent to one deployment, and the answers that came, since its
/// last refresh: what it tells the coordinator at the next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServedSince {
    pub deployment: DeploymentId,
    /// Requests sent since the last refresh.
    pub requests: u64,
    /// Tokens they used: the estimates spent at each pick, corrected by the usage
    /// of the answers that came since (so it may be below zero).
    #[serde(default)]
    pub tokens: i64,
    /// The lease they were sent under, settled by this refresh: all of it, or
    /// all but the part the isolate carries past it (`Held::carry`), which is
    /// still set aside and settled by the next.
    pub lease: Option<Lease>,
    /// The answers that came since the last refresh (of requests sent before it, too).
    #[serde(default)]
    pub timings: Timings,
    /// Its slots and requests in flight, where they are counted
    /// ([`LocalRouter::counts_in_flight`]).
    #[serde(default)]
    pub slots: Option<SlotsSince>,
    /// Failures since the last refresh that could start no cooldown
    /// ([`LocalRouter::failed`]); each of the others went at once, with a sync
    /// of its own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<FailureClass>,
}

impl ServedSince {
    fn empty(deployment: DeploymentId) -> Self {
        Self {
            deployment,
            requests: 0,
            tokens: 0,
            lease: None,
            timings: Timings::default(),
            slots: None,
            failures: Vec::new(),
        }
    }
}

/// What a pick needs to know of the request.
#[derive(Debug, Clone, Copy)]
pub struct Ask<'a> {
    /// Deployments this request tried already.
    pub avoid: &'a [DeploymentId],
    pub estimated_tokens: u64,
    pub stream: bool,
    /// Only deployments in this area may serve it (`allowed_model_region`).
    pub region: Option<Area>,
    /// It has a priority: it may wait in the group's queue.
    pub may_wait: bool,
    /// It may wait in this isolate for a slot ([`slot_wait`]): it waited for
    /// none yet, and fewer than [`slot_wait::SLOT_WAITERS`] wait (with a
    /// priority or without: only while nobody waits in the queue).
    pub await_slot: bool,
}

/// Where a request goes, as far as this isolate can tell.
#[derive(Debug)]
pub enum LocalPick<'g> {
    /// Call this deployment, no ticket needed. `remaining_*`: for a deployment
    /// with an rpm or tpm, what its lease says is left of the minute.
    Call { deployment: &'g Deployment, remaining_requests: Option<u64>, remaining_tokens: Option<u64> },
    /// The view is missing or too old, or a lease is used up: fetch one, then
    /// pick again.
    Refresh,
    /// Take a ticket from the coordinator.
    Coordinate,
    /// Every deployment that could serve it is full (the view says so and this
    /// isolate holds nothing of them), and it may not wait: the coordinator
    /// would answer this, so it is answered without asking.
    Full(Unavailable),
    /// Only the coordinator could admit this request, and it could not be asked
    /// lately: answer [`Outage::error`] rather than call it again.
    Unreachable(Outage),
    /// Wait up to [`slot_wait::SLOT_WAIT_MS`] for a slot of this deployment that
    /// one of this isolate's requests frees ([`LocalRouter::hand_to_waiter`]),
    /// then pick again without `await_slot`.
    AwaitSlot(&'g Deployment),
}

/// Whether `view` leased nothing of `deployment` under one of its limits: none
/// of its rpm or tpm, or none of its slots.
fn leased_none(view: &HealthView, deployment: &Deployment) -> bool {
    ((deployment.rpm.is_some() || deployment.tpm.is_some()) && !view.leases.iter().any(|(id, _)| *id == deployment.id))
        || (deployment.max_parallel_requests.is_some()
            && !view.slots.iter().any(|(id, lease)| *id == deployment.id && lease.granted > 0))
}

/// Whether `deployment` has no rpm nor tpm, or a lease held of it has room for a
/// request of `estimated_tokens`.
fn lease_room(leases: &HashMap<DeploymentId, Held>, deployment: &Deployment, estimated_tokens: u64) -> bool {
    (deployment.rpm.is_none() && deployment.tpm.is_none())
        || leases.get(&deployment.id).is_some_and(|held| {
            (deployment.rpm.is_none() || held.requests_left > 0)
                && (deployment.tpm.is_none() || held.tokens_left >= i64::try_from(estimated_tokens).unwrap_or(i64::MAX))
        })
}

/// Whether a request of this isolate to `deployment` with a ticket ended at or
/// after `made_ms` (`freed`: see [`LocalRouter::ticket_ended`]), freeing a place
/// a view made then counted: if so, the request asking now may try for it (one
/// request per place freed).
fn try_freed(freed: &mut HashMap<DeploymentId, (u64, u32)>, deployment: &DeploymentId, made_ms: u64) -> bool {
    match freed.get_mut(deployment) {
        Some((at, places)) if *at >= made_ms && *places > 0 => {
            *places -= 1;
            true
        }
        _ => false,
    }
}

/// A lease as the isolate spends it. Tokens may go below zero: answers that used
/// more than their estimates overdraw it.
#[derive(Debug, Clone, Copy)]
struct Held {
    lease: Lease,
    requests_left: u64,
    tokens_left: i64,
}

impl Held {
    /// Splits the lease at a sync sent while its view lasts: the part settled
    /// (all of it but what is carried), and the part kept here, still set aside
    /// in the coordinator's counts, for the requests that come before the sync's
    /// answer. Without it, every request to the deployment in that round trip
    /// waits for the answer (the sync ahead of a view's end goes at three
    /// quarters of its life, so that under steady traffic none would wait, and
    /// a far coordinator's trip is what it would add). The part carried is what
    /// is left, up to `1 / LEASE_CARRIED` of the lease; the next sync settles it
    /// with the lease its answer adds to it. `None` when nothing is left.
    fn carry(self) -> (Lease, Option<Held>) {
        let requests = self.requests_left.min(self.lease.requests.div_ceil(LEASE_CARRIED));
        let tokens = self.tokens_left.max(0).unsigned_abs().min(self.lease.tokens.div_ceil(LEASE_CARRIED));
        if requests == 0 && tokens == 0 {
            return (self.lease, None);
        }
        let settled =
            Lease { requests: self.lease.requests - requests, tokens: self.lease.tokens - tokens, ..self.lease };
        let carried = Held {
            lease: Lease { requests, tokens, ..self.lease },
            requests_left: requests,
            tokens_left: i64::try_from(tokens).unwrap_or(i64::MAX),
        };
        (settled, Some(carried))
    }
}

/// What the isolate sent to a deployment since its last refresh, how long the
/// answers that came since took, and the failures that wait for the refresh.
#[derive(Debug, Clone, Default)]
struct Usage {
    requests: u64,
    tokens: i64,
    timings: Timings,
    failures: Vec<FailureClass>,
}

/// A deployment's slots as the isolate holds them: leased, filled by its requests
/// in flight (for least-busy, counted without slots), and the most filled at once
/// since the last sync.
#[derive(Debug, Clone, Copy, Default)]
struct HeldSlots {
    held: u32,
    busy: u32,
    peak: u32,
    return_at_once: bool,
    /// Leased by a view that came too late to use them: given back at the next sync.
    stale: u32,
}

/// One isolate's knowledge of one group: the last view, its leases and slots,
/// and the requests it sent since it last told the coordinator.
#[derive(Debug, Default)]
pub struct LocalRouter {
    view: Option<(HealthView, u64)>,
    served: HashMap<DeploymentId, Usage>,
    leases: HashMap<DeploymentId, Held>,
    slots: HashMap<DeploymentId, HeldSlots>,
    /// When the last sync was sent.
    last_sync_ms: u64,
    /// The epoch of the slots held (see [`slots`](super::slots)).
    epoch: u64,
    /// The coordinator keeps an isolate's slots [`SLOTS_TTL_MS`] after the last
    /// sync it took, so slots are used no longer than half that after the latest
    /// sync whose answer came.
    slots_valid_until_ms: u64,
    /// When the view is due to be refreshed behind the requests
    /// ([`LocalRouter::refresh_ahead`]); never while a sync is on its way
    /// ([`LocalRouter::sync_on_its_way`]).
    refresh_after_ms: u64,
    /// The last call to the coordinator that failed, and when, since a view came.
    outage: Option<(Outage, u64)>,
    /// Requests with a ticket in flight ([`LocalRouter::ticket_started`]).
    tickets: u32,
    /// When a request with a ticket last ended, per deployment, and how many
    /// ended not yet tried for ([`LocalRouter::ticket_ended`]).
    freed: HashMap<DeploymentId, (u64, u32)>,
    /// The coordinator's last refusal, for lack of capacity, of a request of this
    /// isolate that could not wait ([`LocalRouter::refused`]).
    refused: Option<Refusal>,
    /// Deployments whose minute a ticket of this isolate spent since its view,
    /// and when ([`LocalRouter::granted`]).
    spent: Vec<(DeploymentId, u64)>,
    /// Deployments some of whose slots a sync gave back, and when it was sent
    /// ([`LocalRouter::take_served`]): until a view asked for after it comes,
    /// what the last one says of their concurrency counted those slots.
    given_back: Vec<(DeploymentId, u64)>,
    /// Whether the last view came late ([`LocalRouter::lags`]).
    lags: bool,
    /// Whether the last view came within a quarter of its life: what it says of
    /// the queue was true lately enough for a request with a priority to wait
    /// for a slot here on its word ([`slot_wait`]).
    prompt: bool,
}

/// A refusal by the coordinator that holds for the requests like the one refused
/// until a view asked for after it comes, or a request of this isolate with a
/// ticket ends.
#[derive(Debug, Clone)]
struct Refusal {
    reason: Unavailable,
    at_ms: u64,
    /// Of the request refused: one as big or bigger, asking in the same area, is
    /// refused here too (a smaller one may fit what is left of a tpm).
    estimated_tokens: u64,
    region: Option<Area>,
}

impl LocalRouter {
    /// Whether a request picked here to `deployment` must be told to
    /// [`LocalRouter::release`] when it ends: it fills a slot, or least-busy counts it.
    pub fn counts_in_flight(deployment: &Deployment, policy: &RouterPolicy) -> bool {
        deployment.max_parallel_requests.is_some() || policy.strategy == RoutingStrategy::LeastBusy
    }

    /// Whether the tokens an answer of `deployment` used must be told to
    /// [`LocalRouter::answered`]: a tpm counts them, and usage-based routing goes by them.
    pub fn wants_usage(deployment: &Deployment, policy: &RouterPolicy) -> bool {
        deployment.tpm.is_some() || policy.strategy == RoutingStrategy::UsageBased
    }

    /// Picks a deployment as the coordinator would: one that fits the prompt, is
    /// not out and was not tried by this request, from the lowest `order`, by the
    /// strategy. Counts the request and its estimated tokens against the deployment
    /// (and its lease) when it picks. A deployment with an rpm or a tpm and no
    /// lease is the coordinator's to give.
    ///
    /// Within [`OUTAGE_RETRY_MS`] of a failed call to the coordinator
    /// ([`LocalRouter::unreachable`]), what would refresh or coordinate is
    /// [`LocalPick::Unreachable`] instead, and a view past its time still routes
    /// (see [`outage`]).
    pub fn pick<'g>(
        &mut self,
        now_ms: u64,
        group: &'g ModelGroup,
        policy: &RouterPolicy,
        ask: Ask<'_>,
        rng: &mut fastrand::Rng,
    ) -> LocalPick<'g> {
        let outage = self.outage.filter(|&(_, at)| now_ms < at.saturating_add(OUTAGE_RETRY_MS)).map(|(o, _)| o);
        match (self.pick_by_view(now_ms, outage.is_some(), group, policy, ask, rng), outage) {
            (LocalPick::Refresh | LocalPick::Coordinate, Some(outage)) => LocalPick::Unreachable(outage),
            (pick, _) => pick,
        }
    }

    /// [`LocalRouter::pick`], `down` while the coordinator was lately unreachable.
    fn pick_by_view<'g>(
        &mut self,
        now_ms: u64,
        down: bool,
        group: &'g ModelGroup,
        policy: &RouterPolicy,
        ask: Ask<'_>,
        rng: &mut fastrand::Rng,
    ) -> LocalPick<'g> {
        let Ask { avoid, estimated_tokens, stream, region, may_wait, await_slot } = ask;
        let Some((view, valid_until_ms)) = &self.view else {
            return LocalPick::Refresh;
        };
        // Past its time, a view still routes while the coordinator is down, for a
        // grace: health fails open. Not what it would coordinate (a probe, the
        // queue), which the coordinator cannot do now.
        let stale = now_ms >= *valid_until_ms;
        if stale && !(down && now_ms < valid_until_ms.saturating_add(STALE_GRACE_MS)) {
            return LocalPick::Refresh;
        }
        // A probe is due; or requests wait, and this one may wait: behind them.
        if (view.coordinate || (view.queued && may_wait)) && !stale {
            return LocalPick::Coordinate;
        }
        // Every slot this isolate holds of a deployment near its concurrency
        // limit is filled: one of them frees sooner than the next request would
        // come to take it (see `slot_wait`). A request with a priority only on
        // the word of a view that came promptly: one that took longer may say
        // the queue is empty long after requests joined it (a coordinator that
        // lags), and the slot would go past them.
        if await_slot
            && (!may_wait || self.prompt)
            && !stale
            && let Some(deployment) = self.slot_to_await(now_ms, view, group, policy, avoid, estimated_tokens, region)
        {
            return LocalPick::AwaitSlot(deployment);
        }
        // The coordinator refused one like it since the view came: so would it
        // this one, unless this isolate holds room of its own. Without this, every
        // request of every isolate whose view is a moment old asks once the last
        // of a limit is gone.
        if !may_wait
            && avoid.is_empty()
            && let Some(reason) = self.refused_like(now_ms, group, policy, view, estimated_tokens, region)
        {
            return LocalPick::Full(reason);
        }
        // Limits fail closed: while the coordinator is down, a deployment with an
        // rpm or a tpm is picked only under a lease held with room for the
        // request, and never by a stale view.
        let leases = &self.leases;
        let closed = |d: &Deployment| {
            (d.rpm.is_some() || d.tpm.is_some()) && (stale || (down && !lease_room(leases, d, estimated_tokens)))
        };
        // The view was asked for then: made between then and its arrival.
        let made_ms = valid_until_ms.saturating_sub(view.fresh_for_ms);
        let (mut open, mut full): (Vec<&Deployment>, Vec<Full>) = (Vec::new(), Vec::new());
        for d in group.deployments.iter().filter(|d| {
            in_region(d, region)
                && fits(policy, d, estimated_tokens)
                && !view.blocked.contains(&d.id)
                && !avoid.contains(&d.id)
                && !closed(d)
        }) {
            // Nothing left of its minute: where it alone could serve, the
            // request asks, and the coordinator says when it frees.
            if !stale && self.spent.iter().any(|(id, _)| *id == d.id) && !self.holds_room(d, estimated_tokens) {
                continue;
            }
            let limit = view.full.iter().find(|(id, _)| *id == d.id).map(|(_, limit)| *limit).or_else(|| {
                let left = view.tokens_left.iter().find(|(id, _)| *id == d.id).map(|(_, left)| left)?;
                (estimated_tokens > left.tokens).then_some(Full::Rate { retry_after_ms: left.retry_after_ms })
            });
            match limit {
                Some(limit) if !stale && !self.holds_room(d, estimated_tokens) => {
                    // At its concurrency, one of this isolate's own requests to it
                    // that ended since the view was made lets one request try; and
                    // slots this isolate gave back since, all: the view counted
                    // them as its, and the sync's answer, which the request waits
                    // for, says what is free.
                    if matches!(limit, Full::Parallel)
                        && (self.gave_back(&d.id) || try_freed(&mut self.freed, &d.id, made_ms))
                    {
                        open.push(d);
                    } else {
                        full.push(limit);
                    }
                }
                _ => open.push(d),
            }
        }
        let Some(tier) = open.iter().map(|d| d.order).min() else {
            return match Self::refusal(&full, now_ms.saturating_sub(made_ms)) {
                Some(reason) if !may_wait => LocalPick::Full(reason),
                _ => LocalPick::Coordinate,
            };
        };
        open.retain(|d| d.order == tier);
        // Near a limit, where the coordinator leases no more of a deployment (what
        // is left goes by ticket), one this isolate holds no room in is left out
        // while another of the tier has room here: it would cost a ticket where
        // the other serves now.
        if open.iter().any(|d| self.holds_room(d, estimated_tokens)) {
            open.retain(|d| self.holds_room(d, estimated_tokens) || !leased_none(view, d));
        }
        // Near its concurrency limit, a slot held here and unused is capacity
        // lost for as long as it idles, where what a lease leaves keeps for later
        // in its minute: a request it can serve takes it first.
        if let Some(idle) = open.iter().find(|d| {
            d.max_parallel_requests.is_some()
                && self.slots.get(&d.id).is_some_and(|s| s.return_at_once)
                && self.holds_room(d, estimated_tokens)
        }) {
            let id = idle.id.clone();
            open.retain(|d| d.id == id);
        }
        let unsent = Usage::default();
        let candidates: Vec<Candidate<'g>> = open
            .into_iter()
            .map(|d| {
                let mut candidate = Candidate::unloaded(d);
                let own = self.served.get(&d.id).unwrap_or(&unsent);
                match policy.strategy {
                    RoutingStrategy::UsageBased => {
                        let seen = view.usage.iter().find(|(id, ..)| *id == d.id).map_or((0, 0), |(_, t, r)| (*t, *r));
                        candidate.tokens = seen.0.saturating_add_signed(own.tokens);
                        candidate.requests = seen.1.saturating_add(own.requests);
                    }
                    RoutingStrategy::LeastBusy => {
                        let elsewhere = view.in_flight.iter().find(|(id, _)| *id == d.id).map_or(0, |(_, n)| *n);
                        let own = self.slots.get(&d.id).map_or(0, |s| s.busy);
                        candidate.in_flight = elsewhere.saturating_add(own);
                    }
                    RoutingStrategy::LatencyBased => {
                        let mut timings =
                            view.latency.iter().find(|(id, _)| *id == d.id).map(|(_, t)| *t).unwrap_or_default();
                        timings.add(own.timings);
                        candidate.latency_ms = timings.average(stream);
                    }
                    _ => {}
                }
                candidate
            })
            .collect();
        let Some(chosen) = strategy::choose(policy.strategy, &candidates, policy.latency_buffer, rng) else {
            return LocalPick::Coordinate;
        };
        let deployment = chosen.deployment;
        if deployment.max_parallel_requests.is_some() {
            let free = self.slots.get(&deployment.id).is_some_and(|s| s.busy < s.held);
            if !free || now_ms >= self.slots_valid_until_ms {
                // Its slots are full, or as old as the coordinator may keep them.
                return LocalPick::Refresh;
            }
        }
        let estimated = i64::try_from(estimated_tokens).unwrap_or(i64::MAX);
        let (mut remaining_requests, mut remaining_tokens) = (None, None);
        if deployment.rpm.is_some() || deployment.tpm.is_some() {
            let Some(held) = self.leases.get_mut(&deployment.id) else {
                // A sync on its way settled the lease and brings the next: wait
                // for it rather than take a ticket (two messages, the same wait).
                return if self.sync_on_its_way() { LocalPick::Refresh } else { LocalPick::Coordinate };
            };
            let requests_left = deployment.rpm.is_none() || held.requests_left > 0;
            let tokens_left = deployment.tpm.is_none() || held.tokens_left >= estimated;
            if !(requests_left && tokens_left) {
                // Used up within its view: a busy isolate, whose next lease is bigger.
                return LocalPick::Refresh;
            }
            if deployment.rpm.is_some() {
                held.requests_left -= 1;
                remaining_requests = Some(held.lease.remaining_requests.saturating_add(held.requests_left));
            }
            if deployment.tpm.is_some() {
                held.tokens_left -= estimated;
                remaining_tokens = Some(held.lease.remaining_tokens.saturating_add_signed(held.tokens_left));
            }
        }
        self.count_pick(&deployment.id, estimated, Self::counts_in_flight(deployment, policy));
        LocalPick::Call { deployment, remaining_requests, remaining_tokens }
    }

    /// What a request picked here to `deployment`, estimated at `estimated`
    /// tokens, counts: its usage, told at the next sync, and, `in_flight`, a
    /// slot it fills (or least-busy's count).
    fn count_pick(&mut self, deployment: &DeploymentId, estimated: i64, in_flight: bool) {
        self.with_usage(deployment, |usage| {
            usage.requests += 1;
            usage.tokens = usage.tokens.saturating_add(estimated);
        });
        if in_flight {
            let slots = match self.slots.get_mut(deployment) {
                Some(slots) => slots,
                None => self.slots.entry(deployment.clone()).or_default(),
            };
            slots.busy += 1;
            slots.peak = slots.peak.max(slots.busy);
        }
    }

    /// Whether a sync whose answer has not come gave back slots of `deployment`.
    fn gave_back(&self, deployment: &DeploymentId) -> bool {
        self.given_back.iter().any(|(id, _)| id == deployment)
    }

    /// Whether this isolate holds room of its own in `deployment` for a request
    /// estimated at `estimated_tokens`: under each of its limits, a lease or a
    /// slot with some left.
    fn holds_room(&self, deployment: &Deployment, estimated_tokens: u64) -> bool {
        let rate = lease_room(&self.leases, deployment, estimated_tokens);
        let parallel = deployment.max_parallel_requests.is_none()
            || self.slots.get(&deployment.id).is_some_and(|s| s.busy < s.held);
        rate && parallel
    }

    /// The coordinator's refusal of a request like this one, if one holds and
    /// this isolate holds no room of its own in any deployment that could serve it.
    fn refused_like(
        &self,
        now_ms: u64,
        group: &ModelGroup,
        policy: &RouterPolicy,
        view: &HealthView,
        estimated_tokens: u64,
        region: Option<Area>,
    ) -> Option<Unavailable> {
        let refusal = self.refused.as_ref().filter(|r| r.region == region && estimated_tokens >= r.estimated_tokens)?;
        let room = group.deployments.iter().any(|d| {
            in_region(d, region)
                && fits(policy, d, estimated_tokens)
                && !view.blocked.contains(&d.id)
                && (self.holds_room(d, estimated_tokens) || self.gave_back(&d.id))
        });
        if room {
            return None;
        }
        Some(match refusal.reason {
            Unavailable::RateLimited { retry_after_ms } => Unavailable::RateLimited {
                retry_after_ms: retry_after_ms.saturating_sub(now_ms.saturating_sub(refusal.at_ms)),
            },
            ref other => other.clone(),
        })
    }

    /// The coordinator refused, at `now_ms`, a request of this isolate that
    /// could not wait and had tried nothing (estimated at `estimated_tokens`,
    /// asking in `region`): for lack of capacity, requests like it are refused
    /// here with the same answer until a view asked for after it comes, or a
    /// request of this isolate with a ticket ends. Other answers change nothing.
    pub fn refused(&mut self, now_ms: u64, estimated_tokens: u64, region: Option<Area>, reason: &Unavailable) {
        if matches!(reason, Unavailable::Busy | Unavailable::RateLimited { .. }) {
            self.refused = Some(Refusal { reason: reason.clone(), at_ms: now_ms, estimated_tokens, region });
        }
    }

    /// What the coordinator would answer a request that only `full` deployments
    /// could serve, `age_ms` after the view was made: rate limited when each is
    /// at its rpm or tpm (until the soonest minute's end), else busy. `None`
    /// when none was full (nothing could serve it for other reasons).
    fn refusal(full: &[Full], age_ms: u64) -> Option<Unavailable> {
        let mut retry_after_ms = u64::MAX;
        for limit in full {
            match limit {
                Full::Rate { retry_after_ms: ms } => retry_after_ms = retry_after_ms.min(ms.saturating_sub(age_ms)),
                // Under its rate limits, at its concurrency: as the coordinator, busy.
                Full::Parallel => return Some(Unavailable::Busy),
            }
        }
        (!full.is_empty()).then_some(Unavailable::RateLimited { retry_after_ms })
    }

    /// An answer of `deployment` picked here used `used` tokens where its pick
    /// estimated `estimated`: the difference counts at the next refresh, and
    /// against the lease held now.
    pub fn answered(&mut self, deployment: &DeploymentId, estimated: u64, used: u64) {
        let difference = i64::try_from(used).unwrap_or(i64::MAX).saturating_sub_unsigned(estimated);
        self.with_usage(deployment, |usage| usage.tokens = usage.tokens.saturating_add(difference));
        if let Some(held) = self.leases.get_mut(deployment) {
            held.tokens_left = held.tokens_left.saturating_sub(difference);
        }
    }

    /// An answer of `deployment` picked here came after `latency_ms` (a stream's
    /// first token after `ttft_ms`): it counts for latency-based routing here at
    /// once, and in every isolate from the next refresh.
    pub fn timed(&mut self, deployment: &DeploymentId, latency_ms: u64, ttft_ms: Option<u64>) {
        self.with_usage(deployment, |usage| usage.timings.add(Timings::one(latency_ms, ttft_ms)));
    }

    /// A call of `deployment` picked here failed in a way that can start no
    /// cooldown (see [`cools_down`](super::cools_down)): no next attempt needs
    /// to see it at once, so it is told with the next refresh, whatever that is
    /// for, not with a sync of its own (the coordinator counts it then, in the
    /// minute's failures and the metrics, as it counts the requests sent).
    pub fn failed(&mut self, deployment: &DeploymentId, class: FailureClass) {
        self.with_usage(deployment, |usage| usage.failures.push(class));
    }

    /// A request picked here to `deployment` ended (see
    /// [`LocalRouter::counts_in_flight`]): its slot is free for the next. `true`
    /// when the slot must go to a waiting request now, of this isolate's line
    /// ([`LocalRouter::hand_over`]) or else back to the coordinator (a sync):
    /// the deployment is near its limit, and requests wait in the queue (as
    /// the view says, or `line_waits`: some of this isolate's, which a view
    /// made before they joined does not know of).
    pub fn release(&mut self, deployment: &DeploymentId, line_waits: bool) -> bool {
        let queued = line_waits || self.queued();
        let Some(slots) = self.slots.get_mut(deployment) else {
            return false;
        };
        slots.busy = slots.busy.saturating_sub(1);
        slots.return_at_once && queued && slots.held > slots.busy
    }

    /// Whether the view says requests wait in the coordinator's queue.
    fn queued(&self) -> bool {
        self.view.as_ref().is_some_and(|(view, _)| view.queued)
    }

    /// A slot of `deployment` freed at `now_ms` that must go back (see
    /// [`LocalRouter::release`]) may go to a request of this isolate's line
    /// instead, where the view says which: the best priority such a request
    /// must have (the best waiting in the group's queue when the view was made;
    /// any, where the queue was empty then), if the slot may still be used.
    /// Nothing is asked of the coordinator: the slot stays leased here, and the
    /// request is told as one that left.
    pub fn hand_over(&self, now_ms: u64, deployment: &Deployment) -> Option<u32> {
        let (view, _) = self.view.as_ref()?;
        // A rate limit too: its lease decides, as for any pick.
        let only_parallel = deployment.rpm.is_none() && deployment.tpm.is_none();
        let usable = only_parallel && now_ms < self.slots_valid_until_ms && !view.blocked.contains(&deployment.id);
        let free = self.slots.get(&deployment.id).is_some_and(|s| s.busy < s.held);
        let best = if view.queued { view.queue_best } else { Some(u32::MAX) };
        best.filter(|_| usable && free)
    }

    /// Whether `deployment` may serve `request`, a request of the line: not
    /// one it tried, in its area, with room for its tokens.
    pub fn suits(policy: &RouterPolicy, deployment: &Deployment, request: &TicketRequest) -> bool {
        !request.avoid.contains(&deployment.id)
            && in_region(deployment, request.region)
            && fits(policy, deployment, request.estimated_tokens)
    }

    /// A slot of `deployment` freed here goes to a request of the line
    /// estimated at `estimated_tokens` ([`LocalRouter::hand_over`]): filled
    /// again, and counted as a pick.
    pub fn refill(&mut self, deployment: &DeploymentId, estimated_tokens: u64) {
        if self.slots.contains_key(deployment) {
            self.count_pick(deployment, i64::try_from(estimated_tokens).unwrap_or(i64::MAX), true);
        }
    }

    /// When this isolate must sync for its slots and tickets even without a
    /// request asking: soon while some slots are unused (others may need them),
    /// before the coordinator would take them back (or end its tickets, see
    /// [`LocalRouter::ticket_started`]) while its requests fill them. `None` when
    /// it holds none.
    pub fn sync_due(&self) -> Option<u64> {
        let unused = self.slots.values().any(|s| s.held > s.busy || s.stale > 0);
        let filled = self.tickets > 0 || self.slots.values().any(|s| s.held > 0 || s.busy > 0);
        if unused {
            // A view's life, as a refresh would: where many isolates stretch it,
            // the keeper does not sync more often than their requests do.
            let life = self.view.as_ref().map_or(VIEW_TTL_MS, |(view, _)| view.fresh_for_ms.max(VIEW_TTL_MS));
            Some(self.last_sync_ms.saturating_add(life))
        } else if filled {
            Some(self.last_sync_ms.saturating_add(SLOTS_TTL_MS / 3))
        } else {
            None
        }
    }

    fn with_usage(&mut self, deployment: &DeploymentId, f: impl FnOnce(&mut Usage)) {
        // Looked up before `entry`, which would copy the id on every answer.
        match self.served.get_mut(deployment) {
            Some(usage) => f(usage),
            None => f(self.served.entry(deployment.clone()).or_default()),
        }
    }

    /// Takes a view asked for at `asked_ms` that came at `now_ms`. Its leases add
    /// to those of the same minute already held: views fetched side by side by
    /// concurrent requests each set requests aside, and each must be settled. A
    /// view of an earlier minute than the one held is left out.
    pub fn update(&mut self, asked_ms: u64, now_ms: u64, view: HealthView) {
        self.outage = None;
        let trip_ms = now_ms.saturating_sub(asked_ms);
        self.lags = trip_ms > lag_bound(view.fresh_for_ms);
        self.prompt = trip_ms <= view.fresh_for_ms / 4;
        // A view asked for before the refusal came knows no more than it.
        if self.refused.as_ref().is_some_and(|refusal| asked_ms >= refusal.at_ms) {
            self.refused = None;
        }
        self.spent.retain(|(_, at_ms)| asked_ms < *at_ms);
        self.given_back.retain(|(_, at_ms)| asked_ms < *at_ms);
        // Slots are not of a minute: those leased count however old the view,
        // but a view that took longer than half the slots' TTL may carry slots
        // the coordinator took back already (it lost track of this isolate).
        let valid_until_ms = asked_ms.saturating_add(SLOTS_TTL_MS / 2);
        let late = now_ms >= valid_until_ms;
        if view.slot_epoch > self.epoch {
            // The coordinator forgot this isolate and took its slots back: only
            // the requests in flight keep theirs, which it learns at the next sync.
            for slots in self.slots.values_mut() {
                (slots.held, slots.stale) = (slots.busy, 0);
            }
            self.epoch = view.slot_epoch;
        }
        let slots_of_now = view.slot_epoch == self.epoch;
        if slots_of_now && !late && !view.queued && !view.coordinate {
            // A view that leases (none does while requests wait, or a probe is
            // due) names every deployment near its limit: the others are not.
            for slots in self.slots.values_mut() {
                slots.return_at_once = false;
            }
        }
        for (id, lease) in view.slots.iter().filter(|_| slots_of_now) {
            let slots = self.slots.entry(id.clone()).or_default();
            if late {
                slots.stale = slots.stale.saturating_add(lease.granted);
            } else {
                slots.held = slots.held.saturating_add(lease.granted);
                slots.return_at_once = lease.return_at_once;
            }
        }
        if !late {
            self.slots_valid_until_ms = self.slots_valid_until_ms.max(valid_until_ms);
        }
        // The answers to refreshes sent side by side may arrive in any order. One
        // from a minute before the view held knows less, and its leases count in a
        // minute gone: taking it would drop the newer leases unsettled, and with
        // them the requests sent under them from the counts.
        if self.view.as_ref().is_some_and(|(held, _)| view.minute < held.minute) {
            return;
        }
        // A lease of a minute gone is not settled: its requests counted in that
        // minute when it was granted, and that minute's count is gone.
        let served = &mut self.served;
        self.leases.retain(|id, held| {
            let current = held.lease.minute == view.minute;
            if !current && let Some(usage) = served.get_mut(id) {
                (usage.requests, usage.tokens) = (0, 0);
            }
            current
        });
        for (id, lease) in &view.leases {
            let fresh =
                Held { lease: Lease { minute: lease.minute, ..Lease::default() }, requests_left: 0, tokens_left: 0 };
            let held = self.leases.entry(id.clone()).or_insert(fresh);
            held.lease.requests = held.lease.requests.saturating_add(lease.requests);
            held.lease.tokens = held.lease.tokens.saturating_add(lease.tokens);
            held.lease.remaining_requests = lease.remaining_requests;
            held.lease.remaining_tokens = lease.remaining_tokens;
            held.requests_left = held.requests_left.saturating_add(lease.requests);
            held.tokens_left = held.tokens_left.saturating_add(i64::try_from(lease.tokens).unwrap_or(i64::MAX));
        }
        // Requests that ended before this view was asked for are in it.
        self.freed.retain(|_, (at, _)| *at >= asked_ms);
        // From when it was asked for, not when it came: the coordinator made it in
        // between, so a cooldown started elsewhere is seen within the view's life,
        // whatever the round trip (counted from its arrival, it was that plus one).
        let valid_until_ms = asked_ms.saturating_add(view.fresh_for_ms);
        self.refresh_after_ms = asked_ms.saturating_add(view.fresh_for_ms.saturating_mul(3) / 4);
        self.view = Some((view, valid_until_ms));
    }

    /// Whether the coordinator lags: the last view took longer than
    /// [`lag_bound`] to come. Its isolate's line then tells its news at the
    /// line's pace ([`Line::pace`](line::Line::pace)), so that a coordinator
    /// that falls behind is not sent a `Wait` per request that joins.
    pub fn lags(&self) -> bool {
        self.lags
    }

    /// Whether a sync was sent since the last view came: its view, and the leases
    /// it brings, are the next (one that failed leaves it so: the next pick then
    /// refreshes, once the outage's second is over, rather than take a ticket).
    fn sync_on_its_way(&self) -> bool {
        self.refresh_after_ms == SYNC_ON_ITS_WAY
    }

    /// Whether the view should be refreshed behind a request picked now: it is
    /// three quarters through its life, so that under steady traffic the next view
    /// comes before this one is stale and no request waits for a sync (however far
    /// the coordinator). Not while the coordinator was lately unreachable.
    pub fn refresh_ahead(&self, now_ms: u64) -> bool {
        let down = self.outage.is_some_and(|(_, at)| now_ms < at.saturating_add(OUTAGE_RETRY_MS));
        self.view.is_some() && !down && now_ms >= self.refresh_after_ms
    }

    /// A call to the coordinator failed at `now_ms`: for [`OUTAGE_RETRY_MS`], picks
    /// do not ask it again (see [`LocalRouter::pick`]).
    pub fn unreachable(&mut self, now_ms: u64, outage: Outage) {
        self.outage = Some((outage, now_ms));
    }

    /// Whether the last view said to relay ([`HealthView::relay`]): an old
    /// view's word holds until the next, which its relay brings.
    pub fn relays(&self) -> bool {
        self.view.as_ref().is_some_and(|(view, _)| view.relay)
    }

    /// The leases this isolate holds now, as granted (for `GET /debug/state`).
    pub fn held(&self) -> Vec<(DeploymentId, Lease)> {
        let mut held: Vec<_> = self.leases.iter().map(|(id, held)| (id.clone(), held.lease)).collect();
        held.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        held
    }

    /// What to tell the coordinator at a refresh sent at `now_ms`: the requests and
    /// tokens sent per deployment since the last one, the leases they settle and
    /// the slots unused now that it does not keep (given up here), and the
    /// requests in flight.
    pub fn take_served(&mut self, now_ms: u64) -> Vec<ServedSince> {
        self.last_sync_ms = now_ms;
        // A sync is on its way: its view is the next, no other is asked for ahead.
        self.refresh_after_ms = SYNC_ON_ITS_WAY;
        let mut served: Vec<ServedSince> = self
            .served
            .drain()
            .map(|(deployment, usage)| ServedSince {
                deployment,
                requests: usage.requests,
                tokens: usage.tokens,
                lease: None,
                timings: usage.timings,
                slots: None,
                failures: usage.failures,
            })
            .collect();
        // While the view lasts, a part of each lease stays here for the requests
        // that come while the sync is on its way, and the rest is settled.
        let fresh = self.view.as_ref().is_some_and(|(_, valid_until_ms)| now_ms < *valid_until_ms);
        for (deployment, held) in std::mem::take(&mut self.leases) {
            let (settled, carried) = if fresh { held.carry() } else { (held.lease, None) };
            if let Some(carried) = carried {
                self.leases.insert(deployment.clone(), carried);
            }
            match served.iter_mut().find(|s| s.deployment == deployment) {
                Some(s) => s.lease = Some(settled),
                None => served.push(ServedSince { lease: Some(settled), ..ServedSince::empty(deployment) }),
            }
        }
        let queued = self.queued();
        self.slots.retain(|deployment, slots| {
            // It keeps what its requests filled at once since the last sync (a slot
            // sent back and leased again idles a trip there and back), unless near
            // the limit with requests waiting: those get every slot unused.
            let for_the_queue = slots.return_at_once && queued;
            let keep = if for_the_queue { slots.busy } else { slots.held.min(slots.busy.max(slots.peak)) };
            let since = SlotsSince {
                epoch: self.epoch,
                released: slots.held.saturating_sub(keep).saturating_add(slots.stale),
                busy: slots.busy,
                peak: slots.peak,
            };
            match served.iter_mut().find(|s| s.deployment == *deployment) {
                Some(s) => s.slots = Some(since),
                None => served.push(ServedSince { slots: Some(since), ..ServedSince::empty(deployment.clone()) }),
            }
            // Not those given back for the requests waiting in the queue: theirs.
            if since.released > 0 && !for_the_queue {
                self.given_back.push((deployment.clone(), now_ms));
            }
            (slots.held, slots.peak, slots.stale) = (keep, slots.busy, 0);
            slots.held > 0 || slots.busy > 0
        });
        served.sort_by(|a, b| a.deployment.as_str().cmp(b.deployment.as_str()));
        served
    }
}

/// Tickets in flight. The coordinator ends an isolate's tickets when it lapses
/// ([`SLOTS_TTL_MS`] silent), as it takes back its slots: while a request with a
/// ticket runs, its isolate syncs as it does for filled slots
/// ([`LocalRouter::sync_due`]), so that a long request keeps its ticket.
impl LocalRouter {
    /// A request of this isolate took a ticket of the group (granted now).
    pub fn ticket_started(&mut self) {
        self.tickets = self.tickets.saturating_add(1);
    }

    /// A ticket of this isolate was granted at `now_ms`. Where it took the last
    /// of its deployment's rpm or tpm this minute, requests here leave that
    /// deployment out until a view asked for after now comes, rather than each
    /// take a ticket for it (where its rpm is too small to lease, say) that the
    /// coordinator grants on another deployment, or refuses. Where nothing else
    /// can serve them, they still ask.
    pub fn granted(&mut self, now_ms: u64, grant: &Grant) {
        if grant.remaining_requests == Some(0) || grant.remaining_tokens == Some(0) {
            self.spent.retain(|(id, _)| *id != grant.deployment);
            self.spent.push((grant.deployment.clone(), now_ms));
        }
    }

    /// A request with a ticket to `deployment` ended at `now_ms`, however it
    /// ended: a view that says the deployment is at its `max_parallel_requests`
    /// and was asked for before then no longer holds for this isolate, nor does
    /// the coordinator's last refusal ([`LocalRouter::refused`]).
    pub fn ticket_ended(&mut self, deployment: &DeploymentId, now_ms: u64) {
        self.tickets = self.tickets.saturating_sub(1);
        self.refused = None;
        let freed = match self.freed.get_mut(deployment) {
            Some(freed) => freed,
            None => self.freed.entry(deployment.clone()).or_default(),
        };
        (freed.0, freed.1) = (now_ms, freed.1.saturating_add(1));
    }

    /// Requests picked here to `deployment` in flight (the simulation's census
    /// of slots, and tests).
    pub fn busy_on(&self, deployment: &DeploymentId) -> u32 {
        self.slots.get(deployment).map_or(0, |s| s.busy)
    }

    /// Slots of `deployment` held here.
    pub fn held_slots(&self, deployment: &DeploymentId) -> u32 {
        self.slots.get(deployment).map_or(0, |s| s.held)
    }
}

#[cfg(test)]
impl LocalRouter {
    /// The lease held for `deployment`: those of one minute, added up.
    pub(crate) fn held_for(&self, deployment: &DeploymentId) -> Option<Lease> {
        self.leases.get(deployment).map(|held| held.lease)
    }
}

#[cfg(test)]
mod tests;
