//! Calling a Durable Object by name, with a JSON body.

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen_futures::JsFuture;
use worker::{Env, Result};

/// An object's answer, read whole.
pub struct Answer {
    pub status: u16,
    pub text: String,
}

/// Sends `body` (a POST; a GET without one) to the object named `name` of the
/// namespace bound as `binding`.
pub async fn call(env: &Env, binding: &str, name: &str, body: Option<String>) -> Result<Answer> {
    let namespace = env.durable_object(binding)?;
    let answer: js_sys::Array = JsFuture::from(call_object(namespace.as_ref(), name, body)).await?.unchecked_into();
    let status = answer.get(0).as_f64().unwrap_or_default() as u16;
    Ok(Answer { status, text: answer.get(1).as_string().unwrap_or_default() })
}

#[wasm_bindgen(inline_js = r#"
export async function callObject(namespace, name, body) {
  const stub = namespace.get(namespace.idFromName(name));
  const init = body === undefined
    ? {}
    : { method: "POST", headers: { "content-type": "application/json" }, body };
  // A Durable Object's fetch needs a full URL; the host is never resolved.
  const response = await stub.fetch("https://durable-object/", init);
  return [response.status, await response.text()];
}"#)]
extern "C" {
    /// The object's answer as `[status, text]`: one promise for Wasm to await,
    /// where `worker`'s stub, request and response types took a request built
    /// field by field, a response converted back and its body read as a second
    /// promise (a ticket's largest cost after the call itself, `make profile`).
    #[wasm_bindgen(js_name = callObject)]
    fn call_object(namespace: &wasm_bindgen::JsValue, name: &str, body: Option<String>) -> js_sys::Promise;
}
