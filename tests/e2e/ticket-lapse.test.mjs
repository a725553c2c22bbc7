// A ticket ends with the isolate that took it: a gateway process that dies while
// its request holds a group's only ticket does not keep the group busy for the
// ticket's ten-minute expiry. The coordinator takes the ticket back once the
// dead isolate has been silent for `SLOTS_TTL_MS` (10 s), as it does its slots,
// and the request waiting in the queue through another gateway gets it then.
// The coordinators run in a workerd process of their own, shared by both
// gateways through one dev registry (as in multi-process.test.mjs).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { deployment, startSharedCoordinator, user } from "../support/gateway.mjs";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
/** `SLOTS_TTL_MS` in core/src/coordinator/isolates.rs. */
const LAPSE_MS = 10_000;
let ctx;

before(async () => {
  ctx = await startSharedCoordinator({
    // One request in flight at most: no slot is ever leased (the tenth never
    // leased is all of it), so every request takes a ticket.
    config: (upstream) => ["model_list:", deployment(upstream, "serial", "one", ", max_parallel_requests: 1")].join("\n"),
    gateways: ["doomed", "survivor"],
  });
});

after(() => ctx?.close());

const chat = (gateway, tag) =>
  gateway.post("/v1/chat/completions", { model: "serial", messages: user(tag), priority: 0 });
const tagOf = (request) => request.body.messages[0].content;

test("a gateway that dies holding the only ticket frees it after the lapse, not the ticket's ten minutes", async (t) => {
  const [doomed, survivor] = ctx.gateways;
  // The doomed gateway's request takes the ticket, and its upstream never answers.
  ctx.upstream.script("one", [{ type: "stall" }], { type: "ok" });
  const stalled = chat(doomed, "stalled").catch(() => "gone");
  while (!ctx.upstream.requests.some((r) => tagOf(r) === "stalled")) await sleep(10);
  const takenAt = Date.now();

  // The survivor's request finds the group busy and waits in the queue.
  const waiting = chat(survivor, "waiting");
  const depth = async () => (await (await survivor.get("/queue/status")).json()).groups[0].depth;
  for (let tries = 0; tries < 100 && (await depth()) < 1; tries++) await sleep(20);
  assert.equal(await depth(), 1, "the survivor's request waits for the ticket");

  // The doomed process dies with its request holding the ticket: no report comes.
  await doomed.close();
  assert.equal(await stalled, "gone");

  const answer = await waiting;
  const servedAfter = Date.now() - takenAt;
  assert.equal(answer.status, 200, await answer.clone().text());
  assert.equal((await answer.json()).object, "chat.completion");
  // Not before the dead isolate was silent for the lapse (its ticket counted
  // until then), and well before the ticket's own ten minutes.
  assert.ok(servedAfter >= LAPSE_MS - 2_000, `served ${servedAfter} ms after the ticket was taken`);
  assert.ok(servedAfter < LAPSE_MS + 8_000, `served ${servedAfter} ms after the ticket was taken`);
  assert.deepEqual(ctx.upstream.requests.map(tagOf), ["stalled", "waiting"]);
  t.diagnostic(`the waiting request was served ${servedAfter} ms after the dead gateway took the ticket`);
});
