// Prices from LiteLLM's price map (`model_prices_and_context_window.json`, stored in
// the CONFIG namespace under `model_prices`) for deployments without their own:
// an Azure deployment by its `model_info.base_model`, another by its model.
import assert from "node:assert/strict";
import { test } from "node:test";
import { useGateway, user } from "../support/gateway.mjs";

const AZURE_KEY = "azure-resource-key-0123456789abcdef";
// LiteLLM's shape: entries with and without a provider prefix, its documenting
// `sample_spec`, fields the gateway does not read.
const MAP = {
  sample_spec: { input_cost_per_token: "input cost per token", litellm_provider: "one of litellm's providers" },
  "azure/gpt-4o-2024-08-06": { input_cost_per_token: 2.5e-6, output_cost_per_token: 1e-5, max_input_tokens: 128000, mode: "chat" },
  "gpt-4o-mini": { input_cost_per_token: 1.5e-7, output_cost_per_token: 6e-7, supports_vision: true },
};

const ctx = useGateway((upstream) => {
  const azure = upstream.provider("az", "azure", { apiKey: AZURE_KEY, deployments: ["prod-east", "prod-west"] });
  const azureDeployment = (group, name, info) =>
    `  - { model_name: ${group}, litellm_params: { model: azure/${name}, api_base: "${azure}", api_key: ${AZURE_KEY} }, model_info: { id: ${name}, ${info} } }`;
  return {
    config: [
      "model_list:",
      azureDeployment("by-base-model", "prod-east", "base_model: azure/gpt-4o-2024-08-06"),
      azureDeployment("unknown-base-model", "prod-west", "base_model: azure/gpt-9"),
      `  - { model_name: by-model, litellm_params: { model: openai/gpt-4o-mini, api_base: "${upstream.base("mini")}" }, model_info: { id: mini } }`,
      `  - { model_name: own-price, litellm_params: { model: openai/gpt-4o-mini, api_base: "${upstream.base("own")}" }, model_info: { id: own, input_cost_per_token: 1.0e-6 } }`,
      "router_settings:",
      "  num_retries: 0",
      "  enable_pre_call_checks: true",
    ].join("\n"),
    configKv: { model_prices: JSON.stringify(MAP) },
  };
});

const cost = (response) => response.headers.get("x-litellm-response-cost");
const close = (actual, expected) => assert.ok(Math.abs(Number(actual) - expected) < 1e-12, `${actual} against ${expected}`);

/** A request to `group`, answered by deployment `id` of mock upstream `upstream`. */
async function ask(group, id, upstream = id) {
  ctx.upstream.script(upstream, [{ type: "ok", totalTokens: 1_003 }]);
  const response = await ctx.gateway.post("/v1/chat/completions", { model: group, messages: user() });
  assert.equal(response.status, 200, group);
  assert.equal(response.headers.get("x-litellm-model-id"), id);
  await response.arrayBuffer();
  return response;
}

// The mocks answer 3 completion tokens; the rest of `totalTokens` is the prompt's.
test("an Azure deployment is priced by its base_model from the stored map", async () => {
  close(cost(await ask("by-base-model", "prod-east", "az")), 1_000 * 2.5e-6 + 3 * 1e-5);
});

test("a deployment without base_model is priced by its model, found without its provider's prefix", async () => {
  close(cost(await ask("by-model", "mini")), 1_000 * 1.5e-7 + 3 * 6e-7);
});

test("a deployment's own price wins over the map's, and a base_model the map lacks is not priced", async () => {
  close(cost(await ask("own-price", "own")), 1_000 * 1.0e-6);
  assert.equal(cost(await ask("unknown-base-model", "prod-west", "az")), null);
});

test("the map's context window serves the pre-call check: a prompt over it is refused before any call", async () => {
  // 128,000 tokens at about four characters each, and some over.
  const long = "word ".repeat(140_000);
  const response = await ctx.gateway.post("/v1/chat/completions", {
    model: "by-base-model",
    messages: [{ role: "user", content: long }],
  });
  const body = await response.json();
  assert.equal(response.status, 400, JSON.stringify(body));
  assert.match(body.error.message, /max_input_tokens/);
  assert.equal(ctx.upstream.requests.length, 0);
});
