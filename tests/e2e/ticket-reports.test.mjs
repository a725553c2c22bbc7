// How a ticket ends is told to the coordinator by its report. A success on a
// deployment without `max_parallel_requests` frees nothing anyone waits for (its
// rpm was counted at the grant), so its report waits up to 100 ms to travel with
// the gateway's next message to the group's coordinator (a ticket, a sync, its
// line's `Wait`): in a group that also holds a deployment with
// `max_parallel_requests`, whose reports still go at once
// (core/src/coordinator/protocol.rs `report_may_wait`).
import assert from "node:assert/strict";
import { test } from "node:test";
import { coordinatorMessages, deployment, useGateway, user } from "../support/gateway.mjs";

const MASTER = "sk-reports-master-0123456789abcdef";
const AUTH = { authorization: `Bearer ${MASTER}` };

// `rt` has an rpm too small to lease (every request to it takes a ticket) and is
// tried first; `rc`, the next tier, holds the group's concurrency limit. In
// `carried`, `ct` takes tickets as `rt` does, and a prompt too long for it goes to
// `cl`, routed in the isolate.
const ctx = useGateway((upstream) => ({
  config: [
    "model_list:",
    deployment(upstream, "mixed", "rt", ", rpm: 60, order: 1"),
    deployment(upstream, "mixed", "rc", ", max_parallel_requests: 4, order: 2"),
    `  - { model_name: carried, litellm_params: { model: openai/m, api_base: "${upstream.base("ct")}", rpm: 60, order: 1 }, model_info: { id: ct, max_input_tokens: 50 } }`,
    deployment(upstream, "carried", "cl", ", order: 2"),
    "router_settings:",
    "  enable_pre_call_checks: true",
    "general_settings:",
    `  master_key: ${MASTER}`,
  ].join("\n"),
}));

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** What `group`'s coordinator holds now, from the gateway's `/debug/state`. */
async function coordinatorState(group) {
  const state = await (await ctx.gateway.get("/debug/state", AUTH)).json();
  return state.groups.find((g) => g.coordinator.group === group).coordinator;
}

test("reports of tickets to a deployment without a concurrency limit travel with the next message, and every ticket ends", async () => {
  ctx.upstream.script("rt", [], { type: "ok" });
  const before = await coordinatorMessages(ctx.gateway, "mixed", AUTH);
  // Ten clients, each sending its next request as its last is answered: a
  // message to the coordinator (another's ticket) goes well within each
  // report's 100 ms.
  const REQUESTS = 50;
  const client = async (c) => {
    for (let i = 0; i < REQUESTS / 10; i += 1) {
      const answer = await ctx.gateway.post("/v1/chat/completions", { model: "mixed", messages: user(`c${c}-${i}`) }, AUTH);
      assert.equal(answer.status, 200, await answer.text());
      assert.equal(answer.headers.get("x-litellm-model-id"), "rt");
    }
  };
  await Promise.all(Array.from({ length: 10 }, (_, c) => client(c)));
  await sleep(300);
  const taken = (await coordinatorMessages(ctx.gateway, "mixed", AUTH)) - before - 1;
  console.log(`${REQUESTS} requests by ticket: ${taken} coordinator messages`);
  // A ticket each, and few reports of their own (each alone: 100).
  assert.ok(taken >= REQUESTS && taken < REQUESTS * 1.5, `${taken} messages`);
  // Every report came, whatever it travelled with: no ticket is left open.
  const coordinator = await coordinatorState("mixed");
  assert.equal(coordinator.tickets, 0, JSON.stringify(coordinator));
  for (const d of coordinator.deployments) assert.equal(d.in_flight, 0, `${d.id}: ${JSON.stringify(d)}`);
});

// The isolate's sync (here a failure's, which goes at once) takes the reports
// waiting as an acquire and a `Wait` do, and the coordinator applies them.
test("a report waiting for the next message travels with a sync", async () => {
  const post = (content, extra = {}) =>
    ctx.gateway.post("/v1/chat/completions", { model: "carried", messages: user(content), ...extra }, AUTH);
  const counts = [];
  // A slow moment can let the report's 100 ms pass before the sync goes (then it
  // goes alone, one message more): three tries.
  for (let attempt = 0; attempt < 3; attempt += 1) {
    ctx.upstream.script("cl", [{ type: "error", status: 500 }]);
    const before = await coordinatorMessages(ctx.gateway, "carried", AUTH);
    const ticketed = await post(`short ${attempt}`);
    assert.equal(ticketed.status, 200, await ticketed.text());
    assert.equal(ticketed.headers.get("x-litellm-model-id"), "ct");
    // Too long for `ct`: routed to `cl` in the isolate, which fails, and the
    // isolate syncs at once to tell the coordinator.
    const failed = await post(`long ${attempt} ${"word ".repeat(200)}`, { num_retries: 0 });
    assert.equal(failed.status, 500, await failed.text());
    // Read before the report's 100 ms are up: its ticket ended with the sync.
    const coordinator = await coordinatorState("carried");
    assert.equal(coordinator.tickets, 0, JSON.stringify(coordinator));
    await sleep(300);
    // Less this read and the state's.
    counts.push((await coordinatorMessages(ctx.gateway, "carried", AUTH)) - before - 2);
  }
  console.log(`a ticket and a failure's sync, three times: ${counts.join(", ")} coordinator messages`);
  // After the first try (which also fetched the isolate's first view): the
  // ticket's acquire and the failure's sync. The report going alone is a third.
  assert.ok(counts.slice(1).includes(2), `messages per try: ${counts.join(", ")}`);
});
