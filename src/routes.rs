//! Which handler answers which method and path; authentication.

use futures_util::future::join_all;
use serde_json::json;
use switchyard_core::config::Config;
use switchyard_core::error::ApiError;
use switchyard_core::request::{Endpoint, url_path};
use worker::{Context, Env, Method, Result};

use crate::respond::Reply;
use crate::{config_source, coordinator, jobs, proxy, runtime};

enum Route {
    Liveliness,
    Readiness,
    /// Calls that need the config and, when a master key is set, authentication.
    Api(Api),
}

enum Api {
    Models,
    QueueStatus,
    SubmitJob,
    JobResponse(String),
    Proxy(Endpoint),
}

/// `req` is the runtime's own: converting it into a `worker::Request` would read
/// every property up front, `cf` included (an object built per request).
pub async fn handle(req: web_sys::Request, env: Env, ctx: Context) -> Result<Reply> {
    let route = match route(&Method::from(req.method()), url_path(&req.url())) {
        Ok(route) => route,
        Err(error) => return Ok(Reply::error(&error)),
    };
    match route {
        Route::Liveliness => Ok(Reply::json(200, br#"{"status":"alive"}"#.to_vec())),
        // Not ready while the config cannot be used; no key needed to ask.
        Route::Readiness => match config_source::current(&env).await {
            Ok(_) => Ok(Reply::json(200, br#"{"status":"healthy"}"#.to_vec())),
            Err(error) => Ok(Reply::json(503, error.body())),
        },
        Route::Api(api) => {
            let config = match config_source::current(&env).await {
                Ok(config) => config,
                Err(error) => return Ok(Reply::error(&error)),
            };
            if let Err(error) = authenticate(&req, &config) {
                return Ok(Reply::error(&error));
            }
            match api {
                Api::Models => models(&config),
                Api::QueueStatus => queue_status(&env, &config).await,
                Api::SubmitJob => jobs::submit(&runtime::whole_body(req.array_buffer()).await?, &env, &config).await,
                Api::JobResponse(id) => jobs::response(&id, &env).await,
                Api::Proxy(endpoint) => proxy::handle(endpoint, req, &env, &ctx, &config).await,
            }
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
        "/models" => (Route::Api(Api::Models), Method::Get),
        "/queue/status" => (Route::Api(Api::QueueStatus), Method::Get),
        "/queue/request" => (Route::Api(Api::SubmitJob), Method::Post),
        p if p.starts_with("/queue/response/") => {
            (Route::Api(Api::JobResponse(p.trim_start_matches("/queue/response/").to_owned())), Method::Get)
        }
        "/health/liveliness" | "/health/liveness" => (Route::Liveliness, Method::Get),
        "/health/readiness" => (Route::Readiness, Method::Get),
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

/// With a master key configured, every API call must carry it as a bearer token.
fn authenticate(req: &web_sys::Request, config: &Config) -> std::result::Result<(), ApiError> {
    let Some(master_key) = &config.master_key else {
        return Ok(());
    };
    let token = api_key(req).ok_or(ApiError::MissingApiKey)?;
    if master_key.matches(&token) { Ok(()) } else { Err(ApiError::InvalidApiKey) }
}

/// The caller's key: the `Authorization` header's bearer token.
pub fn api_key(req: &web_sys::Request) -> Option<String> {
    let header = req.headers().get("authorization").ok().flatten()?;
    let token = header.strip_prefix("Bearer ").or_else(|| header.strip_prefix("bearer ")).unwrap_or(&header);
    Some(token.trim().to_owned())
}

/// Every group's queue, asked of their coordinators at once.
async fn queue_status(env: &Env, config: &Config) -> Result<Reply> {
    let statuses = join_all(config.groups().iter().map(|group| coordinator::status(env, &group.name))).await;
    let groups = statuses.into_iter().collect::<Result<Vec<_>>>()?;
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
