// What every provider module of the mock upstream shares: writing JSON and SSE bodies,
// playing a scripted stream in time (delayMs, stallAfter, breakAfter, a mid-stream
// failure), ids in each provider's style, and the provider-neutral reading of an
// answering behaviour (its text pieces, tool call, stop cause and token counts) that
// each provider then renders in its own format.
import { randomBytes } from "node:crypto";

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function sendJson(res, status, value, headers = {}) {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(value));
}

/** One SSE frame; `event` names it (Anthropic does), `data` is JSON-encoded unless a string. */
export function sseFrame(data, event) {
  const payload = typeof data === "string" ? data : JSON.stringify(data);
  return `${event ? `event: ${event}\n` : ""}data: ${payload}\n\n`;
}

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** `length` random base-62 characters, as Anthropic's ids are made of. */
export function base62(length) {
  return [...randomBytes(length)].map((byte) => BASE62[byte % 62]).join("");
}

/**
 * Writes an SSE response: `opening` frames at once, then `pieces` (each a string of one or
 * more frames) one every `delayMs`, then `closing` frames, as a live upstream does.
 * - stallAfter: after that many pieces the body stops and never ends;
 * - breakAfter: after that many pieces (and the delay) the connection is cut;
 * - interrupt: { after, frames } ends the body with `frames` after that many pieces
 *   (a provider's mid-stream error event) instead of the closing frames.
 * `record` gets { kind: "chunk", index } per piece sent and { kind: "end" } at the end.
 */
export async function playStream(res, { headers = {}, opening = [], pieces, closing = [], delayMs = 0, stallAfter, breakAfter, interrupt }, record) {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", ...headers });
  for (const frame of opening) res.write(frame);
  for (const [index, piece] of pieces.entries()) {
    if (interrupt && index >= interrupt.after) break;
    if (stallAfter !== undefined && index >= stallAfter) return; // never ends
    if (delayMs) await sleep(delayMs);
    if (breakAfter !== undefined && index >= breakAfter) return res.destroy(); // after the last piece's flush
    if (res.destroyed) return;
    res.write(piece);
    record({ kind: "chunk", index });
  }
  if (res.destroyed) return;
  const tail = interrupt && pieces.length > interrupt.after ? interrupt.frames : closing;
  for (const frame of tail) res.write(frame);
  res.end();
  record({ kind: "end" });
}

/** `pieces` holding only the text before character `cut`. */
export function cutAt(pieces, cut) {
  const kept = [];
  let length = 0;
  for (const piece of pieces) {
    if (length + piece.length > cut) {
      if (cut > length) kept.push(piece.slice(0, cut - length));
      break;
    }
    kept.push(piece);
    length += piece.length;
  }
  return kept;
}

/** Splits `text` into about `count` consecutive fragments (input_json_delta, tool-call arguments). */
export function fragments(text, count = 3) {
  if (text.length === 0) return [""];
  const size = Math.max(1, Math.ceil(text.length / count));
  const parts = [];
  for (let start = 0; start < text.length; start += size) parts.push(text.slice(start, start + size));
  return parts;
}

/**
 * The provider-neutral content of an answering behaviour (ok, stream, tool_call,
 * content_filter), which each provider renders:
 *   pieces    the text, in the pieces a stream sends (a non-streamed answer joins them)
 *   toolCall  { id?, name, arguments (a JSON string) } when the answer calls a tool
 *   stop      "end" | "tool_call" | "filtered"
 *   input, output  token counts (input + output = totalTokens, 8 unless scripted)
 *   wait      ms before anything is sent (delayMs of every type but "stream")
 *   timing    the stream's pacing: delayMs ("stream" only), stallAfter, breakAfter, errorAfter
 * Returns null for a behaviour that is not an answer (errors, stalls, raw).
 */
export function answerOf(behaviour, deployment) {
  const { delayMs = 0, stallAfter, breakAfter, errorAfter } = behaviour;
  const paced = behaviour.type === "stream";
  const common = { wait: paced ? 0 : delayMs, timing: { delayMs: paced ? delayMs : 0, stallAfter, breakAfter, errorAfter } };
  const tokens = (output) => ({ input: Math.max(0, (behaviour.totalTokens ?? 8) - output), output });
  const words = (text) => (text ? text.split(/(?= )/) : []);
  switch (behaviour.type) {
    case "ok":
      return { ...common, pieces: words(behaviour.content ?? `ok from ${deployment}`), stop: "end", ...tokens(3) };
    case "stream":
      return { ...common, pieces: behaviour.chunks, stop: "end", ...tokens(3) };
    case "tool_call": {
      const args = typeof behaviour.arguments === "string" ? behaviour.arguments : JSON.stringify(behaviour.arguments ?? {});
      const toolCall = { id: behaviour.id, name: behaviour.name ?? "get_weather", arguments: args };
      return { ...common, pieces: words(behaviour.content), toolCall, stop: "tool_call", ...tokens(3) };
    }
    case "content_filter":
      return { ...common, pieces: words(behaviour.content ?? ""), stop: "filtered", ...tokens(3) };
    default:
      return null;
  }
}
