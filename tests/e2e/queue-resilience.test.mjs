// Nothing waiting in a queue is lost when a process goes away: a gateway whose
// request waits, or the coordinator holding the queue; and while a coordinator is
// away, what needs no coordination keeps serving. The coordinators run in a
// workerd process of their own (as a Durable Object runs apart from the Worker
// calling it on Cloudflare), so that either side can be stopped under the other.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { deployment, startSharedCoordinator, user } from "../support/gateway.mjs";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
let ctx;
/** The gateway every test sends through (the first test starts a second one to close). */
let gateway;

before(async () => {
  ctx = await startSharedCoordinator({
    config: (upstream) =>
      [
        "model_list:",
        deployment(upstream, "serial", "one", ", max_parallel_requests: 1"),
        // Routed in the isolate: `free` by its view alone, `limited` under leases of its rpm.
        deployment(upstream, "free", "free-1"),
        deployment(upstream, "limited", "limited-1", ", rpm: 1000"),
        // Every coordinator's stub is got with a location hint (workerd takes it, and ignores it).
        "router_settings:",
        "  coordinator_location: weur",
        "  coordinator_locations: { limited: enam }",
      ].join("\n"),
    gateways: ["gateway"],
  });
  [gateway] = ctx.gateways;
});

after(() => ctx?.close());

const chat = (body = {}, through = gateway) =>
  through.post("/v1/chat/completions", { model: "serial", messages: user(body.tag), ...body, tag: undefined });

test("a waiting request whose gateway dies leaves the queue: the next in line is served when capacity frees", async () => {
  const doomed = await ctx.startGateway("doomed");
  ctx.upstream.script("one", [{ type: "ok", delayMs: 800 }]);
  const started = Date.now();
  const busy = chat({ priority: 0, tag: "busy" });
  await sleep(200);
  const lost = chat({ priority: 1, tag: "lost" }, doomed).catch(() => "gone");
  await sleep(150);
  const next = chat({ priority: 2, tag: "next" });
  await sleep(150);
  const depth = async () => (await (await gateway.get("/queue/status")).json()).groups[0].depth;
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
  const status = await (await gateway.get("/queue/status")).json();
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

  await ctx.startHost();
  let again;
  for (let tries = 0; tries < 50; tries++) {
    again = await chat({ priority: 1 });
    if (again.status === 200) break;
    await again.arrayBuffer();
    await sleep(100);
  }
  assert.equal(again.status, 200, "the group serves once its coordinator is back");
});

test("while its coordinator is down, a group without limits serves from its last view for a while; one with an rpm gets a 503 saying why", async () => {
  const ask = (model) => gateway.post("/v1/chat/completions", { model, messages: user(model) });
  for (const model of ["free", "limited"]) {
    const answer = await ask(model);
    assert.equal(answer.status, 200, await answer.text());
  }
  await ctx.host.close();
  const downAt = Date.now();
  // Past the views' second: each pick must sync, and the sync fails.
  await sleep(1_200);
  for (let i = 0; i < 3; i++) {
    const free = await ask("free");
    const text = await free.text();
    assert.equal(free.status, 200, `health fails open: ${text}`);
  }
  const limited = await ask("limited");
  assert.equal(limited.status, 503, "limits fail closed: no lease without the coordinator");
  assert.ok(Number(limited.headers.get("retry-after")) >= 1);
  const { error } = await limited.json();
  assert.equal(error.code, "coordinator_unavailable");
  assert.match(error.message, /`limited`/);
  assert.match(error.message, /could not reach it/);
  assert.match(error.message, /rpm\/tpm/);

  // The last view serves no longer than its grace (10 s past its time).
  await sleep(Math.max(0, downAt + 12_000 - Date.now()));
  const late = await ask("free");
  assert.equal(late.status, 503, "past the grace nothing is admitted without the coordinator");
  assert.equal((await late.json()).error.code, "coordinator_unavailable");

  await ctx.startHost();
  let again;
  for (let tries = 0; tries < 50; tries++) {
    again = await ask("limited");
    if (again.status === 200) break;
    await again.arrayBuffer();
    await sleep(100);
  }
  assert.equal(again.status, 200, "the limited group serves again once its coordinator is back");
});
