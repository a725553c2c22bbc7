//! The per-model-group coordinator Durable Object: a thin shell around
//! `switchyard_core::coordinator::Coordinator`.
//!
//! One object per model group (named after it) is the single source of truth for
//! its deployments' cooldowns and usage, shared by every isolate. It decodes a
//! [`Message`], calls the core with the time, persists the core's snapshot (the
//! state that must survive an eviction: cooldowns and the minute's counts), and
//! encodes the answer. In-flight tickets and latency samples live in memory only.

use std::cell::RefCell;

use switchyard_core::coordinator::{self, Message, Report, Snapshot, TicketReply, TicketRequest};
use switchyard_core::error::ApiError;
use worker::{
    DurableObject, Env, Headers, Method, Request, RequestInit, Response, Result, State, Stub, durable_object,
};

use crate::{config_source, respond, runtime};

const SNAPSHOT_KEY: &str = "snapshot";

#[durable_object]
pub struct Coordinator {
    state: State,
    env: Env,
    /// `None` until the persisted snapshot is read, on the first message.
    core: RefCell<Option<coordinator::Coordinator>>,
    /// The last snapshot written, so that an unchanged state is not written again.
    persisted: RefCell<String>,
}

impl DurableObject for Coordinator {
    fn new(state: State, env: Env) -> Self {
        Self { state, env, core: RefCell::new(None), persisted: RefCell::new(String::new()) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let message: Message = match req.json().await {
            Ok(message) => message,
            Err(error) => return respond::error(&ApiError::Internal(format!("bad coordinator message: {error}"))),
        };
        let config = match config_source::current(&self.env).await {
            Ok(config) => config,
            Err(error) => return respond::error(&error),
        };
        if self.core.borrow().is_none() {
            // Storage reads hold the input gate: no other message runs meanwhile.
            let stored: Option<String> = self.state.storage().get(SNAPSHOT_KEY).await.ok().flatten();
            // An unreadable snapshot (from an older version) starts the state afresh.
            let snapshot: Snapshot = stored.and_then(|s| serde_json::from_str(&s).ok()).unwrap_or_default();
            self.core.borrow_mut().get_or_insert_with(|| coordinator::Coordinator::restore(snapshot));
        }
        let now = runtime::now_ms() as u64;
        let (reply, snapshot) = {
            let mut core = self.core.borrow_mut();
            let Some(core) = core.as_mut() else {
                return respond::error(&ApiError::Internal("coordinator state missing".into()));
            };
            let reply = match &message {
                Message::Acquire { group, request } => {
                    let Some(group) = config.group(group) else {
                        return respond::error(&ApiError::Internal(format!("no model group `{group}`")));
                    };
                    let mut rng = runtime::rng();
                    Some(core.acquire(now, group, &config.router, request, &mut rng))
                }
                Message::Report { group, report } => {
                    if let Some(group) = config.group(group) {
                        core.report(now, group, &config.router, report);
                    }
                    None
                }
            };
            (reply, serde_json::to_string(&core.snapshot())?)
        };
        if *self.persisted.borrow() != snapshot {
            self.state.storage().put(SNAPSHOT_KEY, &snapshot).await?;
            *self.persisted.borrow_mut() = snapshot;
        }
        match reply {
            Some(reply) => respond::json(200, serde_json::to_vec(&reply)?),
            None => Ok(Response::empty()?.with_status(204)),
        }
    }
}

/// Asks the group's coordinator for a ticket.
pub async fn acquire(env: &Env, group: &str, request: TicketRequest) -> Result<TicketReply> {
    let message = Message::Acquire { group: group.to_owned(), request };
    let mut response = send(env, group, &message).await?;
    if response.status_code() != 200 {
        let text = response.text().await.unwrap_or_default();
        return Err(worker::Error::RustError(format!(
            "coordinator of `{group}` answered {}: {text}",
            response.status_code()
        )));
    }
    response.json().await
}

/// Tells the group's coordinator how a ticket ended.
pub async fn report(env: &Env, group: &str, report: Report) -> Result<()> {
    send(env, group, &Message::Report { group: group.to_owned(), report }).await.map(|_| ())
}

async fn send(env: &Env, group: &str, message: &Message) -> Result<Response> {
    let stub: Stub = env.durable_object("COORDINATOR")?.id_from_name(group)?.get_stub()?;
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_headers(headers).with_body(Some(serde_json::to_string(message)?.into()));
    // A Durable Object's fetch needs a full URL; the host is never resolved.
    stub.fetch_with_request(Request::new_with_init("https://coordinator/", &init)?).await
}
