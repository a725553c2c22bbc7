// Anthropic's Messages API served to Anthropic's own SDK (what Claude Code speaks),
// through the router, whatever the deployment: an Anthropic deployment gets the
// client's body as it came; an OpenAI one gets it as chat completions, its answer
// and stream turned back into Anthropic's.
import assert from "node:assert/strict";
import { test } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { useGateway } from "../support/gateway.mjs";
import { refusal } from "../support/refusal.mjs";
import { countTokens } from "../support/providers/anthropic.mjs";

const ANTHROPIC_KEY = "sk-ant-api03-0123456789abcdefghijklmnopqrstuv";
const CLIENT_KEY = "sk-team-0123456789";

const ctx = useGateway((upstream) => {
  const claude = (name) => upstream.provider(name, "anthropic", { apiKey: ANTHROPIC_KEY });
  return {
    config: [
      "model_list:",
      `  - { model_name: claude, litellm_params: { model: anthropic/claude-sonnet-4-5, api_base: "${claude("c1")}", api_key: ${ANTHROPIC_KEY} }, model_info: { id: c1 } }`,
      `  - { model_name: gpt, litellm_params: { model: openai/gpt-4o, api_base: "${upstream.base("g1")}", api_key: sk-openai-0123456789abcdef }, model_info: { id: g1 } }`,
      `  - { model_name: pair, litellm_params: { model: openai/gpt-4o, api_base: "${upstream.base("pa")}", api_key: sk-openai-0123456789abcdef }, model_info: { id: pa } }`,
      `  - { model_name: pair, litellm_params: { model: openai/gpt-4o, api_base: "${upstream.base("pb")}", api_key: sk-openai-0123456789abcdef }, model_info: { id: pb } }`,
      `  - { model_name: metered, litellm_params: { model: openai/gpt-4o, api_base: "${upstream.base("m1")}", api_key: sk-openai-0123456789abcdef, tpm: 400 }, model_info: { id: m1 } }`,
      `  - { model_name: serial, litellm_params: { model: openai/gpt-4o, api_base: "${upstream.base("s1")}", api_key: sk-openai-0123456789abcdef, max_parallel_requests: 1 }, model_info: { id: s1 } }`,
      "router_settings:",
      "  num_retries: 0",
      "  fallbacks: [{ claude: [gpt] }]",
      "general_settings:",
      `  master_key: ${CLIENT_KEY}`,
    ].join("\n"),
  };
});

// The SDK sends its key as x-api-key, as Claude Code does.
const sdk = (apiKey = CLIENT_KEY) => new Anthropic({ baseURL: ctx.gateway.url, apiKey, maxRetries: 0 });
const last = (deployment) => ctx.upstream.requests.filter((r) => r.deployment === deployment).at(-1);
const WEATHER = {
  name: "get_weather",
  description: "The weather in a city",
  input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
};

test("an OpenAI deployment answers an Anthropic client: the request as chat, the answer as a message", async () => {
  ctx.upstream.script("g1", [{ type: "ok", content: "Paris." }]);
  const { data: message, response } = await sdk()
    .messages.create({
      model: "gpt",
      max_tokens: 100,
      system: "Answer in one word.",
      messages: [{ role: "user", content: "Capital of France?" }],
      stop_sequences: ["END"],
      temperature: 0.2,
    })
    .withResponse();
  assert.equal(message.type, "message");
  assert.match(message.id, /^msg_/);
  assert.equal(message.role, "assistant");
  assert.equal(message.model, "gpt", "the model the client asked for");
  assert.deepEqual(message.content, [{ type: "text", text: "Paris." }]);
  assert.equal(message.stop_reason, "end_turn");
  assert.ok(message.usage.input_tokens > 0 && message.usage.output_tokens > 0);
  assert.equal(response.headers.get("x-litellm-model-id"), "g1");
  assert.equal(response.headers.get("x-litellm-model-group"), "gpt");
  const sent = last("g1").body;
  assert.equal(sent.model, "gpt-4o");
  assert.deepEqual(sent.messages, [
    { role: "system", content: "Answer in one word." },
    { role: "user", content: "Capital of France?" },
  ]);
  assert.deepEqual([sent.max_tokens, sent.stop, sent.temperature], [100, ["END"], 0.2]);
});

test("an OpenAI stream arrives as Anthropic's event sequence, put together by the SDK", async () => {
  ctx.upstream.script("g1", [{ type: "stream", chunks: ["The", " answer", " is", " 42."], delayMs: 5 }]);
  const stream = sdk().messages.stream({ model: "gpt", max_tokens: 100, messages: [{ role: "user", content: "?" }] });
  const kinds = [];
  stream.on("streamEvent", (event) => kinds.push(event.type));
  const message = await stream.finalMessage();
  assert.deepEqual(message.content, [{ type: "text", text: "The answer is 42." }]);
  assert.equal(message.stop_reason, "end_turn");
  assert.ok(message.usage.output_tokens > 0, "the usage the provider reported");
  assert.equal(kinds[0], "message_start");
  assert.equal(kinds.at(-1), "message_stop");
  assert.ok(kinds.includes("content_block_start") && kinds.includes("content_block_delta") && kinds.includes("message_delta"));
  assert.equal(last("g1").body.stream_options.include_usage, true, "asked for the usage Anthropic's stream reports");
});

test("tools over two turns with an OpenAI deployment: tool_use blocks, then the tool's result", async () => {
  ctx.upstream.script("g1", [
    { type: "tool_call", name: "get_weather", arguments: { city: "Paris" }, id: "call_abc" },
    { type: "ok", content: "Sunny in Paris." },
  ]);
  const messages = [{ role: "user", content: "Weather in Paris?" }];
  const first = await sdk().messages.create({ model: "gpt", max_tokens: 200, tools: [WEATHER], tool_choice: { type: "any" }, messages });
  assert.equal(first.stop_reason, "tool_use");
  const use = first.content.find((block) => block.type === "tool_use");
  assert.deepEqual([use.name, use.input], ["get_weather", { city: "Paris" }]);
  const sent = last("g1").body;
  assert.deepEqual(sent.tools, [{ type: "function", function: { name: "get_weather", description: "The weather in a city", parameters: WEATHER.input_schema } }]);
  assert.equal(sent.tool_choice, "required");

  const second = await sdk().messages.create({
    model: "gpt",
    max_tokens: 200,
    tools: [WEATHER],
    messages: [
      ...messages,
      { role: "assistant", content: first.content },
      { role: "user", content: [{ type: "tool_result", tool_use_id: use.id, content: "Sunny, 24 °C" }] },
    ],
  });
  assert.deepEqual(second.content, [{ type: "text", text: "Sunny in Paris." }]);
  const turns = last("g1").body.messages;
  assert.equal(turns[1].tool_calls[0].id, use.id);
  assert.deepEqual(JSON.parse(turns[1].tool_calls[0].function.arguments), { city: "Paris" });
  assert.deepEqual(turns[2], { role: "tool", tool_call_id: use.id, content: "Sunny, 24 °C" });
});

test("a streamed tool call from OpenAI arrives as input_json_delta fragments", async () => {
  ctx.upstream.script("g1", [{ type: "tool_call", name: "get_weather", arguments: { city: "Paris", unit: "celsius" } }]);
  const stream = sdk().messages.stream({ model: "gpt", max_tokens: 200, tools: [WEATHER], messages: [{ role: "user", content: "?" }] });
  const deltas = [];
  stream.on("streamEvent", (event) => {
    if (event.type === "content_block_delta" && event.delta.type === "input_json_delta") deltas.push(event.delta.partial_json);
  });
  const message = await stream.finalMessage();
  const use = message.content.find((block) => block.type === "tool_use");
  assert.deepEqual(use.input, { city: "Paris", unit: "celsius" });
  assert.equal(message.stop_reason, "tool_use");
  assert.ok(deltas.length > 1, "the input came in fragments");
});

test("an Anthropic deployment gets the client's body as it came, and its answer passes back", async () => {
  ctx.upstream.script("c1", [{ type: "ok", content: "Native." }]);
  const { data: message } = await sdk()
    .messages.create(
      { model: "claude", max_tokens: 50, messages: [{ role: "user", content: [{ type: "text", text: "hi", cache_control: { type: "ephemeral" } }] }], metadata: { user_id: "u-1" } },
      { headers: { "anthropic-beta": "prompt-caching-2024-07-31" } },
    )
    .withResponse();
  assert.deepEqual(message.content, [{ type: "text", text: "Native." }]);
  const sent = last("c1");
  assert.equal(sent.path, "/v1/messages");
  assert.equal(sent.headers["x-api-key"], ANTHROPIC_KEY, "the deployment's key, never the client's");
  assert.equal(sent.headers["anthropic-beta"], "prompt-caching-2024-07-31");
  assert.equal(sent.headers["anthropic-version"], "2023-06-01");
  assert.deepEqual(sent.body, {
    model: "claude-sonnet-4-5",
    max_tokens: 50,
    messages: [{ role: "user", content: [{ type: "text", text: "hi", cache_control: { type: "ephemeral" } }] }],
    metadata: { user_id: "u-1" },
  });

  ctx.upstream.script("c1", [{ type: "stream", chunks: ["Streamed", " natively."] }]);
  const streamed = await sdk().messages.stream({ model: "claude", max_tokens: 50, messages: [{ role: "user", content: "hi" }] }).finalMessage();
  assert.deepEqual(streamed.content, [{ type: "text", text: "Streamed natively." }]);
  assert.equal(last("c1").body.stream, true);
});

test("mid-conversation with tools, an overloaded Anthropic deployment falls back to an OpenAI one", async () => {
  ctx.upstream.script("c1", [{ type: "overloaded" }]);
  ctx.upstream.script("g1", [{ type: "tool_call", name: "get_weather", arguments: { city: "Lyon" }, id: "call_lyon" }]);
  const message = await sdk().messages.create({
    model: "claude",
    max_tokens: 200,
    tools: [WEATHER],
    messages: [
      { role: "user", content: "Weather in Paris, then Lyon?" },
      { role: "assistant", content: [{ type: "text", text: "Checking Paris." }, { type: "tool_use", id: "toolu_01", name: "get_weather", input: { city: "Paris" } }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_01", content: "Sunny" }] },
    ],
  });
  const use = message.content.find((block) => block.type === "tool_use");
  assert.deepEqual([use.name, use.input], ["get_weather", { city: "Lyon" }]);
  assert.deepEqual(ctx.upstream.requests.slice(-2).map((r) => r.deployment), ["c1", "g1"]);
  const turns = last("g1").body.messages;
  assert.equal(turns[1].tool_calls[0].id, "toolu_01");
  assert.deepEqual(turns[2], { role: "tool", tool_call_id: "toolu_01", content: "Sunny" });
});

test("errors come in Anthropic's shape, with Anthropic's statuses", async () => {
  const unknown = await refusal(sdk().messages.create({ model: "nope", max_tokens: 5, messages: [{ role: "user", content: "hi" }] }));
  assert.equal(unknown.status, 404);
  assert.equal(unknown.error.type, "error");
  assert.equal(unknown.error.error.type, "not_found_error");

  const malformed = await fetch(`${ctx.gateway.url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": CLIENT_KEY },
    body: JSON.stringify({ model: "gpt", messages: [{ role: "user", content: "hi" }] }),
  });
  assert.equal(malformed.status, 400);
  const body = await malformed.json();
  assert.equal(body.error.type, "invalid_request_error");
  assert.match(body.error.message, /max_tokens/, "the field is named");

  const wrongKey = await refusal(sdk("sk-wrong").messages.create({ model: "gpt", max_tokens: 5, messages: [{ role: "user", content: "hi" }] }));
  assert.equal(wrongKey.status, 401);
  assert.equal(wrongKey.error.error.type, "authentication_error");

  ctx.upstream.script("g1", [{ type: "rate_limit", retryAfter: 3 }]);
  const limited = await refusal(sdk().messages.create({ model: "gpt", max_tokens: 5, messages: [{ role: "user", content: "hi" }] }));
  assert.equal(limited.status, 429);
  assert.equal(limited.error.error.type, "rate_limit_error");
  assert.equal(limited.headers.get("retry-after"), "3");

  // Every deployment of the group cooling down: Anthropic's 529.
  ctx.upstream.script("pa", [{ type: "rate_limit", retryAfter: 0 }]);
  ctx.upstream.script("pb", [{ type: "rate_limit", retryAfter: 0 }]);
  const tried = () => new Set(ctx.upstream.requests.filter((r) => r.deployment === "pa" || r.deployment === "pb").map((r) => r.deployment));
  while (tried().size < 2) await refusal(sdk().messages.create({ model: "pair", max_tokens: 5, messages: [{ role: "user", content: "hi" }] }));
  const overloaded = await refusal(sdk().messages.create({ model: "pair", max_tokens: 5, messages: [{ role: "user", content: "hi" }] }));
  assert.equal(overloaded.status, 529);
  assert.equal(overloaded.error.error.type, "overloaded_error");
});

test("count_tokens: counted by the group's Anthropic deployment, estimated for others, saying which", async () => {
  const body = { model: "claude", messages: [{ role: "user", content: "How many tokens is this?" }], system: "Be brief." };
  const counted = await sdk().messages.countTokens(body).withResponse();
  assert.equal(counted.data.input_tokens, countTokens({ ...body, model: "claude-sonnet-4-5" }));
  assert.equal(counted.response.headers.get("x-switchyard-token-count"), "anthropic");
  assert.equal(last("c1").path, "/v1/messages/count_tokens");
  const estimated = await sdk().messages.countTokens({ ...body, model: "gpt" }).withResponse();
  assert.ok(estimated.data.input_tokens > 0);
  assert.equal(estimated.response.headers.get("x-switchyard-token-count"), "estimate");
});

test("x-litellm-priority orders an Anthropic client's waiting requests, as a body's priority would", async () => {
  ctx.upstream.script("s1", [], { type: "ok", delayMs: 300 });
  const ask = (tag, priority) =>
    sdk().messages.create({ model: "serial", max_tokens: 5, messages: [{ role: "user", content: tag }] }, { headers: { "x-litellm-priority": String(priority) } });
  const blocker = ask("blocker", 0);
  await new Promise((resolve) => setTimeout(resolve, 100));
  const waiting = [];
  for (const [tag, priority] of [["p5", 5], ["p0", 0], ["p2", 2]]) {
    waiting.push(ask(tag, priority));
    await new Promise((resolve) => setTimeout(resolve, 30));
  }
  await Promise.all([blocker, ...waiting]);
  const order = ctx.upstream.requests.filter((r) => r.deployment === "s1").map((r) => r.body.messages[0].content);
  assert.deepEqual(order, ["blocker", "p0", "p2", "p5"]);
  const bad = await refusal(sdk().messages.create({ model: "serial", max_tokens: 5, messages: [{ role: "user", content: "x" }] }, { headers: { "x-litellm-priority": "urgent" } }));
  assert.equal(bad.status, 400);
});

test("a translated answer's usage counts for tpm, whole or streamed: 400 tokens fill in 10 answers of 40", async () => {
  // The minute's window must not turn over in the middle.
  const second = new Date().getSeconds();
  if (second >= 45) await new Promise((resolve) => setTimeout(resolve, (61 - second) * 1_000));
  ctx.upstream.script("m1", [], { type: "ok", content: "ok", totalTokens: 40 });
  const ask = { model: "metered", max_tokens: 5, messages: [{ role: "user", content: "?" }] };
  for (let i = 0; i < 5; i++) assert.equal((await sdk().messages.create(ask)).usage.output_tokens > 0, true);
  for (let i = 0; i < 5; i++) await sdk().messages.stream(ask).finalMessage();
  const over = await refusal(sdk().messages.create(ask));
  assert.equal(over.status, 429);
  assert.equal(over.error.error.type, "rate_limit_error");
  assert.equal(ctx.upstream.requests.filter((r) => r.deployment === "m1").length, 10);
});
