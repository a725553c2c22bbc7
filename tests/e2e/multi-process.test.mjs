// Several gateway processes, one coordinator: four gateways (each its own workerd
// through Miniflare, so each its own isolate with its own views, leases and slots)
// share the coordinator process of `startCoordinatorHost` through one dev registry,
// as Cloudflare's isolates share a group's Durable Object. What one group promises
// must hold whichever process a request comes through: an rpm exactly, a
// `max_parallel_requests` at the upstream, a cooldown seen by all within a
// second, and the queue's priority order.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, test } from "node:test";
import { deployment, startCoordinatorHost, startGateway, user } from "../support/gateway.mjs";
import { startMockUpstream } from "../support/mock-upstream.mjs";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const RPM = 120;
const MAX_PARALLEL = 20;
const ctx = {};

before(async () => {
  ctx.registry = mkdtempSync(join(tmpdir(), "switchyard-registry-"));
  ctx.upstream = await startMockUpstream();
  ctx.config = [
    "model_list:",
    // An rpm big enough for isolates to route under leases (a small one is never leased).
    deployment(ctx.upstream, "limited", "lim", `, rpm: ${RPM}`),
    deployment(ctx.upstream, "parallel", "par", `, max_parallel_requests: ${MAX_PARALLEL}`),
    // `ca` cools for longer than the test watches it.
    deployment(ctx.upstream, "pair", "ca", ", cooldown_time: 10"),
    deployment(ctx.upstream, "pair", "cb"),
    deployment(ctx.upstream, "serial", "one", ", max_parallel_requests: 1"),
    "router_settings:",
    "  num_retries: 0",
  ].join("\n");
  ctx.host = await startCoordinatorHost({ config: ctx.config, registry: ctx.registry });
  ctx.gateways = await Promise.all(
    [1, 2, 3, 4].map((n) => startGateway({ config: ctx.config, coordinatorRegistry: ctx.registry, name: `gateway-${n}` })),
  );
});

after(async () => {
  await Promise.all((ctx.gateways ?? []).map((g) => g.close()));
  await ctx.host?.close();
  await ctx.upstream?.close();
  rmSync(ctx.registry, { recursive: true, force: true });
});

beforeEach(() => ctx.upstream.reset());

/** A chat request to `model` through gateway `g` (0..3), its message `tag`. */
const chat = (g, model, tag, extra = {}) =>
  ctx.gateways[g].post("/v1/chat/completions", { model, messages: user(tag), ...extra });

/** Sends `n` requests through each gateway at once; their statuses and bodies. */
async function burst(model, n, extra = {}, label = model) {
  const sent = ctx.gateways.flatMap((_, g) => Array.from({ length: n }, (_, i) => chat(g, model, `${label}-g${g + 1}-${i}`, extra)));
  return Promise.all(
    sent.map(async (pending) => {
      const response = await pending;
      return { status: response.status, headers: response.headers, body: await response.json() };
    }),
  );
}

/** Waits for the next minute when fewer than `seconds` are left of this one. */
async function minuteLeft(seconds) {
  const second = new Date().getSeconds();
  if (second >= 60 - seconds) await sleep((61 - second) * 1_000);
}

const tagOf = (request) => request.body.messages[0].content;

test(`rpm: ${RPM} is held exactly across four gateways: the upstream never sees more in a minute, the rest get OpenAI's 429`, async (t) => {
  await minuteLeft(15);
  // Three waves a view's life apart, 2 x rpm in all: the later waves pass only as
  // far as the leases the earlier ones left unused went back to the minute.
  const answers = [];
  for (let wave = 0; wave < 3; wave++) {
    if (wave > 0) await sleep(1_100);
    answers.push(...(await burst("limited", (2 * RPM) / 12, {}, `w${wave}`)));
  }
  const calls = ctx.upstream.requests.filter((r) => r.deployment === "lim");
  const perMinute = new Map();
  for (const call of calls) {
    const minute = Math.floor(call.at / 60_000);
    perMinute.set(minute, (perMinute.get(minute) ?? 0) + 1);
  }
  for (const [minute, count] of perMinute) assert.ok(count <= RPM, `${count} calls in minute ${minute}, over the rpm`);
  const served = answers.filter((a) => a.status === 200);
  const refused = answers.filter((a) => a.status !== 200);
  assert.equal(served.length, calls.length, "every answer came from one upstream call");
  assert.equal(served.length + refused.length, 2 * RPM);
  for (const answer of refused) {
    assert.equal(answer.status, 429, JSON.stringify(answer.body));
    assert.ok(Number(answer.headers.get("retry-after")) >= 1, "retry-after on every 429");
    const { error } = answer.body;
    assert.deepEqual(Object.keys(error).sort(), ["code", "message", "param", "type"], "OpenAI's error shape");
    assert.equal(error.type, "rate_limit_error");
    assert.equal(typeof error.message, "string");
  }
  // Each gateway got some of the minute: the limit was shared, not one process's.
  const byGateway = [1, 2, 3, 4].map((g) => calls.filter((c) => tagOf(c).includes(`-g${g}-`)).length);
  assert.ok(byGateway.every((n) => n > 0), `served per gateway: ${byGateway}`);
  t.diagnostic(`served ${served.length} of ${2 * RPM}, per gateway ${byGateway}, per minute ${[...perMinute.values()]}`);
});
