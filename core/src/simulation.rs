//! A deterministic simulation of one model group at the edge's scale (issue 19):
//! many isolates routing by themselves and taking tickets, against the real
//! coordinator and the real isolate router ([`crate::coordinator`]), with a fake
//! clock, a network delay on every message, upstream calls of random latency that
//! sometimes fail, isolates that die with leases and calls outstanding, and, when
//! the scenario gives one, a time the coordinator takes on each message, one at a
//! time.
//!
//! Nothing here decides anything the gateway does: the simulation drives the same
//! calls the Worker and the Durable Object make (`LocalRouter::pick`, `update`,
//! `take_served`, `release`, `sync_due`; `Coordinator::sync_local`, `acquire`,
//! `tick`, `next_wakeup`, `report`, `leave`) in the order they make them, and
//! measures what reaches the upstream deployments. One seeded [`fastrand::Rng`]
//! draws everything, and events of the same millisecond run in the order they
//! were scheduled, so a scenario and its seed always give the same [`Report`].
//!
//! # Layout
//! - `scenario`: the parameters, the group's config, and the two scenarios used
//!   (the issue's, and a scaled-down one for `cargo test`).
//! - `events`: the agenda (a priority queue of timed events) and what each event carries.
//! - `world`: the isolates, the coordinator, the relays when the scenario has
//!   them, and the network: what each event does.
//! - `draw`: the random distributions (arrivals, latencies, delays).
//! - `measure`: what is counted while the simulation runs.
//! - `census`: where a concurrency limit's slots are, counted as it runs.
//! - `report`: the figures, and the limits checked against them.

mod census;
mod draw;
mod events;
mod measure;
mod report;
mod scenario;
mod world;

pub use report::{Busy, Delay, DeploymentFigures, Inversions, Messages, MinuteFigures, Report, Routed};
pub use scenario::{Latency, Scenario};

/// Runs `scenario` to its end. Fails only when its config does not load.
pub fn run(scenario: &Scenario) -> Result<Report, String> {
    world::World::new(scenario)?.run()
}

#[cfg(test)]
mod tests;
