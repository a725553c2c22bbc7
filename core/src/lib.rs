//! Switchyard's core: every decision the gateway makes, as plain Rust.
//!
//! No `worker`, no clock and no random source of its own: time and randomness are
//! arguments, so every decision runs in a native unit test. The Worker crate at the
//! repository's root is the thin shell that feeds it requests and performs its effects.
//!
//! # Layout
//! - [`config`]: LiteLLM's YAML into validated runtime types, with warnings for what
//!   is not supported.
//! - [`provider`]: which providers a deployment's `model` can name, and their endpoints;
//!   the translations of providers that do not speak OpenAI's wire format.
//! - [`openai`]: OpenAI's Chat Completions wire types, the pivot of every translation.
//! - [`inbound`]: the APIs clients speak other than Chat Completions (Anthropic's
//!   Messages API, OpenAI's Responses API), mapped to and from it.
//! - [`sse`]: server-sent events, read incrementally and written.
//! - [`translate`]: the contract those translations share (stream decoders, the OpenAI
//!   SSE encoder).
//! - [`upstream`]: one call to a deployment, whatever its provider: what is sent,
//!   and its answers, streams and errors read as OpenAI's.
//! - [`cors`]: which browser origins may call the gateway.
//! - [`endpoint`]: the OpenAI endpoints served, and a request URL's path.
//! - [`region`]: areas (`eu`, `us`) and the regions of each cloud that lie in them.
//! - [`request`]: the client's request body, parsed once into the fields routing needs,
//!   validated, and rewritten for the upstream.
//! - [`select`]: the weighted random choice of simple-shuffle.
//! - [`coordinator`]: a model group's shared state (cooldowns, rate windows,
//!   in-flight counts, latencies) and the routing strategies, as a state machine.
//! - [`serving`]: how one request is served: its group, deadline and priority, and
//!   each attempt's deadlines and what of its answer to read.
//! - [`plan`]: retries with backoff and fallbacks, as a state machine the Worker drives.
//! - [`jobs`]: the record of an async job (`/queue/request`).
//! - [`failure`]: one classification of a failed attempt, for retry, fallback and cooldown.
//! - [`cache`]: the response cache's keys, controls, entries and stream replay.
//! - [`shape`]: telling a provider's success from garbage, cheaply.
//! - [`usage`]: the tokens an answer, complete or streamed, reports using.
//! - [`cost`]: what an answer cost at its deployment's prices.
//! - [`observe`]: what each request did, for the request log, the callbacks and the
//!   metrics.
//! - [`metrics`]: `GET /metrics` (Prometheus, LiteLLM's names) and the live page's
//!   JSON, from every group's coordinator.
//! - [`mock`]: well-formed answers for `mock_response`, streamed or not.
//! - [`error`]: every error a client can see, with its status and OpenAI's error body.
//! - [`secret`]: secrets that never print.
//! - `fuzzing` (tests and the `fuzzing` feature only): the fuzz targets of every
//!   parser of outside input, and their seeded input generator.

pub mod cache;
pub mod config;
pub mod coordinator;
pub mod cors;
pub mod cost;
pub mod endpoint;
pub mod error;
pub mod failure;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod inbound;
pub mod jobs;
pub mod metrics;
pub mod mock;
pub mod observe;
pub mod openai;
pub mod plan;
pub mod provider;
pub mod region;
pub mod request;
pub mod secret;
pub mod select;
pub mod serving;
pub mod shape;
#[cfg(not(target_arch = "wasm32"))]
pub mod simulation;
pub mod sse;
pub mod translate;
pub mod upstream;
pub mod usage;
