// An answer's cost (LiteLLM's `x-litellm-response-cost`): its usage at its
// deployment's `model_info` prices, whichever provider answered and in which API.
import assert from "node:assert/strict";
import { test } from "node:test";
import { useGateway, user } from "../support/gateway.mjs";

const ANTHROPIC_KEY = "sk-ant-api03-0123456789abcdefghijklmnopqrstuv";
const PRICES = "input_cost_per_token: 0.000002, output_cost_per_token: 0.00001";

const ctx = useGateway((upstream) => {
  const claude = upstream.provider("c1", "anthropic", { apiKey: ANTHROPIC_KEY });
  return {
    config: [
      "model_list:",
      `  - { model_name: priced, litellm_params: { model: openai/gpt-4o, api_base: "${upstream.base("p1")}" }, model_info: { id: p1, ${PRICES} } }`,
      `  - { model_name: claude, litellm_params: { model: anthropic/claude-sonnet-4-5, api_base: "${claude}", api_key: ${ANTHROPIC_KEY} }, model_info: { id: c1, ${PRICES} } }`,
      `  - { model_name: free, litellm_params: { model: openai/gpt-4o, api_base: "${upstream.base("f1")}" }, model_info: { id: f1 } }`,
      "router_settings:",
      "  num_retries: 0",
    ].join("\n"),
  };
});

// The mocks answer 3 completion tokens; the rest of `totalTokens` is the prompt's.
const EXPECTED = 1_000 * 0.000002 + 3 * 0.00001;
const cost = (response) => Number(response.headers.get("x-litellm-response-cost"));
const close = (actual, expected) => assert.ok(Math.abs(actual - expected) < 1e-12, `${actual} against ${expected}`);

test("a complete answer carries its cost, from an OpenAI or a translated Anthropic deployment", async () => {
  for (const [group, deployment] of [["priced", "p1"], ["claude", "c1"]]) {
    ctx.upstream.script(deployment, [{ type: "ok", totalTokens: 1_003 }]);
    const response = await ctx.gateway.post("/v1/chat/completions", { model: group, messages: user() });
    assert.equal(response.status, 200);
    const answer = await response.json();
    assert.equal(answer.usage.prompt_tokens, 1_000, group);
    close(cost(response), EXPECTED);
  }
});

test("an Anthropic client's answer, passed as Anthropic gave it, carries its cost", async () => {
  ctx.upstream.script("c1", [{ type: "ok", totalTokens: 1_003 }]);
  const response = await ctx.gateway.post(
    "/v1/messages",
    { model: "claude", max_tokens: 10, messages: user() },
    { "anthropic-version": "2023-06-01" },
  );
  assert.equal(response.status, 200);
  assert.equal((await response.json()).usage.input_tokens, 1_000);
  close(cost(response), EXPECTED);
});

test("no cost without prices, nor on a stream (its usage comes after its headers)", async () => {
  ctx.upstream.script("f1", [{ type: "ok", totalTokens: 1_003 }]);
  const free = await ctx.gateway.post("/v1/chat/completions", { model: "free", messages: user() });
  assert.equal(free.status, 200);
  assert.equal(free.headers.get("x-litellm-response-cost"), null);
  await free.arrayBuffer();
  const streamed = await ctx.gateway.post("/v1/chat/completions", { model: "priced", messages: user(), stream: true });
  assert.equal(streamed.status, 200);
  assert.equal(streamed.headers.get("x-litellm-response-cost"), null);
  await streamed.arrayBuffer();
});
