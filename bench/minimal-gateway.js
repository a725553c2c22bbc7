// The least any gateway of this kind does per request, in JavaScript: parse the
// body and rewrite its model, call the upstream with its key under a deadline,
// read the answer whole (so that a stall could still be retried elsewhere), and
// answer with headers of its own. No routing, limits, retries or errors: a floor
// for Switchyard's routed path, next to the pass-through's.
export default {
  async fetch(request, env) {
    const body = await request.json();
    body.model = "m";
    const response = await fetch(`${env.UPSTREAM}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer sk-bench" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(600_000),
    });
    const answer = await response.arrayBuffer();
    return new Response(answer, {
      status: response.status,
      headers: {
        "content-type": response.headers.get("content-type"),
        "x-litellm-model-group": "bench",
        "x-litellm-model-id": "bench-0",
      },
    });
  },
};
