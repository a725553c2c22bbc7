// Azure OpenAI, as strict as <resource>.openai.azure.com. Its base is the resource
// endpoint; it serves
//   POST /openai/deployments/<deployment>/chat/completions | completions | embeddings
//        ?api-version=<a dated version>
//   POST /openai/v1/chat/completions | completions | embeddings   (the v1 API: the
//        deployment is the body's `model`; api-version absent, "preview" or "latest")
//
// Options: { apiKey? (the resource's key), entra? { tenant, clientId, clientSecret,
//   expiresIn? } (an app registered with the Entra mock whose tokens this resource
//   accepts), tokens? (more bearer tokens it accepts as they are), deployments =
//   { "gpt-4o": "gpt-4o-2024-11-20" } (deployment -> the model it reports; an array of
//   names reports each name), apiVersions? (the dated versions it serves) }
//
// Checks, in Azure's order, each answered as Azure answers:
//   another path, or no api-version    404 {"error":{"code":"404","message":"Resource not found"}}
//   an api-version it does not serve   400 {"error":{"code":"BadRequest","message":"API version not supported"}}
//   `api-key` header not the key       401 {"error":{"code":"401","message":"Access denied due to invalid subscription key ..."}}
//   no api-key and no valid bearer     401 {"statusCode":401,"message":"Unauthorized. Access token is missing, invalid, ..."}
//     (a valid bearer: issued by the Entra mock for https://cognitiveservices.azure.com,
//     or https://ai.azure.com on the v1 path, unexpired; one of `tokens`; on the v1 path
//     the key itself)
//   a token of another app             401 {"error":{"code":"PermissionDenied","message":"The principal ... lacks ..."}}
//   a deployment it does not have      404 {"error":{"code":"DeploymentNotFound",...}}
//   a body that is not JSON, or wrong  400 in OpenAI's shape (azure-request.mjs)
// Answers in OpenAI's shape with Azure's extras: `prompt_filter_results` on the body,
// `content_filter_results` on each choice; a stream's first chunk has empty `choices` and
// the prompt_filter_results. Behaviours beyond the shared ones (mock-upstream.mjs):
//   error           errorType set: OpenAI's shape; else Azure's {"error":{"code","message"}}
//   rate_limit      429 {"error":{"code":"429",...}} with retry-after and retry-after-ms
//                   (retryAfterMs?, else retryAfter seconds)
//   overloaded      503 server_error "That model is currently overloaded ..."
//   context_window  400 context_length_exceeded
//   content_policy  400 code content_filter, innererror { code: ResponsibleAIPolicyViolation,
//                   content_filter_result } ({ category = "violence", severity = "medium" })
//   content_filter  200 whose finish_reason is content_filter ({ category, severity } too)
import { randomUUID } from "node:crypto";
import { Rejected, checkBody } from "./azure-request.mjs";
import { chatCompletion, chatStream, embeddings, openaiError, textCompletion } from "./openai.mjs";
import { answerOf, base62, playStream, sendJson, sleep, sseFrame } from "./wire.mjs";

const API_VERSIONS = [
  "2022-12-01", "2023-05-15", "2024-02-01", "2024-06-01", "2024-10-21",
  "2023-06-01-preview", "2023-07-01-preview", "2023-08-01-preview", "2023-09-01-preview", "2023-12-01-preview",
  "2024-02-15-preview", "2024-03-01-preview", "2024-04-01-preview", "2024-05-01-preview", "2024-07-01-preview",
  "2024-08-01-preview", "2024-09-01-preview", "2024-10-01-preview", "2024-12-01-preview", "2025-01-01-preview",
  "2025-02-01-preview", "2025-03-01-preview", "2025-04-01-preview",
];

const COGNITIVE_SERVICES = "https://cognitiveservices.azure.com";
const AI_AZURE = "https://ai.azure.com";

export function declare(options, { entra }) {
  if (options.entra) entra.app(options.entra);
  const deployments = Array.isArray(options.deployments)
    ? Object.fromEntries(options.deployments.map((name) => [name, name]))
    : (options.deployments ?? { "gpt-4o": "gpt-4o-2024-11-20" });
  return { apiVersions: API_VERSIONS, tokens: [], ...options, deployments };
}

const isJson = (raw) => {
  try {
    JSON.parse(raw);
    return true;
  } catch {
    return false;
  }
};

const azureError = (res, status, code, message, headers) => sendJson(res, status, { error: { code, message } }, headers);

const OPERATIONS = { "/chat/completions": "chat", "/completions": "completions", "/embeddings": "embeddings" };
const OPERATION_NAMES = { chat: "ChatCompletions_Create", completions: "Completions_Create", embeddings: "Embeddings_Create" };

/** { operation, deployment?, v1 } for a path Azure serves, else null. */
function route(path) {
  const v1 = /^\/openai\/v1(\/.*)$/.exec(path);
  if (v1) return OPERATIONS[v1[1]] ? { operation: OPERATIONS[v1[1]], v1: true } : null;
  const dated = /^\/openai\/deployments\/([^/]+)(\/.*)$/.exec(path);
  if (dated && OPERATIONS[dated[2]]) return { operation: OPERATIONS[dated[2]], deployment: decodeURIComponent(dated[1]), v1: false };
  return null;
}

/** Why the request's credentials are refused (a function answering it), or null. */
function authFailure(ctx, { v1, operation }) {
  const { headers, options } = ctx;
  if (headers["api-key"] !== undefined) {
    if (options.apiKey !== undefined && headers["api-key"] === options.apiKey) return null;
    return (res) => azureError(res, 401, "401", "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.");
  }
  const token = /^Bearer (.+)$/.exec(headers.authorization ?? "")?.[1];
  if (token && options.tokens.includes(token)) return null;
  // The v1 API also takes the key as a bearer token, as OpenAI's own client sends it.
  if (v1 && token !== undefined && token === options.apiKey) return null;
  const grant = token && ctx.entra.verify(token, v1 ? [COGNITIVE_SERVICES, AI_AZURE] : [COGNITIVE_SERVICES]);
  if (!grant) {
    return (res) => sendJson(res, 401, { statusCode: 401, message: `Unauthorized. Access token is missing, invalid, audience is incorrect (${COGNITIVE_SERVICES}), or have expired.` });
  }
  if (grant.clientId === options.entra?.clientId && grant.tenant === options.entra?.tenant) return null;
  const action = operation === "chat" ? "chat/completions" : operation;
  return (res) => azureError(res, 401, "PermissionDenied", `The principal \`${grant.clientId}\` lacks the required data action \`Microsoft.CognitiveServices/accounts/OpenAI/deployments/${action}/action\` to perform \`POST /openai/deployments/{deployment-id}/${action}\` operation.`);
}

export async function handle(ctx) {
  const { res, options } = ctx;
  const target = ctx.method === "POST" ? route(ctx.path) : null;
  const version = ctx.query.get("api-version");
  if (!target || (!target.v1 && !version)) return azureError(res, 404, "404", "Resource not found");
  const versions = target.v1 ? ["preview", "latest"] : options.apiVersions;
  if (version && !versions.includes(version)) return azureError(res, 400, "BadRequest", "API version not supported");
  const refuse = authFailure(ctx, target);
  if (refuse) return refuse(res);
  if (typeof ctx.body === "string" && !isJson(ctx.raw)) {
    return openaiError(res, 400, "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)", "invalid_request_error", null);
  }
  const deployment = target.v1 ? ctx.body?.model : target.deployment;
  if (!target.v1 || typeof deployment === "string") {
    if (!Object.hasOwn(options.deployments, deployment)) {
      return azureError(res, 404, "DeploymentNotFound", "The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.");
    }
  }
  try {
    checkBody(target.operation, ctx.body, target);
  } catch (error) {
    if (error instanceof Rejected) return openaiError(res, 400, error.message, "invalid_request_error", error.code, {}, error.param);
    throw error;
  }
  const model = options.deployments[deployment];
  return respond(ctx, ctx.take(), { ...target, model, version: version ?? "v1" });
}

const SAFE = { filtered: false, severity: "safe" };
const NOT_DETECTED = { filtered: false, detected: false };

/** A filter verdict: every category safe, but `category` (when given) filtered at `severity`. */
function verdict(kinds, { category, severity = "medium" } = {}) {
  const result = {};
  for (const kind of kinds) result[kind] = kind === "jailbreak" || kind.startsWith("protected_material") ? NOT_DETECTED : SAFE;
  if (category) result[category] = category === "jailbreak" || category.startsWith("protected_material") ? { filtered: true, detected: true } : { filtered: true, severity };
  return result;
}
const PROMPT_KINDS = ["hate", "jailbreak", "self_harm", "sexual", "violence"];
const OUTPUT_KINDS = ["hate", "protected_material_code", "protected_material_text", "self_harm", "sexual", "violence"];
const promptFilterResults = () => [{ prompt_index: 0, content_filter_results: verdict(PROMPT_KINDS) }];

function headersOf(model) {
  const id = randomUUID();
  return { "apim-request-id": id, "x-request-id": id, "x-ms-region": "East US", "x-ratelimit-remaining-requests": "99", "x-ratelimit-remaining-tokens": "99000", "azureml-model-session": `d${base62(6)}-${model}` };
}

async function respond(ctx, behaviour, { operation, model, version }) {
  const { res, body } = ctx;
  const answer = answerOf(behaviour, ctx.deployment);
  if (answer) {
    if (answer.wait) await sleep(answer.wait);
    const filtered = answer.stop === "filtered" ? { category: behaviour.category ?? "violence", severity: behaviour.severity } : undefined;
    const id = `chatcmpl-${base62(29)}`;
    const headers = headersOf(model);
    if (operation === "embeddings") return sendJson(res, 200, embeddings(body, model), headers);
    if (operation === "completions") {
      const completion = textCompletion(answer, model);
      completion.choices[0].content_filter_results = verdict(OUTPUT_KINDS, filtered);
      return sendJson(res, 200, { ...completion, prompt_filter_results: promptFilterResults() }, headers);
    }
    const fingerprint = `fp_${base62(10).toLowerCase()}`;
    if (behaviour.type === "stream" || body.stream === true) {
      const extras = {
        id,
        opening: [sseFrame({ choices: [], created: 0, id: "", model: "", object: "", prompt_filter_results: promptFilterResults() })],
        choice: (choice, last) => {
          const isRole = choice.delta.role !== undefined;
          const results = isRole ? {} : last ? (filtered ? verdict(OUTPUT_KINDS, filtered) : {}) : verdict(OUTPUT_KINDS);
          return { content_filter_results: results, ...choice, logprobs: null };
        },
      };
      const stream = chatStream(answer, { model, includeUsage: body.stream_options?.include_usage === true, extras });
      return playStream(res, { headers, ...stream }, ctx.record);
    }
    const extras = {
      id,
      choice: (choice) => ({ content_filter_results: verdict(OUTPUT_KINDS, filtered), ...choice, logprobs: null, message: { annotations: [], refusal: null, ...choice.message } }),
      completion: (completion) => ({ ...completion, prompt_filter_results: promptFilterResults(), system_fingerprint: fingerprint }),
    };
    return sendJson(res, 200, chatCompletion(answer, { model, extras }), headers);
  }
  switch (behaviour.type) {
    case "error": {
      const message = behaviour.message ?? `scripted error ${behaviour.status}`;
      if (behaviour.errorType) return openaiError(res, behaviour.status, message, behaviour.errorType, behaviour.code ?? null);
      return azureError(res, behaviour.status, behaviour.code ?? String(behaviour.status), message);
    }
    case "rate_limit": {
      const ms = behaviour.retryAfterMs ?? (behaviour.retryAfter ?? 1) * 1000;
      const seconds = Math.ceil(ms / 1000);
      return azureError(res, 429, "429", `Requests to the ${OPERATION_NAMES[operation]} Operation under Azure OpenAI API version ${version} have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after ${seconds} seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit.`, {
        "retry-after": String(seconds),
        "retry-after-ms": String(ms),
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-remaining-tokens": "0",
      });
    }
    case "overloaded":
      return openaiError(res, 503, `That model is currently overloaded with other requests. You can retry your request, or contact us through an Azure support request at: https://go.microsoft.com/fwlink/?linkid=2213926 if the error persists. (Please include the request ID ${randomUUID()} in your message.)`, "server_error", null);
    case "context_window":
      return openaiError(res, 400, "This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens. Please reduce the length of the messages.", "invalid_request_error", "context_length_exceeded", {}, "messages");
    case "content_policy":
      return sendJson(res, 400, {
        error: {
          message: "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry. To learn more about our content filtering policies please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766",
          type: null,
          param: "prompt",
          code: "content_filter",
          status: 400,
          innererror: { code: "ResponsibleAIPolicyViolation", content_filter_result: verdict(PROMPT_KINDS, { category: behaviour.category ?? "violence", severity: behaviour.severity }) },
        },
      });
    case "stall":
      return; // the socket stays open until the client gives up or the mock closes
    case "stall_body":
      res.writeHead(200, { "content-type": "application/json", ...headersOf(model) });
      return res.write('{"choices":[{"content_filter_results":{'); // and never ends
    case "raw":
      res.writeHead(behaviour.status, behaviour.headers ?? {});
      return res.end(behaviour.body ?? "");
    default:
      throw new Error(`unknown behaviour ${behaviour.type}`);
  }
}
