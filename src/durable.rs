//! Calling a Durable Object by name, with a JSON body.

use worker::{Env, Headers, Method, Request, RequestInit, Response, Result, Stub};

/// Sends `body` to the object named `name` of the namespace bound as `binding`.
pub async fn call(env: &Env, binding: &str, name: &str, method: Method, body: Option<String>) -> Result<Response> {
    let stub: Stub = env.durable_object(binding)?.id_from_name(name)?.get_stub()?;
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    let mut init = RequestInit::new();
    init.with_method(method).with_headers(headers).with_body(body.map(Into::into));
    // A Durable Object's fetch needs a full URL; the host is never resolved.
    stub.fetch_with_request(Request::new_with_init("https://durable-object/", &init)?).await
}
