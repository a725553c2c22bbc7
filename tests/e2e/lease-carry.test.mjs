// An isolate refreshes its view of a group behind its requests once three quarters
// of the view's life (1 s) are gone. That sync settles the leases the isolate holds
// of the group's rpm and tpm, but for a quarter of each, kept (still set aside by
// the coordinator) for the requests that come before its answer: without it, each
// of them would wait for the answer, a round trip to a coordinator that may be far
// away (core/src/coordinator/local.rs `Held::carry`). The next sync settles it.
import assert from "node:assert/strict";
import { test } from "node:test";
import { deployment, minuteLeft, useGateway, user } from "../support/gateway.mjs";

const MASTER = "sk-lease-carry-master-0123456789abc";
const AUTH = { authorization: `Bearer ${MASTER}` };

// An rpm big enough to lease: each lease is the smallest, 16 requests, while the
// isolate uses few.
const ctx = useGateway((upstream) => ({
  config: ["model_list:", deployment(upstream, "carry", "l1", ", rpm: 6000"), "general_settings:", `  master_key: ${MASTER}`].join(
    "\n",
  ),
}));

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function send(content) {
  const answer = await ctx.gateway.post("/v1/chat/completions", { model: "carry", messages: user(content) }, AUTH);
  assert.equal(answer.status, 200, await answer.text());
  assert.equal(answer.headers.get("x-litellm-model-id"), "l1");
}

/** Requests of `l1` the isolate holds by lease, and those the coordinator set aside and counted. */
async function leases() {
  const state = await (await ctx.gateway.get("/debug/state", AUTH)).json();
  const group = state.groups.find((g) => g.coordinator.group === "carry");
  const held = group.isolate_leases.filter((l) => l.deployment === "l1" && l.minute === group.coordinator.minute);
  const set = group.coordinator.deployments.find((d) => d.id === "l1");
  return { held: held.reduce((sum, l) => sum + l.requests, 0), leased: set.leased_requests, counted: set.requests };
}

test("a sync ahead of a view's end keeps a quarter of the lease, still set aside, and the next settles it", async () => {
  // Leases and counts are a minute's: the whole test (three tries and the end, about
  // 9 s) stays in one.
  await minuteLeft(15);
  const seen = [];
  // A slow moment can put the second request outside the view's last quarter
  // (then no sync goes ahead, or the view is over and nothing is carried): three tries.
  for (let attempt = 0; attempt < 3; attempt += 1) {
    await sleep(1_100); // the view is over: the next request's sync settles all of the lease
    await send(`first ${attempt}`); // a fresh view and a lease of 16, one spent
    await sleep(800);
    await send(`second ${attempt}`); // one more spent; the sync ahead carries 4 of the 14 left
    await sleep(200);
    const now = await leases();
    seen.push(now);
    // Whatever happened, what the isolate holds is what the coordinator set aside.
    assert.equal(now.held, now.leased, JSON.stringify(seen));
    if (now.held === 4 + 16) break;
  }
  console.log(`leases of l1 after each try: ${JSON.stringify(seen)}`);
  assert.equal(seen.at(-1).held, 4 + 16, `the part carried and the new lease: ${JSON.stringify(seen)}`);

  // Two more under what it holds; then a sync past the view's end settles it all:
  // they are counted, and nothing is set aside but the lease its answer brings.
  const before = seen.at(-1).counted;
  await send("third");
  await send("fourth");
  await sleep(1_100);
  await send("fifth");
  const after = await leases();
  assert.deepEqual(after, { held: 16, leased: 16, counted: before + 2 });
});
