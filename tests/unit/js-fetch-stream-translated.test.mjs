// The stream relay (src/js/fetch-stream.js) with a translator: each upstream chunk
// goes through it and what comes out is relayed; the head is read until something
// of the answer is out; a failure before that relays nothing, after it ends the
// stream; and the translator is freed however the stream ends.
import assert from "node:assert/strict";
import { test } from "node:test";
import { fetchStream, KEEP } from "../../src/js/fetch-stream.js";
import { chunked, stubFetch, text } from "./js-upstream.mjs";

const EVENTS = { timeout: "data: timeout\n\n", brokenBefore: "data: broken ", brokenAfter: "\n\n" };
const encoder = new TextEncoder();
const decode = (bytes) => new TextDecoder().decode(bytes);

/**
 * A translator like the Rust one (`attempt::Translator`): each upstream chunk
 * `"word"` comes out as `"<WORD>"`, a `"ping"` as nothing; the answer starts at the
 * first word, and a chunk `"fail"` fails the translation (with an error event once
 * started). It records what it was fed and whether it was freed.
 */
function translator() {
  const t = { fed: [], freed: 0, isStarted: false, isFailed: false };
  t.feed = (chunk) => {
    const word = decode(chunk);
    t.fed.push(word);
    if (word === "fail") {
      t.isFailed = true;
      return encoder.encode(t.isStarted ? "<ERROR>" : "");
    }
    if (word === "ping") return new Uint8Array();
    t.isStarted = true;
    return encoder.encode(`<${word.toUpperCase()}>`);
  };
  t.finish = () => encoder.encode(t.isFailed ? "" : "<DONE>");
  t.started = () => t.isStarted;
  t.failed = () => t.isFailed;
  t.free = () => {
    t.freed += 1;
  };
  return t;
}

function call(t, chunks, options = {}) {
  stubFetch(t, async () => new Response(chunked(chunks, options), { headers: { "content-type": "text/event-stream" } }));
  const translation = translator();
  const answer = fetchStream("http://stub/", {}, new Uint8Array(), 2_000, options.stallMs ?? 2_000, options.keep ?? KEEP.NOTHING, EVENTS, translation);
  return { answer, translation };
}

test("each chunk is translated and relayed; pings that translate to nothing are skipped without a stall", async (t) => {
  const { answer, translation } = call(t, ["ping", "hello", "ping", "ping", "world", "ping"]);
  const streamed = await answer;
  assert.equal(decode(streamed.head), "<HELLO>", "the head is read until the answer starts");
  assert.equal(await text(streamed.stream), "<HELLO><WORLD><DONE>");
  assert.deepEqual(await streamed.ended, { finished: true, cancelled: false, kept: null, message: null, timedOut: false });
  assert.deepEqual(translation.fed, ["ping", "hello", "ping", "ping", "world", "ping"]);
  assert.equal(translation.freed, 1);
});

test("what the cache keeps of a translated stream is its translation", async (t) => {
  const { answer } = call(t, ["a", "ping", "b"], { keep: KEEP.ALL });
  const streamed = await answer;
  await text(streamed.stream);
  assert.equal(decode((await streamed.ended).kept), "<A><B><DONE>");
});

test("a failure before the answer starts relays nothing, and frees the translator at once", async (t) => {
  const { answer, translation } = call(t, ["ping", "fail", "never"]);
  const streamed = await answer;
  assert.equal(streamed.stream, null);
  assert.equal(streamed.message, "the provider's stream failed before its answer");
  assert.equal(translation.freed, 1);
  assert.deepEqual(translation.fed, ["ping", "fail"]);
});

test("a failure after the answer started ends the stream with the translation's error, unfinished", async (t) => {
  const { answer, translation } = call(t, ["hello", "fail", "never"]);
  const streamed = await answer;
  assert.equal(await text(streamed.stream), "<HELLO><ERROR>");
  const ended = await streamed.ended;
  assert.equal(ended.finished, false);
  assert.equal(ended.message, "the provider's stream failed");
  assert.equal(translation.freed, 1);
});

test("a client that cancels frees the translator too", async (t) => {
  const { answer, translation } = call(t, ["hello"], { stall: true });
  const streamed = await answer;
  await streamed.stream.cancel();
  assert.equal((await streamed.ended).cancelled, true);
  assert.equal(translation.freed, 1);
});

test("a stall after the answer started ends with the timeout event and frees the translator", async (t) => {
  const { answer, translation } = call(t, ["hello"], { stall: true, stallMs: 50 });
  const streamed = await answer;
  assert.equal(await text(streamed.stream), "<HELLO>data: timeout\n\n");
  assert.equal((await streamed.ended).timedOut, true);
  assert.equal(translation.freed, 1);
});
