//! What the coordinator keeps in its Durable Object's storage, and when it writes it.
//!
//! What must survive an eviction or a restart (a deploy restarts every object) is
//! each deployment's health and the minute's counts of those with an rpm or a tpm,
//! so that cooldowns and limits hold across it. Those counts change with nearly
//! every sync and report, and writing them on each was a storage write per
//! message: billed per write, and each answer held until its write was durable.
//! So they are written ahead: a snapshot counts, beyond what is taken of each
//! limit, a reserve of a [`WRITTEN_AHEAD`]th of it, and the next is due only
//! when what is taken passes what the last one counted, or when a health
//! changed (a cooldown, a failure toward one). A coordinator restored from it
//! counts at least what had been taken, so a limit holds across a restart; what
//! it costs is at most the reserve, of the minute the restart falls in.
//!
//! The minute's failure count (the failure-rate rule's) rides with the next
//! write: a restart may forget the last few, which can only delay a cooldown.

use serde::{Deserialize, Serialize};

use super::Coordinator;
use super::health::Health;
use super::window::{MINUTE_MS, Window};
use crate::config::{Deployment, DeploymentId, ModelGroup};

/// The reserve a snapshot counts beyond what is taken: this fraction of each
/// limit. A busy minute then costs about this many writes per limited
/// deployment, and a restart at most this fraction of its minute.
pub const WRITTEN_AHEAD: u64 = 50;

/// The persisted part of the state (see the module doc).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub(super) deployments: Vec<(DeploymentId, Health, Window)>,
}

impl Coordinator {
    /// A coordinator from what its storage kept: that snapshot is the one written.
    pub fn restore(snapshot: Snapshot) -> Self {
        let deployments = snapshot
            .deployments
            .iter()
            .map(|(id, health, window)| {
                (id.clone(), super::DeploymentState { health: *health, window: *window, ..Default::default() })
            })
            .collect();
        Self { deployments, written: Some(snapshot), ..Self::default() }
    }

    /// The state that must survive, as it is: every deployment's health, and the
    /// minute's counts of those with rpm/tpm limits. Other counts only steer
    /// usage-based routing and are rebuilt.
    pub fn snapshot(&self, group: &ModelGroup) -> Snapshot {
        let mut deployments: Vec<_> = self
            .deployments
            .iter()
            .map(|(id, state)| {
                let window = if limited(group, id).is_some() { state.window } else { Window::default() };
                (id.clone(), state.health, window)
            })
            .collect();
        deployments.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        Snapshot { deployments }
    }

    /// The snapshot to write at `now_ms`, when the last one written no longer
    /// covers the state (see the module doc): it is taken for written, so that
    /// messages handled while it is on its way do not write it again (their
    /// answers wait for it anyway: Cloudflare holds a Durable Object's answers
    /// until the writes before them are durable). A write that failed is told
    /// with [`Coordinator::unwritten`].
    pub fn snapshot_due(&mut self, now_ms: u64, group: &ModelGroup) -> Option<Snapshot> {
        let minute = now_ms / MINUTE_MS;
        let covered = self.written.as_ref().is_some_and(|written| {
            self.deployments.iter().all(|(id, state)| {
                let kept = written.deployments.iter().find(|(kept, ..)| kept == id);
                let (health, window) = kept.map_or((Health::default(), Window::default()), |(_, h, w)| (*h, *w));
                health == state.health && limited(group, id).is_none_or(|d| covers(d, &window, &state.window, minute))
            })
        });
        if covered {
            return None;
        }
        let mut snapshot = self.snapshot(group);
        for (id, _, window) in &mut snapshot.deployments {
            if let Some(d) = limited(group, id) {
                window.requests = window.requests.saturating_add(reserve(d.rpm));
                window.tokens = window.tokens.saturating_add(reserve(d.tpm));
            }
        }
        self.written = Some(snapshot.clone());
        self.writes = self.writes.saturating_add(1);
        Some(snapshot)
    }

    /// The last snapshot due was not written: the next message writes one.
    pub fn unwritten(&mut self) {
        self.written = None;
    }
}

/// The deployment `id` of `group` when it has an rpm or a tpm.
fn limited<'g>(group: &'g ModelGroup, id: &DeploymentId) -> Option<&'g Deployment> {
    group.deployments.iter().find(|d| &d.id == id && (d.rpm.is_some() || d.tpm.is_some()))
}

/// What a snapshot counts beyond what is taken of `limit`.
fn reserve(limit: Option<u64>) -> u64 {
    limit.map_or(0, |limit| limit.div_ceil(WRITTEN_AHEAD))
}

/// Whether `written` counts at least what `now` has taken of `d`'s limits in
/// `minute` (a window of a minute gone counts nothing in this one).
fn covers(d: &Deployment, written: &Window, now: &Window, minute: u64) -> bool {
    if now.minute != minute || (now.taken() == 0 && now.tokens_taken() == 0) {
        return true;
    }
    written.minute == minute
        && (d.rpm.is_none() || written.taken() >= now.taken())
        && (d.tpm.is_none() || written.tokens_taken() >= now.tokens_taken())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coordinator::TicketReply;
    use crate::coordinator::Timings;
    use crate::coordinator::local::{Lease, ServedSince};
    use crate::coordinator::tests::World;
    use crate::failure::FailureClass;

    const RPM: u64 = 1_000;

    /// The coordinator's tests' world (deployment `a` with `limit`, `free` with
    /// none), and what its storage holds: written when due, as the shell does.
    struct Stored {
        w: World,
        storage: Option<String>,
        writes: u32,
    }

    impl Stored {
        fn new(limit: &str) -> Self {
            let yaml = format!(
                "model_list:\n  - {{model_name: g, litellm_params: {{model: x, mock_response: x, {limit}}}, model_info: {{id: a}}}}\n  - {{model_name: g, litellm_params: {{model: x, mock_response: x}}, model_info: {{id: free}}}}\nrouter_settings:\n  allowed_fails: 3\n"
            );
            Self { w: World::new(&yaml), storage: None, writes: 0 }
        }

        fn group(&self) -> ModelGroup {
            self.w.config.group(&self.w.group).unwrap().clone()
        }

        fn persist(&mut self, now: u64) {
            let group = self.group();
            if let Some(snapshot) = self.w.coordinator.snapshot_due(now, &group) {
                self.storage = Some(serde_json::to_string(&snapshot).unwrap());
                self.writes += 1;
            }
        }

        fn restart(&mut self) {
            let stored = self.storage.as_deref().map(|s| serde_json::from_str(s).unwrap()).unwrap_or_default();
            self.w.coordinator = Coordinator::restore(stored);
        }

        /// A request to `a` by ticket (`free` is avoided), its report counting
        /// its estimate: whether it was granted.
        fn request(&mut self, now: u64, tokens: u64) -> bool {
            let reply = self.w.ask(now, &["free"], tokens, false);
            self.persist(now);
            let TicketReply::Granted(grant) = reply else {
                return false;
            };
            self.w.finish(now, grant.ticket, None);
            self.persist(now);
            true
        }
    }

    #[test]
    fn a_busy_minute_writes_about_once_per_fiftieth_of_its_rpm() {
        let mut s = Stored::new("rpm: 1000");
        let granted = (0..1_200).filter(|i| s.request(60_000 + i * 10, 10)).count() as u64;
        assert_eq!(granted, RPM, "the rpm holds");
        // 2,400 messages; a write per 21 requests taken (the one that passed the
        // last write's count, and the reserve of 20 beyond it).
        assert!((WRITTEN_AHEAD - 5..=WRITTEN_AHEAD).contains(&u64::from(s.writes)), "{} writes", s.writes);
    }

    #[test]
    fn restored_from_what_was_written_the_rpm_holds_and_loses_at_most_the_reserve() {
        for crash_after in [0, 1, 19, 20, 21, 500, 999, 1_000] {
            let mut s = Stored::new("rpm: 1000");
            let before = (0..crash_after).filter(|i| s.request(60_000 + i, 10)).count() as u64;
            s.restart();
            let after = (0..RPM).filter(|i| s.request(61_000 + i, 10)).count() as u64;
            assert!(before + after <= RPM, "after {crash_after}: {before} + {after} over the rpm");
            assert!(before + after >= RPM - RPM / WRITTEN_AHEAD, "after {crash_after}: {before} + {after}");
        }
    }

    /// Four isolates that each use all of every lease and settle it at their next
    /// sync, for 40 rounds of one minute, the coordinator restarting from what it
    /// wrote at the round `crash_at_round`: the requests sent.
    fn leased_minute(crash_at_round: Option<u64>) -> u64 {
        let mut s = Stored::new("rpm: 1000");
        let group = s.group();
        let a = group.deployments[0].id.clone();
        let mut held: Vec<Option<Lease>> = vec![None; 4];
        let mut sent = 0;
        for round in 0..40u64 {
            if Some(round) == crash_at_round {
                s.restart();
            }
            for (isolate, lease) in (1..).zip(held.iter_mut()) {
                let now = 60_000 + round * 100 + isolate;
                let served: Vec<ServedSince> = lease
                    .take()
                    .map(|lease| ServedSince {
                        deployment: a.clone(),
                        requests: lease.requests,
                        tokens: 0,
                        lease: Some(lease),
                        timings: Timings::default(),
                        slots: None,
                        failures: Vec::new(),
                    })
                    .into_iter()
                    .collect();
                let w = &mut s.w;
                let view =
                    w.coordinator.sync_local(now, &group, &w.config.router, isolate, &served, None, 10, &mut w.rng);
                s.persist(now);
                *lease = view.leases.iter().find(|(id, _)| *id == a).map(|(_, lease)| *lease);
                sent += lease.map_or(0, |lease| lease.requests);
            }
        }
        sent
    }

    #[test]
    fn leases_granted_before_a_restart_and_settled_after_it_stay_within_the_rpm() {
        let unbroken = leased_minute(None);
        for crash_at_round in [1, 3, 7, 12] {
            let sent = leased_minute(Some(crash_at_round));
            assert!(sent <= RPM, "crash at round {crash_at_round}: {sent} sent");
            assert!(sent + RPM / WRITTEN_AHEAD >= unbroken, "crash at round {crash_at_round}: {sent} of {unbroken}");
        }
    }

    #[test]
    fn restored_from_what_was_written_the_tpm_holds() {
        for crash_after in [1, 7, 250, 333] {
            let mut s = Stored::new("tpm: 30000");
            let before = (0..crash_after).filter(|i| s.request(60_000 + i, 90)).count() as u64;
            s.restart();
            let after = (0..1_000).filter(|i| s.request(61_000 + i, 90)).count() as u64;
            assert!((before + after) * 90 <= 30_000, "after {crash_after}: {before} + {after} requests");
            assert!((before + after) * 90 >= 30_000 - 30_000 / WRITTEN_AHEAD - 90, "after {crash_after}");
        }
    }

    #[test]
    fn a_health_change_is_written_at_once_and_nothing_else_of_an_unlimited_deployment() {
        let mut s = Stored::new("rpm: 1000");
        s.request(60_000, 10);
        let writes = s.writes;
        let group = s.group();
        // The unlimited deployment's traffic: nothing to write.
        for i in 0..10 {
            let (_, ticket) = s.w.grant(60_100 + i, &["a"]);
            s.w.finish(60_100 + i, ticket, None);
            assert_eq!(s.w.coordinator.snapshot_due(60_100 + i, &group), None);
        }
        // A failure toward a cooldown of `free` is written with the message that told it.
        s.w.fail(60_200, "free", FailureClass::Internal);
        assert!(s.w.coordinator.snapshot_due(60_200, &group).is_some());
        assert_eq!(s.w.coordinator.snapshot_due(60_201, &group), None, "written once");
        // A write that failed is due again.
        s.w.coordinator.unwritten();
        assert!(s.w.coordinator.snapshot_due(60_202, &group).is_some());
        assert_eq!(writes, 1, "the first request's message wrote the first snapshot");
    }

    #[test]
    fn a_restored_coordinator_writes_nothing_until_it_takes_past_what_it_read() {
        let mut s = Stored::new("rpm: 1000");
        for i in 0..5 {
            s.request(60_000 + i, 10);
        }
        s.restart();
        let group = s.group();
        assert_eq!(s.w.coordinator.snapshot_due(60_010, &group), None);
        // A new minute's first request is written: the one stored counted the last.
        let writes = s.writes;
        s.request(120_000, 10);
        assert_eq!(s.writes, writes + 1);
    }
}
