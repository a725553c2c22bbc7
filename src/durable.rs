//! Calling a Durable Object by name, with a JSON body.

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen_futures::JsFuture;
use worker::{Env, Result};

/// An object's answer, read whole.
pub struct ObjectReply {
    pub status: u16,
    pub text: String,
}

/// Sends `body` (a POST; a GET without one) to the object named `name` of the
/// namespace bound as `binding`.
pub async fn call(env: &Env, binding: &str, name: &str, body: Option<String>) -> Result<ObjectReply> {
    let namespace = env.durable_object(binding)?;
    let answer: ObjectAnswer = JsFuture::from(call_object(namespace.as_ref(), name, body)).await?.unchecked_into();
    Ok(ObjectReply { status: answer.status(), text: answer.text() })
}

#[wasm_bindgen(module = "/src/js/durable.js")]
extern "C" {
    /// The object's answer, read whole: one promise for Wasm to await, where
    /// `worker`'s stub, request and response types took a request built field by
    /// field, a response converted back and its body read as a second promise (a
    /// ticket's largest cost after the call itself, `make profile`). Resolves to an
    /// [`ObjectAnswer`]; rejects when the call fails.
    #[wasm_bindgen(js_name = callObject)]
    fn call_object(namespace: &wasm_bindgen::JsValue, name: &str, body: Option<String>) -> js_sys::Promise;

    /// What `callObject` resolves to.
    type ObjectAnswer;
    #[wasm_bindgen(method, getter)]
    fn status(this: &ObjectAnswer) -> u16;
    /// The whole body.
    #[wasm_bindgen(method, getter)]
    fn text(this: &ObjectAnswer) -> String;
}
