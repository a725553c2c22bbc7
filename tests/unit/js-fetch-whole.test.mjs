// The complete-answer fetch (src/js/fetch-whole.js): one POST and its whole body
// under one deadline; a timeout told from a network error, the call aborted.
import assert from "node:assert/strict";
import { test } from "node:test";
import { fetchWhole } from "../../src/js/fetch-whole.js";
import { startUpstream, within } from "./js-upstream.mjs";

const HEADERS = { "content-type": "application/json", authorization: "Bearer sk-test" };
const BODY = new TextEncoder().encode('{"model":"m"}');
const ANSWER = '{"id":"chatcmpl-1","choices":[]}';
const KEYS = ["response", "body", "message", "timedOut"];

const upstream = await startUpstream((req, res) => {
  const path = req.url.slice(1);
  if (path === "answer" || path === "refused") {
    res.writeHead(path === "answer" ? 200 : 400, { "content-type": "application/json" });
    res.end(ANSWER);
  } else if (path === "stall-body") {
    res.writeHead(200, { "content-type": "application/json" });
    res.write('{"id":');
  }
  // "stall-head": no answer at all.
});

test("an answer is POSTed and read whole: its response and its body", async () => {
  const whole = await fetchWhole(`${upstream.url}answer`, HEADERS, BODY, 2_000);
  assert.deepEqual(Object.keys(whole), KEYS);
  assert.equal(whole.response.status, 200);
  assert.ok(whole.body instanceof ArrayBuffer);
  assert.equal(new TextDecoder().decode(whole.body), ANSWER);
  assert.equal(whole.message, null);
  assert.equal(whole.timedOut, false);
  const sent = upstream.calls.at(-1);
  assert.equal(sent.body, '{"model":"m"}');
  assert.equal(sent.headers.authorization, "Bearer sk-test");
  assert.equal(sent.headers["content-type"], "application/json");
});

test("an error status is read whole too: Wasm tells it from an answer", async () => {
  const whole = await fetchWhole(`${upstream.url}refused`, HEADERS, BODY, 2_000);
  assert.equal(whole.response.status, 400);
  assert.equal(new TextDecoder().decode(whole.body), ANSWER);
});

test("no head within the deadline: timed out, no response, and the upstream call aborted", async () => {
  const started = Date.now();
  const whole = await fetchWhole(`${upstream.url}stall-head`, HEADERS, BODY, 100);
  const waited = Date.now() - started;
  assert.ok(waited >= 90 && waited < 1_000, `cut after ${waited} ms`);
  assert.deepEqual(Object.keys(whole), KEYS);
  assert.equal(whole.response, null);
  assert.equal(whole.body, null);
  assert.equal(whole.timedOut, true);
  assert.equal(typeof whole.message, "string");
  assert.equal(await within(upstream.calls.at(-1).cut), true);
});

test("a body that stalls after its head is cut by the same deadline: the response, no body", async () => {
  const whole = await fetchWhole(`${upstream.url}stall-body`, HEADERS, BODY, 100);
  assert.equal(whole.response.status, 200);
  assert.equal(whole.body, null);
  assert.equal(whole.timedOut, true);
  assert.equal(await within(upstream.calls.at(-1).cut), true);
});

test("an upstream that cannot be reached is a network error, not a timeout", async () => {
  const whole = await fetchWhole("http://127.0.0.1:9/", HEADERS, BODY, 2_000);
  assert.deepEqual(Object.keys(whole), KEYS);
  assert.equal(whole.response, null);
  assert.equal(whole.body, null);
  assert.equal(whole.timedOut, false);
  assert.equal(typeof whole.message, "string");
  assert.ok(whole.message.length > 0);
});
