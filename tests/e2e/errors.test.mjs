// Bad input and failed upstreams answer in OpenAI's error shape with the right status.
import assert from "node:assert/strict";
import { test } from "node:test";
import { useGateway, user } from "../support/gateway.mjs";

const ctx = useGateway((upstream) => ({
  config: `
model_list:
  - model_name: live
    litellm_params: { model: openai/gpt-4o, api_base: ${upstream.base("live")} }
    model_info: { id: live-1 }
  - model_name: gone
    litellm_params: { model: openai/gpt-4o, api_base: "http://127.0.0.1:1/v1" }
    model_info: { id: gone-1 }
router_settings:
  num_retries: 0  # each scripted answer reaches the client as it is
`,
}));

async function expectError(response, status, { param, code, type, message } = {}) {
  assert.equal(response.status, status);
  assert.match(response.headers.get("content-type"), /^application\/json/);
  const body = await response.json();
  assert.deepEqual(Object.keys(body.error).sort(), ["code", "message", "param", "type"]);
  if (param !== undefined) assert.equal(body.error.param, param);
  if (code !== undefined) assert.equal(body.error.code, code);
  if (type !== undefined) assert.equal(body.error.type, type);
  if (message !== undefined) assert.match(body.error.message, message);
  return body.error;
}

test("malformed JSON is a 400", async () => {
  await expectError(await ctx.gateway.post("/v1/chat/completions", '{"model": "live", '), 400, {
    code: "invalid_json",
    type: "invalid_request_error",
    message: /not valid JSON/,
  });
  await expectError(await ctx.gateway.post("/v1/chat/completions", "[1, 2]"), 400, { param: "body" });
});

test("missing or wrong-typed model and messages name the param", async () => {
  const cases = [
    [{ messages: user() }, "model", /missing required parameter `model`/],
    [{ model: 7, messages: user() }, "model", /must be a string/],
    [{ model: "live" }, "messages", /missing required parameter `messages`/],
    [{ model: "live", messages: "hello" }, "messages", /must be an array/],
    [{ model: "live", messages: [] }, "messages", /at least one/],
    [{ model: "live", messages: [{ content: "x" }] }, "messages", /role/],
    [{ model: "live", messages: user(), stream: "yes" }, "stream", /boolean/],
    [{ model: "live", messages: user(), stream: true, stream_options: { include_usage: 1 } }, "stream_options", /boolean/],
  ];
  for (const [body, param, message] of cases) {
    await expectError(await ctx.gateway.post("/v1/chat/completions", body), 400, { param, message });
  }
  await expectError(await ctx.gateway.post("/v1/embeddings", { model: "live" }), 400, { param: "input" });
  await expectError(await ctx.gateway.post("/v1/completions", { model: "live", prompt: 3 }), 400, { param: "prompt" });
  assert.equal(ctx.upstream.requests.length, 0, "nothing invalid reaches the upstream");
});

test("an unknown model is a 404 that lists the models", async () => {
  await expectError(await ctx.gateway.post("/v1/chat/completions", { model: "gpt-9", messages: user() }), 404, {
    param: "model",
    code: "model_not_found",
    message: /`gpt-9` does not exist.*Available models: live, gone/,
  });
});

test("unknown routes are 404 and wrong methods 405", async () => {
  await expectError(await ctx.gateway.get("/v1/nothing-here"), 404, { code: "unknown_url" });
  await expectError(await ctx.gateway.get("/v1/chat/completions"), 405, { message: /use POST/ });
  await expectError(await ctx.gateway.post("/v1/models", {}), 405, { message: /use GET/ });
});

test("an upstream error passes on with its status and message", async () => {
  ctx.upstream.script("live", [
    { type: "error", status: 500, message: "the model is on fire", code: "server_on_fire" },
    { type: "rate_limit", retryAfter: 7 },
    { type: "context_window" },
    { type: "raw", status: 503, body: "<html>upstream maintenance</html>", headers: { "content-type": "text/html" } },
  ]);
  const send = () => ctx.gateway.post("/v1/chat/completions", { model: "live", messages: user() });

  let response = await send();
  assert.equal(response.headers.get("x-litellm-model-id"), "live-1", "errors say which deployment answered");
  await expectError(response, 500, { message: /^the model is on fire$/, code: "server_on_fire" });
  await expectError(await send(), 429, { code: "rate_limit_exceeded", message: /Rate limit/ });
  await expectError(await send(), 400, { code: "context_length_exceeded", message: /maximum context length/ });
  await expectError(await send(), 503, { type: "api_error", message: /upstream maintenance/ });
  assert.equal(ctx.upstream.requests.length, 4);
});

test("an unreachable upstream is a 502 naming the deployment", async () => {
  const response = await ctx.gateway.post("/v1/chat/completions", { model: "gone", messages: user() });
  assert.equal(response.headers.get("x-litellm-model-id"), "gone-1");
  await expectError(response, 502, { code: "upstream_unreachable", message: /gone-1/ });
});
