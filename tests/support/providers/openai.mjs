// The OpenAI-compatible upstream (every deployment not declared as another provider, and
// those declared "openai"): `{base}/chat/completions | completions | embeddings`, lenient
// about what it is sent, answering each behaviour in OpenAI's format; and
// `{base}/responses[/{id}]`, OpenAI's Responses API, as strict as OpenAI
// (openai-responses.mjs). Its chat renderers take `extras` so that Azure (OpenAI's shape
// plus content-filter annotations) reuses them.
import * as responses from "./openai-responses.mjs";
import { answerOf, fragments, playStream, sendJson, sleep, sseFrame } from "./wire.mjs";

/** OpenAI's error body. */
export function openaiError(res, status, message, type, code, headers, param = null) {
  sendJson(res, status, { error: { message, type, param, code } }, headers);
}

const OVERLOADED_MESSAGE =
  "That model is currently overloaded with other requests. You can retry your request, or contact us through our help center at help.openai.com if the error persists.";

export async function handle(ctx) {
  const { res, body, path } = ctx;
  if (path === "/responses" || path.startsWith("/responses/")) return responses.handle(ctx);
  const behaviour = ctx.take();
  const answer = answerOf(behaviour, ctx.deployment);
  if (answer) {
    if (answer.wait) await sleep(answer.wait);
    const model = body?.model ?? "unknown";
    const streams = behaviour.type === "stream" || body?.stream === true;
    const includeUsage = body?.stream_options?.include_usage === true;
    if (streams) return playStream(res, chatStream(answer, { model, includeUsage }), ctx.record);
    if (path === "/embeddings") return sendJson(res, 200, embeddings(body, model));
    if (path === "/completions") return sendJson(res, 200, textCompletion(answer, model));
    return sendJson(res, 200, chatCompletion(answer, { model }));
  }
  switch (behaviour.type) {
    case "error":
      return openaiError(res, behaviour.status, behaviour.message ?? `scripted error ${behaviour.status}`, behaviour.errorType ?? "api_error", behaviour.code ?? null);
    case "rate_limit":
      return openaiError(res, 429, "Rate limit reached for requests", "requests", "rate_limit_exceeded", {
        "retry-after": String(behaviour.retryAfter ?? 1),
      });
    case "overloaded":
      return openaiError(res, 503, OVERLOADED_MESSAGE, "server_error", null);
    case "context_window":
      return openaiError(res, 400, "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.", "invalid_request_error", "context_length_exceeded");
    case "content_policy":
      return openaiError(res, 400, "Your request was rejected as a result of our safety system.", "invalid_request_error", "content_policy_violation");
    case "stall":
      return; // the socket stays open until the client gives up or the mock closes
    case "stall_body":
      res.writeHead(200, { "content-type": "application/json" });
      return res.write('{"id": "chatcmpl-cut", "choices": ['); // and never ends
    case "raw":
      res.writeHead(behaviour.status, behaviour.headers ?? {});
      return res.end(behaviour.body ?? "");
    case "reset":
      return res.socket.destroy(); // the connection drops with no answer at all
    case "echo_key": {
      // A careless self-hosted provider or proxy: it repeats the key it was sent, in
      // its x-request-id and, answering an error, in the message.
      const key = ctx.headers.authorization ?? "(none)";
      const headers = { "x-request-id": `req for ${key}` };
      if (behaviour.status === 200) {
        const answer = answerOf({ type: "ok" }, ctx.deployment);
        return sendJson(res, 200, chatCompletion(answer, { model: body?.model ?? "unknown" }), headers);
      }
      return openaiError(res, 401, `Incorrect API key provided: ${key}`, "invalid_request_error", "invalid_api_key", headers);
    }
    default:
      throw new Error(`unknown behaviour ${behaviour.type}`);
  }
}

function usageOf(answer) {
  return { prompt_tokens: answer.input, completion_tokens: answer.output, total_tokens: answer.input + answer.output };
}

const FINISH = { end: "stop", tool_call: "tool_calls", filtered: "content_filter" };

const toolCallId = (answer) => answer.toolCall.id ?? "call_mock";

/**
 * A chat.completion. `extras.choice(choice)` and `extras.completion(body)` decorate the
 * choice and the whole body (Azure's filter results); `extras.id`, `extras.fingerprint`.
 */
export function chatCompletion(answer, { model, extras = {} }) {
  const content = answer.pieces.join("");
  const message = { role: "assistant", content: content || (answer.stop === "end" ? "" : null) };
  if (answer.toolCall) {
    message.tool_calls = [{ id: toolCallId(answer), type: "function", function: { name: answer.toolCall.name, arguments: answer.toolCall.arguments } }];
  }
  const choice = { index: 0, message, finish_reason: FINISH[answer.stop] };
  const body = {
    id: extras.id ?? "chatcmpl-mock",
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [extras.choice ? extras.choice(choice) : choice],
    usage: usageOf(answer),
  };
  return extras.completion ? extras.completion(body) : body;
}

/**
 * The SSE of a streamed chat completion: a role chunk, one chunk per text piece, the tool
 * call (name first, then its arguments in fragments), the finish chunk, then (when asked)
 * the usage chunk with no choices, and `[DONE]`. `extras.opening` frames go first and
 * `extras.choice` decorates each chunk's choice.
 */
export function chatStream(answer, { model, includeUsage, extras = {} }) {
  const chunk = (delta, finish = null) => {
    const choice = { index: 0, delta, finish_reason: finish };
    return sseFrame({
      id: extras.id ?? "chatcmpl-mock",
      object: "chat.completion.chunk",
      created: Math.floor(Date.now() / 1000),
      model,
      choices: [extras.choice ? extras.choice(choice, finish !== null) : choice],
    });
  };
  const pieces = answer.pieces.map((content) => chunk({ content }));
  if (answer.toolCall) {
    const { name, arguments: args } = answer.toolCall;
    pieces.push(chunk({ tool_calls: [{ index: 0, id: toolCallId(answer), type: "function", function: { name, arguments: "" } }] }));
    for (const part of fragments(args, 2)) pieces.push(chunk({ tool_calls: [{ index: 0, function: { arguments: part } }] }));
  }
  const closing = [chunk({}, FINISH[answer.stop])];
  // As OpenAI does: one more event, with no choices, after the last.
  if (includeUsage) closing.push(sseFrame({ id: extras.id ?? "chatcmpl-mock", object: "chat.completion.chunk", created: Math.floor(Date.now() / 1000), model, choices: [], usage: usageOf(answer) }));
  closing.push(sseFrame("[DONE]"));
  return { opening: [...(extras.opening ?? []), chunk({ role: "assistant", content: "" })], pieces, closing, ...answer.timing };
}

export function textCompletion(answer, model) {
  return {
    id: "cmpl-mock",
    object: "text_completion",
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, text: answer.pieces.join(""), logprobs: null, finish_reason: answer.stop === "filtered" ? "content_filter" : "stop" }],
    usage: usageOf(answer),
  };
}

export function embeddings(body, model) {
  const inputs = Array.isArray(body?.input) ? body.input : [body?.input];
  return {
    object: "list",
    model,
    data: inputs.map((_, index) => ({ object: "embedding", index, embedding: [0.1, 0.2, 0.3] })),
    usage: { prompt_tokens: 5, total_tokens: 5 },
  };
}
