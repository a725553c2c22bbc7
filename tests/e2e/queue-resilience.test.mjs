// Nothing waiting in a queue is lost when a process goes away: a gateway whose
// request waits, or the coordinator holding the queue. The coordinators run in a
// workerd process of their own (as a Durable Object runs apart from the Worker
// calling it on Cloudflare), so that either side can be stopped under the other.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { deployment, startCoordinatorHost, startGateway, user } from "../support/gateway.mjs";
import { startMockUpstream } from "../support/mock-upstream.mjs";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const ctx = {};

before(async () => {
  ctx.registry = mkdtempSync(join(tmpdir(), "switchyard-registry-"));
  ctx.upstream = await startMockUpstream();
  ctx.config = ["model_list:", deployment(ctx.upstream, "serial", "one", ", max_parallel_requests: 1")].join("\n");
  ctx.host = await startCoordinatorHost({ config: ctx.config, registry: ctx.registry });
  ctx.gateway = await startGateway({ config: ctx.config, coordinatorRegistry: ctx.registry });
});

after(async () => {
  await ctx.gateway?.close();
  await ctx.host?.close();
  await ctx.upstream?.close();
  rmSync(ctx.registry, { recursive: true, force: true });
});

const chat = (body = {}, gateway = ctx.gateway) =>
  gateway.post("/v1/chat/completions", { model: "serial", messages: user(body.tag), ...body, tag: undefined });

test("a waiting request whose gateway dies leaves the queue: the next in line is served when capacity frees", async () => {
  const doomed = await startGateway({ config: ctx.config, coordinatorRegistry: ctx.registry });
  ctx.upstream.script("one", [{ type: "ok", delayMs: 800 }]);
  const started = Date.now();
  const busy = chat({ priority: 0, tag: "busy" });
  await sleep(200);
  const lost = chat({ priority: 1, tag: "lost" }, doomed).catch(() => "gone");
  await sleep(150);
  const next = chat({ priority: 2, tag: "next" });
  await sleep(150);
  const depth = async () => (await (await ctx.gateway.get("/queue/status")).json()).groups[0].depth;
  assert.equal(await depth(), 2);

  await doomed.close();
  await sleep(100);
  assert.equal(await depth(), 1, "the dead gateway's request left the line");
  assert.equal((await busy).status, 200);
  assert.equal((await next).status, 200);
  assert.ok(Date.now() - started < 2_000, "served as soon as the deployment was free");
  assert.equal(await lost, "gone");
  assert.deepEqual(
    ctx.upstream.requests.map((r) => r.body.messages[0].content),
    ["busy", "next"],
  );
});

test("a coordinator restart answers its waiting requests with a retryable 503, then the group serves again", async () => {
  const first = await chat();
  assert.equal(first.status, 200, await first.text());

  ctx.upstream.script("one", [{ type: "ok", delayMs: 1_500 }]);
  const busy = chat({ priority: 1, tag: "busy" });
  await sleep(200);
  const waiting = chat({ priority: 1, tag: "waiting" });
  await sleep(200);
  const status = await (await ctx.gateway.get("/queue/status")).json();
  assert.equal(status.groups.find((g) => g.group === "serial").depth, 1, "the second request waits in the queue");

  const resetAt = Date.now();
  await ctx.host.close();
  const answer = await waiting;
  assert.ok(Date.now() - resetAt < 1_000, "answered at once, not at its deadline");
  assert.equal(answer.status, 503);
  assert.ok(Number(answer.headers.get("retry-after")) >= 1, "retry-after tells the client when to try again");
  const { error } = await answer.json();
  assert.equal(error.code, "coordinator_unavailable");
  assert.match(error.message, /retry the request/);
  // The request already admitted is not cut: its call finishes.
  assert.equal((await busy).status, 200);

  ctx.host = await startCoordinatorHost({ config: ctx.config, registry: ctx.registry });
  let again;
  for (let tries = 0; tries < 50; tries++) {
    again = await chat({ priority: 1 });
    if (again.status === 200) break;
    await again.arrayBuffer();
    await sleep(100);
  }
  assert.equal(again.status, 200, "the group serves once its coordinator is back");
});
