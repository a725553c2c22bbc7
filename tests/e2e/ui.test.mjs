// The live page (/ui) in headless Chromium against the gateway, while traffic
// runs and one deployment starts failing: the page shows it cooling, with its
// time left, and the other healthy. /ui/state is behind the master key.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { nextUpdates, openPage } from "../support/browser.mjs";
import { deployment, minuteLeft, readEvents, useGateway, user } from "../support/gateway.mjs";

const MASTER_KEY = "sk-master-ui-1234";
const root = fileURLToPath(new URL("../..", import.meta.url));
const screenshot = `${root}/build/ui.png`;

const ctx = useGateway((upstream) => ({
  config: [
    "model_list:",
    deployment(upstream, "gpt-4o", "gpt-4o-east", ", rpm: 600, tpm: 60000"),
    // Both with an rpm: simple-shuffle weighs by rpm, and would never pick one without.
    deployment(upstream, "gpt-4o", "gpt-4o-west", ", rpm: 600, cooldown_time: 60"),
    deployment(upstream, "embed", "embed-1"),
    "router_settings:",
    "  num_retries: 1",
    "  cache_responses: true",
    "general_settings:",
    "  master_key: os.environ/SWITCHYARD_MASTER_KEY",
  ].join("\n"),
  bindings: { SWITCHYARD_MASTER_KEY: MASTER_KEY },
}));
const auth = { authorization: `Bearer ${MASTER_KEY}` };

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let asked = 0;
/** `n` requests to `model`, `concurrency` at a time, each a new prompt (no cache hit); each body read. */
async function traffic(model, n, { concurrency = 4, extra = {} } = {}) {
  let sent = 0;
  const statuses = [];
  const worker = async () => {
    while (sent < n) {
      sent += 1;
      asked += 1;
      const response = await ctx.gateway.post(
        "/v1/chat/completions",
        { model, messages: user(`question ${asked}`), ...extra },
        auth,
      );
      if (extra.stream) await readEvents(response);
      else await response.arrayBuffer();
      statuses.push(response.status);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return statuses;
}

let browser;
before(async () => {
  browser = await openPage();
});
after(async () => {
  await browser?.close();
});

test("the page, its script and its style are served without a key, under a strict policy, never cached", async () => {
  for (const [path, type] of [
    ["/ui", "text/html; charset=utf-8"],
    ["/ui/app.js", "text/javascript; charset=utf-8"],
    ["/ui/app.css", "text/css; charset=utf-8"],
  ]) {
    const response = await ctx.gateway.get(path);
    assert.equal(response.status, 200, path);
    assert.equal(response.headers.get("content-type"), type);
    assert.equal(response.headers.get("cache-control"), "no-store");
    const policy = response.headers.get("content-security-policy");
    assert.match(policy, /default-src 'none'/);
    assert.match(policy, /script-src 'self';/);
    assert.match(policy, /connect-src 'self';/);
    assert.ok(!policy.includes("unsafe-inline"));
    assert.ok((await response.text()).length > 100);
  }
  assert.equal((await ctx.gateway.get("/ui/nothing")).status, 404);
});

test("/ui/state refuses without the master key, in OpenAI's shape, and answers with it", async () => {
  for (const headers of [{}, { authorization: "Bearer sk-wrong" }]) {
    const response = await ctx.gateway.get("/ui/state", headers);
    assert.equal(response.status, 401);
    const { error } = await response.json();
    assert.equal(error.type, "authentication_error");
  }
  for (const headers of [auth, { "x-api-key": MASTER_KEY }]) {
    const response = await ctx.gateway.get("/ui/state", headers);
    assert.equal(response.status, 200);
    const state = await response.json();
    assert.ok(state.time_ms > 0);
    assert.deepEqual(state.groups.map((g) => g.name).sort(), ["embed", "gpt-4o"]);
  }
});

test("in Chromium: the key form, then the groups live; a failing deployment turns to cooling with its time left", async () => {
  const { page } = browser;
  const row = (id) => page.locator(`tr[data-deployment="${id}"]`);
  const field = (id, name) => row(id).locator(`[data-field="${name}"]`);

  // Traffic first, streamed too (for a time to first token), then one prompt
  // asked again (a cache hit, which reaches no deployment). All in one minute,
  // for this minute's rpm.
  await minuteLeft(20);
  // Answers take a little while, so latency and time to first token are never 0.
  for (const id of ["gpt-4o-east", "gpt-4o-west"]) ctx.upstream.script(id, [], { type: "ok", delayMs: 20 });
  assert.deepEqual(new Set(await traffic("gpt-4o", 16)), new Set([200]));
  assert.deepEqual(new Set(await traffic("gpt-4o", 4, { extra: { stream: true } })), new Set([200]));
  // The answer is stored after it is sent: ask until it is a hit (3 s at most).
  const again = { model: "gpt-4o", messages: user("asked again") };
  let called = 20;
  for (const deadline = Date.now() + 3_000; ; called += 1) {
    const response = await ctx.gateway.post("/v1/chat/completions", again, auth);
    await response.arrayBuffer();
    if (response.headers.get("x-cache") === "HIT") break;
    assert.ok(Date.now() < deadline, "a cache hit within 3 s");
    await sleep(50);
  }
  await traffic("embed", 3, { concurrency: 1 });

  await page.goto(`${ctx.gateway.url}/ui`);
  await page.waitForSelector("body[data-status=login]");
  await page.fill("#key", MASTER_KEY);
  await page.press("#key", "Enter");
  await page.waitForSelector("body[data-status=live]");
  await page.waitForSelector('tr[data-deployment="gpt-4o-west"]');

  assert.equal(await row("gpt-4o-east").getAttribute("data-state"), "healthy");
  assert.equal(await row("gpt-4o-west").getAttribute("data-state"), "healthy");
  const served = async (id) => Number(await field(id, "requests").getAttribute("data-requests"));
  // An isolate hands its counts to the coordinator up to a second after a request.
  await page.waitForFunction(
    (called) =>
      ["gpt-4o-east", "gpt-4o-west"]
        .map((id) => Number(document.querySelector(`tr[data-deployment="${id}"] [data-field="requests"]`).dataset.requests))
        .reduce((a, b) => a + b) >= called,
    called,
    { timeout: 10_000 },
  );
  assert.equal((await served("gpt-4o-east")) + (await served("gpt-4o-west")), called, "each call counted once, the hit not");
  const cache = page.locator('section[data-group="gpt-4o"] [data-field="cache"]');
  assert.equal(await cache.getAttribute("data-hits"), "1");
  assert.match(await cache.textContent(), /^cache hit rate[\d.]+% \(1 of \d+\)$/);
  assert.equal(await field("gpt-4o-east", "rpm").getAttribute("data-limit"), "600");
  assert.ok(Number(await field("gpt-4o-east", "rpm").getAttribute("data-used")) > 0);
  assert.equal(await field("gpt-4o-west", "tpm").textContent(), "no limit");

  // gpt-4o-west starts answering 429 while traffic runs: its first failure cools
  // it (for cooldown_time: 60 s), and the retry goes to gpt-4o-east.
  ctx.upstream.script("gpt-4o-west", [], { type: "rate_limit", retryAfter: 0 });
  let stop = false;
  const running = (async () => {
    const statuses = [];
    // About 15 requests a second: far from gpt-4o-east's rpm of 600 in the test's time.
    while (!stop) {
      statuses.push(...(await traffic("gpt-4o", 4, { concurrency: 2 })));
      await sleep(200);
    }
    return statuses;
  })();
  await page.waitForSelector('tr[data-deployment="gpt-4o-west"][data-state="cooling"]', { timeout: 15_000 });
  assert.match(await field("gpt-4o-west", "state").textContent(), /^cooling \d+ s$/);
  const left = Number(await row("gpt-4o-west").getAttribute("data-cooling-left-ms"));
  assert.ok(left > 40_000 && left <= 60_000, `time left of a 60 s cooldown: ${left} ms`);
  assert.equal(await row("gpt-4o-east").getAttribute("data-state"), "healthy");
  await page.waitForSelector('tr[data-deployment="gpt-4o-west"] .failure[data-class="RateLimit"]');

  // The page keeps up: the counts grow with the traffic (and the sparklines get
  // a few points for the screenshot).
  await nextUpdates(page, 4);
  stop = true;
  assert.deepEqual(new Set(await running), new Set([200]), "the retries went to gpt-4o-east");
  assert.ok((await served("gpt-4o-east")) > 20);
  assert.ok(Number(await field("gpt-4o-east", "latency").getAttribute("data-ms")) > 0);
  assert.ok(Number(await field("gpt-4o-east", "ttft").getAttribute("data-ms")) > 0);
  assert.equal(await page.locator('section[data-group="embed"] tr[data-deployment="embed-1"]').count(), 1);
  assert.deepEqual(page.cspViolations, []);

  mkdirSync(`${root}/build`, { recursive: true });
  await page.screenshot({ path: screenshot, fullPage: true });
});
