// Amazon Bedrock's runtime (bedrock-runtime.<region>.amazonaws.com), as strict as the real
// service. Its base is the runtime endpoint; it serves
//   POST /model/<modelId>/converse          Converse
//   POST /model/<modelId>/converse-stream   ConverseStream (application/vnd.amazon.eventstream)
//   POST /model/<modelId>/invoke            InvokeModel, for the embedding models: Amazon
//        Titan (amazon.titan-embed-text-v1, -v2) and Cohere (cohere.embed-*)
// the model id URL-encoded in the path (`:` as %3A), every request signed with SigV4 for
// service `bedrock` in the deployment's region (sigv4.mjs) or carrying a Bedrock API key as
// `Authorization: Bearer <key>`. Its `x-amzn-bedrock-*` request headers are InvokeModel's
// guardrail and trace options, which no answer here depends on: they are ignored.
//
// Options: { region, accessKeyId, secretAccessKey (required unless apiKey), sessionToken?
//   (then every request must carry it as X-Amz-Security-Token), apiKey?, models? (the ids it
//   serves; others are a 404), deniedModels? (ids it refuses: 403) }
//
// Errors as Bedrock sends them: the status, `x-amzn-ErrorType: <Name>:http://internal.amazon.com/coral/<namespace>/`
// (com.amazon.coral.service for the front door's: signatures, keys, serialization;
// com.amazon.bedrock for the service's), `x-amzn-RequestId`, and a body {"message"} (the
// coral SerializationException's {"Message"}). Checks, in order:
//   another path or method   404 UnknownOperationException
//   the signature or key     403 (sigv4.mjs); a wrong API key 403 UnrecognizedClientException
//   a body that is not JSON, or of wrong types  400 SerializationException
//   the body's constraints and Converse's rules  400 ValidationException (bedrock-request.mjs)
//   a model it does not serve  404 ResourceNotFoundException "Could not resolve the
//                            foundation model from the provided model identifier."
//   a model it refuses       403 AccessDeniedException "You don't have access to the model
//                            with the specified model ID."
// Answers: output.message { role: "assistant", content: text, then toolUse { toolUseId,
// name, input } }, stopReason end_turn | tool_use | max_tokens | stop_sequence |
// content_filtered | guardrail_intervened, usage { inputTokens, outputTokens, totalTokens },
// metrics { latencyMs }. A text answer stops at inferenceConfig.maxTokens (a piece a token)
// and before the first of its stopSequences. ConverseStream sends event-stream frames
// (@smithy/eventstream-codec) messageStart, contentBlockDelta per text piece,
// contentBlockStart (toolUse) and contentBlockDelta with its input in fragments,
// contentBlockStop, messageStop { stopReason }, metadata { usage, metrics }, each payload
// padded with a "p" field as Bedrock pads them.
// Behaviours (mock-upstream.mjs), as Bedrock renders them:
//   error           { status, message?, errorType? (else from the status: 400
//                   ValidationException, 403 AccessDeniedException, 404
//                   ResourceNotFoundException, 408 ModelTimeoutException, 424
//                   ModelErrorException, 429 ThrottlingException, 500
//                   InternalServerException, 503 ServiceUnavailableException) }
//   stream          errorAfter: n ends the stream after n chunks with an exception frame
//                   (:message-type exception; exception = "modelStreamErrorException" |
//                   "throttlingException" | ..., errorMessage?)
//   rate_limit      429 ThrottlingException "Too many requests, please wait before trying
//                   again." (no Retry-After: Bedrock sends none)
//   overloaded      503 ServiceUnavailableException "Bedrock is unable to process your request."
//   context_window  400 ValidationException: for Anthropic's models "The model returned the
//                   following errors: prompt is too long: 208310 tokens > 200000 maximum",
//                   for others "Input is too long for requested model."
//   content_filter  stopReason content_filtered (the model's own filter), after any
//                   scripted text
//   content_policy  a guardrail intervention: stopReason guardrail_intervened and the
//                   guardrail's blocked message as the text
import { EventStreamCodec } from "@smithy/eventstream-codec";
import { randomUUID } from "node:crypto";
import { Rejected, checkConverse, checkEmbedding } from "./bedrock-request.mjs";
import { checkSigV4 } from "./sigv4.mjs";
import { answerOf, base62, cutAt, fragments, playStream, sendJson, sleep } from "./wire.mjs";

const SERVICE = "bedrock";
const FRONT_DOOR = "com.amazon.coral.service";
const BEDROCK = "com.amazon.bedrock";
const BLOCKED_MESSAGE = "Sorry, the model cannot answer this question.";

export function declare(options) {
  if (typeof options.region !== "string") throw new Error("a bedrock deployment needs options.region");
  if (typeof options.apiKey !== "string" && (typeof options.accessKeyId !== "string" || typeof options.secretAccessKey !== "string")) {
    throw new Error("a bedrock deployment needs options.accessKeyId and options.secretAccessKey, or options.apiKey");
  }
  return options;
}

/** Bedrock's error: its status, x-amzn-ErrorType and body. */
function bedrockError(res, status, type, message, { namespace = BEDROCK, key = "message" } = {}) {
  sendJson(res, status, { [key]: message }, { "x-amzn-errortype": `${type}:http://internal.amazon.com/coral/${namespace}/`, "x-amzn-requestid": randomUUID() });
}

const ERROR_TYPES = { 400: "ValidationException", 403: "AccessDeniedException", 404: "ResourceNotFoundException", 408: "ModelTimeoutException", 424: "ModelErrorException", 429: "ThrottlingException", 500: "InternalServerException", 503: "ServiceUnavailableException" };

/** { modelId, operation } of a path Bedrock's runtime serves, else null. */
function route(path) {
  const match = /^\/model\/([^/]+)\/(converse|converse-stream|invoke)$/.exec(path);
  return match ? { modelId: decodeURIComponent(match[1]), operation: match[2] } : null;
}

/** The embedding schema a model id takes, or null for a model that does not embed. */
function embeddingKind(modelId) {
  if (/^amazon\.titan-embed-text-v1/.test(modelId)) return "titan-v1";
  if (/^amazon\.titan-embed-text-v2/.test(modelId)) return "titan-v2";
  if (/^cohere\.embed-/.test(modelId)) return "cohere";
  return null;
}

/** The refusal of the request's credentials ({ status, type, message }), or null. */
async function authFailure(ctx) {
  const { options, headers } = ctx;
  const bearer = /^Bearer (.+)$/.exec(headers.authorization ?? "")?.[1];
  if (bearer !== undefined) {
    if (options.apiKey !== undefined && bearer === options.apiKey) return null;
    return { status: 403, type: "UnrecognizedClientException", message: "The security token included in the request is invalid." };
  }
  if (options.accessKeyId === undefined) return { status: 403, type: "MissingAuthenticationTokenException", message: "Missing Authentication Token" };
  const request = { method: ctx.method, target: ctx.req.url, headers, bytes: ctx.bytes };
  return checkSigV4(request, options, { region: options.region, service: SERVICE });
}

export async function handle(ctx) {
  const { res, options } = ctx;
  const target = ctx.method === "POST" ? route(ctx.path) : null;
  if (!target) return bedrockError(res, 404, "UnknownOperationException", "Unknown operation", { namespace: FRONT_DOOR });
  const refused = await authFailure(ctx);
  if (refused) return bedrockError(res, refused.status, refused.type, refused.message, { namespace: FRONT_DOOR });
  if (typeof ctx.body === "string" || ctx.body === null) {
    return bedrockError(res, 400, "SerializationException", "Unexpected character found in the request body: it is not JSON", { namespace: FRONT_DOOR, key: "Message" });
  }
  const kind = embeddingKind(target.modelId);
  try {
    if (target.operation === "invoke") {
      // The mock's limit: InvokeModel is served for the embedding models only.
      if (!kind) throw new Rejected("ValidationException", "This mock serves InvokeModel for embedding models only; use Converse.");
      checkEmbedding(kind, ctx.body);
    } else {
      checkConverse(ctx.body);
    }
  } catch (error) {
    if (!(error instanceof Rejected)) throw error;
    const namespace = error.type === "SerializationException" ? FRONT_DOOR : BEDROCK;
    return bedrockError(res, 400, error.type, error.message, { namespace, key: error.key });
  }
  if (options.models && !options.models.includes(target.modelId)) return bedrockError(res, 404, "ResourceNotFoundException", "Could not resolve the foundation model from the provided model identifier.");
  if (options.deniedModels?.includes(target.modelId)) return bedrockError(res, 403, "AccessDeniedException", "You don't have access to the model with the specified model ID.");
  return respond(ctx, ctx.take(), { ...target, kind });
}

async function respond(ctx, behaviour, { modelId, operation, kind }) {
  const { res, body } = ctx;
  const answer = answerOf(behaviour, ctx.deployment);
  const started = Date.now();
  if (answer) {
    if (answer.wait) await sleep(answer.wait);
    if (operation === "invoke") return sendJson(res, 200, embeddings(kind, body), { "x-amzn-requestid": randomUUID(), "x-amzn-bedrock-invocation-latency": "12", "x-amzn-bedrock-input-token-count": "5" });
    const message = shape(answer, body.inferenceConfig ?? {}, behaviour);
    if (operation === "converse-stream") return playStream(res, eventStream(message, answer, behaviour), ctx.record);
    return sendJson(res, 200, converseBody(message, Date.now() - started), { "x-amzn-requestid": randomUUID() });
  }
  switch (behaviour.type) {
    case "error": {
      const type = behaviour.errorType ?? ERROR_TYPES[behaviour.status] ?? (behaviour.status >= 500 ? "InternalServerException" : "ValidationException");
      return bedrockError(res, behaviour.status, type, behaviour.message ?? `scripted error ${behaviour.status}`);
    }
    case "rate_limit":
      return bedrockError(res, 429, "ThrottlingException", "Too many requests, please wait before trying again.");
    case "overloaded":
      return bedrockError(res, 503, "ServiceUnavailableException", "Bedrock is unable to process your request.");
    case "context_window": {
      const message = modelId.includes("anthropic.")
        ? `The model returned the following errors: prompt is too long: ${behaviour.tokens ?? 208310} tokens > ${behaviour.maximum ?? 200000} maximum`
        : "Input is too long for requested model.";
      return bedrockError(res, 400, "ValidationException", message);
    }
    case "content_policy": {
      const message = { pieces: [behaviour.content ?? BLOCKED_MESSAGE], toolUse: null, stopReason: "guardrail_intervened", usage: usage(8, 0) };
      if (operation === "converse-stream") return playStream(res, eventStream(message, { timing: {} }, behaviour), ctx.record);
      return sendJson(res, 200, converseBody(message, 1), { "x-amzn-requestid": randomUUID() });
    }
    case "stall":
      return; // the socket stays open until the client gives up or the mock closes
    case "stall_body":
      res.writeHead(200, { "content-type": "application/json", "x-amzn-requestid": randomUUID() });
      return res.write('{"metrics":{"latencyMs":'); // and never ends
    case "raw":
      res.writeHead(behaviour.status, behaviour.headers ?? {});
      return res.end(behaviour.body ?? "");
    default:
      throw new Error(`unknown behaviour ${behaviour.type}`);
  }
}

const usage = (input, output) => ({ inputTokens: input, outputTokens: output, totalTokens: input + output });

/** The message an answer makes: its text cut at maxTokens or a stop sequence, its toolUse, stopReason and usage. */
function shape(answer, config, behaviour) {
  let pieces = answer.pieces;
  let stopReason = { end: "end_turn", tool_call: "tool_use", filtered: "content_filtered" }[answer.stop];
  if (answer.stop === "end") {
    const text = pieces.join("");
    const hits = (config.stopSequences ?? []).map((s) => text.indexOf(s)).filter((index) => index >= 0);
    if (hits.length > 0) {
      pieces = cutAt(pieces, Math.min(...hits));
      stopReason = "stop_sequence";
    }
    if (config.maxTokens !== undefined && pieces.length > config.maxTokens) {
      pieces = pieces.slice(0, config.maxTokens);
      stopReason = "max_tokens";
    }
  }
  const output = stopReason === "max_tokens" ? config.maxTokens : answer.output;
  const toolUse = answer.toolCall && { toolUseId: answer.toolCall.id ?? `tooluse_${base62(22)}`, name: answer.toolCall.name, arguments: answer.toolCall.arguments };
  return { pieces, toolUse, stopReason, usage: { ...usage(answer.input, output), ...behaviour.usage } };
}

function converseBody(message, latencyMs) {
  const content = [];
  const text = message.pieces.join("");
  if (text) content.push({ text });
  if (message.toolUse) content.push({ toolUse: { toolUseId: message.toolUse.toolUseId, name: message.toolUse.name, input: JSON.parse(message.toolUse.arguments) } });
  return { output: { message: { role: "assistant", content } }, stopReason: message.stopReason, usage: message.usage, metrics: { latencyMs } };
}

const codec = new EventStreamCodec((bytes) => Buffer.from(bytes).toString("utf8"), (text) => new Uint8Array(Buffer.from(text, "utf8")));
const PADDING = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/** One event-stream frame: `:message-type` event (or exception) named `name`, a JSON payload. */
function frame(messageType, name, payload) {
  const string = (value) => ({ type: "string", value });
  const nameHeader = messageType === "exception" ? ":exception-type" : ":event-type";
  const padded = messageType === "event" ? { ...payload, p: PADDING.slice(0, 1 + (JSON.stringify(payload).length % PADDING.length)) } : payload;
  return Buffer.from(codec.encode({
    headers: { [nameHeader]: string(name), ":content-type": string("application/json"), ":message-type": string(messageType) },
    body: new Uint8Array(Buffer.from(JSON.stringify(padded), "utf8")),
  }));
}
const event = (name, payload) => frame("event", name, payload);

const EXCEPTION_MESSAGES = {
  modelStreamErrorException: (behaviour) => ({ message: behaviour.errorMessage ?? "The model stream failed.", originalStatusCode: 529, originalMessage: "Overloaded" }),
  throttlingException: (behaviour) => ({ message: behaviour.errorMessage ?? "Too many requests, please wait before trying again." }),
  serviceUnavailableException: (behaviour) => ({ message: behaviour.errorMessage ?? "Bedrock is unable to process your request." }),
  internalServerException: (behaviour) => ({ message: behaviour.errorMessage ?? "The server encountered an internal error." }),
  validationException: (behaviour) => ({ message: behaviour.errorMessage ?? "Input is too long for requested model." }),
};

/** The frames of a ConverseStream answer; each text delta and input fragment is a timed piece. */
function eventStream(message, answer, behaviour) {
  const opening = [event("messageStart", { role: "assistant" })];
  const pieces = message.pieces.map((text) => event("contentBlockDelta", { contentBlockIndex: 0, delta: { text } }));
  let index = message.pieces.length > 0 ? 0 : -1;
  if (message.toolUse) {
    const previous = index;
    index += 1;
    const start = event("contentBlockStart", { contentBlockIndex: index, start: { toolUse: { toolUseId: message.toolUse.toolUseId, name: message.toolUse.name } } });
    pieces.push(Buffer.concat([...(previous >= 0 ? [event("contentBlockStop", { contentBlockIndex: previous })] : []), start]));
    for (const part of fragments(message.toolUse.arguments)) pieces.push(event("contentBlockDelta", { contentBlockIndex: index, delta: { toolUse: { input: part } } }));
  }
  const closing = [
    ...(index >= 0 ? [event("contentBlockStop", { contentBlockIndex: index })] : []),
    event("messageStop", { stopReason: message.stopReason }),
    event("metadata", { usage: message.usage, metrics: { latencyMs: 40 } }),
  ];
  const { errorAfter, ...timing } = answer.timing;
  const exception = behaviour.exception ?? "modelStreamErrorException";
  const payload = (EXCEPTION_MESSAGES[exception] ?? EXCEPTION_MESSAGES.internalServerException)(behaviour);
  const interrupt = errorAfter === undefined ? undefined : { after: errorAfter, frames: [frame("exception", exception, payload)] };
  return { headers: { "content-type": "application/vnd.amazon.eventstream", "x-amzn-requestid": randomUUID() }, opening, pieces, closing, ...timing, interrupt };
}

/** An embedding model's answer: Titan's { embedding, inputTextTokenCount } or Cohere's { embeddings, id, response_type, texts }. */
function embeddings(kind, body) {
  const vector = (seed, size) => Array.from({ length: size }, (_, j) => Number(((((seed + 1) * (j + 3)) % 89) / 89 - 0.5).toFixed(6)));
  if (kind === "cohere") {
    return { embeddings: body.texts.map((_, i) => vector(i, 1024)), id: randomUUID(), response_type: "embeddings_floats", texts: body.texts.map((text) => text.toLowerCase()) };
  }
  const size = kind === "titan-v1" ? 1536 : (body.dimensions ?? 1024);
  const values = vector(0, size);
  const tokens = Math.max(1, body.inputText.split(/\s+/).filter(Boolean).length);
  return kind === "titan-v1" ? { embedding: values, inputTextTokenCount: tokens } : { embedding: values, embeddingsByType: { float: values }, inputTextTokenCount: tokens };
}
