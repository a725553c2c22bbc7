// Requests with a priority wait in the group's queue, admitted strictly by priority.
import assert from "node:assert/strict";
import { test } from "node:test";
import { deployment, startGateway, useGateway, user } from "../support/gateway.mjs";

const ctx = useGateway((upstream) => ({
  config: [
    "model_list:",
    deployment(upstream, "serial", "one", ", max_parallel_requests: 1"),
    deployment(upstream, "expiry", "ex", ", max_parallel_requests: 1"),
    deployment(upstream, "plain", "pl", ", max_parallel_requests: 1"),
    deployment(upstream, "once", "on", ", rpm: 1"),
    deployment(upstream, "tokens", "tk", ", tpm: 100"),
    "router_settings:",
    "  num_retries: 0",
  ].join("\n"),
}));

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const chat = (model, body = {}, path = "/v1/chat/completions") =>
  ctx.gateway.post(path, { model, messages: user(body.tag ?? "x"), ...body, tag: undefined });

test("while the deployment is busy, waiting requests reach it in priority order", async () => {
  ctx.upstream.script("one", [], { type: "ok", delayMs: 300 });
  const blocker = chat("serial", { priority: 0, tag: "blocker" });
  await sleep(100);
  const sent = [];
  for (const [tag, priority] of [["p5", 5], ["p1-first", 1], ["p3", 3], ["p0", 0], ["p1-second", 1]]) {
    sent.push(chat("serial", { priority, tag }));
    await sleep(30);
  }
  const responses = await Promise.all([blocker, ...sent]);
  for (const response of responses) {
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("x-litellm-request-prioritization-used"), "true");
  }
  const order = ctx.upstream.requests.map((r) => r.body.messages[0].content);
  assert.deepEqual(order, ["blocker", "p0", "p1-first", "p1-second", "p3", "p5"]);
});

test("a queued request is answered 408 when its timeout passes, saying how long it waited", async () => {
  ctx.upstream.script("ex", [{ type: "ok", delayMs: 2_500 }]);
  const blocker = chat("expiry", { priority: 1 });
  await sleep(100);
  const started = Date.now();
  const response = await chat("expiry", { priority: 1, timeout: 0.5 });
  const waited = Date.now() - started;
  assert.equal(response.status, 408);
  assert.ok(waited >= 450 && waited < 1_500, `answered after ${waited} ms`);
  const { error } = await response.json();
  assert.equal(error.code, "queue_timeout");
  assert.match(error.message, /waited \d+ ms in the queue of `expiry` \(place 1 in line\)/);
  assert.equal((await blocker).status, 200);
  assert.equal(ctx.upstream.requests.length, 1, "the expired request never reached the upstream");
});

test("a request waiting on tpm is let in by the actual usage of the one before, told after it ended", async () => {
  // The first reserves its estimate (~60 tokens of prompt) and uses 5; the second's
  // estimate fits only once that is known. The report of a success travels with the
  // isolate's next ticket or, as here where none follows, on its own a moment later.
  ctx.upstream.script("tk", [], { type: "ok", delayMs: 300, totalTokens: 5 });
  const long = "x".repeat(220);
  const first = chat("tokens", { priority: 1, tag: long });
  await sleep(100);
  const started = Date.now();
  const second = chat("tokens", { priority: 1, tag: long });
  assert.equal((await first).status, 200);
  const response = await second;
  const waited = Date.now() - started;
  assert.equal(response.status, 200);
  assert.ok(waited < 2_000, `let in ${waited} ms after it came, not at the next minute`);
});

test("without a priority a request does not wait: 429 at once", async () => {
  ctx.upstream.script("pl", [{ type: "ok", delayMs: 600 }]);
  const blocker = chat("plain");
  await sleep(100);
  const started = Date.now();
  const response = await chat("plain");
  assert.equal(response.status, 429);
  assert.ok(Date.now() - started < 300);
  assert.ok(Number(response.headers.get("retry-after")) >= 1);
  assert.equal((await response.json()).error.code, "all_deployments_busy");
  assert.equal((await blocker).status, 200);
});

test("priority must be a non-negative integer", async () => {
  for (const priority of [-1, 1.5, "high"]) {
    const response = await chat("serial", { priority });
    assert.equal(response.status, 400);
    assert.equal((await response.json()).error.param, "priority");
  }
});

test("/queue/chat/completions serves chat completions with priority", async () => {
  const response = await chat("serial", { priority: 2 }, "/queue/chat/completions");
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("x-litellm-request-prioritization-used"), "true");
});

test("past max_queue_size a request is refused at once, and default_priority queues everyone", async (t) => {
  const upstream = ctx.upstream;
  const gateway = await startGateway({
    config: [
      "model_list:",
      deployment(upstream, "tiny", "tq", ", max_parallel_requests: 1"),
      "router_settings:",
      "  num_retries: 0",
      "  max_queue_size: 1",
      "  default_priority: 3",
    ].join("\n"),
  });
  t.after(() => gateway.close());
  upstream.script("tq", [], { type: "ok", delayMs: 400 });
  const post = () => gateway.post("/v1/chat/completions", { model: "tiny", messages: user() });
  const running = post();
  await sleep(100);
  const waiting = post(); // no priority: default_priority lets it wait
  await sleep(100);
  const refused = await post();
  assert.equal(refused.status, 429);
  assert.equal((await refused.json()).error.code, "queue_full");
  assert.equal((await running).status, 200);
  const queued = await waiting;
  assert.equal(queued.status, 200);
  assert.equal(queued.headers.get("x-litellm-request-prioritization-used"), "true");
});

test("/queue/status shows each group's waiting requests by priority, and what was admitted", async () => {
  ctx.upstream.script("one", [], { type: "ok", delayMs: 800 });
  const before = await (await ctx.gateway.get("/queue/status")).json();
  const admittedBefore = before.groups.find((g) => g.group === "serial").admitted;
  const running = chat("serial", { priority: 0 });
  await sleep(100);
  const waiting = [chat("serial", { priority: 2 }), chat("serial", { priority: 2 }), chat("serial", { priority: 7 })];
  // The gateway's line tells the queue of those that came while its `Wait` was
  // open a quarter second later at most (`TELL_EVERY_MS`).
  await sleep(400);
  const during = await (await ctx.gateway.get("/queue/status")).json();
  const serial = during.groups.find((g) => g.group === "serial");
  assert.equal(serial.depth, 3);
  assert.deepEqual(serial.by_priority, { 2: 2, 7: 1 });
  assert.ok(serial.oldest_wait_ms >= 100, `oldest ${serial.oldest_wait_ms}`);
  assert.deepEqual(
    during.groups.map((g) => g.group),
    ["serial", "expiry", "plain", "once", "tokens"],
  );
  await Promise.all([running, ...waiting]);
  const after = (await (await ctx.gateway.get("/queue/status")).json()).groups.find((g) => g.group === "serial");
  assert.equal(after.depth, 0);
  assert.equal(after.admitted - admittedBefore, 3);
});

test("a request that cannot be admitted before its timeout is told at once", async () => {
  const second = new Date().getSeconds();
  if (second >= 50) await sleep((61 - second) * 1_000); // the next minute must be > 1 s away
  assert.equal((await chat("once", { priority: 0 })).status, 200);
  const started = Date.now();
  const response = await chat("once", { priority: 0, timeout: 1 });
  assert.equal(response.status, 429);
  assert.ok(Date.now() - started < 500, "no waiting for a deadline that cannot be met");
  const retryAfter = Number(response.headers.get("retry-after"));
  assert.ok(retryAfter >= 1 && retryAfter <= 60, `retry-after ${retryAfter}`);
  assert.equal(ctx.upstream.requests.length, 1);
});
