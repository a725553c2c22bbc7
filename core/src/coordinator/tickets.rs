//! The tickets granted and not yet ended, indexed so that ending those whose
//! report will never come costs O(log n) each, not a scan of every ticket per
//! message.
//!
//! A ticket is tied to the isolate whose request took it: when that isolate
//! lapses ([`isolates`](super::isolates)), its tickets end with it. Every
//! ticket also ends [`TICKET_TTL_MS`] after it was granted: a ticket of
//! [`NO_ISOLATE`](super::isolates::NO_ISOLATE) (an older build), or one whose
//! report was lost while its isolate lives on.

use std::collections::{BTreeSet, HashMap};

use super::isolates::NO_ISOLATE;
use super::window::MINUTE_MS;
use crate::config::DeploymentId;

/// A ticket whose report never came stops counting as in flight this long after
/// it was granted, whatever its isolate.
pub(super) const TICKET_TTL_MS: u64 = 10 * MINUTE_MS;

#[derive(Debug, Clone)]
pub(super) struct Ticket {
    pub deployment: DeploymentId,
    pub granted_ms: u64,
    pub minute: u64,
    pub estimated_tokens: u64,
    pub probe: bool,
    /// The waiting request it was granted to, admitted from the queue.
    pub waiter: Option<u64>,
    /// The isolate whose request took it ([`NO_ISOLATE`] from older builds).
    pub isolate: u64,
}

/// Tickets by id, by when they were granted, and by isolate.
#[derive(Debug, Default)]
pub(super) struct Tickets {
    by_id: HashMap<u64, Ticket>,
    /// `(granted_ms, id)`: the order they reach [`TICKET_TTL_MS`] in.
    by_granted: BTreeSet<(u64, u64)>,
    /// Each isolate's tickets (ordered: they end in a fixed order).
    by_isolate: HashMap<u64, BTreeSet<u64>>,
}

impl Tickets {
    pub(super) fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Adds ticket `id` (ids are never reused while the coordinator lives).
    pub(super) fn insert(&mut self, id: u64, ticket: Ticket) {
        self.by_granted.insert((ticket.granted_ms, id));
        if ticket.isolate != NO_ISOLATE {
            self.by_isolate.entry(ticket.isolate).or_default().insert(id);
        }
        self.by_id.insert(id, ticket);
    }

    pub(super) fn get_mut(&mut self, id: u64) -> Option<&mut Ticket> {
        self.by_id.get_mut(&id)
    }

    pub(super) fn remove(&mut self, id: u64) -> Option<Ticket> {
        let ticket = self.by_id.remove(&id)?;
        self.unindex(id, &ticket);
        Some(ticket)
    }

    /// Removes and returns the tickets of `isolate`, which lapsed.
    pub(super) fn take_isolate(&mut self, isolate: u64) -> Vec<Ticket> {
        let ids = self.by_isolate.remove(&isolate).unwrap_or_default();
        ids.into_iter()
            .filter_map(|id| {
                let ticket = self.by_id.remove(&id)?;
                self.by_granted.remove(&(ticket.granted_ms, id));
                Some(ticket)
            })
            .collect()
    }

    /// Removes and returns the tickets granted [`TICKET_TTL_MS`] or more before `now_ms`.
    pub(super) fn take_expired(&mut self, now_ms: u64) -> Vec<Ticket> {
        let mut expired = Vec::new();
        while let Some(&(granted_ms, id)) = self.by_granted.first()
            && now_ms.saturating_sub(granted_ms) >= TICKET_TTL_MS
        {
            if let Some(ticket) = self.remove(id) {
                expired.push(ticket);
            } else {
                // Never expected (every removal clears both): a stray entry would
                // otherwise stop the loop from moving on.
                self.by_granted.pop_first();
            }
        }
        expired
    }

    fn unindex(&mut self, id: u64, ticket: &Ticket) {
        self.by_granted.remove(&(ticket.granted_ms, id));
        if let Some(ids) = self.by_isolate.get_mut(&ticket.isolate) {
            ids.remove(&id);
            if ids.is_empty() {
                self.by_isolate.remove(&ticket.isolate);
            }
        }
    }
}

#[cfg(test)]
mod tests;
