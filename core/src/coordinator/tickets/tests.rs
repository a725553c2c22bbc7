//! Tickets end with their isolate: the index itself, then stories told against
//! the coordinator (and an isolate's router) with a fake clock.

use super::*;
use crate::config::{Config, load};
use crate::coordinator::local::LocalRouter;
use crate::coordinator::slots::SLOTS_TTL_MS;
use crate::coordinator::{Admission, Coordinator, QueueRequest, Report, TicketReply, TicketRequest, Unavailable};

fn ticket(granted_ms: u64, isolate: u64) -> Ticket {
    let deployment: DeploymentId = serde_json::from_str("\"a\"").unwrap();
    Ticket { deployment, granted_ms, minute: 0, estimated_tokens: 0, probe: false, waiter: None, isolate }
}

#[test]
fn tickets_end_by_isolate_or_by_age_and_leave_no_trace() {
    let mut tickets = Tickets::default();
    tickets.insert(1, ticket(0, 7));
    tickets.insert(2, ticket(10, NO_ISOLATE));
    tickets.insert(3, ticket(20, 7));
    tickets.insert(4, ticket(30, 8));
    let of_7: Vec<_> = tickets.take_isolate(7).iter().map(|t| t.granted_ms).collect();
    assert_eq!(of_7, [0, 20]);
    assert!(tickets.take_isolate(7).is_empty());
    assert_eq!(tickets.len(), 2);
    assert!(tickets.take_expired(10 + TICKET_TTL_MS - 1).is_empty());
    let old: Vec<_> = tickets.take_expired(30 + TICKET_TTL_MS).iter().map(|t| t.granted_ms).collect();
    assert_eq!(old, [10, 30]);
    assert_eq!(tickets.len(), 0);
    assert!(tickets.by_granted.is_empty() && tickets.by_isolate.is_empty());
}

#[test]
fn a_ticket_removed_is_in_no_index() {
    let mut tickets = Tickets::default();
    tickets.insert(1, ticket(0, 7));
    assert!(tickets.get_mut(1).is_some());
    assert_eq!(tickets.remove(1).map(|t| t.isolate), Some(7));
    assert!(tickets.remove(1).is_none());
    assert!(tickets.take_isolate(7).is_empty());
    assert!(tickets.take_expired(TICKET_TTL_MS).is_empty());
    assert!(tickets.by_granted.is_empty() && tickets.by_isolate.is_empty());
}

/// One deployment, one request in flight at most: every ticket is the only one.
const ONE: &str = "model_list:
  - {model_name: g, litellm_params: {model: x, mock_response: a, max_parallel_requests: 1}, model_info: {id: a}}
";

struct World {
    config: Config,
    coordinator: Coordinator,
    rng: fastrand::Rng,
}

impl World {
    fn new() -> Self {
        let config = load(ONE, &|_| None).unwrap_or_else(|e| panic!("{e}")).config;
        Self { config, coordinator: Coordinator::default(), rng: fastrand::Rng::with_seed(5) }
    }

    /// A request of `isolate` asks for a ticket at `now` (with a priority, it
    /// may wait as `waiter`).
    /// The group's one deployment.
    fn a(&self) -> crate::config::DeploymentId {
        self.config.group("g").unwrap().deployments[0].id.clone()
    }

    fn acquire(&mut self, now: u64, isolate: u64, waiter: Option<u64>) -> Admission {
        let queue = waiter.map(|waiter| QueueRequest { priority: 0, max_wait_ms: 60_000, waiter });
        let request =
            TicketRequest { avoid: vec![], estimated_tokens: 10, stream: false, queue, region: None, isolate };
        let group = self.config.group("g").unwrap();
        self.coordinator.acquire(now, group, &self.config.router, &request, &mut self.rng)
    }

    /// The ticket granted at once at `now`, or a panic naming what came instead.
    fn granted(&mut self, now: u64, isolate: u64) -> u64 {
        match self.acquire(now, isolate, None) {
            Admission::Now(TicketReply::Granted(grant)) => grant.ticket,
            other => panic!("expected a grant at {now}, got {other:?}"),
        }
    }

    fn busy(&mut self, now: u64, isolate: u64) -> bool {
        matches!(self.acquire(now, isolate, None), Admission::Now(TicketReply::Unavailable(Unavailable::Busy)))
    }

    fn tick(&mut self, now: u64) -> Vec<(u64, TicketReply)> {
        let group = self.config.group("g").unwrap();
        self.coordinator.tick(now, group, &self.config.router, &mut self.rng)
    }

    fn report(&mut self, now: u64, ticket: u64) {
        let report = Report { ticket, latency_ms: 10, ttft_ms: None, tokens_used: None, failure: None };
        let group = self.config.group("g").unwrap();
        self.coordinator.report(now, group, &self.config.router, &report);
    }

    /// Requests in flight on `a` by ticket, tickets held, and admitted waiters unreported.
    fn held(&mut self, now: u64) -> (u32, usize, usize) {
        let group = self.config.group("g").unwrap().clone();
        let holdings = self.coordinator.holdings(now, &group);
        (holdings.deployments[0].in_flight, holdings.tickets, holdings.admitted_unreported)
    }

    /// `router`, the isolate `isolate`, syncs at `now` as its keeper does.
    fn sync(&mut self, now: u64, isolate: u64, router: &mut LocalRouter) {
        let served = router.take_served(now);
        let group = self.config.group("g").unwrap();
        let view =
            self.coordinator.sync_local(now, group, &self.config.router, isolate, &served, None, 10, &mut self.rng);
        router.update(now, now, view);
    }
}

#[test]
fn a_ticket_ends_with_its_silent_isolate_and_the_queue_gets_its_place() {
    let mut w = World::new();
    // Isolate 7 takes the only ticket, and dies with its request running.
    let lost = w.granted(0, 7);
    // Isolate 8's request waits for it; the coordinator wakes when 7 lapses.
    assert_eq!(w.acquire(1_000, 8, Some(80)), Admission::Queued);
    assert_eq!(w.coordinator.next_wakeup(1_000), Some(SLOTS_TTL_MS));
    assert!(w.tick(SLOTS_TTL_MS - 1).is_empty(), "7 is not silent for long enough yet");
    assert_eq!(w.held(SLOTS_TTL_MS - 1), (1, 1, 0));
    let admitted = w.tick(SLOTS_TTL_MS);
    let [(80, TicketReply::Granted(grant))] = admitted.as_slice() else {
        panic!("expected waiter 80 admitted, got {admitted:?}");
    };
    assert_eq!(w.held(SLOTS_TTL_MS), (1, 1, 1), "only the waiter's ticket");
    // The lost ticket's report, should it come after all, counts nothing.
    w.report(SLOTS_TTL_MS + 5, lost);
    assert_eq!(w.held(SLOTS_TTL_MS + 5), (1, 1, 1));
    // Admitted, 8 was seen then: its ticket lasts until 8 has been silent as long,
    // and its waiter is forgotten with it.
    assert!(w.busy(2 * SLOTS_TTL_MS - 1, 9));
    assert_eq!(w.held(2 * SLOTS_TTL_MS), (0, 0, 0));
    assert_ne!(w.granted(2 * SLOTS_TTL_MS, 9), grant.ticket);
}

#[test]
fn a_ticket_whose_isolate_keeps_syncing_outlives_the_lapse() {
    let mut w = World::new();
    let mut router = LocalRouter::default();
    let ticket = w.granted(0, 7);
    router.ticket_started();
    // Its request runs for a minute and a half: the keeper syncs when due.
    let mut now = 0;
    while now < 90_000 {
        now += 500;
        if router.sync_due().is_some_and(|due| due <= now) {
            w.sync(now, 7, &mut router);
        }
        assert!(w.busy(now, 9), "at {now}: the ticket still counts");
    }
    w.report(now, ticket);
    router.ticket_ended(&w.a(), now);
    assert_eq!(router.sync_due(), None, "nothing held: no keeper");
    assert_eq!(w.held(now), (0, 0, 0));
    w.granted(now, 9);
}

#[test]
fn a_ticket_of_no_isolate_keeps_the_ticket_ttl() {
    let mut w = World::new();
    w.granted(0, NO_ISOLATE);
    assert_eq!(w.coordinator.next_wakeup(0), None, "nobody waits");
    assert!(w.busy(SLOTS_TTL_MS * 3, NO_ISOLATE));
    assert!(w.busy(TICKET_TTL_MS - 1, NO_ISOLATE));
    assert_eq!(w.held(TICKET_TTL_MS), (0, 0, 0));
    w.granted(TICKET_TTL_MS, NO_ISOLATE);
}

#[test]
fn a_ticket_of_a_syncing_isolate_still_expires_with_age() {
    // Its report was lost, but the isolate lives on: the ticket ends at the TTL.
    let mut w = World::new();
    w.granted(0, 7);
    let mut router = LocalRouter::default();
    for at in (SLOTS_TTL_MS / 3..TICKET_TTL_MS).step_by((SLOTS_TTL_MS / 3) as usize) {
        w.sync(at, 7, &mut router);
    }
    assert!(w.busy(TICKET_TTL_MS - 1, 9));
    assert_eq!(w.held(TICKET_TTL_MS), (0, 0, 0));
}

#[test]
fn an_isolate_syncs_for_its_tickets_alone() {
    let mut router = LocalRouter::default();
    assert_eq!(router.sync_due(), None);
    router.ticket_started();
    router.ticket_started();
    assert_eq!(router.sync_due(), Some(SLOTS_TTL_MS / 3), "never synced: due a third of the TTL after 0");
    router.take_served(5_000);
    assert_eq!(router.sync_due(), Some(5_000 + SLOTS_TTL_MS / 3));
    let a = World::new().a();
    router.ticket_ended(&a, 6_000);
    assert_eq!(router.sync_due(), Some(5_000 + SLOTS_TTL_MS / 3), "one still runs");
    router.ticket_ended(&a, 6_000);
    assert_eq!(router.sync_due(), None);
    router.ticket_ended(&a, 6_000);
    assert_eq!(router.sync_due(), None, "an ending too many counts nothing");
}
