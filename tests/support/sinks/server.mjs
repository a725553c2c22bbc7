// What both mock sinks share: a local HTTP server that reads each request whole,
// answers it by the sink's mode, and records what it accepted and what it refused.
//
// Modes: "ok" (the real service's answer), "slow" (never answers: the client must
// give up), "fail" (500, as a service in trouble).
import http from "node:http";

/**
 * @param {(request: {method, path, headers, body: Buffer}) => {status, body: object}} handle
 *   the sink's own checks and answer, for mode "ok" (and for refusals in any mode)
 */
export async function startSink(handle) {
  const state = { mode: "ok", received: [], refused: [], held: [] };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const request = { method: req.method, path: req.url, headers: req.headers, body: Buffer.concat(chunks), at: Date.now() };
      if (state.mode === "slow") {
        state.held.push(res);
        state.received.push({ ...request, held: true });
        return;
      }
      if (state.mode === "fail") {
        state.received.push({ ...request, failed: true });
        return send(res, 500, { error: "mock sink failing" });
      }
      const { status, body, accepted } = handle(request);
      (accepted ? state.received : state.refused).push({ ...request, status, answer: body, json: accepted });
      send(res, status, body);
    });
  });
  const sockets = new Set();
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    /** "ok", "slow" or "fail". */
    mode(mode) {
      state.mode = mode;
    },
    /** Requests it accepted (parsed bodies in `json`), in order; held and failed ones too. */
    get received() {
      return state.received;
    },
    /** Requests it refused, with the status and the reason it answered. */
    get refused() {
      return state.refused;
    },
    reset() {
      state.mode = "ok";
      state.received.length = 0;
      state.refused.length = 0;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function send(res, status, body) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

/** A refusal: `{ status, body: { message } }`, not accepted. */
export const refuse = (status, message) => ({ status, body: { message }, accepted: false });

/** Whether `value` is a non-empty string. */
export const text = (value) => typeof value === "string" && value.length > 0;
