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
// tried first; `rc`, the next tier, holds the group's concurrency limit.
const ctx = useGateway((upstream) => ({
  config: [
    "model_list:",
    deployment(upstream, "mixed", "rt", ", rpm: 60, order: 1"),
    deployment(upstream, "mixed", "rc", ", max_parallel_requests: 4, order: 2"),
    "general_settings:",
    `  master_key: ${MASTER}`,
  ].join("\n"),
}));

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

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
  const state = await (await ctx.gateway.get("/debug/state", AUTH)).json();
  const { coordinator } = state.groups.find((g) => g.coordinator.group === "mixed");
  assert.equal(coordinator.tickets, 0, JSON.stringify(coordinator));
  for (const d of coordinator.deployments) assert.equal(d.in_flight, 0, `${d.id}: ${JSON.stringify(d)}`);
});
