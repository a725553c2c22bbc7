// A ticket ends with the isolate that took it: a gateway process that dies while
// its request holds a group's only ticket does not keep the group busy for the
// ticket's ten-minute expiry. The coordinator takes the ticket back once the
// dead isolate has been silent for `SLOTS_TTL_MS` (30 s), as it does its slots,
// and the request waiting in the queue through another gateway gets it then.
// The coordinators run in a workerd process of their own, shared by both
// gateways through one dev registry (as in multi-process.test.mjs).
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { deployment, startCoordinatorHost, startGateway, user } from "../support/gateway.mjs";
import { startMockUpstream } from "../support/mock-upstream.mjs";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
/** `SLOTS_TTL_MS` in core/src/coordinator/isolates.rs. */
const LAPSE_MS = 30_000;
const ctx = {};

before(async () => {
  ctx.registry = mkdtempSync(join(tmpdir(), "switchyard-registry-"));
  ctx.upstream = await startMockUpstream();
  // One request in flight at most: no slot is ever leased (the tenth never
  // leased is all of it), so every request takes a ticket.
  ctx.config = ["model_list:", deployment(ctx.upstream, "serial", "one", ", max_parallel_requests: 1")].join("\n");
  ctx.host = await startCoordinatorHost({ config: ctx.config, registry: ctx.registry });
  ctx.doomed = await startGateway({ config: ctx.config, coordinatorRegistry: ctx.registry, name: "doomed" });
  ctx.survivor = await startGateway({ config: ctx.config, coordinatorRegistry: ctx.registry, name: "survivor" });
});

after(async () => {
  await ctx.doomed?.close();
  await ctx.survivor?.close();
  await ctx.host?.close();
  await ctx.upstream?.close();
  rmSync(ctx.registry, { recursive: true, force: true });
});

const chat = (gateway, tag) =>
  gateway.post("/v1/chat/completions", { model: "serial", messages: user(tag), priority: 0 });
const tagOf = (request) => request.body.messages[0].content;

test("a gateway that dies holding the only ticket frees it after the lapse, not the ticket's ten minutes", async (t) => {
  // The doomed gateway's request takes the ticket, and its upstream never answers.
  ctx.upstream.script("one", [{ type: "stall" }], { type: "ok" });
  const stalled = chat(ctx.doomed, "stalled").catch(() => "gone");
  while (!ctx.upstream.requests.some((r) => tagOf(r) === "stalled")) await sleep(10);
  const takenAt = Date.now();

  // The survivor's request finds the group busy and waits in the queue.
  const waiting = chat(ctx.survivor, "waiting");
  const depth = async () => (await (await ctx.survivor.get("/queue/status")).json()).groups[0].depth;
  for (let tries = 0; tries < 100 && (await depth()) < 1; tries++) await sleep(20);
  assert.equal(await depth(), 1, "the survivor's request waits for the ticket");

  // The doomed process dies with its request holding the ticket: no report comes.
  await ctx.doomed.close();
  ctx.doomed = undefined;
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
