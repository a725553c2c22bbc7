// The Gemini mock answers each behaviour as the Gemini API does: GenerateContentResponses,
// SSE streams of them in Google's framing, embeddings, errors in Google's shape; and
// Google's official SDK (@google/genai) parses all of them.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ApiError, GoogleGenAI } from "@google/genai";
import { post, readFor, useUpstream } from "./helpers.mjs";

const KEY = "AIza-test-key";
const MODEL = "gemini-2.5-flash";
const ctx = useUpstream((upstream) => upstream.provider("gem", "gemini", { apiKey: KEY, models: [MODEL, "text-embedding-004"] }));
const url = (method = "generateContent", model = MODEL) => `${ctx.upstream.base("gem")}/v1beta/models/${model}:${method}`;
const request = (extra = {}) => ({ contents: [{ role: "user", parts: [{ text: "What's the weather in Paris?" }] }], ...extra });
const send = (extra, method) => post(url(method), request(extra), { "x-goog-api-key": KEY });
const stream = (extra) => post(`${url("streamGenerateContent")}?alt=sse`, request(extra), { "x-goog-api-key": KEY });
const script = (...behaviours) => ctx.upstream.script("gem", behaviours);
const sdk = () => new GoogleGenAI({ apiKey: KEY, httpOptions: { baseUrl: ctx.upstream.base("gem") } });

/** The JSON objects of a Google SSE body, checking its `data: ...\r\n\r\n` framing. */
function frames(text) {
  assert.ok(text.endsWith("\r\n\r\n"), "each frame ends with CRLF CRLF");
  return text.split("\r\n\r\n").filter(Boolean).map((frame) => {
    assert.match(frame, /^data: /);
    return JSON.parse(frame.slice(6));
  });
}

test("ok answers a candidate with the text, STOP, usageMetadata, modelVersion and responseId", async () => {
  script({ type: "ok", content: "Sunny in Paris.", totalTokens: 30 });
  const response = await send();
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type"), /^application\/json/);
  const body = await response.json();
  assert.deepEqual(body.candidates, [{ content: { parts: [{ text: "Sunny in Paris." }], role: "model" }, finishReason: "STOP", index: 0 }]);
  assert.deepEqual(body.usageMetadata, { promptTokenCount: 27, candidatesTokenCount: 3, totalTokenCount: 30, promptTokensDetails: [{ modality: "TEXT", tokenCount: 27 }] });
  assert.equal(body.modelVersion, MODEL);
  assert.match(body.responseId, /^[A-Za-z0-9_-]{22}$/);
});

test("thoughtsTokens adds thoughtsTokenCount, counted in the total", async () => {
  script({ type: "ok", thoughtsTokens: 12 });
  const { usageMetadata } = await (await send()).json();
  assert.equal(usageMetadata.thoughtsTokenCount, 12);
  assert.equal(usageMetadata.totalTokenCount, 20);
});

test("tool_call answers a functionCall part after any text", async () => {
  script({ type: "tool_call", name: "get_weather", arguments: { city: "Paris" }, content: "Let me check." });
  const [candidate] = (await (await send()).json()).candidates;
  assert.deepEqual(candidate.content.parts, [{ text: "Let me check." }, { functionCall: { name: "get_weather", args: { city: "Paris" } } }]);
  assert.equal(candidate.finishReason, "STOP");
});

test("the answer stops at maxOutputTokens (MAX_TOKENS) and before a stop sequence (STOP)", async () => {
  script({ type: "ok", content: "one two three four" }, { type: "ok", content: "one two END three" });
  let body = await (await send({ generationConfig: { maxOutputTokens: 2 } })).json();
  assert.equal(body.candidates[0].content.parts[0].text, "one two");
  assert.equal(body.candidates[0].finishReason, "MAX_TOKENS");
  assert.equal(body.usageMetadata.candidatesTokenCount, 2);
  body = await (await send({ generationConfig: { stopSequences: ["END"] } })).json();
  assert.equal(body.candidates[0].content.parts[0].text, "one two ");
  assert.equal(body.candidates[0].finishReason, "STOP");
});

test("a stream is data frames with CRLF pairs: a chunk per piece, usage on each, the finish and full usage on the last", async () => {
  script({ type: "stream", chunks: ["Sunny", " in", " Paris."] });
  const response = await stream();
  assert.match(response.headers.get("content-type"), /^text\/event-stream/);
  const chunks = frames(await response.text());
  assert.equal(chunks.length, 3);
  assert.deepEqual(chunks.map((c) => c.candidates[0].content.parts[0].text), ["Sunny", " in", " Paris."]);
  assert.deepEqual(chunks.map((c) => c.candidates[0].finishReason), [undefined, undefined, "STOP"]);
  for (const chunk of chunks) assert.equal(chunk.usageMetadata.promptTokenCount, 5);
  assert.equal(chunks[0].usageMetadata.candidatesTokenCount, undefined);
  assert.equal(chunks[2].usageMetadata.candidatesTokenCount, 3);
  assert.equal(new Set(chunks.map((c) => c.responseId)).size, 1, "one responseId for the whole stream");
});

test("a streamed tool call comes whole in one chunk", async () => {
  script({ type: "tool_call", name: "get_weather", arguments: { city: "Paris", unit: "celsius" } });
  const chunks = frames(await (await stream()).text());
  assert.equal(chunks.length, 1);
  assert.deepEqual(chunks[0].candidates[0].content.parts, [{ functionCall: { name: "get_weather", args: { city: "Paris", unit: "celsius" } } }]);
  assert.equal(chunks[0].candidates[0].finishReason, "STOP");
});

test("content_filter finishes SAFETY with the blocked rating; content_policy blocks the prompt with no candidates", async () => {
  script({ type: "content_filter", content: "Partial" }, { type: "content_filter" }, { type: "content_policy" }, { type: "content_policy" });
  let body = await (await send()).json();
  assert.equal(body.candidates[0].finishReason, "SAFETY");
  assert.equal(body.candidates[0].content.parts[0].text, "Partial");
  assert.deepEqual(body.candidates[0].safetyRatings.find((r) => r.blocked), { category: "HARM_CATEGORY_DANGEROUS_CONTENT", probability: "HIGH", blocked: true });
  body = await (await send()).json();
  assert.equal(body.candidates[0].content, undefined, "nothing was said");
  body = await (await send()).json();
  assert.equal(body.candidates, undefined);
  assert.equal(body.promptFeedback.blockReason, "SAFETY");
  const chunks = frames(await (await stream()).text());
  assert.equal(chunks.length, 1);
  assert.equal(chunks[0].promptFeedback.blockReason, "SAFETY");
});

test("errors: scripted statuses with Google's status names, 429 with RetryInfo, 503 overloaded, the token limit", async () => {
  script(
    { type: "error", status: 500 },
    { type: "error", status: 403, message: "denied" },
    { type: "rate_limit", retryAfter: 7 },
    { type: "overloaded" },
    { type: "context_window", tokens: 1500000 },
  );
  const error = async () => {
    const response = await send();
    return { status: response.status, headers: response.headers, body: await response.json() };
  };
  let e = await error();
  assert.deepEqual([e.status, e.body.error], [500, { code: 500, message: "scripted error 500", status: "INTERNAL" }]);
  e = await error();
  assert.deepEqual([e.status, e.body.error.status, e.body.error.message], [403, "PERMISSION_DENIED", "denied"]);
  e = await error();
  assert.equal(e.status, 429);
  assert.equal(e.body.error.status, "RESOURCE_EXHAUSTED");
  assert.equal(e.headers.get("retry-after"), null, "Google sends no Retry-After");
  assert.equal(e.body.error.details.find((d) => d["@type"].endsWith("RetryInfo")).retryDelay, "7s");
  assert.equal(e.body.error.details.find((d) => d["@type"].endsWith("QuotaFailure")).violations[0].quotaDimensions.model, MODEL);
  e = await error();
  assert.deepEqual([e.status, e.body.error], [503, { code: 503, message: "The model is overloaded. Please try again later.", status: "UNAVAILABLE" }]);
  e = await error();
  assert.deepEqual([e.status, e.body.error.status, e.body.error.message], [400, "INVALID_ARGUMENT", "The input token count (1500000) exceeds the maximum number of tokens allowed (1048576)."]);
});

test("a stream can fail midway with an error frame after errorAfter chunks", async () => {
  script({ type: "stream", chunks: ["one", " two", " three"], errorAfter: 2 }, { type: "stream", chunks: ["one", " two"], errorAfter: 1, errorCode: 500, errorMessage: "boom" });
  let chunks = frames(await (await stream()).text());
  assert.equal(chunks.length, 3);
  assert.deepEqual(chunks[2], { error: { code: 503, message: "The model is overloaded. Please try again later.", status: "UNAVAILABLE" } });
  chunks = frames(await (await stream()).text());
  assert.deepEqual(chunks.at(-1), { error: { code: 500, message: "boom", status: "INTERNAL" } });
});

test("stream pacing: stallAfter leaves it open, breakAfter cuts it", async () => {
  script({ type: "stream", chunks: ["a", "b", "c"], stallAfter: 1 }, { type: "stream", chunks: ["a", "b", "c"], delayMs: 20, breakAfter: 2 });
  const stalled = await readFor(await stream(), 300);
  assert.equal(stalled.ended, "open");
  assert.equal(stalled.text.split("\r\n\r\n").filter(Boolean).length, 1);
  const cut = await readFor(await stream(), 2000);
  assert.equal(cut.ended, "cut");
  assert.equal(cut.text.split("\r\n\r\n").filter(Boolean).length, 2);
});

test("stall never answers, stall_body never ends, raw answers as scripted", async () => {
  script({ type: "stall" }, { type: "stall_body" }, { type: "raw", status: 502, body: "<html>bad gateway</html>", headers: { "content-type": "text/html" } });
  const controller = new AbortController();
  const stalled = fetch(url(), { method: "POST", headers: { "x-goog-api-key": KEY }, body: JSON.stringify(request()), signal: controller.signal }).then(() => "answered", () => "aborted");
  assert.equal(await Promise.race([stalled, new Promise((resolve) => setTimeout(() => resolve("waiting"), 300))]), "waiting");
  controller.abort();
  assert.equal(await stalled, "aborted");
  const body = await send();
  assert.equal(body.status, 200);
  assert.equal((await readFor(body, 300)).ended, "open");
  const raw = await send();
  assert.deepEqual([raw.status, await raw.text()], [502, "<html>bad gateway</html>"]);
});

test("batchEmbedContents answers one vector per request, of the asked dimension", async () => {
  const body = { requests: [0, 1].map((i) => ({ model: "models/text-embedding-004", content: { parts: [{ text: `text ${i}` }] }, outputDimensionality: 8 })) };
  const response = await post(url("batchEmbedContents", "text-embedding-004"), body, { "x-goog-api-key": KEY });
  assert.equal(response.status, 200);
  const { embeddings } = await response.json();
  assert.deepEqual(embeddings.map((e) => e.values.length), [8, 8]);
  const plain = await (await post(url("batchEmbedContents", "text-embedding-004"), { requests: [{ model: "models/text-embedding-004", content: { parts: [{ text: "x" }] } }] }, { "x-goog-api-key": KEY })).json();
  assert.equal(plain.embeddings[0].values.length, 768);
});

test("the official SDK reads an answer, a function call, a stream and embeddings", async () => {
  const ai = sdk();
  script({ type: "ok", content: "Sunny." }, { type: "tool_call", name: "get_weather", arguments: { city: "Paris" } }, { type: "stream", chunks: ["a", "b", "c"] });
  const tools = [{ functionDeclarations: [{ name: "get_weather", description: "Weather of a city", parameters: { type: "OBJECT", properties: { city: { type: "STRING" } }, required: ["city"] } }] }];
  const answer = await ai.models.generateContent({ model: MODEL, contents: "Weather?", config: { systemInstruction: "Be brief.", temperature: 0.3, maxOutputTokens: 100, tools } });
  assert.equal(answer.text, "Sunny.");
  assert.equal(answer.usageMetadata.totalTokenCount, 8);
  const seen = ctx.upstream.requests.at(-1);
  assert.equal(seen.path, `/v1beta/models/${MODEL}:generateContent`);
  assert.equal(seen.headers["x-goog-api-key"], KEY);
  const call = await ai.models.generateContent({ model: MODEL, contents: "Weather?", config: { tools, toolConfig: { functionCallingConfig: { mode: "ANY", allowedFunctionNames: ["get_weather"] } } } });
  assert.deepEqual(call.functionCalls, [{ name: "get_weather", args: { city: "Paris" } }]);
  const texts = [];
  for await (const chunk of await ai.models.generateContentStream({ model: MODEL, contents: "Weather?" })) texts.push(chunk.text);
  assert.deepEqual(texts, ["a", "b", "c"]);
  assert.equal(ctx.upstream.requests.at(-1).query.alt, "sse");
  const embedded = await ai.models.embedContent({ model: "text-embedding-004", contents: ["a", "b"], config: { outputDimensionality: 4 } });
  assert.deepEqual(embedded.embeddings.map((e) => e.values.length), [4, 4]);
});

test("the official SDK sends a multi-turn function conversation the mock accepts", async () => {
  const contents = [
    { role: "user", parts: [{ text: "Weather in Paris?" }] },
    { role: "model", parts: [{ functionCall: { name: "get_weather", args: { city: "Paris" } } }] },
    { role: "user", parts: [{ functionResponse: { name: "get_weather", response: { temperature: 18 } } }] },
  ];
  const answer = await sdk().models.generateContent({ model: MODEL, contents });
  assert.match(answer.text, /^ok from gem/);
});

test("the official SDK raises ApiError with the status, and a stream's error frame", async () => {
  const ai = sdk();
  await assert.rejects(ai.models.generateContent({ model: "gemini-0.1", contents: "x" }), (error) => error instanceof ApiError && error.status === 404 && /models\/gemini-0\.1 is not found/.test(error.message));
  await assert.rejects(new GoogleGenAI({ apiKey: "wrong", httpOptions: { baseUrl: ctx.upstream.base("gem") } }).models.generateContent({ model: MODEL, contents: "x" }), (error) => error.status === 400 && /API_KEY_INVALID/.test(error.message));
  script({ type: "rate_limit" }, { type: "stream", chunks: ["one", " two"], errorAfter: 1 });
  await assert.rejects(ai.models.generateContent({ model: MODEL, contents: "x" }), (error) => error.status === 429 && /RESOURCE_EXHAUSTED/.test(error.message));
  const seen = [];
  await assert.rejects(async () => {
    for await (const chunk of await ai.models.generateContentStream({ model: MODEL, contents: "x" })) seen.push(chunk.text);
  }, (error) => error instanceof ApiError && error.status === 503);
  assert.deepEqual(seen, ["one"]);
});
