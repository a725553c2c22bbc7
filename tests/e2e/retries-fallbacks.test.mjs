// Retries within a group and fallbacks across groups, counted at the upstream.
import assert from "node:assert/strict";
import { test } from "node:test";
import { deployment, useGateway, user } from "../support/gateway.mjs";


const ctx = useGateway((upstream) => ({
  config: [
    "model_list:",
    // Weight 0: rp2 is chosen only when rp1 is not available to a request.
    deployment(upstream, "retry-pair", "rp1", ", weight: 1"),
    deployment(upstream, "retry-pair", "rp2", ", weight: 0"),
    deployment(upstream, "retry-solo", "rs1"),
    deployment(upstream, "timed-solo", "ts1", ", timeout: 1"),
    deployment(upstream, "no-retry", "nr1"),
    deployment(upstream, "primary", "p1"),
    deployment(upstream, "secondary", "s1"),
    deployment(upstream, "tertiary", "t1"),
    deployment(upstream, "long-context", "lc1"),
    deployment(upstream, "safe", "sf1"),
    deployment(upstream, "cyc-a", "ca1"),
    deployment(upstream, "cyc-b", "cb1"),
    deployment(upstream, "lonely", "l1"),
    deployment(upstream, "catch-all", "ct1"),
    "router_settings:",
    "  num_retries: 2",
    "  cooldown_time: 0.05",
    "  retry_policy: { BadRequestErrorRetries: 0 }",
    "  model_group_retry_policy: { no-retry: { InternalServerErrorRetries: 0 } }",
    "  fallbacks: [{ primary: [secondary, tertiary] }, { cyc-a: [cyc-b] }, { cyc-b: [cyc-a] }, { '*': [catch-all] }]",
    "  context_window_fallbacks: [{ primary: [long-context] }]",
    "  content_policy_fallbacks: [{ primary: [safe] }]",
  ].join("\n"),
}));

// The '*' catch-all would rescue every group: tests of a final error turn fallbacks off.
const alone = { disable_fallbacks: true };
const chat = (model, extra = {}) => ctx.gateway.post("/v1/chat/completions", { model, messages: user(), ...extra });
const seen = () => ctx.upstream.requests.map((r) => r.deployment);
const headers = (response) => ({
  retries: response.headers.get("x-litellm-attempted-retries"),
  maxRetries: response.headers.get("x-litellm-max-retries"),
  fallbacks: response.headers.get("x-litellm-attempted-fallbacks"),
  id: response.headers.get("x-litellm-model-id"),
  group: response.headers.get("x-litellm-model-group"),
});

test("a failed call is retried at once on the group's other deployment", async () => {
  ctx.upstream.script("rp1", [{ type: "error", status: 503 }]);
  const response = await chat("retry-pair");
  assert.equal(response.status, 200);
  assert.deepEqual(headers(response), { retries: "1", maxRetries: "2", fallbacks: "0", id: "rp2", group: "retry-pair" });
  assert.deepEqual(seen(), ["rp1", "rp2"]);
  const [first, second] = ctx.upstream.requests;
  assert.ok(second.at - first.at < 400, `no backoff: ${second.at - first.at} ms`);
});

test("retries are counted at the upstream and the last error names what was tried", async () => {
  ctx.upstream.script("rs1", [], { type: "error", status: 500, message: "boom" });
  const started = Date.now();
  const response = await chat("retry-solo", alone);
  assert.equal(response.status, 500);
  assert.deepEqual(seen(), ["rs1", "rs1", "rs1"], "num_retries: 2 is three attempts");
  const { error } = await response.json();
  assert.match(error.message, /^boom \(tried: retry-solo\/rs1: 500 InternalServerError; retry-solo\/rs1: 500/);
  assert.equal(headers(response).retries, "2");
  // A generic error is retried at once, as LiteLLM documents, even on the same deployment.
  const gaps = ctx.upstream.requests.slice(1).map((r, i) => r.at - ctx.upstream.requests[i].at);
  assert.ok(gaps.every((gap) => gap < 300), `no backoff: gaps ${gaps}`);
  assert.ok(Date.now() - started < 1_500);
});

test("a rate limit or an overload is backed off before the same deployment is tried again", async () => {
  // 529 (Anthropic's overloaded) without Retry-After: 0.5 s, then 1 s, plus jitter.
  ctx.upstream.script("rs1", [], { type: "error", status: 529, message: "Overloaded" });
  const response = await chat("retry-solo", alone);
  assert.equal(response.status, 529);
  assert.deepEqual(seen(), ["rs1", "rs1", "rs1"]);
  const gaps = ctx.upstream.requests.slice(1).map((r, i) => r.at - ctx.upstream.requests[i].at);
  assert.ok(gaps[0] >= 450 && gaps[1] >= 950, `backoff gaps ${gaps}`);
});

test("a deployment with timeout 1 s and two retries answers after about 3 s, not 5", async () => {
  ctx.upstream.script("ts1", [], { type: "stall" });
  const started = Date.now();
  const response = await chat("timed-solo", alone);
  assert.equal(response.status, 408);
  assert.deepEqual(seen(), ["ts1", "ts1", "ts1"]);
  const took = Date.now() - started;
  assert.ok(took >= 2_900 && took < 4_000, `answered after ${took} ms`);
});

test("the request's own timeout bounds the whole request, retries included", async () => {
  ctx.upstream.script("rs1", [], { type: "stall" });
  const started = Date.now();
  const response = await chat("retry-solo", { ...alone, timeout: 1.5 });
  assert.equal(response.status, 408);
  const took = Date.now() - started;
  assert.ok(took >= 1_400 && took < 2_200, `answered after ${took} ms`);
  assert.equal(seen().length, 1, "no retry starts once the time is up");
});

test("num_retries in the body, and a group retry policy, set the count", async () => {
  ctx.upstream.script("rs1", [], { type: "error", status: 500 });
  const response = await chat("retry-solo", { ...alone, num_retries: 0 });
  assert.equal(response.status, 500);
  assert.deepEqual(seen(), ["rs1"]);
  ctx.upstream.reset();
  ctx.upstream.script("nr1", [], { type: "error", status: 502, message: "bad gateway upstream" });
  const policy = await chat("no-retry", alone);
  assert.equal(policy.status, 502, "the upstream's own status");
  assert.equal((await policy.json()).error.message, "bad gateway upstream");
  assert.deepEqual(seen(), ["nr1"]);
});

test("a 400 is not retried", async () => {
  ctx.upstream.script("rs1", [{ type: "error", status: 400, message: "bad param", errorType: "invalid_request_error" }]);
  const response = await chat("retry-solo", alone);
  assert.equal(response.status, 400);
  assert.deepEqual(seen(), ["rs1"]);
});

test("429 with Retry-After is waited for before the same deployment is tried again", async () => {
  ctx.upstream.script("rs1", [{ type: "rate_limit", retryAfter: 1 }, { type: "ok" }]);
  const response = await chat("retry-solo");
  assert.equal(response.status, 200);
  const [first, second] = ctx.upstream.requests;
  assert.ok(second.at - first.at >= 1_000, `waited ${second.at - first.at} ms`);
});

test("fallbacks after retries: in order, each group with its own retries", async () => {
  ctx.upstream.script("p1", [], { type: "error", status: 500 });
  ctx.upstream.script("s1", [], { type: "error", status: 503 });
  ctx.upstream.script("t1", [], { type: "ok" });
  const response = await chat("primary", { num_retries: 1 });
  assert.equal(response.status, 200);
  assert.deepEqual(seen(), ["p1", "p1", "s1", "s1", "t1"]);
  assert.deepEqual(headers(response), { retries: "2", maxRetries: "1", fallbacks: "2", id: "t1", group: "tertiary" });
  const duration = Number(response.headers.get("x-litellm-response-duration-ms"));
  assert.ok(Number.isInteger(duration) && duration >= 0 && duration < 5_000, `duration ${duration}`);
  assert.equal((await response.json()).choices[0].message.content, "ok from t1");
});

test("context-window and content-policy errors go straight to their own fallbacks", async () => {
  ctx.upstream.script("p1", [{ type: "context_window" }]);
  const cw = await chat("primary");
  assert.equal(cw.status, 200);
  assert.deepEqual(seen(), ["p1", "lc1"], "no retry on the same group");
  ctx.upstream.reset();
  ctx.upstream.script("p1", [{ type: "content_policy" }]);
  const cp = await chat("primary");
  assert.equal(cp.status, 200);
  assert.deepEqual(seen(), ["p1", "sf1"]);
});

test("per-request fallbacks replace the configured ones; disable_fallbacks turns them off", async () => {
  ctx.upstream.script("p1", [], { type: "error", status: 500 });
  const own = await chat("primary", { num_retries: 0, fallbacks: [{ model: "safe" }] });
  assert.equal(own.status, 200);
  assert.deepEqual(seen(), ["p1", "sf1"]);
  ctx.upstream.reset();
  ctx.upstream.script("p1", [], { type: "error", status: 500 });
  const off = await chat("primary", { num_retries: 0, disable_fallbacks: true });
  assert.equal(off.status, 500);
  assert.deepEqual(seen(), ["p1"]);
  const unknown = await chat("primary", { fallbacks: ["nope"] });
  assert.equal(unknown.status, 400);
  assert.equal((await unknown.json()).error.param, "fallbacks");
});

test("a fallback cycle ends, and the '*' entry catches every other group", async () => {
  ctx.upstream.script("ca1", [], { type: "error", status: 500 });
  ctx.upstream.script("cb1", [], { type: "error", status: 500 });
  const cycle = await chat("cyc-a", { num_retries: 0 });
  assert.equal(cycle.status, 500);
  assert.deepEqual(seen(), ["ca1", "cb1"], "a -> b -> a stops at b");
  assert.match((await cycle.json()).error.message, /tried: cyc-a\/ca1: 500 .*; cyc-b\/cb1: 500/);
  ctx.upstream.reset();
  ctx.upstream.script("l1", [], { type: "error", status: 500 });
  const caught = await chat("lonely", { num_retries: 0 });
  assert.equal(caught.status, 200);
  assert.deepEqual(seen(), ["l1", "ct1"]);
});
