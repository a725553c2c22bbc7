//! Which way an isolate's messages to a group's coordinator go
//! (`RouterPolicy::relaying`): directly, or through its location's relay
//! (`crate::relay`). Under automatic relays, the way its group's last view
//! said (`HealthView::relay`), but directly for a while after the relay itself
//! failed: its isolates would otherwise get no view through it to say
//! otherwise, and a relay that is missing (a `wrangler.toml` without the
//! `RELAY` binding) or down would cost every message.

use std::cell::RefCell;
use std::collections::HashMap;

use switchyard_core::config::Relaying;

use crate::runtime;

/// How long a group's messages go directly after its relay failed.
const RELAY_DOWN_MS: u64 = 30_000;

/// Under automatic relays, what an isolate knows of one group's way.
#[derive(Default)]
struct Way {
    /// The group's last view said to relay.
    view_says: bool,
    /// Its relay failed: not tried before this time.
    down_until_ms: u64,
}

thread_local! {
    static WAYS: RefCell<HashMap<String, Way>> = RefCell::new(HashMap::new());
}

/// Whether `group`'s messages go through its relay now.
pub fn through_relay(group: &str, relaying: Relaying) -> bool {
    match relaying {
        Relaying::Off => false,
        Relaying::Always { .. } => true,
        Relaying::Auto { .. } => WAYS.with_borrow(|ways| {
            ways.get(group).is_some_and(|way| way.view_says && runtime::now_ms() as u64 >= way.down_until_ms)
        }),
    }
}

/// A view of `group` came, saying whether to relay.
pub fn view_says(group: &str, relay: bool) {
    WAYS.with_borrow_mut(|ways| match ways.get_mut(group) {
        // Looked up before `entry`, which would allocate the key on every view.
        Some(way) => way.view_says = relay,
        None if relay => {
            ways.insert(group.to_owned(), Way { view_says: true, down_until_ms: 0 });
        }
        None => {}
    });
}

/// `group`'s relay failed under automatic relays (itself, not the coordinator
/// behind it, whose failure it answers with): its messages go directly for a
/// while.
pub fn relay_failed(group: &str) {
    let until = (runtime::now_ms() as u64).saturating_add(RELAY_DOWN_MS);
    WAYS.with_borrow_mut(|ways| ways.entry(group.to_owned()).or_default().down_until_ms = until);
    let seconds = RELAY_DOWN_MS / 1_000;
    worker::console_error!(
        "the relay of `{group}` failed: its messages go to the coordinator directly for {seconds} s"
    );
}
