//! Responses API responses kept for later: `previous_response_id` continues one,
//! `GET /v1/responses/{id}` gives one back, to the API key that made it only.
//!
//! Each response is one small Durable Object, named by its id (128 bits and more
//! from the runtime's cryptographic source), holding the response and the
//! conversation up to it (`switchyard_core::inbound::responses::Kept`) until its
//! alarm deletes it, `general_settings.responses_ttl` after it was made.

use std::time::Duration;

use switchyard_core::inbound::responses::{Kept, Stored};
use switchyard_core::jobs::tenant_of;
use worker::{DurableObject, Env, Method, Request, Response, Result, State, console_error, durable_object};

use crate::{durable, respond, runtime};

const BINDING: &str = "RESPONSES";
const KEY: &str = "kept";

/// A new response's id: `resp_` and 48 hex digits, unguessable.
pub fn new_id() -> std::result::Result<String, getrandom::Error> {
    let (high, low) = (runtime::secure_random_u128()?, runtime::secure_random_u128()?);
    Ok(format!("resp_{high:032x}{:016x}", low as u64))
}

/// Whether `id` has the shape of a response id (checked before any storage is asked).
pub fn is_response_id(id: &str) -> bool {
    id.len() == 53 && id.starts_with("resp_") && id[5..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// Keeps `stored` for the caller's key, for `ttl_ms`. A failure only loses the
/// response's later use: it is logged, never the request's.
pub async fn keep(env: Env, stored: Stored, api_key: Option<String>, ttl_ms: u64) {
    let id = stored.response.id.clone();
    let kept = Kept {
        tenant: tenant_of(api_key.as_deref()),
        expires_ms: (runtime::now_ms() as u64).saturating_add(ttl_ms),
        stored,
    };
    let sent = match serde_json::to_string(&kept) {
        Ok(body) => durable::call(&env, BINDING, &id, Some(body)).await.map(|reply| reply.status),
        Err(error) => Err(error.into()),
    };
    match sent {
        Ok(200) => {}
        Ok(status) => console_error!("keeping response {id} failed: its object answered {status}"),
        Err(error) => console_error!("keeping response {id} failed: {error}"),
    }
}

/// The response `id`, when the caller's key may read it and it has not expired.
pub async fn load(env: &Env, id: &str, api_key: Option<&str>) -> Result<Option<Stored>> {
    if !is_response_id(id) {
        return Ok(None);
    }
    let reply = durable::call(env, BINDING, id, None).await?;
    if reply.status != 200 {
        return Ok(None);
    }
    let kept: Kept = serde_json::from_str(&reply.text)?;
    let tenant = tenant_of(api_key);
    Ok(kept.readable_by(tenant.as_deref(), runtime::now_ms() as u64).then_some(kept.stored))
}

#[durable_object]
pub struct ResponseStore {
    state: State,
}

impl DurableObject for ResponseStore {
    fn new(state: State, _env: Env) -> Self {
        Self { state }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let storage = self.state.storage();
        match req.method() {
            Method::Post => {
                let text = req.text().await?;
                let kept: Kept = serde_json::from_str(&text)?;
                storage.put(KEY, text).await?;
                let left = kept.expires_ms.saturating_sub(runtime::now_ms() as u64);
                storage.set_alarm(Duration::from_millis(left)).await?;
                respond::json(200, b"{}".to_vec())
            }
            _ => match storage.get::<String>(KEY).await.ok().flatten() {
                Some(text) => respond::json(200, text.into_bytes()),
                None => respond::json(404, b"{}".to_vec()),
            },
        }
    }

    async fn alarm(&self) -> Result<Response> {
        self.state.storage().delete_all().await?;
        Response::empty()
    }
}
