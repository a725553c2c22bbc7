//! What is counted while a simulation runs, turned into a [`Report`] at its end.

use std::collections::{BTreeMap, BTreeSet};

use super::events::{Request, SyncWhy};
use super::report::{Busy, Delay, DeploymentFigures, Inversions, Messages, MinuteFigures, Report, Routed};

pub(super) const MINUTE_MS: u64 = 60_000;
/// Arrival-to-call delays are kept per millisecond up to this; longer ones in the last.
const DELAY_BUCKETS: usize = 60_001;

/// How a request reached its call.
#[derive(Debug, Clone, Copy)]
pub(super) enum How {
    Local,
    AfterSync,
    Ticket,
    Queued,
    Handed,
    AwaitedSlot,
}

const HOWS: [(How, &str); 6] = [
    (How::Local, "in the isolate, no wait"),
    (How::AfterSync, "in the isolate after a sync"),
    (How::Ticket, "by ticket"),
    (How::Queued, "from the queue"),
    (How::Handed, "handed a slot in its line"),
    (How::AwaitedSlot, "after waiting for a slot in the isolate (in it or not)"),
];

/// One deployment's counts in one minute.
#[derive(Debug, Clone, Copy, Default)]
struct Minute {
    requests: u64,
    clock_requests: u64,
    tokens: u64,
    /// What answers used beyond their estimates, and below them.
    over: u64,
    under: u64,
    /// Requests in flight integrated over the minute's milliseconds.
    in_flight_ms: u128,
}

#[derive(Debug, Default)]
struct DeploymentMeter {
    id: String,
    rpm: Option<u64>,
    tpm: Option<u64>,
    max_parallel: Option<u32>,
    in_flight: u64,
    max_in_flight: u64,
    minutes: BTreeMap<u64, Minute>,
}

pub(super) struct Meter {
    start_minute: u64,
    minutes: u64,
    last_ms: u64,
    deployments: Vec<DeploymentMeter>,
    arrived: u64,
    routed: Routed,
    refused: BTreeMap<&'static str, u64>,
    /// Minutes where a request was refused for lack of capacity.
    short: BTreeSet<u64>,
    vanished: u64,
    failed: u64,
    messages: Messages,
    /// The coordinator's time spent on messages (µs), and how long each
    /// waited for its turn (per millisecond, as `delays`).
    busy_us: u64,
    turns: Vec<u64>,
    writes: u64,
    /// Requests with a priority not yet admitted nor refused: per priority,
    /// (arrival, id), the oldest first.
    waiting: BTreeMap<u32, BTreeSet<(u64, u64)>>,
    inversions: Inversions,
    delays: Vec<Vec<u64>>,
    pub deaths: u64,
    pub orphaned: u64,
    pub tickets_lost: u64,
    pub lost_in_line: u64,
    pub events: u64,
}

impl Meter {
    /// `deployments`: each one's id and limits (their minutes are filled at the end).
    pub fn new(start_ms: u64, minutes: u64, deployments: Vec<DeploymentFigures>, inversion_bound_ms: u64) -> Self {
        Self {
            start_minute: start_ms / MINUTE_MS,
            minutes,
            last_ms: start_ms,
            deployments: deployments
                .into_iter()
                .map(|d| DeploymentMeter {
                    id: d.id,
                    rpm: d.rpm,
                    tpm: d.tpm,
                    max_parallel: d.max_parallel,
                    ..Default::default()
                })
                .collect(),
            arrived: 0,
            routed: Routed::default(),
            refused: BTreeMap::new(),
            short: BTreeSet::new(),
            vanished: 0,
            failed: 0,
            messages: Messages::default(),
            busy_us: 0,
            turns: vec![0; DELAY_BUCKETS],
            writes: 0,
            waiting: BTreeMap::new(),
            inversions: Inversions { bound_ms: inversion_bound_ms, ..Inversions::default() },
            delays: HOWS.iter().map(|_| vec![0; DELAY_BUCKETS]).collect(),
            deaths: 0,
            orphaned: 0,
            tickets_lost: 0,
            lost_in_line: 0,
            events: 0,
        }
    }

    /// Time moves to `now_ms`: the requests in flight count for the time passed,
    /// split at minute boundaries.
    pub fn advance(&mut self, now_ms: u64) {
        self.events += 1;
        while self.last_ms < now_ms {
            let minute = self.last_ms / MINUTE_MS;
            let upto = now_ms.min((minute + 1) * MINUTE_MS);
            let span = u128::from(upto - self.last_ms);
            for d in &mut self.deployments {
                if d.in_flight > 0 {
                    d.minutes.entry(minute).or_default().in_flight_ms += u128::from(d.in_flight) * span;
                }
            }
            self.last_ms = upto;
        }
    }

    /// Calls on deployment `index`'s upstream now.
    pub fn in_flight(&self, index: usize) -> u64 {
        self.deployments.get(index).map_or(0, |d| d.in_flight)
    }

    pub fn arrived(&mut self, request: &Request) {
        self.arrived += 1;
        if let Some(priority) = request.priority {
            self.waiting.entry(priority).or_default().insert((request.arrived_ms, request.id));
        }
    }

    /// `request`'s fate is decided at `now_ms`: admitted to a call (`how`) or
    /// not, in its isolate or by the coordinator, whose answer then travels. It
    /// no longer waits; admitted, it is an inversion if a request of a better
    /// priority that arrived before it still waits. Later calls for the same
    /// request (its answer arriving) change nothing.
    pub fn decided(&mut self, now_ms: u64, request: &Request, admitted: Option<How>) {
        let Some(waiting) = request.priority.and_then(|priority| self.waiting.get_mut(&priority)) else {
            return self.passes(now_ms, request, admitted);
        };
        if waiting.remove(&(request.arrived_ms, request.id)) {
            self.passes(now_ms, request, admitted);
        }
    }

    fn passes(&mut self, now_ms: u64, request: &Request, admitted: Option<How>) {
        let Some(how) = admitted else {
            return;
        };
        let own = request.priority.unwrap_or(u32::MAX);
        let oldest_better = self
            .waiting
            .range(..own)
            .filter_map(|(_, waiting)| waiting.first())
            .filter(|(arrived, _)| *arrived < request.arrived_ms)
            .map(|(arrived, _)| *arrived)
            .min();
        if let Some(arrived) = oldest_better {
            let waited = now_ms.saturating_sub(arrived);
            self.inversions.any += 1;
            if waited > self.inversions.bound_ms {
                self.inversions.beyond_bound += 1;
                self.inversions.beyond_bound_by_ticket += u64::from(matches!(how, How::Ticket));
                self.inversions.longest_wait_ms = self.inversions.longest_wait_ms.max(waited);
            }
        }
    }

    /// `request` is admitted to a call at `now_ms` (decided now in its
    /// isolate, or by the coordinator before).
    pub fn admitted(&mut self, now_ms: u64, request: &Request, how: How) {
        if matches!(how, How::Local | How::AfterSync | How::AwaitedSlot) {
            self.decided(now_ms, request, Some(how));
        }
        let counter = match how {
            How::Local => &mut self.routed.local,
            How::AfterSync => &mut self.routed.after_sync,
            How::Ticket => &mut self.routed.ticket,
            How::Queued => &mut self.routed.queued,
            How::Handed => &mut self.routed.handed,
            How::AwaitedSlot => &mut self.routed.awaited_slot,
        };
        *counter += 1;
        let delay = usize::try_from(now_ms.saturating_sub(request.arrived_ms)).unwrap_or(usize::MAX);
        self.delays[how as usize][delay.min(DELAY_BUCKETS - 1)] += 1;
    }

    /// `request` is refused at `now_ms`; `short`: for lack of capacity.
    pub fn refused(&mut self, now_ms: u64, request: &Request, reason: &'static str, short: bool) {
        self.decided(now_ms, request, None);
        *self.refused.entry(reason).or_default() += 1;
        if short {
            self.short.insert(now_ms / MINUTE_MS);
        }
    }

    /// `request` was lost with its isolate.
    pub fn vanished(&mut self, request: &Request) {
        self.decided(self.last_ms, request, None);
        self.vanished += 1;
    }

    /// A call to deployment `index` leaves at `now_ms`, counting in the
    /// coordinator's `minute`.
    pub fn call_started(&mut self, index: usize, minute: u64, now_ms: u64, estimated: u64, used: u64) {
        let Some(d) = self.deployments.get_mut(index) else {
            return;
        };
        d.in_flight += 1;
        d.max_in_flight = d.max_in_flight.max(d.in_flight);
        let counted = d.minutes.entry(minute).or_default();
        counted.requests += 1;
        counted.tokens += used;
        counted.over += used.saturating_sub(estimated);
        counted.under += estimated.saturating_sub(used);
        d.minutes.entry(now_ms / MINUTE_MS).or_default().clock_requests += 1;
    }

    pub fn call_ended(&mut self, index: usize, failed: bool) {
        if let Some(d) = self.deployments.get_mut(index) {
            d.in_flight = d.in_flight.saturating_sub(1);
        }
        self.failed += u64::from(failed);
    }

    pub fn sync(&mut self, why: SyncWhy) {
        let m = &mut self.messages;
        match why {
            SyncWhy::Refresh => m.sync_refresh += 1,
            SyncWhy::Keeper => m.sync_keeper += 1,
            SyncWhy::Release => m.sync_release += 1,
            SyncWhy::Failure => m.sync_failure += 1,
        }
    }

    pub fn acquire(&mut self) {
        self.messages.acquire += 1;
    }

    pub fn wait(&mut self) {
        self.messages.wait += 1;
    }

    pub fn report(&mut self) {
        self.messages.report += 1;
    }

    /// An isolate sent a message to the coordinator itself, not through a relay.
    pub fn direct(&mut self) {
        self.messages.direct += 1;
    }

    /// A relay sent a batch.
    pub fn batch(&mut self) {
        self.messages.batches += 1;
    }

    /// The coordinator took a message that waited `waited_ms` for its turn.
    pub fn served(&mut self, waited_ms: u64, service_us: u64) {
        self.busy_us += service_us;
        let bucket = (waited_ms as usize).min(DELAY_BUCKETS - 1);
        self.turns[bucket] += 1;
    }

    pub fn write(&mut self) {
        self.writes += 1;
    }

    pub fn finish(self) -> Report {
        let minutes = self.start_minute..self.start_minute + self.minutes;
        let deployments = self
            .deployments
            .iter()
            .map(|d| DeploymentFigures {
                id: d.id.clone(),
                rpm: d.rpm,
                tpm: d.tpm,
                max_parallel: d.max_parallel,
                max_in_flight: d.max_in_flight,
                slots: None,
                minutes: minutes
                    .clone()
                    .map(|minute| {
                        let m = d.minutes.get(&minute).copied().unwrap_or_default();
                        let before = minute.checked_sub(1).and_then(|b| d.minutes.get(&b)).map_or(0, |b| b.under);
                        MinuteFigures {
                            minute: minute - self.start_minute,
                            short: self.short.contains(&minute),
                            requests: m.requests,
                            clock_requests: m.clock_requests,
                            tokens: m.tokens,
                            token_bound: d.tpm.map_or(0, |tpm| tpm + m.over + before),
                            mean_in_flight: m.in_flight_ms as f64 / MINUTE_MS as f64,
                        }
                    })
                    .collect(),
            })
            .collect();
        let delays = HOWS.iter().zip(&self.delays).map(|((_, name), histogram)| (*name, summary(histogram))).collect();
        Report {
            arrived: self.arrived,
            routed: self.routed,
            refused: self.refused,
            vanished: self.vanished,
            failed: self.failed,
            deployments,
            messages: self.messages,
            busy: Busy {
                share: self.busy_us as f64 / (self.minutes * MINUTE_MS * 1_000) as f64,
                turn: summary(&self.turns),
            },
            writes: self.writes,
            inversions: self.inversions,
            delays,
            isolate_deaths: self.deaths,
            orphaned_calls: self.orphaned,
            tickets_lost: self.tickets_lost,
            lost_in_line: self.lost_in_line,
            events: self.events,
        }
    }
}

/// Count, mean and percentiles of a histogram of milliseconds.
fn summary(histogram: &[u64]) -> Delay {
    let count: u64 = histogram.iter().sum();
    if count == 0 {
        return Delay::default();
    }
    let total: u64 = histogram.iter().enumerate().map(|(ms, n)| ms as u64 * n).sum();
    let percentile = |share: f64| {
        let rank = ((count as f64 * share).ceil() as u64).max(1);
        let mut seen = 0;
        histogram
            .iter()
            .position(|n| {
                seen += n;
                seen >= rank
            })
            .unwrap_or(0) as u64
    };
    Delay {
        count,
        mean_ms: total as f64 / count as f64,
        p50_ms: percentile(0.5),
        p99_ms: percentile(0.99),
        max_ms: histogram.iter().rposition(|n| *n > 0).unwrap_or(0) as u64,
    }
}
