// A saturated group: what its coordinator would refuse, the isolate refuses by its
// view, without asking, so that the coordinator's load follows the capacity that
// frees rather than the requests that arrive; requests that may wait still line up
// in its queue, and come first when capacity frees (issue 19).
import assert from "node:assert/strict";
import { test } from "node:test";
import { coordinatorMessages, deployment, minuteLeft, useGateway, user } from "../support/gateway.mjs";

const MASTER_KEY = "sk-master-saturation-0123456789";
const AUTH = { authorization: `Bearer ${MASTER_KEY}` };

const ctx = useGateway((upstream) => ({
  config: [
    "model_list:",
    deployment(upstream, "rated", "ra", ", rpm: 100"),
    deployment(upstream, "parallel", "pp", ", max_parallel_requests: 4"),
    "router_settings:",
    "  num_retries: 0",
    "general_settings:",
    `  master_key: ${MASTER_KEY}`,
  ].join("\n"),
}));

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const chat = (model, extra = {}) =>
  ctx.gateway.post("/v1/chat/completions", { model, messages: user(extra.tag ?? "x"), ...extra, tag: undefined }, AUTH);

/** Messages the group's coordinator took so far (`/metrics`). */
const messages = (group) => coordinatorMessages(ctx.gateway, group, AUTH);

async function statuses(requests) {
  const responses = await Promise.all(requests);
  return Promise.all(
    responses.map(async (r) => ({ status: r.status, body: await r.json(), retryAfter: r.headers.get("retry-after") })),
  );
}

test("a group at its rpm answers 429 from the isolate, without a message per request to its coordinator", async () => {
  await minuteLeft(20);
  const served = await statuses(Array.from({ length: 120 }, () => chat("rated")));
  assert.equal(served.filter((r) => r.status === 200).length, 100);
  // The view that says the minute is spent comes with the next sync.
  await sleep(1_100);
  const before = await messages("rated");
  const refused = await statuses(Array.from({ length: 40 }, () => chat("rated")));
  const after = await messages("rated");
  for (const { status, body, retryAfter } of refused) {
    assert.equal(status, 429);
    assert.equal(body.error.type, "rate_limit_error");
    assert.ok(Number(retryAfter) >= 1 && Number(retryAfter) <= 60, `retry-after ${retryAfter}`);
  }
  // One sync for the stale view, shared by the burst (one message per request before).
  assert.ok(after - before <= 3, `${after - before} coordinator messages for 40 refused requests`);
  assert.equal(ctx.upstream.requests.filter((r) => r.deployment === "ra").length, 100, "the upstream saw exactly 100");
});

test("a group at its max_parallel_requests refuses requests that may not wait, queues those that may, and serves them first", async () => {
  ctx.upstream.script("pp", [], { type: "ok", delayMs: 2_500 });
  const holders = Array.from({ length: 4 }, (_, i) => chat("parallel", { tag: `holder-${i}` }));
  await sleep(1_300); // the four in flight, and a view made since that says so
  await chat("parallel").then((r) => r.arrayBuffer()); // its sync brings the view
  const before = await messages("parallel");
  const refused = await statuses(Array.from({ length: 20 }, () => chat("parallel")));
  const after = await messages("parallel");
  for (const { status, body } of refused) {
    assert.equal(status, 429);
    assert.match(body.error.message, /max_parallel_requests|busy/i);
  }
  assert.ok(after - before <= 2, `${after - before} coordinator messages for 20 refused requests`);
  // A request with a priority waits for the first slot that frees, ahead of what comes later.
  ctx.upstream.script("pp", [], { type: "ok" });
  const waiting = chat("parallel", { priority: 0, tag: "waiting" });
  const answers = await statuses([...holders, waiting]);
  assert.deepEqual(answers.map((a) => a.status), [200, 200, 200, 200, 200]);
  const order = ctx.upstream.requests.filter((r) => r.deployment === "pp").map((r) => r.body.messages[0].content);
  assert.deepEqual(order.slice(-1), ["waiting"]);
  assert.equal(order.length, 5, "the 20 refused never reached the upstream");
  // Once the slots are free, the next view lets requests through again.
  await sleep(1_100);
  assert.equal((await chat("parallel")).status, 200);
});
