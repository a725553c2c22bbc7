// Seeing the router work: `GET /metrics` read by prometheus_client's own parser and
// checked against the requests this file sends; one request-log line per request,
// without content or secrets; the request id in the answer's headers.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";
import { minuteLeft, startGateway, user } from "../support/gateway.mjs";
import { startMockUpstream } from "../support/mock-upstream.mjs";

const root = fileURLToPath(new URL("../..", import.meta.url));
const MASTER_KEY = "sk-master-metrics-0123456789";
const SECRET_WORDS = "PURPLE-ELEPHANT-42";
const PRICES = "input_cost_per_token: 0.000002, output_cost_per_token: 0.00001";
const AUTH = { authorization: `Bearer ${MASTER_KEY}` };

const ctx = { lines: [] };
before(async () => {
  ctx.upstream = await startMockUpstream();
  const base = (name) => ctx.upstream.base(name);
  ctx.gateway = await startGateway({
    config: [
      "model_list:",
      `  - { model_name: solo, litellm_params: { model: openai/gpt-4o, api_base: "${base("s1")}", rpm: 100 }, model_info: { id: s1, ${PRICES} } }`,
      `  - { model_name: flaky, litellm_params: { model: openai/gpt-4o-mini, api_base: "${base("f1")}" }, model_info: { id: f1 } }`,
      `  - { model_name: backup, litellm_params: { model: openai/gpt-4o-mini, api_base: "${base("c1")}" }, model_info: { id: c1 } }`,
      `  - { model_name: limited, litellm_params: { model: openai/gpt-4o, api_base: "${base("r1")}", order: 1 }, model_info: { id: r1 } }`,
      `  - { model_name: limited, litellm_params: { model: openai/gpt-4o, api_base: "${base("r2")}", order: 2 }, model_info: { id: r2 } }`,
      "router_settings:",
      "  num_retries: 1",
      "  fallbacks: [{ flaky: [backup] }]",
      "general_settings:",
      `  master_key: ${MASTER_KEY}`,
    ].join("\n"),
    onLog: (line) => ctx.lines.push(line),
  });
});
after(async () => {
  await ctx.gateway?.close();
  await ctx.upstream?.close();
});

const chat = (model, extra = {}, headers = {}) =>
  ctx.gateway.post("/v1/chat/completions", { model, messages: user(SECRET_WORDS), ...extra }, { ...AUTH, ...headers });

/** The exposition, parsed by prometheus_client: its families by name. */
async function scrape() {
  const response = await ctx.gateway.get("/metrics", AUTH);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const text = await response.text();
  const parsed = execFileSync(`${root}/.tools/py/bin/python`, [`${root}/tests/support/prometheus.py`], { input: text });
  return new Map(JSON.parse(parsed).map((family) => [family.name, family]));
}

/** The value of the sample `name` whose labels include `labels`; 0 when there is none. */
function value(families, family, name, labels) {
  const samples = families.get(family)?.samples ?? [];
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  assert.ok(found.length <= 1, `${name} ${JSON.stringify(labels)} matches ${found.length} samples`);
  return found[0]?.value ?? 0;
}

/** Scrapes until `ready(families)`: counts reach the coordinators within a second or two. */
async function scrapeUntil(ready) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const families = await scrape();
    if (ready(families) || Date.now() > deadline) return families;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

test("/metrics is the master key's, as a bearer token", async () => {
  const refused = await ctx.gateway.get("/metrics");
  assert.equal(refused.status, 401);
  assert.equal((await refused.json()).error.type, "authentication_error");
  assert.equal((await ctx.gateway.get("/metrics", { authorization: "Bearer wrong" })).status, 401);
});

test("the figures are those of the requests sent, under LiteLLM's names and labels", async () => {
  // solo's rpm counts and leases are a minute's, read here and by the next test.
  await minuteLeft(20);
  // solo: 5 complete answers and a stream with its usage, each 1,000 prompt and 3
  // completion tokens, at s1's prices.
  for (let i = 0; i < 5; i++) {
    ctx.upstream.script("s1", [{ type: "ok", totalTokens: 1_003 }]);
    const response = await chat("solo");
    assert.equal(response.status, 200);
    await response.arrayBuffer();
  }
  ctx.upstream.script("s1", [{ type: "ok", totalTokens: 1_003 }]);
  const stream = await chat("solo", { stream: true, stream_options: { include_usage: true } });
  assert.equal(stream.status, 200);
  await stream.arrayBuffer();
  // flaky: f1 fails twice (a retry), then the fallback group answers.
  ctx.upstream.script("f1", [{ type: "error", status: 500 }, { type: "error", status: 500 }]);
  ctx.upstream.script("c1", [{ type: "ok" }]);
  const fellBack = await chat("flaky");
  assert.equal(fellBack.status, 200);
  assert.equal(fellBack.headers.get("x-litellm-model-id"), "c1");
  // limited: r1's 429 cools it down; r2 answers the retry.
  ctx.upstream.script("r1", [{ type: "rate_limit", retryAfter: 60 }]);
  ctx.upstream.script("r2", [{ type: "ok" }]);
  const cooled = await chat("limited");
  assert.equal(cooled.status, 200);
  assert.equal(cooled.headers.get("x-litellm-model-id"), "r2");

  const m = await scrapeUntil(
    (f) =>
      value(f, "litellm_requests_metric", "litellm_requests_metric_total", { model: "solo" }) >= 6 &&
      value(f, "litellm_requests_metric", "litellm_requests_metric_total", { model: "flaky" }) >= 1 &&
      value(f, "litellm_requests_metric", "litellm_requests_metric_total", { model: "limited" }) >= 1,
  );
  const s1 = { requested_model: "solo", model_id: "s1", litellm_model_name: "gpt-4o", api_provider: "openai" };
  assert.equal(value(m, "litellm_requests_metric", "litellm_requests_metric_total", { model: "solo" }), 6);
  assert.equal(value(m, "litellm_deployment_total_requests", "litellm_deployment_total_requests_total", s1), 6);
  assert.equal(value(m, "litellm_deployment_success_responses", "litellm_deployment_success_responses_total", s1), 6);
  const s1Model = { model: "gpt-4o", requested_model: "solo", model_id: "s1" };
  assert.equal(value(m, "litellm_input_tokens_metric", "litellm_input_tokens_metric_total", s1Model), 6_000);
  assert.equal(value(m, "litellm_output_tokens_metric", "litellm_output_tokens_metric_total", s1Model), 18);
  const spend = value(m, "litellm_spend_metric", "litellm_spend_metric_total", s1Model);
  assert.ok(Math.abs(spend - 6 * (1_000 * 0.000002 + 3 * 0.00001)) < 1e-9, `spend ${spend}`);
  const latency = "litellm_llm_api_latency_metric";
  assert.equal(m.get(latency).type, "histogram");
  assert.equal(value(m, latency, `${latency}_count`, s1Model), 6);
  assert.equal(value(m, latency, `${latency}_bucket`, { ...s1Model, le: "+Inf" }), 6);
  const ttft = "litellm_llm_api_time_to_first_token_metric";
  assert.equal(value(m, ttft, `${ttft}_count`, s1Model), 1, "the stream's first chunk");
  const remaining = value(m, "litellm_remaining_requests_metric", "litellm_remaining_requests_metric", { model_group: "solo" });
  assert.ok(remaining <= 94 && remaining >= 0, `remaining ${remaining}: leased requests count as taken`);

  const f1 = { requested_model: "flaky", model_id: "f1" };
  assert.equal(value(m, "litellm_deployment_total_requests", "litellm_deployment_total_requests_total", f1), 2);
  assert.equal(value(m, "litellm_deployment_success_responses", "litellm_deployment_success_responses_total", f1), 0);
  const failures = { ...f1, exception_class: "InternalServerError" };
  assert.equal(value(m, "litellm_deployment_failure_responses", "litellm_deployment_failure_responses_total", failures), 2);
  const fallback = { requested_model: "flaky", fallback_model: "backup" };
  assert.equal(
    value(m, "litellm_deployment_successful_fallbacks", "litellm_deployment_successful_fallbacks_total", fallback),
    1,
  );
  assert.equal(value(m, "switchyard_retries", "switchyard_retries_total", { model_group: "flaky" }), 2);
  const c1 = { requested_model: "backup", model_id: "c1" };
  assert.equal(value(m, "litellm_deployment_success_responses", "litellm_deployment_success_responses_total", c1), 1);

  const r1 = { model_id: "r1" };
  assert.equal(value(m, "litellm_deployment_state", "litellm_deployment_state", r1), 2, "cooling down");
  assert.equal(value(m, "litellm_deployment_state", "litellm_deployment_state", { model_id: "r2" }), 0);
  assert.equal(value(m, "litellm_deployment_cooled_down", "litellm_deployment_cooled_down_total", r1), 1);
  const rateLimited = { requested_model: "limited", model_id: "r1", exception_class: "RateLimitError" };
  assert.equal(value(m, "litellm_deployment_failure_responses", "litellm_deployment_failure_responses_total", rateLimited), 1);
  for (const family of ["switchyard_queue_depth", "switchyard_queue_wait_seconds", "switchyard_leased_requests", "switchyard_probes"]) {
    assert.ok(m.has(family), family);
  }
  assert.ok(value(m, "switchyard_leased_requests", "switchyard_leased_requests", { model_group: "solo", model_id: "s1" }) > 0);
});

test("/ui/state shows the same deployments' state, for the master key only", async () => {
  assert.equal((await ctx.gateway.get("/ui/state")).status, 401);
  const response = await ctx.gateway.get("/ui/state", AUTH);
  assert.equal(response.status, 200);
  const state = await response.json();
  const limited = state.groups.find((g) => g.name === "limited");
  const [r1, r2] = ["r1", "r2"].map((id) => limited.deployments.find((d) => d.id === id));
  assert.equal(r1.state, "cooling");
  assert.ok(r1.cooling_left_ms > 0 && r1.cooling_left_ms <= 60_000, `${r1.cooling_left_ms}`);
  assert.equal(r1.failures.RateLimit, 1);
  assert.equal(r2.state, "healthy");
  const solo = state.groups.find((g) => g.name === "solo").deployments[0];
  assert.deepEqual(solo.rpm.limit, 100);
  assert.equal(solo.provider, "openai");
  assert.ok(solo.requests >= 6);
});

test("one log line per request: its id, figures and metadata; never its content nor a key", async () => {
  ctx.lines.length = 0;
  ctx.upstream.script("s1", [{ type: "ok", totalTokens: 1_003 }]);
  const metadata = { trace_id: "t-1", tags: ["a"] };
  const response = await chat("solo", { metadata }, { "x-litellm-call-id": "call-from-client-1" });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("x-request-id"), "call-from-client-1", "the client's own id is kept");
  assert.equal(response.headers.get("x-litellm-call-id"), "call-from-client-1");
  await response.arrayBuffer();
  const unknown = await chat("nope");
  assert.equal(unknown.status, 404);
  const unknownId = unknown.headers.get("x-request-id");
  assert.match(unknownId, /^[0-9a-f-]{36}$/);
  await unknown.arrayBuffer();

  const deadline = Date.now() + 5_000;
  const records = () => ctx.lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
  while (records().length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const [answered, refused] = ["call-from-client-1", unknownId].map((id) => records().find((r) => r.request_id === id));
  assert.equal(answered.endpoint, "/v1/chat/completions");
  assert.equal(answered.model, "solo");
  assert.equal(answered.group, "solo");
  assert.deepEqual(answered.deployment, { group: "solo", id: "s1", model: "gpt-4o", provider: "openai" });
  assert.equal(answered.status, 200);
  assert.deepEqual(answered.usage, { prompt_tokens: 1_000, completion_tokens: 3, total_tokens: 1_003 });
  assert.ok(Math.abs(answered.cost - (0.002 + 0.00003)) < 1e-12);
  assert.equal(answered.retries, 0);
  assert.ok(answered.latency_ms >= 0 && answered.api_latency_ms <= answered.latency_ms);
  assert.deepEqual(answered.metadata, metadata);
  assert.equal(answered.hashed_api_key, createHash("sha256").update(MASTER_KEY).digest("hex"));
  assert.equal(refused.status, 404);
  assert.equal(refused.model, "nope");
  for (const line of ctx.lines) {
    assert.ok(!line.includes(SECRET_WORDS), `content in the log: ${line}`);
    assert.ok(!line.includes(MASTER_KEY), `a key in the log: ${line}`);
  }
});

test("general_settings.request_log: false writes no line, and the request is still counted", async () => {
  const lines = [];
  const quiet = await startGateway({
    config: [
      "model_list:",
      `  - { model_name: solo, litellm_params: { model: openai/gpt-4o, api_base: "${ctx.upstream.base("q1")}" }, model_info: { id: q1 } }`,
      "general_settings:",
      "  request_log: false",
    ].join("\n"),
    onLog: (line) => lines.push(line),
  });
  try {
    const response = await quiet.post("/v1/chat/completions", { model: "solo", messages: user() });
    assert.equal(response.status, 200);
    await response.arrayBuffer();
    // Counts reach the coordinator with a sync or within 2 s on their own.
    let metrics = "";
    for (let tries = 0; tries < 50 && !/^litellm_requests_metric_total\{.*\} [1-9]/m.test(metrics); tries++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      metrics = await (await quiet.get("/metrics")).text();
    }
    assert.match(metrics, /^litellm_requests_metric_total\{model="solo"\} 1$/m);
    assert.deepEqual(lines.filter((line) => line.startsWith("{")), []);
  } finally {
    await quiet.close();
  }
});
