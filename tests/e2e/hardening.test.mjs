// What a misbehaving provider and a hostile client meet: a 200 that is not an answer,
// a provider echoing its key, every field the gateway reads checked, jobs that only
// their owner reads, and browsers allowed in as the config says.
import assert from "node:assert/strict";
import { test } from "node:test";
import { deployment, readEvents, streamedContent, useGateway, user } from "../support/gateway.mjs";

const ECHOED_KEY = "sk-echo-0123456789abcdefghijklmnop";

const ctx = useGateway((upstream) => ({
  config: [
    "model_list:",
    deployment(upstream, "flaky", "junk"),
    deployment(upstream, "flaky", "good", ", weight: 0"),
    deployment(upstream, "alone", "solo"),
    deployment(upstream, "leaky", "echo", `, api_key: ${ECHOED_KEY}`),
    "router_settings:",
    "  num_retries: 1",
    "  allowed_fails: 0",
    "  cooldown_time: 30",
    "general_settings:",
    "  allowed_origins: [\"https://app.example\"]",
  ].join("\n"),
}));

const chat = (model, extra = {}, headers = {}) =>
  ctx.gateway.post("/v1/chat/completions", { model, messages: user(), ...extra }, headers);

async function expectError(response, status, fields) {
  assert.equal(response.status, status);
  const { error } = await response.json();
  assert.deepEqual(Object.keys(error).sort(), ["code", "message", "param", "type"]);
  for (const [name, expected] of Object.entries(fields)) {
    if (expected instanceof RegExp) assert.match(error[name], expected, name);
    else assert.equal(error[name], expected, name);
  }
  return error;
}

const GARBAGE = [
  ["an HTML page from a captive proxy", { type: "raw", status: 200, body: "<html><body>Sign in to the Wi-Fi</body></html>", headers: { "content-type": "text/html" } }, /not JSON/],
  ["a body cut short", { type: "raw", status: 200, body: '{"id":"chatcmpl-1","choices":[{"message":', headers: { "content-type": "application/json" } }, /ended early/],
  ["JSON with no choices", { type: "raw", status: 200, body: '{"object":"chat.completion"}', headers: { "content-type": "application/json" } }, /choices/],
];

test("a 200 that is not an answer is the deployment's 502 upstream_invalid_response", async () => {
  for (const [what, behaviour, why] of GARBAGE) {
    ctx.upstream.reset();
    ctx.upstream.script("solo", [behaviour, behaviour]);
    const response = await chat("alone", { disable_fallbacks: true });
    await expectError(response, 502, { code: "upstream_invalid_response", type: "api_error", message: why });
    assert.equal(ctx.upstream.requests.length, 2, `${what}: retried like a 5xx`);
  }
});

test("a stream that is not SSE, or whose first event is not JSON, fails the same way", async () => {
  const cases = [
    { type: "raw", status: 200, body: '{"choices":[]}', headers: { "content-type": "application/json" } },
    { type: "raw", status: 200, body: "data: <html>oops</html>\n\n", headers: { "content-type": "text/event-stream" } },
  ];
  for (const behaviour of cases) {
    ctx.upstream.reset();
    ctx.upstream.script("solo", [behaviour, behaviour]);
    const response = await chat("alone", { stream: true, disable_fallbacks: true });
    await expectError(response, 502, { code: "upstream_invalid_response" });
  }
});

test("garbage fails over to a healthy deployment and cools the one that sent it", async () => {
  ctx.upstream.script("junk", [GARBAGE[0][1]]);
  ctx.upstream.script("good", [], { type: "ok", content: "from good" });
  const first = await chat("flaky", { stream: true });
  assert.equal(first.status, 200);
  assert.equal(streamedContent(await readEvents(first)), "from good");
  assert.equal(first.headers.get("x-litellm-model-id"), "good");
  // allowed_fails 0: the garbage cooled `junk`, though its weight makes it the usual pick.
  for (let i = 0; i < 5; i++) {
    const response = await chat("flaky");
    assert.equal(response.headers.get("x-litellm-model-id"), "good");
    await response.arrayBuffer();
  }
  assert.equal(ctx.upstream.requests.filter((r) => r.deployment === "junk").length, 1);
});

test("a key a provider echoes back reaches the client masked, in its message and its headers", async () => {
  ctx.upstream.script("echo", [{ type: "echo_key" }, { type: "echo_key" }, { type: "echo_key", status: 200 }]);
  const failed = await chat("leaky", { disable_fallbacks: true });
  assert.equal(ctx.upstream.requests[0].headers.authorization, `Bearer ${ECHOED_KEY}`, "the provider got the key");
  const error = await expectError(failed, 401, { message: /Incorrect API key provided: Bearer sk-ec\.\.\.op/ });
  assert.ok(!error.message.includes(ECHOED_KEY));
  const answered = await chat("leaky");
  assert.equal(answered.status, 200);
  for (const [, value] of answered.headers) assert.ok(!value.includes(ECHOED_KEY), value);
  assert.equal(answered.headers.get("llm_provider-x-request-id"), "req for Bearer sk-ec...op");
});

test("every LiteLLM field the gateway reads answers a wrong type with a 400 naming it", async () => {
  const rows = [
    ["cache", { cache: "no" }],
    ["cache", { cache: { "no-cache": "yes" } }],
    ["cache", { cache: { "no-store": 1 } }],
    ["cache", { cache: { ttl: "1h" } }],
    ["cache", { cache: { "s-maxage": -5 } }],
    ["cache", { cache: { namespace: 42 } }],
    ["cache", { cache: { "no-cache-please": true } }],
    ["fallbacks", { fallbacks: "other" }],
    ["num_retries", { num_retries: "three" }],
    ["timeout", { timeout: -1 }],
    ["stream_timeout", { stream_timeout: "soon" }],
    ["priority", { priority: -2 }],
    ["metadata", { metadata: "team-a" }],
    ["tags", { tags: [1, 2] }],
    ["mock_response", { mock_response: { text: "hi" } }],
    ["disable_fallbacks", { disable_fallbacks: "true" }],
    ["stream_options", { stream: true, stream_options: { include_usage: "yes" } }],
  ];
  for (const [param, extra] of rows) {
    await expectError(await chat("alone", extra), 400, { param, type: "invalid_request_error" });
  }
  await expectError(await chat("alone", {}, { "x-litellm-timeout": "forever" }), 400, { param: "x-litellm-timeout" });
  assert.equal(ctx.upstream.requests.length, 0, "nothing invalid reached a provider");
});

test("an async job is read only with the key that submitted it", async () => {
  const owner = { authorization: "Bearer sk-owner" };
  const submitted = await ctx.gateway.post("/queue/request", { model: "alone", messages: user() }, owner);
  const { id, url } = await submitted.json();
  assert.match(id, /^job-[0-9a-f]{32}$/);
  for (let i = 0; i < 50; i++) {
    const view = await (await ctx.gateway.get(url, owner)).json();
    if (view.status === "finished") break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal((await (await ctx.gateway.get(url, owner)).json()).status, "finished");
  for (const other of [{ authorization: "Bearer sk-someone-else" }, {}]) {
    await expectError(await ctx.gateway.get(url, other), 404, { code: "job_not_found" });
  }
});

test("browsers: preflights and answers carry CORS headers for the allowed origins only", async () => {
  const preflight = (origin) =>
    fetch(`${ctx.gateway.url}/v1/chat/completions`, {
      method: "OPTIONS",
      headers: {
        origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type, x-stainless-os",
      },
    });
  const allowed = await preflight("https://app.example");
  assert.equal(allowed.status, 204);
  assert.equal(allowed.headers.get("access-control-allow-origin"), "https://app.example");
  assert.equal(allowed.headers.get("access-control-allow-headers"), "authorization, content-type, x-stainless-os");
  assert.match(allowed.headers.get("access-control-allow-methods"), /POST/);
  const refused = await preflight("https://evil.example");
  assert.equal(refused.status, 403);
  assert.equal(refused.headers.get("access-control-allow-origin"), null);

  const answer = await chat("alone", {}, { origin: "https://app.example" });
  assert.equal(answer.status, 200);
  assert.equal(answer.headers.get("access-control-allow-origin"), "https://app.example");
  assert.match(answer.headers.get("access-control-expose-headers"), /x-litellm-model-id/);
  const other = await chat("alone", {}, { origin: "https://evil.example" });
  assert.equal(other.headers.get("access-control-allow-origin"), null);
  assert.equal(ctx.upstream.requests.length, 2, "CORS is the browser's to enforce: the gateway still answers");
});
