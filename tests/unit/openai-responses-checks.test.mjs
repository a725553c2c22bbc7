// The OpenAI mock's Responses API refuses what OpenAI refuses, with its status and error
// body { error: { message, type, param, code } }: each case is a request a real client (or
// a wrong one, often with Chat Completions habits) sends. A refused request consumes no
// behaviour.
import assert from "node:assert/strict";
import { test } from "node:test";
import OpenAI from "openai";
import { post, useUpstream } from "./helpers.mjs";

const KEY = "sk-proj-test-0123456789abcdef";
const ctx = useUpstream((upstream) => {
  upstream.provider("gpt", "openai", { apiKey: KEY });
  upstream.provider("mini-only", "openai", { apiKey: KEY, models: ["gpt-4.1-mini"] });
});
const AUTH = { authorization: `Bearer ${KEY}` };
const url = (name = "gpt") => `${ctx.upstream.base(name)}/responses`;
const send = (body, headers = AUTH, name = "gpt") => post(url(name), body, headers);
const valid = (extra = {}) => ({ model: "gpt-4.1", input: "Hello", ...extra });
const weather = { type: "function", name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"], additionalProperties: false }, strict: true };

/** Asserts OpenAI's error body, exactly, with its status and an x-request-id. */
async function expectError(response, status, error) {
  assert.equal(response.status, status);
  assert.match(response.headers.get("content-type"), /^application\/json/);
  assert.match(response.headers.get("x-request-id"), /^req_/);
  assert.deepEqual(await response.json(), { error: { type: "invalid_request_error", param: null, code: null, ...error } });
}

const invalid = (response, message, param, code = null) => expectError(response, 400, { message, param, code });
const unknownParameter = (response, param) => invalid(response, `Unknown parameter: '${param}'.`, param, "unknown_parameter");
const missing = (response, param) => invalid(response, `Missing required parameter: '${param}'.`, param, "missing_required_parameter");
const wrongType = (response, param, expected, got) => invalid(response, `Invalid type for '${param}': expected ${expected}, but got ${got} instead.`, param, "invalid_type");

test("a valid request is answered, and what it sent is recorded", async () => {
  const response = await send(valid());
  assert.equal(response.status, 200);
  const [seen] = ctx.upstream.requests;
  assert.deepEqual([seen.deployment, seen.path, seen.method], ["gpt", "/responses", "POST"]);
  assert.equal(seen.headers.authorization, `Bearer ${KEY}`);
  assert.deepEqual(seen.body, valid());
});

const NO_KEY =
  "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username and password. You can obtain an API key from https://platform.openai.com/account/api-keys.";

test("a deployment with a key wants it as a bearer token: none is a 401, another one a 401 showing it redacted", async () => {
  await expectError(await send(valid(), {}), 401, { message: NO_KEY });
  await expectError(await fetch(`${url()}/resp_123`, { headers: { authorization: "Basic abc" } }), 401, { message: NO_KEY });
  await expectError(await send(valid(), { authorization: "Bearer sk-proj-other-key-abcd1234" }), 401, {
    message: "Incorrect API key provided: sk-proj-**************1234. You can find your API key at https://platform.openai.com/account/api-keys.",
    code: "invalid_api_key",
  });
  await expectError(await send(valid(), { authorization: "Bearer short" }), 401, {
    message: "Incorrect API key provided: short. You can find your API key at https://platform.openai.com/account/api-keys.",
    code: "invalid_api_key",
  });
  const sdk = new OpenAI({ apiKey: "sk-wrong", baseURL: ctx.upstream.base("gpt"), maxRetries: 0 });
  await assert.rejects(sdk.responses.create(valid()), (error) => error instanceof OpenAI.AuthenticationError && error.code === "invalid_api_key");
});

test("a body that is not JSON is refused in OpenAI's words", async () => {
  await invalid(
    await send('{"model": "gpt-4.1", "input": '),
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)",
    null,
  );
});

test("an unknown parameter is named, at the top (a chat body's messages) and inside (an item, a part, a tool)", async () => {
  await unknownParameter(await send({ model: "gpt-4.1", messages: [{ role: "user", content: "hi" }] }), "messages");
  await unknownParameter(await send(valid({ foo: 1 })), "foo");
  await unknownParameter(await send(valid({ max_tokens: 100 })), "max_tokens");
  await unknownParameter(await send(valid({ input: [{ role: "user", content: "hi", name: "bob" }] })), "input[0].name");
  await unknownParameter(await send(valid({ input: [{ role: "user", content: [{ type: "input_text", text: "hi", cache_control: {} }] }] })), "input[0].content[0].cache_control");
  await unknownParameter(await send(valid({ tools: [{ ...weather, function: {} }] })), "tools[0].function");
  await unknownParameter(await send(valid({ text: { format: { type: "text" }, foo: true } })), "text.foo");
  await unknownParameter(await send(valid({ reasoning: { effort: "low", budget: 10 } })), "reasoning.budget");
});

test("model and input are required; input is a string or a non-empty array of items", async () => {
  await missing(await send({ input: "hi" }), "model");
  await missing(await send({ model: "gpt-4.1" }), "input");
  await missing(await send({ model: "gpt-4.1", previous_response_id: "resp_abc" }), "input");
  await invalid(await send(valid({ input: [] })), "Invalid 'input': empty array. Expected an array with minimum length 1, but got an empty array instead.", "input", "empty_array");
  await wrongType(await send(valid({ input: { role: "user", content: "hi" } })), "input", "one of a string or an array of input items", "an object");
  await wrongType(await send(valid({ input: null })), "input", "one of a string or an array of input items", "null");
  await wrongType(await send(valid({ model: 4 })), "model", "a string", "an integer");
});

test("each parameter has its type and range", async () => {
  await wrongType(await send(valid({ temperature: "hot" })), "temperature", "a decimal", "a string");
  await wrongType(await send(valid({ stream: "yes" })), "stream", "a boolean", "a string");
  await wrongType(await send(valid({ max_output_tokens: 100.5 })), "max_output_tokens", "an integer", "a decimal");
  await wrongType(await send(valid({ instructions: ["be brief"] })), "instructions", "a string", "an array");
  await wrongType(await send(valid({ metadata: { n: 1 } })), "metadata.n", "a string", "an integer");
  await invalid(await send(valid({ max_output_tokens: 10 })), "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got 10 instead.", "max_output_tokens", "integer_below_min_value");
  await invalid(await send(valid({ temperature: 2.5 })), "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 2.5 instead.", "temperature", "decimal_above_max_value");
  await invalid(await send(valid({ top_p: -0.1 })), "Invalid 'top_p': decimal below minimum value. Expected a value >= 0, but got -0.1 instead.", "top_p", "decimal_below_min_value");
  await invalid(await send(valid({ top_logprobs: 21 })), "Invalid 'top_logprobs': integer above maximum value. Expected a value <= 20, but got 21 instead.", "top_logprobs", "integer_above_max_value");
  await invalid(await send(valid({ safety_identifier: "u".repeat(65) })), "Invalid 'safety_identifier': string too long. Expected a string with maximum length 64, but got a string with length 65 instead.", "safety_identifier", "string_above_max_length");
  await invalid(await send(valid({ metadata: { note: "x".repeat(513) } })), "Invalid 'metadata.note': string too long. Expected a string with maximum length 512, but got a string with length 513 instead.", "metadata.note", "string_above_max_length");
  const many = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, "v"]));
  await invalid(await send(valid({ metadata: many })), "Invalid 'metadata': too many properties. Expected an object with at most 16 properties, but got an object with 17 properties instead.", "metadata", "object_above_max_properties");
});

test("enumerations list their supported values", async () => {
  await invalid(await send(valid({ truncation: "sometimes" })), "Invalid value: 'sometimes'. Supported values are: 'auto' and 'disabled'.", "truncation", "invalid_value");
  await invalid(await send(valid({ reasoning: { effort: "max" } })), "Invalid value: 'max'. Supported values are: 'none', 'minimal', 'low', 'medium', 'high', and 'xhigh'.", "reasoning.effort", "invalid_value");
  const response = await send(valid({ include: ["usage"] }));
  const { error } = await response.json();
  assert.equal(response.status, 400);
  assert.deepEqual([error.param, error.code], ["include[0]", "invalid_value"]);
  assert.match(error.message, /^Invalid value: 'usage'\. Supported values are: 'file_search_call\.results', .* and 'message\.output_text\.logprobs'\.$/);
  await invalid(await send(valid({ input: [{ role: "tool", content: "18°C" }] })), "Invalid value: 'tool'. Supported values are: 'user', 'assistant', 'system', and 'developer'.", "input[0].role", "invalid_value");
});

test("message items: role and content required, input parts for the user, output parts for the assistant", async () => {
  await missing(await send(valid({ input: [{ role: "user" }] })), "input[0].content");
  await missing(await send(valid({ input: [{ content: "hi" }] })), "input[0].type");
  await invalid(
    await send(valid({ input: [{ role: "user", content: "hi" }, { role: "assistant", content: [{ type: "input_text", text: "hello" }] }] })),
    "Invalid value: 'input_text'. Supported values are: 'output_text' and 'refusal'.",
    "input[1].content[0].type",
    "invalid_value",
  );
  await invalid(await send(valid({ input: [{ role: "user", content: [{ type: "text", text: "hi" }] }] })), "Invalid value: 'text'. Supported values are: 'input_text', 'input_image', and 'input_file'.", "input[0].content[0].type", "invalid_value");
  await missing(await send(valid({ input: [{ role: "user", content: [{ type: "input_text" }] }] })), "input[0].content[0].text");
  await missing(await send(valid({ input: [{ role: "user", content: [{ type: "input_image", detail: "low" }] }] })), "input[0].content[0].image_url");
  await wrongType(await send(valid({ input: [{ role: "user", content: 5 }] })), "input[0].content", "one of a string or an array of content parts", "an integer");
  const { error } = await (await send(valid({ input: [{ type: "chat_message", content: "hi" }] }))).json();
  assert.deepEqual([error.param, error.code], ["input[0].type", "invalid_value"]);
  assert.match(error.message, /^Invalid value: 'chat_message'\. Supported values are: 'message', 'function_call', 'function_call_output', 'reasoning', 'item_reference', /);
});

test("function calls and their outputs: required fields, an fc_ id, and each output answering a call of the conversation", async () => {
  const call = { type: "function_call", call_id: "call_1", name: "get_weather", arguments: '{"city":"Paris"}' };
  const output = { type: "function_call_output", call_id: "call_1", output: "18°C" };
  assert.equal((await send(valid({ input: [call, output] }))).status, 200);
  await missing(await send(valid({ input: [{ ...call, call_id: undefined }, output] })), "input[0].call_id");
  await missing(await send(valid({ input: [call, { type: "function_call_output", call_id: "call_1" }] })), "input[1].output");
  await invalid(await send(valid({ input: [{ ...call, id: "call_1" }, output] })), "Invalid 'input[0].id': 'call_1'. Expected an ID that begins with 'fc'.", "input[0].id", "invalid_value");
  await wrongType(await send(valid({ input: [{ ...call, arguments: { city: "Paris" } }, output] })), "input[0].arguments", "a string", "an object");
  await invalid(await send(valid({ input: [{ role: "user", content: "hi" }, output] })), "No tool call found for function call output with call_id call_1.", "input");
  await invalid(await send(valid({ input: [output, call] })), "No tool call found for function call output with call_id call_1.", "input");
  await invalid(await send(valid({ input: [call, { role: "user", content: "and?" }] })), "No tool output found for function call call_1.", "input");
});

test("previous_response_id must name a response this deployment stored; a call it left open must be answered", async () => {
  await invalid(await send(valid({ previous_response_id: "resp_unknown" })), "Previous response with id 'resp_unknown' not found.", "previous_response_id", "previous_response_not_found");
  await invalid(await send(valid({ previous_response_id: "abc" })), "Invalid 'previous_response_id': 'abc'. Expected an ID that begins with 'resp'.", "previous_response_id", "invalid_value");
  ctx.upstream.script("gpt", [{ type: "tool_call", name: "get_weather", arguments: { city: "Paris" }, id: "call_open" }]);
  const first = await (await send(valid({ tools: [weather] }))).json();
  await invalid(await send(valid({ previous_response_id: first.id, input: "never mind" })), "No tool output found for function call call_open.", "input");
  await invalid(await send(valid({ previous_response_id: first.id, input: [{ type: "function_call_output", call_id: "call_other", output: "x" }] })), "No tool call found for function call output with call_id call_other.", "input");
  const answered = await send(valid({ previous_response_id: first.id, input: [{ type: "function_call_output", call_id: "call_open", output: "18°C" }] }));
  assert.equal(answered.status, 200);
});

test("item references resolve to items this deployment stored; conversations and prompts it has none of", async () => {
  ctx.upstream.script("gpt", [{ type: "tool_call", name: "get_weather", arguments: { city: "Paris" }, id: "call_ref" }]);
  const first = await (await send(valid({ tools: [weather] }))).json();
  const reference = { type: "item_reference", id: first.output[0].id };
  assert.equal((await send(valid({ input: [reference, { type: "function_call_output", call_id: "call_ref", output: "18°C" }] }))).status, 200);
  await expectError(await send(valid({ input: [{ type: "item_reference", id: "fc_missing" }] })), 404, { message: "Item with id 'fc_missing' not found.", param: "input" });
  await expectError(await send(valid({ conversation: "conv_123" })), 404, { message: "Conversation with id 'conv_123' not found.", param: "conversation" });
  await invalid(await send(valid({ conversation: { id: "thread_1" } })), "Invalid 'conversation': 'thread_1'. Expected an ID that begins with 'conv'.", "conversation", "invalid_value");
  await expectError(await send(valid({ prompt: { id: "pmpt_1", version: "2" } })), 404, { message: "Prompt with id 'pmpt_1' not found.", param: "prompt" });
});

test("tools: the Responses shape (a chat-shaped tool lacks its name), a name by the pattern, strict schemas closed", async () => {
  await missing(await send(valid({ tools: [{ type: "function", function: { name: "get_weather", parameters: {} } }] })), "tools[0].name");
  await missing(await send(valid({ tools: [{ name: "get_weather" }] })), "tools[0].type");
  await invalid(await send(valid({ tools: [{ ...weather, name: "get weather" }] })), "Invalid 'tools[0].name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.", "tools[0].name", "invalid_value");
  const open = { type: "object", properties: { city: { type: "string" } }, required: ["city"] };
  await invalid(await send(valid({ tools: [{ ...weather, parameters: open }] })), "Invalid schema for function 'get_weather': In context=(), 'additionalProperties' is required to be supplied and to be false.", "tools[0].parameters", "invalid_function_parameters");
  const partial = { type: "object", properties: { city: { type: "string" }, unit: { type: "string" } }, required: ["city"], additionalProperties: false };
  await invalid(await send(valid({ tools: [{ ...weather, parameters: partial }] })), "Invalid schema for function 'get_weather': In context=(), 'required' is required to be supplied and to be an array including every key in properties. Missing 'unit'.", "tools[0].parameters", "invalid_function_parameters");
  const nested = { type: "object", properties: { place: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } }, required: ["place"], additionalProperties: false };
  await invalid(await send(valid({ tools: [{ ...weather, parameters: nested }] })), "Invalid schema for function 'get_weather': In context=('properties', 'place'), 'additionalProperties' is required to be supplied and to be false.", "tools[0].parameters", "invalid_function_parameters");
  assert.equal((await send(valid({ tools: [{ ...weather, parameters: open, strict: false }] }))).status, 200, "a loose schema is fine when not strict");
  assert.equal((await send(valid({ tools: [{ type: "web_search" }, { type: "file_search", vector_store_ids: ["vs_1"] }] }))).status, 200);
  const { error } = await (await send(valid({ tools: [{ type: "retrieval" }] }))).json();
  assert.deepEqual([error.param, error.code], ["tools[0].type", "invalid_value"]);
});

test("tool_choice: an option, or a function of `tools` named at its top", async () => {
  await invalid(await send(valid({ tool_choice: "any" })), "Invalid value: 'any'. Supported values are: 'none', 'auto', and 'required'.", "tool_choice", "invalid_value");
  await missing(await send(valid({ tools: [weather], tool_choice: { type: "function", function: { name: "get_weather" } } })), "tool_choice.name");
  await invalid(await send(valid({ tools: [weather], tool_choice: { type: "function", name: "get_time" } })), "Tool choice 'function' not found in 'tools' parameter.", "tool_choice");
  assert.equal((await send(valid({ tools: [weather], tool_choice: { type: "function", name: "get_weather" } }))).status, 200);
  assert.equal((await send(valid({ tools: [weather], tool_choice: "required" }))).status, 200);
});

test("text.format: json_schema needs its name and schema; json_object needs the word json in the input", async () => {
  await missing(await send(valid({ text: { format: { type: "json_schema", schema: { type: "object" } } } })), "text.format.name");
  await missing(await send(valid({ text: { format: { type: "json_schema", name: "answer" } } })), "text.format.schema");
  await invalid(await send(valid({ text: { format: { type: "json_object" } } })), "Response input messages must contain the word 'json' in some form to use 'text.format' of type 'json_object'.", "input");
  assert.equal((await send(valid({ input: "Answer in JSON.", text: { format: { type: "json_object" } } }))).status, 200);
  assert.equal((await send(valid({ instructions: "Reply with json.", text: { format: { type: "json_object" } } }))).status, 200);
});

test("a deployment serving some models refuses the others", async () => {
  await invalid(await send(valid(), AUTH, "mini-only"), "The requested model 'gpt-4.1' does not exist.", "model", "model_not_found");
  assert.equal((await send(valid({ model: "gpt-4.1-mini" }), AUTH, "mini-only")).status, 200);
});

test("a refused request consumes no behaviour", async () => {
  ctx.upstream.script("gpt", [{ type: "ok", content: "first" }]);
  await send(valid({ foo: 1 }));
  await send(valid(), {});
  await send(valid({ previous_response_id: "resp_nope" }));
  const body = await (await send(valid())).json();
  assert.equal(body.output[0].content[0].text, "first");
});

test("other methods and paths under /responses are an invalid URL; an unknown id a 404", async () => {
  await expectError(await fetch(url(), { headers: AUTH }), 404, { message: "Invalid URL (GET /v1/responses)" });
  await expectError(await fetch(`${url()}/resp_1/cancel`, { method: "POST", headers: AUTH }), 404, { message: "Invalid URL (POST /v1/responses/resp_1/cancel)" });
  await expectError(await fetch(`${url()}/resp_1`, { headers: AUTH }), 404, { message: "Response with id 'resp_1' not found." });
});

test("the official SDK raises BadRequestError with the param and code of a refusal", async () => {
  const sdk = new OpenAI({ apiKey: KEY, baseURL: ctx.upstream.base("gpt"), maxRetries: 0 });
  await assert.rejects(sdk.responses.create({ model: "gpt-4.1", input: "hi", previous_response_id: "resp_gone" }), (error) => {
    assert.ok(error instanceof OpenAI.BadRequestError);
    assert.equal(error.status, 400);
    assert.equal(error.param, "previous_response_id");
    assert.equal(error.code, "previous_response_not_found");
    assert.equal(error.message, "400 Previous response with id 'resp_gone' not found.");
    return true;
  });
});
