// A call picked in the isolate that fails is told to the group's coordinator at
// once only when the failure may start a cooldown, which the next attempt must
// see. One that cannot (a group of one deployment, cooldowns off, a client's bad
// request) travels with the isolate's next sync: it costs the coordinator no
// message of its own, and the retry or fallback no round trip
// (core/src/coordinator/protocol.rs `cools_down`).
import assert from "node:assert/strict";
import { test } from "node:test";
import { coordinatorMessages, deployment, useGateway, user } from "../support/gateway.mjs";

const MASTER = "sk-failure-sync-master-0123456789ab";
const AUTH = { authorization: `Bearer ${MASTER}` };

const ctx = useGateway((upstream) => ({
  config: [
    "model_list:",
    deployment(upstream, "solo", "s1"),
    deployment(upstream, "pair", "p1"),
    deployment(upstream, "pair", "p2"),
    deployment(upstream, "duo", "d1"),
    deployment(upstream, "duo", "d2"),
    "general_settings:",
    `  master_key: ${MASTER}`,
  ].join("\n"),
}));

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const post = (model, content) =>
  ctx.gateway.post("/v1/chat/completions", { model, messages: user(content), num_retries: 0 }, AUTH);

/**
 * `count` requests to `model`, its deployments `ids` answering each with `status`:
 * the coordinator messages they cost.
 */
async function failures(model, ids, count, status) {
  await (await post(model, "warm")).arrayBuffer(); // its view fetched
  for (const id of ids) ctx.upstream.script(id, Array(count).fill({ type: "error", status }));
  const before = await coordinatorMessages(ctx.gateway, model, AUTH);
  for (let i = 0; i < count; i += 1) {
    const answer = await post(model, `fails ${i}`);
    assert.equal(answer.status, status, await answer.text());
  }
  for (const id of ids) ctx.upstream.script(id, []); // what the other deployment did not use
  // Less this read.
  return (await coordinatorMessages(ctx.gateway, model, AUTH)) - before - 1;
}

test("failures that can cool nothing cost the coordinator no message and are counted with the next sync", async () => {
  // A group of one deployment is never cooled down.
  const solo = await failures("solo", ["s1"], 4, 500);
  // In a group of two, a client's bad request cools nothing either.
  const bad = await failures("pair", ["p1", "p2"], 4, 400);
  console.log(`4 failures each: ${solo} coordinator messages (solo, 500s), ${bad} (pair, 400s)`);
  // Each told at once would be 4; a view's refresh may fall among them.
  assert.ok(solo <= 1, `solo: ${solo} messages`);
  assert.ok(bad <= 1, `pair: ${bad} messages`);

  // The next sync (the view is stale after a second) tells them: the
  // coordinator counts them in the deployment's failures.
  await sleep(1_100);
  for (const model of ["solo", "pair"]) assert.equal((await post(model, "after")).status, 200);
  const state = await (await ctx.gateway.get("/ui/state", AUTH)).json();
  const failed = (group, id) => state.groups.find((g) => g.name === group).deployments.find((d) => d.id === id).failures;
  assert.equal(failed("solo", "s1").Internal, 4, JSON.stringify(failed("solo", "s1")));
  assert.equal((failed("pair", "p1").BadRequest ?? 0) + (failed("pair", "p2").BadRequest ?? 0), 4);
});

test("a failure that may cool its deployment is told at once", async () => {
  // Three of four requests failing: under LiteLLM's rule (over half of at least
  // five) nothing cools yet, but the next attempt must see what it would.
  const taken = await failures("duo", ["d1", "d2"], 3, 500);
  console.log(`3 server errors in a group of two: ${taken} coordinator messages`);
  assert.ok(taken >= 3, `${taken} messages`);
});
