//! This isolate's requests waiting for a slot one of its requests frees
//! (`switchyard_core::coordinator::local::slot_wait`): first come, first
//! served, each looking on its own timer whether it was handed one (a request
//! woken by another's code would run in that request's context, where its own
//! I/O is refused).

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::time::Duration;

use switchyard_core::config::DeploymentId;
use switchyard_core::coordinator::local::slot_wait::{SLOT_WAIT_MS, SLOT_WAITERS};
use worker::Delay;

use crate::runtime;

/// How often a waiting request looks whether it was handed a slot.
const POLL_MS: u64 = 5;

struct Waiter {
    id: u64,
    deployment: DeploymentId,
    estimated_tokens: u64,
    /// What holds the slot it was handed, for its call.
    handed: Option<Box<dyn Any>>,
}

thread_local! {
    /// Per group, the requests waiting for a slot, in the order they came.
    static WAITING: RefCell<HashMap<String, Vec<Waiter>>> = RefCell::new(HashMap::new());
    static NEXT_ID: Cell<u64> = const { Cell::new(0) };
}

/// Whether another request of `group` may wait for a slot now.
pub fn room(group: &str) -> bool {
    WAITING.with_borrow(|waiting| waiting.get(group).map_or(0, Vec::len) < SLOT_WAITERS)
}

/// Waits up to [`SLOT_WAIT_MS`] for a slot of `deployment` of `group` that
/// [`hand`] gives it (a request estimated at `estimated_tokens`): what holds
/// the slot, or `None` when none came in time.
pub async fn wait(group: &str, deployment: &DeploymentId, estimated_tokens: u64) -> Option<Box<dyn Any>> {
    let id = NEXT_ID.replace(NEXT_ID.get().wrapping_add(1));
    let waiter = Waiter { id, deployment: deployment.clone(), estimated_tokens, handed: None };
    WAITING.with_borrow_mut(|waiting| waiting.entry(group.to_owned()).or_default().push(waiter));
    // However the wait ends (its request may be cancelled), it leaves, and a
    // slot handed to it meanwhile is freed.
    let _leave = Leave { group, id };
    let until = (runtime::now_ms() as u64).saturating_add(SLOT_WAIT_MS);
    loop {
        let handed = WAITING.with_borrow_mut(|waiting| {
            waiting.get_mut(group)?.iter_mut().find(|w| w.id == id).and_then(|w| w.handed.take())
        });
        if handed.is_some() || runtime::now_ms() as u64 >= until {
            return handed;
        }
        Delay::from(Duration::from_millis(POLL_MS)).await;
    }
}

/// A slot of `deployment` of `group` was freed: to the first request waiting
/// for one that has none yet, if `make`, given its estimate, hands it one.
pub fn hand(group: &str, deployment: &DeploymentId, make: impl FnOnce(u64) -> Option<Box<dyn Any>>) -> bool {
    let first = WAITING.with_borrow(|waiting| {
        let waiters = waiting.get(group)?;
        waiters.iter().find(|w| w.handed.is_none() && w.deployment == *deployment).map(|w| (w.id, w.estimated_tokens))
    });
    let Some((id, estimated_tokens)) = first else {
        return false;
    };
    let Some(held) = make(estimated_tokens) else {
        return false;
    };
    WAITING.with_borrow_mut(|waiting| {
        if let Some(waiter) = waiting.get_mut(group).and_then(|w| w.iter_mut().find(|w| w.id == id)) {
            waiter.handed = Some(held);
        }
    });
    true
}

struct Leave<'a> {
    group: &'a str,
    id: u64,
}

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        let left = WAITING.with_borrow_mut(|waiting| {
            let waiters = waiting.get_mut(self.group)?;
            let at = waiters.iter().position(|w| w.id == self.id)?;
            Some(waiters.remove(at))
        });
        // Dropped outside the borrow: a slot's hold, freed, may hand it to the
        // next waiter, which borrows the list again.
        drop(left);
    }
}
