// The Azure OpenAI mock refuses what Azure refuses, with its status and its error shape
// (Azure's {"error":{"code","message"}}, the gateway's {"statusCode","message"}, or
// OpenAI's {"error":{"message","type","param","code"}} for the body): each case is a
// request a real client (or a wrong one, often with Anthropic's or OpenAI's habits) sends.
import assert from "node:assert/strict";
import { test } from "node:test";
import { post, useUpstream } from "./helpers.mjs";

const KEY = "azure-key-1";
const APP = { tenant: "contoso-tenant", clientId: "gateway-app", clientSecret: "s3cret" };
const ctx = useUpstream((upstream) => {
  upstream.provider("az", "azure", { apiKey: KEY, entra: APP, deployments: { "gpt-4o": "gpt-4o-2024-11-20", "text-embedding-3-small": "text-embedding-3-small" } });
  upstream.provider("az-keyless", "azure", { entra: { tenant: "contoso-tenant", clientId: "other-app", clientSecret: "x", expiresIn: 1 } });
});
const VERSION = "2024-10-21";
const dated = (operation = "chat/completions", deployment = "gpt-4o", name = "az") => `${ctx.upstream.base(name)}/openai/deployments/${deployment}/${operation}?api-version=${VERSION}`;
const v1 = (operation = "chat/completions", name = "az") => `${ctx.upstream.base(name)}/openai/v1/${operation}`;
const chat = (extra = {}) => ({ messages: [{ role: "user", content: "Hello" }], ...extra });
const send = (body, headers = { "api-key": KEY }, url = dated()) => post(url, body, headers);

async function expectAzure(response, status, code, message) {
  assert.equal(response.status, status);
  assert.match(response.headers.get("content-type"), /^application\/json/);
  const body = await response.json();
  assert.deepEqual(Object.keys(body.error).sort(), ["code", "message"]);
  assert.equal(body.error.code, code);
  if (typeof message === "string") assert.equal(body.error.message, message);
  else assert.match(body.error.message, message);
}

/** OpenAI's error shape, which Azure answers for a body it refuses. */
async function expectOpenAI(response, { message, param = null, code = null }) {
  assert.equal(response.status, 400);
  const { error } = await response.json();
  assert.deepEqual(Object.keys(error).sort(), ["code", "message", "param", "type"]);
  assert.equal(error.type, "invalid_request_error");
  if (typeof message === "string") assert.equal(error.message, message);
  else assert.match(error.message, message);
  assert.equal(error.param, param);
  assert.equal(error.code, code);
}

async function tokenFor({ tenant, clientId, clientSecret }, scope = "https://cognitiveservices.azure.com/.default") {
  const response = await fetch(`${ctx.upstream.entra.url}/${tenant}/oauth2/v2.0/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret, scope }),
  });
  assert.equal(response.status, 200);
  return (await response.json()).access_token;
}

test("a valid request is answered; its path and api-version are recorded", async () => {
  assert.equal((await send(chat())).status, 200);
  const [seen] = ctx.upstream.requests;
  assert.equal(seen.deployment, "az");
  assert.equal(seen.path, "/openai/deployments/gpt-4o/chat/completions");
  assert.deepEqual(seen.query, { "api-version": VERSION });
  assert.equal(seen.headers["api-key"], KEY);
});

test("the dated API needs an api-version: none is a 404, an unknown one a 400", async () => {
  const base = `${ctx.upstream.base("az")}/openai/deployments/gpt-4o/chat/completions`;
  await expectAzure(await send(chat(), undefined, base), 404, "404", "Resource not found");
  await expectAzure(await send(chat(), undefined, `${base}?api-version=2024-13-01`), 400, "BadRequest", "API version not supported");
  assert.equal((await send(chat(), undefined, `${base}?api-version=2025-04-01-preview`)).status, 200);
});

test("the v1 API takes no dated version: none, preview or latest", async () => {
  assert.equal((await send(chat({ model: "gpt-4o" }), undefined, v1())).status, 200);
  assert.equal((await send(chat({ model: "gpt-4o" }), undefined, `${v1()}?api-version=preview`)).status, 200);
  await expectAzure(await send(chat({ model: "gpt-4o" }), undefined, `${v1()}?api-version=${VERSION}`), 400, "BadRequest", "API version not supported");
});

test("paths and methods Azure does not serve are a 404 Resource not found", async () => {
  await expectAzure(await send(chat(), undefined, `${ctx.upstream.base("az")}/v1/chat/completions`), 404, "404", "Resource not found");
  await expectAzure(await send(chat(), undefined, dated("chat/completion")), 404, "404", "Resource not found");
  await expectAzure(await fetch(dated(), { headers: { "api-key": KEY } }), 404, "404", "Resource not found");
});

test("an api-key that is not the resource's is a 401 in Azure's shape", async () => {
  await expectAzure(await send(chat(), { "api-key": "wrong" }), 401, "401", /^Access denied due to invalid subscription key or wrong API endpoint\./);
  await expectAzure(await send(chat(), { "api-key": "anything" }, dated("chat/completions", "gpt-4o", "az-keyless")), 401, "401", /^Access denied/);
});

test("without an api-key, only a valid bearer token passes: else a 401 in the gateway's shape", async () => {
  const expectUnauthorized = async (response) => {
    assert.equal(response.status, 401);
    assert.deepEqual(await response.json(), {
      statusCode: 401,
      message: "Unauthorized. Access token is missing, invalid, audience is incorrect (https://cognitiveservices.azure.com), or have expired.",
    });
  };
  await expectUnauthorized(await send(chat(), {}));
  // The dated API takes no key as a bearer token.
  await expectUnauthorized(await send(chat(), { authorization: `Bearer ${KEY}` }));
  await expectUnauthorized(await send(chat(), { authorization: "Bearer eyJhbGciOiJub25lIn0.e30.forged" }));
  const token = await tokenFor(APP);
  assert.equal((await send(chat(), { authorization: `Bearer ${token}` })).status, 200);
  assert.equal((await send(chat({ model: "gpt-4o" }), { authorization: `Bearer ${KEY}` }, v1())).status, 200, "v1 takes the key as a bearer token");
});

test("a token's audience must be Cognitive Services (or ai.azure.com on v1) and unexpired", async () => {
  const aiToken = await tokenFor(APP, "https://ai.azure.com/.default");
  assert.equal((await send(chat(), { authorization: `Bearer ${aiToken}` })).status, 401);
  assert.equal((await send(chat({ model: "gpt-4o" }), { authorization: `Bearer ${aiToken}` }, v1())).status, 200);
  const short = await tokenFor({ tenant: "contoso-tenant", clientId: "other-app", clientSecret: "x" });
  const keyless = dated("chat/completions", "gpt-4o", "az-keyless");
  assert.equal((await send(chat(), { authorization: `Bearer ${short}` }, keyless)).status, 200);
  await new Promise((resolve) => setTimeout(resolve, 1100));
  assert.equal((await send(chat(), { authorization: `Bearer ${short}` }, keyless)).status, 401, "expired after expires_in");
});

test("a token of an app without a role on the resource is a 401 PermissionDenied", async () => {
  const other = await tokenFor({ tenant: "contoso-tenant", clientId: "other-app", clientSecret: "x" });
  await expectAzure(await send(chat(), { authorization: `Bearer ${other}` }), 401, "PermissionDenied", /^The principal `other-app` lacks the required data action `Microsoft\.CognitiveServices\/accounts\/OpenAI\/deployments\/chat\/completions\/action`/);
});

test("a deployment the resource does not have is a 404 DeploymentNotFound", async () => {
  const message = "The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.";
  await expectAzure(await send(chat(), undefined, dated("chat/completions", "gpt-35-turbo")), 404, "DeploymentNotFound", message);
  await expectAzure(await send(chat({ model: "gpt-4o-2024-11-20" }), undefined, v1()), 404, "DeploymentNotFound", message);
  await expectOpenAI(await send(chat(), undefined, v1()), { message: "you must provide a model parameter" });
});

test("a body that is not JSON is OpenAI's 400", async () => {
  await expectOpenAI(await send('{"messages": [', undefined), { message: /^We could not parse the JSON body of your request\./ });
});

test("arguments Azure does not know are refused, as Anthropic's are", async () => {
  await expectOpenAI(await send(chat({ top_k: 40 })), { message: "Unrecognized request argument supplied: top_k" });
  await expectOpenAI(await send(chat({ system: "Be brief." })), { message: "Unrecognized request argument supplied: system" });
  await expectOpenAI(await send({ input: "x", messages: [] }, undefined, dated("embeddings", "text-embedding-3-small")), { message: "Unrecognized request argument supplied: messages" });
});

test("messages: required, a non-empty array of known roles with content of known parts", async () => {
  await expectOpenAI(await send({}), { message: "Missing required parameter: 'messages'.", param: "messages", code: "missing_required_parameter" });
  await expectOpenAI(await send({ messages: "Hello" }), { message: "Invalid type for 'messages': expected an array, but got a string instead.", param: "messages", code: "invalid_type" });
  await expectOpenAI(await send({ messages: [] }), { message: "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.", param: "messages", code: "empty_array" });
  await expectOpenAI(await send({ messages: [{ role: "human", content: "Hi" }] }), {
    message: "Invalid value: 'human'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.",
    param: "messages[0].role",
    code: "invalid_value",
  });
  await expectOpenAI(await send({ messages: [{ role: "user" }] }), { message: "Missing required parameter: 'messages[0].content'.", param: "messages[0].content", code: "missing_required_parameter" });
  const anthropicImage = { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } };
  await expectOpenAI(await send({ messages: [{ role: "user", content: [anthropicImage] }] }), {
    message: "Invalid value: 'image'. Supported values are: 'text', 'image_url', 'input_audio', 'refusal', 'audio', and 'file'.",
    param: "messages[0].content[0].type",
    code: "invalid_value",
  });
  assert.equal((await send({ messages: [{ role: "system", content: "Be brief." }, { role: "user", content: [{ type: "text", text: "Hi" }, { type: "image_url", image_url: { url: "https://x/y.png" } }] }] })).status, 200);
});

test("a tool message answers a preceding tool_calls, and every tool call is answered", async () => {
  const call = { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }] };
  const answer = { role: "tool", tool_call_id: "call_1", content: "18°C" };
  assert.equal((await send({ messages: [{ role: "user", content: "Weather?" }, call, answer] })).status, 200);
  await expectOpenAI(await send({ messages: [{ role: "user", content: "Weather?" }, answer] }), {
    message: "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
    param: "messages.[1].role",
  });
  await expectOpenAI(await send({ messages: [{ role: "user", content: "Weather?" }, call, { role: "user", content: "Well?" }] }), {
    message: "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: call_1",
    param: "messages.[1].role",
  });
  await expectOpenAI(await send({ messages: [{ role: "user", content: "Weather?" }, call, { role: "tool", content: "18°C" }] }), {
    message: "Missing required parameter: 'messages[2].tool_call_id'.",
    param: "messages[2].tool_call_id",
    code: "missing_required_parameter",
  });
});

test("tools are OpenAI functions with names of OpenAI's pattern, not Anthropic's tools", async () => {
  const fn = { type: "function", function: { name: "get_weather", parameters: { type: "object", properties: {} } } };
  assert.equal((await send(chat({ tools: [fn], tool_choice: "required" }))).status, 200);
  await expectOpenAI(await send(chat({ tools: [{ name: "get_weather", input_schema: { type: "object" } }] })), { message: "Missing required parameter: 'tools[0].type'.", param: "tools[0].type", code: "missing_required_parameter" });
  await expectOpenAI(await send(chat({ tools: [{ ...fn, function: { name: "weather.get" } }] })), {
    message: "Invalid 'tools[0].function.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.",
    param: "tools[0].function.name",
    code: "invalid_value",
  });
  await expectOpenAI(await send(chat({ tools: [fn], tool_choice: "any" })), { message: "Invalid value: 'any'. Supported values are: 'none', 'auto', and 'required'.", param: "tool_choice", code: "invalid_value" });
});

test("sampling and streaming parameters are checked for type and range", async () => {
  await expectOpenAI(await send(chat({ temperature: 3 })), { message: "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 3 instead.", param: "temperature", code: "decimal_above_max_value" });
  await expectOpenAI(await send(chat({ max_tokens: 0 })), { message: "Invalid 'max_tokens': integer below minimum value. Expected a value >= 1, but got 0 instead.", param: "max_tokens", code: "integer_below_min_value" });
  await expectOpenAI(await send(chat({ stream: "yes" })), { message: "Invalid type for 'stream': expected a boolean, but got a string instead.", param: "stream", code: "invalid_type" });
  await expectOpenAI(await send(chat({ stream_options: { include_usage: true } })), { message: "The 'stream_options' parameter is only allowed when 'stream' is enabled.", param: "stream_options" });
  assert.equal((await send(chat({ temperature: 1.5, top_p: 0.9, max_tokens: 100, stream: true, stream_options: { include_usage: true } }))).status, 200);
});

test("embeddings need an input and completions a prompt", async () => {
  const embeddings = dated("embeddings", "text-embedding-3-small");
  await expectOpenAI(await send({}, undefined, embeddings), { message: "Missing required parameter: 'input'.", param: "input", code: "missing_required_parameter" });
  assert.equal((await send({ input: ["a", "b"] }, undefined, embeddings)).status, 200);
  await expectOpenAI(await send({ max_tokens: 5 }, undefined, dated("completions")), { message: "Missing required parameter: 'prompt'.", param: "prompt", code: "missing_required_parameter" });
});

test("a refused request takes no scripted behaviour", async () => {
  ctx.upstream.script("az", [{ type: "overloaded" }]);
  assert.equal((await send(chat(), { "api-key": "wrong" })).status, 401);
  assert.equal((await send({ messages: [] })).status, 400);
  assert.equal((await send(chat())).status, 503);
  assert.equal(ctx.upstream.requests.length, 3);
});
