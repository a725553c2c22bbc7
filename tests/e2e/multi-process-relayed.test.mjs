// Four gateway processes share one coordinator process, each through a relay
// of its own (`router_settings.coordinator_relay_ms`; src/relay.rs): each
// process stands for a location. What must hold is what holds without relays
// (tests/support/multi-process.mjs), and the relays' own promise: the
// coordinator takes at most one request per relay per period, however many
// messages the gateways send.
import assert from "node:assert/strict";
import { test } from "node:test";
import { coordinatorMessages, user } from "../support/gateway.mjs";
import { multiProcessTests } from "../support/multi-process.mjs";

const RELAY_MS = 100;
const shared = multiProcessTests({ relayMs: RELAY_MS });

test("the coordinator takes at most one request per relay per period from 200 requests through four gateways", async (t) => {
  const { ctx } = shared;
  ctx.upstream.script("par", [], { type: "ok", delayMs: 300 });
  const [first] = ctx.gateways;
  const before = await coordinatorMessages(first, "parallel");
  const started = Date.now();
  // With a priority, a request that finds no slot waits in its gateway's line
  // (a `Wait` for many, held at the relay), else it takes a slot of its
  // gateway's lease (a sync now and then): messages of every kind.
  const sent = ctx.gateways.flatMap((gateway, g) =>
    Array.from({ length: 50 }, (_, i) =>
      gateway.post("/v1/chat/completions", { model: "parallel", messages: user(`relayed-g${g + 1}-${i}`), priority: 1 }),
    ),
  );
  const answers = await Promise.all(sent);
  for (const answer of answers) assert.equal(answer.status, 200, await answer.text());
  assert.ok(ctx.upstream.peak("par") <= 20, `peak ${ctx.upstream.peak("par")}`);
  // The read's own `Metrics` message is not relayed: one more.
  const taken = (await coordinatorMessages(first, "parallel")) - before - 1;
  const took = Date.now() - started;
  const bound = 4 * (Math.ceil(took / RELAY_MS) + 1);
  assert.ok(taken > 0 && taken <= bound, `${taken} coordinator requests in ${took} ms, at most ${bound}`);
  t.diagnostic(`200 requests in ${took} ms: the coordinator took ${taken} requests (at most ${bound} by the relays' period)`);
});
