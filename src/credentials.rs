//! Credentials obtained before a call: Microsoft Entra ID tokens, for Azure
//! deployments that use an app's client credentials.
//!
//! One token per app, cached in the isolate until some minutes before it expires
//! (`switchyard_core::provider::azure::token_answer` says when). While one is being
//! fetched, every request that needs it awaits that same exchange: one exchange at
//! a time, however many requests wait.

use std::cell::RefCell;
use std::collections::HashMap;

use futures_util::future::{FutureExt, LocalBoxFuture, Shared};
use switchyard_core::config::{Access, AzureAccess, AzureCredential, Deployment};
use switchyard_core::failure::Failure;
use switchyard_core::provider::azure::{self, Token};
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
    /// Per app (`tenant/client`).
    static TOKENS: RefCell<HashMap<String, Slot>> = RefCell::new(HashMap::new());
}

/// The bearer token `deployment` is called with, if it needs one obtained: an
/// Entra ID token for an Azure deployment with client credentials. A refused or
/// failed exchange is the deployment's authentication failure.
pub async fn bearer(env: &Env, deployment: &Deployment) -> Result<Option<String>, Failure> {
    let Access::Azure(AzureAccess {
        credential: AzureCredential::ClientSecret { tenant_id, client_id, client_secret },
        ..
    }) = &deployment.access
    else {
        return Ok(None);
    };
    let app = format!("{tenant_id}/{client_id}");
    let now = runtime::now_ms() as u64;
    let exchange = TOKENS.with_borrow_mut(|tokens| match tokens.get(&app) {
        Some(Slot::Ready(token)) if now < token.refresh_at_ms => Err(token.access_token.clone()),
        Some(Slot::Fetching(exchange)) => Ok(exchange.clone()),
        _ => {
            let authority = env.var("AZURE_AUTHORITY_HOST").map(|v| v.to_string());
            let url = azure::token_url(authority.as_deref().unwrap_or(azure::DEFAULT_AUTHORITY), tenant_id);
            let form = azure::token_request(client_id, client_secret.expose());
            let exchange = exchange(url, form).boxed_local().shared();
            tokens.insert(app.clone(), Slot::Fetching(exchange.clone()));
            Ok(exchange)
        }
    });
    let exchange = match exchange {
        Err(cached) => return Ok(Some(cached)),
        Ok(exchange) => exchange,
    };
    let outcome = exchange.await;
    TOKENS.with_borrow_mut(|tokens| match &outcome {
        Ok(token) => tokens.insert(app, Slot::Ready(token.clone())),
        // The next request tries again.
        Err(_) => tokens.remove(&app),
    });
    match outcome {
        Ok(token) => Ok(Some(token.access_token)),
        Err(why) => Err(Failure::upstream(401, why, "authentication_error", Some("entra_token_refused".into()), None)),
    }
}

/// One exchange of the app's credentials for a token.
async fn exchange(url: String, form: String) -> Result<Token, String> {
    let headers = vec![("content-type", "application/x-www-form-urlencoded".to_owned())];
    match attempt::post(&url, &headers, form.as_bytes(), EXCHANGE_TIMEOUT_MS).await {
        Ok((status, body)) => azure::token_answer(status, &body, runtime::now_ms() as u64),
        Err(why) => Err(format!("Entra ID could not be reached for a token: {why}")),
    }
}
