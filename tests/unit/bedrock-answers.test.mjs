// The Bedrock mock answers each behaviour as Bedrock's runtime does: Converse bodies,
// ConverseStream event-stream frames, embeddings, errors with x-amzn-ErrorType; and AWS's
// official SDK (@aws-sdk/client-bedrock-runtime) signs its requests, decodes the frames and
// raises its exceptions from them.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ConverseCommand, ConverseStreamCommand, InvokeModelCommand } from "@aws-sdk/client-bedrock-runtime";
import { EventStreamCodec } from "@smithy/eventstream-codec";
import { ACCESS_KEY_ID, SECRET, bedrockClient, signedPost } from "./aws-client.mjs";
import { readFor, useUpstream } from "./helpers.mjs";

const CLAUDE = "anthropic.claude-sonnet-4-5-20250929-v1:0";
const ctx = useUpstream((upstream) => upstream.provider("bed", "bedrock", { region: "us-east-1", accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET }));
const client = () => bedrockClient(ctx.upstream.base("bed"));
const script = (...behaviours) => ctx.upstream.script("bed", behaviours);
const user = (text = "What's the weather in Paris?") => ({ role: "user", content: [{ text }] });
const converse = (extra = {}) => client().send(new ConverseCommand({ modelId: CLAUDE, messages: [user()], ...extra }));
const converseStream = async (extra = {}) => {
  const events = [];
  const response = await client().send(new ConverseStreamCommand({ modelId: CLAUDE, messages: [user()], ...extra }));
  for await (const event of response.stream) events.push(event);
  return events;
};
const weather = { toolSpec: { name: "get_weather", description: "Weather of a city", inputSchema: { json: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } } } };
const url = (operation = "converse", model = CLAUDE) => `${ctx.upstream.base("bed")}/model/${encodeURIComponent(model)}/${operation}`;
const raw = (operation, body = { messages: [user()] }) => signedPost(url(operation), body);
const codec = new EventStreamCodec((bytes) => Buffer.from(bytes).toString("utf8"), (text) => new Uint8Array(Buffer.from(text)));

/** The frames of an event-stream body: { headers (name -> value), payload (parsed JSON) }. */
function decodeFrames(bytes) {
  const frames = [];
  for (let offset = 0; offset < bytes.length;) {
    const length = bytes.readUInt32BE(offset);
    const message = codec.decode(new Uint8Array(bytes.subarray(offset, offset + length)));
    frames.push({ headers: Object.fromEntries(Object.entries(message.headers).map(([name, header]) => [name, header.value])), payload: JSON.parse(Buffer.from(message.body).toString("utf8")) });
    offset += length;
  }
  return frames;
}

test("ok answers an assistant message with end_turn, usage and metrics; the SDK's request is recorded as sent", async () => {
  script({ type: "ok", content: "Sunny in Paris.", totalTokens: 30 });
  const answer = await converse({ inferenceConfig: { maxTokens: 512, temperature: 0.2 } });
  assert.deepEqual(answer.output, { message: { role: "assistant", content: [{ text: "Sunny in Paris." }] } });
  assert.equal(answer.stopReason, "end_turn");
  assert.deepEqual(answer.usage, { inputTokens: 27, outputTokens: 3, totalTokens: 30 });
  assert.equal(typeof answer.metrics.latencyMs, "number");
  assert.match(answer.$metadata.requestId, /^[0-9a-f-]{36}$/);
  const seen = ctx.upstream.requests.at(-1);
  assert.equal(seen.path, "/model/anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse", "the model id URL-encoded, : as %3A");
  assert.match(seen.headers.authorization, /^AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE\/\d{8}\/us-east-1\/bedrock\/aws4_request, /);
  assert.deepEqual(JSON.parse(seen.bytes.toString("utf8")), seen.body, "the signed bytes are kept");
});

test("tool_call answers a toolUse block with a tooluse_ id, its input an object, stopReason tool_use", async () => {
  script({ type: "tool_call", name: "get_weather", arguments: { city: "Paris" }, content: "Let me check." });
  const answer = await converse({ toolConfig: { tools: [weather], toolChoice: { auto: {} } } });
  assert.equal(answer.stopReason, "tool_use");
  const [text, { toolUse }] = answer.output.message.content;
  assert.deepEqual(text, { text: "Let me check." });
  assert.match(toolUse.toolUseId, /^tooluse_[A-Za-z0-9]{22}$/);
  assert.equal(toolUse.name, "get_weather");
  assert.deepEqual(toolUse.input, { city: "Paris" });
});

test("the answer stops at maxTokens and before the first stop sequence", async () => {
  script({ type: "ok", content: "one two three four" }, { type: "ok", content: "one two END three" });
  let answer = await converse({ inferenceConfig: { maxTokens: 2 } });
  assert.deepEqual([answer.output.message.content[0].text, answer.stopReason, answer.usage.outputTokens], ["one two", "max_tokens", 2]);
  answer = await converse({ inferenceConfig: { stopSequences: ["END"] } });
  assert.deepEqual([answer.output.message.content[0].text, answer.stopReason], ["one two ", "stop_sequence"]);
});

test("content_filter is the model's content_filtered; content_policy a guardrail's intervention", async () => {
  script({ type: "content_filter", content: "Partial" }, { type: "content_policy" });
  let answer = await converse();
  assert.deepEqual([answer.stopReason, answer.output.message.content], ["content_filtered", [{ text: "Partial" }]]);
  answer = await converse();
  assert.deepEqual([answer.stopReason, answer.output.message.content], ["guardrail_intervened", [{ text: "Sorry, the model cannot answer this question." }]]);
});

test("ConverseStream: the SDK decodes messageStart, text deltas, a toolUse block in fragments, messageStop and metadata", async () => {
  script({ type: "tool_call", name: "get_weather", arguments: { city: "Paris", unit: "celsius" }, content: "Checking." });
  const events = await converseStream({ toolConfig: { tools: [weather] } });
  assert.deepEqual(events.map((e) => Object.keys(e)[0]), [
    "messageStart", "contentBlockDelta", "contentBlockStop", "contentBlockStart",
    "contentBlockDelta", "contentBlockDelta", "contentBlockDelta", "contentBlockStop", "messageStop", "metadata",
  ]);
  assert.deepEqual(events[0].messageStart, { role: "assistant" });
  assert.deepEqual(events[1].contentBlockDelta, { contentBlockIndex: 0, delta: { text: "Checking." } });
  assert.equal(events[3].contentBlockStart.contentBlockIndex, 1);
  assert.equal(events[3].contentBlockStart.start.toolUse.name, "get_weather");
  const input = events.filter((e) => e.contentBlockDelta?.delta.toolUse).map((e) => e.contentBlockDelta.delta.toolUse.input).join("");
  assert.deepEqual(JSON.parse(input), { city: "Paris", unit: "celsius" });
  assert.equal(events.at(-2).messageStop.stopReason, "tool_use");
  assert.deepEqual(events.at(-1).metadata.usage, { inputTokens: 5, outputTokens: 3, totalTokens: 8 });
});

test("ConverseStream's bytes are event-stream frames of named events with padded JSON payloads", async () => {
  script({ type: "stream", chunks: ["a", "b"] });
  const response = await raw("converse-stream");
  assert.equal(response.headers.get("content-type"), "application/vnd.amazon.eventstream");
  const frames = decodeFrames(Buffer.from(await response.arrayBuffer()));
  assert.deepEqual(frames.map((f) => f.headers[":event-type"]), ["messageStart", "contentBlockDelta", "contentBlockDelta", "contentBlockStop", "messageStop", "metadata"]);
  for (const frame of frames) {
    assert.equal(frame.headers[":message-type"], "event");
    assert.equal(frame.headers[":content-type"], "application/json");
    assert.match(frame.payload.p, /^[A-Za-z0-9]+$/, "Bedrock pads each payload");
  }
});

test("a stream fails midway with an exception frame the SDK raises", async () => {
  script({ type: "stream", chunks: ["one", " two"], errorAfter: 1 }, { type: "stream", chunks: ["one", " two"], errorAfter: 1, exception: "throttlingException" });
  const seen = [];
  await assert.rejects(async () => {
    const response = await client().send(new ConverseStreamCommand({ modelId: CLAUDE, messages: [user()] }));
    for await (const event of response.stream) seen.push(event);
  }, (error) => {
    assert.equal(error.name, "ModelStreamErrorException");
    assert.equal(error.originalStatusCode, 529);
    return true;
  });
  assert.equal(seen.at(-1).contentBlockDelta.delta.text, "one");
  const frames = decodeFrames(Buffer.from(await (await raw("converse-stream")).arrayBuffer()));
  assert.deepEqual(frames.at(-1).headers, { ":exception-type": "throttlingException", ":content-type": "application/json", ":message-type": "exception" });
  assert.deepEqual(frames.at(-1).payload, { message: "Too many requests, please wait before trying again." });
});

test("errors: Bedrock's types in x-amzn-ErrorType, the SDK's exceptions, Anthropic's and others' prompt-too-long", async () => {
  script(
    { type: "rate_limit" },
    { type: "overloaded" },
    { type: "error", status: 500 },
    { type: "error", status: 424, message: "model failed" },
    { type: "context_window" },
    { type: "context_window" },
  );
  const rejected = async (promise, name, status, message) => {
    await assert.rejects(promise, (error) => {
      assert.deepEqual([error.name, error.$metadata.httpStatusCode], [name, status]);
      if (message) assert.equal(error.message, message);
      return true;
    });
  };
  await rejected(converse(), "ThrottlingException", 429, "Too many requests, please wait before trying again.");
  const overloaded = await raw("converse");
  assert.equal(overloaded.status, 503);
  assert.equal(overloaded.headers.get("x-amzn-errortype"), "ServiceUnavailableException:http://internal.amazon.com/coral/com.amazon.bedrock/");
  assert.equal(overloaded.headers.get("retry-after"), null);
  assert.deepEqual(await overloaded.json(), { message: "Bedrock is unable to process your request." });
  await rejected(converse(), "InternalServerException", 500, "scripted error 500");
  await rejected(converse(), "ModelErrorException", 424, "model failed");
  await rejected(converse(), "ValidationException", 400, "The model returned the following errors: prompt is too long: 208310 tokens > 200000 maximum");
  await rejected(client().send(new ConverseCommand({ modelId: "amazon.nova-pro-v1:0", messages: [user()] })), "ValidationException", 400, "Input is too long for requested model.");
});

test("stream pacing: stallAfter leaves it open, breakAfter cuts it", async () => {
  script({ type: "stream", chunks: ["a", "b", "c"], stallAfter: 1 }, { type: "stream", chunks: ["a", "b", "c"], delayMs: 20, breakAfter: 2 });
  assert.equal((await readFor(await raw("converse-stream"), 300)).ended, "open");
  assert.equal((await readFor(await raw("converse-stream"), 2000)).ended, "cut");
  assert.equal(ctx.upstream.events.filter((e) => e.kind === "chunk").length, 3, "one chunk, then two");
});

test("stall never answers, stall_body never ends, raw answers as scripted", async () => {
  script({ type: "stall_body" }, { type: "raw", status: 502, body: "<html>bad gateway</html>", headers: { "content-type": "text/html" } }, { type: "stall" });
  const body = await raw("converse");
  assert.equal(body.status, 200);
  assert.equal((await readFor(body, 300)).ended, "open");
  const scripted = await raw("converse");
  assert.deepEqual([scripted.status, await scripted.text()], [502, "<html>bad gateway</html>"]);
  const stalled = raw("converse").then(() => "answered", () => "cut");
  assert.equal(await Promise.race([stalled, new Promise((resolve) => setTimeout(() => resolve("waiting"), 300))]), "waiting");
});

test("InvokeModel embeds with Titan v1 and v2 and Cohere, each in its model's format", async () => {
  const invoke = async (modelId, body) => JSON.parse(Buffer.from((await client().send(new InvokeModelCommand({ modelId, body: JSON.stringify(body), contentType: "application/json", accept: "application/json" }))).body).toString("utf8"));
  const v1 = await invoke("amazon.titan-embed-text-v1", { inputText: "hello world" });
  assert.deepEqual([v1.embedding.length, v1.inputTextTokenCount], [1536, 2]);
  const v2 = await invoke("amazon.titan-embed-text-v2:0", { inputText: "hello", dimensions: 256, normalize: true });
  assert.equal(v2.embedding.length, 256);
  assert.deepEqual(v2.embeddingsByType.float, v2.embedding);
  const cohere = await invoke("cohere.embed-english-v3", { texts: ["Hello", "World"], input_type: "search_document" });
  assert.deepEqual(cohere.embeddings.map((e) => e.length), [1024, 1024]);
  assert.equal(cohere.response_type, "embeddings_floats");
  assert.deepEqual(cohere.texts, ["hello", "world"]);
  assert.match(cohere.id, /^[0-9a-f-]{36}$/);
  assert.equal(ctx.upstream.requests.at(-1).path, "/model/cohere.embed-english-v3/invoke");
});
