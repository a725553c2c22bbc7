// `mock_response` in the config or in the request answers without a network call.
import assert from "node:assert/strict";
import { test } from "node:test";
import { readEvents, streamedContent, useGateway, user } from "../support/gateway.mjs";

const ctx = useGateway((upstream) => ({
  config: `
model_list:
  - model_name: canned
    litellm_params: { model: openai/gpt-4o, mock_response: "Canned answer here" }
    model_info: { id: canned-1 }
  - model_name: real
    litellm_params: { model: openai/gpt-4o, api_base: ${upstream.base("real")} }
  - model_name: vectors
    litellm_params: { model: openai/text-embedding-3-small, mock_response: x }
`,
}));

test("a mock deployment answers a well-formed completion", async () => {
  const response = await ctx.gateway.post("/v1/chat/completions", { model: "canned", messages: user() });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("x-litellm-model-id"), "canned-1");
  assert.equal(response.headers.get("x-litellm-model-api-base"), null, "a mock has no endpoint");
  const body = await response.json();
  assert.equal(body.object, "chat.completion");
  assert.match(body.id, /^chatcmpl-/);
  assert.equal(body.choices[0].message.role, "assistant");
  assert.equal(body.choices[0].message.content, "Canned answer here");
  assert.equal(body.choices[0].finish_reason, "stop");
  assert.equal(body.usage.total_tokens, body.usage.prompt_tokens + body.usage.completion_tokens);
});

test("a mock streams as SSE chunks ending in [DONE]", async () => {
  const response = await ctx.gateway.post("/v1/chat/completions", { model: "canned", messages: user(), stream: true });
  assert.match(response.headers.get("content-type"), /^text\/event-stream/);
  const events = await readEvents(response);
  assert.equal(events.at(-1).data, "[DONE]");
  assert.ok(events.length >= 5, `${events.length} events`);
  assert.equal(streamedContent(events), "Canned answer here");
  assert.equal(JSON.parse(events.at(-2).data).choices[0].finish_reason, "stop");
});

test("a mock stream asked for its usage ends with it, as OpenAI's do", async () => {
  const body = { model: "canned", messages: user(), stream: true, stream_options: { include_usage: true } };
  const events = await readEvents(await ctx.gateway.post("/v1/chat/completions", body));
  const usage = JSON.parse(events.at(-2).data);
  assert.deepEqual(usage.choices, []);
  assert.equal(usage.usage.total_tokens, usage.usage.prompt_tokens + usage.usage.completion_tokens);
  assert.equal(JSON.parse(events.at(-3).data).choices[0].finish_reason, "stop");
  assert.equal(streamedContent(events), "Canned answer here");
});

test("mock_response in the request wins, even on a real deployment, and nothing is called", async () => {
  const response = await ctx.gateway.post("/v1/chat/completions", {
    model: "real",
    messages: user(),
    mock_response: "from the body",
  });
  assert.equal((await response.json()).choices[0].message.content, "from the body");
  const streamed = await ctx.gateway.post("/v1/completions", {
    model: "real",
    prompt: "x",
    stream: true,
    mock_response: "a b c",
  });
  const events = await readEvents(streamed);
  assert.equal(events.filter((e) => e.data !== "[DONE]").map((e) => JSON.parse(e.data).choices[0].text).join(""), "a b c");
  assert.equal(ctx.upstream.requests.length, 0);
});

test("mock embeddings have one vector per input", async () => {
  const response = await ctx.gateway.post("/v1/embeddings", { model: "vectors", input: ["a", "b", "c"] });
  const body = await response.json();
  assert.equal(body.object, "list");
  assert.deepEqual(
    body.data.map((d) => d.index),
    [0, 1, 2],
  );
  assert.ok(body.data.every((d) => d.embedding.length > 0));
});

test("the request's mock_response must be a string", async () => {
  const response = await ctx.gateway.post("/v1/chat/completions", { model: "canned", messages: user(), mock_response: 5 });
  assert.equal(response.status, 400);
  assert.equal((await response.json()).error.param, "mock_response");
});
