// Chat completions, completions and embeddings routed to a deployment over HTTP.
import assert from "node:assert/strict";
import { test } from "node:test";
import { useGateway, user } from "../support/gateway.mjs";

const ctx = useGateway((upstream) => ({
  config: `
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o-2024-08-06
      api_base: ${upstream.base("alpha")}
      api_key: os.environ/ALPHA_KEY
    model_info: { id: alpha-id }
  - model_name: llama
    litellm_params:
      model: groq/llama-3.1-8b
      api_base: ${upstream.base("beta")}/
      api_key: sk-beta-inline
  - model_name: embedder
    litellm_params:
      model: openai/text-embedding-3-small
      api_base: ${upstream.base("emb")}
router_settings:
  model_group_alias:
    gpt4: gpt-4o
`,
  bindings: { ALPHA_KEY: "sk-alpha-secret" },
}));

test("a chat completion is served by the deployment, with the deployment's key and model", async () => {
  const response = await ctx.gateway.post(
    "/v1/chat/completions",
    { model: "gpt-4o", messages: user("hello"), temperature: 0.5 },
    { authorization: "Bearer client-token" },
  );
  assert.equal(response.status, 200);
  const body = await response.json();
  assert.equal(body.choices[0].message.content, "ok from alpha");
  assert.equal(response.headers.get("x-litellm-model-id"), "alpha-id");
  assert.equal(response.headers.get("x-litellm-model-group"), "gpt-4o");
  assert.equal(response.headers.get("x-litellm-model-api-base"), ctx.upstream.base("alpha"));

  assert.equal(ctx.upstream.requests.length, 1);
  const seen = ctx.upstream.requests[0];
  assert.equal(seen.path, "/chat/completions");
  assert.equal(seen.headers.authorization, "Bearer sk-alpha-secret", "the deployment's key, not the client's");
  assert.equal(seen.body.model, "gpt-4o-2024-08-06", "provider prefix stripped");
  assert.deepEqual(seen.body.messages, user("hello"));
  assert.equal(seen.body.temperature, 0.5);
});

test("no secret leaks into response headers", async () => {
  const response = await ctx.gateway.post("/v1/chat/completions", { model: "gpt-4o", messages: user() });
  for (const [, value] of response.headers) assert.ok(!value.includes("sk-alpha-secret"));
});

test("of the provider's headers, its content type, request id (as llm_provider-x-request-id) and processing time pass, and nothing else; x-request-id is the gateway's own", async () => {
  for (const stream of [false, true]) {
    const contentType = stream ? "text/event-stream; charset=utf-8" : "application/json; charset=utf-8";
    const headers = {
      "content-type": contentType,
      "x-request-id": "req-from-provider",
      "openai-processing-ms": "42",
      "set-cookie": "provider-session=1",
      "x-provider-internal": "secret",
    };
    const body = stream ? 'data: {"choices":[]}\n\ndata: [DONE]\n\n' : JSON.stringify({ choices: [] });
    ctx.upstream.script("alpha", [{ type: "raw", status: 200, body, headers }]);
    const response = await ctx.gateway.post("/v1/chat/completions", { model: "gpt-4o", messages: user(), stream });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), contentType);
    assert.equal(response.headers.get("llm_provider-x-request-id"), "req-from-provider");
    assert.match(response.headers.get("x-request-id"), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(response.headers.get("x-litellm-call-id"), response.headers.get("x-request-id"));
    assert.equal(response.headers.get("openai-processing-ms"), "42");
    assert.equal(response.headers.get("set-cookie"), null);
    assert.equal(response.headers.get("x-provider-internal"), null);
    assert.equal(response.headers.get("x-litellm-model-id"), "alpha-id");
    assert.equal(await response.text(), body);
  }
});

test("gateway-only fields are not forwarded, and a client cannot redirect the gateway", async () => {
  const response = await ctx.gateway.post("/chat/completions", {
    model: "llama",
    messages: user(),
    priority: 1,
    num_retries: 2,
    api_base: "http://evil.example",
    api_key: "sk-client",
    user: "u-1",
  });
  assert.equal(response.status, 200);
  const seen = ctx.upstream.requests[0];
  assert.equal(seen.deployment, "beta");
  assert.equal(seen.headers.authorization, "Bearer sk-beta-inline");
  assert.equal(seen.body.model, "llama-3.1-8b");
  assert.equal(seen.body.user, "u-1");
  for (const key of ["priority", "num_retries", "api_base", "api_key"]) assert.ok(!(key in seen.body), key);
});

test("an alias resolves to its model group", async () => {
  const response = await ctx.gateway.post("/v1/chat/completions", { model: "gpt4", messages: user() });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("x-litellm-model-group"), "gpt-4o");
  assert.equal(ctx.upstream.requests[0].deployment, "alpha");
});

test("completions and embeddings are routed the same way, with and without /v1", async () => {
  for (const path of ["/v1/completions", "/completions"]) {
    const response = await ctx.gateway.post(path, { model: "gpt-4o", prompt: "Say hi" });
    assert.equal(response.status, 200, path);
    assert.equal((await response.json()).choices[0].text, "ok from alpha");
  }
  for (const path of ["/v1/embeddings", "/embeddings"]) {
    const response = await ctx.gateway.post(path, { model: "embedder", input: ["a", "b"] });
    assert.equal(response.status, 200, path);
    assert.equal((await response.json()).data.length, 2);
  }
  assert.deepEqual(
    ctx.upstream.requests.map((r) => [r.deployment, r.path]),
    [
      ["alpha", "/completions"],
      ["alpha", "/completions"],
      ["emb", "/embeddings"],
      ["emb", "/embeddings"],
    ],
  );
});

test("models and health", async () => {
  const models = await (await ctx.gateway.get("/v1/models")).json();
  assert.deepEqual(
    models.data.map((m) => m.id),
    ["gpt-4o", "llama", "embedder", "gpt4"],
  );
  assert.equal(models.object, "list");
  assert.deepEqual((await ctx.gateway.get("/models")).status, 200);
  assert.equal((await ctx.gateway.get("/health/liveliness")).status, 200);
  assert.equal((await ctx.gateway.get("/health/readiness")).status, 200);
});
