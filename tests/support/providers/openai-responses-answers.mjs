// How OpenAI's Responses API writes an answer: the `response` object (its output items,
// usage and the request's parameters echoed with their defaults) and, streamed, its
// event sequence, every event `event: <type>` with `type` and a `sequence_number` counted
// from 0 in its data, and no `[DONE]` at the end:
//   response.created, response.in_progress         the response in progress, no output
//   per item: response.output_item.added, then
//     a message: response.content_part.added, response.output_text.delta (one per text
//       piece, each a timed chunk), response.output_text.done, response.content_part.done
//     a function call: response.function_call_arguments.delta (fragments, each a timed
//       chunk), response.function_call_arguments.done
//   response.output_item.done
//   response.completed (or response.incomplete: cut by max_output_tokens or the content
//   filter), with the whole response.
// Deltas carry `obfuscation` (random padding) unless stream_options.include_obfuscation is
// false. A scripted mid-stream error (errorAfter) ends the stream with `response.failed`:
// the response so far, status failed, error { code, message }; or, errorEvent: "error",
// with an `error` event whose `error` is the error object (the SDKs throw on it).
import { randomBytes } from "node:crypto";
import { strictFault } from "./openai-responses-request.mjs";
import { base62, fragments, sseFrame } from "./wire.mjs";

const hex = (bytes) => randomBytes(bytes).toString("hex");

/** Ids as OpenAI makes them: a prefix, then 48 hex digits (resp_, msg_, fc_); call_ and 24 base-62 characters. */
export const ids = {
  response: () => `resp_${hex(24)}`,
  message: () => `msg_${hex(24)}`,
  functionCall: () => `fc_${hex(24)}`,
  call: () => `call_${base62(24)}`,
};

const now = () => Math.floor(Date.now() / 1000);

const SERVER_ERROR = "An error occurred while processing your request. You can retry your request, or contact us through our help center at help.openai.com if the error persists.";

/**
 * What an answering behaviour becomes for this request: the output items when done
 * (`items`, each { item, pieces } where pieces are the text or argument fragments it
 * streams), its status and incomplete reason, and usage. The text is cut at
 * max_output_tokens (a piece a token).
 */
export function shape(answer, body, behaviour) {
  let pieces = answer.pieces;
  let status = answer.stop === "filtered" ? "incomplete" : "completed";
  let reason = answer.stop === "filtered" ? "content_filter" : null;
  const limit = body.max_output_tokens;
  if (answer.stop === "end" && typeof limit === "number" && pieces.length > limit) {
    pieces = pieces.slice(0, limit);
    status = "incomplete";
    reason = "max_output_tokens";
  }
  const items = [];
  // A message when there is text, or when nothing else answers (an empty text).
  if (pieces.length > 0 || (!answer.toolCall && answer.stop !== "filtered")) {
    const text = pieces.join("");
    const item = { id: ids.message(), type: "message", status: status === "completed" ? "completed" : "incomplete", content: [outputText(text)], role: "assistant" };
    items.push({ item, pieces });
  }
  if (answer.toolCall) {
    const { name, arguments: args } = answer.toolCall;
    const item = { id: ids.functionCall(), type: "function_call", status: "completed", arguments: args, call_id: answer.toolCall.id ?? ids.call(), name };
    items.push({ item, pieces: fragments(args) });
  }
  const output = reason === "max_output_tokens" ? limit : answer.output;
  const usage = {
    input_tokens: answer.input,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: answer.input + output,
    ...behaviour.usage,
  };
  return { items, status, reason, usage };
}

const outputText = (text) => ({ type: "output_text", annotations: [], logprobs: [], text });

/** A function tool as the response echoes it: `strict` resolved (see the header of openai-responses.mjs). */
function echoedTool(tool) {
  if (tool.type !== "function") return tool;
  const strict = tool.strict ?? (tool.parameters === null || tool.parameters === undefined || strictFault(tool.parameters) === null);
  return { type: "function", name: tool.name, description: tool.description ?? null, parameters: tool.parameters ?? null, strict };
}

/**
 * The response object for request `body`: { id, createdAt, status, output, usage, error,
 * reason } fill in what the answer decides; the rest echoes the request with OpenAI's
 * defaults.
 */
export function responseObject(body, { id, createdAt, status, output = [], usage = null, error = null, reason = null }) {
  const tier = body.service_tier;
  const settled = status !== "in_progress" && status !== "queued";
  return {
    id,
    object: "response",
    created_at: createdAt,
    status,
    background: body.background ?? false,
    completed_at: status === "completed" ? now() : null,
    error,
    incomplete_details: reason ? { reason } : null,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    max_tool_calls: body.max_tool_calls ?? null,
    model: body.model,
    output,
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    previous_response_id: body.previous_response_id ?? null,
    prompt_cache_key: body.prompt_cache_key ?? null,
    prompt_cache_retention: body.prompt_cache_retention ?? null,
    reasoning: { effort: body.reasoning?.effort ?? null, summary: body.reasoning?.summary ?? null },
    safety_identifier: body.safety_identifier ?? null,
    // The tier asked for while it runs; the one that served it once done.
    service_tier: settled ? (tier === undefined || tier === null || tier === "auto" ? "default" : tier) : (tier ?? "auto"),
    store: body.store ?? true,
    temperature: body.temperature ?? 1,
    text: { format: body.text?.format ?? { type: "text" }, verbosity: body.text?.verbosity ?? "medium" },
    tool_choice: body.tool_choice ?? "auto",
    tools: (body.tools ?? []).map(echoedTool),
    top_logprobs: body.top_logprobs ?? 0,
    top_p: body.top_p ?? 1,
    truncation: body.truncation ?? "disabled",
    usage,
    user: body.user ?? null,
    metadata: body.metadata ?? {},
  };
}

/** The whole response of a shaped answer. */
export function finalResponse(body, shaped, { id, createdAt }) {
  return responseObject(body, { id, createdAt, status: shaped.status, output: shaped.items.map(({ item }) => item), usage: shaped.usage, reason: shaped.reason });
}

/**
 * The stream of a shaped answer: `play`, its SSE for playStream ({ opening, pieces,
 * closing, interrupt, pacing }: every text delta and argument fragment a piece, the events
 * between two pieces going with the later one); `pending`, the response as it runs;
 * `failed`, the response a scripted failure ends it with. `final` is the one it completes
 * with.
 */
export function responseStream(body, shaped, final, behaviour, timing) {
  const obfuscate = body.stream_options?.include_obfuscation !== false;
  const events = []; // { data, piece } in order
  let sequence = 0;
  const emit = (type, fields, piece = false) => events.push({ data: { type, sequence_number: sequence++, ...fields }, piece });
  const pending = { ...final, status: "in_progress", completed_at: null, incomplete_details: null, output: [], usage: null, service_tier: body.service_tier ?? "auto" };
  emit("response.created", { response: pending });
  emit("response.in_progress", { response: pending });
  const output = []; // the items as a client has them so far, for a failure's response
  const snapshots = []; // snapshots[k]: the output once k pieces are sent
  /** A timed piece: `apply` updates the items as the delta does. */
  const piece = (apply, type, fields) => {
    if (snapshots.length === 0) snapshots.push(structuredClone(output));
    apply();
    emit(type, fields, true);
    snapshots.push(structuredClone(output));
  };
  for (const [index, { item, pieces }] of shaped.items.entries()) {
    const common = { item_id: item.id, output_index: index };
    const padding = (delta) => (obfuscate ? { obfuscation: base62(Math.max(1, 16 - delta.length)) } : {});
    if (item.type === "message") {
      const partial = { ...item, status: "in_progress", content: [] };
      output.push(partial);
      emit("response.output_item.added", { output_index: index, item: { ...partial, content: [] } });
      emit("response.content_part.added", { ...common, content_index: 0, part: outputText("") });
      partial.content.push(outputText(""));
      for (const delta of pieces) {
        piece(() => (partial.content[0].text += delta), "response.output_text.delta", { ...common, content_index: 0, delta, logprobs: [], ...padding(delta) });
      }
      const text = item.content[0].text;
      emit("response.output_text.done", { ...common, content_index: 0, text, logprobs: [] });
      emit("response.content_part.done", { ...common, content_index: 0, part: outputText(text) });
    } else {
      const partial = { ...item, status: "in_progress", arguments: "" };
      output.push(partial);
      emit("response.output_item.added", { output_index: index, item: { ...partial } });
      for (const delta of pieces) {
        piece(() => (partial.arguments += delta), "response.function_call_arguments.delta", { ...common, delta, ...padding(delta) });
      }
      emit("response.function_call_arguments.done", { ...common, arguments: item.arguments, name: item.name });
    }
    output[index] = item;
    emit("response.output_item.done", { output_index: index, item });
  }
  emit(final.status === "completed" ? "response.completed" : "response.incomplete", { response: final });

  // Every piece goes with the events since the one before; the opening is what precedes
  // the first, the closing what follows the last.
  const frames = (from, to) => events.slice(from, to).map(({ data }) => sseFrame(data, data.type));
  const pieceAt = events.flatMap((event, index) => (event.piece ? [index] : []));
  const opening = frames(0, pieceAt[0] ?? events.length);
  const pieces = pieceAt.map((at, n) => frames(n === 0 ? at : pieceAt[n - 1] + 1, at + 1).join(""));
  const closing = pieceAt.length === 0 ? [] : frames(pieceAt.at(-1) + 1);
  const { errorAfter, ...pacing } = timing;
  // As playStream: a failure after as many pieces as there are is no failure.
  const fails = errorAfter !== undefined && errorAfter < pieceAt.length;
  const failed = fails ? failedResponse(pending, snapshots[errorAfter], behaviour) : undefined;
  const interrupt = fails ? { after: errorAfter, frames: [failure(errorAfter === 0 ? pieceAt[0] : pieceAt[errorAfter - 1] + 1, failed, behaviour)] } : undefined;
  return { play: { opening, pieces, closing, interrupt, ...pacing }, pending, failed };
}

/** The response of a stream failing with `output` sent: status failed, its error. */
function failedResponse(pending, output, behaviour) {
  const error = { code: behaviour.errorCode ?? "server_error", message: behaviour.errorMessage ?? SERVER_ERROR };
  return { ...pending, status: "failed", error, output };
}

/**
 * The frame ending a stream that fails (see the header): `sequence_number` follows the
 * last event sent.
 */
function failure(sequence_number, failed, behaviour) {
  if (behaviour.errorEvent === "error") {
    const { code, message } = failed.error;
    return sseFrame({ type: "error", sequence_number, error: { type: behaviour.errorType ?? "server_error", code, message, param: null } }, "error");
  }
  return sseFrame({ type: "response.failed", sequence_number, response: failed }, "response.failed");
}
