// A coordinator that falls behind, for real: its workerd process is paused
// (SIGSTOP) while a gateway's sync waits for it, so the view comes late, as from a
// Durable Object that takes its messages one at a time and has more than it can
// take. While an isolate's last view came late (after half its life, or a second:
// `LocalRouter::lags`), its line tells the requests that join it at the line's
// pace, a `Wait` for many at most every quarter second (`Line::pace`,
// core/src/coordinator/local/line.rs; wired in src/local_route.rs `refresh`),
// where a short line otherwise sends a `Wait` per request that joins, so that the
// queue keeps their exact order while the coordinator keeps up. And a request told
// late so is told with what is left of its wait (`Line::take`): the coordinator's
// deadline for it is its client's, not a quarter second and a trip later. Nor
// does a slot freed in the isolate go to a request of its line whose wait ran out
// while the coordinator's answer (its timeout) is late (`Line::hand`).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { coordinatorMessages, deployment, startSharedCoordinator, user } from "../support/gateway.mjs";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
/** `VIEW_TTL_MS` in core/src/coordinator/local.rs: how long a view lasts here. */
const VIEW_TTL_MS = 1_000;
/** Over half a view's life: the view comes late. Under three quarters of it,
 * when the next request would sync again ahead of its end. */
const PAUSE_MS = 600;
/** Requests that join the line after the first, one every `SPACING_MS`. */
const JOINERS = 6;
const SPACING_MS = 10;
let ctx;

before(async () => {
  ctx = await startSharedCoordinator({
    config: (upstream) =>
      [
        "model_list:",
        deployment(upstream, "steady", "st", ", max_parallel_requests: 1"),
        deployment(upstream, "lagging", "lg", ", max_parallel_requests: 1"),
        deployment(upstream, "late", "lt", ", max_parallel_requests: 1"),
        deployment(upstream, "expiring", "ex", ", max_parallel_requests: 12"),
        "router_settings:",
        "  num_retries: 0",
      ].join("\n"),
    gateways: ["gateway-a"],
  });
});

after(() => ctx?.close());

/**
 * The messages `group`'s coordinator took while one request joined the line
 * behind a blocker of `blockerMs`, then `JOINERS` more, `SPACING_MS` apart, each
 * with a 2 s timeout; with `pause`, the coordinator's process stopped for
 * `PAUSE_MS` while the first one's sync waited. Every one of them times out in
 * the queue, and none reaches the upstream.
 */
async function joinersCost(group, tag, pause, blockerMs = 6_000) {
  const [gateway] = ctx.gateways;
  const chat = (name, extra = {}) =>
    gateway.post("/v1/chat/completions", { model: group, messages: user(name), ...extra });
  ctx.upstream.script(tag, [{ type: "ok", delayMs: blockerMs }], { type: "ok" });
  const blocker = chat("blocker");
  // The blocker's view is stale by now: the first to join syncs.
  await sleep(VIEW_TTL_MS + 200);
  const before = await coordinatorMessages(gateway, group);
  const waiting = [];
  const wait = (i) => waiting.push(chat(`w${i}`, { priority: 0, timeout: 2 }));
  if (pause) process.kill(ctx.host.pid, "SIGSTOP");
  try {
    wait(0);
    await sleep(PAUSE_MS);
  } finally {
    if (pause) process.kill(ctx.host.pid, "SIGCONT");
  }
  for (let i = 1; i <= JOINERS; i++) {
    wait(i);
    await sleep(SPACING_MS);
  }
  // Before the paced `Wait` is due: a quarter second after the first one's.
  await sleep(50);
  const taken = (await coordinatorMessages(gateway, group)) - before - 1;
  const answers = await Promise.all(waiting);
  for (const answer of answers) {
    assert.equal(answer.status, 408);
    assert.equal((await answer.json()).error.code, "queue_timeout");
  }
  assert.deepEqual(
    ctx.upstream.requests.filter((r) => r.deployment === tag).map((r) => r.body.messages[0].content),
    ["blocker"],
  );
  assert.equal((await blocker).status, 200);
  return taken;
}

test("while the coordinator lags, a short line tells its joiners together at its pace, not a Wait each", async () => {
  const steady = await joinersCost("steady", "st", false);
  const lagging = await joinersCost("lagging", "lg", true);
  console.log(`coordinator messages while ${JOINERS} requests joined a line: ${steady} steady, ${lagging} lagging`);
  // Steady: the first one's sync and `Wait`, and a `Wait` per joiner. Lagging:
  // the sync and the first `Wait` only, the joiners held for the line's pace.
  assert.ok(steady >= JOINERS, `${steady} messages with a coordinator keeping up`);
  assert.ok(lagging <= 3, `${lagging} messages with a lagging coordinator`);
});

test("a request its line told late times out at its client's deadline: not admitted after it, called with a moment left", async () => {
  // The joiners' 2 s run out 3.8 s after the blocker started; told a quarter
  // second late, with all of their wait, they were admitted as it ended at 4 s
  // (and called upstream with a millisecond of their timeout left).
  const taken = await joinersCost("late", "lt", true, 4_000);
  assert.ok(taken <= 3, `${taken} messages with a lagging coordinator`);
});

test("a slot freed in its isolate goes to no request whose wait ran out: the coordinator answers it, and it is not called", async () => {
  const [gateway] = ctx.gateways;
  const chat = (name, extra = {}) =>
    gateway.post("/v1/chat/completions", { model: "expiring", messages: user(name), ...extra });
  // A first wave brings the gateway to hold most of the twelve slots, so that
  // the second's calls free slots in it (`slot-hand-over.test.mjs`).
  ctx.upstream.script("ex", [], { type: "ok", delayMs: 300 });
  for (const answer of await Promise.all(Array.from({ length: 12 }, (_, i) => chat(`warm${i}`, { priority: 1 })))) {
    assert.equal(answer.status, 200);
  }
  ctx.upstream.script("ex", [], { type: "ok", delayMs: 2_000 });
  const fill = Array.from({ length: 12 }, (_, i) => chat(`fill${i}`, { priority: 1 }));
  await sleep(150);
  // Its 1 s runs out at 1.15 s; the coordinator, paused from 0.85 s to 2.65 s,
  // answers its timeout late, after the fill's calls end at 2 s and free their
  // slots in the gateway: with the build before, the first of them was handed
  // to it, and it was called with its time gone (408 `timeout`).
  const late = chat("late", { priority: 0, timeout: 1 });
  await sleep(700);
  process.kill(ctx.host.pid, "SIGSTOP");
  try {
    await sleep(1_800);
  } finally {
    process.kill(ctx.host.pid, "SIGCONT");
  }
  const answer = await late;
  const body = await answer.json();
  assert.equal(answer.status, 408, JSON.stringify(body));
  assert.equal(body.error.code, "queue_timeout");
  // Counted from when it joined its line, as its client waited.
  const waited = Number(body.error.message.match(/waited (\d+) ms/)?.[1]);
  assert.ok(waited >= 1_000, body.error.message);
  for (const answer of await Promise.all(fill)) assert.equal(answer.status, 200);
  const called = ctx.upstream.requests.filter((r) => r.deployment === "ex").map((r) => r.body.messages[0].content);
  assert.ok(!called.includes("late"), `called: ${called}`);
});
