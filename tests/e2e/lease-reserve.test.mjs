// The part of an rpm its coordinator never leases: a twentieth once a request that
// may wait (one with a `priority`) came to the group by ticket this minute or the
// last, so that the queue decides who gets a minute's last requests; a
// four-hundredth otherwise, so that a group whose requests never wait goes by lease
// almost to its limit (core/src/coordinator/mod.rs `Coordinator::lease_reserve`).
// Each request past what is leased takes a ticket: a message to the coordinator.
// And a deployment whose minute a ticket spent is left out by the gateway that
// took it, rather than asked for by ticket until its next view says it is full
// (core/src/coordinator/local.rs `LocalRouter::granted`).
import assert from "node:assert/strict";
import { test } from "node:test";
import { coordinatorMessages, deployment, minuteLeft, useGateway, user } from "../support/gateway.mjs";

const MASTER_KEY = "sk-master-lease-reserve-0123456789";
const AUTH = { authorization: `Bearer ${MASTER_KEY}` };
const RPM = 1_000;

// Two groups alike. Each first deployment has an rpm too small to lease (every
// request to it takes a ticket) and comes first (`order`), so that a group's first
// request goes by ticket; the second is the one filled.
const ctx = useGateway((upstream) => ({
  config: [
    "model_list:",
    ...["plain", "ordered"].flatMap((group) => [
      deployment(upstream, group, `${group}-first`, ", rpm: 1, order: 1"),
      deployment(upstream, group, `${group}-rest`, `, rpm: ${RPM}, order: 2`),
    ]),
    "router_settings:",
    "  num_retries: 0",
    "general_settings:",
    `  master_key: ${MASTER_KEY}`,
  ].join("\n"),
}));

const chat = (model, extra = {}) =>
  ctx.gateway.post("/v1/chat/completions", { model, messages: user("x"), ...extra }, AUTH);

/** `n` requests to `group`, eight at a time; the deployments that answered, by id. */
async function fill(group, n) {
  const served = new Map();
  let sent = 0;
  const client = async () => {
    while (sent < n) {
      sent += 1;
      const answer = await chat(group);
      assert.equal(answer.status, 200, await answer.text());
      const id = answer.headers.get("x-litellm-model-id");
      served.set(id, (served.get(id) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: 8 }, client));
  return served;
}

test("a group whose requests never wait goes by lease nearer its rpm than one where a request with a priority came", async () => {
  // Both minutes' counts must be the same minute's.
  await minuteLeft(40);
  // The first request of each group takes the first deployment's only request, by
  // ticket: with a priority in `ordered` (it may wait), without in `plain`.
  for (const [group, extra] of [["plain", {}], ["ordered", { priority: 0 }]]) {
    const first = await chat(group, extra);
    assert.equal(first.status, 200, await first.text());
    assert.equal(first.headers.get("x-litellm-model-id"), `${group}-first`);
  }
  const taken = {};
  for (const group of ["plain", "ordered"]) {
    const before = await coordinatorMessages(ctx.gateway, group, AUTH);
    const served = await fill(group, RPM);
    // Less the read of `/metrics` after.
    taken[group] = (await coordinatorMessages(ctx.gateway, group, AUTH)) - before - 1;
    assert.deepEqual([...served], [[`${group}-rest`, RPM]], "every request within the rpm is served");
  }
  console.log(`coordinator messages for ${RPM} requests: ${JSON.stringify(taken)}`);
  // The first deployments' minutes were spent by the first requests, within the
  // views: had the gateway asked for them by ticket until its next view, the
  // second's first second of requests would each have taken one (about 200 here).
  assert.ok(taken.plain < 150, `messages ${JSON.stringify(taken)}`);
  // Leases stop where what is left is under four smallest leases past the reserve:
  // about 1,000 - 3 - 64 without priorities, 1,000 - 50 - 64 with, so about 47 more
  // requests take a ticket in `ordered`.
  assert.ok(taken.ordered - taken.plain >= 30, `messages ${JSON.stringify(taken)}`);
  // The next request finds the rpm spent in both groups, and is refused.
  for (const group of ["plain", "ordered"]) assert.equal((await chat(group)).status, 429);
});
