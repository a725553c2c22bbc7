// The Anthropic mock refuses what the Messages API refuses, with its status, error type
// and message: each case is a request a real client (or a wrong one, often an OpenAI
// client's habits) sends.
import assert from "node:assert/strict";
import { test } from "node:test";
import { post, useUpstream } from "./helpers.mjs";

const KEY = "sk-ant-test";
const ctx = useUpstream((upstream) => {
  upstream.provider("claude", "anthropic", { apiKey: KEY });
  upstream.provider("haiku-only", "anthropic", { apiKey: KEY, models: ["claude-haiku-4-5"], maxOutputTokens: 8192 });
});
const url = (name = "claude") => `${ctx.upstream.base(name)}/v1/messages`;
const HEADERS = { "x-api-key": KEY, "anthropic-version": "2023-06-01" };
const send = (body, headers = HEADERS, name = "claude") => post(url(name), body, headers);
const user = (content = "Hello") => [{ role: "user", content }];
const valid = (extra = {}) => ({ model: "claude-sonnet-4-5", max_tokens: 1024, messages: user(), ...extra });

const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=";
const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46]).toString("base64");

/** Asserts Anthropic's error shape, its request-id header and body field, and the message. */
async function expectError(response, status, type, message) {
  assert.equal(response.status, status);
  assert.match(response.headers.get("content-type"), /^application\/json/);
  const id = response.headers.get("request-id");
  assert.match(id, /^req_[A-Za-z0-9]+$/);
  const body = await response.json();
  assert.deepEqual(Object.keys(body).sort(), ["error", "request_id", "type"]);
  assert.equal(body.type, "error");
  assert.equal(body.request_id, id);
  assert.deepEqual(Object.keys(body.error).sort(), ["message", "type"]);
  assert.equal(body.error.type, type);
  if (typeof message === "string") assert.equal(body.error.message, message);
  else assert.match(body.error.message, message);
}

const invalid = (response, message) => expectError(response, 400, "invalid_request_error", message);

test("a valid request is answered, and what it sent is recorded", async () => {
  const response = await send(valid());
  assert.equal(response.status, 200);
  const [seen] = ctx.upstream.requests;
  assert.equal(seen.deployment, "claude");
  assert.equal(seen.path, "/v1/messages");
  assert.equal(seen.method, "POST");
  assert.deepEqual(seen.query, {});
  assert.equal(seen.headers["x-api-key"], KEY);
  assert.deepEqual(seen.body, valid());
});

test("the API key goes in x-api-key: none, a Bearer token or a wrong key is a 401", async () => {
  const noKey = { "anthropic-version": "2023-06-01" };
  await expectError(await send(valid(), noKey), 401, "authentication_error", "x-api-key header is required");
  await expectError(await send(valid(), { ...noKey, authorization: `Bearer ${KEY}` }), 401, "authentication_error", "x-api-key header is required");
  await expectError(await send(valid(), { ...HEADERS, "x-api-key": "sk-ant-other" }), 401, "authentication_error", "invalid x-api-key");
});

test("anthropic-version is required and must be a version Anthropic has", async () => {
  await invalid(await send(valid(), { "x-api-key": KEY }), "anthropic-version: header is required");
  await invalid(await send(valid(), { ...HEADERS, "anthropic-version": "2024-10-22" }), 'anthropic-version: "2024-10-22" is not a valid version');
  assert.equal((await send(valid(), { ...HEADERS, "anthropic-version": "2023-01-01" })).status, 200);
});

test("a body that is not JSON is a 400 saying where it broke", async () => {
  await invalid(await send('{"model": "claude-sonnet-4-5", '), /^The request body is not valid JSON: Expecting value: line 1 column \d+ \(char \d+\)$/);
  await invalid(await send("[1, 2]"), "Input should be a valid dictionary");
  await invalid(await send(JSON.stringify("a string")), "Input should be a valid dictionary");
  await invalid(await send(""), "The request body is not valid JSON: Expecting value: line 1 column 1 (char 0)");
});

test("model, max_tokens and messages are required", async () => {
  const { model, max_tokens, messages } = valid();
  await invalid(await send({ max_tokens, messages }), "model: Field required");
  await invalid(await send({ model, messages }), "max_tokens: Field required");
  await invalid(await send({ model, max_tokens }), "messages: Field required");
  await invalid(await send(valid({ model: 7 })), "model: Input should be a valid string");
});

test("max_tokens is an integer of at least 1, within the model's output ceiling", async () => {
  await invalid(await send(valid({ max_tokens: 0 })), "max_tokens: Input should be greater than or equal to 1");
  await invalid(await send(valid({ max_tokens: 10.5 })), "max_tokens: Input should be a valid integer, got a number with a fractional part");
  await invalid(await send(valid({ max_tokens: "1024" })), "max_tokens: Input should be a valid integer");
  await invalid(await send(valid({ max_tokens: 64001 })), "max_tokens: 64001 > 64000, which is the maximum allowed number of output tokens for claude-sonnet-4-5");
  const haiku = { ...valid({ model: "claude-haiku-4-5" }), max_tokens: 9000 };
  await invalid(await send(haiku, HEADERS, "haiku-only"), "max_tokens: 9000 > 8192, which is the maximum allowed number of output tokens for claude-haiku-4-5");
});

test("a model the deployment does not serve is a 404 not_found_error", async () => {
  await expectError(await send(valid({ model: "claude-3-opus-20240229" }), HEADERS, "haiku-only"), 404, "not_found_error", "model: claude-3-opus-20240229");
  assert.equal((await send(valid({ model: "claude-haiku-4-5" }), HEADERS, "haiku-only")).status, 200);
});

test("a system message inside messages is refused: the system prompt is a top-level parameter", async () => {
  const openaiStyle = valid({ messages: [{ role: "system", content: "Be brief." }, ...user()] });
  await invalid(await send(openaiStyle), 'messages: Unexpected role "system". The Messages API accepts a top-level `system` parameter, not "system" as an input message role.');
  assert.equal((await send(valid({ system: "Be brief." }))).status, 200);
  assert.equal((await send(valid({ system: [{ type: "text", text: "Be brief.", cache_control: { type: "ephemeral" } }] }))).status, 200);
  await invalid(await send(valid({ system: [{ type: "image", source: { type: "url", url: "https://x/y.png" } }] })), "system.0.type: Input should be 'text'");
  await invalid(await send(valid({ system: [{ type: "text", text: "" }] })), "system: text content blocks must be non-empty");
});

test("roles are user and assistant only: an OpenAI tool message is refused", async () => {
  const messages = [...user(), { role: "tool", tool_call_id: "call_1", content: "sunny" }];
  await invalid(await send(valid({ messages })), "messages.1.role: Input should be 'user' or 'assistant'");
  await invalid(await send(valid({ messages: [{ content: "hi" }] })), "messages.0.role: Field required");
  await invalid(await send(valid({ messages: [{ role: "user", content: "hi", name: "bob" }] })), "messages.0.name: Extra inputs are not permitted");
});

test("messages and their content are not empty, but for a final assistant turn", async () => {
  await invalid(await send(valid({ messages: [] })), "messages: at least one message is required");
  await invalid(await send(valid({ messages: user("") })), "messages.0: all messages must have non-empty content except for the optional final assistant message");
  await invalid(await send(valid({ messages: [{ role: "user", content: [] }] })), "messages.0: all messages must have non-empty content except for the optional final assistant message");
  await invalid(await send(valid({ messages: [{ role: "user", content: [{ type: "text", text: "" }] }] })), "messages: text content blocks must be non-empty");
  const prefill = (text) => valid({ messages: [...user(), { role: "assistant", content: text }] });
  assert.equal((await send(prefill("The answer is"))).status, 200);
  assert.equal((await send(prefill(""))).status, 200);
  await invalid(await send(prefill("The answer is ")), "messages: final assistant content cannot end with trailing whitespace");
});

test("content blocks are Anthropic's: an OpenAI image_url part is refused", async () => {
  const content = [{ type: "text", text: "What is this?" }, { type: "image_url", image_url: { url: "https://x/y.png" } }];
  await invalid(await send(valid({ messages: [{ role: "user", content }] })), /^messages\.0\.content\.1: Input tag 'image_url' found using 'type' does not match any of the expected tags: 'text', 'image', /);
  await invalid(await send(valid({ messages: [{ role: "user", content: [{ text: "hi" }] }] })), "messages.0.content.0: Unable to extract tag using discriminator 'type'");
  await invalid(await send(valid({ messages: [{ role: "user", content: [{ type: "text", text: "hi", foo: 1 }] }] })), "messages.0.content.0.text.foo: Extra inputs are not permitted");
});

test("images: base64 in a supported media type that its bytes match, or a url", async () => {
  const image = (source) => valid({ messages: [{ role: "user", content: [{ type: "image", source }, { type: "text", text: "Describe it." }] }] });
  assert.equal((await send(image({ type: "base64", media_type: "image/png", data: PNG }))).status, 200);
  assert.equal((await send(image({ type: "url", url: "https://example.com/cat.jpg" }))).status, 200);
  await invalid(await send(image({ type: "base64", media_type: "image/bmp", data: PNG })), "messages.0.content.0.image.source.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'");
  await invalid(await send(image({ type: "base64", media_type: "image/png", data: JPEG })), "messages.0.content.0.image.source.base64: The image was specified using the image/png media type, but the image appears to be a image/jpeg image");
  await invalid(await send(image({ type: "base64", media_type: "image/png", data: "bm90IGFuIGltYWdl" })), "messages.0.content.0.image.source.base64: Could not process image");
  await invalid(await send(image({ type: "url" })), "messages.0.content.0.image.source.url.url: Field required");
});

test("documents, thinking and redacted thinking blocks are taken in their shapes", async () => {
  const pdf = { type: "document", source: { type: "base64", media_type: "application/pdf", data: "JVBERi0xLjQK" }, title: "Report" };
  const text = { type: "document", source: { type: "text", media_type: "text/plain", data: "Plain text." }, citations: { enabled: true } };
  assert.equal((await send(valid({ messages: [{ role: "user", content: [pdf, text, { type: "text", text: "Summarize." }] }] }))).status, 200);
  const wrongPdf = { ...pdf, source: { ...pdf.source, media_type: "application/msword" } };
  await invalid(await send(valid({ messages: [{ role: "user", content: [wrongPdf] }] })), "messages.0.content.0.document.source.base64.media_type: Input should be 'application/pdf'");
  const thought = [{ type: "thinking", thinking: "Let me think.", signature: "sig" }, { type: "redacted_thinking", data: "opaque" }, { type: "text", text: "Hi." }];
  assert.equal((await send(valid({ messages: [...user(), { role: "assistant", content: thought }, ...user("Go on")] }))).status, 200);
  await invalid(await send(valid({ messages: [...user(), { role: "assistant", content: [{ type: "thinking", thinking: "x" }] }, ...user("Go on")] })), "messages.1.content.0.thinking.signature: Field required");
});

const toolTurn = (input = { city: "Paris" }, id = "toolu_01A") => ({ role: "assistant", content: [{ type: "tool_use", id, name: "get_weather", input }] });
const resultTurn = (id = "toolu_01A") => ({ role: "user", content: [{ type: "tool_result", tool_use_id: id, content: "18°C, sunny" }] });

test("a tool_use has an id, a name and an object input, not OpenAI's JSON string", async () => {
  assert.equal((await send(valid({ messages: [...user(), toolTurn(), resultTurn()] }))).status, 200);
  await invalid(await send(valid({ messages: [...user(), toolTurn('{"city":"Paris"}'), resultTurn()] })), "messages.1.content.0.tool_use.input: Input should be a valid dictionary");
  await invalid(await send(valid({ messages: [...user(), toolTurn(undefined, "call:1"), resultTurn("call:1")] })), "messages.1.content.0.tool_use.id: String should match pattern '^[a-zA-Z0-9_-]+$'");
});

test("a tool_result answers a tool_use of the previous assistant turn, and every tool_use is answered", async () => {
  const twoResults = { role: "user", content: [...resultTurn().content, ...resultTurn("toolu_01B").content] };
  await invalid(
    await send(valid({ messages: [...user(), toolTurn(), twoResults] })),
    "messages.2.content.1: unexpected `tool_use_id` found in `tool_result` blocks: toolu_01B. Each `tool_result` block must have a corresponding `tool_use` block in the previous message.",
  );
  await invalid(
    await send(valid({ messages: [resultTurn()] })),
    "messages.0.content.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_01A. Each `tool_result` block must have a corresponding `tool_use` block in the previous message.",
  );
  await invalid(
    await send(valid({ messages: [...user(), toolTurn(), ...user("never mind")] })),
    "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_01A. Each `tool_use` block must have a corresponding `tool_result` block in the next message.",
  );
});

const weather = { name: "get_weather", description: "Weather of a city", input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } };

test("tools have a name of Anthropic's pattern and an input_schema of type object, not OpenAI's function wrapper", async () => {
  assert.equal((await send(valid({ tools: [weather] }))).status, 200);
  const openaiTool = { type: "function", function: { name: "get_weather", parameters: weather.input_schema } };
  await invalid(await send(valid({ tools: [openaiTool] })), /^tools\.0: Input tag 'function' found using 'type' does not match any of the expected tags: 'custom', /);
  await invalid(await send(valid({ tools: [{ ...weather, name: "weather.get" }] })), "tools.0.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'");
  await invalid(await send(valid({ tools: [{ ...weather, input_schema: { properties: {} } }] })), "tools.0.custom.input_schema.type: Field required");
  await invalid(await send(valid({ tools: [{ ...weather, input_schema: { type: "array" } }] })), "tools.0.custom.input_schema.type: Input should be 'object'");
  await invalid(await send(valid({ tools: [{ name: "x" }] })), "tools.0.custom.input_schema: Field required");
  await invalid(await send(valid({ tools: [weather, weather] })), "tools: Tool names must be unique.");
  assert.equal((await send(valid({ tools: [weather, { type: "web_search_20250305", name: "web_search" }] }))).status, 200);
});

test("tool_choice is auto, any, tool with a name, or none, not OpenAI's strings", async () => {
  for (const choice of [{ type: "auto" }, { type: "any", disable_parallel_tool_use: true }, { type: "tool", name: "get_weather" }, { type: "none" }]) {
    assert.equal((await send(valid({ tools: [weather], tool_choice: choice }))).status, 200, JSON.stringify(choice));
  }
  await invalid(await send(valid({ tools: [weather], tool_choice: "required" })), "tool_choice: Input should be a valid dictionary");
  await invalid(await send(valid({ tools: [weather], tool_choice: { type: "tool" } })), "tool_choice.tool.name: Field required");
  await invalid(await send(valid({ tools: [weather], tool_choice: { type: "function", function: { name: "get_weather" } } })), "tool_choice: Input tag 'function' found using 'type' does not match any of the expected tags: 'auto', 'any', 'tool', 'none'");
});

test("sampling: temperature and top_p within 0..1, top_k an integer, stop_sequences strings", async () => {
  assert.equal((await send(valid({ temperature: 0.7, top_p: 0.9, top_k: 40, stop_sequences: ["\n\nHuman:"] }))).status, 200);
  await invalid(await send(valid({ temperature: 1.5 })), "temperature: Input should be less than or equal to 1");
  await invalid(await send(valid({ temperature: -0.1 })), "temperature: Input should be greater than or equal to 0");
  await invalid(await send(valid({ top_p: 2 })), "top_p: Input should be less than or equal to 1");
  await invalid(await send(valid({ top_k: 2.5 })), "top_k: Input should be a valid integer, got a number with a fractional part");
  await invalid(await send(valid({ stop_sequences: "STOP" })), "stop_sequences: Input should be a valid list");
  await invalid(await send(valid({ stop_sequences: ["STOP", 3] })), "stop_sequences.1: Input should be a valid string");
});

test("metadata takes only user_id, and stream is a boolean", async () => {
  assert.equal((await send(valid({ metadata: { user_id: "user-123" } }))).status, 200);
  await invalid(await send(valid({ metadata: { user_id: "u", session: "s" } })), "metadata.session: Extra inputs are not permitted");
  await invalid(await send(valid({ metadata: { user_id: 7 } })), "metadata.user_id: Input should be a valid string");
  await invalid(await send(valid({ stream: "true" })), "stream: Input should be a valid boolean");
});

test("parameters Anthropic does not know are refused, as OpenAI's are", async () => {
  for (const [field, value] of [["n", 2], ["frequency_penalty", 0.5], ["response_format", { type: "json_object" }], ["stream_options", { include_usage: true }], ["user", "u1"]]) {
    await invalid(await send(valid({ [field]: value, ...(field === "stream_options" ? { stream: true } : {}) })), `${field}: Extra inputs are not permitted`);
  }
});

test("thinking: a budget of at least 1024 below max_tokens, and no temperature but 1", async () => {
  assert.equal((await send(valid({ max_tokens: 4096, thinking: { type: "enabled", budget_tokens: 2048 } }))).status, 200);
  assert.equal((await send(valid({ thinking: { type: "disabled" }, temperature: 0.2 }))).status, 200);
  await invalid(await send(valid({ thinking: { type: "enabled", budget_tokens: 512 } })), "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024");
  await invalid(await send(valid({ max_tokens: 2000, thinking: { type: "enabled", budget_tokens: 2048 } })), /^`max_tokens` must be greater than `thinking.budget_tokens`/);
  await invalid(await send(valid({ max_tokens: 4096, temperature: 0.5, thinking: { type: "enabled", budget_tokens: 2048 } })), /^`temperature` may only be set to 1 when thinking is enabled/);
  await invalid(await send(valid({ thinking: { type: "on" } })), "thinking: Input tag 'on' found using 'type' does not match any of the expected tags: 'enabled', 'disabled', 'adaptive'");
});

test("other paths and methods are a 404 not_found_error: the mock is no OpenAI endpoint", async () => {
  await expectError(await post(`${ctx.upstream.base("claude")}/v1/chat/completions`, valid(), HEADERS), 404, "not_found_error", "Not Found");
  await expectError(await fetch(url(), { headers: HEADERS }), 404, "not_found_error", "Not Found");
});

test("a refused request takes no scripted behaviour: the next valid one gets it", async () => {
  ctx.upstream.script("claude", [{ type: "overloaded" }]);
  await invalid(await send({ model: "claude-sonnet-4-5", messages: user() }), "max_tokens: Field required");
  await expectError(await send(valid()), 529, "overloaded_error", "Overloaded");
  assert.equal((await send(valid())).status, 200);
  assert.equal(ctx.upstream.requests.length, 3, "every request is recorded, refused or not");
});
