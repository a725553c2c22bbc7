// The Anthropic mock answers each behaviour as the Messages API does: messages, SSE
// streams with Anthropic's event sequence and timing, errors; and Anthropic's official
// SDK parses all of them (its messages, streams and error classes).
import assert from "node:assert/strict";
import { test } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { parseSse, post, readFor, useUpstream } from "./helpers.mjs";

const KEY = "sk-ant-test";
const ctx = useUpstream((upstream) => upstream.provider("claude", "anthropic", { apiKey: KEY }));
const HEADERS = { "x-api-key": KEY, "anthropic-version": "2023-06-01" };
const request = (extra = {}) => ({ model: "claude-sonnet-4-5", max_tokens: 1024, messages: [{ role: "user", content: "What's the weather in Paris?" }], ...extra });
const send = (extra) => post(`${ctx.upstream.base("claude")}/v1/messages`, request(extra), HEADERS);
const script = (...behaviours) => ctx.upstream.script("claude", behaviours);
const sdk = () => new Anthropic({ apiKey: KEY, baseURL: ctx.upstream.base("claude"), maxRetries: 0 });
const weather = { name: "get_weather", description: "Weather of a city", input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } };

test("ok answers a message with a msg_ id, a text block, end_turn and usage", async () => {
  script({ type: "ok", content: "Sunny in Paris.", totalTokens: 30 });
  const response = await send();
  assert.equal(response.status, 200);
  assert.match(response.headers.get("request-id"), /^req_/);
  const message = await response.json();
  assert.match(message.id, /^msg_01[A-Za-z0-9]{22}$/);
  assert.equal(message.type, "message");
  assert.equal(message.role, "assistant");
  assert.equal(message.model, "claude-sonnet-4-5");
  assert.deepEqual(message.content, [{ type: "text", text: "Sunny in Paris." }]);
  assert.equal(message.stop_reason, "end_turn");
  assert.equal(message.stop_sequence, null);
  assert.equal(message.usage.input_tokens + message.usage.output_tokens, 30);
  assert.equal(message.usage.cache_read_input_tokens, 0);
  assert.equal(message.usage.cache_creation_input_tokens, 0);
});

test("a scripted usage is merged into the one reported (cache tokens)", async () => {
  script({ type: "ok", usage: { cache_read_input_tokens: 1200, cache_creation_input_tokens: 40 } });
  const { usage } = await (await send()).json();
  assert.equal(usage.cache_read_input_tokens, 1200);
  assert.equal(usage.cache_creation_input_tokens, 40);
});

test("a streamed answer is Anthropic's event sequence, each event named for its type", async () => {
  script({ type: "ok", content: "Sunny in Paris." });
  const response = await send({ stream: true });
  assert.match(response.headers.get("content-type"), /^text\/event-stream/);
  const events = parseSse(await response.text());
  for (const { event, data } of events) assert.equal(event, data.type);
  assert.deepEqual(events.map((e) => e.event), [
    "message_start", "content_block_start", "ping",
    "content_block_delta", "content_block_delta", "content_block_delta",
    "content_block_stop", "message_delta", "message_stop",
  ]);
  const [start, blockStart] = events.map((e) => e.data);
  assert.deepEqual(start.message.content, []);
  assert.equal(start.message.stop_reason, null);
  assert.deepEqual(blockStart.content_block, { type: "text", text: "" });
  const text = events.filter((e) => e.event === "content_block_delta").map((e) => e.data.delta.text).join("");
  assert.equal(text, "Sunny in Paris.");
  const delta = events.find((e) => e.event === "message_delta").data;
  assert.equal(delta.delta.stop_reason, "end_turn");
  assert.equal(delta.usage.output_tokens, 3);
});

test("tool_call answers a tool_use block, and streams its input in input_json_delta fragments", async () => {
  const args = { city: "Paris", unit: "celsius" };
  script({ type: "tool_call", name: "get_weather", arguments: args, content: "Let me check." }, { type: "tool_call", name: "get_weather", arguments: args, id: "toolu_01fixed" });
  const message = await (await send({ tools: [weather] })).json();
  assert.equal(message.stop_reason, "tool_use");
  assert.deepEqual(message.content[0], { type: "text", text: "Let me check." });
  assert.equal(message.content[1].type, "tool_use");
  assert.match(message.content[1].id, /^toolu_01/);
  assert.equal(message.content[1].name, "get_weather");
  assert.deepEqual(message.content[1].input, args);

  const events = parseSse(await (await send({ tools: [weather], stream: true })).text());
  const start = events.find((e) => e.event === "content_block_start").data;
  assert.deepEqual(start, { type: "content_block_start", index: 0, content_block: { type: "tool_use", id: "toolu_01fixed", name: "get_weather", input: {} } });
  const fragments = events.filter((e) => e.data.delta?.type === "input_json_delta").map((e) => e.data.delta.partial_json);
  assert.ok(fragments.length >= 3, `${fragments.length} fragments`);
  assert.deepEqual(JSON.parse(fragments.join("")), args);
  assert.equal(events.find((e) => e.event === "message_delta").data.delta.stop_reason, "tool_use");
});

test("the answer stops at max_tokens and at the first stop sequence it contains", async () => {
  script({ type: "ok", content: "one two three four five" });
  let message = await (await send({ max_tokens: 2 })).json();
  assert.equal(message.content[0].text, "one two");
  assert.equal(message.stop_reason, "max_tokens");
  assert.equal(message.usage.output_tokens, 2);
  script({ type: "ok", content: "one two END three" });
  message = await (await send({ stop_sequences: ["END", "two"] })).json();
  assert.equal(message.content[0].text, "one ");
  assert.equal(message.stop_reason, "stop_sequence");
  assert.equal(message.stop_sequence, "two");
});

test("content_filter and content_policy answer a refusal", async () => {
  script({ type: "content_filter", content: "I can't" }, { type: "content_policy" });
  const first = await (await send()).json();
  assert.equal(first.stop_reason, "refusal");
  assert.equal(first.content[0].text, "I can't");
  const events = parseSse(await (await send({ stream: true })).text());
  assert.deepEqual(events.map((e) => e.event), ["message_start", "ping", "message_delta", "message_stop"]);
  assert.equal(events[2].data.delta.stop_reason, "refusal");
});

test("errors: scripted statuses with Anthropic's types, 429 with retry-after, 529 overloaded, prompt too long", async () => {
  script(
    { type: "error", status: 500 },
    { type: "error", status: 403, message: "no access" },
    { type: "error", status: 400, errorType: "invalid_request_error", message: "bad" },
    { type: "rate_limit", retryAfter: 7 },
    { type: "overloaded" },
    { type: "context_window", tokens: 210000 },
  );
  const error = async () => {
    const response = await send();
    return { status: response.status, headers: response.headers, body: await response.json() };
  };
  let e = await error();
  assert.equal(e.status, 500);
  assert.deepEqual(e.body.error, { type: "api_error", message: "scripted error 500" });
  e = await error();
  assert.deepEqual([e.status, e.body.error.type, e.body.error.message], [403, "permission_error", "no access"]);
  e = await error();
  assert.deepEqual([e.status, e.body.error.type], [400, "invalid_request_error"]);
  e = await error();
  assert.equal(e.status, 429);
  assert.equal(e.body.error.type, "rate_limit_error");
  assert.equal(e.headers.get("retry-after"), "7");
  assert.equal(e.headers.get("anthropic-ratelimit-requests-remaining"), "0");
  e = await error();
  assert.deepEqual([e.status, e.body.error], [529, { type: "overloaded_error", message: "Overloaded" }]);
  e = await error();
  assert.deepEqual([e.status, e.body.error.message], [400, "prompt is too long: 210000 tokens > 200000 maximum"]);
});

test("a stream can fail midway with an error event after errorAfter chunks", async () => {
  script({ type: "stream", chunks: ["one", " two", " three"], errorAfter: 2 });
  const events = parseSse(await (await send({ stream: true })).text());
  assert.deepEqual(events.map((e) => e.event), ["message_start", "content_block_start", "ping", "content_block_delta", "content_block_delta", "error"]);
  assert.deepEqual(events.at(-1).data, { type: "error", error: { type: "overloaded_error", message: "Overloaded" } });
});

test("stream pacing: a chunk every delayMs, stallAfter leaves it open, breakAfter cuts it", async () => {
  script({ type: "stream", chunks: ["a", "b", "c", "d"], delayMs: 60 });
  const started = Date.now();
  const whole = await readFor(await send({ stream: true }), 2000);
  assert.equal(whole.ended, "done");
  assert.ok(Date.now() - started >= 220, `${Date.now() - started} ms for 4 chunks 60 ms apart`);
  const chunkTimes = ctx.upstream.events.filter((e) => e.kind === "chunk").map((e) => e.at);
  assert.equal(chunkTimes.length, 4);
  assert.ok(chunkTimes[3] - chunkTimes[0] >= 150);

  script({ type: "stream", chunks: ["a", "b", "c"], stallAfter: 1 });
  const stalled = await readFor(await send({ stream: true }), 300);
  assert.equal(stalled.ended, "open");
  assert.equal(parseSse(stalled.text).filter((e) => e.event === "content_block_delta").length, 1);

  script({ type: "stream", chunks: ["a", "b", "c"], delayMs: 20, breakAfter: 2 });
  const cut = await readFor(await send({ stream: true }), 2000);
  assert.equal(cut.ended, "cut");
  assert.equal(parseSse(cut.text).filter((e) => e.event === "content_block_delta").length, 2);
});

test("stall never answers, stall_body never ends, raw answers as scripted", async () => {
  script({ type: "stall" }, { type: "stall_body" }, { type: "raw", status: 502, body: "<html>bad gateway</html>", headers: { "content-type": "text/html" } });
  const controller = new AbortController();
  const init = { method: "POST", headers: { "content-type": "application/json", ...HEADERS }, body: JSON.stringify(request()), signal: controller.signal };
  const stalled = fetch(`${ctx.upstream.base("claude")}/v1/messages`, init).then(() => "answered", () => "aborted");
  const waited = await Promise.race([stalled, new Promise((resolve) => setTimeout(() => resolve("waiting"), 300))]);
  assert.equal(waited, "waiting");
  controller.abort();
  assert.equal(await stalled, "aborted");
  const body = await send();
  assert.equal(body.status, 200);
  assert.equal((await readFor(body, 300)).ended, "open");
  const raw = await send();
  assert.equal(raw.status, 502);
  assert.equal(await raw.text(), "<html>bad gateway</html>");
});

test("the official SDK parses a message, with its request id", async () => {
  script({ type: "ok", content: "Sunny in Paris." });
  const message = await sdk().messages.create(request());
  assert.equal(message.content[0].type, "text");
  assert.equal(message.content[0].text, "Sunny in Paris.");
  assert.equal(message.stop_reason, "end_turn");
  assert.match(message._request_id, /^req_/);
  const seen = ctx.upstream.requests.at(-1);
  assert.equal(seen.headers["anthropic-version"], "2023-06-01", "the SDK's version header passes the check");
});

test("the official SDK accumulates a streamed tool call into its final message", async () => {
  script({ type: "tool_call", name: "get_weather", arguments: { city: "Paris" }, content: "Checking." });
  const stream = sdk().messages.stream(request({ tools: [weather], tool_choice: { type: "auto" } }));
  const seen = [];
  stream.on("streamEvent", (event) => seen.push(event.type));
  const message = await stream.finalMessage();
  assert.equal(message.stop_reason, "tool_use");
  assert.equal(message.content[0].text, "Checking.");
  assert.deepEqual(message.content[1].input, { city: "Paris" });
  assert.equal(seen[0], "message_start");
  assert.equal(seen.at(-1), "message_stop");
});

test("the official SDK sends a multi-turn tool conversation the mock accepts", async () => {
  const messages = [
    { role: "user", content: "What's the weather in Paris?" },
    { role: "assistant", content: [{ type: "tool_use", id: "toolu_01A", name: "get_weather", input: { city: "Paris" } }] },
    { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_01A", content: "18°C" }] },
  ];
  const message = await sdk().messages.create(request({ system: "Be brief.", messages, tools: [weather], metadata: { user_id: "u1" }, temperature: 0.3 }));
  assert.equal(message.stop_reason, "end_turn");
});

test("the official SDK raises its error classes from the mock's errors", async () => {
  const client = sdk();
  await assert.rejects(client.messages.create(request({ max_tokens: 0 })), (error) => {
    assert.ok(error instanceof Anthropic.BadRequestError);
    assert.equal(error.status, 400);
    assert.equal(error.type, "invalid_request_error");
    assert.equal(error.error.error.message, "max_tokens: Input should be greater than or equal to 1");
    assert.match(error.requestID, /^req_/);
    return true;
  });
  await assert.rejects(new Anthropic({ apiKey: "wrong", baseURL: ctx.upstream.base("claude"), maxRetries: 0 }).messages.create(request()), Anthropic.AuthenticationError);
  script({ type: "rate_limit", retryAfter: 3 }, { type: "overloaded" });
  await assert.rejects(client.messages.create(request()), (error) => error instanceof Anthropic.RateLimitError && error.headers.get("retry-after") === "3");
  await assert.rejects(client.messages.create(request()), (error) => error instanceof Anthropic.InternalServerError && error.status === 529 && error.type === "overloaded_error");
});

test("the official SDK raises a stream's error event", async () => {
  script({ type: "stream", chunks: ["one", " two"], errorAfter: 1 });
  const stream = sdk().messages.stream(request());
  await assert.rejects(stream.finalMessage(), (error) => {
    assert.ok(error instanceof Anthropic.APIError);
    assert.equal(error.type, "overloaded_error");
    return true;
  });
});
