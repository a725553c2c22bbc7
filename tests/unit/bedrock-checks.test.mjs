// The Bedrock mock refuses what Bedrock's runtime refuses, with its status, error type
// (x-amzn-ErrorType) and words: every SigV4 failure AWS's front door reports, Bedrock API
// keys, the Converse body's types, constraints and conversation rules, the embedding
// models' schemas, and models it does not serve.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ConverseCommand } from "@aws-sdk/client-bedrock-runtime";
import { ACCESS_KEY_ID, SECRET, bedrockClient, signedPost } from "./aws-client.mjs";
import { post, useUpstream } from "./helpers.mjs";

const CLAUDE = "anthropic.claude-sonnet-4-5-20250929-v1:0";
const SESSION_TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE";
const ctx = useUpstream((upstream) => {
  upstream.provider("bed", "bedrock", { region: "us-east-1", accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET, models: [CLAUDE, "amazon.titan-embed-text-v2:0", "cohere.embed-english-v3", "meta.llama3-70b-instruct-v1:0"], deniedModels: ["meta.llama3-70b-instruct-v1:0"] });
  upstream.provider("bed-sts", "bedrock", { region: "eu-west-1", accessKeyId: "ASIAEXAMPLE", secretAccessKey: "temporary-secret", sessionToken: SESSION_TOKEN });
  upstream.provider("bed-key", "bedrock", { region: "us-east-1", apiKey: "ABSKQmVkcm9ja0FQSUtleS1leGFtcGxl" });
});
const url = (operation = "converse", model = CLAUDE, name = "bed") => `${ctx.upstream.base(name)}/model/${encodeURIComponent(model)}/${operation}`;
const user = (text = "Hello") => ({ role: "user", content: [{ text }] });
const assistant = (...content) => ({ role: "assistant", content });
const valid = (extra = {}) => ({ messages: [user()], ...extra });
const send = (body, options) => signedPost(url(), body, options);
const weather = { toolSpec: { name: "get_weather", inputSchema: { json: { type: "object", properties: { city: { type: "string" } } } } } };

/** Asserts Bedrock's refusal: status, x-amzn-ErrorType (type and namespace), body message. */
async function expectAws(response, status, type, message, { namespace = "com.amazon.bedrock", key = "message" } = {}) {
  assert.equal(response.status, status);
  assert.equal(response.headers.get("x-amzn-errortype"), `${type}:http://internal.amazon.com/coral/${namespace}/`);
  assert.match(response.headers.get("x-amzn-requestid"), /^[0-9a-f-]{36}$/);
  const body = await response.json();
  assert.deepEqual(Object.keys(body), [key]);
  if (typeof message === "string") assert.equal(body[key], message);
  else assert.match(body[key], message);
}
const FRONT_DOOR = { namespace: "com.amazon.coral.service" };
const invalid = (response, message) => expectAws(response, 400, "ValidationException", message);
const serialization = (response, message) => expectAws(response, 400, "SerializationException", message, { ...FRONT_DOOR, key: "Message" });

test("a wrong secret fails in the SDK as InvalidSignatureException, with the canonical request AWS expected", async () => {
  const client = bedrockClient(ctx.upstream.base("bed"), { secretAccessKey: "not-the-secret" });
  await assert.rejects(client.send(new ConverseCommand({ modelId: CLAUDE, messages: [user()] })), (error) => {
    assert.equal(error.name, "InvalidSignatureException");
    assert.equal(error.$metadata.httpStatusCode, 403);
    assert.match(error.message, /^The request signature we calculated does not match the signature you provided\. Check your AWS Secret Access Key and signing method\./);
    assert.match(error.message, /'POST\n\/bed\/model\/anthropic\.claude-sonnet-4-5-20250929-v1%253A0\/converse\n/, "the path encoded twice, as for every service but S3");
    assert.match(error.message, /The String-to-Sign should have been\n'AWS4-HMAC-SHA256\n\d{8}T\d{6}Z\n\d{8}\/us-east-1\/bedrock\/aws4_request\n[0-9a-f]{64}'/);
    return true;
  });
  assert.equal((await bedrockClient(ctx.upstream.base("bed")).send(new ConverseCommand({ modelId: CLAUDE, messages: [user()] }))).stopReason, "end_turn");
});

test("an unknown access key is UnrecognizedClientException; the session token must be the one issued", async () => {
  await assert.rejects(bedrockClient(ctx.upstream.base("bed"), { accessKeyId: "AKIAUNKNOWN" }).send(new ConverseCommand({ modelId: CLAUDE, messages: [user()] })), (error) => error.name === "UnrecognizedClientException" && error.message === "The security token included in the request is invalid.");
  const sts = (sessionToken) => bedrockClient(ctx.upstream.base("bed-sts"), { region: "eu-west-1", accessKeyId: "ASIAEXAMPLE", secretAccessKey: "temporary-secret", sessionToken });
  assert.equal((await sts(SESSION_TOKEN).send(new ConverseCommand({ modelId: CLAUDE, messages: [user()] }))).stopReason, "end_turn");
  assert.equal(ctx.upstream.requests.at(-1).headers["x-amz-security-token"], SESSION_TOKEN);
  for (const token of [undefined, "another-token"]) {
    await assert.rejects(sts(token).send(new ConverseCommand({ modelId: CLAUDE, messages: [user()] })), (error) => error.name === "UnrecognizedClientException");
  }
  await expectAws(await send(valid(), { sessionToken: "unexpected" }), 403, "UnrecognizedClientException", "The security token included in the request is invalid.", FRONT_DOOR);
});

test("the credential scope: another region, service or date", async () => {
  await assert.rejects(bedrockClient(ctx.upstream.base("bed"), { region: "us-west-2" }).send(new ConverseCommand({ modelId: CLAUDE, messages: [user()] })), (error) => error.name === "InvalidSignatureException" && error.message === "Credential should be scoped to a valid region. ");
  await expectAws(await send(valid(), { service: "bedrock-runtime" }), 403, "InvalidSignatureException", "Credential should be scoped to correct service: 'bedrock'. ", FRONT_DOOR);
  const signed = await fetch(url(), { method: "POST", headers: { authorization: `AWS4-HMAC-SHA256 Credential=${ACCESS_KEY_ID}/20200101/us-east-1/bedrock/aws4_request, SignedHeaders=host;x-amz-date, Signature=00`, "x-amz-date": "20200102T000000Z" }, body: "{}" });
  await expectAws(signed, 403, "InvalidSignatureException", "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20200101' != '20200102', from '20200102T000000Z'.", FRONT_DOOR);
});

test("X-Amz-Date more than 5 minutes away is expired or not yet current", async () => {
  await expectAws(await send(valid(), { signingDate: new Date(Date.now() - 10 * 60 * 1000) }), 403, "InvalidSignatureException", /^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 5 min\.\)$/, FRONT_DOOR);
  await expectAws(await send(valid(), { signingDate: new Date(Date.now() + 10 * 60 * 1000) }), 403, "InvalidSignatureException", /^Signature not yet current: \d{8}T\d{6}Z is still later than \d{8}T\d{6}Z \(\d{8}T\d{6}Z \+ 5 min\.\)$/, FRONT_DOOR);
  assert.equal((await send(valid(), { signingDate: new Date(Date.now() - 2 * 60 * 1000) })).status, 200, "within the skew");
});

test("the signature covers the body: bytes other than the signed ones fail, with or without a payload hash header", async () => {
  const mismatch = /^The request signature we calculated does not match the signature you provided\./;
  await expectAws(await send(valid(), { signedBody: JSON.stringify(valid({ inferenceConfig: { maxTokens: 10 } })) }), 403, "InvalidSignatureException", mismatch, FRONT_DOOR);
  await expectAws(await send(valid(), { checksum: false, signedBody: "{}" }), 403, "InvalidSignatureException", mismatch, FRONT_DOOR);
  assert.equal((await send(valid(), { checksum: false })).status, 200, "no x-amz-content-sha256: the body is hashed");
});

test("no Authorization, a malformed one, host unsigned", async () => {
  await expectAws(await post(url(), valid()), 403, "MissingAuthenticationTokenException", "Missing Authentication Token", FRONT_DOOR);
  await expectAws(await post(url(), valid(), { authorization: "AWS4-HMAC-SHA256 Credential=x" }), 403, "IncompleteSignatureException", /^Authorization header requires 'SignedHeaders' parameter\. Authorization header requires 'Signature' parameter\./, FRONT_DOOR);
  await expectAws(await post(url(), valid(), { authorization: "Basic dXNlcjpwYXNz" }), 403, "IncompleteSignatureException", /^Authorization header requires 'Credential' parameter\./, FRONT_DOOR);
  await expectAws(await send(valid(), { unsignable: new Set(["host"]) }), 403, "InvalidSignatureException", "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.", FRONT_DOOR);
});

test("a Bedrock API key is taken as a bearer token; another is refused", async () => {
  const keyed = (key) => post(url("converse", CLAUDE, "bed-key"), valid(), { authorization: `Bearer ${key}` });
  assert.equal((await keyed("ABSKQmVkcm9ja0FQSUtleS1leGFtcGxl")).status, 200);
  await expectAws(await keyed("ABSK-wrong"), 403, "UnrecognizedClientException", "The security token included in the request is invalid.", FRONT_DOOR);
  await expectAws(await post(url("converse", CLAUDE, "bed-key"), valid()), 403, "MissingAuthenticationTokenException", "Missing Authentication Token", FRONT_DOOR);
  await expectAws(await post(url(), valid(), { authorization: "Bearer ABSKQmVkcm9ja0FQSUtleS1leGFtcGxl" }), 403, "UnrecognizedClientException", "The security token included in the request is invalid.", FRONT_DOOR);
});

test("paths it does not serve are an UnknownOperationException", async () => {
  await expectAws(await signedPost(`${ctx.upstream.base("bed")}/v1/chat/completions`, valid()), 404, "UnknownOperationException", "Unknown operation", FRONT_DOOR);
  await expectAws(await signedPost(url("converse-streaming"), valid()), 404, "UnknownOperationException", "Unknown operation", FRONT_DOOR);
});

test("a body that is not JSON, or of wrong JSON types, is a SerializationException with Message", async () => {
  await serialization(await send("{not json"), /^Unexpected character/);
  await serialization(await send({ messages: [{ role: "user", content: "Hello" }] }), "STRING_VALUE can not be converted to a List");
  await serialization(await send(valid({ inferenceConfig: { maxTokens: "10" } })), "STRING_VALUE can not be converted to an Integer");
  await serialization(await send(valid({ inferenceConfig: { temperature: [0.5] } })), "Start of list found where not expected");
  await serialization(await send({ messages: { role: "user" } }), "Start of structure or map found where not expected.");
});

test("fields Converse does not know are refused: OpenAI's habits among them", async () => {
  await invalid(await send(valid({ model: CLAUDE })), "Malformed input request: #: extraneous key [model] is not permitted, please reformat your input and try again.");
  await invalid(await send({ messages: [{ role: "user", content: [{ type: "text", text: "Hello" }] }] }), "Malformed input request: #/messages/0/content/0: extraneous key [type] is not permitted, please reformat your input and try again.");
  await invalid(await send(valid({ inferenceConfig: { max_tokens: 10 } })), "Malformed input request: #/inferenceConfig: extraneous key [max_tokens] is not permitted, please reformat your input and try again.");
});

test("constraints are listed together in Smithy's words, list members counted from 1", async () => {
  await invalid(await send(valid({ inferenceConfig: { maxTokens: 0, temperature: 1.5, topP: -1 } })), "3 validation errors detected: Value '0' at 'inferenceConfig.maxTokens' failed to satisfy constraint: Member must have value greater than or equal to 1; Value '1.5' at 'inferenceConfig.temperature' failed to satisfy constraint: Member must have value less than or equal to 1; Value '-1' at 'inferenceConfig.topP' failed to satisfy constraint: Member must have value greater than or equal to 0");
  await invalid(await send({ messages: [user(), { role: "system", content: [{ text: "x" }] }] }), "1 validation error detected: Value 'system' at 'messages.2.member.role' failed to satisfy constraint: Member must satisfy enum value set: [user, assistant]");
  await invalid(await send({ messages: [{ role: "user" }] }), "1 validation error detected: Value null at 'messages.1.member.content' failed to satisfy constraint: Member must not be null");
  await invalid(await send({ messages: [{ role: "user", content: [{}] }] }), "1 validation error detected: Value at 'messages.1.member.content.1.member' failed to satisfy constraint: Member must have exactly one member set");
  await invalid(await send({ messages: [{ role: "user", content: [{ image: { format: "bmp", source: { bytes: "Qk0=" } } }] }] }), /Value 'bmp' at 'messages\.1\.member\.content\.1\.member\.image\.format' failed to satisfy constraint: Member must satisfy enum value set: \[png, jpeg, gif, webp\]/);
  await serialization(await send({ messages: [{ role: "user", content: [{ image: { format: "png", source: { bytes: "not base64!" } } }] }] }), /^Invalid Base64 encoding/);
  await invalid(await send(valid({ toolConfig: { tools: [{ toolSpec: { ...weather.toolSpec, name: "get weather" } }] } })), "1 validation error detected: Value 'get weather' at 'toolConfig.tools.1.member.toolSpec.name' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_-]+");
  await invalid(await send(valid({ toolConfig: { tools: [] } })), /Member must have length greater than or equal to 1/);
  await invalid(await send(valid({ toolConfig: { tools: [weather], toolChoice: { auto: {}, any: {} } } })), /Value at 'toolConfig\.toolChoice' failed to satisfy constraint: Member must have exactly one member set/);
});

test("Converse's conversation rules, in its words", async () => {
  await invalid(await send({ messages: [] }), "A conversation must start with a user message. Try again with a conversation that starts with a user message.");
  await invalid(await send({ messages: [assistant({ text: "Hi" }), user()] }), "A conversation must start with a user message. Try again with a conversation that starts with a user message.");
  await invalid(await send({ messages: [user(), user("Again")] }), "A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.");
  await invalid(await send({ messages: [user(), assistant({ text: " \n" }), user()] }), "The text field in the ContentBlock object at messages.1.content.0 is blank. Add text to the text field, and try again.");
  await invalid(await send(valid({ system: [{ text: "" }] })), "The text field in the SystemContentBlock object at system.0 is blank. Add text to the text field, and try again.");
  await invalid(await send(valid({ toolConfig: { tools: [{ toolSpec: { name: "f", inputSchema: { json: { type: "string" } } } }] } })), "The value at toolConfig.tools.0.toolSpec.inputSchema.json.type must be one of the following: object.");
});

test("toolUse and toolResult: toolConfig required, each use answered in the next message, and no more", async () => {
  const use = (id) => ({ toolUse: { toolUseId: id, name: "get_weather", input: { city: "Paris" } } });
  const result = (id) => ({ toolResult: { toolUseId: id, content: [{ json: { temperature: 18 } }], status: "success" } });
  await invalid(await send({ messages: [user(), assistant(use("t1")), { role: "user", content: [result("t1")] }] }), "The toolConfig field must be defined when using toolUse and toolResult content blocks.");
  const tools = { toolConfig: { tools: [weather] } };
  await invalid(await send({ messages: [user(), assistant(use("t1"), use("t2")), { role: "user", content: [result("t1")] }], ...tools }), "Expected toolResult blocks at messages.2.content for the following Ids: t2");
  await invalid(await send({ messages: [user(), assistant(use("t1")), { role: "user", content: [result("t1"), result("t9")] }], ...tools }), "The number of toolResult blocks at messages.2.content exceeds the number of toolUse blocks of previous turn.");
  assert.equal((await send({ messages: [user(), assistant({ text: "Checking." }, use("t1")), { role: "user", content: [result("t1"), { text: "Thanks" }] }], ...tools })).status, 200);
});

test("the embedding models' schemas, in InvokeModel's words", async () => {
  const embed = (model, body) => signedPost(url("invoke", model), body);
  const titan = "amazon.titan-embed-text-v2:0";
  await invalid(await embed(titan, { inputText: "hi", input: "hi" }), "Malformed input request: #: extraneous key [input] is not permitted, please reformat your input and try again.");
  await invalid(await embed(titan, { dimensions: 256 }), "Malformed input request: #: required key [inputText] not found, please reformat your input and try again.");
  await invalid(await embed(titan, { inputText: "hi", dimensions: 100 }), "Malformed input request: #/dimensions: 100 is not a valid enum value, please reformat your input and try again.");
  await invalid(await embed("cohere.embed-english-v3", { texts: ["hi"] }), "Malformed input request: #: required key [input_type] not found, please reformat your input and try again.");
  await invalid(await embed("cohere.embed-english-v3", { texts: ["hi"], input_type: "query" }), "Malformed input request: #/input_type: query is not a valid enum value, please reformat your input and try again.");
  await invalid(await embed(CLAUDE, { anthropic_version: "bedrock-2023-05-31" }), /^This mock serves InvokeModel for embedding models only/);
});

test("models: one it does not serve is a 404, one it refuses a 403", async () => {
  await expectAws(await signedPost(url("converse", "anthropic.claude-v9"), valid()), 404, "ResourceNotFoundException", "Could not resolve the foundation model from the provided model identifier.");
  await expectAws(await signedPost(url("converse", "meta.llama3-70b-instruct-v1:0"), valid()), 403, "AccessDeniedException", "You don't have access to the model with the specified model ID.");
});

test("a refused request consumes no scripted behaviour", async () => {
  ctx.upstream.script("bed", [{ type: "rate_limit" }]);
  await invalid(await send({ messages: [] }), /must start with a user message/);
  await expectAws(await send(valid(), { secretAccessKey: "wrong" }), 403, "InvalidSignatureException", /does not match/, FRONT_DOOR);
  assert.equal((await send(valid())).status, 429);
});
