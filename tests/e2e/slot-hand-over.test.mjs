// Near a `max_parallel_requests`, a slot freed in an isolate goes to the best
// request waiting in that isolate's own line, as good as the best in the
// group's queue (core/src/coordinator/local/line.rs `Line::hand`,
// `LocalRouter::hand_over`, src/local_route.rs `InFlight::hand_over`): no
// message to the coordinator for it (a ticket's acquire was told already with
// the line; its report is saved), the request told as one that left with the
// line's next `Wait`. The order across gateways is held by
// multi-process.test.mjs; here, one gateway, whose requests share one isolate.
// Each request's record (here at an OTLP collector) says how long it waited,
// whether the coordinator admitted it or its gateway handed it a slot.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { coordinatorMessages, deployment, useGateway, user } from "../support/gateway.mjs";
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
    deployment(upstream, "handy", "hd", ", max_parallel_requests: 12"),
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
  ctx.gateway.post("/v1/chat/completions", { model: "handy", messages: user(tag), ...extra }, { "x-litellm-call-id": tag });
const tagOf = (request) => request.body.messages[0].content;

async function queueOf(group) {
  const status = await (await ctx.gateway.get("/queue/status")).json();
  return status.groups.find((g) => g.group === group);
}

test("slots freed near the limit go to the isolate's own waiting requests, best priority first, with no message each", async () => {
  // Every call takes 600 ms: twelve fill the deployment, the rest wait.
  ctx.upstream.script("hd", [], { type: "ok", delayMs: 600 });
  // Leases of slots grow with what the isolate's requests fill: a first wave
  // brings the isolate to hold most of the twelve.
  const warm = await Promise.all(Array.from({ length: 12 }, (_, i) => chat(`warm${i}`, { priority: 1 })));
  for (const answer of warm) assert.equal(answer.status, 200);
  const queueBefore = await queueOf("handy");
  const before = await coordinatorMessages(ctx.gateway, "handy");
  const calledBefore = ctx.upstream.requests.length;

  // Twelve fill it again; then 24 wait, of three priorities, the worst first.
  const fill = Array.from({ length: 12 }, (_, i) => chat(`fill${i}`, { priority: 1 }));
  await sleep(150);
  const tags = [2, 1, 0].flatMap((priority) => Array.from({ length: 8 }, (_, i) => [`p${priority}-${i}`, priority]));
  const waiting = tags.map(([tag, priority]) => chat(tag, { priority, timeout: 20 }));
  const answers = await Promise.all([...fill, ...waiting]);
  for (const answer of answers) assert.equal(answer.status, 200, await answer.text());
  const taken = (await coordinatorMessages(ctx.gateway, "handy")) - before - 1;

  // Never more than twelve at once, each request called once.
  assert.ok(ctx.upstream.peak("hd") <= 12, `peak ${ctx.upstream.peak("hd")}`);
  const called = ctx.upstream.requests.slice(calledBefore).map(tagOf);
  assert.equal(new Set(called).size, called.length, `each called once: ${called}`);
  assert.equal(called.length, 36);
  // Best priority first: every p0 is called before any p2 that waited with it.
  const waited = called.filter((tag) => tag.startsWith("p"));
  const lastP0 = Math.max(...waited.map((t, i) => (t.startsWith("p0") ? i : -1)));
  const firstP2 = waited.findIndex((t) => t.startsWith("p2"));
  assert.ok(lastP0 < firstP2, `order: ${waited}`);
  // Every one that waited was admitted from the queue: by the gateway itself
  // in the slots its own requests freed (each of those is no ticket, so no
  // report), the others by the coordinator as the tickets of the fill ended
  // (requests past the slots the gateway held took tickets).
  const queue = await queueOf("handy");
  const admitted = queue.admitted - queueBefore.admitted;
  const handed = queue.handed_over - queueBefore.handed_over;
  console.log(`24 waiting: ${admitted} admitted from the queue, ${handed} of them handed a slot in the gateway; ${taken} coordinator messages`);
  assert.equal(queue.depth, 0, JSON.stringify(queue));
  assert.equal(admitted, 24);
  assert.ok(handed > 0, `${handed} handed over of ${admitted} admitted`);

  // Each that waited says so in its record: it joined while the fill's calls
  // had most of their 600 ms to run, so it waited at least 300 ms, whoever
  // admitted it.
  const roots = await sinks.otel.rootsOf(tags.map(([tag]) => tag));
  for (const [tag] of tags) {
    const wait = roots.get(tag).attrs["switchyard.queue_wait_ms"];
    assert.ok(wait >= 300 && wait < 20_000, `${tag} waited ${wait} ms by its record`);
  }
});
