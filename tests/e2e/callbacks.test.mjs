// LiteLLM's callbacks: every request's record reaches the configured sinks, an
// OTLP/HTTP collector (`otel`) and Langfuse's ingestion API (`langfuse`), batched
// in the background; a sink that is slow or failing never slows or fails a request.
import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import { deployment, readEvents, startGateway, user } from "../support/gateway.mjs";
import { startMockUpstream } from "../support/mock-upstream.mjs";
import { startLangfuseSink } from "../support/sinks/langfuse.mjs";
import { startOtelSink } from "../support/sinks/otel.mjs";

const KEYS = { publicKey: "pk-lf-e2e", secretKey: "sk-lf-e2e-0123456789abcdefghij" };
const PROMPT = "hello callbacks";
const ctx = {};

/** A config whose `litellm_settings` are `settings` (lines), over deployments ok1 and flaky1. */
const configWith = (upstream, settings) =>
  [
    "model_list:",
    `  - { model_name: ok, litellm_params: { model: openai/m, api_base: "${upstream.base("ok1")}" }, model_info: { id: ok1, input_cost_per_token: 0.000002, output_cost_per_token: 0.00001 } }`,
    deployment(upstream, "flaky", "flaky1"),
    "router_settings:",
    "  num_retries: 1",
    "  disable_cooldowns: true",
    "litellm_settings:",
    "  drop_params: true",
    ...settings,
  ].join("\n");

const sinkVars = () => ({
  OTEL_EXPORTER_OTLP_ENDPOINT: ctx.otel.url,
  OTEL_SERVICE_NAME: "switchyard-e2e",
  LANGFUSE_PUBLIC_KEY: KEYS.publicKey,
  LANGFUSE_SECRET_KEY: KEYS.secretKey,
  LANGFUSE_HOST: ctx.langfuse.url,
});

before(async () => {
  ctx.upstream = await startMockUpstream();
  ctx.otel = await startOtelSink();
  ctx.langfuse = await startLangfuseSink(KEYS);
  ctx.gateway = await startGateway({
    config: configWith(ctx.upstream, ["  success_callback: [langfuse]", "  failure_callback: [langfuse]", "  callbacks: [otel, datadog]"]),
    bindings: sinkVars(),
  });
});
after(async () => {
  await ctx.gateway?.close();
  await ctx.upstream?.close();
  await ctx.otel?.close();
  await ctx.langfuse?.close();
});
beforeEach(() => {
  ctx.upstream.reset();
  ctx.otel.reset();
  ctx.langfuse.reset();
});

/** Polls `find` until it gives something, for at most `ms`. */
async function eventually(find, ms = 10_000) {
  const end = Date.now() + ms;
  for (;;) {
    const found = find();
    if (found) return found;
    if (Date.now() > end) throw new Error("not received in time");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The request's spans at the collector, once its root has come (root first). */
async function spansOf(requestId) {
  const root = await eventually(() => ctx.otel.spans().find((s) => s.attrs["switchyard.request_id"] === requestId));
  return [root, ...ctx.otel.spans().filter((s) => s.traceId === root.traceId && s.spanId !== root.spanId)];
}

/** The request's trace and generation at Langfuse. */
async function langfuseOf(requestId) {
  const generation = await eventually(() => ctx.langfuse.events().find((e) => e.type === "generation-create" && e.body.id === requestId));
  const trace = ctx.langfuse.events().find((e) => e.type === "trace-create" && e.body.id === generation.body.traceId);
  return { trace: trace?.body, generation: generation.body };
}

const chat = (gateway, model, extra = {}) => gateway.post("/v1/chat/completions", { model, messages: user(PROMPT), ...extra });

test("a success reaches both sinks with its model, tokens, cost and request id", async () => {
  ctx.upstream.script("ok1", [{ type: "ok", content: "the answer", totalTokens: 15 }]);
  const response = await chat(ctx.gateway, "ok", { metadata: { session_id: "s-42", tags: ["e2e"], team: "search" } });
  assert.equal(response.status, 200);
  await response.json();
  const id = response.headers.get("x-request-id");
  assert.ok(id, "the response names its request");

  const [root, ...children] = await spansOf(id);
  assert.equal(root.service, "switchyard-e2e");
  assert.equal(root.kind, 2, "SERVER");
  assert.equal(root.attrs["gen_ai.request.model"], "ok");
  assert.equal(root.attrs["gen_ai.response.model"], "m");
  assert.equal(root.attrs["gen_ai.usage.input_tokens"], 12);
  assert.equal(root.attrs["gen_ai.usage.output_tokens"], 3);
  assert.equal(root.attrs["http.response.status_code"], 200);
  assert.equal(root.attrs["metadata.team"], "search");
  assert.ok(Math.abs(root.attrs["switchyard.cost"] - (12 * 0.000002 + 3 * 0.00001)) < 1e-12);
  assert.match(root.attrs["gen_ai.prompt"], new RegExp(PROMPT), "messages logged: not turned off");
  assert.equal(root.status.code, 0);
  assert.equal(children.length, 1, "one attempt");
  assert.equal(children[0].kind, 3, "CLIENT");
  assert.equal(children[0].attrs["switchyard.deployment_id"], "ok1");

  const { trace, generation } = await langfuseOf(id);
  assert.equal(trace.sessionId, "s-42");
  assert.deepEqual(trace.tags, ["e2e"]);
  assert.equal(generation.model, "m");
  assert.deepEqual(generation.usageDetails, { input: 12, output: 3, total: 15 });
  assert.equal(generation.level, "DEFAULT");
  assert.equal(generation.metadata.team, "search");
  assert.match(JSON.stringify(trace.input), new RegExp(PROMPT));
  assert.equal(ctx.langfuse.rejectedEvents().length, 0, "every event ingested");
  assert.equal(ctx.otel.refused.length + ctx.langfuse.refused.length, 0);
});

test("a failure after a retry is an error at both sinks, each attempt with its class", async () => {
  ctx.upstream.script("flaky1", [{ type: "error", status: 500 }, { type: "error", status: 500 }]);
  const response = await chat(ctx.gateway, "flaky");
  assert.equal(response.status, 500);
  await response.arrayBuffer();
  const id = response.headers.get("x-request-id");
  assert.equal(ctx.upstream.requests.length, 2, "retried once");

  const [root, ...attempts] = await spansOf(id);
  assert.equal(root.status.code, 2, "ERROR");
  assert.equal(root.attrs["http.response.status_code"], 500);
  assert.deepEqual(attempts.map((s) => [s.status.code, s.status.message]), [[2, "Internal"], [2, "Internal"]]);
  assert.equal(root.attrs["switchyard.retries"], 1);

  const { generation } = await langfuseOf(id);
  assert.equal(generation.level, "ERROR");
  assert.equal(generation.statusMessage, "Internal");
  assert.equal(generation.metadata.failed_attempts.length, 2);
});

test("a stream reaches both sinks once it has ended", async () => {
  ctx.upstream.script("ok1", [{ type: "stream", chunks: ["a", "b", "c"] }]);
  const response = await chat(ctx.gateway, "ok", { stream: true, stream_options: { include_usage: true } });
  assert.equal(response.status, 200);
  await readEvents(response);
  const id = response.headers.get("x-request-id");
  const [root] = await spansOf(id);
  assert.equal(root.attrs["switchyard.stream"], true);
  assert.equal(root.attrs["http.response.status_code"], 200);
  const { generation } = await langfuseOf(id);
  assert.equal(generation.level, "DEFAULT");
});

test("the requests of one moment go in one batch per sink", async () => {
  const responses = await Promise.all(
    Array.from({ length: 5 }, () => chat(ctx.gateway, "ok").then(async (r) => (await r.arrayBuffer(), r.headers.get("x-request-id")))),
  );
  for (const id of responses) await spansOf(id);
  assert.ok(ctx.otel.received.length < 5, `5 requests in ${ctx.otel.received.length} exports`);
  assert.ok(ctx.langfuse.received.length < 5, `5 requests in ${ctx.langfuse.received.length} batches`);
});

test("with turn_off_message_logging, the sinks get no messages and no answer", async () => {
  const gateway = await startGateway({
    config: configWith(ctx.upstream, ["  callbacks: [otel, langfuse]", "  turn_off_message_logging: true"]),
    bindings: sinkVars(),
  });
  try {
    ctx.upstream.script("ok1", [{ type: "ok", content: "a secret answer" }]);
    const response = await chat(gateway, "ok");
    assert.equal(response.status, 200);
    await response.json();
    const id = response.headers.get("x-request-id");
    const [root] = await spansOf(id);
    await langfuseOf(id);
    assert.equal(root.attrs["gen_ai.request.model"], "ok", "the request is traced");
    const sent = JSON.stringify([ctx.otel.received.map((r) => r.json), ctx.langfuse.received.map((r) => r.json)]);
    assert.ok(!sent.includes(PROMPT) && !sent.includes("a secret answer"), "no content sent");
  } finally {
    await gateway.close();
  }
});

/** Milliseconds for `n` sequential requests through `gateway`, each checked to succeed. */
async function timed(gateway, n = 8) {
  const start = Date.now();
  for (let i = 0; i < n; i++) {
    const response = await chat(gateway, "ok");
    assert.equal(response.status, 200);
    await response.arrayBuffer();
  }
  return Date.now() - start;
}

test("a sink that never answers or answers 500 neither slows nor fails requests", async () => {
  const plain = await startGateway({ config: configWith(ctx.upstream, []) });
  try {
    await timed(plain, 2);
    await timed(ctx.gateway, 2); // both warm
    const baseline = await timed(plain);
    for (const mode of ["slow", "fail"]) {
      ctx.otel.mode(mode);
      ctx.langfuse.mode(mode);
      const took = await timed(ctx.gateway);
      // Generous: a sink that slowed requests would cost its whole timeout each.
      assert.ok(took < 2 * baseline + 1_000, `${mode}: ${took} ms against ${baseline} ms without callbacks`);
      await eventually(() => ctx.otel.received.length > 0 && ctx.langfuse.received.length > 0);
    }
  } finally {
    await plain.close();
  }
});
