//! Calling a Durable Object by name, with a JSON body.

use std::fmt;

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen_futures::JsFuture;
use worker::{Env, Result};

/// An object's answer, read whole.
pub struct ObjectReply {
    pub status: u16,
    pub text: String,
}

/// Why a call to an object failed.
#[derive(Debug)]
pub enum CallError {
    /// Cloudflare refused it because the object is overloaded (the thrown error's
    /// `.overloaded`): its docs say never to retry such a call, which only adds to
    /// the load.
    Overloaded(String),
    /// Any other failure: the binding, a reset, the network.
    Failed(worker::Error),
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Overloaded(message) => write!(f, "overloaded: {message}"),
            Self::Failed(error) => error.fmt(f),
        }
    }
}

impl From<worker::Error> for CallError {
    fn from(error: worker::Error) -> Self {
        Self::Failed(error)
    }
}

impl From<serde_json::Error> for CallError {
    fn from(error: serde_json::Error) -> Self {
        Self::Failed(error.into())
    }
}

impl From<CallError> for worker::Error {
    fn from(error: CallError) -> Self {
        match error {
            CallError::Overloaded(_) => Self::RustError(error.to_string()),
            CallError::Failed(error) => error,
        }
    }
}

/// How an object that calls another for its caller (a relay, `crate::relay`)
/// says that the other refused as overloaded: a 503 whose text starts so,
/// read back as [`CallError::Overloaded`] by [`passed_on`].
pub const PASSED_ON_OVERLOADED: &str = "overloaded: ";

/// An object's answer, an overloaded refusal it passed on told apart.
pub fn passed_on(answer: ObjectReply) -> std::result::Result<ObjectReply, CallError> {
    match answer.text.strip_prefix(PASSED_ON_OVERLOADED) {
        Some(detail) if answer.status == 503 => Err(CallError::Overloaded(detail.to_owned())),
        _ => Ok(answer),
    }
}

/// Sends `body` (a POST; a GET without one) to the object named `name` of the
/// namespace bound as `binding`.
pub async fn call(env: &Env, binding: &str, name: &str, body: Option<String>) -> Result<ObjectReply> {
    Ok(call_located(env, binding, name, None, body).await?)
}

/// [`call`], the object created near `location` (a Durable Objects location hint)
/// if it does not exist yet, and an overloaded object's refusal told apart.
pub async fn call_located(
    env: &Env,
    binding: &str,
    name: &str,
    location: Option<&str>,
    body: Option<String>,
) -> std::result::Result<ObjectReply, CallError> {
    let namespace = env.durable_object(binding)?;
    let answer = match JsFuture::from(call_object(namespace.as_ref(), name, body, location)).await {
        Ok(answer) => answer.unchecked_into::<ObjectAnswer>(),
        Err(error) if overloaded(&error) => return Err(CallError::Overloaded(worker::Error::from(error).to_string())),
        Err(error) => return Err(CallError::Failed(error.into())),
    };
    Ok(ObjectReply { status: answer.status(), text: answer.text() })
}

/// Whether a thrown error is Cloudflare's "Durable Object is overloaded".
fn overloaded(error: &wasm_bindgen::JsValue) -> bool {
    js_sys::Reflect::get(error, &"overloaded".into()).is_ok_and(|flag| flag.is_truthy())
}

#[wasm_bindgen(module = "/src/js/durable.js")]
extern "C" {
    /// The object's answer, read whole: one promise for Wasm to await, where
    /// `worker`'s stub, request and response types took a request built field by
    /// field, a response converted back and its body read as a second promise (a
    /// ticket's largest cost after the call itself, `make profile`). Resolves to an
    /// [`ObjectAnswer`]; rejects when the call fails.
    #[wasm_bindgen(js_name = callObject)]
    fn call_object(
        namespace: &wasm_bindgen::JsValue,
        name: &str,
        body: Option<String>,
        location_hint: Option<&str>,
    ) -> js_sys::Promise;

    /// What `callObject` resolves to.
    type ObjectAnswer;
    #[wasm_bindgen(method, getter)]
    fn status(this: &ObjectAnswer) -> u16;
    /// The whole body.
    #[wasm_bindgen(method, getter)]
    fn text(this: &ObjectAnswer) -> String;
}
