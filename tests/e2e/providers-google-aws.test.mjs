// Gemini (Google AI Studio), Vertex AI (Gemini, and Anthropic's models) and Amazon
// Bedrock deployments behind the gateway, driven with the official OpenAI SDK,
// against mock upstreams as strict as the real services (tests/support/providers/):
// Google's body rules, a Google OAuth endpoint that checks each JWT's signature, and
// Bedrock's SigV4 checked on every request.
import assert from "node:assert/strict";
import { test } from "node:test";
import OpenAI from "openai";
import { useGateway } from "../support/gateway.mjs";
import { refusal } from "../support/refusal.mjs";

const GEMINI_KEY = "AIzaSy-gemini-key-0123456789abcdefgh";
const AWS = { accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" };
const BEDROCK_API_KEY = "bedrock-api-key-ABSKQmVkcm9ja0FQSUtleS0";
const CLIENT_KEY = "sk-team-0123456789";
const CLAUDE_ID = "anthropic.claude-3-5-haiku-20241022-v1:0";

const ctx = useGateway((upstream) => {
  // Two service accounts: the first is used first by the test of its token's exchange.
  const account = upstream.google.serviceAccount({ project: "router-proj" });
  const claudeAccount = upstream.google.serviceAccount({ project: "router-proj", name: "claude-router" });
  const gemini = upstream.provider("gem", "gemini", { apiKey: GEMINI_KEY });
  const gemini2 = upstream.provider("gem2", "gemini", { apiKey: GEMINI_KEY });
  const vertex = upstream.provider("vtx", "vertex", { project: "router-proj", location: "europe-west4" });
  const vertexClaude = upstream.provider("vtxc", "vertex", { project: "router-proj", location: "us-east5" });
  const bedrock = upstream.provider("br", "bedrock", { region: "us-east-1", ...AWS });
  const bedrockKey = upstream.provider("brk", "bedrock", { region: "eu-west-3", apiKey: BEDROCK_API_KEY });
  const aws = `aws_access_key_id: ${AWS.accessKeyId}, aws_secret_access_key: os.environ/AWS_SECRET, aws_region_name: us-east-1`;
  return {
    config: [
      "model_list:",
      `  - { model_name: gemini, litellm_params: { model: gemini/gemini-2.5-flash, api_base: "${gemini}/v1beta", api_key: os.environ/GEMINI_API_KEY }, model_info: { id: gem } }`,
      `  - { model_name: gemini-bad-key, litellm_params: { model: gemini/gemini-2.5-flash, api_base: "${gemini}/v1beta", api_key: AIzaSy-not-the-key-0123456789 }, model_info: { id: gem-bad } }`,
      `  - { model_name: gemini-embed, litellm_params: { model: gemini/text-embedding-004, api_base: "${gemini}/v1beta", api_key: os.environ/GEMINI_API_KEY }, model_info: { id: gem-embed } }`,
      `  - { model_name: gemini-backup, litellm_params: { model: gemini/gemini-2.5-pro, api_base: "${gemini2}/v1beta", api_key: os.environ/GEMINI_API_KEY }, model_info: { id: gem2 } }`,
      `  - { model_name: vertex, litellm_params: { model: vertex_ai/gemini-2.5-pro, api_base: "${vertex}", vertex_project: router-proj, vertex_location: europe-west4, vertex_credentials: os.environ/VERTEX_CREDENTIALS }, model_info: { id: vtx } }`,
      `  - { model_name: vertex-claude, litellm_params: { model: vertex_ai/claude-sonnet-4-5@20250929, api_base: "${vertexClaude}", vertex_location: us-east5, vertex_credentials: os.environ/VERTEX_CLAUDE_CREDENTIALS }, model_info: { id: vtxc } }`,
      `  - { model_name: bedrock, litellm_params: { model: bedrock/${CLAUDE_ID}, aws_bedrock_runtime_endpoint: "${bedrock}", ${aws} }, model_info: { id: br } }`,
      `  - { model_name: bedrock-keyed, litellm_params: { model: bedrock/converse/amazon.nova-lite-v1:0, aws_bedrock_runtime_endpoint: "${bedrockKey}", api_key: ${BEDROCK_API_KEY}, aws_region_name: eu-west-3 }, model_info: { id: brk } }`,
      `  - { model_name: bedrock-bad-secret, litellm_params: { model: bedrock/${CLAUDE_ID}, aws_bedrock_runtime_endpoint: "${bedrock}", aws_access_key_id: ${AWS.accessKeyId}, aws_secret_access_key: not-the-secret-0123456789, aws_region_name: us-east-1 }, model_info: { id: br-bad } }`,
      `  - { model_name: titan, litellm_params: { model: bedrock/amazon.titan-embed-text-v2:0, aws_bedrock_runtime_endpoint: "${bedrock}", ${aws} }, model_info: { id: titan } }`,
      `  - { model_name: cohere, litellm_params: { model: bedrock/cohere.embed-english-v3, aws_bedrock_runtime_endpoint: "${bedrock}", ${aws} }, model_info: { id: cohere } }`,
      "router_settings:",
      "  num_retries: 0",
      "  fallbacks: [{ gemini: [bedrock] }, { bedrock: [vertex] }, { vertex: [gemini-backup] }]",
      "  content_policy_fallbacks: [{ gemini: [vertex-claude] }, { bedrock: [gemini-backup] }]",
      "  context_window_fallbacks: [{ bedrock: [gemini-backup] }]",
      "general_settings:",
      `  master_key: ${CLIENT_KEY}`,
    ].join("\n"),
    bindings: { GEMINI_API_KEY: GEMINI_KEY, AWS_SECRET: AWS.secretAccessKey, VERTEX_CREDENTIALS: JSON.stringify(account), VERTEX_CLAUDE_CREDENTIALS: JSON.stringify(claudeAccount) },
  };
});

const sdk = () => new OpenAI({ baseURL: `${ctx.gateway.url}/v1`, apiKey: CLIENT_KEY, maxRetries: 0 });
const last = (deployment) => ctx.upstream.requests.filter((r) => r.deployment === deployment).at(-1);
const ask = (model, extra = {}) => sdk().chat.completions.create({ model, messages: [{ role: "user", content: "hi" }], ...extra });
const WEATHER = {
  type: "function",
  function: {
    name: "get_weather",
    description: "The weather in a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"], additionalProperties: false },
  },
};
const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

async function streamed(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

const text = (chunks) => chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("");

/** A conversation over two turns with a tool, the second turn checked by `check`. */
async function twoTurns(model, deployment, check) {
  ctx.upstream.script(deployment, [
    { type: "tool_call", name: "get_weather", arguments: { city: "Paris" } },
    { type: "ok", content: "It is sunny in Paris." },
  ]);
  const first = await sdk().chat.completions.create({
    model,
    messages: [{ role: "user", content: "Weather in Paris?" }],
    tools: [WEATHER],
    tool_choice: "required",
  });
  assert.equal(first.choices[0].finish_reason, "tool_calls");
  const call = first.choices[0].message.tool_calls[0];
  assert.equal(call.function.name, "get_weather");
  assert.deepEqual(JSON.parse(call.function.arguments), { city: "Paris" });
  assert.ok(call.id, "every tool call has an id the client answers with");
  const second = await sdk().chat.completions.create({
    model,
    messages: [
      { role: "user", content: "Weather in Paris?" },
      first.choices[0].message,
      { role: "tool", tool_call_id: call.id, content: "Sunny, 24 °C" },
    ],
    tools: [WEATHER],
  });
  assert.equal(second.choices[0].message.content, "It is sunny in Paris.");
  check(last(deployment).body);
}

/** A streamed tool call, put back together by the SDK. */
async function streamedTool(model, deployment) {
  ctx.upstream.script(deployment, [{ type: "tool_call", name: "get_weather", arguments: { city: "Paris", unit: "celsius" } }]);
  const completion = await sdk()
    .chat.completions.stream({ model, messages: [{ role: "user", content: "Weather?" }], tools: [WEATHER], stream: true })
    .finalChatCompletion();
  const call = completion.choices[0].message.tool_calls[0];
  assert.deepEqual(JSON.parse(call.function.arguments), { city: "Paris", unit: "celsius" });
  assert.equal(completion.choices[0].finish_reason, "tool_calls");
}

test("Gemini answers the OpenAI SDK: the request mapped to contents, the usage Google counted", async () => {
  ctx.upstream.script("gem", [{ type: "ok", content: "Paris." }]);
  const { data, response } = await sdk()
    .chat.completions.create({
      model: "gemini",
      messages: [
        { role: "system", content: "Answer in one word." },
        { role: "user", content: "Capital of France?" },
      ],
      temperature: 0.2,
      max_tokens: 50,
      stop: ["END"],
    })
    .withResponse();
  assert.equal(data.choices[0].message.content, "Paris.");
  assert.equal(data.choices[0].finish_reason, "stop");
  assert.ok(data.usage.prompt_tokens > 0 && data.usage.total_tokens === data.usage.prompt_tokens + data.usage.completion_tokens);
  assert.equal(response.headers.get("x-litellm-model-id"), "gem");
  const sent = last("gem");
  assert.equal(sent.path, "/v1beta/models/gemini-2.5-flash:generateContent");
  assert.equal(sent.headers["x-goog-api-key"], GEMINI_KEY);
  assert.equal(sent.headers.authorization, undefined, "never the client's key");
  assert.deepEqual(sent.body.systemInstruction, { parts: [{ text: "Answer in one word." }] });
  assert.deepEqual(sent.body.contents, [{ role: "user", parts: [{ text: "Capital of France?" }] }]);
  assert.equal(sent.body.generationConfig.maxOutputTokens, 50);
  assert.deepEqual(sent.body.generationConfig.stopSequences, ["END"]);
});

test("a Gemini stream arrives as OpenAI chunks, its usage last when asked for", async () => {
  ctx.upstream.script("gem", [{ type: "stream", chunks: ["The", " answer", " is", " 42."], delayMs: 5 }]);
  const chunks = await streamed(
    await ask("gemini", { stream: true, stream_options: { include_usage: true } }),
  );
  assert.equal(text(chunks), "The answer is 42.");
  assert.equal(chunks.filter((c) => c.choices[0]?.finish_reason).at(-1).choices[0].finish_reason, "stop");
  assert.deepEqual(chunks.at(-1).choices, []);
  assert.ok(chunks.at(-1).usage.total_tokens > 0);
  assert.equal(last("gem").path, "/v1beta/models/gemini-2.5-flash:streamGenerateContent");
  assert.equal(last("gem").query.alt, "sse");
});

test("Gemini: tools over two turns, a streamed tool call, and an image", async () => {
  await twoTurns("gemini", "gem", (body) => {
    const decl = body.tools[0].functionDeclarations[0];
    assert.equal(decl.name, "get_weather");
    assert.equal(decl.parameters.additionalProperties, undefined, "what Gemini refuses is left out of the schema");
    assert.equal(body.contents[1].role, "model");
    assert.deepEqual(body.contents[1].parts.at(-1).functionCall, { name: "get_weather", args: { city: "Paris" } });
    assert.equal(body.contents[2].parts[0].functionResponse.name, "get_weather");
  });
  await streamedTool("gemini", "gem");
  await sdk().chat.completions.create({
    model: "gemini",
    messages: [{ role: "user", content: [
      { type: "text", text: "What is this?" },
      { type: "image_url", image_url: { url: `data:image/png;base64,${PNG}` } },
    ] }],
  });
  assert.deepEqual(last("gem").body.contents[0].parts[1], { inlineData: { mimeType: "image/png", data: PNG } });
});

test("Gemini embeddings through batchEmbedContents", async () => {
  const answer = await sdk().embeddings.create({ model: "gemini-embed", input: ["one", "two"] });
  assert.equal(answer.data.length, 2);
  assert.equal(answer.data[1].index, 1);
  assert.equal(answer.data[0].embedding.length, 768);
  const sent = last("gem");
  assert.equal(sent.path, "/v1beta/models/text-embedding-004:batchEmbedContents");
  assert.deepEqual(sent.body.requests[1], { model: "models/text-embedding-004", content: { parts: [{ text: "two" }] } });
});

test("Gemini's errors: a bad key is a 401, quota a 429 with Google's retry delay, overload a 503, a blocked prompt falls back", async () => {
  ctx.upstream.script("gem", [{ type: "rate_limit", retryAfter: 9 }, { type: "overloaded" }]);
  const auth = await refusal(ask("gemini-bad-key"));
  assert.equal(auth.status, 401, "an invalid key is an authentication error, whatever status Google gives it");
  assert.match(auth.error.message, /API key not valid/);
  const limited = await refusal(ask("gemini", { fallbacks: [] }));
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get("retry-after"), "9", "RetryInfo's retryDelay");
  const overloaded = await refusal(ask("gemini", { fallbacks: [] }));
  assert.equal(overloaded.status, 503);
  assert.match(overloaded.error.message, /overloaded/);

  ctx.upstream.script("gem", [{ type: "content_policy" }]);
  ctx.upstream.script("vtxc", [{ type: "ok", content: "A careful answer." }]);
  const fellBack = await ask("gemini");
  assert.equal(fellBack.choices[0].message.content, "A careful answer.");
  assert.deepEqual(ctx.upstream.requests.slice(-2).map((r) => r.deployment), ["gem", "vtxc"]);
});

test("Vertex AI: one token per service account, bought with a JWT Google checks, reused while good", async () => {
  const before = ctx.upstream.google.issued;
  ctx.upstream.script("vtx", [{ type: "ok", content: "From Vertex." }]);
  const answers = await Promise.all(Array.from({ length: 4 }, () => ask("vertex")));
  assert.ok(answers.every((a) => a.choices[0].message.content.length > 0));
  assert.equal(ctx.upstream.google.issued - before, 1, "four requests at once, one exchange");
  const sent = last("vtx");
  assert.equal(sent.path, "/v1/projects/router-proj/locations/europe-west4/publishers/google/models/gemini-2.5-pro:generateContent");
  assert.match(sent.headers.authorization, /^Bearer /);
  assert.ok(ctx.upstream.google.verify(sent.headers.authorization.slice(7)), "a token Google issued");

  ctx.upstream.script("vtx", [{ type: "stream", chunks: ["Streamed", " from", " Vertex."] }]);
  const chunks = await streamed(await ask("vertex", { stream: true }));
  assert.equal(text(chunks), "Streamed from Vertex.");
  assert.equal(last("vtx").query.alt, "sse");
  assert.equal(ctx.upstream.google.issued - before, 1);
});

test("Anthropic's models on Vertex AI: Anthropic's body on rawPredict, streams included", async () => {
  ctx.upstream.script("vtxc", [{ type: "ok", content: "Claude on Vertex." }]);
  const answer = await ask("vertex-claude");
  assert.equal(answer.choices[0].message.content, "Claude on Vertex.");
  const sent = last("vtxc");
  assert.equal(sent.path, "/v1/projects/router-proj/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict");
  assert.equal(sent.body.anthropic_version, "vertex-2023-10-16");
  assert.equal(sent.body.model, undefined);
  ctx.upstream.script("vtxc", [{ type: "stream", chunks: ["Streamed", " Claude."] }]);
  assert.equal(text(await streamed(await ask("vertex-claude", { stream: true }))), "Streamed Claude.");
  assert.match(last("vtxc").path, /:streamRawPredict$/);
  await twoTurns("vertex-claude", "vtxc", (body) => assert.equal(body.messages[1].content[0].type, "tool_use"));
});

test("Bedrock answers through Converse, every request signed with SigV4", async () => {
  ctx.upstream.script("br", [{ type: "ok", content: "From Bedrock." }]);
  const { data, response } = await sdk()
    .chat.completions.create({
      model: "bedrock",
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "hi" },
      ],
      max_tokens: 100,
      temperature: 0.5,
    })
    .withResponse();
  assert.equal(data.choices[0].message.content, "From Bedrock.");
  assert.ok(data.usage.total_tokens > 0);
  assert.equal(response.headers.get("x-litellm-model-id"), "br");
  const sent = last("br");
  assert.equal(sent.path, `/model/${encodeURIComponent(CLAUDE_ID)}/converse`);
  assert.match(sent.headers.authorization, new RegExp(`^AWS4-HMAC-SHA256 Credential=${AWS.accessKeyId}/\\d{8}/us-east-1/bedrock/aws4_request`));
  assert.deepEqual(sent.body.system, [{ text: "Be brief." }]);
  assert.deepEqual(sent.body.inferenceConfig, { maxTokens: 100, temperature: 0.5 });

  ctx.upstream.script("brk", [{ type: "ok", content: "Keyed." }]);
  assert.equal((await ask("bedrock-keyed")).choices[0].message.content, "Keyed.");
  assert.equal(last("brk").headers.authorization, `Bearer ${BEDROCK_API_KEY}`);
  assert.equal(last("brk").path, "/model/amazon.nova-lite-v1%3A0/converse");
});

test("a Bedrock stream: event-stream frames decoded as they arrive, usage from its metadata", async () => {
  ctx.upstream.script("br", [{ type: "stream", chunks: ["The", " answer", " is", " 42."], delayMs: 5 }]);
  const chunks = await streamed(await ask("bedrock", { stream: true, stream_options: { include_usage: true } }));
  assert.equal(text(chunks), "The answer is 42.");
  assert.equal(chunks.filter((c) => c.choices[0]?.finish_reason).at(-1).choices[0].finish_reason, "stop");
  assert.ok(chunks.at(-1).usage.total_tokens > 0);
  assert.match(last("br").path, /\/converse-stream$/);
});

test("Bedrock: tools over two turns, a streamed tool call, and an image", async () => {
  await twoTurns("bedrock", "br", (body) => {
    assert.equal(body.toolConfig.tools[0].toolSpec.name, "get_weather");
    assert.equal(body.messages[1].content.at(-1).toolUse.name, "get_weather");
    assert.equal(body.messages[2].content[0].toolResult.content[0].text, "Sunny, 24 °C");
  });
  await streamedTool("bedrock", "br");
  await sdk().chat.completions.create({
    model: "bedrock",
    messages: [{ role: "user", content: [
      { type: "text", text: "What is this?" },
      { type: "image_url", image_url: { url: `data:image/png;base64,${PNG}` } },
    ] }],
  });
  assert.deepEqual(last("br").body.messages[0].content[1], { image: { format: "png", source: { bytes: PNG } } });
});

test("Bedrock embeddings: Titan one text per call, Cohere in one call", async () => {
  const titan = await sdk().embeddings.create({ model: "titan", input: ["one", "two", "three"] });
  assert.deepEqual(titan.data.map((d) => d.index), [0, 1, 2]);
  const calls = ctx.upstream.requests.filter((r) => r.deployment === "br" && r.path.endsWith("/invoke"));
  assert.deepEqual(calls.slice(-3).map((r) => r.body.inputText).sort(), ["one", "three", "two"]);
  assert.ok(titan.usage.prompt_tokens > 0);
  const cohere = await sdk().embeddings.create({ model: "cohere", input: ["a", "b"] });
  assert.equal(cohere.data.length, 2);
  assert.deepEqual(last("br").body, { texts: ["a", "b"], input_type: "search_document" });
});

test("Bedrock's errors: a signature AWS rejects is a 401, throttling a 429, a guardrail and a long prompt fall back", async () => {
  const signature = await refusal(ask("bedrock-bad-secret"));
  assert.equal(signature.status, 403, "AWS's status for it, never a 500");
  assert.equal(signature.error.type, "authentication_error");
  assert.match(signature.error.message, /signature we calculated does not match/);

  ctx.upstream.script("br", [{ type: "rate_limit" }, { type: "overloaded" }]);
  const limited = await refusal(ask("bedrock", { fallbacks: [] }));
  assert.equal(limited.status, 429);
  assert.match(limited.error.message, /Too many requests/);
  const overloaded = await refusal(ask("bedrock", { fallbacks: [] }));
  assert.equal(overloaded.status, 503);

  ctx.upstream.script("br", [{ type: "content_policy" }, { type: "context_window" }]);
  ctx.upstream.script("gem2", [{ type: "ok", content: "Safe." }, { type: "ok", content: "Long." }]);
  assert.equal((await ask("bedrock")).choices[0].message.content, "Safe.");
  assert.equal((await ask("bedrock")).choices[0].message.content, "Long.");
});

test("a Bedrock stream that fails before its answer falls back; after it, it is cut with an error event", async () => {
  ctx.upstream.script("br", [{ type: "stream", chunks: ["never"], errorAfter: 0, exception: "throttlingException" }]);
  ctx.upstream.script("vtx", [{ type: "stream", chunks: ["Vertex", " instead."] }]);
  const chunks = await streamed(await ask("bedrock", { stream: true }));
  assert.equal(text(chunks), "Vertex instead.");

  ctx.upstream.script("br", [{ type: "stream", chunks: ["Half", " an", " answer"], errorAfter: 2, delayMs: 5 }]);
  const response = await fetch(`${ctx.gateway.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${CLIENT_KEY}` },
    body: JSON.stringify({ model: "bedrock", messages: [{ role: "user", content: "hi" }], stream: true }),
  });
  const body = await response.text();
  assert.match(body, /"content":"Half"/);
  assert.match(body, /data: \{"error":/);
  assert.doesNotMatch(body, /\[DONE\]/);
});

test("a conversation with tool calls falls back across providers: Gemini to Bedrock, Vertex to Gemini", async () => {
  const conversation = [
    { role: "user", content: "Weather in Paris?" },
    { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }] },
    { role: "tool", tool_call_id: "call_1", content: "Sunny" },
  ];
  ctx.upstream.script("gem", [{ type: "overloaded" }]);
  ctx.upstream.script("br", [{ type: "tool_call", name: "get_weather", arguments: { city: "Lyon" } }]);
  const toBedrock = await sdk().chat.completions.create({ model: "gemini", messages: conversation, tools: [WEATHER] });
  assert.deepEqual(JSON.parse(toBedrock.choices[0].message.tool_calls[0].function.arguments), { city: "Lyon" });
  assert.equal(last("br").body.messages[1].content[0].toolUse.toolUseId, "call_1");

  ctx.upstream.script("vtx", [{ type: "error", status: 500, message: "Internal error encountered." }]);
  ctx.upstream.script("gem2", [{ type: "ok", content: "Sunny in Paris." }]);
  const toGemini = await sdk().chat.completions.create({ model: "vertex", messages: conversation, tools: [WEATHER] });
  assert.equal(toGemini.choices[0].message.content, "Sunny in Paris.");
  assert.equal(last("gem2").body.contents[1].parts[0].functionCall.name, "get_weather");
});
