//! The per-model-group coordinator Durable Object.
//!
//! Declared now (class, binding and SQLite migration in `wrangler.toml`) so that
//! deployments keep one stable class as it gains its work: cooldowns, rate windows
//! and the priority queue of the model group it is named after. Until then it
//! refuses every call, so nothing can come to depend on an empty answer.

use worker::{DurableObject, Env, Request, Response, Result, State, durable_object};

#[durable_object]
pub struct Coordinator {
    _state: State,
}

impl DurableObject for Coordinator {
    fn new(state: State, _env: Env) -> Self {
        Self { _state: state }
    }

    async fn fetch(&self, _req: Request) -> Result<Response> {
        Response::error("the coordinator has no operations yet", 501)
    }
}
