// Each routing strategy's distribution: least-busy decided by the shared
// coordinator, the others in the isolate from its view and what it saw since.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startGateway, user } from "../support/gateway.mjs";
import { startMockUpstream } from "../support/mock-upstream.mjs";

let upstream;
const gateways = {};

const config = (strategy, a, b, aInfo = "", bInfo = "") => `
model_list:
  - { model_name: g, litellm_params: { model: openai/m, api_base: "${upstream.base(a)}" }, model_info: { id: ${a}${aInfo} } }
  - { model_name: g, litellm_params: { model: openai/m, api_base: "${upstream.base(b)}" }, model_info: { id: ${b}${bInfo} } }
router_settings:
  routing_strategy: ${strategy}
`;

before(async () => {
  upstream = await startMockUpstream();
  gateways.busy = await startGateway({ config: config("least-busy", "lb1", "lb2") });
  gateways.usage = await startGateway({ config: config("usage-based-routing-v2", "ub1", "ub2") });
  gateways.latency = await startGateway({ config: config("latency-based-routing", "lt1", "lt2") });
  gateways.firstToken = await startGateway({ config: config("latency-based-routing", "ft1", "ft2") });
  gateways.cost = await startGateway({
    config: config(
      "cost-based-routing",
      "cs1",
      "cs2",
      ", input_cost_per_token: 0.00001, output_cost_per_token: 0.00003",
      ", input_cost_per_token: 0.0000005, output_cost_per_token: 0.0000015",
    ),
  });
});

after(async () => {
  for (const gateway of Object.values(gateways)) await gateway.close();
  await upstream?.close();
});

async function sequential(gateway, n) {
  const counts = {};
  for (let i = 0; i < n; i++) {
    const response = await gateway.post("/v1/chat/completions", { model: "g", messages: user() });
    assert.equal(response.status, 200);
    await response.arrayBuffer();
    const id = response.headers.get("x-litellm-model-id");
    counts[id] = (counts[id] ?? 0) + 1;
  }
  return counts;
}

test("least-busy: concurrent slow requests split exactly evenly", async () => {
  upstream.script("lb1", [], { type: "ok", delayMs: 600 });
  upstream.script("lb2", [], { type: "ok", delayMs: 600 });
  const responses = await Promise.all(
    Array.from({ length: 10 }, () => gateways.busy.post("/v1/chat/completions", { model: "g", messages: user() })),
  );
  const ids = responses.map((r) => r.headers.get("x-litellm-model-id"));
  assert.equal(ids.filter((id) => id === "lb1").length, 5, `${ids}`);
});

test("usage-based: the deployment that used the most tokens this minute is avoided", async () => {
  upstream.script("ub1", [], { type: "ok", totalTokens: 5_000 });
  upstream.script("ub2", [], { type: "ok", totalTokens: 10 });
  const counts = await sequential(gateways.usage, 20);
  assert.ok((counts.ub1 ?? 0) <= 1, `ub1 serves at most once: ${JSON.stringify(counts)}`);
});

test("latency-based: after one sample each, the faster deployment serves", async () => {
  upstream.script("lt1", [], { type: "ok", delayMs: 250 });
  upstream.script("lt2", [], { type: "ok" });
  const counts = await sequential(gateways.latency, 15);
  assert.equal(counts.lt1, 1, JSON.stringify(counts));
  assert.equal(counts.lt2, 14);
});

test("latency-based: streams go by the time to their first token, not the whole", async () => {
  // ft1 streams its first chunk at once and ends after 400 ms; ft2 sends nothing
  // for 150 ms, then all of it.
  upstream.script("ft1", [], { type: "stream", chunks: ["a", "b", "c", "d", "e"], delayMs: 80 });
  upstream.script("ft2", [], { type: "ok", delayMs: 150 });
  const counts = {};
  for (let i = 0; i < 8; i++) {
    const body = { model: "g", messages: user(), stream: true };
    const response = await gateways.firstToken.post("/v1/chat/completions", body);
    assert.equal(response.status, 200);
    await response.arrayBuffer();
    const id = response.headers.get("x-litellm-model-id");
    counts[id] = (counts[id] ?? 0) + 1;
  }
  assert.deepEqual(counts, { ft1: 7, ft2: 1 });
});

test("cost-based: the cheapest deployment serves", async () => {
  const counts = await sequential(gateways.cost, 10);
  assert.deepEqual(counts, { cs2: 10 });
});
