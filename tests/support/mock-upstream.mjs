// A scriptable upstream for end-to-end tests, speaking OpenAI's API by default and, for
// deployments declared with `provider(name, kind, options)`, another provider's API as
// strictly as the real service (see providers/<kind>.mjs for what each checks).
//
// Each deployment gets its own base URL (`base(name)`) and its own script: a queue of
// behaviours consumed one per accepted request (then `fallback`, by default "ok"). A
// request a provider rejects (bad auth, bad body) consumes nothing. Every request
// received is recorded with its deployment, path, query, method, headers, body (parsed when
// JSON), bytes (the body as received: SigV4 signs them) and time. What a deployment keeps
// between requests (OpenAI's stored responses) is its own, and `reset()` forgets it.
// Each deployment's concurrency is counted: `peak(name)` is the most requests it had in
// flight at once (from the request's arrival until its answer ended or its connection
// closed) since the last `reset()`; a `delayMs` in its script makes requests overlap.
//
//   base(name)  OpenAI deployments: `${url}/<name>/v1` (the api_base of an openai/ model),
//               or `${url}/<name>` when declared "openai" (options { apiKey?, models? }:
//               a bearer key its Responses API requires, the models it serves); under it
//                 `${base}/chat/completions`, `/completions`, `/embeddings`  lenient
//                 `${base}/responses` (POST), `${base}/responses/{id}` (GET)  OpenAI's
//                            Responses API, as strict as OpenAI: the body checked against
//                            the SDK's types, responses stored (unless `store: false`) and
//                            continued with previous_response_id, function_call_output
//                            matched to its call; answers are response objects and, when
//                            streamed, the Responses events (providers/openai-responses.mjs)
//               provider deployments: `${url}/<name>`, the provider's api_base:
//                 anthropic  the gateway posts to `${base}/v1/messages`
//                 azure      the resource endpoint: `${base}/openai/deployments/<d>/...`
//                            and `${base}/openai/v1/...`
//                 gemini     the api_base less its version: `${base}/v1beta/models/<m>:...`
//                 vertex     the regional host: `${base}/v1/projects/<p>/locations/<l>/...`
//                 bedrock    the runtime endpoint: `${base}/model/<modelId>/converse` ...
//   entra.url   Microsoft Entra ID's authority host (AZURE_AUTHORITY_HOST), a server of
//               its own: POST `${entra.url}/<tenant>/oauth2/v2.0/token` (providers/entra.mjs)
//   google.url  Google's OAuth token endpoint, a server of its own: POST `${google.url}/token`
//               (providers/google-oauth.mjs), whose tokens Vertex deployments take
//
// Behaviours (the same vocabulary for every provider, each rendered in its format):
//   { type: "ok", content?, delayMs?, totalTokens? }
//                                    an answer (streamed when the request streams; OpenAI
//                                    and Azure end with the usage when the request asks
//                                    `stream_options.include_usage`); delayMs before it
//   { type: "stream", chunks: [..], delayMs?, stallAfter?, breakAfter?, errorAfter? }
//                                    the provider's stream (SSE; Bedrock's event-stream
//                                    frames), one content chunk each delayMs;
//                                    stallAfter: stop after that many chunks;
//                                    breakAfter: cut the connection after that many;
//                                    errorAfter: the provider's mid-stream error after that
//                                    many (Anthropic's `error` event, Google's error frame,
//                                    Bedrock's exception frame, the Responses API's
//                                    `response.failed`)
//   { type: "tool_call", name, arguments, id?, content?, delayMs? }
//                                    an answer calling tool `name` with `arguments` (an
//                                    object or a JSON string), after optional text; `id`
//                                    is the call's id (the Responses API's call_id)
//   { type: "content_filter", content? }
//                                    an answer cut by the provider's output filter (OpenAI
//                                    and Azure: finish_reason content_filter, a Responses
//                                    response `incomplete` for content_filter; Anthropic: a
//                                    refusal; Gemini and Vertex: finishReason SAFETY;
//                                    Bedrock: stopReason content_filtered)
//   { type: "error", status, message?, code?, errorType? }
//   { type: "rate_limit", retryAfter? }   429 (with Retry-After where the provider sends
//                                    one; the Gemini API's RetryInfo; none from Vertex or
//                                    Bedrock)
//   { type: "overloaded" }           the provider's overload answer (OpenAI and Azure 503,
//                                    Anthropic 529 overloaded_error, Google 503 UNAVAILABLE,
//                                    Bedrock 503 ServiceUnavailableException)
//   { type: "context_window" }       the provider's prompt-too-long error
//   { type: "content_policy" }       the provider's rejection of the prompt (Azure: its
//                                    content filter 400; Anthropic: a refusal; Google: a
//                                    200 with promptFeedback.blockReason SAFETY; Bedrock: a
//                                    guardrail's intervention)
//   { type: "stall" }                accepts, never answers
//   { type: "stall_body" }           sends its head and part of a body, never ends
//   { type: "raw", status, body, headers? }  anything else
//   { type: "reset" }                (OpenAI) drops the connection without an answer
//   { type: "echo_key", status? }    (OpenAI) a 401 (or, status 200, an answer) whose
//                                    x-request-id (and message) repeat the Authorization
//                                    header it was sent
// A script's `fallback` may be a function, called for a behaviour per request.
import http from "node:http";
import * as anthropic from "./providers/anthropic.mjs";
import * as azure from "./providers/azure.mjs";
import * as bedrock from "./providers/bedrock.mjs";
import { startEntra } from "./providers/entra.mjs";
import * as gemini from "./providers/gemini.mjs";
import { startGoogleOAuth } from "./providers/google-oauth.mjs";
import * as openai from "./providers/openai.mjs";
import * as vertex from "./providers/vertex.mjs";

/** The provider kinds a deployment can speak; a new provider is one module added here. */
const KINDS = { openai, anthropic, azure, gemini, vertex, bedrock };

export async function startMockUpstream() {
  const scripts = new Map();
  const providers = new Map(); // name -> { module, options }
  const requests = [];
  const sockets = new Set();
  const events = [];
  // What each deployment keeps between requests (OpenAI's stored responses), by id.
  const stores = new Map();
  const storeOf = (name) => {
    if (!stores.has(name)) stores.set(name, new Map());
    return stores.get(name);
  };
  const entra = await startEntra();
  const google = await startGoogleOAuth();

  // Requests in flight now, and the most at once since the last reset, per deployment
  // (keyed by the path's first segment, as `deployment` below, known before the body).
  const inFlight = new Map();
  const peaks = new Map();
  const enter = (key) => {
    const now = (inFlight.get(key) ?? 0) + 1;
    inFlight.set(key, now);
    peaks.set(key, Math.max(peaks.get(key) ?? 0, now));
  };
  const leave = (key) => inFlight.set(key, inFlight.get(key) - 1);

  const server = http.createServer(async (req, res) => {
    const key = /^\/([^/?]*)/.exec(req.url)?.[1] ?? "";
    enter(key);
    res.once("close", () => leave(key));
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const bytes = Buffer.concat(chunks);
    const raw = bytes.toString("utf8");
    let body = null;
    try {
      body = JSON.parse(raw);
    } catch {
      body = raw;
    }
    const url = new URL(req.url, "http://mock");
    const [, first = "", rest = ""] = /^\/([^/]*)(\/.*)?$/.exec(url.pathname) ?? [];
    const declared = providers.get(first);
    const legacy = /^\/v1(\/.*)$/.exec(rest);
    const deployment = declared || legacy ? first : null;
    const path = declared ? rest : legacy ? legacy[1] : url.pathname;
    const query = Object.fromEntries(url.searchParams);
    requests.push({ deployment, path, query, method: req.method, headers: req.headers, body, bytes, at: Date.now() });
    const ctx = {
      req,
      res,
      deployment,
      method: req.method,
      path,
      query: url.searchParams,
      headers: req.headers,
      raw,
      bytes,
      body,
      options: declared?.options ?? {},
      entra,
      google,
      /** What this deployment keeps between requests: a Map by id. */
      stored: storeOf(deployment),
      /** The deployment's next behaviour, taken once the request is accepted. */
      take() {
        const script = scripts.get(deployment);
        const next = script?.queue.shift() ?? script?.fallback ?? { type: "ok" };
        return typeof next === "function" ? next() : next;
      },
      record: (event) => events.push({ ...event, deployment, at: Date.now() }),
    };
    await (declared?.module ?? openai).handle(ctx);
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${server.address().port}`;

  return {
    url,
    /** The api_base of deployment `name` (see the header). */
    base: (name) => (providers.has(name) ? `${url}/${name}` : `${url}/${name}/v1`),
    /**
     * Declares deployment `name` as speaking provider `kind` ("openai", "anthropic",
     * "azure", "gemini", "vertex", "bedrock") with that provider's `options` (its module's
     * header lists them). Returns its api_base. Declarations outlive `reset`.
     */
    provider(name, kind, options = {}) {
      const module = KINDS[kind];
      if (!module) throw new Error(`unknown provider kind ${kind}; known: ${Object.keys(KINDS).join(", ")}`);
      providers.set(name, { module, options: module.declare ? module.declare(options, { entra, google }) : options });
      return `${url}/${name}`;
    },
    /** Queue behaviours for `name`; `fallback` answers once the queue is empty. */
    script(name, queue = [], fallback = { type: "ok" }) {
      scripts.set(name, { queue: [...queue], fallback });
    },
    requests,
    /** The most requests deployment `name` had in flight at once since the last `reset()`. */
    peak: (name) => peaks.get(name) ?? 0,
    /** Timestamps of what the mock sent, e.g. { kind: "chunk", index, deployment, at }. */
    events,
    /** The Entra ID token endpoint: { url, app(..), issued, requests } (providers/entra.mjs). */
    entra,
    /** Google's token endpoint: { url, serviceAccount(..), issued, requests } (providers/google-oauth.mjs). */
    google,
    reset() {
      scripts.clear();
      stores.clear();
      requests.length = 0;
      events.length = 0;
      // Requests still in flight count towards the next peak.
      peaks.clear();
      for (const [key, now] of inFlight) peaks.set(key, now);
      entra.reset();
      google.reset();
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await Promise.all([new Promise((resolve) => server.close(resolve)), entra.close(), google.close()]);
    },
  };
}
