//! What a run measured, and the limits checked against it.

use std::collections::BTreeMap;
use std::fmt;

/// How the requests that reached a deployment got there.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Routed {
    /// Picked in the isolate from the view it held: no message before the call.
    pub local: u64,
    /// Picked in the isolate once a sync's answer came (one round trip).
    pub after_sync: u64,
    /// With a ticket answered at once (a round trip, after a sync's when the
    /// view said so only once fetched).
    pub ticket: u64,
    /// With a ticket, after waiting in the queue.
    pub queued: u64,
    /// Waiting in its isolate's line, in a slot freed there.
    pub handed: u64,
    /// In its isolate after waiting there for a slot (`slot_wait`): in the
    /// slot freed, or picked there when the wait ran out.
    pub awaited_slot: u64,
}

impl Routed {
    pub fn total(&self) -> u64 {
        self.local + self.after_sync + self.ticket + self.queued + self.handed + self.awaited_slot
    }
}

/// Messages from isolates to the coordinator, by kind.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Messages {
    /// Syncs asked by a pick (no view, a stale one, a lease or slots used up).
    pub sync_refresh: u64,
    /// Syncs of the keeper, for slots due back.
    pub sync_keeper: u64,
    /// Syncs giving a slot back as its request ended, near the limit.
    pub sync_release: u64,
    /// Syncs telling a failed call without a ticket.
    pub sync_failure: u64,
    pub acquire: u64,
    /// `Wait`s of isolates' lines (requests that may wait, told together).
    pub wait: u64,
    /// Messages of reports of their own: a report that frees a slot or tells a
    /// failure goes at once, with those waiting; any other waits `REPORT_WAIT_MS`
    /// for another message (`report_may_wait`), as the Worker's.
    pub report: u64,
    /// Relays' batches, each one request to the coordinator carrying the
    /// messages above (`Scenario::relays`; none without relays).
    pub batches: u64,
    /// Of the messages above, those their isolates sent to the coordinator
    /// themselves: all without relays, none with relays always, those sent
    /// while views did not say to relay with automatic relays.
    pub direct: u64,
}

impl Messages {
    pub fn total(&self) -> u64 {
        self.sync_refresh
            + self.sync_keeper
            + self.sync_release
            + self.sync_failure
            + self.acquire
            + self.wait
            + self.report
    }
}

/// Priority inversions: a request admitted (to a call) while a request of a
/// better (lower) priority that arrived before it had been waiting longer than
/// `bound_ms` (from its arrival at the gateway, not yet admitted nor refused). A
/// request without a priority counts as the worst. Both are taken when their
/// fate is decided: in their isolate, or when the coordinator answers (a grant
/// or a refusal then travels back; answers sent in order may arrive in another).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inversions {
    pub bound_ms: u64,
    pub beyond_bound: u64,
    /// Of those, the requests admitted by a ticket granted at once (a request
    /// without a priority is granted what the queue's head cannot use, e.g. the
    /// tokens left under a tpm are too few for the head's estimate but enough for
    /// its own); the others were picked in an isolate.
    pub beyond_bound_by_ticket: u64,
    /// With no bound at all (any wait): for scale.
    pub any: u64,
    /// The longest such wait seen at an admission.
    pub longest_wait_ms: u64,
}

/// How busy the coordinator was, taking one message at a time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Busy {
    /// Of the run's time, the share it spent on messages.
    pub share: f64,
    /// How long messages waited for their turn once they arrived.
    pub turn: Delay,
}

/// How long requests of one kind waited between their arrival and their call.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Delay {
    pub count: u64,
    pub mean_ms: f64,
    pub p50_ms: u64,
    pub p99_ms: u64,
    pub max_ms: u64,
}

/// One minute of one deployment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MinuteFigures {
    /// Minutes since the start.
    pub minute: u64,
    /// Some request was refused for lack of capacity in this minute (rate
    /// limited, busy, timed out in the queue): demand exceeded the group.
    pub short: bool,
    /// Requests sent that count in this minute of the coordinator (a ticket's
    /// when granted, a lease's minute).
    pub requests: u64,
    /// Requests sent in this minute of the upstream's clock (when they left).
    pub clock_requests: u64,
    /// Tokens the answers used, counted in the minute their requests count in.
    pub tokens: u64,
    /// What the tpm allows of them: the tpm, plus what answers of this minute used
    /// beyond their estimates, plus what answers of the minute before used below
    /// theirs (a correction that can be counted in the next minute, see
    /// `Report::limit_violations`).
    pub token_bound: u64,
    /// Requests in flight, averaged over the minute.
    pub mean_in_flight: f64,
}

/// One deployment's limits and what it got.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeploymentFigures {
    pub id: String,
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
    pub max_parallel: Option<u32>,
    pub max_in_flight: u64,
    pub minutes: Vec<MinuteFigures>,
    /// With `max_parallel_requests`: where its slots were (`census`).
    pub slots: Option<SlotShares>,
}

/// Where a deployment's `max_parallel_requests` slots were, on average over the
/// run's counts (`census`, which says what each part is).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SlotShares {
    pub limit: u32,
    pub counts: u64,
    pub in_calls: f64,
    pub idle: f64,
    pub on_their_way: f64,
    pub dead: f64,
    pub tickets_not_in_call: f64,
    pub free: f64,
    /// Tickets in flight as the coordinator counts them (those in a call, and
    /// those not).
    pub tickets: f64,
    /// Counts where the calls on the upstream were not those the other counts
    /// say (the parts then do not add up to the limit).
    pub unsplit: u64,
    /// Live isolates found holding more slots than the coordinator counted as
    /// leased to them, over all counts.
    pub overheld: u64,
}

impl SlotShares {
    /// The parts, named, each with its share of the limit.
    pub fn parts(&self) -> [(&'static str, f64); 6] {
        [
            ("in calls", self.in_calls),
            ("idle in live isolates", self.idle),
            ("on their way", self.on_their_way),
            ("held for dead isolates", self.dead),
            ("tickets not in a call", self.tickets_not_in_call),
            ("free", self.free),
        ]
    }
}

impl DeploymentFigures {
    /// The share of its limit used, averaged over the minutes where demand
    /// exceeded the group, and the lowest minute's: requests per rpm, tokens per
    /// tpm, or mean in flight per `max_parallel_requests`.
    pub fn utilisation(&self) -> Option<(f64, f64)> {
        let share = |m: &MinuteFigures| -> Option<f64> {
            match (self.rpm, self.tpm, self.max_parallel) {
                (Some(rpm), _, _) => Some(m.requests as f64 / rpm as f64),
                (None, Some(tpm), _) => Some(m.tokens as f64 / tpm as f64),
                (None, None, Some(max)) => Some(m.mean_in_flight / f64::from(max)),
                (None, None, None) => None,
            }
        };
        let shares: Vec<f64> = self.minutes.iter().filter(|m| m.short).filter_map(share).collect();
        if shares.is_empty() {
            return None;
        }
        let mean = shares.iter().sum::<f64>() / shares.len() as f64;
        Some((mean, shares.iter().copied().fold(f64::INFINITY, f64::min)))
    }
}

/// Everything a run measured.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    pub arrived: u64,
    pub routed: Routed,
    /// Requests refused, by the coordinator's reason.
    pub refused: BTreeMap<&'static str, u64>,
    /// Requests lost with their isolate before they were called.
    pub vanished: u64,
    /// Calls that failed upstream (429 or 500).
    pub failed: u64,
    pub deployments: Vec<DeploymentFigures>,
    pub messages: Messages,
    /// The coordinator's time on those messages ([`Scenario::service_us`](super::Scenario::service_us) each).
    pub busy: Busy,
    pub inversions: Inversions,
    /// Snapshots the coordinator wrote to its storage (`Coordinator::snapshot_due`
    /// after each message, as the Durable Object's).
    pub writes: u64,
    /// Arrival to call, by how the request was routed.
    pub delays: Vec<(&'static str, Delay)>,
    pub isolate_deaths: u64,
    /// Calls that ended upstream after their isolate died (still counted in flight
    /// at the upstream until they ended).
    pub orphaned_calls: u64,
    /// Grants that reached an isolate already dead: their tickets stay in flight
    /// at the coordinator until they expire.
    pub tickets_lost: u64,
    /// Requests of isolates' lines answered by their isolate past their
    /// deadline and its grace: the coordinator had lost them.
    pub lost_in_line: u64,
    pub events: u64,
}

impl Report {
    /// Storage writes per coordinator message.
    pub fn writes_per_message(&self) -> f64 {
        self.writes as f64 / self.messages.total().max(1) as f64
    }

    /// Coordinator messages per request routed.
    pub fn messages_per_routed(&self) -> f64 {
        self.messages.total() as f64 / self.routed.total().max(1) as f64
    }

    /// Requests the coordinator took: its isolates' messages sent to it
    /// directly, and the relays' batches that carried the others.
    pub fn coordinator_requests(&self) -> u64 {
        self.messages.direct + self.messages.batches
    }

    /// Requests to the coordinator per request routed.
    pub fn requests_per_routed(&self) -> f64 {
        self.coordinator_requests() as f64 / self.routed.total().max(1) as f64
    }

    /// Every limit exceeded: an rpm in any minute of the coordinator, a
    /// `max_parallel_requests` at any instant (counting calls whose isolate died,
    /// which the upstream still serves), a tpm beyond what estimates allow
    /// ([`MinuteFigures::token_bound`]). Empty when every limit held.
    pub fn limit_violations(&self) -> Vec<String> {
        let mut found = Vec::new();
        for d in &self.deployments {
            for m in &d.minutes {
                if let Some(rpm) = d.rpm
                    && m.requests > rpm
                {
                    found.push(format!("{}: {} requests in minute {}, rpm {rpm}", d.id, m.requests, m.minute));
                }
                if d.tpm.is_some() && m.tokens > m.token_bound {
                    found
                        .push(format!("{}: {} tokens in minute {}, bound {}", d.id, m.tokens, m.minute, m.token_bound));
                }
            }
            if let Some(max) = d.max_parallel
                && d.max_in_flight > u64::from(max)
            {
                found.push(format!("{}: {} in flight at once, max {max}", d.id, d.max_in_flight));
            }
        }
        found
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let routed = self.routed.total();
        let refused: u64 = self.refused.values().sum();
        writeln!(
            f,
            "requests arrived {}, routed {routed}, refused {refused}, lost with their isolate {}",
            self.arrived, self.vanished
        )?;
        let r = &self.routed;
        writeln!(
            f,
            "  routed: in the isolate {} (after a sync {}, after waiting for a slot {}), by ticket {}, from the queue {}, handed a slot in its line {}; upstream failures {}",
            r.local + r.after_sync + r.awaited_slot,
            r.after_sync,
            r.awaited_slot,
            r.ticket,
            r.queued,
            r.handed,
            self.failed
        )?;
        let reasons: Vec<String> = self.refused.iter().map(|(why, n)| format!("{why} {n}")).collect();
        writeln!(f, "  refused: {}", reasons.join(", "))?;
        for d in &self.deployments {
            let limit = match (d.rpm, d.tpm, d.max_parallel) {
                (Some(rpm), _, _) => format!("rpm {rpm}"),
                (None, Some(tpm), _) => format!("tpm {tpm}"),
                (None, None, Some(max)) => format!("max_parallel_requests {max}"),
                (None, None, None) => "no limit".to_owned(),
            };
            write!(f, "deployment {} ({limit}): most in flight {}", d.id, d.max_in_flight)?;
            match d.utilisation() {
                Some((mean, min)) => {
                    writeln!(f, ", utilisation {:.2}% (lowest minute {:.2}%)", mean * 100.0, min * 100.0)?
                }
                None => writeln!(f)?,
            }
            for m in &d.minutes {
                writeln!(
                    f,
                    "  minute {}{}: requests {} (by the upstream's clock {}), tokens {} (bound {}), mean in flight {:.0}",
                    m.minute,
                    if m.short { " (demand over capacity)" } else { "" },
                    m.requests,
                    m.clock_requests,
                    m.tokens,
                    m.token_bound,
                    m.mean_in_flight
                )?;
            }
            if let Some(slots) = &d.slots {
                let parts: Vec<String> = slots
                    .parts()
                    .iter()
                    .map(|(name, n)| format!("{name} {n:.0} ({:.2}%)", n * 100.0 / f64::from(slots.limit.max(1))))
                    .collect();
                writeln!(
                    f,
                    "  its slots, on average over {} counts: {} (of {:.0} tickets); counts whose calls did not split so {}, isolates found holding more than leased {}",
                    slots.counts,
                    parts.join(", "),
                    slots.tickets,
                    slots.unsplit,
                    slots.overheld
                )?;
            }
        }
        let m = &self.messages;
        writeln!(
            f,
            "coordinator messages {} ({:.4} per routed request): syncs {} (refresh {}, keeper {}, release {}, failure {}), acquires {}, waits {}, reports {}",
            m.total(),
            self.messages_per_routed(),
            m.sync_refresh + m.sync_keeper + m.sync_release + m.sync_failure,
            m.sync_refresh,
            m.sync_keeper,
            m.sync_release,
            m.sync_failure,
            m.acquire,
            m.wait,
            m.report
        )?;
        if m.batches > 0 {
            writeln!(
                f,
                "  carried in relays' batches {} but {} sent directly: the coordinator took {} requests ({:.4} per routed request)",
                m.batches,
                m.direct,
                self.coordinator_requests(),
                self.requests_per_routed()
            )?;
        }
        let b = &self.busy;
        writeln!(
            f,
            "coordinator busy {:.1}% of the time; a message's wait for its turn: mean {:.2} ms, p99 {} ms, max {} ms",
            b.share * 100.0,
            b.turn.mean_ms,
            b.turn.p99_ms,
            b.turn.max_ms
        )?;
        writeln!(f, "coordinator storage writes {} ({:.4} per message)", self.writes, self.writes_per_message())?;
        let i = &self.inversions;
        writeln!(
            f,
            "priority inversions beyond {} ms: {} ({} by a ticket granted at once; any wait: {}; longest wait passed {} ms)",
            i.bound_ms, i.beyond_bound, i.beyond_bound_by_ticket, i.any, i.longest_wait_ms
        )?;
        for (how, d) in &self.delays {
            writeln!(
                f,
                "arrival to call, {how}: {} requests, mean {:.1} ms, p50 {} ms, p99 {} ms, max {} ms",
                d.count, d.mean_ms, d.p50_ms, d.p99_ms, d.max_ms
            )?;
        }
        writeln!(
            f,
            "isolates died {}, their calls that ran on upstream {}, grants that found their isolate dead {}; requests the coordinator lost from lines {}; events {}",
            self.isolate_deaths, self.orphaned_calls, self.tickets_lost, self.lost_in_line, self.events
        )?;
        let violations = self.limit_violations();
        if violations.is_empty() {
            writeln!(f, "every limit held")
        } else {
            writeln!(f, "LIMITS EXCEEDED: {}", violations.join("; "))
        }
    }
}
