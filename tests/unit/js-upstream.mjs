// What the tests of the Worker's JavaScript modules (src/js/) share: a local HTTP
// upstream that records whether each call was cut by its client, and a stub `fetch`.
import http from "node:http";
import { after } from "node:test";

/**
 * An HTTP server on 127.0.0.1 answering with `handler(req, res)`, closed after the
 * file's tests. `calls` lists each request as `{ body, cut }`, where `cut` resolves
 * to true when the client went away before the answer ended, false when it ended.
 */
export async function startUpstream(handler) {
  const calls = [];
  const sockets = new Set();
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const call = { body: Buffer.concat(chunks).toString(), headers: req.headers };
    call.cut = new Promise((resolve) => res.on("close", () => resolve(!res.writableFinished)));
    calls.push(call);
    handler(req, res);
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  after(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  return { url: `http://127.0.0.1:${server.address().port}/`, calls };
}

/** An SSE answer's head: status 200 and `text/event-stream`. */
export function sseHead(res) {
  res.writeHead(200, { "content-type": "text/event-stream" });
}

// The runtime's own `fetch`, which `stubFetch` puts back.
const realFetch = globalThis.fetch;

/** Replaces the global `fetch` with `stub(url, init)` until test `t` has ended. */
export function stubFetch(t, stub) {
  globalThis.fetch = stub;
  t.after(() => {
    globalThis.fetch = realFetch;
  });
}

/**
 * A `ReadableStream` giving `chunks` (strings, encoded) one per read, then: its end,
 * or with `error`, that error, or with `stall`, nothing more. `pulls` counts the
 * reads it answered.
 */
export function chunked(chunks, { error = null, stall = false } = {}) {
  const encoder = new TextEncoder();
  let next = 0;
  const stream = new ReadableStream(
    {
      pull(controller) {
        if (next < chunks.length) {
          stream.pulls = ++next;
          controller.enqueue(encoder.encode(chunks[next - 1]));
        } else if (error) controller.error(error);
        else if (stall) return new Promise(() => {});
        else controller.close();
      },
    },
    { highWaterMark: 0 },
  );
  stream.pulls = 0;
  return stream;
}

/** The whole of `stream` as text. */
export async function text(stream) {
  return new Response(stream).text();
}

/** Resolves after `ms`. */
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** What `promise` resolves to, or "pending" when it has not within `ms`. */
export const within = (promise, ms = 2_000) => Promise.race([promise, sleep(ms).then(() => "pending")]);
