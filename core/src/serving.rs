//! How one client request is served, decided once it is parsed: the group it
//! names, when its own time is up, whether it may wait in a group's queue, and, for
//! each attempt at a deployment, how long the attempt may take and what of the
//! answer the gateway must read. The Worker's `proxy::serve` only carries these
//! decisions out.

use crate::config::{Config, Deployment, ModelGroup, RouterPolicy};
use crate::coordinator::QueueRequest;
use crate::coordinator::local::LocalRouter;
use crate::error::ApiError;
use crate::plan::{Plan, Step};
use crate::request::{CacheControls, ParsedRequest};

/// LiteLLM's default when no timeout is configured anywhere: 10 minutes.
pub const DEFAULT_TIMEOUT_MS: u64 = 600_000;

/// How long one attempt may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// For a complete answer: the whole call. For a stream: until its first event.
    pub first_ms: u64,
    /// For a stream: the longest gap allowed between chunks.
    pub stall_ms: u64,
}

/// What of an answer the gateway must see once it is in. Whatever it need not see
/// goes to the client as the runtime read it, never copied into Wasm.
///
/// The Worker passes it to its stream relay as a number: the values are those of
/// `KEEP` in src/js/fetch-stream.js (tests/unit/js-fetch-stream.test.mjs checks
/// that they agree).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Read {
    /// Nothing.
    Nothing = 0,
    /// The tokens it used (for a tpm, usage-based routing or a ticket's report):
    /// a complete answer read whole, a stream only its end.
    Usage = 1,
    /// All of it, for the cache (and its usage).
    Whole = 2,
}

/// One attempt at a deployment: its deadlines, and what of its answer to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    pub deadlines: Deadlines,
    pub read: Read,
    /// The tokens the answer reports are told to the isolate's router (see
    /// [`LocalRouter::wants_usage`]).
    pub counts_usage: bool,
}

/// A parsed request, with what serving it depends on.
#[derive(Debug)]
pub struct Serving<'c> {
    config: &'c Config,
    /// The group the request names (directly or by alias).
    pub group: &'c ModelGroup,
    /// The request's own timeout: `timeout` in its body, else `x-litellm-timeout`.
    own_timeout_ms: Option<u64>,
    own_stream_timeout_ms: Option<u64>,
    /// When the request's own timeout ends: it bounds the whole request.
    pub deadline_ms: Option<u64>,
    /// Its priority, or the router's default one: then it may wait in the queue.
    pub priority: Option<u32>,
    stream: bool,
    prompt_tokens: u64,
}

impl<'c> Serving<'c> {
    /// Resolves what the request names, at `now_ms`: its group (404 when unknown)
    /// and its own fallbacks (400 naming an unknown one).
    pub fn new(
        config: &'c Config,
        request: &ParsedRequest<'_>,
        header_timeout_ms: Option<u64>,
        now_ms: u64,
    ) -> Result<Self, ApiError> {
        let Some(group) = config.group(&request.model) else {
            return Err(ApiError::ModelNotFound {
                model: request.model.clone(),
                available: config.listed_models().to_vec(),
            });
        };
        if let Some(unknown) = request.policy.fallbacks.iter().flatten().find(|f| config.group(f).is_none()) {
            let message = format!("fallback `{unknown}` is not a model on this gateway");
            return Err(ApiError::InvalidParam { param: "fallbacks", message });
        }
        let own_timeout_ms = request.timeout_ms.or(header_timeout_ms);
        Ok(Self {
            config,
            group,
            own_timeout_ms,
            own_stream_timeout_ms: request.stream_timeout_ms,
            deadline_ms: own_timeout_ms.map(|ms| now_ms.saturating_add(ms)),
            // As in LiteLLM, only requests with a priority wait in the queue, unless
            // the router gives every request a default one.
            priority: request.priority.or(config.router.queue.default_priority),
            stream: request.stream,
            prompt_tokens: request.prompt_tokens,
        })
    }

    /// The router's settings the request is served under.
    pub fn router(&self) -> &'c RouterPolicy {
        &self.config.router
    }

    /// The retry and fallback plan, and its first step.
    pub fn plan(&self, request: &ParsedRequest<'_>) -> (Plan, Step) {
        Plan::new(&self.group.name, request.policy.clone(), self.prompt_tokens, &self.config.router, self.deadline_ms)
    }

    /// The request's place in `group`'s queue when it asks for a ticket at
    /// `now_ms`, if it may wait at all: at most its own timeout's rest, else the
    /// longest of the group's deployments' timeouts, else the router's.
    pub fn queue(&self, group: &ModelGroup, now_ms: u64, waiter: u64) -> Option<QueueRequest> {
        let priority = self.priority?;
        let longest = group.deployments.iter().filter_map(|d| d.timeout_ms).max();
        let max_wait_ms = match self.deadline_ms {
            Some(deadline) => deadline.saturating_sub(now_ms),
            None => longest.or(self.config.router.timeout_ms).unwrap_or(DEFAULT_TIMEOUT_MS),
        };
        Some(QueueRequest { priority, max_wait_ms, waiter })
    }

    /// An attempt at `deployment` starting at `now_ms`. `cache`: the controls of
    /// a request the response cache applies to.
    pub fn attempt(&self, deployment: &Deployment, cache: Option<&CacheControls>, now_ms: u64) -> Attempt {
        let router = &self.config.router;
        let deadlines = if self.stream {
            // `stream_timeout` first at each level: the request's, the deployment's,
            // the router's.
            let ms = self
                .own_stream_timeout_ms
                .or(self.own_timeout_ms)
                .or(deployment.stream_timeout_ms)
                .or(deployment.timeout_ms)
                .or(router.stream_timeout_ms)
                .or(router.timeout_ms)
                .unwrap_or(DEFAULT_TIMEOUT_MS);
            Deadlines { first_ms: ms, stall_ms: ms }
        } else {
            let ms = self.own_timeout_ms.or(deployment.timeout_ms).or(router.timeout_ms).unwrap_or(DEFAULT_TIMEOUT_MS);
            Deadlines { first_ms: ms, stall_ms: ms }
        };
        // No attempt outlives the request's own time.
        let left = self.deadline_ms.map_or(u64::MAX, |deadline| deadline.saturating_sub(now_ms).max(1));
        let deadlines = Deadlines { first_ms: deadlines.first_ms.min(left), stall_ms: deadlines.stall_ms.min(left) };
        let counts_usage = LocalRouter::wants_usage(deployment, router);
        // The whole answer for the cache (a stream only when it may be stored);
        // else its usage, which the metrics and the request log count (and a
        // tpm, usage-based routing, a ticket's report and the cost).
        let read =
            if cache.is_some_and(|controls| !(self.stream && controls.no_store)) { Read::Whole } else { Read::Usage };
        Attempt { deadlines, read, counts_usage }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load;
    use crate::endpoint::Endpoint;

    const CONFIG: &str = "model_list:
  - {model_name: plain, litellm_params: {model: x, api_base: 'https://a.example/v1'}, model_info: {id: p}}
  - {model_name: timed, litellm_params: {model: x, api_base: 'https://a.example/v1', timeout: 4, stream_timeout: 2}, model_info: {id: t}}
  - {model_name: counted, litellm_params: {model: x, api_base: 'https://a.example/v1', tpm: 1000}, model_info: {id: c}}
  - {model_name: priced, litellm_params: {model: x, api_base: 'https://a.example/v1'}, model_info: {id: pr, input_cost_per_token: 0.000001}}
router_settings:
  timeout: 30
  model_group_alias: {alias: plain}
";

    fn config(extra: &str) -> Config {
        load(&format!("{CONFIG}{extra}"), &|_| None).unwrap().config
    }

    fn parse(body: &str) -> ParsedRequest<'_> {
        ParsedRequest::parse(Endpoint::ChatCompletions, body.as_bytes()).unwrap()
    }

    fn deployment<'c>(config: &'c Config, group: &str) -> &'c Deployment {
        &config.group(group).unwrap().deployments[0]
    }

    #[test]
    fn the_group_comes_by_name_or_alias_and_unknown_models_and_fallbacks_are_refused() {
        let config = config("");
        let request = parse(r#"{"model":"alias","messages":[{"role":"user"}]}"#);
        assert_eq!(Serving::new(&config, &request, None, 0).unwrap().group.name, "plain");
        let unknown = parse(r#"{"model":"gpt-9","messages":[{"role":"user"}]}"#);
        assert!(matches!(Serving::new(&config, &unknown, None, 0), Err(ApiError::ModelNotFound { .. })));
        let bad = parse(r#"{"model":"plain","messages":[{"role":"user"}],"fallbacks":["timed","nope"]}"#);
        match Serving::new(&config, &bad, None, 0) {
            Err(ApiError::InvalidParam { param: "fallbacks", message }) => assert!(message.contains("`nope`")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn timeouts_go_request_then_deployment_then_router_then_ten_minutes() {
        let config = config("");
        let at = |group: &str, body: &str, header: Option<u64>| {
            let request = parse(body);
            let serving = Serving::new(&config, &request, header, 0).unwrap();
            serving.attempt(deployment(&config, group), None, 0).deadlines.first_ms
        };
        let plain = r#"{"model":"plain","messages":[{"role":"user"}]}"#;
        assert_eq!(at("plain", plain, None), 30_000, "the router's");
        assert_eq!(at("timed", r#"{"model":"timed","messages":[{"role":"user"}]}"#, None), 4_000);
        assert_eq!(at("timed", r#"{"model":"timed","messages":[{"role":"user"}],"stream":true}"#, None), 2_000);
        assert_eq!(at("timed", r#"{"model":"timed","messages":[{"role":"user"}],"timeout":1}"#, Some(9_000)), 1_000);
        assert_eq!(at("timed", r#"{"model":"timed","messages":[{"role":"user"}]}"#, Some(9_000)), 9_000);
        let bare = load(
            "model_list:\n  - {model_name: m, litellm_params: {model: x, api_base: 'https://a.example/v1'}}\n",
            &|_| None,
        )
        .unwrap()
        .config;
        let request = parse(r#"{"model":"m","messages":[{"role":"user"}]}"#);
        let serving = Serving::new(&bare, &request, None, 0).unwrap();
        assert_eq!(serving.attempt(deployment(&bare, "m"), None, 0).deadlines.first_ms, DEFAULT_TIMEOUT_MS);
    }

    #[test]
    fn the_requests_own_timeout_is_a_deadline_for_every_attempt_and_the_queue() {
        let config = config("  default_priority: 3\n");
        let request = parse(r#"{"model":"timed","messages":[{"role":"user"}],"timeout":10}"#);
        let serving = Serving::new(&config, &request, None, 1_000).unwrap();
        assert_eq!(serving.deadline_ms, Some(11_000));
        let attempt = serving.attempt(deployment(&config, "timed"), None, 7_500);
        assert_eq!(attempt.deadlines, Deadlines { first_ms: 3_500, stall_ms: 3_500 }, "what is left of it");
        let group = config.group("timed").unwrap();
        assert_eq!(serving.queue(group, 9_000, 1), Some(QueueRequest { priority: 3, max_wait_ms: 2_000, waiter: 1 }));
    }

    #[test]
    fn only_requests_with_a_priority_wait_and_for_the_longest_deployment_timeout() {
        let config = config("");
        let plain = parse(r#"{"model":"timed","messages":[{"role":"user"}]}"#);
        let serving = Serving::new(&config, &plain, None, 0).unwrap();
        assert_eq!(serving.queue(config.group("timed").unwrap(), 0, 1), None);
        let urgent = parse(r#"{"model":"timed","messages":[{"role":"user"}],"priority":0}"#);
        let serving = Serving::new(&config, &urgent, None, 0).unwrap();
        let queued = serving.queue(config.group("timed").unwrap(), 0, 1).unwrap();
        assert_eq!((queued.priority, queued.max_wait_ms), (0, 4_000));
        assert_eq!(serving.queue(config.group("plain").unwrap(), 0, 1).unwrap().max_wait_ms, 30_000, "the router's");
    }

    #[test]
    fn what_of_an_answer_is_read() {
        let config = config("");
        let read = |group: &str, body: &str, cache: Option<CacheControls>| {
            let request = parse(body);
            let serving = Serving::new(&config, &request, None, 0).unwrap();
            serving.attempt(deployment(&config, group), cache.as_ref(), 0).read
        };
        let whole = r#"{"model":"plain","messages":[{"role":"user"}]}"#;
        let streamed = r#"{"model":"plain","messages":[{"role":"user"}],"stream":true}"#;
        assert_eq!(read("plain", whole, None), Read::Usage, "the metrics count every answer's tokens");
        assert_eq!(read("plain", streamed, None), Read::Usage, "a stream's at its end");
        assert_eq!(read("plain", whole, Some(CacheControls::default())), Read::Whole);
        let no_store = CacheControls { no_store: true, ..CacheControls::default() };
        assert_eq!(read("plain", streamed, Some(no_store.clone())), Read::Usage, "a stream not stored is not kept");
        assert_eq!(read("plain", whole, Some(no_store)), Read::Whole, "a complete answer is read anyway");
    }
}
