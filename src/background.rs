//! Where work off the response's critical path runs.

use worker::Context;

/// Where work off the response's critical path (reports to the coordinator) runs.
pub enum Background<'a> {
    /// A client request: `ctx.waitUntil`, so it finishes after the response.
    WaitUntil(&'a Context),
    /// Inside a Durable Object (an async job): spawned on the object's event loop.
    Spawn,
}

impl Background<'_> {
    pub fn run(&self, work: impl std::future::Future<Output = ()> + 'static) {
        match self {
            Self::WaitUntil(ctx) => ctx.wait_until(work),
            Self::Spawn => wasm_bindgen_futures::spawn_local(work),
        }
    }
}
