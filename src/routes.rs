//! Which handler answers which method and path; authentication.

use futures_util::future::join_all;
use serde_json::json;
use switchyard_core::config::Config;
use switchyard_core::cors::{self, AllowedOrigins};
use switchyard_core::endpoint::{Endpoint, url_path};
use switchyard_core::error::ApiError;
use worker::{Context, Env, Method, Result};

use crate::config_source::Current;
use crate::respond::{Body, Reply};
use crate::{clients, config_source, coordinator, jobs, local_route, metrics, proxy, runtime, ui};

enum Route {
    Liveliness,
    Readiness,
    /// The live page's files: no data in them, so no key (`/ui/state` needs it).
    Ui(ui::Asset),
    /// Calls that need the config and, when a master key is set, authentication.
    Api(Api),
}

enum Api {
    Models,
    QueueStatus,
    /// What every coordinator and this isolate hold: master key only.
    DebugState,
    SubmitJob,
    JobResponse(String),
    Proxy(Endpoint),
    /// Anthropic's `POST /v1/messages/count_tokens`.
    CountTokens,
    /// `GET /v1/responses/{id}`.
    StoredResponse(String),
    /// Prometheus' exposition (`GET /metrics`).
    Metrics,
    /// The live page's JSON (`GET /ui/state`).
    PageState,
}

impl Api {
    /// The endpoint whose clients read this call's errors: Anthropic's shape for
    /// the Messages API's calls.
    fn endpoint(&self) -> Endpoint {
        match self {
            Self::Proxy(endpoint) => *endpoint,
            Self::CountTokens => Endpoint::Messages,
            Self::Models
            | Self::QueueStatus
            | Self::DebugState
            | Self::SubmitJob
            | Self::JobResponse(_)
            | Self::StoredResponse(_)
            | Self::Metrics
            | Self::PageState => Endpoint::ChatCompletions,
        }
    }
}

/// `req` is the runtime's own: converting it into a `worker::Request` would read
/// every property up front, `cf` included (an object built per request).
pub async fn handle(req: web_sys::Request, env: Env, ctx: Context) -> Result<Reply> {
    // Only browsers send an `Origin`: they alone get CORS headers.
    let origin = req.headers().get("origin").ok().flatten();
    let method = Method::from(req.method());
    if method == Method::Options {
        return preflight(&req, origin.as_deref(), &env).await;
    }
    let mut reply = serve(&method, req, &env, ctx).await?;
    if let Some(origin) = origin
        && let Some(allowed) = allowed_origins(&env).await.allow(&origin)
    {
        if allowed != "*" {
            reply.set("vary", "origin");
        }
        reply.set("access-control-allow-origin", allowed);
        reply.set("access-control-expose-headers", cors::EXPOSED_HEADERS);
    }
    Ok(reply)
}

/// Answers a browser's preflight: allowed origins get what they asked to send,
/// others a 403 (the browser then refuses to send the request).
async fn preflight(req: &web_sys::Request, origin: Option<&str>, env: &Env) -> Result<Reply> {
    let Some(allowed) = allowed_origins(env).await.allow(origin.unwrap_or("")) else {
        let message = format!("origin `{}` is not in general_settings.allowed_origins", origin.unwrap_or(""));
        return Ok(Reply::error(&ApiError::InvalidParam { param: "origin", message }).with_status(403));
    };
    let requested = req.headers().get("access-control-request-headers").ok().flatten();
    Ok(Reply::new(204, cors::preflight_headers(allowed, requested.as_deref()), Body::Bytes(Vec::new())))
}

/// The origins the config in force allows; every origin while no config loads.
async fn allowed_origins(env: &Env) -> AllowedOrigins {
    config_source::current(env).await.map(|current| current.config.allowed_origins.clone()).unwrap_or_default()
}

async fn serve(method: &Method, req: web_sys::Request, env: &Env, ctx: Context) -> Result<Reply> {
    let route = match route(method, url_path(&req.url())) {
        Ok(route) => route,
        Err(error) => return Ok(Reply::error(&error)),
    };
    match route {
        Route::Liveliness => Ok(Reply::json(200, br#"{"status":"alive"}"#.to_vec())),
        // Not ready while no config can be used; degraded while the newest one
        // cannot and the last that loaded serves. No key needed to ask.
        Route::Readiness => match config_source::current(env).await {
            Ok(Current { error: None, .. }) => Ok(Reply::json(200, br#"{"status":"healthy"}"#.to_vec())),
            Ok(Current { error: Some(error), .. }) => {
                let body =
                    json!({"status": "degraded", "serving": "the last config that loaded", "config_error": &*error});
                Ok(Reply::json(200, serde_json::to_vec(&body)?))
            }
            Err(error) => Ok(Reply::json(503, error.body())),
        },
        Route::Ui(asset) => Ok(asset.reply()),
        Route::Api(api) => {
            let Current { config, error: config_error } = match config_source::current(env).await {
                Ok(current) => current,
                Err(error) => return Ok(Reply::error_for(api.endpoint(), &error)),
            };
            let mut reply = match authenticate(&req, &config) {
                Err(error) => Reply::error_for(api.endpoint(), &error),
                Ok(()) => match api {
                    Api::Models => models(&config)?,
                    Api::QueueStatus => queue_status(env, &config).await?,
                    Api::DebugState => debug_state(env, &config).await?,
                    Api::SubmitJob => {
                        let body = runtime::whole_body(req.array_buffer()).await?;
                        jobs::submit(&body, api_key(&req).as_deref(), env, &config).await?
                    }
                    Api::JobResponse(id) => jobs::response(&id, api_key(&req).as_deref(), env).await?,
                    Api::Proxy(endpoint) => {
                        let api_key = api_key(&req);
                        proxy::handle(endpoint, req, api_key, env, &ctx, &config).await?
                    }
                    Api::CountTokens => {
                        let body = runtime::whole_body(req.array_buffer()).await?;
                        clients::count_tokens(&req, &body, &config).await?
                    }
                    Api::StoredResponse(id) => clients::stored_response(&id, api_key(&req).as_deref(), env).await?,
                    Api::Metrics => metrics::exposition(env, &config).await?,
                    Api::PageState => metrics::page_state(env, &config).await?,
                },
            };
            if let Some(error) = config_error {
                reply.set("x-switchyard-config-error", header_value(&error));
            }
            Ok(reply)
        }
    }
}

fn route(method: &Method, path: &str) -> std::result::Result<Route, ApiError> {
    // Every OpenAI path is served with and without the `/v1` prefix, as LiteLLM does.
    let path = path.strip_prefix("/v1").filter(|p| p.starts_with('/')).unwrap_or(path);
    let (route, allowed) = match path {
        // LiteLLM's queue endpoint: the same as chat completions, `priority` honoured.
        "/chat/completions" | "/queue/chat/completions" => {
            (Route::Api(Api::Proxy(Endpoint::ChatCompletions)), Method::Post)
        }
        "/completions" => (Route::Api(Api::Proxy(Endpoint::Completions)), Method::Post),
        "/embeddings" => (Route::Api(Api::Proxy(Endpoint::Embeddings)), Method::Post),
        "/messages" => (Route::Api(Api::Proxy(Endpoint::Messages)), Method::Post),
        "/messages/count_tokens" => (Route::Api(Api::CountTokens), Method::Post),
        "/responses" => (Route::Api(Api::Proxy(Endpoint::Responses)), Method::Post),
        p if p.starts_with("/responses/") => {
            (Route::Api(Api::StoredResponse(p.trim_start_matches("/responses/").to_owned())), Method::Get)
        }
        "/models" => (Route::Api(Api::Models), Method::Get),
        "/queue/status" => (Route::Api(Api::QueueStatus), Method::Get),
        "/debug/state" => (Route::Api(Api::DebugState), Method::Get),
        "/metrics" => (Route::Api(Api::Metrics), Method::Get),
        "/ui/state" => (Route::Api(Api::PageState), Method::Get),
        "/queue/request" => (Route::Api(Api::SubmitJob), Method::Post),
        p if p.starts_with("/queue/response/") => {
            (Route::Api(Api::JobResponse(p.trim_start_matches("/queue/response/").to_owned())), Method::Get)
        }
        "/health/liveliness" | "/health/liveness" => (Route::Liveliness, Method::Get),
        "/health/readiness" => (Route::Readiness, Method::Get),
        "/ui" | "/ui/" => (Route::Ui(ui::Asset::Page), Method::Get),
        "/ui/app.js" => (Route::Ui(ui::Asset::Script), Method::Get),
        "/ui/app.css" => (Route::Ui(ui::Asset::Style), Method::Get),
        _ => return Err(ApiError::RouteNotFound { method: method.to_string(), path: path.to_owned() }),
    };
    if *method == allowed || (*method == Method::Head && allowed == Method::Get) {
        Ok(route)
    } else {
        Err(ApiError::MethodNotAllowed {
            method: method.to_string(),
            path: path.to_owned(),
            allowed: if allowed == Method::Post { "POST" } else { "GET" },
        })
    }
}

/// A text as one header line: printable ASCII, at most 300 characters.
fn header_value(text: &str) -> String {
    let line: String = text.chars().map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { ' ' }).collect();
    match line.char_indices().nth(300) {
        Some((cut, _)) => format!("{}...", &line[..cut]),
        None => line,
    }
}

/// With a master key configured, every API call must carry it as a bearer token.
fn authenticate(req: &web_sys::Request, config: &Config) -> std::result::Result<(), ApiError> {
    let Some(master_key) = &config.master_key else {
        return Ok(());
    };
    let token = api_key(req).ok_or(ApiError::MissingApiKey)?;
    if master_key.matches(&token) { Ok(()) } else { Err(ApiError::InvalidApiKey) }
}

/// The caller's key: the `Authorization` header's bearer token, else the
/// `x-api-key` header (what Anthropic's SDKs send).
fn api_key(req: &web_sys::Request) -> Option<String> {
    let headers = req.headers();
    if let Some(header) = headers.get("authorization").ok().flatten() {
        let token = header.strip_prefix("Bearer ").or_else(|| header.strip_prefix("bearer ")).unwrap_or(&header);
        return Some(token.trim().to_owned());
    }
    headers.get("x-api-key").ok().flatten().map(|key| key.trim().to_owned())
}

/// Every group's queue, asked of their coordinators at once.
async fn queue_status(env: &Env, config: &Config) -> Result<Reply> {
    let statuses = join_all(config.groups().iter().map(|group| coordinator::status(env, &group.name))).await;
    let groups = statuses.into_iter().collect::<Result<Vec<_>>>()?;
    Ok(Reply::json(200, serde_json::to_vec(&json!({ "groups": groups }))?))
}

/// Every group's coordinator holdings beside the leases this isolate holds: what
/// is granted and not yet given back. Only with a master key configured (and sent):
/// it shows the gateway's inner workings.
async fn debug_state(env: &Env, config: &Config) -> Result<Reply> {
    if config.master_key.is_none() {
        let message = "/debug/state needs general_settings.master_key to be set".to_owned();
        return Ok(Reply::error(&ApiError::InvalidParam { param: "master_key", message }).with_status(403));
    }
    let holdings = join_all(config.groups().iter().map(|group| coordinator::holdings(env, &group.name))).await;
    let mut groups = Vec::new();
    for (group, holdings) in config.groups().iter().zip(holdings) {
        let isolate: Vec<_> = local_route::held(&group.name)
            .into_iter()
            .map(|(id, lease)| json!({"deployment": id, "minute": lease.minute, "requests": lease.requests, "tokens": lease.tokens}))
            .collect();
        groups.push(json!({"coordinator": holdings?, "isolate_leases": isolate}));
    }
    Ok(Reply::json(200, serde_json::to_vec(&json!({ "groups": groups }))?))
}

fn models(config: &Config) -> Result<Reply> {
    let data: Vec<_> = config
        .listed_models()
        .iter()
        .map(|id| json!({"id": id, "object": "model", "created": 0, "owned_by": "switchyard"}))
        .collect();
    Ok(Reply::json(200, serde_json::to_vec(&json!({"object": "list", "data": data}))?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routed(method: Method, path: &str) -> std::result::Result<Route, ApiError> {
        route(&method, path)
    }

    #[test]
    fn openai_paths_route_with_and_without_v1() {
        for path in
            ["/v1/chat/completions", "/chat/completions", "/queue/chat/completions", "/v1/queue/chat/completions"]
        {
            assert!(
                matches!(routed(Method::Post, path), Ok(Route::Api(Api::Proxy(Endpoint::ChatCompletions)))),
                "{path}"
            );
        }
        assert!(matches!(routed(Method::Post, "/v1/embeddings"), Ok(Route::Api(Api::Proxy(Endpoint::Embeddings)))));
        assert!(matches!(routed(Method::Get, "/models"), Ok(Route::Api(Api::Models))));
        assert!(matches!(routed(Method::Head, "/v1/models"), Ok(Route::Api(Api::Models))), "HEAD as GET");
        assert!(matches!(routed(Method::Get, "/health/liveness"), Ok(Route::Liveliness)));
        assert!(matches!(routed(Method::Get, "/debug/state"), Ok(Route::Api(Api::DebugState))));
        assert!(matches!(routed(Method::Get, "/ui"), Ok(Route::Ui(ui::Asset::Page))));
        assert!(matches!(routed(Method::Get, "/ui/"), Ok(Route::Ui(ui::Asset::Page))));
        assert!(matches!(routed(Method::Get, "/ui/app.js"), Ok(Route::Ui(ui::Asset::Script))));
        assert!(matches!(routed(Method::Get, "/ui/app.css"), Ok(Route::Ui(ui::Asset::Style))));
        assert!(matches!(routed(Method::Get, "/ui/page.html"), Err(ApiError::RouteNotFound { .. })));
        assert!(matches!(routed(Method::Get, "/metrics"), Ok(Route::Api(Api::Metrics))));
        assert!(matches!(routed(Method::Get, "/ui/state"), Ok(Route::Api(Api::PageState))));
        assert!(matches!(routed(Method::Post, "/v1/messages"), Ok(Route::Api(Api::Proxy(Endpoint::Messages)))));
        assert!(matches!(routed(Method::Post, "/v1/messages/count_tokens"), Ok(Route::Api(Api::CountTokens))));
        assert!(matches!(routed(Method::Post, "/responses"), Ok(Route::Api(Api::Proxy(Endpoint::Responses)))));
        match routed(Method::Get, "/v1/responses/resp_abc") {
            Ok(Route::Api(Api::StoredResponse(id))) => assert_eq!(id, "resp_abc"),
            _ => panic!("a stored response's path routes to it"),
        }
        match routed(Method::Get, "/queue/response/job-abc") {
            Ok(Route::Api(Api::JobResponse(id))) => assert_eq!(id, "job-abc"),
            _ => panic!("a job's path routes to it"),
        }
    }

    #[test]
    fn unknown_paths_are_404_and_wrong_methods_405_naming_the_right_one() {
        assert!(matches!(routed(Method::Get, "/v2/chat/completions"), Err(ApiError::RouteNotFound { .. })));
        assert!(matches!(routed(Method::Post, "/v1"), Err(ApiError::RouteNotFound { .. })));
        match routed(Method::Get, "/v1/chat/completions") {
            Err(ApiError::MethodNotAllowed { allowed: "POST", .. }) => {}
            _ => panic!("GET on a POST endpoint"),
        }
        assert!(matches!(routed(Method::Post, "/models"), Err(ApiError::MethodNotAllowed { allowed: "GET", .. })));
    }

    #[test]
    fn a_header_value_is_one_printable_line() {
        assert_eq!(header_value("config error at `a.b`:\nbad\tvalue"), "config error at `a.b`: bad value");
        assert_eq!(header_value("é"), " ");
        let long = header_value(&"x".repeat(1_000));
        assert_eq!(long.len(), 303);
        assert!(long.ends_with("..."));
    }
}
