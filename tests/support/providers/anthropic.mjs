// Anthropic's Messages API: POST `${base}/v1/messages` (and `/v1/messages/count_tokens`,
// a Messages body without max_tokens, answered `{input_tokens}` as `countTokens` counts),
// as strict as api.anthropic.com.
//
// Options: { apiKey (required), models? (the model names it serves; others are a 404),
//            maxOutputTokens = 64000 (a larger max_tokens is a 400) }
//
// Checks, in the real API's order, each answered as it answers, in its error shape
// { type: "error", error: { type, message }, request_id } with a `request-id` header:
//   another path or method             404 not_found_error "Not Found"
//   x-api-key missing / not the key    401 authentication_error
//   anthropic-version missing / unknown  400 invalid_request_error
//   a body that is not JSON            400 "The request body is not valid JSON: ..."
//   the body's schema and rules        400 (anthropic-request.mjs)
//   a model it does not serve          404 not_found_error "model: <name>"
// Answers: a `message` (msg_ id, text and tool_use blocks, stop_reason end_turn, tool_use,
// max_tokens, stop_sequence or refusal, usage with input, output and cache tokens), or
// when `stream` is true its SSE: message_start, content_block_start, ping,
// content_block_delta (text_delta; input_json_delta in fragments for a tool_use),
// content_block_stop, message_delta (stop_reason, usage), message_stop. A text answer
// stops at max_tokens (a piece a token) and at the first of `stop_sequences` it contains.
// Behaviours beyond the shared ones (mock-upstream.mjs):
//   error          errorType defaults from the status (400 invalid_request_error, 401
//                  authentication_error, 403 permission_error, 404 not_found_error, 413
//                  request_too_large, 429 rate_limit_error, 529 overloaded_error, else api_error)
//   stream         errorAfter: n ends the stream after n chunks with an `error` event
//                  ({ errorType = "overloaded_error", errorMessage = "Overloaded" })
//   rate_limit     429 rate_limit_error, retry-after and anthropic-ratelimit-* headers
//   overloaded     529 overloaded_error "Overloaded"
//   context_window 400 "prompt is too long: {tokens = 208310} tokens > {maximum = 200000} maximum"
//   content_filter, content_policy  a refusal: stop_reason "refusal"
//   ok, tool_call  usage: { ...native usage fields } is merged into the usage it reports
import { Invalid, checkMessagesRequest } from "./anthropic-request.mjs";
import { answerOf, base62, cutAt, fragments, playStream, sendJson, sleep, sseFrame } from "./wire.mjs";

const VERSIONS = ["2023-06-01", "2023-01-01"];

export function declare(options) {
  if (typeof options.apiKey !== "string") throw new Error("an anthropic deployment needs options.apiKey");
  return { maxOutputTokens: 64000, ...options };
}

const requestId = () => `req_011C${base62(20)}`;

const ERROR_TYPES = { 400: "invalid_request_error", 401: "authentication_error", 403: "permission_error", 404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 500: "api_error", 529: "overloaded_error" };

export function anthropicError(res, status, type, message, headers = {}) {
  const id = requestId();
  sendJson(res, status, { type: "error", error: { type, message }, request_id: id }, { "request-id": id, ...headers });
}

/** Where `raw` stops being JSON, in the words of Python's json module; null when it is JSON. */
export function jsonError(raw) {
  try {
    JSON.parse(raw);
    return null;
  } catch (error) {
    const position = Number(/position (\d+)/.exec(error.message)?.[1] ?? raw.length);
    const before = raw.slice(0, position).split("\n");
    return `Expecting value: line ${before.length} column ${before.at(-1).length + 1} (char ${position})`;
  }
}

export async function handle(ctx) {
  const { res, headers, options } = ctx;
  const counting = ctx.path === "/v1/messages/count_tokens";
  if (ctx.method !== "POST" || (ctx.path !== "/v1/messages" && !counting)) return anthropicError(res, 404, "not_found_error", "Not Found");
  const key = headers["x-api-key"];
  if (!key) return anthropicError(res, 401, "authentication_error", "x-api-key header is required");
  if (key !== options.apiKey) return anthropicError(res, 401, "authentication_error", "invalid x-api-key");
  const version = headers["anthropic-version"];
  if (!version) return anthropicError(res, 400, "invalid_request_error", "anthropic-version: header is required");
  if (!VERSIONS.includes(version)) return anthropicError(res, 400, "invalid_request_error", `anthropic-version: "${version}" is not a valid version`);
  const syntax = jsonError(ctx.raw);
  if (syntax) return anthropicError(res, 400, "invalid_request_error", `The request body is not valid JSON: ${syntax}`);
  if (counting && ctx.body && typeof ctx.body === "object" && "max_tokens" in ctx.body) {
    return anthropicError(res, 400, "invalid_request_error", "max_tokens: Extra inputs are not permitted");
  }
  try {
    // count_tokens takes a Messages body without max_tokens.
    checkMessagesRequest(counting ? { ...ctx.body, max_tokens: 1 } : ctx.body, options);
  } catch (error) {
    if (error instanceof Invalid) return anthropicError(res, 400, "invalid_request_error", error.message);
    throw error;
  }
  if (options.models && !options.models.includes(ctx.body.model)) return anthropicError(res, 404, "not_found_error", `model: ${ctx.body.model}`);
  if (counting) return sendJson(res, 200, { input_tokens: countTokens(ctx.body) });
  return respond(ctx, ctx.take());
}

/** A prompt's tokens as this mock counts them: a character in 3.5, of everything but the model. */
export function countTokens(body) {
  const { model, ...prompt } = body;
  return Math.ceil(JSON.stringify(prompt).length / 3.5);
}

/** Answers `behaviour` to a checked Messages request (Vertex AI's rawPredict reuses it). */
export async function respond(ctx, behaviour) {
  const { res, body } = ctx;
  const answer = answerOf(behaviour, ctx.deployment);
  if (answer) {
    if (answer.wait) await sleep(answer.wait);
    const message = shape(answer, body, behaviour);
    const headers = { "request-id": requestId() };
    if (behaviour.type === "stream" || body.stream === true) return playStream(res, { headers, ...messageStream(message, answer, behaviour) }, ctx.record);
    return sendJson(res, 200, messageBody(message), headers);
  }
  switch (behaviour.type) {
    case "error": {
      const status = behaviour.status;
      const type = behaviour.errorType ?? ERROR_TYPES[status] ?? (status >= 500 ? "api_error" : "invalid_request_error");
      return anthropicError(res, status, type, behaviour.message ?? `scripted error ${status}`);
    }
    case "rate_limit": {
      const retryAfter = String(behaviour.retryAfter ?? 1);
      const reset = new Date(Date.now() + Number(retryAfter) * 1000).toISOString();
      return anthropicError(res, 429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit (https://docs.claude.com/en/api/rate-limits); see the response headers for current usage. Please reduce the prompt length or the maximum tokens requested, or try again later. You may also contact sales at https://www.anthropic.com/contact-sales to discuss your options for a rate limit increase.", {
        "retry-after": retryAfter,
        "anthropic-ratelimit-requests-limit": "50",
        "anthropic-ratelimit-requests-remaining": "0",
        "anthropic-ratelimit-requests-reset": reset,
        "anthropic-ratelimit-input-tokens-limit": "30000",
        "anthropic-ratelimit-input-tokens-remaining": "0",
        "anthropic-ratelimit-input-tokens-reset": reset,
        "x-should-retry": "true",
      });
    }
    case "overloaded":
      return anthropicError(res, 529, "overloaded_error", "Overloaded", { "x-should-retry": "true" });
    case "context_window":
      return anthropicError(res, 400, "invalid_request_error", `prompt is too long: ${behaviour.tokens ?? 208310} tokens > ${behaviour.maximum ?? 200000} maximum`);
    case "content_policy":
      return respond(ctx, { ...behaviour, type: "content_filter" });
    case "stall":
      return; // the socket stays open until the client gives up or the mock closes
    case "stall_body":
      res.writeHead(200, { "content-type": "application/json", "request-id": requestId() });
      return res.write('{"id":"msg_cut","type":"message","role":"assistant","content":['); // and never ends
    case "raw":
      res.writeHead(behaviour.status, behaviour.headers ?? {});
      return res.end(behaviour.body ?? "");
    default:
      throw new Error(`unknown behaviour ${behaviour.type}`);
  }
}

/**
 * The message an answer makes for this request: its text cut at max_tokens (a piece a
 * token) or at the first stop sequence, its tool call, stop_reason and usage.
 */
function shape(answer, body, behaviour) {
  let pieces = answer.pieces;
  let stopReason = { end: "end_turn", tool_call: "tool_use", filtered: "refusal" }[answer.stop];
  let stopSequence = null;
  const text = pieces.join("");
  const hits = (body.stop_sequences ?? []).map((s) => [text.indexOf(s), s]).filter(([index]) => index >= 0);
  if (answer.stop === "end" && hits.length > 0) {
    const [cut, sequence] = hits.sort((a, b) => a[0] - b[0])[0];
    pieces = cutAt(pieces, cut);
    stopReason = "stop_sequence";
    stopSequence = sequence;
  }
  if (answer.stop === "end" && pieces.length > body.max_tokens) {
    pieces = pieces.slice(0, body.max_tokens);
    stopReason = "max_tokens";
    stopSequence = null;
  }
  const output = stopReason === "max_tokens" ? body.max_tokens : answer.output;
  const usage = {
    input_tokens: answer.input,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
    output_tokens: output,
    service_tier: "standard",
    ...behaviour.usage,
  };
  const toolCall = answer.toolCall && { id: answer.toolCall.id ?? `toolu_01${base62(22)}`, name: answer.toolCall.name, arguments: answer.toolCall.arguments };
  return { id: `msg_01${base62(22)}`, model: body.model, pieces, toolCall, stopReason, stopSequence, usage };
}

function messageBody(message) {
  const content = [];
  const text = message.pieces.join("");
  if (text) content.push({ type: "text", text });
  if (message.toolCall) content.push({ type: "tool_use", id: message.toolCall.id, name: message.toolCall.name, input: JSON.parse(message.toolCall.arguments) });
  return {
    id: message.id,
    type: "message",
    role: "assistant",
    model: message.model,
    content,
    stop_reason: message.stopReason,
    stop_sequence: message.stopSequence,
    usage: message.usage,
  };
}

/** The SSE event sequence of a message; each text delta and argument fragment is a timed piece. */
function messageStream(message, answer, behaviour) {
  const event = (data) => sseFrame(data, data.type);
  const opening = [event({ type: "message_start", message: { ...messageBody(message), content: [], stop_reason: null, stop_sequence: null, usage: { ...message.usage, output_tokens: 1 } } })];
  const pieces = [];
  let index = -1;
  // Opens block `block`: closing the one before it, and with a ping after the first.
  const start = (block) => {
    index += 1;
    const frames = [index > 0 ? event({ type: "content_block_stop", index: index - 1 }) : "", event({ type: "content_block_start", index, content_block: block })];
    if (index === 0) frames.push(event({ type: "ping" }));
    return frames.join("");
  };
  if (message.pieces.length > 0) {
    opening.push(start({ type: "text", text: "" }));
    for (const text of message.pieces) pieces.push(event({ type: "content_block_delta", index, delta: { type: "text_delta", text } }));
  }
  if (message.toolCall) {
    const opened = start({ type: "tool_use", id: message.toolCall.id, name: message.toolCall.name, input: {} });
    const delta = (partial) => event({ type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json: partial } });
    const parts = fragments(message.toolCall.arguments);
    pieces.push(opened + delta(""));
    for (const part of parts) pieces.push(delta(part));
  }
  if (index === -1) opening.push(event({ type: "ping" }));
  const { input_tokens, cache_creation_input_tokens, cache_read_input_tokens, output_tokens } = message.usage;
  const closing = [
    ...(index >= 0 ? [event({ type: "content_block_stop", index })] : []),
    event({ type: "message_delta", delta: { stop_reason: message.stopReason, stop_sequence: message.stopSequence }, usage: { input_tokens, cache_creation_input_tokens, cache_read_input_tokens, output_tokens } }),
    event({ type: "message_stop" }),
  ];
  const { errorAfter, ...timing } = answer.timing;
  const error = { type: "error", error: { type: behaviour.errorType ?? "overloaded_error", message: behaviour.errorMessage ?? "Overloaded" } };
  const interrupt = errorAfter === undefined ? undefined : { after: errorAfter, frames: [event(error)] };
  return { opening, pieces, closing, ...timing, interrupt };
}
