// In a saturated group (a deployment ran out of its rpm this minute), a
// request without a priority that finds every slot its isolate holds of a
// deployment near its `max_parallel_requests` filled waits there for one of
// them to free, rather than be refused, and the slot goes to it as the call
// that held it ends (core/src/coordinator/local/slot_wait.rs,
// src/slot_wait.rs). One request per isolate waits at a time, up to 250 ms,
// with a priority or without while nobody waits in the queue;
// its record (here at an OTLP collector) says how long, whether it was served
// after or, its wait run out, refused.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { deployment, minuteLeft, useGateway, user } from "../support/gateway.mjs";
import { startOtelSink } from "../support/sinks/otel.mjs";

// Started before the gateway, whose config names it.
const sinks = {};
before(async () => {
  sinks.otel = await startOtelSink();
});
after(() => sinks.otel?.close());

const ctx = useGateway((upstream) => ({
  config: [
    "model_list:",
    deployment(upstream, "sat", "slow", ", max_parallel_requests: 12, weight: 1"),
    deployment(upstream, "sat", "spent", ", rpm: 2, weight: 1"),
    "router_settings:",
    "  num_retries: 0",
    "litellm_settings:",
    "  callbacks: [otel]",
  ].join("\n"),
  bindings: { OTEL_EXPORTER_OTLP_ENDPOINT: sinks.otel.url, OTEL_SERVICE_NAME: "switchyard-e2e" },
}));

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
// The tag is the request's id in its record, too.
const chat = (tag, extra = {}) =>
  ctx.gateway.post("/v1/chat/completions", { model: "sat", messages: user(tag), ...extra }, { "x-litellm-call-id": tag });
const tagOf = (request) => request.body.messages[0].content;

// Two waves fill `slow` (the isolate's slots grow with what its requests
// filled) and spend `spent`'s rpm, which makes the group saturated; a view made
// after that says so.
async function saturate() {
  ctx.upstream.script("slow", [], { type: "ok", delayMs: 400 });
  for (let wave = 0; wave < 2; wave++) {
    await Promise.all(Array.from({ length: 14 }, (_, i) => chat(`warm${wave}-${i}-${Date.now()}`)));
  }
  await sleep(1_100);
}

test("a saturated group's request waits in its isolate for a slot one of its calls frees", async () => {
  // `spent`'s rpm is of the clock's minute: spent throughout the test.
  await minuteLeft(8);
  await saturate();
  assert.equal(ctx.upstream.requests.filter((r) => r.deployment === "spent").length, 2);
  const calledBefore = ctx.upstream.requests.length;
  const fill = Array.from({ length: 12 }, (_, i) => chat(`fill${i}`));
  // The late ones come while the fill's calls run, about 120 ms before they end.
  await sleep(280);
  const started = Date.now();
  const late = await Promise.all(
    Array.from({ length: 4 }, async (_, i) => {
      const answer = await chat(`late${i}`);
      return { tag: `late${i}`, status: answer.status, ms: Date.now() - started, body: await answer.text() };
    }),
  );
  const filled = await Promise.all(fill);
  for (const answer of filled) assert.equal(answer.status, 200, await answer.text());

  assert.ok(ctx.upstream.peak("slow") <= 12, `peak ${ctx.upstream.peak("slow")}`);
  const called = ctx.upstream.requests.slice(calledBefore).map(tagOf);
  const served = late.filter((l) => l.status === 200);
  console.log(`late requests: ${late.map((l) => `${l.status} in ${l.ms} ms`).join(", ")}; called ${called.length}`);
  // One waited for a slot that the fill freed (its calls end about 120 ms
  // after these started), then took its own 400 ms: served after about 520
  // ms, where a call at once would have taken about 400. The others were
  // refused at once (the group holds nothing else, and one waits already).
  assert.equal(served.length, 1, JSON.stringify(late));
  assert.ok(served[0].ms >= 450, `served after ${served[0].ms} ms: it waited for the fill's slot`);
  for (const refused of late.filter((l) => l.status !== 200)) {
    assert.equal(refused.status, 429, refused.body);
    assert.ok(refused.ms < 200 || refused.ms >= 250, `refused after ${refused.ms} ms`);
  }
  assert.equal(called.filter((t) => t.startsWith("late")).length, 1, `${called}`);

  // Its record says it waited for a slot, about 120 ms; the others' say nothing of one.
  const roots = await sinks.otel.rootsOf(late.map((l) => l.tag));
  const waited = roots.get(served[0].tag).attrs["switchyard.slot_wait_ms"];
  assert.ok(waited >= 20 && waited <= 260, `${served[0].tag} waited ${waited} ms for a slot by its record`);
  for (const refused of late.filter((l) => l.status !== 200)) {
    assert.equal(roots.get(refused.tag).attrs["switchyard.slot_wait_ms"], undefined);
  }
});

test("a request whose wait for a slot runs out is refused, and its record says how long it waited", async () => {
  // `spent`'s rpm is of the clock's minute: spent throughout the test.
  await minuteLeft(8);
  await saturate();
  // Calls of 1.5 s fill the twelve slots: none frees within the wait's 250 ms.
  ctx.upstream.script("slow", [], { type: "ok", delayMs: 1_500 });
  const calledBefore = ctx.upstream.requests.length;
  const fill = Array.from({ length: 12 }, (_, i) => chat(`long-fill${i}`));
  await sleep(300);
  const started = Date.now();
  const answer = await chat("gave-up");
  const ms = Date.now() - started;
  const body = await answer.text();
  for (const filled of await Promise.all(fill)) assert.equal(filled.status, 200, await filled.text());

  // It waited its 250 ms, then picked again, and nothing had room: refused as
  // the coordinator would refuse it, long before a slot freed (about 1.2 s).
  assert.equal(answer.status, 429, body);
  assert.ok(ms >= 240 && ms < 1_000, `refused after ${ms} ms`);
  assert.equal(JSON.parse(body).error.type, "rate_limit_error", body);
  const called = ctx.upstream.requests.slice(calledBefore).map(tagOf);
  assert.ok(!called.includes("gave-up"), `${called}`);

  const roots = await sinks.otel.rootsOf(["gave-up"]);
  const root = roots.get("gave-up");
  const waited = root.attrs["switchyard.slot_wait_ms"];
  assert.ok(waited >= 240 && waited <= 400, `it waited ${waited} ms for a slot by its record`);
  assert.equal(root.attrs["http.response.status_code"], 429);
});

test("a request with a priority waits for the slot too while nobody waits in the queue, and never joins it", async () => {
  await minuteLeft(8);
  await saturate();
  const fill = Array.from({ length: 12 }, (_, i) => chat(`p-fill${i}`));
  await sleep(280);
  const started = Date.now();
  const answer = await chat("p-late", { priority: 1 });
  const ms = Date.now() - started;
  assert.equal(answer.status, 200, await answer.text());
  for (const filled of await Promise.all(fill)) assert.equal(filled.status, 200, await filled.text());

  // Served in the first slot the fill freed (about 120 ms after it came), then
  // its own 400 ms call; by its record it waited for that slot in its isolate,
  // not in the queue, which it would have joined before (and been admitted
  // from when the same slot went back to the coordinator).
  assert.ok(ms >= 450, `served after ${ms} ms`);
  const root = (await sinks.otel.rootsOf(["p-late"])).get("p-late");
  const waited = root.attrs["switchyard.slot_wait_ms"];
  assert.ok(waited >= 20 && waited <= 260, `it waited ${waited} ms for a slot by its record`);
  assert.equal(root.attrs["switchyard.queue_wait_ms"], undefined, "it waited in no queue");
  assert.equal(root.attrs["switchyard.priority"], 1);
});
