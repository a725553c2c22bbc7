//! Which handler answers which method and path; authentication.

use serde_json::json;
use switchyard_core::config::Config;
use switchyard_core::error::ApiError;
use switchyard_core::request::Endpoint;
use worker::{Context, Env, Method, Request, Response, Result};

use crate::{config_source, proxy, respond};

enum Route {
    Liveliness,
    Readiness,
    Models,
    Proxy(Endpoint),
}

pub async fn handle(req: Request, env: Env, ctx: Context) -> Result<Response> {
    let route = match route(&req.method(), &req.path()) {
        Ok(route) => route,
        Err(error) => return respond::error(&error),
    };
    if let Route::Liveliness = route {
        return respond::json(200, br#"{"status":"alive"}"#.to_vec());
    }
    let config = match config_source::current(&env).await {
        Ok(config) => config,
        // Readiness says "not ready" rather than passing on a server error.
        Err(error) if matches!(route, Route::Readiness) => return respond::json(503, error.body()),
        Err(error) => return respond::error(&error),
    };
    if let Err(error) = authenticate(&req, &config) {
        if !matches!(route, Route::Readiness) {
            return respond::error(&error);
        }
    }
    match route {
        Route::Liveliness | Route::Readiness => respond::json(200, br#"{"status":"healthy"}"#.to_vec()),
        Route::Models => models(&config),
        Route::Proxy(endpoint) => proxy::handle(endpoint, req, &config, &ctx).await,
    }
}

fn route(method: &Method, path: &str) -> std::result::Result<Route, ApiError> {
    // Every OpenAI path is served with and without the `/v1` prefix, as LiteLLM does.
    let path = path.strip_prefix("/v1").filter(|p| p.starts_with('/')).unwrap_or(path);
    let (route, allowed) = match path {
        "/chat/completions" => (Route::Proxy(Endpoint::ChatCompletions), Method::Post),
        "/completions" => (Route::Proxy(Endpoint::Completions), Method::Post),
        "/embeddings" => (Route::Proxy(Endpoint::Embeddings), Method::Post),
        "/models" => (Route::Models, Method::Get),
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
fn authenticate(req: &Request, config: &Config) -> std::result::Result<(), ApiError> {
    let Some(master_key) = &config.master_key else {
        return Ok(());
    };
    let header = req.headers().get("authorization").ok().flatten().ok_or(ApiError::MissingApiKey)?;
    let token = header.strip_prefix("Bearer ").or_else(|| header.strip_prefix("bearer ")).unwrap_or(&header);
    if master_key.matches(token.trim()) { Ok(()) } else { Err(ApiError::InvalidApiKey) }
}

fn models(config: &Config) -> Result<Response> {
    let data: Vec<_> = config
        .listed_models()
        .iter()
        .map(|id| json!({"id": id, "object": "model", "created": 0, "owned_by": "switchyard"}))
        .collect();
    respond::json(200, serde_json::to_vec(&json!({"object": "list", "data": data}))?)
}
