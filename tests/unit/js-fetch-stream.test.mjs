// The stream relay (src/js/fetch-stream.js): its head and first event under one
// deadline, each gap under another, the end events of a stall and of a break, a
// client's cancel, the first event read before it returns, and what of the stream
// it keeps for Wasm.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { fetchStream, KEEP } from "../../src/js/fetch-stream.js";
import { chunked, sseHead, startUpstream, stubFetch, text, within } from "./js-upstream.mjs";

// End events shaped as src/attempt.rs builds them.
const EVENTS = {
  timeout: 'data: {"error":{"message":"deployment `d` did not answer within 100 ms","code":"timeout"}}\n\n',
  brokenBefore: 'data: {"error":{"message":"deployment `d` could not be reached: ',
  brokenAfter: '","type":"api_error","param":null,"code":"upstream_unreachable"}}\n\n',
};
const HEADERS = { "content-type": "application/json", authorization: "Bearer sk-test" };
const BODY = new TextEncoder().encode('{"stream":true}');
const decode = (bytes) => new TextDecoder().decode(bytes);
const KEYS = ["response", "stream", "ended", "head", "errorBody", "message", "timedOut"];
const END_KEYS = ["finished", "cancelled", "kept", "message", "timedOut"];

/** `fetchStream` with these tests' defaults. */
function call(url, { firstMs = 2_000, stallMs = 2_000, keep = KEEP.NOTHING } = {}) {
  return fetchStream(url, HEADERS, BODY, firstMs, stallMs, keep, EVENTS);
}

/** `fetchStream` of an upstream whose answer is `body` (a stub `fetch`). */
function callStub(t, body, options) {
  stubFetch(t, async () => new Response(body, { headers: { "content-type": "text/event-stream" } }));
  return call("http://stub/", options);
}

const upstream = await startUpstream((req, res) => {
  const script = SCRIPTS[req.url.slice(1)];
  script(res);
});
const SCRIPTS = {
  events(res) {
    sseHead(res);
    const events = ["data: 1\n\n", "data: 2\n\n", "data: [DONE]\n\n"];
    const next = () => (events.length ? res.write(events.shift(), () => setTimeout(next, 20)) : res.end());
    next();
  },
  stall(res) {
    sseHead(res);
    res.write("data: 1\n\n");
  },
  slow(res) {
    sseHead(res);
    let left = 4;
    const next = () => (left-- ? res.write(`data: ${left}\n\n`, () => setTimeout(next, 60)) : res.end());
    next();
  },
  cut(res) {
    sseHead(res);
    res.write("data: 1\n\n", () => setTimeout(() => res.socket.destroy(), 20));
  },
  ticking(res) {
    sseHead(res);
    const timer = setInterval(() => res.write("data: tick\n\n"), 20);
    res.on("close", () => clearInterval(timer));
  },
  "no-head": () => {},
  empty(res) {
    sseHead(res);
    res.end();
  },
  refused(res) {
    res.writeHead(429, { "content-type": "application/json", "retry-after": "3" });
    res.end('{"error":{"message":"slow down"}}');
  },
  "refused-stalling": (res) => {
    res.writeHead(500, { "content-type": "application/json" });
    res.write('{"error":');
  },
};

test("KEEP holds the discriminants of Rust's Read (core/src/serving.rs), which Wasm passes as keep", () => {
  const core = readFileSync(new URL("../../core/src/serving.rs", import.meta.url), "utf8");
  const read = core.match(/pub enum Read \{([^}]*)\}/)[1];
  const value = (variant) => Number(read.match(new RegExp(`\\b${variant} = (\\d+),`))[1]);
  assert.deepEqual(KEEP, { NOTHING: value("Nothing"), TAIL: value("Usage"), ALL: value("Whole") });
  const shell = readFileSync(new URL("../../src/attempt.rs", import.meta.url), "utf8");
  assert.match(shell, /fetch_stream\([^)]*\bkeep as u8/, "a Read, as its discriminant");
});

test("a stream is POSTed, relayed whole, and ends finished; its head is its first event", async () => {
  const answer = await call(`${upstream.url}events`);
  assert.deepEqual(Object.keys(answer), KEYS);
  assert.equal(answer.response.status, 200);
  assert.equal(decode(answer.head), "data: 1\n\n");
  assert.equal(await text(answer.stream), "data: 1\n\ndata: 2\n\ndata: [DONE]\n\n");
  const ended = await answer.ended;
  assert.deepEqual(Object.keys(ended), END_KEYS);
  assert.deepEqual(ended, { finished: true, cancelled: false, kept: null, message: null, timedOut: false });
  const sent = upstream.calls.at(-1);
  assert.equal(sent.body, '{"stream":true}');
  assert.equal(sent.headers.authorization, "Bearer sk-test");
  assert.equal(await within(sent.cut), false);
});

test("a gap longer than the stall timeout ends the relay with the timeout event and aborts the upstream call", async () => {
  const answer = await call(`${upstream.url}stall`, { stallMs: 100 });
  const started = Date.now();
  assert.equal(await text(answer.stream), `data: 1\n\n${EVENTS.timeout}`);
  const waited = Date.now() - started;
  assert.ok(waited >= 90 && waited < 1_000, `cut after ${waited} ms`);
  assert.deepEqual(await answer.ended, {
    finished: false,
    cancelled: false,
    kept: null,
    message: "timed out",
    timedOut: true,
  });
  assert.equal(await within(upstream.calls.at(-1).cut), true);
});

test("gaps shorter than the stall timeout are not cut, however long the stream", async () => {
  const answer = await call(`${upstream.url}slow`, { stallMs: 150 });
  assert.equal(await text(answer.stream), "data: 3\n\ndata: 2\n\ndata: 1\n\ndata: 0\n\n");
  assert.equal((await answer.ended).finished, true);
});

test("a stream cut mid-way ends with the broken event carrying the upstream's message, JSON-escaped", async (t) => {
  const message = 'reset by "peer"\n\\ at \u0001 ✓';
  const answer = await callStub(t, chunked(["data: 1\n\n", "data: 2\n\n"], { error: new Error(message) }));
  const relayed = await text(answer.stream);
  const broken = relayed.slice("data: 1\n\ndata: 2\n\n".length);
  assert.ok(broken.startsWith(EVENTS.brokenBefore) && broken.endsWith(EVENTS.brokenAfter), broken);
  const { error } = JSON.parse(broken.slice("data: ".length));
  assert.equal(error.message, `deployment \`d\` could not be reached: ${message}`);
  assert.equal(error.code, "upstream_unreachable");
  assert.deepEqual(await answer.ended, { finished: false, cancelled: false, kept: null, message, timedOut: false });
});

test("an upstream whose connection breaks mid-stream ends the relay with the broken event", async () => {
  const answer = await call(`${upstream.url}cut`);
  const relayed = await text(answer.stream);
  assert.ok(relayed.startsWith(`data: 1\n\n${EVENTS.brokenBefore}`), relayed);
  const { error } = JSON.parse(relayed.slice("data: 1\n\ndata: ".length));
  const ended = await answer.ended;
  assert.equal(ended.finished, false);
  assert.equal(ended.timedOut, false);
  assert.ok(ended.message.length > 0);
  assert.equal(error.message, `deployment \`d\` could not be reached: ${ended.message}`);
});

test("a client's cancel aborts the upstream call and settles ended as cancelled", async () => {
  const answer = await call(`${upstream.url}ticking`, { keep: KEEP.ALL });
  const reader = answer.stream.getReader();
  assert.equal(decode((await reader.read()).value), "data: tick\n\n");
  await reader.read();
  await reader.cancel();
  assert.deepEqual(await answer.ended, {
    finished: false,
    cancelled: true,
    kept: null,
    message: null,
    timedOut: false,
  });
  assert.equal(await within(upstream.calls.at(-1).cut), true);
});

test("the head is read on until the first event ends, however the chunks cut its blank line", async (t) => {
  for (const end of ["\n\n", "\r\r", "\r\n\r\n"]) {
    const event = `data: {"a":1}${end}`;
    for (let at = 1; at < event.length; at++) {
      // A stream that would stall past its first event: the head is read no further.
      const body = chunked([event.slice(0, at), event.slice(at), "data: 2\n\n"], { stall: true });
      const answer = await callStub(t, body, { firstMs: 500 });
      assert.equal(decode(answer.head), event, JSON.stringify([event.slice(0, at), event.slice(at)]));
      assert.equal(body.pulls, 2);
      await answer.stream.cancel();
    }
  }
});

test("a line's end is not an event's end; an event ended within the first chunk is the head", async (t) => {
  const lines = chunked(["data: a\n", "data: b\r\n", "\r\n", "data: c\n\n"], { stall: true });
  const answer = await callStub(t, lines, { firstMs: 500 });
  assert.equal(decode(answer.head), "data: a\ndata: b\r\n\r\n");
  assert.equal(lines.pulls, 3);
  await answer.stream.cancel();
  const whole = chunked(["data: a\n\ndata: b", "\n\n"], { stall: true });
  const first = await callStub(t, whole, { firstMs: 500 });
  assert.equal(decode(first.head), "data: a\n\ndata: b");
  assert.equal(whole.pulls, 1);
  // The rest is relayed after the head, once.
  const reader = first.stream.getReader();
  assert.equal(decode((await reader.read()).value), "data: a\n\ndata: b");
  assert.equal(decode((await reader.read()).value), "\n\n");
  await reader.cancel();
});

test("without an event's end the head is all there was: up to the stream's end, or 64 KiB", async (t) => {
  const short = await callStub(t, chunked(["data: a", "data: b"]));
  assert.equal(decode(short.head), "data: adata: b");
  assert.equal(await text(short.stream), "data: adata: b");
  assert.equal((await short.ended).finished, true);
  const long = chunked(["a".repeat(40_000), "b".repeat(40_000), "c"], { stall: true });
  const answer = await callStub(t, long, { firstMs: 500 });
  assert.equal(answer.head.length, 80_000);
  assert.equal(long.pulls, 2);
  await answer.stream.cancel();
});

test("a first event that does not end within the first deadline times out", async (t) => {
  const answer = await callStub(t, chunked(["data: a\n"], { stall: true }), { firstMs: 100 });
  assert.deepEqual(Object.keys(answer), KEYS);
  assert.equal(answer.response.status, 200);
  assert.equal(answer.stream, null);
  assert.equal(answer.message, "timed out");
  assert.equal(answer.timedOut, true);
});

/** A stream of `count` chunks of 100 bytes each, numbered. */
const hundreds = (count) =>
  Array.from({ length: count }, (_, n) => `data: ${String(n).padStart(4, "0")}${".".repeat(88)}\n\n`);

test("keep: nothing, the last chunks that make at least 4 KiB (the usage's event), or all of it", async (t) => {
  const chunks = hundreds(100);
  const all = chunks.join("");
  const relayed = async (keep, source = chunks) => {
    const answer = await callStub(t, chunked(source), { keep });
    assert.equal(await text(answer.stream), source.join(""));
    const ended = await answer.ended;
    assert.equal(ended.finished, true);
    return ended.kept && decode(ended.kept);
  };
  assert.equal(await relayed(KEEP.NOTHING), null);
  const tail = await relayed(KEEP.TAIL);
  assert.equal(tail, chunks.slice(-41).join(""), "41 chunks: 4,100 bytes, and 40 would be under 4,096");
  assert.ok(all.endsWith(tail));
  assert.equal(await relayed(KEEP.ALL), all);
  assert.equal(await relayed(KEEP.TAIL, hundreds(3)), hundreds(3).join(""), "a short stream is kept whole");
});

test("a status of 400 or more gives its body and no stream", async () => {
  const answer = await call(`${upstream.url}refused`);
  assert.deepEqual(Object.keys(answer), KEYS);
  assert.equal(answer.response.status, 429);
  assert.equal(answer.response.headers.get("retry-after"), "3");
  assert.equal(decode(answer.errorBody), '{"error":{"message":"slow down"}}');
  assert.equal(answer.stream, null);
  assert.equal(answer.message, null);
});

test("an error's body that does not come within the first deadline is left out, and the call aborted", async () => {
  const answer = await call(`${upstream.url}refused-stalling`, { firstMs: 100 });
  assert.equal(answer.response.status, 500);
  assert.equal(answer.errorBody, null);
  assert.equal(await within(upstream.calls.at(-1).cut), true);
});

test("no head within the first deadline: timed out, and the upstream call aborted", async () => {
  const started = Date.now();
  const answer = await call(`${upstream.url}no-head`, { firstMs: 100 });
  assert.ok(Date.now() - started < 1_000);
  assert.deepEqual(answer, {
    response: null,
    stream: null,
    ended: null,
    head: null,
    errorBody: null,
    message: "timed out",
    timedOut: true,
  });
  assert.equal(await within(upstream.calls.at(-1).cut), true);
});

test("an upstream that cannot be reached, a stream without a body or a chunk: why, not timed out", async (t) => {
  const refused = await call("http://127.0.0.1:9/");
  assert.equal(refused.response, null);
  assert.equal(typeof refused.message, "string");
  assert.ok(refused.message.length > 0);
  assert.equal(refused.timedOut, false);
  const empty = await call(`${upstream.url}empty`);
  assert.equal(empty.response.status, 200);
  assert.equal(empty.message, "the stream ended before its first chunk");
  assert.equal(empty.timedOut, false);
  const bodiless = await callStub(t, null);
  assert.equal(bodiless.message, "the stream had no body");
  for (const answer of [refused, empty, bodiless]) assert.deepEqual(Object.keys(answer), KEYS);
});
