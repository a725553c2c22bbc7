// Automatic relays (`router_settings.coordinator_relay_above`; src/relay.rs):
// four gateway processes (each a location) share one coordinator process, and
// send it their messages themselves until its views say to relay, which they
// say from a second in which it took the threshold's number of the isolates'
// messages, and stop saying below half of it. The threshold here is low (20 a
// second, against 500 by default) so that four processes reach it.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { coordinatorMessages, deployment, metricSample, startSharedCoordinator, user } from "../support/gateway.mjs";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
// Long enough that relayed, the coordinator takes fewer requests a second
// (four relays, two batches a second each) than the isolates sent it directly
// to turn relays on.
const RELAY_MS = 500;
const ABOVE = 20;
const MAX_PARALLEL = 20;
let ctx;

before(async () => {
  ctx = await startSharedCoordinator({
    config: (upstream) =>
      [
        "model_list:",
        deployment(upstream, "parallel", "par", `, max_parallel_requests: ${MAX_PARALLEL}`),
        "router_settings:",
        "  num_retries: 0",
        `  coordinator_relay_ms: ${RELAY_MS}`,
        `  coordinator_relay_above: ${ABOVE}`,
      ].join("\n"),
    gateways: ["gateway-1", "gateway-2", "gateway-3", "gateway-4"],
  });
});

after(() => ctx?.close());

/** Whether the group's coordinator tells isolates to relay now (its `/metrics` gauge). */
async function relaying(gateway) {
  const text = await (await gateway.get("/metrics")).text();
  return metricSample(text, "switchyard_coordinator_relaying", "model_group", "parallel") === 1;
}

/**
 * Keeps `perGateway` requests with a priority in flight through each gateway
 * until `stop()`: more than the group's slots, so that some wait in their
 * gateway's line. Counts the answers, and keeps every one that was not a 200.
 */
function load(perGateway) {
  const state = { running: true, answered: 0, failures: [] };
  const loop = async (gateway, g, k) => {
    for (let i = 0; state.running; i++) {
      const answer = await gateway.post("/v1/chat/completions", {
        model: "parallel",
        messages: user(`auto-g${g + 1}-${k}-${i}`),
        priority: 1,
      });
      const body = await answer.text();
      if (answer.status === 200) state.answered++;
      else state.failures.push(`${answer.status} ${body}`);
    }
  };
  const loops = ctx.gateways.flatMap((gateway, g) => Array.from({ length: perGateway }, (_, k) => loop(gateway, g, k)));
  state.stop = async () => {
    state.running = false;
    await Promise.all(loops);
  };
  return state;
}

test("isolates relay once the coordinator takes the threshold's messages a second, and stop when the traffic does", async (t) => {
  const [first] = ctx.gateways;
  ctx.upstream.script("par", [], { type: "ok", delayMs: 50 });
  for (const gateway of ctx.gateways) {
    const answer = await gateway.post("/v1/chat/completions", { model: "parallel", messages: user("quiet") });
    assert.equal(answer.status, 200, await answer.text());
  }
  assert.equal(await relaying(first), false, "a request per gateway is far below the threshold");

  const atStart = await coordinatorMessages(first, "parallel");
  const traffic = load(10);
  try {
    // The coordinator decides when a second ends: once the load's first full
    // second did, its next message turns relays on.
    const started = Date.now();
    while (!(await relaying(first))) {
      assert.ok(Date.now() - started < 10_000, `no relays after 10 s: ${traffic.answered} answered`);
      await sleep(250);
    }
    const turnedOn = Date.now() - started;
    const direct = (await coordinatorMessages(first, "parallel")) - atStart;
    // Every gateway's view that said otherwise is gone a view's life later.
    await sleep(2_000);
    const before = await coordinatorMessages(first, "parallel");
    const answeredBefore = traffic.answered;
    const from = Date.now();
    await sleep(3_000);
    const answered = traffic.answered - answeredBefore;
    // The read's own `Metrics` message is not relayed: one more.
    const taken = (await coordinatorMessages(first, "parallel")) - before - 1;
    const took = Date.now() - from;
    // Four relays, each a batch at most every period (the first of the window
    // may go at once).
    const bound = 4 * (Math.ceil(took / RELAY_MS) + 1);
    t.diagnostic(
      `relays on ${turnedOn} ms into the load (the coordinator took ${direct} requests by then); then ${answered} requests answered in ${took} ms, the coordinator took ${taken} requests (at most ${bound})`,
    );
    assert.ok(answered > 0, "requests are served through relays");
    // Relays cut the coordinator's load: a quarter of what it took a second
    // before they started, at most.
    assert.ok(taken / took < direct / turnedOn / 4, `${taken} in ${took} ms relayed, ${direct} in ${turnedOn} ms before`);
    assert.ok(taken > 0 && taken <= bound, `${taken} coordinator requests in ${took} ms, at most ${bound}`);
    assert.equal(await relaying(first), true, "still relaying under the load");
  } finally {
    await traffic.stop();
  }
  assert.deepEqual(traffic.failures, []);
  assert.ok(ctx.upstream.peak("par") <= MAX_PARALLEL, `peak ${ctx.upstream.peak("par")}`);

  // Quiet seconds count as none: the next message (this read) turns relays off.
  await sleep(2_500);
  assert.equal(await relaying(first), false, "the traffic stopped");
  // A gateway whose last view said to relay still serves: its next sync goes
  // through its relay, and the view it brings back says not to.
  const answer = await first.post("/v1/chat/completions", { model: "parallel", messages: user("after") });
  assert.equal(answer.status, 200, await answer.text());
});
