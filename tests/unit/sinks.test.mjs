// The mock sinks' own contract: what the OTLP/HTTP collector and Langfuse's
// ingestion API accept, what they refuse and how, and their slow and failing modes.
import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import { startLangfuseSink } from "../support/sinks/langfuse.mjs";
import { startOtelSink } from "../support/sinks/otel.mjs";

const KEYS = { publicKey: "pk-lf-test", secretKey: "sk-lf-test" };
const BASIC = `Basic ${Buffer.from("pk-lf-test:sk-lf-test").toString("base64")}`;
let otel;
let langfuse;

before(async () => {
  otel = await startOtelSink();
  langfuse = await startLangfuseSink(KEYS);
});
after(async () => {
  await otel.close();
  await langfuse.close();
});
beforeEach(() => {
  otel.reset();
  langfuse.reset();
});

const span = (extra = {}) => ({
  traceId: "0af7651916cd43dd8448eb211c80319c",
  spanId: "b7ad6b7169203331",
  name: "chat gpt-4o",
  kind: 2,
  startTimeUnixNano: "1764585600000000000",
  endTimeUnixNano: "1764585600900000000",
  attributes: [
    { key: "gen_ai.request.model", value: { stringValue: "gpt-4o" } },
    { key: "gen_ai.usage.input_tokens", value: { intValue: "12" } },
  ],
  status: { code: 0 },
  ...extra,
});
const exported = (spans) => ({
  resourceSpans: [{ resource: { attributes: [{ key: "service.name", value: { stringValue: "gw" } }] }, scopeSpans: [{ scope: { name: "t" }, spans }] }],
});
const postTraces = (body, { path = "/v1/traces", type = "application/json" } = {}) =>
  fetch(`${otel.url}${path}`, { method: "POST", headers: { "content-type": type }, body: typeof body === "string" ? body : JSON.stringify(body) });

test("the collector takes a well-formed OTLP/JSON export and unwraps its spans", async () => {
  const response = await postTraces(exported([span(), span({ spanId: "00f067aa0ba902b7", parentSpanId: "b7ad6b7169203331", kind: 3 })]));
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), {});
  const spans = otel.spans();
  assert.equal(spans.length, 2);
  assert.equal(spans[0].service, "gw");
  assert.equal(spans[0].attrs["gen_ai.usage.input_tokens"], 12);
});

test("the collector refuses what OTLP/JSON does not allow", async () => {
  const cases = [
    [span({ traceId: "CAFE".repeat(8) }), /traceId/],
    [span({ traceId: "abc" }), /traceId/],
    [span({ traceId: "0".repeat(32) }), /traceId/],
    [span({ spanId: Buffer.from("12345678").toString("base64") }), /spanId/],
    [span({ startTimeUnixNano: 1764585600000000000 }), /nanoseconds/],
    [span({ kind: "SPAN_KIND_SERVER" }), /kind/],
    [span({ kind: 9 }), /kind/],
    [span({ status: { code: "STATUS_CODE_ERROR" } }), /status.code/],
    [span({ attributes: [{ key: "n", value: { intValue: 1.5 } }] }), /intValue/],
    [span({ attributes: [{ key: "n", value: { stringValue: "a", intValue: "1" } }] }), /one field/],
    [span({ endTimeUnixNano: "1" }), /ends before/],
  ];
  for (const [bad, reason] of cases) {
    const response = await postTraces(exported([bad]));
    assert.equal(response.status, 400, JSON.stringify(bad));
    assert.match((await response.json()).message, reason);
  }
  assert.equal((await postTraces(exported([span()]), { type: "application/x-protobuf" })).status, 415);
  assert.equal((await postTraces(exported([span()]), { path: "/v1/metrics" })).status, 404);
  assert.equal((await postTraces("{not json")).status, 400);
  assert.equal(otel.spans().length, 0);
  assert.equal(otel.refused.length, cases.length + 3);
});

const event = (type, body, extra = {}) => ({ id: `e-${type}`, timestamp: "2025-12-01T10:40:00.123Z", type, body, ...extra });
const ingest = (body, authorization = BASIC) =>
  fetch(`${langfuse.url}/api/public/ingestion`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization },
    body: JSON.stringify(body),
  });

test("Langfuse takes a batch with Basic auth and answers 207 with each event's outcome", async () => {
  const batch = [
    event("trace-create", { id: "t1", name: "x", tags: ["a"], metadata: { k: 1 } }),
    event("generation-create", { id: "g1", traceId: "t1", model: "gpt-4o", startTime: "2025-12-01T10:40:00.123Z", usageDetails: { input: 1, output: 2, total: 3 }, costDetails: { total: 0.5 }, level: "ERROR", statusMessage: "RateLimit" }),
    event("generation-create", { id: "g2", usageDetails: { input: "1" } }, { id: "bad-usage" }),
    event("trace-create", { id: "t2" }, { timestamp: "yesterday", id: "bad-time" }),
    event("trace-create", { id: "t3", unknownField: 1 }, { id: "bad-field" }),
    event("generation-create", { level: "FATAL" }, { id: "bad-level" }),
    event("nonsense-create", {}, { id: "bad-type" }),
  ];
  const response = await ingest({ batch });
  assert.equal(response.status, 207);
  const answer = await response.json();
  assert.deepEqual(answer.successes, [{ id: "e-trace-create", status: 201 }, { id: "e-generation-create", status: 201 }]);
  assert.deepEqual(answer.errors.map((e) => [e.id, e.status]), ["bad-usage", "bad-time", "bad-field", "bad-level", "bad-type"].map((id) => [id, 400]));
  assert.equal(langfuse.events().length, 2);
  assert.equal(langfuse.rejectedEvents().length, 5);
});

test("Langfuse refuses wrong credentials and bodies that are not a batch", async () => {
  assert.equal((await ingest({ batch: [] }, "Basic " + Buffer.from("pk-lf-test:wrong").toString("base64"))).status, 401);
  assert.equal((await ingest({ batch: [] }, "Bearer sk-lf-test")).status, 401);
  assert.equal((await ingest({ events: [] })).status, 400);
  assert.equal(langfuse.received.length, 0);
  assert.equal(langfuse.refused.length, 3);
});

test("a failing sink answers 500 and a slow one never answers", async () => {
  otel.mode("fail");
  assert.equal((await postTraces(exported([span()]))).status, 500);
  langfuse.mode("slow");
  const pending = ingest({ batch: [] }).catch((e) => e);
  const slow = await Promise.race([pending, new Promise((resolve) => setTimeout(() => resolve("still waiting"), 300))]);
  assert.equal(slow, "still waiting");
  assert.equal(langfuse.received.length, 1, "recorded, though never answered");
  langfuse.reset();
});
