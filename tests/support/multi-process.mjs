// Several gateway processes, one coordinator: four gateways (each its own workerd
// through Miniflare, so each its own isolate with its own views, leases and slots)
// share the coordinator process of `startSharedCoordinator` through one dev registry,
// as Cloudflare's isolates share a group's Durable Object. What one group promises
// must hold whichever process a request comes through: an rpm exactly, a
// `max_parallel_requests` at the upstream, a cooldown seen by all within a
// second, and the queue's priority order. Run as they are
// (tests/e2e/multi-process.test.mjs), and with each gateway's messages going
// through a relay of its own (tests/e2e/multi-process-relayed.test.mjs: each
// process is a location).
import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import { deployment, minuteLeft, startSharedCoordinator, user } from "./gateway.mjs";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const RPM = 120;
const MAX_PARALLEL = 20;

/**
 * Defines the tests, with `router_settings.coordinator_relay_ms: relayMs` when
 * given; returns the running processes' handle (set once they started).
 */
export function multiProcessTests({ relayMs } = {}) {
  const handle = {};
  let ctx;

  before(async () => {
    ctx = await startSharedCoordinator({
      config: (upstream) =>
        [
          "model_list:",
          // An rpm big enough for isolates to route under leases (a small one is never leased).
          deployment(upstream, "limited", "lim", `, rpm: ${RPM}`),
          deployment(upstream, "parallel", "par", `, max_parallel_requests: ${MAX_PARALLEL}`),
          // `ca` cools for longer than the test watches it.
          deployment(upstream, "pair", "ca", ", cooldown_time: 10"),
          deployment(upstream, "pair", "cb"),
          deployment(upstream, "serial", "one", ", max_parallel_requests: 1"),
          "router_settings:",
          "  num_retries: 0",
          ...(relayMs ? [`  coordinator_relay_ms: ${relayMs}`] : []),
        ].join("\n"),
      gateways: ["gateway-1", "gateway-2", "gateway-3", "gateway-4"],
    });
    handle.ctx = ctx;
  });

  after(() => ctx?.close());

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

  const tagOf = (request) => request.body.messages[0].content;

  test(`rpm: ${RPM} is held exactly across four gateways: the upstream never sees more in a minute, the rest get OpenAI's 429`, async (t) => {
    // The waves take up to about eight seconds here: they should not straddle a
    // minute (if they do, each minute is still checked on its own below).
    const waited = await minuteLeft(12);
    const started = Date.now();
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
    if (perMinute.size === 1) {
      // Within one minute: all of it was used, none stranded in a lease an isolate
      // kept (the later waves' syncs settle the earlier waves' leases).
      assert.equal(calls.length, RPM, "the upstream saw exactly the rpm");
    }
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
    t.diagnostic(
      `served ${served.length} of ${2 * RPM} in ${Date.now() - started} ms (after waiting ${waited} ms for a minute), per gateway ${byGateway}, per minute ${[...perMinute.values()]}`,
    );
  });

  test(`max_parallel_requests: ${MAX_PARALLEL} is never exceeded at the upstream by 200 requests through four gateways at once`, async (t) => {
    ctx.upstream.script("par", [], { type: "ok", delayMs: 300 });
    const started = Date.now();
    // With a priority a request finds no slot waits in the queue rather than failing.
    const answers = await burst("parallel", 50, { priority: 1 });
    const took = Date.now() - started;
    const peak = ctx.upstream.peak("par");
    assert.ok(peak <= MAX_PARALLEL, `${peak} requests in flight at once at the upstream`);
    // Slow answers overlap: the limit was reached for, not trivially kept.
    assert.ok(peak >= MAX_PARALLEL / 2, `peak ${peak}`);
    const served = answers.filter((a) => a.status === 200);
    for (const answer of answers.filter((a) => a.status !== 200)) {
      assert.equal(answer.status, 429, JSON.stringify(answer.body));
    }
    const calls = ctx.upstream.requests.filter((r) => r.deployment === "par");
    assert.equal(calls.length, served.length, "every admitted request was answered, once");
    assert.deepEqual(new Set(served.map((a) => a.body.object)), new Set(["chat.completion"]));
    t.diagnostic(`served ${served.length} of 200 in ${took} ms, peak in flight ${peak}`);
  });

  // Through relays, the failure's sync and the others' views each wait up to a period for their batch.
  const cooldownBound = 1_100 + 2 * (relayMs ?? 0);

  test(`a cooldown started through one gateway is seen by the three others within ${cooldownBound} ms`, async (t) => {
    // Every gateway has a view of the pair, both deployments serving.
    for (let g = 0; g < 4; g++) {
      for (let i = 0; i < 4; i++) assert.equal((await chat(g, "pair", `warm-g${g + 1}`)).status, 200);
    }
    ctx.upstream.reset();
    ctx.upstream.script("ca", [{ type: "rate_limit", retryAfter: 0 }]);
    // Through gateway 1 until `ca` answers its 429 (the others send nothing yet).
    let answeredAt;
    while (!ctx.upstream.requests.some((r) => r.deployment === "ca")) {
      await (await chat(0, "pair", "cooler-g1")).arrayBuffer();
      answeredAt = Date.now();
    }
    const cooledAt = ctx.upstream.requests.find((r) => r.deployment === "ca").at;
    // Gateways 2, 3 and 4 keep asking for two seconds, four requests at a time each.
    const until = cooledAt + 2_000;
    const ask = async (g) => {
      for (let i = 0; Date.now() < until; i++) {
        const response = await chat(g, "pair", `after-g${g + 1}-${i}`);
        assert.equal(response.status, 200, await response.text());
        await response.arrayBuffer().catch(() => undefined);
      }
    };
    await Promise.all([1, 2, 3].flatMap((g) => [ask(g), ask(g), ask(g), ask(g)]));
    const after = ctx.upstream.requests.filter((r) => tagOf(r).startsWith("after-"));
    const late = after.filter((r) => r.deployment === "ca").map((r) => r.at - cooledAt);
    assert.ok(after.length > 30, `${after.length} requests sent after the cooldown`);
    // A view lives a second from when its answer came (LocalRouter::update): allow the
    // round trips of the failure's report, of that sync and of the request itself.
    assert.ok(late.every((ms) => ms < cooldownBound), `reached the cooled deployment ${late} ms after its 429`);
    assert.ok(after.some((r) => r.deployment === "cb" && r.at - cooledAt >= 1_100), "the others kept serving from cb");
    t.diagnostic(`${after.length} requests after the 429; ${late.length} still reached ca, the last ${Math.max(0, ...late)} ms after (gateway 1 answered ${answeredAt - cooledAt} ms after)`);
  });

  test("the queue's priority order holds across processes: each next request through another gateway", async () => {
    ctx.upstream.script("one", [{ type: "ok", delayMs: 1_500 }], { type: "ok", delayMs: 50 });
    const depth = async () => {
      const { groups } = await (await ctx.gateways[0].get("/queue/status")).json();
      return groups.find((g) => g.group === "serial")?.depth ?? 0;
    };
    /** Waits until `n` requests wait in the queue (polled: each waits before the next is sent). */
    const waiting = async (n) => {
      for (let tries = 0; tries < 100 && (await depth()) < n; tries++) await sleep(10);
      assert.equal(await depth(), n, `${n} waiting`);
    };
    const blocker = chat(0, "serial", "blocker", { priority: 0 });
    while (!ctx.upstream.requests.some((r) => tagOf(r) === "blocker")) await sleep(10);
    const sent = [];
    const line = [
      [0, "p5", 5],
      [1, "p0", 0],
      [2, "p3", 3],
      [3, "p1-first", 1],
      [1, "p4", 4],
      [2, "p1-second", 1],
      [0, "p2", 2],
    ];
    for (const [g, tag, priority] of line) {
      sent.push(chat(g, "serial", tag, { priority }));
      await waiting(sent.length);
    }
    const answers = await Promise.all([blocker, ...sent]);
    for (const answer of answers) assert.equal(answer.status, 200, await answer.text());
    assert.deepEqual(
      ctx.upstream.requests.map(tagOf),
      ["blocker", "p0", "p1-first", "p1-second", "p2", "p3", "p4", "p5"],
    );
    assert.equal(ctx.upstream.peak("one"), 1);
  });

  return handle;
}
