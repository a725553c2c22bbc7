//! Credentials obtained before a call: Microsoft Entra ID tokens, for Azure
//! deployments that use an app's client credentials, and Google access tokens, for
//! Vertex AI deployments, bought with a JWT their service account's key signs.
//!
//! One token per app or service account, cached in the isolate until some minutes
//! before it expires (`switchyard_core::provider::oauth::token_answer` says when).
//! While one is being fetched, every request that needs it awaits that same
//! exchange: one exchange at a time, however many requests wait.

use std::cell::RefCell;
use std::collections::HashMap;

use futures_util::future::{FutureExt, LocalBoxFuture, Shared};
use switchyard_core::config::{Access, AzureAccess, AzureCredential, Deployment, VertexAccess};
use switchyard_core::failure::Failure;
use switchyard_core::provider::azure;
use switchyard_core::provider::oauth::Token;
use switchyard_core::provider::vertex::{self, ServiceAccount};
use wasm_bindgen::JsValue;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen_futures::JsFuture;
use worker::Env;

use crate::{attempt, runtime};

/// How long a token exchange may take.
const EXCHANGE_TIMEOUT_MS: u64 = 10_000;

type Exchange = Shared<LocalBoxFuture<'static, Result<Token, String>>>;

enum Slot {
    Ready(Token),
    Fetching(Exchange),
}

thread_local! {
    /// Per app (`entra/tenant/client`) or service account (`google/email/token_uri`).
    static TOKENS: RefCell<HashMap<String, Slot>> = RefCell::new(HashMap::new());
}

/// The bearer token `deployment` is called with, if it needs one obtained: an
/// Entra ID token for an Azure deployment with client credentials, a Google token
/// for a Vertex AI deployment. A refused or failed exchange is the deployment's
/// authentication failure.
pub async fn bearer(env: &Env, deployment: &Deployment) -> Result<Option<String>, Failure> {
    let (holder, start): (String, Box<dyn FnOnce() -> Exchange>) = match &deployment.access {
        Access::Azure(AzureAccess {
            credential: AzureCredential::ClientSecret { tenant_id, client_id, client_secret },
            ..
        }) => {
            let authority = env.var("AZURE_AUTHORITY_HOST").map(|v| v.to_string());
            let url = azure::token_url(authority.as_deref().unwrap_or(azure::DEFAULT_AUTHORITY), tenant_id);
            let form = azure::token_request(client_id, client_secret.expose());
            (format!("entra/{tenant_id}/{client_id}"), Box::new(move || entra(url, form).boxed_local().shared()))
        }
        Access::Vertex(VertexAccess { account, .. }) => {
            let account = account.clone();
            let holder = format!("google/{}/{}", account.client_email, account.token_uri);
            (holder, Box::new(move || google(account).boxed_local().shared()))
        }
        Access::Plain | Access::Azure(_) | Access::Bedrock(_) => return Ok(None),
    };
    let now = runtime::now_ms() as u64;
    let exchange = TOKENS.with_borrow_mut(|tokens| match tokens.get(&holder) {
        Some(Slot::Ready(token)) if now < token.refresh_at_ms => Err(token.access_token.clone()),
        Some(Slot::Fetching(exchange)) => Ok(exchange.clone()),
        _ => {
            let exchange = start();
            tokens.insert(holder.clone(), Slot::Fetching(exchange.clone()));
            Ok(exchange)
        }
    });
    let exchange = match exchange {
        Err(cached) => return Ok(Some(cached)),
        Ok(exchange) => exchange,
    };
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
