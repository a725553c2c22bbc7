// Anthropic and Azure OpenAI deployments behind the gateway, driven with the official
// OpenAI SDK, against mock upstreams as strict as the real services: what the real API
// refuses, they refuse (tests/support/providers/).
import assert from "node:assert/strict";
import { test } from "node:test";
import OpenAI from "openai";
import { useGateway } from "../support/gateway.mjs";
import { refusal } from "../support/refusal.mjs";

const ANTHROPIC_KEY = "sk-ant-api03-0123456789abcdefghijklmnopqrstuv";
const AZURE_KEY = "azure-resource-key-0123456789abcdef";
const CLIENT_KEY = "sk-team-0123456789";
const APP = { tenant: "contoso-tenant", clientId: "switchyard-app", clientSecret: "app-secret-0123456789abcdef" };

const ctx = useGateway((upstream) => {
  const anthropic = (name) => upstream.provider(name, "anthropic", { apiKey: ANTHROPIC_KEY });
  const claude = (group, name, extra = "") =>
    `  - { model_name: ${group}, litellm_params: { model: anthropic/claude-sonnet-4-5, api_base: "${anthropic(name)}", api_key: ${ANTHROPIC_KEY}${extra} }, model_info: { id: ${name} } }`;
  const azure = upstream.provider("az", "azure", { apiKey: AZURE_KEY, deployments: ["gpt-4o"] });
  const azureApp = upstream.provider("azapp", "azure", { entra: APP, deployments: ["gpt-4o"] });
  const azureEu = upstream.provider("azeu", "azure", { apiKey: AZURE_KEY, deployments: ["gpt-4o"] });
  return {
    config: [
      "model_list:",
      claude("claude", "c1"),
      // Weight 0: cp2 is chosen only when cp1 is not available to a request.
      claude("claude-pair", "cp1", ", weight: 1"),
      claude("claude-pair", "cp2", ", weight: 0"),
      `  - { model_name: azure-gpt, litellm_params: { model: azure/gpt-4o, api_base: "${azure}", api_key: ${AZURE_KEY} }, model_info: { id: az1 } }`,
      `  - { model_name: azure-app, litellm_params: { model: azure/gpt-4o, api_base: "${azureApp}", tenant_id: ${APP.tenant}, client_id: ${APP.clientId}, client_secret: os.environ/AZURE_APP_SECRET }, model_info: { id: azapp1 } }`,
      claude("safe-claude", "safe"),
      claude("long-claude", "long"),
      `  - { model_name: regional, litellm_params: { model: azure/gpt-4o, api_base: "${azureEu}", api_key: ${AZURE_KEY}, region_name: swedencentral }, model_info: { id: eu1 } }`,
      claude("regional", "us1", ", region_name: us-east-1"),
      "router_settings:",
      "  num_retries: 0",
      "  content_policy_fallbacks: [{ azure-gpt: [safe-claude] }]",
      "  context_window_fallbacks: [{ azure-gpt: [long-claude] }]",
      "  fallbacks: [{ claude: [azure-gpt] }]",
      "general_settings:",
      `  master_key: ${CLIENT_KEY}`,
    ].join("\n"),
    bindings: { AZURE_APP_SECRET: APP.clientSecret, AZURE_AUTHORITY_HOST: upstream.entra.url },
  };
});

const sdk = () => new OpenAI({ baseURL: `${ctx.gateway.url}/v1`, apiKey: CLIENT_KEY, maxRetries: 0 });
const last = (deployment) => ctx.upstream.requests.filter((r) => r.deployment === deployment).at(-1);
const WEATHER = {
  type: "function",
  function: {
    name: "get_weather",
    description: "The weather in a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
};

async function streamed(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

test("an Anthropic deployment answers the OpenAI SDK, with the usage Anthropic counted", async () => {
  ctx.upstream.script("c1", [{ type: "ok", content: "Paris.", usage: { input_tokens: 21, output_tokens: 5, cache_read_input_tokens: 4 } }]);
  const { data, response } = await sdk()
    .chat.completions.create({
      model: "claude",
      messages: [
        { role: "system", content: "Answer in one word." },
        { role: "user", content: "Capital of France?" },
      ],
      temperature: 0.2,
      stop: ["END"],
      user: "team-a",
    })
    .withResponse();
  assert.equal(data.object, "chat.completion");
  assert.equal(data.choices[0].message.content, "Paris.");
  assert.equal(data.choices[0].finish_reason, "stop");
  assert.deepEqual(
    { prompt: data.usage.prompt_tokens, completion: data.usage.completion_tokens, total: data.usage.total_tokens },
    { prompt: 25, completion: 5, total: 30 },
    "prompt tokens are Anthropic's input plus its cache reads",
  );
  assert.equal(data.usage.prompt_tokens_details.cached_tokens, 4);
  assert.equal(response.headers.get("x-litellm-model-id"), "c1");

  const sent = last("c1");
  assert.equal(sent.path, "/v1/messages");
  assert.equal(sent.headers["x-api-key"], ANTHROPIC_KEY, "the deployment's key");
  assert.equal(sent.headers.authorization, undefined, "never the client's");
  assert.equal(sent.headers["anthropic-version"], "2023-06-01");
  assert.equal(sent.body.model, "claude-sonnet-4-5");
  assert.equal(sent.body.max_tokens, 4096, "LiteLLM's default when the client sends none");
  assert.deepEqual(sent.body.system, [{ type: "text", text: "Answer in one word." }]);
  assert.deepEqual(sent.body.messages, [{ role: "user", content: [{ type: "text", text: "Capital of France?" }] }]);
  assert.deepEqual([sent.body.temperature, sent.body.stop_sequences, sent.body.metadata], [0.2, ["END"], { user_id: "team-a" }]);
});

test("an Anthropic stream arrives as OpenAI chunks, its usage last when asked for", async () => {
  ctx.upstream.script("c1", [{ type: "stream", chunks: ["The", " answer", " is", " 42."], delayMs: 10 }]);
  const chunks = await streamed(
    await sdk().chat.completions.create({
      model: "claude",
      messages: [{ role: "user", content: "What is the answer?" }],
      stream: true,
      stream_options: { include_usage: true },
    }),
  );
  assert.equal(chunks[0].choices[0].delta.role, "assistant");
  const text = chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("");
  assert.equal(text, "The answer is 42.");
  assert.equal(chunks.filter((c) => c.choices[0]?.finish_reason).at(-1).choices[0].finish_reason, "stop");
  const usage = chunks.at(-1);
  assert.deepEqual(usage.choices, []);
  assert.equal(usage.usage.total_tokens, usage.usage.prompt_tokens + usage.usage.completion_tokens);
  assert.equal(last("c1").body.stream, true);
});

test("tools and tool results go to Anthropic and come back as OpenAI tool calls, over two turns", async () => {
  ctx.upstream.script("c1", [
    { type: "tool_call", name: "get_weather", arguments: { city: "Paris" }, id: "toolu_01A" },
    { type: "ok", content: "It is sunny in Paris." },
  ]);
  const first = await sdk().chat.completions.create({
    model: "claude",
    messages: [{ role: "user", content: "Weather in Paris?" }],
    tools: [WEATHER],
    tool_choice: "required",
  });
  const call = first.choices[0].message.tool_calls[0];
  assert.equal(first.choices[0].finish_reason, "tool_calls");
  assert.deepEqual([call.id, call.type, call.function.name], ["toolu_01A", "function", "get_weather"]);
  assert.deepEqual(JSON.parse(call.function.arguments), { city: "Paris" });
  const sent = last("c1").body;
  assert.deepEqual(sent.tools, [{ name: "get_weather", description: "The weather in a city", input_schema: WEATHER.function.parameters }]);
  assert.deepEqual(sent.tool_choice, { type: "any" });

  const second = await sdk().chat.completions.create({
    model: "claude",
    messages: [
      { role: "user", content: "Weather in Paris?" },
      first.choices[0].message,
      { role: "tool", tool_call_id: call.id, content: "Sunny, 24 °C" },
    ],
    tools: [WEATHER],
  });
  assert.equal(second.choices[0].message.content, "It is sunny in Paris.");
  const turns = last("c1").body.messages;
  assert.deepEqual(turns[1], { role: "assistant", content: [{ type: "tool_use", id: "toolu_01A", name: "get_weather", input: { city: "Paris" } }] });
  assert.deepEqual(turns[2], { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_01A", content: "Sunny, 24 °C" }] });
});

test("a streamed tool call arrives in fragments the OpenAI SDK puts back together", async () => {
  ctx.upstream.script("c1", [{ type: "tool_call", name: "get_weather", arguments: { city: "Paris", unit: "celsius" }, id: "toolu_02B" }]);
  const stream = sdk().chat.completions.stream({
    model: "claude",
    messages: [{ role: "user", content: "Weather in Paris?" }],
    tools: [WEATHER],
    stream: true,
  });
  const deltas = [];
  stream.on("chunk", (chunk) => deltas.push(...(chunk.choices[0]?.delta?.tool_calls ?? [])));
  const completion = await stream.finalChatCompletion();
  const call = completion.choices[0].message.tool_calls[0];
  assert.deepEqual(JSON.parse(call.function.arguments), { city: "Paris", unit: "celsius" });
  assert.equal(call.id, "toolu_02B");
  assert.equal(completion.choices[0].finish_reason, "tool_calls");
  assert.ok(deltas.filter((d) => d.function?.arguments).length > 1, "the arguments came in several fragments");
  assert.equal(deltas[0].function.name, "get_weather");
});

test("an image given as a data URL reaches Anthropic as an image block", async () => {
  const png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";
  const answer = await sdk().chat.completions.create({
    model: "claude",
    messages: [{ role: "user", content: [
      { type: "text", text: "What is in this picture?" },
      { type: "image_url", image_url: { url: `data:image/png;base64,${png}` } },
    ] }],
  });
  assert.equal(answer.choices[0].message.content, "ok from c1");
  assert.deepEqual(last("c1").body.messages[0].content[1], { type: "image", source: { type: "base64", media_type: "image/png", data: png } });
});

test("each Anthropic error class reaches the client in OpenAI's shape with the right status", async () => {
  const claude = (extra = {}) => sdk().chat.completions.create({ model: "claude", messages: [{ role: "user", content: "hi" }], fallbacks: [], ...extra });
  ctx.upstream.script("c1", [
    { type: "error", status: 401, message: "invalid x-api-key" },
    { type: "rate_limit", retryAfter: 7 },
    { type: "overloaded" },
    { type: "context_window" },
  ]);
  const auth = await refusal(claude());
  assert.equal(auth.status, 401);
  assert.equal(auth.error.message, "invalid x-api-key");
  assert.equal(auth.error.code, "authentication_error");
  const limited = await refusal(claude());
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get("retry-after"), "7");
  const overloaded = await refusal(claude());
  assert.equal(overloaded.status, 503, "Anthropic's 529 is answered with OpenAI's status");
  assert.equal(overloaded.error.code, "overloaded_error");
  const long = await refusal(claude());
  assert.equal(long.status, 400);
  assert.match(long.error.message, /prompt is too long/, "the provider's words are kept");
});

test("an Anthropic stream that fails before its answer goes to the next deployment; after it, it is cut", async () => {
  ctx.upstream.script("cp1", [
    { type: "stream", chunks: ["never"], errorAfter: 0 },
    { type: "stream", chunks: ["Half", " an", " answer"], errorAfter: 2, delayMs: 10 },
  ]);
  const chunks = await streamed(
    await sdk().chat.completions.create({ model: "claude-pair", messages: [{ role: "user", content: "hi" }], stream: true, num_retries: 1 }),
  );
  assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? "").join(""), "ok from cp2");
  assert.deepEqual(ctx.upstream.requests.map((r) => r.deployment), ["cp1", "cp2"]);

  ctx.upstream.reset();
  ctx.upstream.script("cp1", [{ type: "stream", chunks: ["Half", " an", " answer"], errorAfter: 2, delayMs: 10 }]);
  const response = await fetch(`${ctx.gateway.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${CLIENT_KEY}` },
    body: JSON.stringify({ model: "claude-pair", messages: [{ role: "user", content: "hi" }], stream: true }),
  });
  const text = await response.text();
  assert.match(text, /"content":"Half"/);
  assert.match(text, /data: \{"error":\{"message":"Overloaded"/);
  assert.doesNotMatch(text, /\[DONE\]/);
});

test("an Azure deployment gets OpenAI's body at its own URL, with its key and api-version", async () => {
  ctx.upstream.script("az", [{ type: "ok", content: "From Azure." }]);
  const { data, response } = await sdk()
    .chat.completions.create({ model: "azure-gpt", messages: [{ role: "user", content: "hi" }] })
    .withResponse();
  assert.equal(data.choices[0].message.content, "From Azure.");
  assert.ok(data.prompt_filter_results, "Azure's extras pass through");
  assert.equal(response.headers.get("x-litellm-model-id"), "az1");
  const sent = last("az");
  assert.equal(sent.path, "/openai/deployments/gpt-4o/chat/completions");
  assert.equal(sent.query["api-version"], "2025-02-01-preview", "LiteLLM's default api-version");
  assert.equal(sent.headers["api-key"], AZURE_KEY);
  assert.equal(sent.headers.authorization, undefined);

  ctx.upstream.script("az", [{ type: "stream", chunks: ["Streamed", " from Azure."] }]);
  const chunks = await streamed(
    await sdk().chat.completions.create({ model: "azure-gpt", messages: [{ role: "user", content: "hi" }], stream: true }),
  );
  assert.deepEqual(chunks[0].choices, [], "Azure's first chunk, its prompt filter results, passes too");
  assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? "").join(""), "Streamed from Azure.");
});

test("Entra ID client credentials are exchanged once for a token, reused while it is good", async () => {
  for (let i = 0; i < 3; i++) {
    const answer = await sdk().chat.completions.create({ model: "azure-app", messages: [{ role: "user", content: `hi ${i}` }] });
    assert.equal(answer.choices[0].message.content, "ok from azapp");
  }
  assert.equal(ctx.upstream.entra.issued, 1, "one token for three requests");
  const [exchange] = ctx.upstream.entra.requests;
  assert.deepEqual(
    [exchange.tenant, exchange.form.grant_type, exchange.form.client_id, exchange.form.scope],
    [APP.tenant, "client_credentials", APP.clientId, "https://cognitiveservices.azure.com/.default"],
  );
  assert.match(last("azapp").headers.authorization, /^Bearer /);
});

test("Azure's errors: a content filter falls back to Anthropic, context length to a longer model, 429 and 503 kept", async () => {
  ctx.upstream.script("az", [{ type: "content_policy" }]);
  ctx.upstream.script("safe", [{ type: "ok", content: "A safe answer." }]);
  const fellBack = await sdk().chat.completions.create({ model: "azure-gpt", messages: [{ role: "user", content: "hi" }] });
  assert.equal(fellBack.choices[0].message.content, "A safe answer.");
  ctx.upstream.script("az", [{ type: "context_window" }]);
  ctx.upstream.script("long", [{ type: "ok", content: "Read it all." }]);
  const longer = await sdk().chat.completions.create({ model: "azure-gpt", messages: [{ role: "user", content: "hi" }] });
  assert.equal(longer.choices[0].message.content, "Read it all.");
  assert.deepEqual(ctx.upstream.requests.map((r) => r.deployment), ["az", "safe", "az", "long"]);

  ctx.upstream.script("az", [{ type: "rate_limit", retryAfterMs: 2500 }, { type: "overloaded" }]);
  const limited = await refusal(sdk().chat.completions.create({ model: "azure-gpt", messages: [{ role: "user", content: "hi" }] }));
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get("retry-after"), "3", "retry-after-ms, rounded up to seconds");
  const overloaded = await refusal(sdk().chat.completions.create({ model: "azure-gpt", messages: [{ role: "user", content: "hi" }] }));
  assert.equal(overloaded.status, 503);

  ctx.upstream.script("az", [{ type: "content_filter", content: "I cannot" }]);
  const filtered = await sdk().chat.completions.create({ model: "azure-gpt", messages: [{ role: "user", content: "hi" }] });
  assert.equal(filtered.choices[0].finish_reason, "content_filter", "a filtered answer is an answer, as LiteLLM passes it");
});

test("a conversation with tool calls falls back from Azure to Anthropic, and from Anthropic to Azure, translated", async () => {
  const conversation = [
    { role: "user", content: "Weather in Paris?" },
    { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }] },
    { role: "tool", tool_call_id: "call_1", content: "Sunny" },
  ];
  ctx.upstream.script("az", [{ type: "content_policy" }]);
  ctx.upstream.script("safe", [{ type: "tool_call", name: "get_weather", arguments: { city: "Lyon" }, id: "toolu_03" }]);
  const toClaude = await sdk().chat.completions.create({ model: "azure-gpt", messages: conversation, tools: [WEATHER] });
  assert.deepEqual(JSON.parse(toClaude.choices[0].message.tool_calls[0].function.arguments), { city: "Lyon" });
  const translated = last("safe").body.messages;
  assert.equal(translated[1].content[0].type, "tool_use");
  assert.equal(translated[2].content[0].type, "tool_result");

  ctx.upstream.script("c1", [{ type: "overloaded" }]);
  ctx.upstream.script("az", [{ type: "tool_call", name: "get_weather", arguments: { city: "Nice" }, id: "call_2" }]);
  const toAzure = await sdk().chat.completions.create({ model: "claude", messages: conversation, tools: [WEATHER] });
  assert.deepEqual(JSON.parse(toAzure.choices[0].message.tool_calls[0].function.arguments), { city: "Nice" });
  assert.deepEqual(last("az").body.messages, conversation, "Azure gets the conversation as the client wrote it");
});

test("a request that allows only the EU is served by EU deployments only, and refused where there are none", async () => {
  for (let i = 0; i < 8; i++) {
    const { response } = await sdk()
      .chat.completions.create({ model: "regional", messages: [{ role: "user", content: "hi" }], allowed_model_region: "eu" })
      .withResponse();
    assert.equal(response.headers.get("x-litellm-model-id"), "eu1");
  }
  const { response } = await sdk()
    .chat.completions.create({ model: "regional", messages: [{ role: "user", content: "hi" }], allowed_model_region: "us" })
    .withResponse();
  assert.equal(response.headers.get("x-litellm-model-id"), "us1");
  assert.equal(ctx.upstream.requests.filter((r) => r.deployment === "azeu").length, 8);
  assert.equal(last("us1").body.allowed_model_region, undefined, "the gateway's field stays behind");

  const nowhere = await refusal(
    sdk().chat.completions.create({ model: "claude", messages: [{ role: "user", content: "hi" }], allowed_model_region: "eu", fallbacks: [] }),
  );
  assert.equal(nowhere.status, 400);
  assert.equal(nowhere.error.code, "no_deployment_in_region");
  const bad = await refusal(
    sdk().chat.completions.create({ model: "regional", messages: [{ role: "user", content: "hi" }], allowed_model_region: "apac" }),
  );
  assert.equal(bad.status, 400);
  assert.equal(bad.error.param, "allowed_model_region");
});
