// The live page (src/ui/) in headless Chromium against a fixture /ui/state of the
// contract's shape: every state a deployment can show (a probe is hard to catch
// end to end), the key form, names shown as text, a failing poll. Served with the
// Worker's own Content Security Policy, read from src/ui.rs.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import http from "node:http";
import { after, before, test } from "node:test";
import { nextUpdates, openPage } from "../support/browser.mjs";

const root = new URL("../../", import.meta.url);
const file = (path) => readFileSync(new URL(path, root));
const csp = /CONTENT_SECURITY_POLICY: &str = "((?:[^"\\]|\\\n)*)"/
  .exec(file("src/ui.rs").toString())[1]
  .replace(/\\\n\s*/g, "");

const KEY = "fixture-key";
const EVIL = `<img src=x id=evil>`;

/** The fixture's state after `requests` requests to gpt-4o-a. */
const state = (requests) => ({
  time_ms: Date.now(),
  groups: [
    {
      name: "gpt-4o",
      strategy: "simple-shuffle",
      queue: { depth: 2, by_priority: { 5: 1, 0: 1 }, oldest_wait_ms: 120, admitted: 10, expired: 1 },
      cache: { hits: 3, misses: 10 },
      deployments: [
        {
          id: "gpt-4o-a", model: "gpt-4o", provider: "openai", state: "healthy", cooling_left_ms: null,
          in_flight: 1, rpm: { used: 95, limit: 100 }, tpm: { used: 1500, limit: 100000 },
          latency_ms: 230.5, ttft_ms: 80.1, requests, successes: requests - 10,
          failures: { RateLimit: 3, Internal: 2 },
        },
        {
          id: "gpt-4o-b", model: "gpt-4o", provider: "azure", state: "cooling", cooling_left_ms: 12_300,
          in_flight: 0, rpm: null, tpm: null, latency_ms: null, ttft_ms: null, requests: 4, successes: 0,
          failures: { Internal: 4 },
        },
        {
          id: "gpt-4o-c", model: "gpt-4o", provider: "openai", state: "probing", cooling_left_ms: null,
          in_flight: 1, rpm: null, tpm: null, latency_ms: 1_500, ttft_ms: null, requests: 0, successes: 0,
          failures: {},
        },
      ],
    },
    {
      name: "other",
      strategy: "least-busy",
      queue: { depth: 0, by_priority: {}, oldest_wait_ms: 0, admitted: 0, expired: 0 },
      cache: { hits: 1, misses: 299 },
      deployments: [
        {
          id: EVIL, model: "m", provider: "openai", state: "healthy", cooling_left_ms: null, in_flight: 0,
          rpm: null, tpm: null, latency_ms: null, ttft_ms: null, requests: 0, successes: 0, failures: {},
        },
      ],
    },
  ],
});

const fixture = { requests: 100, failing: false, auth: [] };
let server;
let url;
let browser;

before(async () => {
  server = http.createServer((req, res) => {
    const assets = {
      "/ui": ["src/ui/page.html", "text/html; charset=utf-8"],
      "/ui/app.js": ["src/ui/app.js", "text/javascript; charset=utf-8"],
      "/ui/app.css": ["src/ui/app.css", "text/css; charset=utf-8"],
    };
    if (assets[req.url]) {
      const [path, type] = assets[req.url];
      res.writeHead(200, { "content-type": type, "content-security-policy": csp, "cache-control": "no-store" });
      return res.end(file(path));
    }
    if (req.url === "/ui/state") {
      fixture.auth.push(req.headers.authorization);
      if (req.headers.authorization !== `Bearer ${KEY}`) {
        res.writeHead(401, { "content-type": "application/json" });
        return res.end(JSON.stringify({ error: { message: "bad key", type: "auth_error", code: "401" } }));
      }
      if (fixture.failing) {
        res.writeHead(503, { "content-type": "application/json" });
        return res.end("{}");
      }
      fixture.requests += 20;
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(JSON.stringify(state(fixture.requests)));
    }
    res.writeHead(404).end();
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${server.address().port}`;
  browser = await openPage();
});

after(async () => {
  await browser?.close();
  server?.close();
});

const row = (id) => browser.page.locator(`tr[data-deployment="${id}"]`);
const field = (id, name) => row(id).locator(`[data-field="${name}"]`);

test("without a key the page asks for one; a wrong key is refused; the right one is sent as a bearer token", async () => {
  const { page } = browser;
  await page.goto(`${url}/ui`);
  await page.waitForSelector("body[data-status=login]");
  assert.equal(await page.isVisible("#login"), true);
  assert.equal(fixture.auth[0], undefined, "the first poll carries no key");

  await page.fill("#key", "wrong");
  await page.press("#key", "Enter");
  await page.waitForFunction(() => document.getElementById("login-error").textContent !== "");
  assert.equal(await page.textContent("#login-error"), "That key was refused.");
  assert.equal(fixture.auth.at(-1), "Bearer wrong");

  await page.fill("#key", KEY);
  await page.click("#login button[type=submit]");
  await page.waitForSelector("body[data-status=live]");
  assert.equal(await page.isVisible("#login"), false);
  assert.equal(fixture.auth.at(-1), `Bearer ${KEY}`);
  assert.equal(await page.evaluate(() => sessionStorage.getItem("switchyard.masterKey")), KEY);
});

test("each deployment shows its state, limits, latency, counts and failures", async () => {
  const { page } = browser;
  assert.equal(await row("gpt-4o-a").getAttribute("data-state"), "healthy");
  assert.equal(await field("gpt-4o-a", "state").textContent(), "healthy");
  assert.equal(await row("gpt-4o-b").getAttribute("data-state"), "cooling");
  assert.equal(await row("gpt-4o-b").getAttribute("data-cooling-left-ms"), "12300");
  assert.equal(await field("gpt-4o-b", "state").textContent(), "cooling 13 s");
  assert.equal(await field("gpt-4o-c", "state").textContent(), "probing");

  // rpm at 95% shows as nearly full; no limit says so.
  const rpm = field("gpt-4o-a", "rpm");
  assert.equal(await rpm.getAttribute("data-used"), "95");
  assert.equal(await rpm.getAttribute("data-limit"), "100");
  assert.equal(await rpm.locator(".bar-text").textContent(), "95 / 100");
  assert.equal(await rpm.locator(".bar").getAttribute("class"), "bar high");
  const fill = await rpm.locator(".fill").evaluate((e) => e.getBoundingClientRect().width / e.parentElement.getBoundingClientRect().width);
  assert.ok(Math.abs(fill - 0.95) < 0.02, `the bar is drawn 95% full: ${fill}`);
  assert.equal(await field("gpt-4o-a", "tpm").locator(".bar-text").textContent(), "1500 / 100k");
  assert.equal(await field("gpt-4o-b", "rpm").textContent(), "no limit");

  assert.equal(await field("gpt-4o-a", "in_flight").textContent(), "1");
  assert.match(await field("gpt-4o-a", "latency").textContent(), /231 ms$/);
  assert.equal(await field("gpt-4o-a", "ttft").textContent(), "80 ms");
  assert.match(await field("gpt-4o-c", "latency").textContent(), /1\.5 s$/);
  assert.equal(await field("gpt-4o-b", "ttft").textContent(), "\u2013");
  const requests = Number(await field("gpt-4o-a", "requests").getAttribute("data-requests"));
  assert.ok(requests > 100);
  assert.equal(await field("gpt-4o-a", "requests").textContent(), `${requests - 10} / ${requests}`);

  const failures = await field("gpt-4o-a", "failures").locator(".failure").allTextContents();
  assert.deepEqual(failures, ["RateLimit 3", "Internal 2"]);
  assert.equal(await field("gpt-4o-c", "failures").textContent(), "none");
  assert.deepEqual(page.cspViolations, []);
});

test("each group shows its queue by priority, its cache hit rate, and its request rate once two polls are in", async () => {
  const { page } = browser;
  const group = page.locator('section[data-group="gpt-4o"]');
  const queue = group.locator('[data-field="queue"]');
  assert.equal(await queue.getAttribute("data-depth"), "2");
  assert.deepEqual(await queue.locator(".chip").allTextContents(), ["p0: 1", "p5: 1"]);
  assert.match(await queue.textContent(), /oldest wait 120 ms.*admitted 10.*expired 1/);
  assert.equal(await group.locator('[data-field="cache"]').textContent(), "cache hit rate23% (3 of 13)");
  const empty = page.locator('section[data-group="other"]');
  assert.equal(await empty.locator('[data-field="cache"]').textContent(), "cache hit rate0.3% (1 of 300)");
  assert.match(await empty.locator('[data-field="queue"]').textContent(), /oldest wait \u2013/, "no wait with no queue");

  await nextUpdates(page, 2);
  const rate = Number(await group.locator('[data-field="rate"]').getAttribute("data-per-second"));
  assert.ok(rate > 0 && rate < 20, `20 requests a poll, 2 s apart: ${rate}/s`);
  assert.equal(await group.locator('[data-field="rate"] polyline').count(), 1, "a sparkline once two rates are in");
});

test("names are shown as text, never read as markup", async () => {
  const { page } = browser;
  assert.equal(await page.locator(`tr[data-deployment="${EVIL.replace(/"/g, '\\"')}"] .id`).textContent(), EVIL);
  assert.equal(await page.locator("#evil").count(), 0);
});

test("a failing poll keeps what was shown and says so; the next good one is live again", async () => {
  const { page } = browser;
  fixture.failing = true;
  await page.waitForSelector("body[data-status=error]", { timeout: 10_000 });
  assert.match(await page.textContent("#status"), /answered 503/);
  assert.equal(await row("gpt-4o-b").getAttribute("data-state"), "cooling", "the last state stays");
  fixture.failing = false;
  await page.waitForSelector("body[data-status=live]", { timeout: 10_000 });
});

test("forgetting the key asks for it again", async () => {
  const { page } = browser;
  await page.click("#forget");
  await page.waitForSelector("body[data-status=login]");
  assert.equal(await page.locator("tr[data-deployment]").count(), 0, "nothing shown without a key");
  assert.equal(await page.evaluate(() => sessionStorage.getItem("switchyard.masterKey")), null);
});
