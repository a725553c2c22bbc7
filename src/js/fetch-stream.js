// A deployment's stream: its head and first event under one deadline, then relayed
// chunk by chunk with a deadline on each gap.
//
// The chunks of a stream in OpenAI's format never cross into Wasm and back: Wasm
// awaits one promise for the head, hands the relayed stream to the client, and
// later awaits how it ended (with, when asked, the stream's end or all of it).
// Relaying here rather than from Wasm was +15% on the streamed path
// (BENCHMARKS.md). A stream of another provider's format goes through a
// `translator` (a Rust object, `attempt::Translator`) once per chunk that arrives.
// Bound in src/attempt.rs.

/**
 * What of the stream to keep for Wasm once it has ended, the `keep` of
 * `fetchStream`: nothing, its tail (the last chunks that make at least `TAIL_BYTES`:
 * its usage is in its last event), or all of it (for the cache). The values are
 * the discriminants of `Read` in core/src/serving.rs (tests/unit/js-fetch-stream.test.mjs
 * checks that they agree).
 */
export const KEEP = Object.freeze({ NOTHING: 0, TAIL: 1, ALL: 2 });

// At least this much of a stream's end is kept for its usage: its last event
// (some hundred bytes) and `[DONE]`, however the chunks cut them.
const TAIL_BYTES = 4096;
// A stream's first event must end within this many bytes.
const HEAD_BYTES = 65536;

const TIMED_OUT = Symbol("timed out");

/** A promise that resolves to `TIMED_OUT` after `ms`, and its timer. */
function later(ms) {
  let timer;
  const fired = new Promise((resolve) => {
    timer = setTimeout(resolve, ms, TIMED_OUT);
  });
  return { fired, timer };
}

// What `fetchStream` resolves to when nothing is relayed: the same shape as when
// a stream is, so that Wasm's getters see one.
const notRelayed = (response, { errorBody = null, message = null, timedOut = false }) => ({
  response,
  stream: null,
  ended: null,
  head: null,
  errorBody,
  message,
  timedOut,
});

/**
 * POSTs `body` to `url` with `headers` for a stream, whose head and first event
 * must come within `firstMs` (else the call is aborted). Never rejects. Resolves to
 * `{ response, stream, ended, head, errorBody, message, timedOut }`, where
 * `response` is the `Response` (null when none came) and:
 * - for a status of 400 or more, `errorBody` is its body as an `ArrayBuffer` (null
 *   when it did not come within `firstMs`), and the call is then aborted;
 * - when the stream began, `stream` relays it to the client, `head` is the bytes
 *   read before this returned (up to the end of the first event, when one ended
 *   within `HEAD_BYTES`, else the stream's end or the first chunk that passed
 *   `HEAD_BYTES`: Wasm tells an answer from garbage by it before anything reaches
 *   the client), and `ended` tells how the stream ended (see `relay`);
 * - else `message` says why it failed, and `timedOut` whether because `firstMs`
 *   passed.
 * `stallMs`, `keep` (a `KEEP` value) and `events` go to `relay`.
 *
 * With a `translator` (`{ feed(chunk), finish(), started(), failed(), free() }`),
 * what is relayed is what it makes of the upstream's chunks; the head is read until
 * something of the answer is out (`started()`) rather than until the first event
 * ends, and when the translation fails before that, nothing is relayed and
 * `message` says so (the translator knows why). The translator is freed once the
 * stream has ended, or at once when nothing is relayed.
 */
export async function fetchStream(url, headers, body, firstMs, stallMs, keep, events, translator = null) {
  const controller = new AbortController();
  const deadline = later(firstMs);
  let response = null;
  try {
    const head = await Promise.race([
      fetch(url, { method: "POST", headers, body, signal: controller.signal }),
      deadline.fired,
    ]);
    if (head === TIMED_OUT) throw TIMED_OUT;
    response = head;
    if (response.status >= 400) {
      const error = await Promise.race([response.arrayBuffer(), deadline.fired]);
      controller.abort();
      return notRelayed(response, { errorBody: error === TIMED_OUT ? null : error });
    }
    if (!response.body) return notRelayed(response, { message: "the stream had no body" });
    const reader = response.body.getReader();
    if (translator) {
      const head = await translatedHead(reader, deadline, translator);
      if (!translator.started()) {
        controller.abort();
        return notRelayed(response, { message: "the provider's stream failed before its answer" });
      }
      const { stream, ended } = relay(reader, head, controller, stallMs, keep, events, translator);
      return { response, stream, ended, head, errorBody: null, message: null, timedOut: false };
    }
    const first = await Promise.race([reader.read(), deadline.fired]);
    if (first === TIMED_OUT) throw TIMED_OUT;
    if (first.done) return notRelayed(response, { message: "the stream ended before its first chunk" });
    // Read on until the first event has ended.
    const opening = [first.value];
    let size = first.value.length;
    while (size < HEAD_BYTES && !eventEnded(opening.length === 1 ? opening[0] : joined(opening))) {
      const next = await Promise.race([reader.read(), deadline.fired]);
      if (next === TIMED_OUT) throw TIMED_OUT;
      if (next.done) break;
      opening.push(next.value);
      size += next.value.length;
    }
    const read = opening.length === 1 ? opening[0] : joined(opening);
    const { stream, ended } = relay(reader, read, controller, stallMs, keep, events);
    return { response, stream, ended, head: read, errorBody: null, message: null, timedOut: false };
  } catch (error) {
    controller.abort();
    if (error === TIMED_OUT) return notRelayed(response, { message: "timed out", timedOut: true });
    return notRelayed(response, { message: String(error?.message ?? error) });
  } finally {
    clearTimeout(deadline.timer);
  }
}

/**
 * Reads and translates the stream until something of the answer is out, the
 * translation failed, or the stream ended: its translation so far. When nothing is
 * relayed after it (not started), the translator is freed here.
 */
async function translatedHead(reader, deadline, translator) {
  const out = [];
  try {
    for (;;) {
      const next = await Promise.race([reader.read(), deadline.fired]);
      if (next === TIMED_OUT) throw TIMED_OUT;
      const piece = next.done ? translator.finish() : translator.feed(next.value);
      if (piece.length) out.push(piece);
      if (next.done || translator.started() || translator.failed()) break;
    }
  } finally {
    if (!translator.started()) translator.free();
  }
  return joined(out);
}

/** Whether the bytes hold the end of an SSE event: a blank line (`\n\n`, `\r\r` or `\r\n\r\n`). */
function eventEnded(bytes) {
  for (let i = 1; i < bytes.length; i++) {
    const before = bytes[i - 1];
    const at = bytes[i];
    if ((at === 10 && before === 10) || (at === 13 && before === 13)) return true;
    if (at === 10 && before === 13 && i >= 3 && bytes[i - 2] === 10 && bytes[i - 3] === 13) return true;
  }
  return false;
}

// How a relayed stream ended: always this shape, so that Wasm's getters see one.
const finished = (kept) => ({ finished: true, cancelled: false, kept, message: null, timedOut: false });
const failed = (message, timedOut) => ({ finished: false, cancelled: false, kept: null, message, timedOut });
const CANCELLED = Object.freeze({ finished: false, cancelled: true, kept: null, message: null, timedOut: false });

/**
 * Relays `reader`'s stream, `first` (already read) then each chunk as it comes,
 * with a gap of at most `stallMs` between chunks. Returns `{ stream, ended }`:
 * `stream` is the relay; `ended` resolves once it has ended to
 * `{ finished, cancelled, kept, message, timedOut }`:
 * - it finished: `kept` is what `keep` asked for (a `Uint8Array`, or null for
 *   `KEEP.NOTHING`);
 * - a gap passed `stallMs`: `timedOut`; the stream ends with `events.timeout` and
 *   the upstream call is aborted;
 * - the upstream broke: `message` is its error's; the stream ends with
 *   `events.brokenBefore`, that message escaped as in a JSON string, and
 *   `events.brokenAfter` (the end events are built in Rust, so that the error
 *   keeps one shape);
 * - the client cancelled it: `cancelled`; the upstream call is aborted;
 * - with a `translator`, its translation failed: `message` says so (the
 *   translation ended the stream with its own error event).
 */
function relay(reader, first, controller, stallMs, keep, events, translator = null) {
  let settle;
  const ended = new Promise((resolve) => {
    settle = (how) => {
      translator?.free();
      translator = null;
      resolve(how);
    };
  });
  const kept = keep === KEEP.NOTHING ? null : [first];
  let keptBytes = first.length;
  const push = (chunk) => {
    kept.push(chunk);
    keptBytes += chunk.length;
    while (keep !== KEEP.ALL && keptBytes - kept[0].length >= TAIL_BYTES) keptBytes -= kept.shift().length;
  };
  let pending = first;
  const stream = new ReadableStream({
    async pull(out) {
      if (pending) {
        out.enqueue(pending);
        pending = null;
        return;
      }
      // A translated chunk may come out empty (a provider's ping): read on until
      // something is enqueued or the stream ends, as a pull that enqueues nothing
      // is not always pulled again.
      for (;;) {
        const stall = later(stallMs);
        let next;
        try {
          next = await Promise.race([reader.read(), stall.fired]);
        } catch (error) {
          const message = String(error?.message ?? error);
          const escaped = JSON.stringify(message).slice(1, -1);
          out.enqueue(new TextEncoder().encode(events.brokenBefore + escaped + events.brokenAfter));
          out.close();
          return settle(failed(message, false));
        } finally {
          clearTimeout(stall.timer);
        }
        if (next === TIMED_OUT) {
          controller.abort();
          out.enqueue(new TextEncoder().encode(events.timeout));
          out.close();
          return settle(failed("timed out", true));
        }
        if (next.done) {
          const rest = translator?.finish();
          if (rest?.length) {
            if (kept) push(rest);
            out.enqueue(rest);
          }
          out.close();
          return settle(finished(kept && joined(kept)));
        }
        const chunk = translator ? translator.feed(next.value) : next.value;
        if (chunk.length) {
          if (kept) push(chunk);
          out.enqueue(chunk);
        }
        if (translator?.failed()) {
          controller.abort();
          out.close();
          return settle(failed("the provider's stream failed", false));
        }
        if (chunk.length) return;
      }
    },
    cancel() {
      controller.abort();
      settle(CANCELLED);
    },
  });
  return { stream, ended };
}

/** The chunks as one `Uint8Array`. */
function joined(chunks) {
  const all = new Uint8Array(chunks.reduce((n, chunk) => n + chunk.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.length;
  }
  return all;
}
