// A scriptable OpenAI-compatible upstream for end-to-end tests.
//
// Each deployment gets its own base URL, `${url}/<name>/v1`, and its own script: a
// queue of behaviours consumed one per request (then `fallback`, by default "ok").
// Every request received is recorded with its path, headers, body and time.
//
// Behaviours:
//   { type: "ok", content?, delayMs?, totalTokens? }
//                                                  a completion (SSE when the request streams,
//                                                  ending with its usage when the request
//                                                  asks `stream_options.include_usage`)
//   { type: "stream", chunks: [..], delayMs?, stallAfter?, breakAfter? }
//                                                  SSE, one content chunk each delayMs;
//                                                  stallAfter: stop after that many chunks;
//                                                  breakAfter: cut the connection after that many
//   { type: "error", status, message?, code?, errorType? }
//   { type: "rate_limit", retryAfter? }            429 with Retry-After
//   { type: "context_window" }                     400 context_length_exceeded
//   { type: "content_policy" }                     400 content_policy_violation
//   { type: "stall" }                              accepts, never answers
//   { type: "stall_body" }                         sends its head and part of a body, never ends
//   { type: "raw", status, body, headers? }        anything else
import http from "node:http";

export async function startMockUpstream() {
  const scripts = new Map();
  const requests = [];
  const sockets = new Set();
  const events = [];

  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const raw = Buffer.concat(chunks).toString("utf8");
    let body = null;
    try {
      body = JSON.parse(raw);
    } catch {
      body = raw;
    }
    const match = /^\/([^/]+)\/v1(\/.*)$/.exec(req.url);
    const deployment = match ? match[1] : null;
    const path = match ? match[2] : req.url;
    requests.push({ deployment, path, method: req.method, headers: req.headers, body, at: Date.now() });
    const script = scripts.get(deployment);
    const behaviour = script?.queue.shift() ?? script?.fallback ?? { type: "ok" };
    await respond(res, behaviour, { deployment, path, body, events });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${server.address().port}`;

  return {
    url,
    /** The api_base of deployment `name`. */
    base: (name) => `${url}/${name}/v1`,
    /** Queue behaviours for `name`; `fallback` answers once the queue is empty. */
    script(name, queue = [], fallback = { type: "ok" }) {
      scripts.set(name, { queue: [...queue], fallback });
    },
    requests,
    /** Timestamps of what the mock sent, e.g. { kind: "chunk", index, at }. */
    events,
    reset() {
      scripts.clear();
      requests.length = 0;
      events.length = 0;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function json(res, status, value, headers = {}) {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(value));
}

function openaiError(res, status, message, errorType, code, headers) {
  json(res, status, { error: { message, type: errorType, param: null, code } }, headers);
}

async function respond(res, behaviour, { deployment, path, body, events }) {
  const model = body?.model ?? "unknown";
  switch (behaviour.type) {
    case "ok": {
      if (behaviour.delayMs) await sleep(behaviour.delayMs);
      const content = behaviour.content ?? `ok from ${deployment}`;
      if (body?.stream) {
        const usage = body.stream_options?.include_usage ? usageOf(behaviour.totalTokens) : undefined;
        return stream(res, { chunks: content.split(/(?= )/), delayMs: 0, usage }, model, events);
      }
      return json(res, 200, success(path, model, content, body, behaviour.totalTokens));
    }
    case "stream":
      return stream(res, behaviour, model, events);
    case "error":
      return openaiError(
        res,
        behaviour.status,
        behaviour.message ?? `scripted error ${behaviour.status}`,
        behaviour.errorType ?? "api_error",
        behaviour.code ?? null,
      );
    case "rate_limit":
      return openaiError(res, 429, "Rate limit reached for requests", "requests", "rate_limit_exceeded", {
        "retry-after": String(behaviour.retryAfter ?? 1),
      });
    case "context_window":
      return openaiError(
        res,
        400,
        "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.",
        "invalid_request_error",
        "context_length_exceeded",
      );
    case "content_policy":
      return openaiError(
        res,
        400,
        "Your request was rejected as a result of our safety system.",
        "invalid_request_error",
        "content_policy_violation",
      );
    case "stall":
      return; // the socket stays open until the client gives up or the mock closes
    case "stall_body":
      res.writeHead(200, { "content-type": "application/json" });
      return res.write('{"id": "chatcmpl-cut", "choices": ['); // and never ends
    case "raw":
      res.writeHead(behaviour.status, behaviour.headers ?? {});
      return res.end(behaviour.body ?? "");
    default:
      throw new Error(`unknown behaviour ${behaviour.type}`);
  }
}

function usageOf(totalTokens = 8) {
  return { prompt_tokens: totalTokens - 3, completion_tokens: 3, total_tokens: totalTokens };
}

function success(path, model, content, body, totalTokens) {
  const created = Math.floor(Date.now() / 1000);
  const usage = usageOf(totalTokens);
  if (path === "/embeddings") {
    const inputs = Array.isArray(body?.input) ? body.input : [body?.input];
    return {
      object: "list",
      model,
      data: inputs.map((_, index) => ({ object: "embedding", index, embedding: [0.1, 0.2, 0.3] })),
      usage: { prompt_tokens: 5, total_tokens: 5 },
    };
  }
  if (path === "/completions") {
    return {
      id: "cmpl-mock",
      object: "text_completion",
      created,
      model,
      choices: [{ index: 0, text: content, logprobs: null, finish_reason: "stop" }],
      usage,
    };
  }
  return {
    id: "chatcmpl-mock",
    object: "chat.completion",
    created,
    model,
    choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
    usage,
  };
}

async function stream(res, { chunks, delayMs = 0, stallAfter, breakAfter, usage }, model, events) {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  const frame = (delta, finish = null) =>
    `data: ${JSON.stringify({
      id: "chatcmpl-mock",
      object: "chat.completion.chunk",
      created: Math.floor(Date.now() / 1000),
      model,
      choices: [{ index: 0, delta, finish_reason: finish }],
    })}\n\n`;
  res.write(frame({ role: "assistant", content: "" }));
  for (const [index, content] of chunks.entries()) {
    if (stallAfter !== undefined && index >= stallAfter) return; // never ends
    if (delayMs) await sleep(delayMs);
    if (breakAfter !== undefined && index >= breakAfter) return res.destroy(); // after the last chunk's flush
    if (res.destroyed) return;
    res.write(frame({ content }));
    events.push({ kind: "chunk", index, at: Date.now() });
  }
  res.write(frame({}, "stop"));
  // As OpenAI does: one more event, with no choices, after the last.
  if (usage) res.write(`data: ${JSON.stringify({ id: "chatcmpl-mock", object: "chat.completion.chunk", model, choices: [], usage })}\n\n`);
  res.end("data: [DONE]\n\n");
  events.push({ kind: "end", at: Date.now() });
}
