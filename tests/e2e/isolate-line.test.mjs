// Requests that wait for a saturated group wait in their isolate's line
// (core/src/coordinator/local/line.rs, src/line.rs): the isolate tells the
// group's coordinator who joined and who left in one `Wait` for many, and the
// coordinator answers a `Wait` with every answer it owes the line by then
// (core/src/coordinator/lines.rs). So the coordinator's work follows the
// answers it hands out, not the requests that arrive. The queue's order, across
// lines and processes, is held by priority-queue.test.mjs and
// multi-process.test.mjs; a line whose gateway dies leaves the queue in
// queue-resilience.test.mjs. (A client that disconnects while its request waits
// is not seen by a local workerd, which serves the request anyway: that path
// is driven natively, `Line::leave` and `Coordinator::wait`'s leavers.)
import assert from "node:assert/strict";
import { test } from "node:test";
import { coordinatorMessages, deployment, useGateway, user } from "../support/gateway.mjs";

const ctx = useGateway((upstream) => ({
  config: [
    "model_list:",
    deployment(upstream, "crowded", "cr", ", max_parallel_requests: 1"),
    "router_settings:",
    "  num_retries: 0",
  ].join("\n"),
}));

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const chat = (model, tag, extra = {}) =>
  ctx.gateway.post("/v1/chat/completions", { model, messages: user(tag), ...extra });
const tagOf = (request) => request.body.messages[0].content;

const messages = (group) => coordinatorMessages(ctx.gateway, group);

test("forty requests waiting through one isolate cost its coordinator a handful of messages, not one each", async () => {
  ctx.upstream.script("cr", [{ type: "ok", delayMs: 2_500 }], { type: "ok" });
  const blocker = chat("crowded", "blocker");
  await sleep(300);
  const before = await messages("crowded");
  const waiting = Array.from({ length: 40 }, (_, i) => chat("crowded", `w${i}`, { priority: i % 3, timeout: 1.5 }));
  const answers = await Promise.all(waiting);
  const taken = (await messages("crowded")) - before - 1;
  for (const answer of answers) {
    assert.equal(answer.status, 408);
    const { error } = await answer.json();
    assert.equal(error.code, "queue_timeout");
    assert.match(error.message, /in the queue of `crowded` \(place \d+ in line\)/);
  }
  assert.equal((await blocker).status, 200);
  // With a fetch each, the forty alone took forty acquires. Through the line,
  // the first eight are told at once, each (a short line keeps the queue's exact
  // order), the rest together a quarter second later at most, and a `Wait`
  // follows each answer sent back as their deadlines came (several at a time).
  console.log(`coordinator messages for 40 waiting requests: ${taken}`);
  assert.ok(taken <= 16, `${taken} messages for 40 waiting requests`);
  assert.deepEqual(ctx.upstream.requests.map(tagOf), ["blocker"]);
});
