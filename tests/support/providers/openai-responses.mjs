// OpenAI's Responses API on an OpenAI deployment, as strict as api.openai.com:
//   POST {base}/responses        create a response (openai-responses-request.mjs checks the
//                                body, openai-responses-answers.mjs writes the answer)
//   GET  {base}/responses/{id}   a response this deployment stored (consumes no behaviour)
// where {base} is the deployment's api_base (`base(name)`); any other method or path under
// /responses is a 404 "Invalid URL (<METHOD> /v1/responses...)".
//
// Options (of a deployment declared `provider(name, "openai", options)`; an undeclared one
// has none): { apiKey? (then `Authorization: Bearer <apiKey>` is required), models? (the
// models it serves) }
//
// Checks, in this order, each answered as OpenAI answers, in its error shape
// { error: { message, type, param, code } } with an x-request-id header:
//   no bearer key / another key   401 "You didn't provide an API key. ..." /
//                                 "Incorrect API key provided: sk-proj-****abcd. ..." (invalid_api_key)
//   a body that is not JSON       400 "We could not parse the JSON body of your request. ..."
//   the body's schema and rules   400 (openai-responses-request.mjs)
//   a model it does not serve     400 "The requested model 'x' does not exist." (model_not_found)
//   previous_response_id unknown, 400 "Previous response with id 'resp_x' not found."
//     not stored or another       (param previous_response_id, code previous_response_not_found)
//     deployment's
//   conversation, prompt          404 "Conversation with id 'conv_x' not found." (the mock
//                                 holds no conversations nor prompt templates)
//   an item_reference unknown     404 "Item with id 'x' not found."
//   a function_call_output whose  400 "No tool call found for function call output with
//     call_id no call has         call_id call_x." (param input), the calls being those of
//                                 the input and of the responses it continues
//   a function_call unanswered    400 "No tool output found for function call call_x."
// A request refused consumes no behaviour.
//
// Stored responses: a response is kept (unless the request says `store: false`) by the
// deployment that served it, with its conversation (the items it continued, its input and
// its output), so that `previous_response_id` continues it and GET returns it; `reset()`
// forgets them. A streamed response is kept as it ends (failed for errorAfter, in progress
// for stallAfter); `background: true` answers `queued` at once and keeps the response done
// once the behaviour's delayMs has passed.
//
// A function tool is echoed with `strict` resolved: as sent, else true when its schema is
// already strict-compatible (OpenAI makes such a schema strict), else false.
//
// Behaviours (mock-upstream.mjs), as the Responses API renders them:
//   ok, stream, tool_call  a response `completed`: a `message` item with an `output_text`
//                          part, and for tool_call a `function_call` item (fc_ id, call_id =
//                          the behaviour's id or call_...); usage: {..} is merged into its usage
//   content_filter         a response `incomplete`, incomplete_details.reason content_filter,
//                          the stream ending with response.incomplete
//   stream errorAfter: n   response.failed after n chunks (errorCode = "server_error",
//                          errorMessage?); errorEvent: "error" sends an `error` event instead
//   error                  status, message, errorType (default invalid_request_error below
//                          500, server_error from 500), code
//   rate_limit             429 rate_limit_exceeded, retry-after and x-ratelimit-* headers
//   overloaded             503 server_error "That model is currently overloaded ..."
//   context_window         400 context_length_exceeded "Your input exceeds the context window ..."
//   content_policy         400 invalid_prompt "Invalid prompt: your prompt was flagged ..."
//   stall, stall_body, raw, reset, echo_key   as for chat completions
import { randomBytes } from "node:crypto";
import { finalResponse, ids, responseObject, responseStream, shape } from "./openai-responses-answers.mjs";
import { Rejected, checkRequest, inputItems } from "./openai-responses-request.mjs";
import { answerOf, playStream, sendJson, sleep } from "./wire.mjs";

const requestId = () => `req_${randomBytes(16).toString("hex")}`;

function fail(res, status, message, { type = "invalid_request_error", param = null, code = null, headers = {} } = {}) {
  sendJson(res, status, { error: { message, type, param, code } }, { "x-request-id": requestId(), ...headers });
}

const refuse = (res, rejected) => fail(res, rejected.status, rejected.message, rejected);

const NO_KEY =
  "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username and password. You can obtain an API key from https://platform.openai.com/account/api-keys.";
const NOT_JSON =
  "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)";
const OVERLOADED =
  "That model is currently overloaded with other requests. You can retry your request, or contact us through our help center at help.openai.com if the error persists.";

/** A key as OpenAI shows it back: its first 8 and last 4 characters, starred between. */
const redacted = (key) => (key.length > 12 ? `${key.slice(0, 8)}${"*".repeat(key.length - 12)}${key.slice(-4)}` : key);

/** The 401 refusing `authorization` when the deployment has a key, else null. */
function authFailure(authorization, apiKey) {
  if (apiKey === undefined) return null;
  const key = /^Bearer (.+)$/.exec(authorization ?? "")?.[1];
  if (!key) return new Rejected(NO_KEY, { status: 401 });
  if (key !== apiKey) return new Rejected(`Incorrect API key provided: ${redacted(key)}. You can find your API key at https://platform.openai.com/account/api-keys.`, { status: 401, code: "invalid_api_key" });
  return null;
}

/** Serves a request under {base}/responses (see the header). */
export async function handle(ctx) {
  const { res, method, path, options } = ctx;
  const denied = authFailure(ctx.headers.authorization, options.apiKey);
  if (denied) return refuse(res, denied);
  if (method === "POST" && path === "/responses") return create(ctx);
  const one = /^\/responses\/([^/]+)$/.exec(path);
  if (method === "GET" && one) {
    const id = decodeURIComponent(one[1]);
    const kept = ctx.stored.get(id);
    if (!kept) return fail(res, 404, `Response with id '${id}' not found.`);
    return sendJson(res, 200, kept.response, { "x-request-id": requestId() });
  }
  return fail(res, 404, `Invalid URL (${method} /v1${path})`);
}

async function create(ctx) {
  const { res, options } = ctx;
  let body;
  try {
    body = JSON.parse(ctx.raw);
  } catch {
    return fail(res, 400, NOT_JSON);
  }
  let history;
  try {
    checkRequest(body);
    if (options.models && !options.models.includes(body.model)) {
      throw new Rejected(`The requested model '${body.model}' does not exist.`, { param: "model", code: "model_not_found" });
    }
    history = continued(ctx.stored, body);
  } catch (error) {
    if (error instanceof Rejected) return refuse(res, error);
    throw error;
  }
  return respond(ctx, body, history, ctx.take());
}

/**
 * The items this request carries on: those of the response it continues, then its input
 * (item references resolved); refused as OpenAI refuses (see the header).
 */
function continued(stored, body) {
  let earlier = [];
  if (typeof body.previous_response_id === "string") {
    const previous = stored.get(body.previous_response_id);
    if (!previous) {
      throw new Rejected(`Previous response with id '${body.previous_response_id}' not found.`, { param: "previous_response_id", code: "previous_response_not_found" });
    }
    earlier = previous.items;
  }
  const conversation = body.conversation?.id ?? body.conversation;
  if (typeof conversation === "string") throw new Rejected(`Conversation with id '${conversation}' not found.`, { status: 404, param: "conversation" });
  if (body.prompt) throw new Rejected(`Prompt with id '${body.prompt.id}' not found.`, { status: 404, param: "prompt" });
  const input = inputItems(body.input).map((item) => (item.type === "item_reference" ? referenced(stored, item.id) : item));
  const items = [...earlier, ...input];
  const calls = new Set();
  for (const item of items) {
    if (item.type === "function_call") calls.add(item.call_id);
    if (item.type === "function_call_output" && !calls.has(item.call_id)) {
      throw new Rejected(`No tool call found for function call output with call_id ${item.call_id}.`, { param: "input" });
    }
  }
  const answered = new Set(items.filter((item) => item.type === "function_call_output").map((item) => item.call_id));
  const unanswered = [...calls].find((call) => !answered.has(call));
  if (unanswered !== undefined) throw new Rejected(`No tool output found for function call ${unanswered}.`, { param: "input" });
  return items;
}

/** The stored item with `id`, from any response this deployment keeps. */
function referenced(stored, id) {
  for (const { items } of stored.values()) {
    const item = items.find((candidate) => candidate.id === id);
    if (item) return item;
  }
  throw new Rejected(`Item with id '${id}' not found.`, { status: 404, param: "input" });
}

/** Answers `behaviour` to a checked request whose items, with those it continues, are `history`. */
async function respond(ctx, body, history, behaviour, headers = { "x-request-id": requestId() }) {
  const { res } = ctx;
  const answer = answerOf(behaviour, ctx.deployment);
  if (answer) {
    const identity = { id: ids.response(), createdAt: Math.floor(Date.now() / 1000) };
    const keep = (response, items = history) => {
      if (body.store !== false) ctx.stored.set(response.id, { response, items });
    };
    const streams = behaviour.type === "stream" || body.stream === true;
    if (body.background === true && !streams) {
      // Answered at once; the response is done (and kept so) once it has been worked on.
      const queued = responseObject(body, { ...identity, status: "queued" });
      keep(queued);
      sendJson(res, 200, queued, headers);
      if (answer.wait) await sleep(answer.wait);
      const shaped = shape(answer, body, behaviour);
      return keep(finalResponse(body, shaped, identity), [...history, ...shaped.items.map(({ item }) => item)]);
    }
    if (answer.wait) await sleep(answer.wait);
    const shaped = shape(answer, body, behaviour);
    const final = finalResponse(body, shaped, identity);
    const items = [...history, ...shaped.items.map(({ item }) => item)];
    if (!streams) {
      keep(final, items);
      return sendJson(res, 200, final, headers);
    }
    const { play, pending, failed } = responseStream(body, shaped, final, behaviour, answer.timing);
    if (failed) keep(failed);
    else if (play.stallAfter !== undefined && play.stallAfter < play.pieces.length) keep(pending);
    else keep(final, items);
    return playStream(res, { headers, ...play }, ctx.record);
  }
  switch (behaviour.type) {
    case "error": {
      const status = behaviour.status;
      return fail(res, status, behaviour.message ?? `scripted error ${status}`, { type: behaviour.errorType ?? (status >= 500 ? "server_error" : "invalid_request_error"), code: behaviour.code ?? null });
    }
    case "rate_limit": {
      const retryAfter = String(behaviour.retryAfter ?? 1);
      const message = `Rate limit reached for ${body.model} in organization org-mock on requests per min (RPM): Limit 500, Used 500, Requested 1. Please try again in ${retryAfter}s. Visit https://platform.openai.com/account/rate-limits to learn more.`;
      return fail(res, 429, message, {
        type: "requests",
        code: "rate_limit_exceeded",
        headers: {
          "retry-after": retryAfter,
          "x-ratelimit-limit-requests": "500",
          "x-ratelimit-remaining-requests": "0",
          "x-ratelimit-reset-requests": `${retryAfter}s`,
        },
      });
    }
    case "overloaded":
      return fail(res, 503, OVERLOADED, { type: "server_error" });
    case "context_window":
      return fail(res, 400, "Your input exceeds the context window of this model. Please adjust your input and try again.", { param: "input", code: "context_length_exceeded" });
    case "content_policy":
      return fail(res, 400, "Invalid prompt: your prompt was flagged as potentially violating our usage policy. Please try again with a different prompt.", { code: "invalid_prompt" });
    case "stall":
      return; // the socket stays open until the client gives up or the mock closes
    case "stall_body":
      res.writeHead(200, { "content-type": "application/json", "x-request-id": requestId() });
      return res.write(`{"id": "${ids.response()}", "object": "response", "output": [`); // and never ends
    case "raw":
      res.writeHead(behaviour.status, behaviour.headers ?? {});
      return res.end(behaviour.body ?? "");
    case "reset":
      return res.socket.destroy(); // the connection drops with no answer at all
    case "echo_key": {
      // A careless proxy: it repeats the key it was sent, in its x-request-id and, answering
      // an error, in the message.
      const key = ctx.headers.authorization ?? "(none)";
      const echoed = { "x-request-id": `req for ${key}` };
      if (behaviour.status === 200) return respond(ctx, body, history, { type: "ok" }, echoed);
      return fail(res, 401, `Incorrect API key provided: ${key}`, { code: "invalid_api_key", headers: echoed });
    }
    default:
      throw new Error(`unknown behaviour ${behaviour.type}`);
  }
}
