//! The world: the isolates, the group's coordinator, the network between them
//! and the upstream deployments, and what each event does to them. Each handler
//! mirrors the Worker (`src/local_route.rs`, `src/line.rs`, `src/proxy.rs`) or
//! the Durable Objects (`src/coordinator.rs`, and `src/relay.rs` when the
//! scenario has relays) step for step.

use std::collections::{BTreeMap, HashMap, VecDeque};

use super::census::{CENSUS_EVERY_MS, Census, Count};
use super::draw;
use super::events::{Agenda, Call, Event, Request, Sender, SyncWhy, ToCoordinator};
use super::measure::{How, MINUTE_MS, Meter};
use super::report::{DeploymentFigures, Report};
use super::scenario::Scenario;
use crate::config::{Config, DeploymentId, ModelGroup, Relaying, load};
use crate::coordinator::local::asking::Asking;
use crate::coordinator::local::line::{LOCAL_GRACE_MS, Line, TELL_EVERY_MS, Tell};
use crate::coordinator::local::slot_wait::{SLOT_WAIT_MS, SLOT_WAITERS};
use crate::coordinator::local::{Ask, HealthView, LocalPick, LocalRouter, view_life};
use crate::coordinator::relay::Relay;
use crate::coordinator::slots::SLOTS_TTL_MS;
use crate::coordinator::{
    Admission, Coordinator, QueueRequest, REPORT_WAIT_MS, Report as TicketReport, ReportedFailure, TicketReply,
    TicketRequest, Unavailable, cools_down, report_may_wait,
};
use crate::failure::FailureClass;

/// The simulated clock starts on a minute, so that every minute measured is whole.
const START_MS: u64 = 1_700_000_040_000;

struct Isolate {
    id: u64,
    router: LocalRouter,
    /// When its keeper wakes next, if it sleeps.
    keeper_at: Option<u64>,
    /// While a shared refresh is on its way: the requests waiting for its view
    /// (`refresh_shared` in src/local_route.rs).
    shared: Option<Vec<Request>>,
    /// Its requests that wait in the group's queue, told together (`src/line.rs`).
    line: Line,
    /// The requests of its line, by waiter.
    lined: HashMap<u64, Request>,
    /// When its line's next `Wait` is set to go, if it is.
    tell_at: Option<u64>,
    /// Reports of its tickets waiting to travel with its next message
    /// (`reports` in src/coordinator.rs).
    reports: Vec<TicketReport>,
    /// The tickets its requests that may not wait ask for at once, and the
    /// requests waiting for one's answer to pick again (`AskingTicket` in
    /// src/local_route.rs).
    asking: Asking,
    to_ask: VecDeque<Request>,
    /// Its requests waiting for a slot one of its requests frees, first come
    /// first served, with the deployment each waits for (`slot_wait` in
    /// src/local_route.rs).
    awaiting_slot: VecDeque<(Request, usize)>,
}

/// Messages as they travel to the coordinator: each with the reports that
/// waited to go with it.
type Messages = Vec<(ToCoordinator, Vec<TicketReport>)>;

/// A relay (`coordinator::relay`, `src/relay.rs`) at a location.
#[derive(Default)]
struct RelayAt {
    relay: Relay<(ToCoordinator, Vec<TicketReport>)>,
    /// What the coordinator owes its isolates outside a batch (a `Wait`'s
    /// answers), for the answer to its next batch.
    owed: Vec<Event>,
    /// When its next batch is set to go, if it is.
    flush_at: Option<u64>,
}

pub(super) struct World<'s> {
    scenario: &'s Scenario,
    config: Config,
    coordinator: Coordinator,
    isolates: Vec<Isolate>,
    next_isolate: u64,
    next_request: u64,
    /// The next arrival, unrounded (rounding each gap would bias the rate).
    next_arrival_ms: f64,
    /// Requests waiting in the coordinator's queue, by waiter id (ordered: a
    /// dying isolate's waiters leave in a fixed order).
    waiters: BTreeMap<u64, (Sender, Request)>,
    /// The `Wait`s held open at the coordinator, per isolate (ordered: answers
    /// go out in a fixed order).
    held: BTreeMap<u64, (Sender, u32)>,
    /// The requests of isolates' lines as their `Wait`s told them, and the
    /// minute each was decided in, once it was.
    told: HashMap<u64, (Request, Option<u64>)>,
    /// When the coordinator's alarm is set.
    wakeup_at: Option<u64>,
    /// Requests that came while the coordinator was busy, in order, each with
    /// the relay it came from (none: an isolate's own message) and when it
    /// came; and until when (µs) it is busy with those it took.
    pending: VecDeque<(Messages, Option<usize>, u64)>,
    busy_until_us: u64,
    /// The relays, by location (an isolate's is its slot's, modulo their number).
    relays: Vec<RelayAt>,
    /// While the coordinator takes a relay's batch: that relay, and the answers
    /// that go back with it.
    batch_from: Option<usize>,
    back: Vec<Event>,
    agenda: Agenda,
    rng: fastrand::Rng,
    meter: Meter,
    /// Where the slots of each deployment with `max_parallel_requests` are,
    /// and when they are next counted.
    census: Vec<Census>,
    census_at: u64,
    now: u64,
}

impl<'s> World<'s> {
    pub fn new(scenario: &'s Scenario) -> Result<Self, String> {
        let config = load(&scenario.yaml(), &|_| None).map_err(|e| e.to_string())?.config;
        let group = config.groups().first().ok_or("the scenario's config has no group")?;
        let deployments = group
            .deployments
            .iter()
            .map(|d| DeploymentFigures {
                id: d.id.as_str().to_owned(),
                rpm: d.rpm,
                tpm: d.tpm,
                max_parallel: d.max_parallel_requests,
                ..DeploymentFigures::default()
            })
            .collect();
        // A request with a priority reaches the queue after at most three trips (a
        // sync there and back, a `Wait` there, which may wait `TELL_EVERY_MS` in
        // its line); from then on every view says "coordinate", and those made
        // before are gone a trip back and a view's life later. Past that, no
        // isolate picks by itself while it waits. A view's life grows with the
        // isolates the coordinator knows: those alive, and those dead in the last
        // `SLOTS_TTL_MS`, not yet lapsed (twice as many as die then on average).
        let dying = scenario.isolates as f64 * (SLOTS_TTL_MS as f64 / 1_000.0) / scenario.isolate_life_s;
        let known = scenario.isolates + (2.0 * dying).ceil() as usize;
        let mut bound_ms = view_life(known) + 4 * scenario.delay_ms.1 + TELL_EVERY_MS;
        if scenario.relays > 0 {
            // Each trip goes by way of a relay, and the two towards the
            // coordinator wait for their relay's next batch.
            bound_ms += 4 * scenario.relay_delay_ms.1 + 2 * scenario.relay_every_ms;
        }
        let meter = Meter::new(START_MS, scenario.minutes, deployments, bound_ms);
        let census = group
            .deployments
            .iter()
            .enumerate()
            .filter_map(|(index, d)| Some(Census::new(index, d.id.clone(), d.max_parallel_requests?)))
            .collect();
        Ok(Self {
            scenario,
            config,
            coordinator: Coordinator::default(),
            isolates: Vec::new(),
            next_isolate: 1,
            next_request: 1,
            next_arrival_ms: START_MS as f64,
            waiters: BTreeMap::new(),
            held: BTreeMap::new(),
            told: HashMap::new(),
            wakeup_at: None,
            pending: VecDeque::new(),
            busy_until_us: 0,
            relays: (0..scenario.relays).map(|_| RelayAt::default()).collect(),
            batch_from: None,
            back: Vec::new(),
            agenda: Agenda::default(),
            rng: fastrand::Rng::with_seed(scenario.seed),
            meter,
            census,
            census_at: START_MS,
            now: START_MS,
        })
    }

    pub fn run(mut self) -> Result<Report, String> {
        for slot in 0..self.scenario.isolates {
            let isolate = self.born(slot);
            self.isolates.push(isolate);
        }
        self.agenda.push(START_MS, Event::Arrival);
        let end_ms = START_MS + self.scenario.minutes * MINUTE_MS;
        while let Some((at_ms, event)) = self.agenda.pop() {
            if at_ms >= end_ms {
                break;
            }
            self.count_slots(at_ms);
            self.meter.advance(at_ms);
            self.now = at_ms;
            self.handle(event);
        }
        self.count_slots(end_ms);
        self.meter.advance(end_ms);
        let mut report = self.meter.finish();
        for census in &self.census {
            if let Some(d) = report.deployments.get_mut(census.index) {
                d.slots = Some(census.finish());
            }
        }
        Ok(report)
    }

    /// Counts where the slots are at each census time before `until_ms`: nothing
    /// changes between events, so what is counted now holds then.
    fn count_slots(&mut self, until_ms: u64) {
        while self.census_at < until_ms {
            self.census_at += CENSUS_EVERY_MS;
            for census in &mut self.census {
                let (tickets, leased) = self.coordinator.slots_taken(&census.id);
                let mut count =
                    Count { calls: self.meter.in_flight(census.index), tickets, leased, ..Count::default() };
                for isolate in &self.isolates {
                    let counted = self.coordinator.slots_leased_to(isolate.id, &census.id);
                    let held = isolate.router.held_slots(&census.id);
                    count.leased_to_live += counted;
                    count.held += held;
                    count.busy += isolate.router.busy_on(&census.id);
                    count.overheld += u32::from(held > counted);
                }
                census.add(count);
            }
        }
    }

    fn group(&self) -> &ModelGroup {
        // `new` checked that there is one.
        &self.config.groups()[0]
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Arrival => self.arrive(),
            Event::AtCoordinator(message, reports) => self.at_door(vec![(message, reports)], None),
            Event::Batch { relay, batch } => self.at_door(batch, Some(relay)),
            Event::AtRelay { relay, message, reports } => {
                self.relays[relay].relay.push((message, reports));
                self.arm_relay(relay);
            }
            Event::RelayFlush { relay } => self.flush(relay),
            Event::RelayBack { relay, answers } => {
                for answer in answers {
                    let at = self.now + self.relay_delay();
                    self.agenda.push(at, answer);
                }
                self.arm_relay(relay);
            }
            Event::CoordinatorTurn => self.take_turns(),
            Event::View { to, asked_ms, view, shared } => self.view_arrives(to, asked_ms, view, shared),
            Event::Ticket { to, request, reply, minute, queued } => {
                self.ticket_arrives(to, request, reply, minute, queued)
            }
            Event::CallEnd { at, call } => self.call_ends(at, call),
            Event::Keeper { at } => self.keeper_wakes(at),
            Event::ReportsDue { at } => {
                if self.alive(at) && !self.isolates[at.slot].reports.is_empty() {
                    self.meter.report();
                    self.send_to_coordinator(at.slot, ToCoordinator::Report);
                }
            }
            Event::Tell { at } => {
                if self.alive(at) && self.isolates[at.slot].tell_at == Some(self.now) {
                    self.isolates[at.slot].tell_at = None;
                    self.tell(at.slot);
                }
            }
            Event::LineAnswer { to, replies } => self.line_answered(to, replies),
            Event::LineDeadline { at, waiter } => {
                if self.alive(at) && self.isolates[at.slot].line.holds(waiter) {
                    self.isolates[at.slot].line.leave(waiter);
                    if let Some(request) = self.isolates[at.slot].lined.remove(&waiter) {
                        self.meter.lost_in_line += 1;
                        self.meter.refused(self.now, &request, "lost by the coordinator", false);
                    }
                    self.tell(at.slot);
                }
            }
            Event::Wakeup => {
                if self.wakeup_at == Some(self.now) {
                    self.wakeup_at = None;
                    self.tick();
                    self.persist();
                }
            }
            Event::Death { slot } => self.die(slot),
            Event::SlotWaitOver { at, request } => {
                let alive = self.alive(at);
                let isolate = &mut self.isolates[at.slot];
                let waiting = isolate.awaiting_slot.iter().position(|(r, _)| r.id == request);
                if alive && let Some((mut request, _)) = waiting.and_then(|i| isolate.awaiting_slot.remove(i)) {
                    request.awaited_slot = true;
                    self.route(at.slot, request);
                }
            }
        }
    }

    // --- Isolates: births, deaths, and the network ------------------------------

    /// A new isolate for `slot`, whose death is scheduled now.
    fn born(&mut self, slot: usize) -> Isolate {
        let life_ms = draw::exponential(&mut self.rng, self.scenario.isolate_life_s * 1_000.0);
        self.agenda.push(self.now + life_ms as u64 + 1, Event::Death { slot });
        self.next_isolate += 1;
        Isolate {
            id: self.next_isolate,
            router: LocalRouter::default(),
            keeper_at: None,
            shared: None,
            line: Line::default(),
            lined: HashMap::new(),
            tell_at: None,
            reports: Vec::new(),
            asking: Asking::default(),
            to_ask: VecDeque::new(),
            awaiting_slot: VecDeque::new(),
        }
    }

    fn alive(&self, sender: Sender) -> bool {
        self.isolates.get(sender.slot).is_some_and(|i| i.id == sender.isolate)
    }

    fn sender(&self, slot: usize) -> Sender {
        Sender { slot, isolate: self.isolates[slot].id }
    }

    /// The isolate dies with everything in it: requests waiting for a view or a
    /// ticket are lost, its calls run on upstream unwatched, its leases and slots
    /// stay set aside at the coordinator until they lapse. Its requests waiting in
    /// the queue leave it (the Durable Object sees their fetch closed).
    fn die(&mut self, slot: usize) {
        let dead = self.sender(slot);
        self.meter.deaths += 1;
        let leaving: Vec<u64> = self.waiters.iter().filter(|(_, (from, _))| *from == dead).map(|(id, _)| *id).collect();
        for waiter in leaving {
            if let Some((_, request)) = self.waiters.remove(&waiter) {
                self.coordinator.leave(self.now, waiter);
                self.meter.vanished(&request);
            }
        }
        let waiting = self.isolates[slot].shared.take().unwrap_or_default();
        let awaiting = self.isolates[slot].awaiting_slot.drain(..).map(|(request, _)| request).collect::<Vec<_>>();
        for request in waiting.into_iter().chain(std::mem::take(&mut self.isolates[slot].to_ask)).chain(awaiting) {
            self.meter.vanished(&request);
        }
        // Its line's requests die with it. The Durable Object sees its `Wait`s
        // closed, if one was open, and takes the line out of the queue; else
        // what it was owed goes back with time.
        let mut lined: Vec<Request> = self.isolates[slot].lined.drain().map(|(_, request)| request).collect();
        lined.sort_by_key(|request| request.id);
        for request in lined {
            self.told.remove(&request.id);
            self.meter.vanished(&request);
        }
        if self.held.remove(&dead.isolate).is_some() {
            self.coordinator.line_gone(self.now, dead.isolate);
        }
        for census in &mut self.census {
            census.died(self.isolates[slot].router.busy_on(&census.id));
        }
        self.isolates[slot] = self.born(slot);
    }

    /// One-way delay of a message.
    fn delay(&mut self) -> u64 {
        let (low, high) = self.scenario.delay_ms;
        self.rng.u64(low..=high)
    }

    /// One-way delay between an isolate and its relay.
    fn relay_delay(&mut self) -> u64 {
        let (low, high) = self.scenario.relay_delay_ms;
        self.rng.u64(low..=high)
    }

    /// Sends `message` from the isolate in `slot`, with the reports waiting
    /// there: to the coordinator, or to the isolate's relay.
    fn send_to_coordinator(&mut self, slot: usize, message: ToCoordinator) {
        let reports = std::mem::take(&mut self.isolates[slot].reports);
        if let Some(relay) = self.relay_of(slot) {
            let at = self.now + self.relay_delay();
            self.agenda.push(at, Event::AtRelay { relay, message, reports });
            return;
        }
        self.meter.direct();
        let at = self.now + self.delay();
        self.agenda.push(at, Event::AtCoordinator(message, reports));
    }

    /// Sends the coordinator's answer to its isolate: at once, or with the
    /// answer to the batch of the isolate's relay being taken, or else with
    /// the answer to that relay's next batch.
    fn send_to_isolate(&mut self, event: Event) {
        match event.to().and_then(|to| self.relay_of(to.slot)) {
            None => {
                let at = self.now + self.delay();
                self.agenda.push(at, event);
            }
            Some(relay) if self.batch_from == Some(relay) => self.back.push(event),
            Some(relay) => {
                self.relays[relay].owed.push(event);
                self.arm_relay(relay);
            }
        }
    }

    // --- Relays (`relay`) -------------------------------------------------------

    /// The relay the isolate in `slot` sends through now, if any: its
    /// location's, always or while its last view says so (`Relaying`). An
    /// answer goes back the way its isolate sends now: at the moment an isolate
    /// switches, one owed from before may take the other way.
    fn relay_of(&self, slot: usize) -> Option<usize> {
        let relays = match self.config.router.relaying {
            _ if self.relays.is_empty() => false,
            Relaying::Off => false,
            Relaying::Always { .. } => true,
            Relaying::Auto { .. } => self.isolates.get(slot).is_some_and(|isolate| isolate.router.relays()),
        };
        relays.then(|| slot % self.relays.len())
    }

    /// Sets `relay`'s next batch to go when it is due, unless it is set already.
    fn arm_relay(&mut self, relay: usize) {
        if self.relays[relay].flush_at.is_some() {
            return;
        }
        let polling = self.polling(relay);
        if let Some(at) = self.relays[relay].relay.due(self.now, self.scenario.relay_every_ms, polling) {
            self.relays[relay].flush_at = Some(at);
            self.agenda.push(at, Event::RelayFlush { relay });
        }
    }

    /// Whether the coordinator may owe `relay`'s isolates answers: it owes
    /// some, holds a `Wait` of one of them, or one of their requests waits in
    /// its queue (the relay holds those isolates' fetches open).
    fn polling(&self, relay: usize) -> bool {
        let ours = |from: &Sender| self.relay_of(from.slot) == Some(relay);
        !self.relays[relay].owed.is_empty()
            || self.held.values().any(|(from, _)| ours(from))
            || self.waiters.values().any(|(from, _)| ours(from))
    }

    /// `relay`'s batch goes, if one is due: empty, it asks for what is owed.
    fn flush(&mut self, relay: usize) {
        self.relays[relay].flush_at = None;
        let polling = self.polling(relay);
        let due = self.relays[relay].relay.due(self.now, self.scenario.relay_every_ms, polling);
        if due.is_some_and(|at| at <= self.now) {
            let batch = self.relays[relay].relay.take(self.now);
            self.meter.batch();
            let at = self.now + self.delay();
            self.agenda.push(at, Event::Batch { relay, batch });
        }
        self.arm_relay(relay);
    }

    // --- Requests in an isolate (src/local_route.rs, src/proxy.rs) --------------

    fn arrive(&mut self) {
        let s = self.scenario;
        self.next_arrival_ms += draw::exponential(&mut self.rng, 1_000.0 / s.requests_per_s);
        self.agenda.push((self.next_arrival_ms as u64).max(self.now), Event::Arrival);
        let priority = (self.rng.f64() < s.priority_share).then(|| self.rng.u32(..s.priority_levels.max(1)));
        let request = Request {
            id: self.next_request,
            arrived_ms: self.now,
            priority,
            estimated: self.rng.u64(s.estimated_tokens.0..=s.estimated_tokens.1),
            refreshed: false,
            asked_ms: 0,
            awaited_slot: false,
        };
        self.next_request += 1;
        self.meter.arrived(&request);
        let slot = self.rng.usize(..self.isolates.len());
        self.route(slot, request);
    }

    /// The isolate picks for `request`: a call from its view, else one sync and
    /// a pick again, else a ticket.
    fn route(&mut self, slot: usize, mut request: Request) {
        let now = self.now;
        let group = &self.config.groups()[0];
        let may_wait = request.priority.is_some();
        let await_slot = !request.awaited_slot && self.isolates[slot].awaiting_slot.len() < SLOT_WAITERS;
        let ask =
            Ask { avoid: &[], estimated_tokens: request.estimated, stream: false, region: None, may_wait, await_slot };
        let router = &mut self.isolates[slot].router;
        let picked = match router.pick(now, group, &self.config.router, ask, &mut self.rng) {
            LocalPick::Call { deployment, .. } => {
                // A pick under a lease counts in the lease's minute at the coordinator.
                let minute = router
                    .held()
                    .iter()
                    .find(|(id, _)| *id == deployment.id)
                    .map_or(now / MINUTE_MS, |(_, lease)| lease.minute);
                group.deployments.iter().position(|d| d.id == deployment.id).map(|index| (index, minute))
            }
            LocalPick::Refresh if !request.refreshed => {
                request.refreshed = true;
                let estimated = request.estimated;
                self.refresh_shared(slot, Some(request), estimated);
                self.arm_keeper(slot);
                return;
            }
            LocalPick::Refresh | LocalPick::Coordinate => {
                self.acquire(slot, request);
                return;
            }
            LocalPick::Unreachable(_) => {
                self.meter.refused(now, &request, "coordinator unreachable", false);
                return;
            }
            LocalPick::Full(reason) => {
                self.meter.refused(now, &request, reason_name(&reason), true);
                self.arm_keeper(slot);
                return;
            }
            LocalPick::AwaitSlot(deployment) => {
                if let Some(index) = group.deployments.iter().position(|d| d.id == deployment.id) {
                    let at = self.sender(slot);
                    self.agenda.push(now + SLOT_WAIT_MS, Event::SlotWaitOver { at, request: request.id });
                    self.isolates[slot].awaiting_slot.push_back((request, index));
                }
                return;
            }
        };
        if let Some((index, minute)) = picked {
            let how = if request.awaited_slot {
                How::AwaitedSlot
            } else if request.refreshed {
                How::AfterSync
            } else {
                How::Local
            };
            if self.isolates[slot].router.refresh_ahead(now) {
                self.refresh_shared(slot, None, request.estimated);
            }
            self.call(slot, request, index, None, minute, how);
        }
        self.arm_keeper(slot);
    }

    /// A refresh the requests that find the view stale share: `request` waits
    /// for the one on its way, or one is sent, with the `estimated` tokens of
    /// the request that asks (as the Worker's).
    fn refresh_shared(&mut self, slot: usize, request: Option<Request>, estimated: u64) {
        match &mut self.isolates[slot].shared {
            Some(waiting) => waiting.extend(request),
            None => {
                self.isolates[slot].shared = Some(request.into_iter().collect());
                self.sync(slot, SyncWhy::Refresh, None, estimated, true);
            }
        }
    }

    /// Sends what the isolate served since its last sync (settling its leases,
    /// giving back its unused slots), for a view.
    fn sync(
        &mut self,
        slot: usize,
        why: SyncWhy,
        failure: Option<(DeploymentId, ReportedFailure)>,
        estimated: u64,
        shared: bool,
    ) {
        let from = self.sender(slot);
        let served = self.isolates[slot].router.take_served(self.now);
        self.meter.sync(why);
        self.send_to_coordinator(
            slot,
            ToCoordinator::Sync { from, asked_ms: self.now, served, failure, estimated, shared },
        );
    }

    /// Asks for a ticket; a request with a priority joins its isolate's line
    /// for the queue instead.
    fn acquire(&mut self, slot: usize, mut request: Request) {
        let from = self.sender(slot);
        let queue = request.priority.map(|priority| QueueRequest {
            priority,
            max_wait_ms: self.scenario.max_wait_ms,
            waiter: request.id,
        });
        let ticket = TicketRequest {
            avoid: vec![],
            estimated_tokens: request.estimated,
            stream: false,
            queue,
            region: None,
            isolate: from.isolate,
        };
        if ticket.queue.is_some() {
            let isolate = &mut self.isolates[slot];
            isolate.line.join(self.now, ticket);
            // Past its deadline and a grace, the isolate answers it itself: the
            // coordinator lost it (see `Line`).
            let deadline = request.arrived_ms + self.scenario.max_wait_ms + LOCAL_GRACE_MS;
            self.agenda.push(deadline, Event::LineDeadline { at: from, waiter: request.id });
            isolate.lined.insert(request.id, request);
            self.tell(slot);
            return;
        }
        let isolate = &mut self.isolates[slot];
        if !isolate.asking.has_room(self.now) {
            // As many ask already: it picks again once one is answered.
            isolate.to_ask.push_back(request);
            return;
        }
        request.asked_ms = isolate.asking.ask(self.now);
        self.meter.acquire();
        self.send_to_coordinator(slot, ToCoordinator::Acquire { from, request, ticket });
    }

    /// A ticket asked for at `asked_ms` was answered: the requests waiting to
    /// ask pick again, as long as there is room to ask.
    fn pick_again(&mut self, slot: usize, asked_ms: u64) {
        self.isolates[slot].asking.answered(asked_ms, Some(self.now));
        while self.isolates[slot].asking.has_room(self.now) {
            let Some(request) = self.isolates[slot].to_ask.pop_front() else {
                break;
            };
            self.route(slot, request);
        }
    }

    /// The isolate's line sends its `Wait` if one is due, or sets the time it is.
    fn tell(&mut self, slot: usize) {
        let from = self.sender(slot);
        let now = self.now;
        let isolate = &mut self.isolates[slot];
        match isolate.line.due(now) {
            Some(at) if at <= now => {
                let tell = isolate.line.take(now);
                for request in &tell.joined {
                    let told = request.queue.and_then(|q| isolate.lined.get(&q.waiter));
                    if let Some(told) = told {
                        self.told.insert(told.id, (told.clone(), None));
                    }
                }
                self.meter.wait();
                self.send_to_coordinator(slot, ToCoordinator::Wait { from, tell });
                // The next news may be due at once, or later.
                self.tell(slot);
            }
            Some(at) if isolate.tell_at.is_none_or(|t| at < t) => {
                isolate.tell_at = Some(at);
                self.agenda.push(at, Event::Tell { at: from });
            }
            _ => {}
        }
    }

    /// A `Wait`'s answers reach the isolate: each goes to its request, as a
    /// ticket's answer would, and the line tells what is new.
    fn line_answered(&mut self, to: Sender, replies: Vec<(u64, TicketReply, u64)>) {
        if !self.alive(to) {
            // The grants were sent: what they hold comes back when the isolate lapses.
            self.meter.tickets_lost +=
                replies.iter().filter(|(_, r, _)| matches!(r, TicketReply::Granted(_))).count() as u64;
            return;
        }
        let minutes: HashMap<u64, u64> = replies.iter().map(|(w, _, minute)| (*w, *minute)).collect();
        let replies = replies.into_iter().map(|(w, r, _)| (w, r)).collect();
        let kept = self.isolates[to.slot].line.answered(self.now, replies);
        for (waiter, reply) in kept {
            let Some(request) = self.isolates[to.slot].lined.remove(&waiter) else {
                continue;
            };
            let minute = minutes.get(&waiter).copied().unwrap_or(self.now / MINUTE_MS);
            self.ticket_arrives(to, request, reply, minute, true);
        }
        self.tell(to.slot);
    }

    /// A view arrives; the requests waiting for it (a shared refresh's) pick
    /// again. Those of an isolate that died were lost with it (see `die`).
    fn view_arrives(&mut self, to: Sender, asked_ms: u64, view: HealthView, shared: bool) {
        if !self.alive(to) {
            return;
        }
        let isolate = &mut self.isolates[to.slot];
        isolate.router.update(asked_ms, self.now, view);
        isolate.line.pace(isolate.router.lags());
        // News held back while the coordinator lagged may be due now.
        self.tell(to.slot);
        let waiting = if shared { self.isolates[to.slot].shared.take().unwrap_or_default() } else { Vec::new() };
        for request in waiting {
            self.route(to.slot, request);
        }
        self.arm_keeper(to.slot);
    }

    fn ticket_arrives(&mut self, to: Sender, request: Request, reply: TicketReply, minute: u64, queued: bool) {
        if !self.alive(to) {
            if matches!(reply, TicketReply::Granted(_)) {
                self.meter.tickets_lost += 1;
            }
            self.meter.vanished(&request);
            return;
        }
        let asked_ms = request.asked_ms;
        match reply {
            TicketReply::Granted(grant) => {
                let index = self.group().deployments.iter().position(|d| d.id == grant.deployment);
                if let Some(index) = index {
                    let how = if queued { How::Queued } else { How::Ticket };
                    // Its isolate syncs while the ticket runs, or the ticket lapses with it.
                    let router = &mut self.isolates[to.slot].router;
                    router.ticket_started();
                    router.granted(self.now, &grant);
                    self.call(to.slot, request, index, Some(grant.ticket), minute, how);
                    self.arm_keeper(to.slot);
                }
            }
            TicketReply::Unavailable(reason) => {
                if request.priority.is_none() {
                    self.isolates[to.slot].router.refused(self.now, request.estimated, None, &reason);
                }
                let short = matches!(
                    reason,
                    Unavailable::RateLimited { .. } | Unavailable::Busy | Unavailable::QueueTimeout { .. }
                );
                self.meter.refused(self.now, &request, reason_name(&reason), short);
            }
        }
        if !queued {
            self.pick_again(to.slot, asked_ms);
        }
    }

    /// The call to deployment `index` leaves: its latency, outcome and usage drawn now.
    fn call(&mut self, slot: usize, request: Request, index: usize, ticket: Option<u64>, minute: u64, how: How) {
        let s = self.scenario;
        self.meter.admitted(self.now, &request, how);
        let latency_ms =
            draw::log_normal(&mut self.rng, s.latency.median_ms, s.latency.sigma, s.latency.min_ms, s.latency.max_ms);
        let failure = (self.rng.f64() < s.failure_rate)
            .then(|| if self.rng.bool() { FailureClass::RateLimit } else { FailureClass::Internal });
        // A failed call's usage is unknown: its estimate stays counted.
        let share = s.used_share.0 + self.rng.f64() * (s.used_share.1 - s.used_share.0);
        let used =
            if failure.is_some() { request.estimated } else { (request.estimated as f64 * share).round() as u64 };
        self.meter.call_started(index, minute, self.now, request.estimated, used);
        if let Some(census) = self.census.iter_mut().find(|c| c.index == index) {
            census.call_started(ticket.is_some());
        }
        let call = Call { deployment: index, ticket, estimated: request.estimated, used, latency_ms, failure };
        let at = self.sender(slot);
        self.agenda.push(self.now + latency_ms, Event::CallEnd { at, call });
    }

    /// A call ends: a ticket is reported; a call picked in the isolate is timed,
    /// its usage corrected, its slot freed (given back at once near the limit),
    /// and a failure told at once.
    fn call_ends(&mut self, at: Sender, call: Call) {
        self.meter.call_ended(call.deployment, call.failure.is_some());
        let alive = self.alive(at);
        if let Some(census) = self.census.iter_mut().find(|c| c.index == call.deployment) {
            census.call_ended(call.ticket.is_some(), alive);
        }
        if !alive {
            self.meter.orphaned += 1;
            return;
        }
        let failure = call.failure.map(|class| ReportedFailure { class, retry_after_ms: None });
        if let Some(ticket) = call.ticket {
            let tokens_used = failure.is_none().then_some(call.used);
            let report = TicketReport { ticket, latency_ms: call.latency_ms, ttft_ms: None, tokens_used, failure };
            let deployment = self.config.groups()[0].deployments.get(call.deployment);
            let may_wait =
                report.failure.is_none() && deployment.is_some_and(|d| report_may_wait(d, &self.config.router));
            let isolate = &mut self.isolates[at.slot];
            if let Some(deployment) = deployment {
                isolate.router.ticket_ended(&deployment.id, self.now);
            }
            isolate.reports.push(report);
            if !may_wait {
                self.meter.report();
                self.send_to_coordinator(at.slot, ToCoordinator::Report);
            } else if isolate.reports.len() == 1 {
                // The first to wait also sends whatever is left waiting when its time ends.
                self.agenda.push(self.now + REPORT_WAIT_MS, Event::ReportsDue { at });
            }
            return;
        }
        let group = &self.config.groups()[0];
        let Some(deployment) = group.deployments.get(call.deployment) else {
            return;
        };
        // A failure that may start a cooldown is told at once; any other waits for
        // the isolate's next sync, as in the Worker.
        let cools_down = cools_down(group, deployment, &self.config.router);
        let line_waits = self.isolates[at.slot].line.waits();
        let router = &mut self.isolates[at.slot].router;
        if failure.is_none() {
            router.timed(&deployment.id, call.latency_ms, None);
            if LocalRouter::wants_usage(deployment, &self.config.router) {
                router.answered(&deployment.id, call.estimated, call.used);
            }
        }
        let mut give_back = LocalRouter::counts_in_flight(deployment, &self.config.router)
            && router.release(&deployment.id, line_waits);
        let id = deployment.id.clone();
        // Near the limit with requests waiting, the slot goes to the best request
        // of this isolate's line as good as the best in the queue, if any.
        if give_back && let Some(best) = router.hand_over(self.now, deployment) {
            let isolate = &mut self.isolates[at.slot];
            let policy = &self.config.router;
            let handed = isolate.line.hand(self.now, best, |r| LocalRouter::suits(policy, deployment, r));
            if let Some(request) = handed.and_then(|(waiter, _)| isolate.lined.remove(&waiter)) {
                isolate.router.refill(&id, request.estimated);
                if let Some((_, minute @ None)) = self.told.get_mut(&request.id) {
                    *minute = Some(self.now / MINUTE_MS);
                }
                self.meter.decided(self.now, &request, Some(How::Handed));
                self.call(at.slot, request, call.deployment, None, self.now / MINUTE_MS, How::Handed);
                self.tell(at.slot);
                give_back = false;
            }
        }
        // Else, nobody waiting in the queue, to a request waiting here for one.
        if !give_back
            && let Some(i) = self.isolates[at.slot].awaiting_slot.iter().position(|(_, d)| *d == call.deployment)
        {
            let isolate = &mut self.isolates[at.slot];
            let estimated = isolate.awaiting_slot[i].0.estimated;
            let freed = &self.config.groups()[0].deployments[call.deployment];
            if isolate.router.hand_to_waiter(self.now, freed, estimated)
                && let Some((request, _)) = isolate.awaiting_slot.remove(i)
            {
                self.call(at.slot, request, call.deployment, None, self.now / MINUTE_MS, How::AwaitedSlot);
            }
        }
        match failure {
            Some(failure) if failure.may_cool(cools_down) => {
                self.sync(at.slot, SyncWhy::Failure, Some((id, failure)), 0, false);
            }
            Some(failure) => self.isolates[at.slot].router.failed(&id, failure.class),
            None => {}
        }
        if give_back {
            self.sync(at.slot, SyncWhy::Release, None, 0, false);
        }
        self.arm_keeper(at.slot);
    }

    /// Sets the isolate's keeper to wake when its slots are due back (or its
    /// tickets need a sync to stay), unless it wakes sooner already.
    fn arm_keeper(&mut self, slot: usize) {
        let at = self.sender(slot);
        let isolate = &mut self.isolates[slot];
        let Some(due) = isolate.router.sync_due() else {
            return;
        };
        let due = due.max(self.now);
        if isolate.keeper_at.is_none_or(|k| due < k) {
            isolate.keeper_at = Some(due);
            self.agenda.push(due, Event::Keeper { at });
        }
    }

    fn keeper_wakes(&mut self, at: Sender) {
        if !self.alive(at) || self.isolates[at.slot].keeper_at != Some(self.now) {
            return;
        }
        self.isolates[at.slot].keeper_at = None;
        if self.isolates[at.slot].router.sync_due().is_some_and(|due| due <= self.now) {
            self.sync(at.slot, SyncWhy::Keeper, None, 0, false);
        }
        self.arm_keeper(at.slot);
    }

    // --- The coordinator (src/coordinator.rs) -----------------------------------

    /// A request reaches the Durable Object: an isolate's message, or a
    /// relay's batch. It waits for its turn if the object is busy.
    fn at_door(&mut self, messages: Messages, relay: Option<usize>) {
        self.pending.push_back((messages, relay, self.now));
        // Otherwise a turn is due already.
        if self.pending.len() == 1 {
            self.take_turns();
        }
    }

    /// The Durable Object takes the requests that came, one at a time,
    /// `service_us` each (and `inner_us` for each further message of a batch),
    /// as many as this millisecond leaves it time for; the others at its next turn.
    fn take_turns(&mut self) {
        let now_us = self.now * 1_000;
        while self.busy_until_us < now_us + 1_000 {
            let Some((messages, relay, came_ms)) = self.pending.pop_front() else {
                return;
            };
            let further = messages.len().saturating_sub(1) as u64;
            let cost = self.scenario.service_us + further * self.scenario.inner_us;
            self.busy_until_us = self.busy_until_us.max(now_us) + cost;
            self.meter.served(self.now - came_ms, cost);
            self.coordinator.took_message(self.now, messages.len() as u64, &self.config.router);
            match relay {
                None => {
                    for (message, reports) in messages {
                        self.at_coordinator(message, reports);
                    }
                }
                Some(relay) => self.take_batch(relay, messages),
            }
        }
        if !self.pending.is_empty() {
            self.agenda.push(self.busy_until_us / 1_000, Event::CoordinatorTurn);
        }
    }

    /// The Durable Object takes a relay's batch, message by message, and
    /// answers it with what it owes the relay's isolates by then.
    fn take_batch(&mut self, relay: usize, batch: Messages) {
        self.batch_from = Some(relay);
        self.back = std::mem::take(&mut self.relays[relay].owed);
        for (message, reports) in batch {
            self.at_coordinator(message, reports);
        }
        self.batch_from = None;
        let answers = std::mem::take(&mut self.back);
        let at = self.now + self.delay();
        self.agenda.push(at, Event::RelayBack { relay, answers });
    }

    /// The Durable Object takes a message, then answers the waiting requests it
    /// made admissible and sets its alarm.
    fn at_coordinator(&mut self, message: ToCoordinator, reports: Vec<TicketReport>) {
        let now = self.now;
        let group = &self.config.groups()[0];
        let policy = &self.config.router;
        for report in &reports {
            self.coordinator.report(now, group, policy, report);
        }
        match message {
            ToCoordinator::Sync { from, asked_ms, served, failure, estimated, shared } => {
                let view = self.coordinator.sync_local(
                    now,
                    group,
                    policy,
                    from.isolate,
                    &served,
                    failure.as_ref(),
                    estimated,
                    &mut self.rng,
                );
                self.send_to_isolate(Event::View { to: from, asked_ms, view, shared });
            }
            ToCoordinator::Acquire { from, request, ticket } => {
                match self.coordinator.acquire(now, group, policy, &ticket, &mut self.rng) {
                    Admission::Now(reply) => self.answer(from, request, reply, false),
                    // Its isolate died on the way: the Durable Object finds the fetch closed.
                    Admission::Queued if !self.alive(from) => {
                        self.coordinator.leave(now, request.id);
                        self.meter.vanished(&request);
                    }
                    Admission::Queued => {
                        self.waiters.insert(request.id, (from, request));
                    }
                }
            }
            ToCoordinator::Wait { from, tell } => {
                let Tell { joined, left, handed, handed_untold } = tell;
                self.coordinator.wait(
                    now,
                    group,
                    policy,
                    from.isolate,
                    &joined,
                    &left,
                    &handed,
                    &handed_untold,
                    &mut self.rng,
                );
                for waiter in left.into_iter().chain(handed) {
                    self.told.remove(&waiter);
                }
                // Its fetch is held open, unless its isolate died on the way.
                if self.alive(from) {
                    self.held.entry(from.isolate).or_insert((from, 0)).1 += 1;
                    self.tick();
                    self.close_if_done(from.isolate);
                    self.persist();
                    return;
                }
                self.coordinator.line_gone(now, from.isolate);
            }
            ToCoordinator::Report => {}
        }
        self.tick();
        self.persist();
    }

    /// The Durable Object writes its snapshot when one is due.
    fn persist(&mut self) {
        if self.coordinator.snapshot_due(self.now, &self.config.groups()[0]).is_some() {
            self.meter.write();
        }
    }

    fn answer(&mut self, to: Sender, request: Request, reply: TicketReply, queued: bool) {
        // A waiting request's fetch is held open: a grant that cannot be delivered
        // is given back at once. Any other answer to a dead isolate is lost on its way.
        if queued && !self.alive(to) {
            self.coordinator.leave(self.now, request.id);
            self.meter.vanished(&request);
            return;
        }
        // Decided now; the answer reaches its isolate later.
        let how = if queued { How::Queued } else { How::Ticket };
        self.meter.decided(self.now, &request, matches!(reply, TicketReply::Granted(_)).then_some(how));
        let minute = self.now / MINUTE_MS;
        self.send_to_isolate(Event::Ticket { to, request, reply, minute, queued });
    }

    fn tick(&mut self) {
        let group = &self.config.groups()[0];
        let answers = self.coordinator.tick(self.now, group, &self.config.router, &mut self.rng);
        for (waiter, reply) in answers {
            if let Some((from, request)) = self.waiters.remove(&waiter) {
                self.answer(from, request, reply, true);
            }
        }
        self.answer_lines();
        if let Some(at) = self.coordinator.next_wakeup(self.now)
            && self.wakeup_at.is_none_or(|w| at < w)
        {
            self.wakeup_at = Some(at);
            self.agenda.push(at, Event::Wakeup);
        }
    }

    /// Answers owed to isolates' lines: decided now (measured so), sent to
    /// each isolate whose `Wait` is held open. (A `Wait` is held here until
    /// answered, or its line is done: the Durable Object's [`WAIT_HOLD_MS`]
    /// keeps fetches from lasting for ever, and an isolate whose only business
    /// is its line heard of; here every isolate syncs far more often.)
    ///
    /// [`WAIT_HOLD_MS`]: crate::coordinator::WAIT_HOLD_MS
    fn answer_lines(&mut self) {
        let now = self.now;
        let owed_to = self.coordinator.owed_to();
        // Decided in this tick, in the order the queue decided them (refusals at
        // their deadline first, then grants by priority and arrival), whatever
        // isolate each is owed to.
        let mut decided = Vec::new();
        for &isolate in &owed_to {
            for (waiter, reply) in self.coordinator.owed_of(isolate) {
                if let Some((request, minute @ None)) = self.told.get_mut(waiter) {
                    *minute = Some(now / MINUTE_MS);
                    let admitted = matches!(reply, TicketReply::Granted(_)).then_some(How::Queued);
                    decided.push((admitted.is_some(), request.priority, request.arrived_ms, request.clone(), admitted));
                }
            }
        }
        decided.sort_by_key(|(admitted, priority, arrived, request, _)| (*admitted, *priority, *arrived, request.id));
        for (_, _, _, request, admitted) in decided {
            self.meter.decided(now, &request, admitted);
        }
        for isolate in owed_to {
            let Some((to, held)) = self.held.get_mut(&isolate) else {
                continue;
            };
            let to = *to;
            *held -= 1;
            if *held == 0 {
                self.held.remove(&isolate);
            }
            let replies = self
                .coordinator
                .owed(isolate)
                .into_iter()
                .map(|(waiter, reply)| {
                    let minute = self.told.remove(&waiter).and_then(|(_, m)| m).unwrap_or(now / MINUTE_MS);
                    (waiter, reply, minute)
                })
                .collect();
            self.send_to_isolate(Event::LineAnswer { to, replies });
            self.close_if_done(isolate);
        }
    }

    /// The `Wait`s of `isolate` held open are answered, empty, once nothing of
    /// its line is left at the coordinator.
    fn close_if_done(&mut self, isolate: u64) {
        if !self.coordinator.line_done(isolate) {
            return;
        }
        if let Some((to, held)) = self.held.remove(&isolate) {
            for _ in 0..held {
                self.send_to_isolate(Event::LineAnswer { to, replies: Vec::new() });
            }
        }
    }
}

fn reason_name(reason: &Unavailable) -> &'static str {
    match reason {
        Unavailable::OnlyAvoided => "only avoided",
        Unavailable::AllCoolingDown { .. } => "all cooling down",
        Unavailable::RateLimited { .. } => "rate limited",
        Unavailable::ContextWindowExceeded => "context window",
        Unavailable::NoneInRegion => "none in region",
        Unavailable::Busy => "busy",
        Unavailable::QueueFull { .. } => "queue full",
        Unavailable::QueueTimeout { .. } => "queue timeout",
    }
}
