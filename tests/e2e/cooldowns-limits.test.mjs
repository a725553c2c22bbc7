// Cooldowns shared through the coordinator, rpm held exactly, order tiers, pre-call checks.
import assert from "node:assert/strict";
import { test } from "node:test";
import { deployment, minuteLeft, useGateway, user } from "../support/gateway.mjs";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const ctx = useGateway((upstream) => ({
  config: [
    "model_list:",
    deployment(upstream, "pair", "pa"),
    deployment(upstream, "pair", "pb"),
    deployment(upstream, "flaky", "fa"),
    deployment(upstream, "flaky", "fb"),
    deployment(upstream, "both-down", "da"),
    deployment(upstream, "both-down", "db"),
    deployment(upstream, "single", "sa"),
    deployment(upstream, "failing", "xa", ", cooldown_time: 60"),
    deployment(upstream, "failing", "xb"),
    deployment(upstream, "limited", "la", ", rpm: 10"),
    deployment(upstream, "leased", "ls", ", rpm: 200"),
    deployment(upstream, "tpm-leased", "tl", ", tpm: 4000"),
    deployment(upstream, "tpm-streamed", "ts", ", tpm: 4000"),
    deployment(upstream, "tiers", "t1", ", order: 1"),
    deployment(upstream, "tiers", "t2", ", order: 2"),
    `  - { model_name: small, litellm_params: { model: openai/m, api_base: "${upstream.base("sm")}" }, model_info: { id: sm, max_input_tokens: 50 } }`,
    deployment(upstream, "large", "lg"),
    "router_settings:",
    "  num_retries: 0",
    "  cooldown_time: 1",
    "  enable_pre_call_checks: true",
    "  context_window_fallbacks: [{ small: [large] }]",
  ].join("\n"),
}));

const chat = (model, extra = {}) => ctx.gateway.post("/v1/chat/completions", { model, messages: user(), ...extra });

/** The statuses of `n` requests to `model`, one after the other. */
async function statusesInTurn(model, n, extra) {
  const statuses = [];
  for (let i = 0; i < n; i++) {
    const response = await chat(model, extra);
    await response.arrayBuffer();
    statuses.push(response.status);
  }
  return statuses;
}

async function ids(model, n, extra) {
  const responses = await Promise.all(Array.from({ length: n }, () => chat(model, extra)));
  return Promise.all(
    responses.map(async (r) => {
      await r.arrayBuffer();
      return r.headers.get("x-litellm-model-id");
    }),
  );
}

test("a 429 cools the deployment; after cooldown_time one probe goes first, then it serves again", async () => {
  ctx.upstream.script("pa", [{ type: "rate_limit", retryAfter: 0 }]);
  // Until pa answers its 429, requests go either way.
  while (!ctx.upstream.requests.some((r) => r.deployment === "pa")) await ids("pair", 1);
  const cooledAt = Date.now();
  // Cooling: everything goes to pb, whichever isolate asks.
  assert.deepEqual(new Set(await ids("pair", 12)), new Set(["pb"]));
  // Half-open: pa gets one probe, slow enough that the others arrive while it is out.
  ctx.upstream.script("pa", [{ type: "ok", delayMs: 400 }]);
  await sleep(Math.max(0, 1_000 - (Date.now() - cooledAt)));
  // The cooldown began when the gateway told the coordinator of the 429, a moment
  // after the upstream answered it (longer on a loaded machine): bursts until one
  // finds it over, well within twice its time.
  let probeBurst;
  do {
    probeBurst = await ids("pair", 8);
    if (!probeBurst.includes("pa")) await sleep(50);
  } while (!probeBurst.includes("pa") && Date.now() - cooledAt < 2_000);
  assert.equal(probeBurst.filter((id) => id === "pa").length, 1, `one probe: ${probeBurst}`);
  // The probe succeeded: pa is back in rotation, in every isolate once the views
  // made while it was out have lapsed (VIEW_TTL_MS, a second).
  const probed = Date.now();
  while (!(await ids("pair", 4)).includes("pa")) {
    assert.ok(Date.now() - probed < 1_500, "pa serves again within a view's life of its probe");
  }
  const after = await ids("pair", 30);
  assert.ok(after.filter((id) => id === "pa").length >= 5, `${after}`);
});

test("a failed probe cools the deployment again, for twice as long", async () => {
  ctx.upstream.script("fa", [{ type: "rate_limit", retryAfter: 0 }]);
  while (!ctx.upstream.requests.some((r) => r.deployment === "fa")) await ids("flaky", 1);
  await sleep(1_100);
  ctx.upstream.script("fa", [{ type: "error", status: 500 }]);
  // Drive requests until the probe has gone to fa and failed.
  while (ctx.upstream.requests.filter((r) => r.deployment === "fa").length < 2) await ids("flaky", 1);
  const probedAt = Date.now();
  await sleep(1_300); // past a plain cooldown, within a doubled one
  assert.deepEqual(new Set(await ids("flaky", 10)), new Set(["fb"]));
  await sleep(Math.max(0, 2_150 - (Date.now() - probedAt)));
  ctx.upstream.script("fa", [], { type: "ok" });
  const later = await ids("flaky", 20);
  assert.ok(later.includes("fa"), "back after the doubled cooldown");
});

test("a deployment failing every call is cooled once its minute has five requests, over half failed", async () => {
  // LiteLLM's default rule for 5xx: it needs the minute's request count, which the
  // isolate routing this unlimited group tells the coordinator with each failure.
  // Its five must fall in one minute.
  await minuteLeft(10);
  ctx.upstream.script("xa", [], { type: "error", status: 500 });
  const statuses = await statusesInTurn("failing", 40);
  const calls = ctx.upstream.requests.filter((r) => r.deployment === "xa").length;
  assert.equal(calls, 5, "xa is out after its fifth failure");
  assert.equal(statuses.filter((s) => s === 500).length, 5);
  assert.equal(statuses.filter((s) => s === 200).length, 35);
});

test("with every deployment cooling down: 429, all_deployments_in_cooldown, retry-after", async () => {
  ctx.upstream.script("da", [{ type: "rate_limit", retryAfter: 0 }]);
  ctx.upstream.script("db", [{ type: "rate_limit", retryAfter: 0 }]);
  while (ctx.upstream.requests.length < 2 || new Set(ctx.upstream.requests.map((r) => r.deployment)).size < 2) {
    await ids("both-down", 1);
  }
  const response = await chat("both-down");
  assert.equal(response.status, 429);
  const retryAfter = Number(response.headers.get("retry-after"));
  assert.ok(retryAfter >= 1 && retryAfter <= 1, `retry-after ${retryAfter}`);
  assert.equal(response.headers.get("x-litellm-model-group"), "both-down");
  const { error } = await response.json();
  assert.equal(error.type, "all_deployments_in_cooldown");
});

test("a group's only deployment is never cooled down", async () => {
  ctx.upstream.script("sa", [{ type: "rate_limit", retryAfter: 0 }]);
  assert.equal((await chat("single")).status, 429);
  assert.equal((await chat("single")).status, 200);
  assert.equal(ctx.upstream.requests.length, 2);
});

test("rpm: 10 lets exactly 10 requests through under concurrent load", async () => {
  await minuteLeft(10);
  const responses = await Promise.all(Array.from({ length: 30 }, () => chat("limited")));
  const statuses = responses.map((r) => r.status);
  assert.equal(statuses.filter((s) => s === 200).length, 10);
  assert.equal(ctx.upstream.requests.length, 10, "the upstream saw exactly 10");
  const refused = responses.filter((r) => r.status === 429);
  assert.equal(refused.length, 20);
  const retryAfter = Number(refused[0].headers.get("retry-after"));
  assert.ok(retryAfter >= 1 && retryAfter <= 60, `retry-after ${retryAfter}`);
  assert.equal((await refused[0].json()).error.type, "rate_limit_error");
  const remaining = responses.filter((r) => r.status === 200).map((r) => Number(r.headers.get("x-ratelimit-remaining-requests")));
  assert.deepEqual(remaining.sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

test("rpm: 200, held by leases, lets exactly 200 through in two bursts a view's life apart", async () => {
  // Big enough an rpm for the isolate to route by leases; the second burst passes
  // only if the first burst's unused leases went back to the minute.
  await minuteLeft(15);
  const burst = async (n) => {
    const responses = await Promise.all(Array.from({ length: n }, () => chat("leased")));
    await Promise.all(responses.map((r) => r.arrayBuffer()));
    return responses.map((r) => r.status);
  };
  const first = await burst(60);
  assert.deepEqual(new Set(first), new Set([200]));
  await sleep(1_100);
  const rest = await burst(200);
  assert.equal(rest.filter((s) => s === 200).length, 140);
  assert.equal(rest.filter((s) => s === 429).length, 60);
  assert.equal(ctx.upstream.requests.filter((r) => r.deployment === "ls").length, 200, "the upstream saw exactly 200");
});

test("tpm: 4,000, held by leases, lets exactly 100 requests of 40 tokens through", async () => {
  // Each request's estimate (8 tokens) is corrected by its answer's usage (40):
  // counting only the estimates would let about five times as many through.
  await minuteLeft(15);
  ctx.upstream.script("tl", [], { type: "ok", totalTokens: 40 });
  const statuses = await statusesInTurn("tpm-leased", 110);
  assert.equal(statuses.filter((s) => s === 200).length, 100);
  assert.deepEqual(new Set(statuses.slice(100)), new Set([429]));
  assert.equal(ctx.upstream.requests.filter((r) => r.deployment === "tl").length, 100);
});

test("tpm: streams that ask for their usage count it, read from their last event", async () => {
  await minuteLeft(15);
  ctx.upstream.script("ts", [], { type: "ok", totalTokens: 40 });
  const streamed = { stream: true, stream_options: { include_usage: true } };
  const statuses = await statusesInTurn("tpm-streamed", 110, streamed);
  assert.equal(statuses.filter((s) => s === 200).length, 100);
  assert.deepEqual(new Set(statuses.slice(100)), new Set([429]));
  assert.equal(ctx.upstream.requests.filter((r) => r.deployment === "ts").length, 100);
});

test("the lowest order serves; when it fails, the next tier serves before any fallback", async () => {
  assert.deepEqual(new Set(await ids("tiers", 10)), new Set(["t1"]));
  ctx.upstream.reset();
  ctx.upstream.script("t1", [{ type: "error", status: 500 }]);
  const response = await chat("tiers", { num_retries: 1 });
  assert.equal(response.status, 200);
  assert.deepEqual(ctx.upstream.requests.map((r) => r.deployment), ["t1", "t2"]);
});

test("a prompt too long for every deployment goes to the context-window fallback without a call", async () => {
  const long = "word ".repeat(400);
  const response = await chat("small", { messages: user(long) });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("x-litellm-model-group"), "large");
  assert.deepEqual(ctx.upstream.requests.map((r) => r.deployment), ["lg"]);
  const short = await chat("small");
  assert.equal(short.headers.get("x-litellm-model-id"), "sm");
});
