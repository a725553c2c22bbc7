// The Gemini API (Google AI Studio, generativelanguage.googleapis.com), as strict as the
// real service. Its base is the api_base without the version; it serves
//   POST /v1beta/models/<model>:generateContent
//   POST /v1beta/models/<model>:streamGenerateContent?alt=sse
//   POST /v1beta/models/<model>:batchEmbedContents
// (and the same under /v1), the key in `x-goog-api-key` or `?key=`.
//
// Options: { apiKey (required), models? (the model names it serves; others are a 404) }
//
// Checks, in order, each answered in Google's shape {"error":{"code","message","status",
// "details"?}} (google-answers.mjs) with its status:
//   another path, or a method other than POST  404 NOT_FOUND "Method not found."
//   no key                   403 PERMISSION_DENIED "Method doesn't allow unregistered callers ..."
//   another key              400 INVALID_ARGUMENT "API key not valid. Please pass a valid API
//                            key." with ErrorInfo API_KEY_INVALID and LocalizedMessage details
//   a body that is not JSON  400 INVALID_ARGUMENT "Invalid JSON payload received. ..."
//   the body's fields, types and rules  400 INVALID_ARGUMENT (gemini-request.mjs), with a
//                            BadRequest detail for the fields it could not read
//   a model it does not serve  404 NOT_FOUND "models/<m> is not found for API version
//                            v1beta, or is not supported for generateContent. ..."
// Answers and behaviours: google-answers.mjs (usageMetadata on every streamed chunk, as
// the Gemini API sends it); rate_limit's 429 carries QuotaFailure, Help and RetryInfo
// { retryDelay: "<retryAfter = 1>s" } details and no Retry-After header, as Google's does.
// batchEmbedContents answers { embeddings: [{ values }] }, one per request, each
// `outputDimensionality` (else 768) long.
import { Invalid, checkBatchEmbed, checkGenerateContent, jsonSyntaxError, readRequest } from "./gemini-request.mjs";
import { badRequest, errorInfo, googleError, respondGoogle } from "./google-answers.mjs";
import { answerOf, sendJson, sleep } from "./wire.mjs";

const PACKAGE = "google.ai.generativelanguage.v1beta";
const SERVICE = "generativelanguage.googleapis.com";

export function declare(options) {
  if (typeof options.apiKey !== "string") throw new Error("a gemini deployment needs options.apiKey");
  return options;
}

/** { version, model, method } of a path the Gemini API serves, else null. */
function route(path) {
  const match = /^\/(v1beta|v1)\/models\/([^/:]+):([A-Za-z]+)$/.exec(path);
  if (!match || !["generateContent", "streamGenerateContent", "batchEmbedContents"].includes(match[3])) return null;
  return { version: match[1], model: decodeURIComponent(match[2]), method: match[3] };
}

export async function handle(ctx) {
  const { res, options } = ctx;
  const target = ctx.method === "POST" ? route(ctx.path) : null;
  if (!target) return googleError(res, 404, "Method not found.");
  const key = ctx.headers["x-goog-api-key"] ?? ctx.query.get("key");
  if (!key) {
    return googleError(res, 403, "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.");
  }
  if (key !== options.apiKey) {
    const message = "API key not valid. Please pass a valid API key.";
    return googleError(res, 400, message, [errorInfo("API_KEY_INVALID", { service: SERVICE }), { "@type": "type.googleapis.com/google.rpc.LocalizedMessage", locale: "en-US", message }]);
  }
  const syntax = jsonSyntaxError(ctx.raw);
  if (syntax) return googleError(res, 400, syntax, [badRequest([{ description: syntax }])]);
  const embedding = target.method === "batchEmbedContents";
  try {
    if (embedding) checkBatchEmbed(ctx.body, PACKAGE, `models/${target.model}`);
    else checkGenerateContent(ctx.body, PACKAGE);
  } catch (error) {
    if (error instanceof Invalid) return googleError(res, 400, error.message, error.violations.length > 0 ? [badRequest(error.violations)] : undefined);
    throw error;
  }
  if (options.models && !options.models.includes(target.model)) {
    const method = embedding ? "batchEmbedContents" : "generateContent";
    return googleError(res, 404, `models/${target.model} is not found for API version ${target.version}, or is not supported for ${method}. Call ListModels to see the list of available models and their supported methods.`);
  }
  const behaviour = ctx.take();
  if (embedding && answerOf(behaviour, ctx.deployment)) return embed(ctx, behaviour);
  const flavour = {
    chunkUsage: (partial) => partial,
    decorate: (response) => response,
    rateLimit: (res, { retryAfter = 1 }) =>
      googleError(res, 429, "You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.", [
        { "@type": "type.googleapis.com/google.rpc.QuotaFailure", violations: [{ quotaMetric: `${SERVICE}/generate_content_requests`, quotaId: "GenerateRequestsPerMinutePerProjectPerModel", quotaDimensions: { location: "global", model: target.model }, quotaValue: "10" }] },
        { "@type": "type.googleapis.com/google.rpc.Help", links: [{ description: "Learn more about Gemini API quotas", url: "https://ai.google.dev/gemini-api/docs/rate-limits" }] },
        { "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: `${retryAfter}s` },
      ]),
  };
  const stream = target.method === "streamGenerateContent";
  return respondGoogle(ctx, behaviour, { model: target.model, limits: readRequest(ctx.body), stream, flavour });
}

/** The embeddings of a batch: one vector per request, of its requested dimension. */
async function embed(ctx, behaviour) {
  if (behaviour.delayMs) await sleep(behaviour.delayMs);
  const requests = ctx.body.requests;
  const embeddings = requests.map((request, i) => {
    const size = Number(request.outputDimensionality ?? request.output_dimensionality ?? 768);
    return { values: Array.from({ length: size }, (_, j) => Number((((i + 1) * (j + 1)) % 97 / 97 - 0.5).toFixed(6))) };
  });
  return sendJson(ctx.res, 200, { embeddings }, { "content-type": "application/json; charset=UTF-8" });
}
