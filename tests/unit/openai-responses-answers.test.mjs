// The OpenAI mock's Responses API answers each behaviour as OpenAI does: response objects,
// the streamed event sequence with its sequence numbers, stored responses continued with
// previous_response_id and retrieved; and OpenAI's official SDK parses all of them (its
// responses, streams, retrieve and error classes).
import assert from "node:assert/strict";
import { test } from "node:test";
import OpenAI from "openai";
import { parseSse, post, readFor, useUpstream } from "./helpers.mjs";

const KEY = "sk-proj-test-0123456789abcdef";
const ctx = useUpstream((upstream) => upstream.provider("gpt", "openai", { apiKey: KEY }));
const AUTH = { authorization: `Bearer ${KEY}` };
const request = (extra = {}) => ({ model: "gpt-4.1", input: "What's the weather in Paris?", ...extra });
const send = (extra, name = "gpt") => post(`${ctx.upstream.base(name)}/responses`, request(extra), AUTH);
const script = (...behaviours) => ctx.upstream.script("gpt", behaviours);
const sdk = () => new OpenAI({ apiKey: KEY, baseURL: ctx.upstream.base("gpt"), maxRetries: 0 });
const weather = {
  type: "function",
  name: "get_weather",
  description: "Weather of a city",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"], additionalProperties: false },
  strict: true,
};
const HEX48 = /^[0-9a-f]{48}$/;

/** The events of a streamed response, each checked: named for its type, numbered in order from 0. */
async function eventsOf(response) {
  assert.match(response.headers.get("content-type"), /^text\/event-stream/);
  const events = parseSse(await response.text());
  for (const [index, { event, data }] of events.entries()) {
    assert.equal(event, data.type);
    assert.equal(data.sequence_number, index);
  }
  return events.map((e) => e.data);
}

test("ok answers a completed response: resp_ id, a message item with an output_text part, usage, the request echoed", async () => {
  script({ type: "ok", content: "Sunny in Paris.", totalTokens: 30 });
  const response = await send({ instructions: "Be brief.", temperature: 0.2, metadata: { user: "u1" }, max_output_tokens: 500 });
  assert.equal(response.status, 200);
  assert.match(response.headers.get("x-request-id"), /^req_[0-9a-f]{32}$/);
  const body = await response.json();
  assert.match(body.id.slice(5), HEX48);
  assert.ok(body.id.startsWith("resp_"));
  assert.equal(body.object, "response");
  assert.equal(body.status, "completed");
  assert.ok(Math.abs(body.created_at - Date.now() / 1000) < 5);
  assert.equal(body.completed_at >= body.created_at, true);
  assert.equal(body.model, "gpt-4.1");
  assert.equal(body.output.length, 1);
  const [message] = body.output;
  assert.ok(message.id.startsWith("msg_"));
  assert.match(message.id.slice(4), HEX48);
  assert.deepEqual({ ...message, id: "" }, {
    id: "",
    type: "message",
    status: "completed",
    content: [{ type: "output_text", annotations: [], logprobs: [], text: "Sunny in Paris." }],
    role: "assistant",
  });
  assert.deepEqual(body.usage, { input_tokens: 27, input_tokens_details: { cached_tokens: 0 }, output_tokens: 3, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 30 });
  assert.equal(body.error, null);
  assert.equal(body.incomplete_details, null);
  assert.equal(body.instructions, "Be brief.");
  assert.equal(body.temperature, 0.2);
  assert.equal(body.top_p, 1);
  assert.deepEqual(body.metadata, { user: "u1" });
  assert.equal(body.max_output_tokens, 500);
  assert.equal(body.previous_response_id, null);
  assert.equal(body.store, true);
  assert.equal(body.parallel_tool_calls, true);
  assert.equal(body.tool_choice, "auto");
  assert.deepEqual(body.tools, []);
  assert.deepEqual(body.text, { format: { type: "text" }, verbosity: "medium" });
  assert.deepEqual(body.reasoning, { effort: null, summary: null });
  assert.equal(body.truncation, "disabled");
  assert.equal(body.service_tier, "default");
  assert.equal(body.background, false);
  assert.equal("output_text" in body, false, "output_text is the SDK's, not the API's");
});

test("function tools are echoed with strict resolved: as sent, else whether the schema is already strict", async () => {
  const loose = { type: "function", name: "lookup", parameters: { type: "object", properties: { q: { type: "string" } } } };
  const { strict: _, ...closed } = weather;
  const body = await (await send({ tools: [weather, loose, closed, { ...loose, name: "off", strict: false }, { type: "web_search" }] })).json();
  assert.deepEqual(body.tools.map((tool) => [tool.name ?? tool.type, tool.strict]), [["get_weather", true], ["lookup", false], ["get_weather", true], ["off", false], ["web_search", undefined]]);
  assert.deepEqual(body.tools[1], { type: "function", name: "lookup", description: null, parameters: loose.parameters, strict: false });
});

test("a streamed answer is the Responses event sequence, numbered from 0, with no [DONE]", async () => {
  script({ type: "ok", content: "Sunny in Paris." });
  const response = await send({ stream: true });
  assert.equal(response.status, 200);
  const text = await response.clone().text();
  assert.equal(text.includes("[DONE]"), false);
  const events = await eventsOf(response);
  assert.deepEqual(events.map((e) => e.type), [
    "response.created", "response.in_progress",
    "response.output_item.added", "response.content_part.added",
    "response.output_text.delta", "response.output_text.delta", "response.output_text.delta",
    "response.output_text.done", "response.content_part.done", "response.output_item.done",
    "response.completed",
  ]);
  const [created, progress, added, part] = events;
  assert.equal(created.response.status, "in_progress");
  assert.deepEqual(created.response.output, []);
  assert.equal(created.response.usage, null);
  assert.equal(created.response.service_tier, "auto");
  assert.deepEqual(progress.response, created.response);
  assert.deepEqual(added.item, { id: added.item.id, type: "message", status: "in_progress", content: [], role: "assistant" });
  assert.deepEqual(part, { type: "response.content_part.added", sequence_number: 3, item_id: added.item.id, output_index: 0, content_index: 0, part: { type: "output_text", annotations: [], logprobs: [], text: "" } });
  const deltas = events.filter((e) => e.type === "response.output_text.delta");
  assert.equal(deltas.map((e) => e.delta).join(""), "Sunny in Paris.");
  for (const delta of deltas) {
    assert.equal(delta.item_id, added.item.id);
    assert.deepEqual(delta.logprobs, []);
    assert.match(delta.obfuscation, /^[A-Za-z0-9]+$/);
  }
  assert.equal(events[7].text, "Sunny in Paris.");
  assert.equal(events[8].part.text, "Sunny in Paris.");
  assert.equal(events[9].item.status, "completed");
  const completed = events.at(-1).response;
  assert.equal(completed.id, created.response.id);
  assert.equal(completed.status, "completed");
  assert.equal(completed.service_tier, "default");
  assert.deepEqual(completed.output, [events[9].item]);
  assert.equal(completed.usage.total_tokens, 8);
});

test("stream_options.include_obfuscation false leaves the deltas unpadded", async () => {
  script({ type: "tool_call", name: "get_weather", arguments: { city: "Paris" }, content: "Checking." });
  const events = await eventsOf(await send({ stream: true, stream_options: { include_obfuscation: false }, tools: [weather] }));
  const deltas = events.filter((e) => e.type.endsWith(".delta"));
  assert.ok(deltas.length > 3);
  for (const delta of deltas) assert.equal("obfuscation" in delta, false);
});

test("tool_call answers a function_call item (fc_ id, call_id, name, arguments) after the text, and streams its arguments", async () => {
  const args = { city: "Paris", unit: "celsius" };
  script({ type: "tool_call", name: "get_weather", arguments: args, content: "Let me check." }, { type: "tool_call", name: "get_weather", arguments: args, id: "call_fixed" });
  const body = await (await send({ tools: [weather] })).json();
  assert.equal(body.status, "completed");
  assert.equal(body.output.length, 2);
  assert.equal(body.output[0].content[0].text, "Let me check.");
  const call = body.output[1];
  assert.ok(call.id.startsWith("fc_"));
  assert.match(call.id.slice(3), HEX48);
  assert.match(call.call_id, /^call_[A-Za-z0-9]{24}$/);
  assert.deepEqual({ ...call, id: "", call_id: "" }, { id: "", type: "function_call", status: "completed", arguments: JSON.stringify(args), call_id: "", name: "get_weather" });

  const events = await eventsOf(await send({ tools: [weather], stream: true }));
  assert.deepEqual(events.map((e) => e.type), [
    "response.created", "response.in_progress", "response.output_item.added",
    "response.function_call_arguments.delta", "response.function_call_arguments.delta", "response.function_call_arguments.delta",
    "response.function_call_arguments.done", "response.output_item.done", "response.completed",
  ]);
  const added = events[2];
  assert.deepEqual(added.item, { id: added.item.id, type: "function_call", status: "in_progress", arguments: "", call_id: "call_fixed", name: "get_weather" });
  const fragments = events.filter((e) => e.type === "response.function_call_arguments.delta");
  assert.deepEqual(JSON.parse(fragments.map((e) => e.delta).join("")), args);
  for (const fragment of fragments) assert.deepEqual([fragment.item_id, fragment.output_index], [added.item.id, 0]);
  const done = events[6];
  assert.deepEqual([done.arguments, done.name, done.item_id], [JSON.stringify(args), "get_weather", added.item.id]);
  assert.equal(events.at(-1).response.output[0].call_id, "call_fixed");
});

test("an OpenAI deployment not declared serves /responses under its /v1 base, with no key asked", async () => {
  ctx.upstream.script("oa", [{ type: "ok", content: "hello" }]);
  const response = await post(`${ctx.upstream.base("oa")}/responses`, request());
  assert.equal(response.status, 200);
  assert.equal((await response.json()).output[0].content[0].text, "hello");
  assert.equal(ctx.upstream.requests.at(-1).path, "/responses");
  assert.equal(ctx.upstream.requests.at(-1).deployment, "oa");
});

test("the official SDK creates a response, with its output_text and request id", async () => {
  script({ type: "ok", content: "Sunny in Paris." });
  const response = await sdk().responses.create(request());
  assert.equal(response.output_text, "Sunny in Paris.");
  assert.equal(response.status, "completed");
  assert.match(response._request_id, /^req_/);
  assert.equal(ctx.upstream.requests.at(-1).headers.authorization, `Bearer ${KEY}`);
});

test("the official SDK streams with for await, and its .stream() helper gives the final response", async () => {
  script({ type: "ok", content: "Sunny in Paris." }, { type: "tool_call", name: "get_weather", arguments: { city: "Paris" }, content: "Checking." });
  const stream = await sdk().responses.create(request({ stream: true }));
  const types = [];
  let text = "";
  for await (const event of stream) {
    types.push(event.type);
    if (event.type === "response.output_text.delta") text += event.delta;
  }
  assert.equal(text, "Sunny in Paris.");
  assert.equal(types[0], "response.created");
  assert.equal(types.at(-1), "response.completed");

  const helper = sdk().responses.stream(request({ tools: [weather] }));
  const argumentSnapshots = [];
  helper.on("response.function_call_arguments.delta", (event) => argumentSnapshots.push(event.snapshot));
  const final = await helper.finalResponse();
  assert.equal(final.output[0].content[0].text, "Checking.");
  assert.equal(final.output[1].type, "function_call");
  assert.deepEqual(JSON.parse(final.output[1].arguments), { city: "Paris" });
  assert.equal(argumentSnapshots.at(-1), final.output[1].arguments);
});

test("a two-turn function call: previous_response_id and a function_call_output continue the stored response", async () => {
  const client = sdk();
  script({ type: "tool_call", name: "get_weather", arguments: { city: "Paris" } }, { type: "ok", content: "It is 18°C in Paris." }, { type: "ok", content: "You're welcome." });
  const first = await client.responses.create(request({ tools: [weather] }));
  const call = first.output.find((item) => item.type === "function_call");
  assert.equal(call.name, "get_weather");

  const second = await client.responses.create({
    model: "gpt-4.1",
    previous_response_id: first.id,
    input: [{ type: "function_call_output", call_id: call.call_id, output: JSON.stringify({ celsius: 18 }) }],
    tools: [weather],
  });
  assert.equal(second.output_text, "It is 18°C in Paris.");
  assert.equal(second.previous_response_id, first.id);
  assert.notEqual(second.id, first.id);
  assert.equal(ctx.upstream.requests.at(-1).body.previous_response_id, first.id);

  // The call and its output are now in the conversation: a third turn continues from there.
  const third = await client.responses.create({ model: "gpt-4.1", previous_response_id: second.id, input: "Thanks!" });
  assert.equal(third.output_text, "You're welcome.");

  const retrieved = await client.responses.retrieve(first.id);
  assert.deepEqual({ ...retrieved, output_text: undefined }, { ...first, output_text: undefined });
  assert.equal((await client.responses.retrieve(second.id)).output_text, "It is 18°C in Paris.");
});

test("the whole conversation may also be sent again without previous_response_id", async () => {
  const call = { type: "function_call", id: "fc_1", call_id: "call_1", name: "get_weather", arguments: '{"city":"Paris"}' };
  const input = [
    { role: "user", content: "What's the weather in Paris?" },
    call,
    { type: "function_call_output", call_id: "call_1", output: [{ type: "input_text", text: "18°C" }] },
    { type: "message", role: "assistant", content: [{ type: "output_text", text: "18°C." }] },
    { role: "user", content: [{ type: "input_text", text: "And tomorrow?" }, { type: "input_image", image_url: "https://example.com/map.png", detail: "low" }] },
  ];
  const response = await sdk().responses.create(request({ input, tools: [weather], tool_choice: { type: "function", name: "get_weather" } }));
  assert.equal(response.status, "completed");
  assert.deepEqual(response.tool_choice, { type: "function", name: "get_weather" });
});

test("store: false is not kept: not retrievable, not continued; stores are the deployment's own and reset empties them", async () => {
  const client = sdk();
  const unstored = await client.responses.create(request({ store: false }));
  assert.equal(unstored.store, false);
  await assert.rejects(client.responses.retrieve(unstored.id), (error) => error instanceof OpenAI.NotFoundError && error.message === `404 Response with id '${unstored.id}' not found.`);
  await assert.rejects(client.responses.create(request({ previous_response_id: unstored.id })), (error) => error instanceof OpenAI.BadRequestError && error.code === "previous_response_not_found");

  const stored = await client.responses.create(request());
  ctx.upstream.provider("other", "openai", { apiKey: KEY });
  const other = new OpenAI({ apiKey: KEY, baseURL: ctx.upstream.base("other"), maxRetries: 0 });
  await assert.rejects(other.responses.retrieve(stored.id), OpenAI.NotFoundError);
  await assert.rejects(other.responses.create(request({ previous_response_id: stored.id })), OpenAI.BadRequestError);
  assert.equal((await client.responses.retrieve(stored.id)).id, stored.id);
  ctx.upstream.reset();
  await assert.rejects(client.responses.retrieve(stored.id), OpenAI.NotFoundError);
});

test("a retrieve consumes no behaviour", async () => {
  script({ type: "ok", content: "first" }, { type: "ok", content: "second" });
  const client = sdk();
  const first = await client.responses.create(request());
  await client.responses.retrieve(first.id);
  assert.equal((await client.responses.create(request())).output_text, "second");
});

test("content_filter answers an incomplete response (reason content_filter), streamed ending with response.incomplete", async () => {
  script({ type: "content_filter", content: "I can" }, { type: "content_filter", content: "I can" });
  const body = await (await send()).json();
  assert.equal(body.status, "incomplete");
  assert.deepEqual(body.incomplete_details, { reason: "content_filter" });
  assert.equal(body.completed_at, null);
  assert.equal(body.output[0].status, "incomplete");
  assert.equal(body.output[0].content[0].text, "I can");
  const events = await eventsOf(await send({ stream: true }));
  assert.equal(events.at(-1).type, "response.incomplete");
  assert.deepEqual(events.at(-1).response.incomplete_details, { reason: "content_filter" });
  assert.equal(events.some((e) => e.type === "response.completed"), false);
});

test("an answer longer than max_output_tokens is cut there: incomplete, reason max_output_tokens", async () => {
  const words = Array.from({ length: 20 }, (_, i) => `w${i}`).join(" ");
  script({ type: "ok", content: words });
  const body = await (await send({ max_output_tokens: 16 })).json();
  assert.equal(body.status, "incomplete");
  assert.deepEqual(body.incomplete_details, { reason: "max_output_tokens" });
  assert.equal(body.output[0].content[0].text, words.split(" ").slice(0, 16).join(" "));
  assert.equal(body.usage.output_tokens, 16);
});

test("a scripted usage is merged into the one reported (cached tokens)", async () => {
  script({ type: "ok", usage: { input_tokens_details: { cached_tokens: 1024 } } });
  const { usage } = await (await send()).json();
  assert.deepEqual(usage.input_tokens_details, { cached_tokens: 1024 });
});

test("errorAfter fails a stream with response.failed: the response so far, status failed, error; the failed response is kept", async () => {
  script({ type: "stream", chunks: ["one", " two", " three"], errorAfter: 2 });
  const events = await eventsOf(await send({ stream: true }));
  assert.deepEqual(events.map((e) => e.type), ["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added", "response.output_text.delta", "response.output_text.delta", "response.failed"]);
  const failed = events.at(-1).response;
  assert.equal(failed.id, events[0].response.id);
  assert.equal(failed.status, "failed");
  assert.equal(failed.error.code, "server_error");
  assert.match(failed.error.message, /^An error occurred while processing your request/);
  assert.equal(failed.output[0].status, "in_progress");
  assert.equal(failed.output[0].content[0].text, "one two");
  const kept = await sdk().responses.retrieve(failed.id);
  assert.equal(kept.status, "failed");

  script({ type: "stream", chunks: ["one", " two"], errorAfter: 0, errorCode: "rate_limit_exceeded", errorMessage: "Slow down." });
  const early = await eventsOf(await send({ stream: true }));
  assert.deepEqual(early.at(-1).response.error, { code: "rate_limit_exceeded", message: "Slow down." });
  assert.equal(early.at(-1).sequence_number, 4);
  assert.equal(early.at(-1).response.output[0].content[0].text, "");
});

test("the SDK yields response.failed as an event; an errorEvent 'error' frame makes it throw", async () => {
  script({ type: "stream", chunks: ["one", " two"], errorAfter: 1 }, { type: "stream", chunks: ["one", " two"], errorAfter: 1, errorEvent: "error", errorCode: "server_error", errorMessage: "boom" });
  const types = [];
  for await (const event of await sdk().responses.create(request({ stream: true }))) types.push(event.type);
  assert.equal(types.at(-1), "response.failed");

  const events = parseSse(await (await send({ stream: true })).text());
  assert.deepEqual(events.at(-1), { event: "error", data: { type: "error", sequence_number: 5, error: { type: "server_error", code: "server_error", message: "boom", param: null } } });
  script({ type: "stream", chunks: ["one", " two"], errorAfter: 1, errorEvent: "error", errorMessage: "boom" });
  await assert.rejects(
    (async () => {
      for await (const _ of await sdk().responses.create(request({ stream: true }))) {
        // drain
      }
    })(),
    (error) => error instanceof OpenAI.APIError && error.message === "boom",
  );
});

test("stream pacing: a chunk every delayMs, stallAfter leaves it open (kept in progress), breakAfter cuts it", async () => {
  script({ type: "stream", chunks: ["a", "b", "c", "d"], delayMs: 60 });
  const started = Date.now();
  const whole = await readFor(await send({ stream: true }), 2000);
  assert.equal(whole.ended, "done");
  assert.ok(Date.now() - started >= 220, `${Date.now() - started} ms for 4 chunks 60 ms apart`);
  const chunkTimes = ctx.upstream.events.filter((e) => e.kind === "chunk").map((e) => e.at);
  assert.equal(chunkTimes.length, 4);

  script({ type: "stream", chunks: ["a", "b", "c"], stallAfter: 1 });
  const stalled = await readFor(await send({ stream: true }), 300);
  assert.equal(stalled.ended, "open");
  const seen = parseSse(stalled.text).map((e) => e.data);
  assert.equal(seen.filter((e) => e.type === "response.output_text.delta").length, 1);
  assert.equal((await sdk().responses.retrieve(seen[0].response.id)).status, "in_progress");

  script({ type: "stream", chunks: ["a", "b", "c"], delayMs: 20, breakAfter: 2 });
  const cut = await readFor(await send({ stream: true }), 2000);
  assert.equal(cut.ended, "cut");
  assert.equal(parseSse(cut.text).filter((e) => e.event === "response.output_text.delta").length, 2);
});

test("background: answered queued at once, the response done once retrieved after delayMs", async () => {
  script({ type: "ok", content: "Done later.", delayMs: 400 });
  const client = sdk();
  const queued = await client.responses.create(request({ background: true }));
  assert.equal(queued.status, "queued");
  assert.deepEqual(queued.output, []);
  assert.equal(queued.background, true);
  assert.equal((await client.responses.retrieve(queued.id)).status, "queued");
  await new Promise((resolve) => setTimeout(resolve, 600));
  const done = await client.responses.retrieve(queued.id);
  assert.equal(done.status, "completed");
  assert.equal(done.output_text, "Done later.");
});

test("errors: OpenAI's shape and statuses, read by the SDK's error classes", async () => {
  script(
    { type: "error", status: 500 },
    { type: "error", status: 403, message: "no access", code: "unsupported_country_region_territory" },
    { type: "rate_limit", retryAfter: 7 },
    { type: "overloaded" },
    { type: "context_window" },
    { type: "content_policy" },
  );
  const client = sdk();
  await assert.rejects(client.responses.create(request()), (error) => {
    assert.ok(error instanceof OpenAI.InternalServerError);
    assert.deepEqual(error.error, { message: "scripted error 500", type: "server_error", param: null, code: null });
    return true;
  });
  await assert.rejects(client.responses.create(request()), (error) => error instanceof OpenAI.PermissionDeniedError && error.code === "unsupported_country_region_territory" && error.type === "invalid_request_error");
  await assert.rejects(client.responses.create(request()), (error) => {
    assert.ok(error instanceof OpenAI.RateLimitError);
    assert.equal(error.code, "rate_limit_exceeded");
    assert.equal(error.type, "requests");
    assert.equal(error.headers.get("retry-after"), "7");
    assert.equal(error.headers.get("x-ratelimit-remaining-requests"), "0");
    assert.match(error.message, /^429 Rate limit reached for gpt-4.1 .* Please try again in 7s\./);
    return true;
  });
  await assert.rejects(client.responses.create(request()), (error) => error instanceof OpenAI.InternalServerError && error.status === 503 && error.type === "server_error");
  await assert.rejects(client.responses.create(request()), (error) => {
    assert.ok(error instanceof OpenAI.BadRequestError);
    assert.deepEqual(error.error, { message: "Your input exceeds the context window of this model. Please adjust your input and try again.", type: "invalid_request_error", param: "input", code: "context_length_exceeded" });
    return true;
  });
  await assert.rejects(client.responses.create(request()), (error) => error instanceof OpenAI.BadRequestError && error.code === "invalid_prompt" && /^400 Invalid prompt: your prompt was flagged/.test(error.message));
});

test("stall never answers, stall_body never ends, raw answers as scripted, reset drops the connection", async () => {
  script({ type: "stall" }, { type: "stall_body" }, { type: "raw", status: 502, body: "<html>bad gateway</html>", headers: { "content-type": "text/html" } }, { type: "reset" });
  const controller = new AbortController();
  const init = { method: "POST", headers: { "content-type": "application/json", ...AUTH }, body: JSON.stringify(request()), signal: controller.signal };
  const stalled = fetch(`${ctx.upstream.base("gpt")}/responses`, init).then(() => "answered", () => "aborted");
  const waited = await Promise.race([stalled, new Promise((resolve) => setTimeout(() => resolve("waiting"), 300))]);
  assert.equal(waited, "waiting");
  controller.abort();
  assert.equal(await stalled, "aborted");
  const body = await send();
  assert.equal(body.status, 200);
  const partial = await readFor(body, 300);
  assert.equal(partial.ended, "open");
  assert.match(partial.text, /^\{"id": "resp_[0-9a-f]{48}", "object": "response", "output": \[$/);
  const raw = await send();
  assert.equal(raw.status, 502);
  assert.equal(await raw.text(), "<html>bad gateway</html>");
  await assert.rejects(send(), TypeError);
});

test("echo_key repeats the Authorization header it was sent, in a 401 or in an answer's x-request-id", async () => {
  script({ type: "echo_key" }, { type: "echo_key", status: 200 });
  const refused = await send();
  assert.equal(refused.status, 401);
  assert.equal(refused.headers.get("x-request-id"), `req for Bearer ${KEY}`);
  assert.equal((await refused.json()).error.message, `Incorrect API key provided: Bearer ${KEY}`);
  const answered = await send();
  assert.equal(answered.status, 200);
  assert.equal(answered.headers.get("x-request-id"), `req for Bearer ${KEY}`);
  assert.equal((await answered.json()).object, "response");
});
