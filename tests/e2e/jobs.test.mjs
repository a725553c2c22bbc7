// Async jobs: POST /queue/request now, GET /queue/response/<id> later.
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { deployment, startGateway, useGateway, user } from "../support/gateway.mjs";

const config = (upstream) =>
  ["model_list:", deployment(upstream, "worker", "jb"), "router_settings:", "  num_retries: 0"].join("\n");
const ctx = useGateway((upstream) => ({ config: config(upstream) }));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(gateway, url, done, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const view = await (await gateway.get(url)).json();
    if (done(view) || Date.now() > deadline) return view;
    await sleep(100);
  }
}

test("a job is queued at once, runs, and its result is fetched by id", async () => {
  ctx.upstream.script("jb", [{ type: "ok", delayMs: 600, content: "the job's answer" }]);
  const started = Date.now();
  const submitted = await ctx.gateway.post("/queue/request", { model: "worker", messages: user("do it") });
  assert.equal(submitted.status, 200);
  assert.ok(Date.now() - started < 500, "answered before the upstream did");
  const job = await submitted.json();
  assert.match(job.id, /^job-[0-9a-f]{32}$/);
  assert.equal(job.url, `/queue/response/${job.id}`);
  assert.equal(job.status, "queued");
  assert.equal(typeof job.eta, "number");
  const early = await (await ctx.gateway.get(job.url)).json();
  assert.ok(["queued", "running"].includes(early.status), early.status);
  const done = await until(ctx.gateway, job.url, (v) => v.status === "finished");
  assert.equal(done.status, "finished");
  assert.equal(done.result.choices[0].message.content, "the job's answer");
  assert.equal(ctx.upstream.requests.length, 1);
  assert.deepEqual(ctx.upstream.requests[0].body.messages, user("do it"));
});

test("a job whose request fails is failed, with the error", async () => {
  ctx.upstream.script("jb", [{ type: "error", status: 400, message: "bad things", errorType: "invalid_request_error" }]);
  const job = await (await ctx.gateway.post("/queue/request", { model: "worker", messages: user() })).json();
  const done = await until(ctx.gateway, job.url, (v) => v.status === "failed");
  assert.equal(done.status, "failed");
  assert.equal(done.error.status, 400);
  assert.equal(done.error.error.message, "bad things");
});

test("bad submissions are refused, unknown ids are 404", async () => {
  const missing = await ctx.gateway.post("/queue/request", { model: "worker" });
  assert.equal(missing.status, 400);
  assert.equal((await missing.json()).error.param, "messages");
  const streamed = await ctx.gateway.post("/queue/request", { model: "worker", messages: user(), stream: true });
  assert.equal((await streamed.json()).error.param, "stream");
  const unknown = await ctx.gateway.post("/queue/request", { model: "nope", messages: user() });
  assert.equal(unknown.status, 404);
  for (const id of [`job-${"0".repeat(32)}`, "not-a-job"]) {
    const response = await ctx.gateway.get(`/queue/response/${id}`);
    assert.equal(response.status, 404, id);
    assert.equal((await response.json()).error.code, "job_not_found");
  }
  // A path that climbs out is resolved by the URL parser before routing: still 404.
  assert.equal((await ctx.gateway.get("/queue/response/../etc")).status, 404);
});

test("a job survives a restart of the local server between submit and fetch", async () => {
  const persist = mkdtempSync(join(tmpdir(), "switchyard-jobs-"));
  ctx.upstream.script("jb", [], { type: "ok", delayMs: 1_500, content: "survived" });
  const first = await startGateway({ config: config(ctx.upstream), persist });
  const job = await (await first.post("/queue/request", { model: "worker", messages: user() })).json();
  await sleep(200); // running: its upstream call is under way when the server stops
  await first.close();
  const second = await startGateway({ config: config(ctx.upstream), persist });
  try {
    const done = await until(second, job.url, (v) => v.status === "finished", 15_000);
    assert.equal(done.status, "finished");
    assert.equal(done.result.choices[0].message.content, "survived");
  } finally {
    await second.close();
  }
});
