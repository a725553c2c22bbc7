// What the Gemini API and Vertex AI answer alike: Google's error shape
// {"error":{"code","message","status","details"?}} and generateContent's answers to each
// behaviour (a GenerateContentResponse, or its SSE stream), `flavour` holding what differs
// between the two services (their quota message, Vertex's createTime and trafficType).
//
// Answers: candidates[0] { content { role "model", parts: text, then a functionCall
// {name,args} for a tool call }, finishReason STOP | MAX_TOKENS | SAFETY, index 0,
// safetyRatings when filtered }, usageMetadata { promptTokenCount, candidatesTokenCount,
// totalTokenCount, promptTokensDetails, thoughtsTokenCount when the behaviour sets
// thoughtsTokens }, modelVersion, responseId. A text answer stops at maxOutputTokens (a
// piece a token: MAX_TOKENS) and before the first stop sequence it contains (STOP).
// Streams (`?alt=sse`): `data: <GenerateContentResponse>\r\n\r\n` frames, one per text
// piece, a function call whole in one; the finishReason and the complete usageMetadata on
// the last (the chunks before it carry what the flavour's chunkUsage gives).
// Behaviours (mock-upstream.mjs), each as Google renders it:
//   error           { status, message?, errorStatus? (the status name, else from the code) }
//   stream          errorAfter: n ends the stream after n chunks with an error frame
//                   data: {"error":{code,message,status}} (errorCode = 503, errorMessage)
//   rate_limit      429 RESOURCE_EXHAUSTED (flavour's message; the Gemini API adds
//                   QuotaFailure, Help and RetryInfo { retryDelay: "<retryAfter>s" } details)
//   overloaded      503 UNAVAILABLE "The model is overloaded. Please try again later."
//   context_window  400 INVALID_ARGUMENT "The input token count (tokens = 1200000) exceeds
//                   the maximum number of tokens allowed (maximum = 1048576)."
//   content_policy  200 with promptFeedback { blockReason: SAFETY, safetyRatings } and no
//                   candidates (streamed: that one frame)
//   content_filter  finishReason SAFETY, the blocked category's rating { blocked: true }
//                   (category = HARM_CATEGORY_DANGEROUS_CONTENT), after any scripted text
import { randomBytes } from "node:crypto";
import { answerOf, cutAt, playStream, sendJson, sleep } from "./wire.mjs";

const STATUS_NAMES = { 400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 499: "CANCELLED", 500: "INTERNAL", 501: "NOT_IMPLEMENTED", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED" };

const JSON_TYPE = { "content-type": "application/json; charset=UTF-8" };

/** Google's error body, with its status name; `details` when given. */
export function googleError(res, code, message, details, headers = {}) {
  const error = { code, message, status: STATUS_NAMES[code] ?? (code >= 500 ? "INTERNAL" : "FAILED_PRECONDITION") };
  if (details) error.details = details;
  sendJson(res, code, { error }, { ...JSON_TYPE, ...headers });
}

/** An ErrorInfo detail (reason, domain googleapis.com, metadata). */
export const errorInfo = (reason, metadata) => ({ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason, domain: "googleapis.com", metadata });

/** A BadRequest detail listing the field violations of a body. */
export const badRequest = (violations) => ({ "@type": "type.googleapis.com/google.rpc.BadRequest", fieldViolations: violations });

const HARM_CATEGORIES = ["HARM_CATEGORY_HATE_SPEECH", "HARM_CATEGORY_DANGEROUS_CONTENT", "HARM_CATEGORY_HARASSMENT", "HARM_CATEGORY_SEXUALLY_EXPLICIT"];

/** Every category's rating, `blocked` (when given) at HIGH probability and blocked. */
function safetyRatings(blocked) {
  return HARM_CATEGORIES.map((category) => (category === blocked ? { category, probability: "HIGH", blocked: true } : { category, probability: "NEGLIGIBLE" }));
}

const responseId = () => randomBytes(16).toString("base64url").slice(0, 22);

/**
 * The candidate an answer makes for this request: its text pieces cut at a stop sequence
 * or maxOutputTokens, its function call, finishReason and token counts.
 */
function shape(answer, limits, behaviour) {
  let pieces = answer.pieces;
  let finishReason = { end: "STOP", tool_call: "STOP", filtered: "SAFETY" }[answer.stop];
  if (answer.stop === "end") {
    const text = pieces.join("");
    const hits = limits.stopSequences.map((s) => text.indexOf(s)).filter((index) => index >= 0);
    if (hits.length > 0) pieces = cutAt(pieces, Math.min(...hits));
    if (limits.maxOutputTokens !== undefined && pieces.length > limits.maxOutputTokens) {
      pieces = pieces.slice(0, limits.maxOutputTokens);
      finishReason = "MAX_TOKENS";
    }
  }
  const output = finishReason === "MAX_TOKENS" ? limits.maxOutputTokens : answer.output;
  const thoughts = behaviour.thoughtsTokens;
  const usage = {
    promptTokenCount: answer.input,
    candidatesTokenCount: output,
    totalTokenCount: answer.input + output + (thoughts ?? 0),
    promptTokensDetails: [{ modality: "TEXT", tokenCount: answer.input }],
    ...(thoughts === undefined ? {} : { thoughtsTokenCount: thoughts }),
  };
  const functionCall = answer.toolCall && { name: answer.toolCall.name, args: JSON.parse(answer.toolCall.arguments) };
  const blocked = answer.stop === "filtered" ? (behaviour.category ?? "HARM_CATEGORY_DANGEROUS_CONTENT") : null;
  return { pieces, functionCall, finishReason, usage, blocked };
}

/** A candidate with `parts` (none: no content), finishing when `finishReason` is given. */
function candidate(parts, finishReason, blocked) {
  const value = {};
  if (parts.length > 0) value.content = { parts, role: "model" };
  if (finishReason) value.finishReason = finishReason;
  if (finishReason && blocked) value.safetyRatings = safetyRatings(blocked);
  value.index = 0;
  return value;
}

const googleSse = (value) => `data: ${JSON.stringify(value)}\r\n\r\n`;

/**
 * Answers `behaviour` to a generateContent request (streamed when `stream`), for `model`
 * with the request's `limits` ({ maxOutputTokens, stopSequences }).
 * `flavour`: { rateLimit(res, behaviour), decorate(response) (adds the service's fields),
 * chunkUsage(partial) (the usageMetadata of a chunk before the last, from the prompt's
 * counts; undefined for none) }.
 */
export async function respondGoogle(ctx, behaviour, { model, limits, stream, flavour }) {
  const { res } = ctx;
  const answer = answerOf(behaviour, ctx.deployment);
  const id = responseId();
  const response = (fields) => flavour.decorate({ ...fields, modelVersion: model, responseId: id });
  if (answer) {
    if (answer.wait) await sleep(answer.wait);
    const made = shape(answer, limits, behaviour);
    if (!stream && behaviour.type !== "stream") {
      const parts = made.pieces.length > 0 ? [{ text: made.pieces.join("") }] : [];
      if (made.functionCall) parts.push({ functionCall: made.functionCall });
      return sendJson(res, 200, response({ candidates: [candidate(parts, made.finishReason, made.blocked)], usageMetadata: made.usage }), JSON_TYPE);
    }
    return playStream(res, streamOf(made, answer, behaviour, response, flavour), ctx.record);
  }
  switch (behaviour.type) {
    case "error": {
      const status = behaviour.status;
      return sendJson(res, status, { error: { code: status, message: behaviour.message ?? `scripted error ${status}`, status: behaviour.errorStatus ?? STATUS_NAMES[status] ?? "UNKNOWN" } }, JSON_TYPE);
    }
    case "rate_limit":
      return flavour.rateLimit(res, behaviour);
    case "overloaded":
      return googleError(res, 503, "The model is overloaded. Please try again later.");
    case "context_window":
      return googleError(res, 400, `The input token count (${behaviour.tokens ?? 1200000}) exceeds the maximum number of tokens allowed (${behaviour.maximum ?? 1048576}).`);
    case "content_policy": {
      const blocked = { promptFeedback: { blockReason: "SAFETY", safetyRatings: safetyRatings(behaviour.category ?? "HARM_CATEGORY_DANGEROUS_CONTENT") }, usageMetadata: { promptTokenCount: 8, totalTokenCount: 8 } };
      if (stream) return playStream(res, { pieces: [googleSse(response(blocked))] }, ctx.record);
      return sendJson(res, 200, response(blocked), JSON_TYPE);
    }
    case "stall":
      return; // the socket stays open until the client gives up or the mock closes
    case "stall_body":
      res.writeHead(200, JSON_TYPE);
      return res.write('{\n  "candidates": [\n    {\n      "content": {\n        "parts": [\n          {\n            "text": "'); // and never ends
    case "raw":
      res.writeHead(behaviour.status, behaviour.headers ?? {});
      return res.end(behaviour.body ?? "");
    default:
      throw new Error(`unknown behaviour ${behaviour.type}`);
  }
}

/** The SSE frames of an answer: a frame per text piece, the function call in one, the finish on the last. */
function streamOf(made, answer, behaviour, response, flavour) {
  const partial = { promptTokenCount: made.usage.promptTokenCount, totalTokenCount: made.usage.promptTokenCount, promptTokensDetails: made.usage.promptTokensDetails };
  const parts = made.pieces.map((text) => [{ text }]);
  if (made.functionCall) parts.push([{ functionCall: made.functionCall }]);
  if (parts.length === 0) parts.push(made.finishReason === "SAFETY" ? [] : [{ text: "" }]);
  const pieces = parts.map((part, i) => {
    const last = i === parts.length - 1;
    const usage = last ? made.usage : flavour.chunkUsage(partial);
    return googleSse(response({ candidates: [candidate(part, last ? made.finishReason : undefined, made.blocked)], ...(usage ? { usageMetadata: usage } : {}) }));
  });
  const { errorAfter, ...timing } = answer.timing;
  const code = behaviour.errorCode ?? 503;
  const error = { error: { code, message: behaviour.errorMessage ?? "The model is overloaded. Please try again later.", status: STATUS_NAMES[code] ?? "INTERNAL" } };
  const interrupt = errorAfter === undefined ? undefined : { after: errorAfter, frames: [googleSse(error)] };
  return { pieces, ...timing, interrupt };
}
