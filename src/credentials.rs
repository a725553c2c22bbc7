//! Credentials obtained before a call: Microsoft Entra ID tokens, for Azure
//! deployments that use an app's client credentials, and Google access tokens, for
//! Vertex AI deployments, bought with a JWT their service account's key signs.
//!
//! One token per app or service account, cached in the isolate until some minutes
//! before it expires (`switchyard_core::provider::oauth::token_answer` says when).
//! While one is being fetched, every other request that needs it waits for that
//! exchange to end: one exchange at a time, however many requests wait.

use std::cell::RefCell;
use std::collections::HashMap;

use std::time::Duration;

use futures_util::future::{FutureExt, LocalBoxFuture};
use switchyard_core::config::{Access, AzureAccess, AzureCredential, Deployment, VertexAccess};
use switchyard_core::failure::Failure;
use switchyard_core::provider::azure;
use switchyard_core::provider::oauth::Token;
use switchyard_core::provider::vertex::{self, ServiceAccount};
use wasm_bindgen::JsValue;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen_futures::JsFuture;
use worker::{Delay, Env};

use crate::{attempt, runtime};

/// How long a token exchange may take.
const EXCHANGE_TIMEOUT_MS: u64 = 10_000;

/// How often a request waiting for another's exchange looks whether it ended.
const WAIT_STEP_MS: u64 = 20;

enum Slot {
    Ready(Token),
    /// A request is exchanging credentials for a token since `since_ms`.
    Fetching {
        since_ms: u64,
    },
}

/// What a request does about a token it needs.
enum Next {
    Use(String),
    /// Another request is fetching it: look again in a moment.
    Wait,
    /// Fetch it: no token, or a stale one, and no other request fetching.
    Fetch,
}

type Exchange = LocalBoxFuture<'static, Result<Token, String>>;

thread_local! {
    /// Per app (`entra/tenant/client`) or service account (`google/email/token_uri`).
    static TOKENS: RefCell<HashMap<String, Slot>> = RefCell::new(HashMap::new());
}

/// The bearer token `deployment` is called with, if it needs one obtained: an
/// Entra ID token for an Azure deployment with client credentials, a Google token
/// for a Vertex AI deployment. A refused or failed exchange is the deployment's
/// authentication failure.
///
/// Requests that need a token another is fetching wait on timers of their own
/// rather than on that request's exchange: the runtime ties every promise to the
/// request that made it, and cancels a request that waits only on another's as
/// hung. An exchange whose request went away (its slot older than an exchange
/// may take) is taken over.
pub async fn bearer(env: &Env, deployment: &Deployment) -> Result<Option<String>, Failure> {
    let (holder, exchange): (String, Exchange) = match &deployment.access {
        Access::Azure(AzureAccess {
            credential: AzureCredential::ClientSecret { tenant_id, client_id, client_secret },
            ..
        }) => {
            let authority = env.var("AZURE_AUTHORITY_HOST").map(|v| v.to_string());
            let url = azure::token_url(authority.as_deref().unwrap_or(azure::DEFAULT_AUTHORITY), tenant_id);
            let form = azure::token_request(client_id, client_secret.expose());
            (format!("entra/{tenant_id}/{client_id}"), entra(url, form).boxed_local())
        }
        Access::Vertex(VertexAccess { account, .. }) => {
            let holder = format!("google/{}/{}", account.client_email, account.token_uri);
            (holder, google(account.clone()).boxed_local())
        }
        Access::Plain | Access::Azure(_) | Access::Bedrock(_) => return Ok(None),
    };
    loop {
        let now = runtime::now_ms() as u64;
        let next = TOKENS.with_borrow_mut(|tokens| match tokens.get(&holder) {
            Some(Slot::Ready(token)) if now < token.refresh_at_ms => Next::Use(token.access_token.clone()),
            Some(Slot::Fetching { since_ms }) if now < since_ms.saturating_add(EXCHANGE_TIMEOUT_MS + WAIT_STEP_MS) => {
                Next::Wait
            }
            _ => {
                tokens.insert(holder.clone(), Slot::Fetching { since_ms: now });
                Next::Fetch
            }
        });
        match next {
            Next::Use(token) => return Ok(Some(token)),
            Next::Wait => Delay::from(Duration::from_millis(WAIT_STEP_MS)).await,
            Next::Fetch => break,
        }
    }
    let outcome = exchange.await;
    TOKENS.with_borrow_mut(|tokens| match &outcome {
        Ok(token) => tokens.insert(holder, Slot::Ready(token.clone())),
        // The next request tries again.
        Err(_) => tokens.remove(&holder),
    });
    match outcome {
        Ok(token) => Ok(Some(token.access_token)),
        Err(why) => Err(Failure::upstream(401, why, "authentication_error", Some("token_refused".into()), None)),
    }
}

/// One exchange of an app's client credentials for an Entra ID token.
async fn entra(url: String, form: String) -> Result<Token, String> {
    match post_form(&url, &form).await {
        Ok((status, body)) => azure::token_answer(status, &body, runtime::now_ms() as u64),
        Err(why) => Err(format!("Entra ID could not be reached for a token: {why}")),
    }
}

/// One exchange of a JWT the service account's key signs for a Google token.
async fn google(account: ServiceAccount) -> Result<Token, String> {
    let (header, claims) = account.jwt_parts((runtime::now_ms() / 1000.0) as u64);
    let signed = JsFuture::from(sign_jwt(account.private_key.expose(), &header, &claims))
        .await
        .map_err(|e| format!("the service account's key could not sign a token request: {}", js_message(&e)))?;
    let assertion = signed.as_string().unwrap_or_default();
    match post_form(&account.token_uri, &vertex::token_request(&assertion)).await {
        Ok((status, body)) => vertex::token_answer(status, &body, runtime::now_ms() as u64),
        Err(why) => Err(format!("Google could not be reached for a token: {why}")),
    }
}

async fn post_form(url: &str, form: &str) -> Result<(u16, Vec<u8>), String> {
    let headers = vec![("content-type", "application/x-www-form-urlencoded".to_owned())];
    attempt::post(url, &headers, form.as_bytes(), EXCHANGE_TIMEOUT_MS).await
}

/// A JavaScript error's message (never the key: WebCrypto's errors do not quote it).
fn js_message(error: &JsValue) -> String {
    js_sys::Reflect::get(error, &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .unwrap_or_else(|| "unknown error".into())
}

#[wasm_bindgen(module = "/src/js/google-jwt.js")]
extern "C" {
    /// `header.claims.signature`, signed RS256 with a PKCS#8 PEM key; rejects when
    /// the key is not one.
    #[wasm_bindgen(js_name = signJwt)]
    fn sign_jwt(pem: &str, header: &str, claims: &str) -> js_sys::Promise;
}
