// The Gemini mock refuses what the Gemini API refuses, with its status, Google's error
// shape and the service's words: each case is a request a real client (or a wrong one,
// often with JSON-schema or OpenAI habits) sends.
import assert from "node:assert/strict";
import { test } from "node:test";
import { post, useUpstream } from "./helpers.mjs";

const KEY = "AIza-test-key";
const ctx = useUpstream((upstream) => {
  upstream.provider("gem", "gemini", { apiKey: KEY });
  upstream.provider("gem-only", "gemini", { apiKey: KEY, models: ["gemini-2.5-pro"] });
});
const url = (method = "generateContent", model = "gemini-2.5-flash", name = "gem") => `${ctx.upstream.base(name)}/v1beta/models/${model}:${method}`;
const user = (text = "Hello") => ({ role: "user", parts: [{ text }] });
const valid = (extra = {}) => ({ contents: [user()], ...extra });
const send = (body, headers = { "x-goog-api-key": KEY }, target = url()) => post(target, body, headers);
const tool = (declaration) => ({ tools: [{ functionDeclarations: [{ name: "get_weather", ...declaration }] }] });

/** Asserts Google's error shape, its code, status name and message (a string, or a pattern). */
async function expectGoogle(response, code, status, message) {
  assert.equal(response.status, code);
  assert.match(response.headers.get("content-type"), /^application\/json/);
  const { error } = await response.json();
  assert.equal(error.code, code);
  assert.equal(error.status, status);
  if (typeof message === "string") assert.equal(error.message, message);
  else assert.match(error.message, message);
  return error;
}
const invalid = (response, message) => expectGoogle(response, 400, "INVALID_ARGUMENT", message);

test("a valid request is answered and recorded; snake_case names are read as camelCase", async () => {
  assert.equal((await send(valid())).status, 200);
  const body = { contents: [user()], system_instruction: { parts: [{ text: "Be brief." }] }, generation_config: { max_output_tokens: "64", stop_sequences: ["x"], temperature: 0.5 }, safety_settings: [{ category: "HARM_CATEGORY_HATE_SPEECH", threshold: "BLOCK_NONE" }] };
  assert.equal((await send(body)).status, 200, "proto JSON reads either name, and int64/int32 from strings");
  assert.equal(ctx.upstream.requests[0].path, "/v1beta/models/gemini-2.5-flash:generateContent");
});

test("the key: none is a 403, another a 400 API_KEY_INVALID; ?key= is read too", async () => {
  await expectGoogle(await send(valid(), {}), 403, "PERMISSION_DENIED", /^Method doesn't allow unregistered callers/);
  const error = await invalid(await send(valid(), { "x-goog-api-key": "nope" }), "API key not valid. Please pass a valid API key.");
  assert.deepEqual(error.details[0], { "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "API_KEY_INVALID", domain: "googleapis.com", metadata: { service: "generativelanguage.googleapis.com" } });
  assert.equal(error.details[1]["@type"], "type.googleapis.com/google.rpc.LocalizedMessage");
  assert.equal((await send(valid(), {}, `${url()}?key=${KEY}`)).status, 200);
});

test("paths and methods it does not serve are a 404", async () => {
  await expectGoogle(await send(valid(), undefined, url("countTokensX")), 404, "NOT_FOUND", "Method not found.");
  await expectGoogle(await send(valid(), undefined, `${ctx.upstream.base("gem")}/v1beta/chat/completions`), 404, "NOT_FOUND", "Method not found.");
  await expectGoogle(await fetch(url(), { headers: { "x-goog-api-key": KEY } }), 404, "NOT_FOUND", "Method not found.");
});

test("a model it does not serve is a 404 naming the API version and method", async () => {
  await expectGoogle(await send(valid(), undefined, url("generateContent", "gemini-2.5-flash", "gem-only")), 404, "NOT_FOUND", "models/gemini-2.5-flash is not found for API version v1beta, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods.");
  assert.equal((await send(valid(), undefined, url("generateContent", "gemini-2.5-pro", "gem-only"))).status, 200);
});

test("a body that is not JSON is an invalid payload", async () => {
  await invalid(await send('{"contents": [', undefined), /^Invalid JSON payload received\. Unexpected token\./);
});

test("unknown names are refused, all at once, with their paths and BadRequest field violations", async () => {
  const error = await invalid(await send({ ...valid(), temperature: 0.2, generationConfig: { responseModalities: ["TEXT"], max_tokens: 5 } }), [
    "Invalid JSON payload received. Unknown name \"temperature\": Cannot find field.",
    "Invalid JSON payload received. Unknown name \"max_tokens\" at 'generation_config': Cannot find field.",
  ].join("\n"));
  assert.deepEqual(error.details[0].fieldViolations, [
    { description: "Invalid JSON payload received. Unknown name \"temperature\": Cannot find field." },
    { field: "generation_config", description: "Invalid JSON payload received. Unknown name \"max_tokens\" at 'generation_config': Cannot find field." },
  ]);
});

test("OpenAI habits are unknown names: messages, a role/content message, a type on a part", async () => {
  await invalid(await send({ messages: [{ role: "user", content: "hi" }] }), "Invalid JSON payload received. Unknown name \"messages\": Cannot find field.");
  await invalid(await send({ contents: [{ role: "user", content: "hi" }] }), "Invalid JSON payload received. Unknown name \"content\" at 'contents[0]': Cannot find field.");
  await invalid(await send({ contents: [{ role: "user", parts: [{ type: "text", text: "hi" }] }] }), "Invalid JSON payload received. Unknown name \"type\" at 'contents[0].parts[0]': Cannot find field.");
});

test("JSON-schema keywords Gemini's Schema lacks are refused in parameters and responseSchema", async () => {
  const parameters = { $schema: "http://json-schema.org/draft-07/schema#", type: "object", additionalProperties: false, properties: { city: { type: "string", const: "Paris" }, tags: { type: "array", items: { type: "object", properties: { a: { type: "string" } }, additionalProperties: false } } } };
  await invalid(await send(valid(tool({ parameters }))), [
    "Invalid JSON payload received. Unknown name \"$schema\" at 'tools[0].function_declarations[0].parameters': Cannot find field.",
    "Invalid JSON payload received. Unknown name \"additionalProperties\" at 'tools[0].function_declarations[0].parameters': Cannot find field.",
    "Invalid JSON payload received. Unknown name \"const\" at 'tools[0].function_declarations[0].parameters.properties[0].value': Cannot find field.",
    "Invalid JSON payload received. Unknown name \"additionalProperties\" at 'tools[0].function_declarations[0].parameters.properties[1].value.items': Cannot find field.",
  ].join("\n"));
  const responseSchema = { type: "object", properties: { a: { type: "string" } }, additionalProperties: false };
  await invalid(await send(valid({ generationConfig: { responseMimeType: "application/json", responseSchema } })), "Invalid JSON payload received. Unknown name \"additionalProperties\" at 'generation_config.response_schema': Cannot find field.");
  const jsonSchema = { $schema: "http://json-schema.org/draft-07/schema#", type: "object", additionalProperties: false, properties: {} };
  assert.equal((await send(valid(tool({ parametersJsonSchema: jsonSchema })))).status, 200, "parametersJsonSchema takes full JSON schema");
  assert.equal((await send(valid({ generationConfig: { responseMimeType: "application/json", responseJsonSchema: jsonSchema } }))).status, 200);
});

test("a list of types is refused: the proto field is not repeating", async () => {
  const parameters = { type: "object", properties: { city: { type: ["string", "null"] } } };
  await invalid(await send(valid(tool({ parameters }))), "Invalid JSON payload received. Unknown name \"type\" at 'tools[0].function_declarations[0].parameters.properties[0].value': Proto field is not repeating, cannot start list.");
});

test("values of the wrong type: numbers, booleans, enums, bytes, messages", async () => {
  await invalid(await send(valid({ generationConfig: { temperature: "hot" } })), "Invalid JSON payload received. Invalid value at 'generation_config.temperature' (TYPE_FLOAT), \"hot\"");
  await invalid(await send(valid({ generationConfig: { maxOutputTokens: 1.5 } })), "Invalid JSON payload received. Invalid value at 'generation_config.max_output_tokens' (TYPE_INT32), 1.5");
  await invalid(await send(valid({ generationConfig: { responseLogprobs: "yes" } })), "Invalid JSON payload received. Invalid value at 'generation_config.response_logprobs' (TYPE_BOOL), \"yes\"");
  await invalid(await send(valid({ toolConfig: { functionCallingConfig: { mode: "REQUIRED" } } })), "Invalid JSON payload received. Invalid value at 'tool_config.function_calling_config.mode' (type.googleapis.com/google.ai.generativelanguage.v1beta.FunctionCallingConfig.Mode), \"REQUIRED\"");
  await invalid(await send(valid(tool({ parameters: { type: "object", properties: { n: { type: "string", enum: [1, 2] } } } }))), /Invalid value at 'tools\[0\]\.function_declarations\[0\]\.parameters\.properties\[0\]\.value\.enum\[0\]' \(TYPE_STRING\), 1/);
  await invalid(await send({ contents: [{ role: "user", parts: [{ inlineData: { mimeType: "image/png", data: "not base64!" } }] }] }), "Invalid JSON payload received. Invalid value at 'contents[0].parts[0].inline_data.data' (TYPE_BYTES), Base64 decoding failed for \"not base64!\"");
  await invalid(await send(valid({ generationConfig: "fast" })), "Invalid JSON payload received. Invalid value at 'generation_config' (type.googleapis.com/google.ai.generativelanguage.v1beta.GenerationConfig), \"fast\"");
  await invalid(await send({ contents: [{ role: "model", parts: [{ functionCall: { name: "f", args: "{}" } }] }] }), /Invalid value at 'contents\[0\]\.parts\[0\]\.function_call\.args' \(type\.googleapis\.com\/google\.protobuf\.Struct\), "\{\}"/);
});

test("a part holds one datum: two are a oneof conflict, none a missing oneof", async () => {
  await invalid(await send({ contents: [{ role: "user", parts: [{ text: "a", inlineData: { mimeType: "image/png", data: "iVBORw0K" } }] }] }), "Invalid JSON payload received. Oneof field 'data' is already set. Cannot set 'inlineData'");
  await invalid(await send({ contents: [{ role: "user", parts: [{}] }] }), "* GenerateContentRequest.contents[0].parts[0].data: required oneof field 'data' must have one initialized field\n");
  await invalid(await send({ contents: [{ role: "user", parts: [{ text: "" }] }] }), "* GenerateContentRequest.contents[0].parts[0].data: required oneof field 'data' must have one initialized field\n");
});

test("contents are required, each with parts; the request's rule failures are listed together", async () => {
  await invalid(await send({}), "* GenerateContentRequest.contents: contents is not specified\n");
  await invalid(await send({ contents: [] }), "* GenerateContentRequest.contents: contents is not specified\n");
  await invalid(await send({ contents: [user(), { role: "model", parts: [] }, { role: "user" }] }), "* GenerateContentRequest.contents[1].parts: contents.parts must not be empty.\n* GenerateContentRequest.contents[2].parts: contents.parts must not be empty.\n");
});

test("function declarations: a valid name, properties for an OBJECT, items for an ARRAY", async () => {
  await invalid(await send(valid(tool({ name: "get weather" }))), /^\* GenerateContentRequest\.tools\[0\]\.function_declarations\[0\]\.name: Invalid function name\. Must start with a letter or an underscore\./);
  await invalid(await send(valid(tool({ parameters: { type: "object" } }))), "* GenerateContentRequest.tools[0].function_declarations[0].parameters.properties: should be non-empty for OBJECT type\n");
  await invalid(await send(valid(tool({ parameters: { type: "OBJECT", properties: { tags: { type: "ARRAY" } } } }))), "* GenerateContentRequest.tools[0].function_declarations[0].parameters.properties[0].value.items: missing field.\n");
  assert.equal((await send(valid(tool({ description: "no parameters at all" })))).status, 200);
});

test("roles are user and model; OpenAI's system and assistant are refused", async () => {
  await invalid(await send({ contents: [{ role: "system", parts: [{ text: "Be brief." }] }, user()] }), "Please use a valid role: user, model.");
  await invalid(await send({ contents: [user(), { role: "assistant", parts: [{ text: "Hi" }] }, user()] }), "Please use a valid role: user, model.");
  assert.equal((await send({ contents: [{ parts: [{ text: "no role is a user turn" }] }] })).status, 200);
});

test("a function call turn follows a user turn and is answered by as many responses as calls", async () => {
  const call = (name) => ({ functionCall: { name, args: {} } });
  const answer = (name) => ({ functionResponse: { name, response: { ok: true } } });
  await invalid(await send({ contents: [{ role: "model", parts: [call("a")] }, { role: "user", parts: [answer("a")] }] }), "Please ensure that function call turn comes immediately after a user turn or after a function response turn.");
  await invalid(await send({ contents: [user(), { role: "model", parts: [{ text: "Hm." }] }, { role: "model", parts: [call("a")] }] }), "Please ensure that function call turn comes immediately after a user turn or after a function response turn.");
  await invalid(await send({ contents: [user(), { role: "model", parts: [call("a"), call("b")] }, { role: "user", parts: [answer("a")] }] }), "Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.");
  assert.equal((await send({ contents: [user(), { role: "model", parts: [call("a"), call("b")] }, { role: "user", parts: [answer("a"), answer("b")] }] })).status, 200);
});

test("allowedFunctionNames is refused outside ANY", async () => {
  const config = (mode) => ({ toolConfig: { functionCallingConfig: { mode, allowedFunctionNames: ["get_weather"] } } });
  await invalid(await send(valid({ ...tool({}), ...config("AUTO") })), /^\* GenerateContentRequest\.tool_config\.function_calling_config\.allowed_function_names: /);
  assert.equal((await send(valid({ ...tool({}), ...config("ANY") }))).status, 200);
  assert.equal((await send(valid({ ...tool({}), toolConfig: { functionCallingConfig: { mode: "none" } } }))).status, 200, "enums are read in any case");
});

test("batchEmbedContents: each request names the URL's model and has parts", async () => {
  const target = url("batchEmbedContents", "text-embedding-004");
  const embed = (model, parts = [{ text: "x" }]) => ({ model, content: { parts } });
  await invalid(await send({ requests: [embed("models/text-embedding-004"), embed("models/other")] }, undefined, target), /^\* BatchEmbedContentsRequest\.requests\[1\]\.model: /);
  await invalid(await send({ requests: [embed("models/text-embedding-004", [])] }, undefined, target), "* BatchEmbedContentsRequest.requests[0].content.parts: contents.parts must not be empty.\n");
  await invalid(await send({ requests: [{ ...embed("models/text-embedding-004"), taskType: "SEARCH" }] }, undefined, target), /Invalid value at 'requests\[0\]\.task_type'/);
  assert.equal((await send({ requests: [{ ...embed("models/text-embedding-004"), taskType: "RETRIEVAL_QUERY" }] }, undefined, target)).status, 200);
});

test("a refused request consumes no scripted behaviour", async () => {
  ctx.upstream.script("gem", [{ type: "overloaded" }]);
  await invalid(await send({ contents: [] }), /contents is not specified/);
  assert.equal((await send(valid())).status, 503);
});
