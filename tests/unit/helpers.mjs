// What the mocks' own tests share: a mock upstream per test file, a POST as a bare HTTP
// client sends it, and an SSE body parsed into its events.
import { after, before, beforeEach } from "node:test";
import { startMockUpstream } from "../support/mock-upstream.mjs";

/**
 * A mock upstream started before the file's tests (`declare(upstream)` declaring its
 * provider deployments) and closed after them, reset before each test.
 */
export function useUpstream(declare = () => {}) {
  const ctx = {};
  before(async () => {
    ctx.upstream = await startMockUpstream();
    declare(ctx.upstream);
  });
  after(() => ctx.upstream.close());
  beforeEach(() => ctx.upstream.reset());
  return ctx;
}

/** POST `body` (an object, or a string sent as it is) as JSON. */
export function post(url, body, headers = {}) {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** The events of an SSE body, in order: { event (null when unnamed), data (parsed JSON unless not JSON) }. */
export function parseSse(text) {
  const events = [];
  for (const block of text.split("\n\n")) {
    if (!block.trim()) continue;
    let event = null;
    const data = [];
    for (const line of block.split("\n")) {
      if (line.startsWith("event: ")) event = line.slice(7);
      else if (line.startsWith("data: ")) data.push(line.slice(6));
    }
    const joined = data.join("\n");
    let parsed = joined;
    try {
      parsed = JSON.parse(joined);
    } catch {
      // `[DONE]` and other plain data stay as they are
    }
    events.push({ event, data: parsed });
  }
  return events;
}

/**
 * Reads a response body for at most `ms`: { text, ended } where `ended` is "done" (the body
 * ended), "cut" (the connection broke) or "open" (still open when the time ran out).
 */
export async function readFor(response, ms) {
  const decoder = new TextDecoder();
  let text = "";
  const reader = response.body.getReader();
  const deadline = new Promise((resolve) => setTimeout(() => resolve({ open: true }), ms));
  for (;;) {
    const next = await Promise.race([reader.read().catch(() => ({ cut: true })), deadline]);
    if (next.open) {
      reader.cancel().catch(() => {});
      return { text, ended: "open" };
    }
    if (next.cut) return { text, ended: "cut" };
    if (next.done) return { text, ended: "done" };
    text += decoder.decode(next.value, { stream: true });
  }
}
