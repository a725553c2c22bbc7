// A call to a Durable Object by name, its answer read whole.
//
// One promise for Wasm to await, where `worker`'s stub, request and response types
// took a request built field by field, a response converted back and its body read
// as a second promise (a ticket's largest cost after the call itself, `make
// profile`). Bound in src/durable.rs.

/**
 * Sends `body` (JSON text: a POST; `undefined`: a GET) to the object named `name`
 * of `namespace`, created near `locationHint` (one of Cloudflare's location hints,
 * or `undefined`) if it does not exist yet: Cloudflare reads the hint only when it
 * creates the object. Resolves to `{ status, text }`, the answer's status and its
 * whole body as text; rejects with the error the call threw (an overloaded object's
 * has `.overloaded` set) when it fails.
 */
export async function callObject(namespace, name, body, locationHint) {
  const id = namespace.idFromName(name);
  const stub = locationHint === undefined ? namespace.get(id) : namespace.get(id, { locationHint });
  const init = body === undefined ? {} : { method: "POST", headers: { "content-type": "application/json" }, body };
  // A Durable Object's fetch needs a full URL; the host is never resolved.
  const response = await stub.fetch("https://durable-object/", init);
  return { status: response.status, text: await response.text() };
}
