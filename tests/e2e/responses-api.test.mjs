// OpenAI's Responses API served to the OpenAI SDK's `responses` client, through the
// router: OpenAI's own deployments get the request as it came; any other gets it as
// chat completions, its answer and stream turned back into a response, which the
// gateway keeps (for previous_response_id and GET /v1/responses/{id}) for the key
// that made it.
import assert from "node:assert/strict";
import { test } from "node:test";
import OpenAI from "openai";
import { useGateway } from "../support/gateway.mjs";
import { refusal } from "../support/refusal.mjs";

const ANTHROPIC_KEY = "sk-ant-api03-0123456789abcdefghijklmnopqrstuv";
const OPENAI_KEY = "sk-proj-openai-0123456789abcdefghij";

const ctx = useGateway((upstream) => {
  const openai = upstream.provider("oai", "openai", { apiKey: OPENAI_KEY });
  const claude = upstream.provider("c1", "anthropic", { apiKey: ANTHROPIC_KEY });
  return {
    config: [
      "model_list:",
      `  - { model_name: gpt, litellm_params: { model: openai/gpt-4o, api_base: "${openai}", api_key: ${OPENAI_KEY} }, model_info: { id: oai } }`,
      `  - { model_name: metered, litellm_params: { model: openai/gpt-4o, api_base: "${openai}", api_key: ${OPENAI_KEY}, tpm: 400 }, model_info: { id: oai-metered } }`,
      `  - { model_name: claude, litellm_params: { model: anthropic/claude-sonnet-4-5, api_base: "${claude}", api_key: ${ANTHROPIC_KEY} }, model_info: { id: c1 } }`,
      `  - { model_name: llama, litellm_params: { model: hosted_vllm/llama-3.1-8b, api_base: "${upstream.base("v1")}" }, model_info: { id: v1 } }`,
      "router_settings:",
      "  num_retries: 0",
      "  fallbacks: [{ claude: [llama] }]",
    ].join("\n"),
  };
});

// No master key: each API key is a tenant of its own.
const sdk = (apiKey = "sk-tenant-a-0123456789") => new OpenAI({ baseURL: `${ctx.gateway.url}/v1`, apiKey, maxRetries: 0 });
const last = (deployment) => ctx.upstream.requests.filter((r) => r.deployment === deployment).at(-1);
const WEATHER = {
  type: "function",
  name: "get_weather",
  description: "The weather in a city",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"], additionalProperties: false },
  strict: true,
};

/** A response's text, as `output_text` gives it (the SDK computes that field for `create` only). */
const textOf = (response) =>
  response.output.filter((item) => item.type === "message").flatMap((item) => item.content).map((part) => part.text ?? "").join("");

test("a chat deployment answers a Responses client: instructions and input as chat, the answer as a response", async () => {
  ctx.upstream.script("v1", [{ type: "ok", content: "Paris." }]);
  const { data: response, response: http } = await sdk()
    .responses.create({ model: "llama", instructions: "Answer in one word.", input: "Capital of France?", max_output_tokens: 50, temperature: 0.2 })
    .withResponse();
  assert.equal(response.object, "response");
  assert.match(response.id, /^resp_[0-9a-f]{48}$/);
  assert.equal(response.status, "completed");
  assert.equal(response.model, "llama");
  assert.equal(response.output_text, "Paris.");
  assert.equal(response.output[0].type, "message");
  assert.ok(response.usage.input_tokens > 0 && response.usage.total_tokens >= response.usage.output_tokens);
  assert.equal(http.headers.get("x-litellm-model-id"), "v1");
  const sent = last("v1").body;
  assert.equal(sent.model, "llama-3.1-8b");
  assert.deepEqual(sent.messages, [
    { role: "system", content: "Answer in one word." },
    { role: "user", content: "Capital of France?" },
  ]);
  assert.deepEqual([sent.max_completion_tokens, sent.temperature], [50, 0.2]);
});

test("a chat stream arrives as the Responses events, put together by the SDK", async () => {
  ctx.upstream.script("v1", [{ type: "stream", chunks: ["The", " answer", " is", " 42."], delayMs: 5 }]);
  const stream = sdk().responses.stream({ model: "llama", input: "?" });
  const kinds = [];
  stream.on("event", (event) => kinds.push(event.type));
  const response = await stream.finalResponse();
  assert.equal(textOf(response), "The answer is 42.");
  assert.equal(response.status, "completed");
  assert.equal(kinds[0], "response.created");
  assert.equal(kinds.at(-1), "response.completed");
  assert.ok(kinds.filter((kind) => kind === "response.output_text.delta").length >= 4);
});

test("function calling over two turns, continued with previous_response_id the gateway kept", async () => {
  ctx.upstream.script("c1", [
    { type: "tool_call", name: "get_weather", arguments: { city: "Paris" }, id: "toolu_01" },
    { type: "ok", content: "Sunny in Paris." },
  ]);
  const first = await sdk().responses.create({ model: "claude", input: "Weather in Paris?", tools: [WEATHER], tool_choice: "required" });
  const call = first.output.find((item) => item.type === "function_call");
  assert.deepEqual([call.name, JSON.parse(call.arguments)], ["get_weather", { city: "Paris" }]);
  assert.equal(call.call_id, "toolu_01");
  assert.deepEqual(last("c1").body.tools[0].name, "get_weather");

  const second = await sdk().responses.create({
    model: "claude",
    previous_response_id: first.id,
    input: [{ type: "function_call_output", call_id: call.call_id, output: "Sunny, 24 °C" }],
    tools: [WEATHER],
  });
  assert.equal(second.output_text, "Sunny in Paris.");
  assert.equal(second.previous_response_id, first.id);
  const turns = last("c1").body.messages;
  assert.deepEqual(turns[0], { role: "user", content: [{ type: "text", text: "Weather in Paris?" }] });
  assert.deepEqual(turns[1].content.at(-1), { type: "tool_use", id: "toolu_01", name: "get_weather", input: { city: "Paris" } });
  assert.deepEqual(turns[2].content[0], { type: "tool_result", tool_use_id: "toolu_01", content: "Sunny, 24 °C" });
});

test("a kept response is given back to the key that made it, and to no other", async () => {
  ctx.upstream.script("v1", [{ type: "ok", content: "Kept." }]);
  const made = await sdk().responses.create({ model: "llama", input: "Keep this." });
  const again = await sdk().responses.retrieve(made.id);
  assert.deepEqual(again, made);
  const other = await refusal(sdk("sk-tenant-b-0123456789").responses.retrieve(made.id));
  assert.equal(other.status, 404);
  const continued = await refusal(sdk("sk-tenant-b-0123456789").responses.create({ model: "llama", input: "and?", previous_response_id: made.id }));
  assert.equal(continued.status, 400, "another key cannot continue it either");
  assert.equal(continued.param, "previous_response_id");

  ctx.upstream.script("v1", [{ type: "ok", content: "Not kept." }]);
  const unstored = await sdk().responses.create({ model: "llama", input: "Forget this.", store: false });
  assert.equal((await refusal(sdk().responses.retrieve(unstored.id))).status, 404);
});

test("a streamed response is kept too, and continued", async () => {
  ctx.upstream.script("v1", [{ type: "stream", chunks: ["First", " turn."] }, { type: "ok", content: "Second turn." }]);
  const first = await sdk().responses.stream({ model: "llama", input: "One." }).finalResponse();
  await new Promise((resolve) => setTimeout(resolve, 200)); // kept once the stream ended
  const second = await sdk().responses.create({ model: "llama", input: "Two.", previous_response_id: first.id });
  assert.equal(second.output_text, "Second turn.");
  assert.deepEqual(last("v1").body.messages.map((m) => [m.role, m.content]), [
    ["user", "One."],
    ["assistant", "First turn."],
    ["user", "Two."],
  ]);
});

test("OpenAI's own deployment gets the request as it came, and continues its own responses", async () => {
  ctx.upstream.script("oai", [{ type: "ok", content: "From OpenAI." }, { type: "ok", content: "Again from OpenAI." }]);
  const first = await sdk().responses.create({ model: "gpt", input: "Hi", metadata: { team: "a" }, priority: 1, tools: [{ type: "web_search" }] });
  assert.equal(first.output_text, "From OpenAI.");
  const sent = last("oai");
  assert.equal(sent.path, "/responses");
  assert.equal(sent.headers.authorization, `Bearer ${OPENAI_KEY}`);
  assert.deepEqual(sent.body, { model: "gpt-4o", input: "Hi", metadata: { team: "a" }, tools: [{ type: "web_search" }] }, "the gateway's own fields left out");
  const second = await sdk().responses.create({ model: "gpt", input: "And?", previous_response_id: first.id });
  assert.equal(second.output_text, "Again from OpenAI.");
  assert.equal(last("oai").body.previous_response_id, first.id, "OpenAI continues its own response");

  ctx.upstream.script("oai", [{ type: "stream", chunks: ["Streamed", " by OpenAI."] }]);
  const streamed = await sdk().responses.stream({ model: "gpt", input: "Stream." }).finalResponse();
  assert.equal(textOf(streamed), "Streamed by OpenAI.");
});

test("what only OpenAI runs is refused elsewhere with a clear 400; errors in OpenAI's shape", async () => {
  const search = await refusal(sdk().responses.create({ model: "llama", input: "news?", tools: [{ type: "web_search" }] }));
  assert.equal(search.status, 400);
  assert.match(search.message, /built-in tool `web_search`/);
  const unknown = await refusal(sdk().responses.create({ model: "llama", input: "and?", previous_response_id: `resp_${"0".repeat(48)}` }));
  assert.equal(unknown.status, 400);
  assert.equal(unknown.param, "previous_response_id");
  const malformed = await refusal(sdk().responses.create({ model: "llama", input: [{ type: "nonsense" }] }));
  assert.equal(malformed.status, 400);
  const missing = await refusal(sdk().responses.create({ model: "nope", input: "hi" }));
  assert.equal(missing.status, 404);
  ctx.upstream.script("v1", [{ type: "rate_limit", retryAfter: 2 }]);
  const limited = await refusal(sdk().responses.create({ model: "llama", input: "hi" }));
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get("retry-after"), "2");
});

test("an Anthropic deployment's failure falls back to a chat one within a Responses conversation", async () => {
  ctx.upstream.script("c1", [{ type: "overloaded" }]);
  ctx.upstream.script("v1", [{ type: "tool_call", name: "get_weather", arguments: { city: "Lyon" }, id: "call_lyon" }]);
  const response = await sdk().responses.create({
    model: "claude",
    input: [
      { role: "user", content: "Weather in Paris, then Lyon?" },
      { type: "function_call", call_id: "call_1", name: "get_weather", arguments: '{"city":"Paris"}' },
      { type: "function_call_output", call_id: "call_1", output: "Sunny" },
    ],
    tools: [WEATHER],
  });
  const call = response.output.find((item) => item.type === "function_call");
  assert.deepEqual(JSON.parse(call.arguments), { city: "Lyon" });
  assert.deepEqual(ctx.upstream.requests.slice(-2).map((r) => r.deployment), ["c1", "v1"]);
  const turns = last("v1").body.messages;
  assert.equal(turns[1].tool_calls[0].id, "call_1");
  assert.deepEqual(turns[2], { role: "tool", tool_call_id: "call_1", content: "Sunny" });
});

test("OpenAI's own answers count their usage for tpm, whole or streamed: 400 tokens fill in 10 of 40", async () => {
  // The minute's window must not turn over in the middle.
  const second = new Date().getSeconds();
  if (second >= 45) await new Promise((resolve) => setTimeout(resolve, (61 - second) * 1_000));
  ctx.upstream.script("oai", [], { type: "ok", content: "ok", totalTokens: 40 });
  for (let i = 0; i < 5; i++) assert.equal((await sdk().responses.create({ model: "metered", input: "?" })).usage.total_tokens, 40);
  for (let i = 0; i < 5; i++) await sdk().responses.stream({ model: "metered", input: "?" }).finalResponse();
  const over = await refusal(sdk().responses.create({ model: "metered", input: "?" }));
  assert.equal(over.status, 429);
  assert.equal(over.error.type, "rate_limit_error");
});
