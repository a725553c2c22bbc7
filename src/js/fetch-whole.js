// A deployment's complete answer: one POST and its whole body under one deadline.
//
// One promise for Wasm to await and no timer of its own, where a `Delay` and two
// awaited promises cost three closures and their microtasks in wasm-bindgen's glue
// (measured, BENCHMARKS.md). Bound in src/attempt.rs.

/**
 * POSTs `body` to `url` with `headers`, then reads the whole answer, both within
 * `ms`: the deadline aborts the call, so the upstream stops working for us.
 * Never rejects. Resolves to one shape, whatever happened:
 * `{ response, body, message, timedOut }`, where `response` is the `Response`
 * (null when none came), `body` its whole body as an `ArrayBuffer` (null when it
 * did not come), and `message` why not (null when it did), `timedOut` whether
 * because the deadline passed.
 */
export async function fetchWhole(url, headers, body, ms) {
  let response = null;
  try {
    response = await fetch(url, { method: "POST", headers, body, signal: AbortSignal.timeout(ms) });
    return { response, body: await response.arrayBuffer(), message: null, timedOut: false };
  } catch (error) {
    const message = String(error?.message ?? error);
    return { response, body: null, message, timedOut: error?.name === "TimeoutError" };
  }
}
