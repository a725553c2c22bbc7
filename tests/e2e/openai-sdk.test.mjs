// The official OpenAI Node SDK, pointed at the gateway, as a team would use it.
import assert from "node:assert/strict";
import { test } from "node:test";
import OpenAI from "openai";
import { useGateway } from "../support/gateway.mjs";

const ctx = useGateway((upstream) => ({
  config: `
model_list:
  - model_name: gpt-4o
    litellm_params: { model: openai/gpt-4o, api_base: ${upstream.base("sdk")}, api_key: sk-provider }
general_settings:
  master_key: sk-team
`,
}));

const sdk = (apiKey = "sk-team") => new OpenAI({ baseURL: `${ctx.gateway.url}/v1`, apiKey, maxRetries: 0 });

test("chat.completions.create", async () => {
  ctx.upstream.script("sdk", [{ type: "ok", content: "Paris." }]);
  const { data, response } = await sdk().chat.completions
    .create({ model: "gpt-4o", messages: [{ role: "user", content: "Capital of France?" }] })
    .withResponse();
  assert.equal(data.choices[0].message.content, "Paris.");
  assert.equal(response.headers.get("x-litellm-model-group"), "gpt-4o");
  assert.equal(ctx.upstream.requests.at(-1).headers.authorization, "Bearer sk-provider");
});

test("a streamed completion arrives chunk by chunk", async () => {
  ctx.upstream.script("sdk", [{ type: "stream", chunks: ["The", " answer", " is", " 42."], delayMs: 20 }]);
  const stream = await sdk().chat.completions.create({
    model: "gpt-4o",
    messages: [{ role: "user", content: "?" }],
    stream: true,
  });
  const parts = [];
  for await (const chunk of stream) parts.push(chunk.choices[0]?.delta?.content ?? "");
  assert.equal(parts.join(""), "The answer is 42.");
  assert.ok(parts.filter(Boolean).length >= 4, "several content chunks");
});

test("errors surface as the SDK's typed errors", async () => {
  await assert.rejects(
    sdk().chat.completions.create({ model: "nope", messages: [{ role: "user", content: "x" }] }),
    (error) => error instanceof OpenAI.NotFoundError && error.status === 404 && error.code === "model_not_found",
  );
  await assert.rejects(sdk("sk-wrong").models.list(), (error) => error instanceof OpenAI.AuthenticationError);
});
