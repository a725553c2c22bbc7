// The Azure OpenAI mock answers each behaviour as Azure does: OpenAI's shapes with
// Azure's filter annotations, streams opening with the prompt's filter results, Azure's
// errors; and the OpenAI SDK's AzureOpenAI client (and its plain client on the v1 API)
// parses all of them, authenticated by key or by an Entra ID token from the Entra mock.
import assert from "node:assert/strict";
import { test } from "node:test";
import OpenAI, { AzureOpenAI } from "openai";
import { parseSse, post, useUpstream } from "./helpers.mjs";

const KEY = "azure-key-1";
const APP = { tenant: "contoso-tenant", clientId: "gateway-app", clientSecret: "s3cret" };
const ctx = useUpstream((upstream) => {
  upstream.provider("az", "azure", { apiKey: KEY, entra: APP, deployments: { "gpt-4o": "gpt-4o-2024-11-20", "text-embedding-3-small": "text-embedding-3-small" } });
});
const VERSION = "2024-10-21";
const url = (operation = "chat/completions", deployment = "gpt-4o") => `${ctx.upstream.base("az")}/openai/deployments/${deployment}/${operation}?api-version=${VERSION}`;
const chat = (extra = {}) => ({ messages: [{ role: "user", content: "What's the weather in Paris?" }], ...extra });
const send = (body = chat(), operation, deployment) => post(url(operation, deployment), body, { "api-key": KEY });
const script = (...behaviours) => ctx.upstream.script("az", behaviours);
const azure = (options = { apiKey: KEY }) => new AzureOpenAI({ endpoint: ctx.upstream.base("az"), apiVersion: VERSION, maxRetries: 0, ...options });
const SAFE = { filtered: false, severity: "safe" };

/** A client-credentials token provider, as @azure/identity's ClientSecretCredential is one. */
const entraTokenProvider = (scope = "https://cognitiveservices.azure.com/.default") => async () => {
  const response = await fetch(`${ctx.upstream.entra.url}/${APP.tenant}/oauth2/v2.0/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "client_credentials", client_id: APP.clientId, client_secret: APP.clientSecret, scope }),
  });
  return (await response.json()).access_token;
};

test("a chat answer carries the deployment's model, prompt_filter_results and content_filter_results", async () => {
  script({ type: "ok", content: "Sunny.", totalTokens: 20 });
  const response = await send();
  assert.equal(response.status, 200);
  assert.match(response.headers.get("apim-request-id"), /^[0-9a-f-]{36}$/);
  assert.equal(response.headers.get("x-request-id"), response.headers.get("apim-request-id"));
  const body = await response.json();
  assert.match(body.id, /^chatcmpl-/);
  assert.equal(body.object, "chat.completion");
  assert.equal(body.model, "gpt-4o-2024-11-20");
  assert.deepEqual(body.prompt_filter_results, [{ prompt_index: 0, content_filter_results: { hate: SAFE, jailbreak: { filtered: false, detected: false }, self_harm: SAFE, sexual: SAFE, violence: SAFE } }]);
  const [choice] = body.choices;
  assert.equal(choice.finish_reason, "stop");
  assert.equal(choice.message.content, "Sunny.");
  assert.equal(choice.content_filter_results.violence.severity, "safe");
  assert.deepEqual(choice.content_filter_results.protected_material_text, { filtered: false, detected: false });
  assert.equal(body.usage.total_tokens, 20);
});

test("a stream opens with a chunk of empty choices and the prompt's filter results, and ends with usage and [DONE]", async () => {
  script({ type: "ok", content: "Sunny in Paris." });
  const events = parseSse(await (await send(chat({ stream: true, stream_options: { include_usage: true } }))).text());
  const [first, role, ...rest] = events.map((e) => e.data);
  assert.deepEqual(first.choices, []);
  assert.equal(first.id, "");
  assert.equal(first.prompt_filter_results[0].prompt_index, 0);
  assert.equal(role.choices[0].delta.role, "assistant");
  assert.deepEqual(role.choices[0].content_filter_results, {});
  const content = rest.filter((c) => c.choices?.[0]?.delta?.content);
  assert.equal(content.map((c) => c.choices[0].delta.content).join(""), "Sunny in Paris.");
  for (const c of content) assert.equal(c.choices[0].content_filter_results.hate.severity, "safe");
  assert.equal(rest.at(-3).choices[0].finish_reason, "stop");
  assert.deepEqual(rest.at(-2).choices, []);
  assert.equal(rest.at(-2).usage.total_tokens, 8);
  assert.equal(rest.at(-1), "[DONE]");
});

test("tool_call answers tool_calls, streamed as a name then argument fragments", async () => {
  script({ type: "tool_call", name: "get_weather", arguments: { city: "Paris" }, id: "call_abc" }, { type: "tool_call", name: "get_weather", arguments: { city: "Paris" } });
  const body = await (await send()).json();
  assert.equal(body.choices[0].finish_reason, "tool_calls");
  assert.deepEqual(body.choices[0].message.tool_calls, [{ id: "call_abc", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }]);
  const chunks = parseSse(await (await send(chat({ stream: true }))).text()).map((e) => e.data).filter((c) => c.choices?.length);
  const calls = chunks.flatMap((c) => c.choices[0].delta.tool_calls ?? []);
  assert.equal(calls[0].function.name, "get_weather");
  assert.deepEqual(JSON.parse(calls.map((c) => c.function.arguments).join("")), { city: "Paris" });
  assert.equal(chunks.at(-1).choices[0].finish_reason, "tool_calls");
});

test("content_filter is a 200 whose finish_reason is content_filter, the category filtered", async () => {
  script({ type: "content_filter", category: "hate", severity: "high" }, { type: "content_filter" });
  const body = await (await send()).json();
  assert.equal(body.choices[0].finish_reason, "content_filter");
  assert.deepEqual(body.choices[0].content_filter_results.hate, { filtered: true, severity: "high" });
  assert.equal(body.choices[0].message.content, null);
  const chunks = parseSse(await (await send(chat({ stream: true }))).text()).map((e) => e.data).filter((c) => c.choices?.length);
  assert.equal(chunks.at(-1).choices[0].finish_reason, "content_filter");
  assert.deepEqual(chunks.at(-1).choices[0].content_filter_results.violence, { filtered: true, severity: "medium" });
});

test("content_policy is the 400 content_filter error with its ResponsibleAIPolicyViolation innererror", async () => {
  script({ type: "content_policy", category: "jailbreak" });
  const response = await send();
  assert.equal(response.status, 400);
  const { error } = await response.json();
  assert.equal(error.code, "content_filter");
  assert.equal(error.param, "prompt");
  assert.equal(error.status, 400);
  assert.match(error.message, /^The response was filtered due to the prompt triggering Azure OpenAI's content management policy/);
  assert.equal(error.innererror.code, "ResponsibleAIPolicyViolation");
  assert.deepEqual(error.innererror.content_filter_result.jailbreak, { filtered: true, detected: true });
  assert.deepEqual(error.innererror.content_filter_result.violence, SAFE);
});

test("errors: 429 with retry-after and retry-after-ms, 503 overloaded, context_length_exceeded, scripted ones", async () => {
  script(
    { type: "rate_limit", retryAfter: 6 },
    { type: "rate_limit", retryAfterMs: 1500 },
    { type: "overloaded" },
    { type: "context_window" },
    { type: "error", status: 500, message: "internal" },
    { type: "error", status: 500, message: "internal", errorType: "server_error" },
  );
  let response = await send();
  assert.equal(response.status, 429);
  assert.equal(response.headers.get("retry-after"), "6");
  assert.equal(response.headers.get("retry-after-ms"), "6000");
  let { error } = await response.json();
  assert.equal(error.code, "429");
  assert.match(error.message, /^Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded token rate limit .* Please retry after 6 seconds\./);
  response = await send();
  assert.deepEqual([response.headers.get("retry-after"), response.headers.get("retry-after-ms")], ["2", "1500"]);
  await response.body.cancel();
  response = await send();
  assert.equal(response.status, 503);
  ({ error } = await response.json());
  assert.equal(error.type, "server_error");
  assert.match(error.message, /^That model is currently overloaded/);
  response = await send();
  ({ error } = await response.json());
  assert.deepEqual([response.status, error.code, error.param], [400, "context_length_exceeded", "messages"]);
  response = await send();
  assert.deepEqual(await response.json(), { error: { code: "500", message: "internal" } });
  response = await send();
  assert.deepEqual(await response.json(), { error: { message: "internal", type: "server_error", param: null, code: null } });
});

test("completions and embeddings answer in their shapes", async () => {
  const completion = await (await send({ prompt: "Say hi" }, "completions")).json();
  assert.equal(completion.object, "text_completion");
  assert.equal(completion.choices[0].finish_reason, "stop");
  assert.ok(completion.choices[0].content_filter_results);
  assert.ok(completion.prompt_filter_results);
  const embeddings = await (await send({ input: ["a", "b"] }, "embeddings", "text-embedding-3-small")).json();
  assert.equal(embeddings.object, "list");
  assert.deepEqual(embeddings.data.map((d) => d.index), [0, 1]);
  assert.equal(embeddings.model, "text-embedding-3-small");
});

test("the SDK's AzureOpenAI client, with a key, parses answers and streams", async () => {
  script({ type: "ok", content: "Sunny." }, { type: "stream", chunks: ["Sun", "ny."] });
  const client = azure();
  const completion = await client.chat.completions.create({ model: "gpt-4o", messages: chat().messages });
  assert.equal(completion.choices[0].message.content, "Sunny.");
  assert.equal(completion.prompt_filter_results[0].prompt_index, 0);
  const stream = await client.chat.completions.create({ model: "gpt-4o", messages: chat().messages, stream: true });
  let text = "";
  let filterChunks = 0;
  for await (const chunk of stream) {
    if (chunk.choices.length === 0) filterChunks += 1;
    text += chunk.choices[0]?.delta?.content ?? "";
  }
  assert.equal(text, "Sunny.");
  assert.equal(filterChunks, 1);
  const seen = ctx.upstream.requests.at(-1);
  assert.equal(seen.path, "/openai/deployments/gpt-4o/chat/completions");
  assert.deepEqual(seen.query, { "api-version": VERSION });
});

test("the SDK's AzureOpenAI client raises its error classes from Azure's errors", async () => {
  const client = azure();
  const create = () => client.chat.completions.create({ model: "gpt-4o", messages: chat().messages });
  script({ type: "content_policy" }, { type: "rate_limit", retryAfter: 2 }, { type: "overloaded" });
  await assert.rejects(create(), (error) => error instanceof OpenAI.BadRequestError && error.code === "content_filter" && error.error.innererror.code === "ResponsibleAIPolicyViolation");
  await assert.rejects(create(), (error) => error instanceof OpenAI.RateLimitError && error.headers.get("retry-after-ms") === "2000" && error.code === "429");
  await assert.rejects(create(), (error) => error instanceof OpenAI.InternalServerError && error.status === 503);
  await assert.rejects(azure({ apiKey: "wrong" }).chat.completions.create({ model: "gpt-4o", messages: chat().messages }), OpenAI.AuthenticationError);
  await assert.rejects(client.chat.completions.create({ model: "gpt-35-turbo", messages: chat().messages }), (error) => error instanceof OpenAI.NotFoundError && error.code === "DeploymentNotFound");
  await assert.rejects(client.chat.completions.create({ model: "gpt-4o", messages: [] }), (error) => error instanceof OpenAI.BadRequestError && error.code === "empty_array");
});

test("the SDK's AzureOpenAI client authenticates with Entra ID tokens from the Entra mock", async () => {
  const client = azure({ azureADTokenProvider: entraTokenProvider() });
  const completion = await client.chat.completions.create({ model: "gpt-4o", messages: chat().messages });
  assert.equal(completion.choices[0].finish_reason, "stop");
  assert.equal(ctx.upstream.entra.issued, 1);
  assert.match(ctx.upstream.requests.at(-1).headers.authorization, /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
});

test("the SDK's plain client speaks Azure's v1 API, with a key or an ai.azure.com token", async () => {
  for (const apiKey of [KEY, entraTokenProvider("https://ai.azure.com/.default")]) {
    const client = new OpenAI({ baseURL: `${ctx.upstream.base("az")}/openai/v1/`, apiKey, maxRetries: 0 });
    const completion = await client.chat.completions.create({ model: "gpt-4o", messages: chat().messages });
    assert.equal(completion.model, "gpt-4o-2024-11-20");
    assert.equal(ctx.upstream.requests.at(-1).path, "/openai/v1/chat/completions");
  }
});
