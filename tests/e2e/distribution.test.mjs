// simple-shuffle spreads traffic by weight (else rpm, else tpm, else uniformly).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startGateway, user } from "../support/gateway.mjs";

let gateway;

before(async () => {
  const deployment = (group, id, extra) =>
    `  - { model_name: ${group}, litellm_params: { model: openai/m, mock_response: ok${extra} }, model_info: { id: ${id} } }`;
  gateway = await startGateway({
    config: [
      "model_list:",
      deployment("weighted", "w3", ", weight: 3"),
      deployment("weighted", "w1", ", weight: 1"),
      deployment("weighted", "w0", ", weight: 0"),
      deployment("by-rpm", "r100", ", rpm: 100"),
      deployment("by-rpm", "r300", ", rpm: 300"),
      deployment("uniform", "u1", ""),
      deployment("uniform", "u2", ""),
    ].join("\n"),
  });
});

after(() => gateway?.close());

async function tally(model, n) {
  const counts = {};
  for (let i = 0; i < n; i += 50) {
    const batch = Array.from({ length: Math.min(50, n - i) }, () =>
      gateway.post("/v1/chat/completions", { model, messages: user() }),
    );
    for (const response of await Promise.all(batch)) {
      assert.equal(response.status, 200);
      const id = response.headers.get("x-litellm-model-id");
      counts[id] = (counts[id] ?? 0) + 1;
      await response.arrayBuffer();
    }
  }
  return counts;
}

// Within 4.5 standard deviations of a binomial: fails by chance about once in 150,000 runs.
function assertShare(count, n, p, label) {
  const sd = Math.sqrt(n * p * (1 - p));
  assert.ok(Math.abs(count - n * p) <= 4.5 * sd, `${label}: ${count} of ${n}, expected about ${n * p}`);
}

test("weights split traffic 3:1 and weight 0 gets none", async () => {
  const counts = await tally("weighted", 400);
  assertShare(counts.w3 ?? 0, 400, 0.75, "w3");
  assert.equal(counts.w0, undefined, "weight 0 is never chosen while another has weight");
});

test("rpm is the weight when no weight is set", async () => {
  const counts = await tally("by-rpm", 400);
  assertShare(counts.r300 ?? 0, 400, 0.75, "r300");
});

test("without weights the choice is uniform", async () => {
  const counts = await tally("uniform", 400);
  assertShare(counts.u1 ?? 0, 400, 0.5, "u1");
});
