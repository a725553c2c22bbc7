// Each kind of timeout cuts the upstream call in time.
import assert from "node:assert/strict";
import { test } from "node:test";
import { deployment, readEvents, streamedContent, useGateway, user } from "../support/gateway.mjs";

const ctx = useGateway((upstream) => ({
  config: [
    "model_list:",
    deployment(upstream, "router-timeout", "rt"),
    deployment(upstream, "deployment-timeout", "dt", ", timeout: 0.4"),
    deployment(upstream, "streamy", "st", ", stream_timeout: 0.4"),
    deployment(upstream, "stream-backup", "sb"),
    "router_settings:",
    "  num_retries: 0",
    "  timeout: 0.8",
    "  fallbacks: [{ streamy: [stream-backup] }]",
  ].join("\n"),
}));

async function timed(promise) {
  const started = Date.now();
  const response = await promise;
  return { response, ms: Date.now() - started };
}

const chat = (model, extra = {}, headers = {}) =>
  ctx.gateway.post("/v1/chat/completions", { model, messages: user(), ...extra }, headers);

async function expectTimeout({ response, ms }, min, max) {
  assert.equal(response.status, 408);
  const { error } = await response.json();
  assert.equal(error.type, "timeout");
  assert.ok(ms >= min && ms < max, `answered after ${ms} ms, expected ${min}..${max}`);
}

test("the router timeout cuts a stalled upstream with a 408", async () => {
  ctx.upstream.script("rt", [{ type: "stall" }]);
  await expectTimeout(await timed(chat("router-timeout")), 750, 2_000);
});

test("a deployment timeout beats the router's", async () => {
  ctx.upstream.script("dt", [{ type: "stall" }]);
  await expectTimeout(await timed(chat("deployment-timeout")), 350, 750);
});

test("the request's timeout, in the body or x-litellm-timeout, beats the deployment's", async () => {
  ctx.upstream.script("dt", [{ type: "stall" }, { type: "stall" }]);
  await expectTimeout(await timed(chat("deployment-timeout", { timeout: 0.15 })), 120, 380);
  await expectTimeout(await timed(chat("deployment-timeout", {}, { "x-litellm-timeout": "0.15" })), 120, 380);
  const bad = await chat("deployment-timeout", {}, { "x-litellm-timeout": "soon" });
  assert.equal(bad.status, 400);
});

test("an answer whose body stalls after its head is cut by the same timeout", async () => {
  ctx.upstream.script("dt", [{ type: "stall_body" }]);
  await expectTimeout(await timed(chat("deployment-timeout")), 350, 750);
});

test("a slow answer within the timeout is not cut", async () => {
  ctx.upstream.script("dt", [{ type: "ok", delayMs: 200 }]);
  const { response } = await timed(chat("deployment-timeout"));
  assert.equal(response.status, 200);
});

test("a stream that stalls before its first chunk falls back like any request", async () => {
  ctx.upstream.script("st", [{ type: "stall" }]);
  ctx.upstream.script("sb", [{ type: "stream", chunks: ["from", " backup"] }]);
  const { response, ms } = await timed(chat("streamy", { stream: true }));
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("x-litellm-model-group"), "stream-backup");
  assert.equal(streamedContent(await readEvents(response)), "from backup");
  assert.ok(ms < 1_500, `${ms} ms`);
});

test("a stream that stalls after its first chunk ends with an error event and no [DONE]", async () => {
  ctx.upstream.script("st", [{ type: "stream", chunks: ["one", " two", " three"], delayMs: 50, stallAfter: 2 }]);
  const response = await chat("streamy", { stream: true });
  assert.equal(response.status, 200);
  const events = await readEvents(response);
  const last = JSON.parse(events.at(-1).data);
  assert.equal(last.error.type, "timeout");
  assert.ok(!events.some((e) => e.data === "[DONE]"), "no [DONE]");
  assert.equal(streamedContent(events.slice(0, -1)), "one two");
  const gap = events.at(-1).at - events.at(-2).at;
  assert.ok(gap >= 350 && gap < 1_500, `cut after ${gap} ms`);
});

test("a stream whose upstream breaks after its first chunk ends with an error event naming the deployment", async () => {
  ctx.upstream.script("st", [{ type: "stream", chunks: ["one", " two", " three"], delayMs: 20, breakAfter: 2 }]);
  const response = await chat("streamy", { stream: true });
  assert.equal(response.status, 200);
  const events = await readEvents(response);
  const { error } = JSON.parse(events.at(-1).data);
  assert.equal(error.code, "upstream_unreachable");
  assert.match(error.message, /`st` could not be reached: .+/);
  assert.ok(!/\u0001|\x01/.test(error.message), error.message);
  assert.ok(!events.some((e) => e.data === "[DONE]"), "no [DONE]");
  assert.equal(streamedContent(events.slice(0, -1)), "one two");
});
