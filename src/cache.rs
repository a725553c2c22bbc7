//! The response cache in the KV namespace bound as `CACHE`.
//!
//! Reads are on the request's path; writes are not (they run in the background).
//! A KV failure only skips the cache: it never fails the request.

use switchyard_core::cache::{self, Entry, MAX_ENTRY_BYTES};
use switchyard_core::config::CachePolicy;
use switchyard_core::endpoint::Endpoint;
use switchyard_core::inbound::client::Client;
use switchyard_core::request::{CacheControls, ParsedRequest};
use switchyard_core::secret::Secrets;
use worker::{Env, console_error};

use crate::attempt::{self, Answer};
use crate::respond::{Body, Reply};
use crate::runtime;

const BINDING: &str = "CACHE";

/// A request the cache applies to: its key and its own controls.
#[derive(Clone)]
pub struct Cached {
    pub key: String,
    pub controls: CacheControls,
}

impl Cached {
    /// `Some` when the cache is on for this endpoint; `api_key` scopes the entry.
    pub fn of(policy: &CachePolicy, request: &ParsedRequest<'_>, group: &str, api_key: Option<&str>) -> Option<Self> {
        if !policy.applies_to(request.endpoint) {
            return None;
        }
        let key = cache::key(policy, &request.cache, api_key, group, request);
        Some(Self { key, controls: request.cache.clone() })
    }

    /// The stored answer, replayed as the request wants it, if there is one it
    /// accepts. A client of another API than Chat Completions gets the stored chat
    /// answer as its own, or the answer in its own API as it was stored (to a
    /// request that does not stream).
    pub async fn lookup(&self, env: &Env, endpoint: Endpoint, stream: bool, client: Option<&Client>) -> Option<Reply> {
        if self.controls.no_cache {
            return None;
        }
        let kv = env.kv(BINDING).ok()?;
        let entry: Entry = match kv.get(&self.key).text().await {
            Ok(Some(text)) => serde_json::from_str(&text).ok()?,
            Ok(None) => return None,
            Err(error) => {
                console_error!("cache lookup failed, calling the deployment: {error}");
                return None;
            }
        };
        if !entry.acceptable(runtime::now_ms() as u64, &self.controls) {
            return None;
        }
        let mut hit = match client {
            // A client's own answer, as its deployment gave it: whole only.
            Some(_) if entry.native => {
                if stream {
                    return None;
                }
                let body = Body::Bytes(entry.response.get().as_bytes().to_vec());
                Reply::new(200, vec![("content-type", "application/json".into())], body)
            }
            Some(client) => {
                let body = entry.replay(Endpoint::ChatCompletions, stream);
                let chat = attempt::ChatAnswer { body, stream, usage: None };
                match attempt::for_client(client, chat, 0, &Secrets::default(), "cache") {
                    Ok(Answer::Complete { status, headers, body, .. }) => Reply::new(status, headers, body),
                    // A stored answer that does not read is a miss.
                    Ok(Answer::Stream { .. }) | Err(_) => return None,
                }
            }
            None => {
                let streamed = stream && endpoint != Endpoint::Embeddings;
                let content_type = if streamed { "text/event-stream" } else { "application/json" };
                let body = Body::Bytes(entry.replay(endpoint, stream));
                Reply::new(200, vec![("content-type", content_type.into())], body)
            }
        };
        self.mark(&mut hit, "HIT");
        Some(hit)
    }

    /// `x-litellm-cache-key` and `x-cache`.
    pub fn mark(&self, reply: &mut Reply, outcome: &str) {
        reply.set("x-litellm-cache-key", self.key.as_str());
        reply.set("x-cache", outcome);
    }

    /// The work that stores a successful answer, for the background: `body` is its
    /// JSON, or for a streamed answer its SSE, stored as the complete answer it adds
    /// up to. `None` when it is not to be stored (no-store, a cut or unreadable
    /// answer, over the size bound).
    pub fn store(
        &self,
        env: &Env,
        policy: &CachePolicy,
        endpoint: Endpoint,
        streamed: bool,
        body: &[u8],
    ) -> Option<impl std::future::Future<Output = ()> + 'static> {
        if self.controls.no_store {
            return None;
        }
        let response = if streamed {
            serde_json::value::to_raw_value(&cache::assemble_stream(endpoint, body)?).ok()?
        } else {
            serde_json::from_slice::<Box<serde_json::value::RawValue>>(body).ok()?
        };
        let entry = serde_json::to_string(&Entry::new(runtime::now_ms() as u64, response, endpoint)).ok()?;
        if entry.len() > MAX_ENTRY_BYTES {
            return None;
        }
        let (env, key, ttl) = (env.clone(), self.key.clone(), cache::ttl_s(&self.controls, policy));
        Some(async move {
            let put = match env.kv(BINDING) {
                Ok(kv) => match kv.put(&key, entry) {
                    Ok(put) => put.expiration_ttl(ttl).execute().await.map_err(|e| e.to_string()),
                    Err(error) => Err(error.to_string()),
                },
                Err(error) => Err(error.to_string()),
            };
            if let Err(error) = put {
                console_error!("cache write skipped: {error}");
            }
        })
    }
}
