// The client's `Response`: built in one call from what Rust assembled, with the few
// headers of the provider's answer that pass, secrets masked in them.
//
// The headers come as one JSON object: a `Headers.set` per header decoded two
// strings across the boundary each, the largest share of what a routed request
// allocated in JavaScript (measured, BENCHMARKS.md). The provider's headers are
// read here, never copied into Wasm. Bound in src/respond.rs.

// The headers of the provider's answer that pass to the client, each with the
// name it gets: the provider's request id under LiteLLM's name for it, as
// `x-request-id` is the gateway's own.
const PASSED = [
  ["content-type", "content-type"],
  ["x-request-id", "llm_provider-x-request-id"],
  ["openai-processing-ms", "openai-processing-ms"],
];

// The secrets of the config in force and what stands for each, longest secret first.
let masks = [];

/**
 * Sets the secrets to mask in the provider's headers that pass: `pairs` is JSON,
 * `[secret, masked]` pairs as the core's `Secrets::pairs` lists them.
 */
export function setMasks(pairs) {
  masks = JSON.parse(pairs).map(([secret, shown]) => ({ secret, shown }));
}

function masked(value) {
  for (const { secret, shown } of masks) if (value.includes(secret)) value = value.split(secret).join(shown);
  return value;
}

/**
 * A `Response` of `body` with `status` and `headers` (a JSON object), and of the
 * `upstream` headers (the provider's answer's, or null), those in `PASSED` that it
 * has, under their passed names, secrets masked.
 */
export function respond(body, status, headers, upstream) {
  const init = { status, headers: JSON.parse(headers) };
  for (const [name, passedAs] of upstream ? PASSED : []) {
    const value = upstream.get(name);
    if (value !== null) init.headers[passedAs] = masks.length ? masked(value) : value;
  }
  return new Response(body, init);
}
