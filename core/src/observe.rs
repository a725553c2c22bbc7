//! Seeing the router work: what each request did ([`record`]), counted per
//! deployment and group ([`tally`]) for the metrics and the live page.
//!
//! Everything here is made off the request's critical path: a request's record is
//! written once its answer is on its way, and the counts travel to the group's
//! coordinator with the messages an isolate sends it anyway.

pub mod record;
pub mod tally;
