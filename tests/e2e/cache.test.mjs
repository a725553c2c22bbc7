// The response cache in KV: hits, misses, LiteLLM's controls, tenants, streams.
import assert from "node:assert/strict";
import { test } from "node:test";
import { deployment, readEvents, startGateway, streamedContent, useGateway, user } from "../support/gateway.mjs";

const ctx = useGateway((upstream) => ({
  config: [
    "model_list:",
    deployment(upstream, "cached", "ca"),
    deployment(upstream, "limited", "lm", ", rpm: 1"),
    "router_settings:",
    "  num_retries: 0",
    "  cache_responses: true",
    "  default_cache_time_seconds: 120",
  ].join("\n"),
}));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let unique = 0;
/** A fresh prompt per call site, so tests never share entries by accident. */
const prompt = () => `question ${++unique} ${Date.now()}`;

function ask(content, extra = {}, key = "sk-tenant-a") {
  return ctx.gateway.post(
    "/v1/chat/completions",
    { model: "cached", messages: user(content), ...extra },
    { authorization: `Bearer ${key}` },
  );
}

/** Repeats `send()` until its answer is a hit (writes land in the background), or 3 s pass. */
async function untilHit(send) {
  const deadline = Date.now() + 3_000;
  for (;;) {
    const response = await send();
    if (response.headers.get("x-cache") === "HIT" || Date.now() > deadline) return response;
    await response.arrayBuffer();
    await sleep(50);
  }
}

const hit = (content, extra, key) => untilHit(() => ask(content, extra, key));

const upstreamCalls = () => ctx.upstream.requests.length;

test("a repeated request is answered from the cache and does not reach the upstream", async () => {
  const q = prompt();
  const first = await ask(q);
  assert.equal(first.status, 200);
  assert.equal(first.headers.get("x-cache"), "MISS");
  const key = first.headers.get("x-litellm-cache-key");
  assert.match(key, /^[0-9a-f]{64}$/);
  const body = await first.json();
  const second = await hit(q);
  assert.equal(second.headers.get("x-cache"), "HIT");
  assert.equal(second.headers.get("x-litellm-cache-key"), key);
  assert.equal(second.headers.get("x-litellm-model-group"), "cached");
  assert.deepEqual(await second.json(), body);
  const calls = upstreamCalls();
  assert.equal((await hit(q)).headers.get("x-cache"), "HIT");
  assert.equal(upstreamCalls(), calls, "hits never reach the upstream");
  assert.equal(calls, 1);
});

test("a changed field misses; user, metadata, priority and timeouts do not change the key", async () => {
  const q = prompt();
  await (await ask(q, { temperature: 0.2 })).arrayBuffer();
  assert.equal((await hit(q, { temperature: 0.2 })).headers.get("x-cache"), "HIT");
  const other = await ask(q, { temperature: 0.9 });
  assert.equal(other.headers.get("x-cache"), "MISS");
  await other.arrayBuffer();
  const same = await ask(q, { temperature: 0.2, user: "u-7", metadata: { team: "x" }, priority: 4, timeout: 30 });
  assert.equal(same.headers.get("x-cache"), "HIT");
  assert.equal(upstreamCalls(), 2);
});

test("cache controls: no-store, no-cache, s-maxage, namespace, ttl", async () => {
  const q = prompt();
  await (await ask(q, { cache: { "no-store": true } })).arrayBuffer();
  await sleep(300);
  const notStored = await ask(q);
  assert.equal(notStored.headers.get("x-cache"), "MISS", "no-store wrote nothing");
  await notStored.arrayBuffer();
  assert.equal((await hit(q)).headers.get("x-cache"), "HIT");
  const before = upstreamCalls();
  const skipped = await ask(q, { cache: { "no-cache": true } });
  assert.equal(skipped.headers.get("x-cache"), "MISS");
  await skipped.arrayBuffer();
  assert.equal(upstreamCalls(), before + 1, "no-cache calls the deployment");
  await sleep(1_100);
  const young = await ask(q, { cache: { "s-maxage": 1 } });
  assert.equal(young.headers.get("x-cache"), "MISS", "the entry is older than 1 s");
  await young.arrayBuffer();
  const elsewhere = await ask(q, { cache: { namespace: "team-b" } });
  assert.equal(elsewhere.headers.get("x-cache"), "MISS");
  await elsewhere.arrayBuffer();
  const withTtl = prompt();
  await (await ask(withTtl, { cache: { ttl: 5 } })).arrayBuffer(); // KV keeps it 60 s at least
  assert.equal((await hit(withTtl)).headers.get("x-cache"), "HIT");
  const bad = await ask(q, { cache: { "no-cache": "yes" } });
  assert.equal(bad.status, 400);
  assert.equal((await bad.json()).error.param, "cache");
});

test("two API keys never share entries", async () => {
  const q = prompt();
  await (await ask(q, {}, "sk-a")).arrayBuffer();
  assert.equal((await hit(q, {}, "sk-a")).headers.get("x-cache"), "HIT");
  const b = await ask(q, {}, "sk-b");
  assert.equal(b.headers.get("x-cache"), "MISS");
  assert.notEqual(b.headers.get("x-litellm-cache-key"), (await ask(q, {}, "sk-a")).headers.get("x-litellm-cache-key"));
});

test("a streamed request is replayed from the cache as SSE; a streamed answer is cached once complete", async () => {
  const q = prompt();
  ctx.upstream.script("ca", [{ type: "ok", content: "plain answer" }]);
  await (await ask(q)).arrayBuffer();
  const replay = await hit(q, { stream: true });
  assert.equal(replay.headers.get("x-cache"), "HIT");
  assert.match(replay.headers.get("content-type"), /^text\/event-stream/);
  const events = await readEvents(replay);
  assert.equal(events.at(-1).data, "[DONE]");
  assert.equal(streamedContent(events), "plain answer");

  const s = prompt();
  ctx.upstream.script("ca", [{ type: "stream", chunks: ["streamed", " once"], delayMs: 20 }]);
  const live = await ask(s, { stream: true });
  assert.equal(live.headers.get("x-cache"), "MISS");
  assert.equal(streamedContent(await readEvents(live)), "streamed once");
  const whole = await hit(s);
  assert.equal(whole.headers.get("x-cache"), "HIT");
  assert.equal((await whole.json()).choices[0].message.content, "streamed once");
});

test("errors are never cached", async () => {
  const q = prompt();
  ctx.upstream.script("ca", [{ type: "error", status: 500 }]);
  assert.equal((await ask(q)).status, 500);
  await sleep(300);
  const retried = await ask(q);
  assert.equal(retried.status, 200);
  assert.equal(retried.headers.get("x-cache"), "MISS");
  assert.equal(upstreamCalls(), 2);
});

test("a shared cache serves every key; without the cache on there are no cache headers", async (t) => {
  const upstream = ctx.upstream;
  const shared = await startGateway({
    config: [
      "model_list:",
      deployment(upstream, "g", "sh"),
      "litellm_settings:",
      "  cache: true",
      "  cache_params: { ttl: 120, shared: true }",
    ].join("\n"),
  });
  const off = await startGateway({ config: ["model_list:", deployment(upstream, "g", "of")].join("\n") });
  t.after(async () => {
    await shared.close();
    await off.close();
  });
  const q = prompt();
  const send = (gateway, key) =>
    gateway.post("/v1/chat/completions", { model: "g", messages: user(q) }, { authorization: `Bearer ${key}` });
  await (await send(shared, "sk-one")).arrayBuffer();
  const response = await untilHit(() => send(shared, "sk-two"));
  assert.equal(response.headers.get("x-cache"), "HIT");
  const plain = await send(off, "sk-one");
  assert.equal(plain.headers.get("x-cache"), null);
  assert.equal(plain.headers.get("x-litellm-cache-key"), null);
});

test("a hit is counted nowhere as usage: it does not spend the deployment's rpm", async () => {
  const q = prompt();
  const send = () =>
    ctx.gateway.post("/v1/chat/completions", { model: "limited", messages: user(q) }, { authorization: "Bearer k" });
  const second = new Date().getSeconds();
  if (second >= 55) await sleep((61 - second) * 1_000);
  assert.equal((await send()).status, 200); // the minute's only request
  const response = await untilHit(send);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("x-cache"), "HIT");
  assert.equal(ctx.upstream.requests.length, 1);
});

test("a KV that cannot be used skips the cache and never fails the request", async (t) => {
  const broken = await startGateway({
    config: ["model_list:", deployment(ctx.upstream, "g", "bk"), "router_settings:", "  cache_responses: true"].join("\n"),
    noCacheKv: true,
  });
  t.after(() => broken.close());
  for (let i = 0; i < 2; i++) {
    const response = await broken.post("/v1/chat/completions", { model: "g", messages: user("same") });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("x-cache"), "MISS");
  }
  assert.equal(ctx.upstream.requests.length, 2);
});

test("an answer over the size bound (1 MiB) is not stored", async () => {
  const q = prompt();
  ctx.upstream.script("ca", [{ type: "ok", content: "x".repeat(1_100_000) }, { type: "ok", content: "x".repeat(1_100_000) }]);
  const first = await ask(q);
  assert.equal(first.status, 200);
  assert.equal((await first.json()).choices[0].message.content.length, 1_100_000);
  await sleep(500);
  const second = await ask(q);
  assert.equal(second.headers.get("x-cache"), "MISS");
  await second.arrayBuffer();
  assert.equal(ctx.upstream.requests.length, 2);
});

test("Messages and Responses clients get cached answers in their own shape; their streams are not stored", async () => {
  const asks = [
    ["/v1/messages", (q) => ({ model: "cached", max_tokens: 50, messages: user(q) }), (a) => a.content[0].text],
    ["/v1/responses", (q) => ({ model: "cached", input: q }), (a) => a.output[0].content[0].text],
  ];
  for (const [path, body, text] of asks) {
    const q = prompt();
    const send = () => ctx.gateway.post(path, body(q), { "x-api-key": "sk-tenant-a" });
    const first = await send();
    assert.equal(first.status, 200);
    assert.equal(first.headers.get("x-cache"), "MISS");
    const answer = await first.json();
    const calls = upstreamCalls();
    const second = await untilHit(send);
    assert.equal(second.headers.get("x-cache"), "HIT", path);
    const cached = await second.json();
    assert.equal(text(cached), text(answer), path);
    assert.equal(cached.type ?? cached.object, answer.type ?? answer.object, `${path}: the client's own shape`);
    assert.equal(upstreamCalls(), calls, `${path}: a hit reaches no upstream`);

    // A stream is served by the upstream each time, and stored by none.
    const streamed = () => ctx.gateway.post(path, { ...body(prompt()), stream: true }, { "x-api-key": "sk-tenant-a" });
    const before = upstreamCalls();
    const once = await streamed();
    assert.equal(once.headers.get("content-type"), "text/event-stream");
    await once.text();
    assert.equal(upstreamCalls(), before + 1);
  }
});
