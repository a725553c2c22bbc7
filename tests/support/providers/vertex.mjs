// Vertex AI's prediction service, as strict as https://<location>-aiplatform.googleapis.com
// (the base stands for that host). It serves
//   POST /v1/projects/<p>/locations/<l>/publishers/google/models/<m>:generateContent
//   POST /v1/projects/<p>/locations/<l>/publishers/google/models/<m>:streamGenerateContent?alt=sse
//        the Gemini API's body and answers (gemini-request.mjs, google-answers.mjs)
//   POST /v1/projects/<p>/locations/<l>/publishers/anthropic/models/<m>:rawPredict
//   POST /v1/projects/<p>/locations/<l>/publishers/anthropic/models/<m>:streamRawPredict
//        Anthropic's Messages body without `model` and with anthropic_version
//        "vertex-2023-10-16" (anthropic-request.mjs), answered as Anthropic answers
//        (anthropic.mjs); streamRawPredict, or `stream: true`, streams
// (and the same under /v1beta1), with `Authorization: Bearer <token>` from Google's token
// endpoint (google-oauth.mjs).
//
// Options: { project, location (required), models? (the model names it serves, of either
//   publisher; others are a 404), maxOutputTokens = 64000 (Anthropic's models) }
//
// Checks, in order, each in Google's shape {"error":{"code","message","status","details"}}
// with an ErrorInfo naming aiplatform.googleapis.com and the method:
//   another path or method   404 NOT_FOUND "Method not found."
//   no Authorization         401 UNAUTHENTICATED "Request is missing required authentication
//                            credential. ..." CREDENTIALS_MISSING ("API keys are not supported
//                            by this API. ..." when it came with x-goog-api-key or ?key=)
//   a token it did not issue 401 UNAUTHENTICATED "Request had invalid authentication
//                            credentials. ..." ACCESS_TOKEN_TYPE_UNSUPPORTED
//   an expired token         the same, ACCESS_TOKEN_EXPIRED
//   a token without the cloud-platform scope
//                            403 PERMISSION_DENIED "Request had insufficient authentication
//                            scopes." ACCESS_TOKEN_SCOPE_INSUFFICIENT
//   another project (in the path, or the token's account's)
//                            403 PERMISSION_DENIED "Permission 'aiplatform.endpoints.predict'
//                            denied on resource '//aiplatform.googleapis.com/<model>' (or it
//                            may not exist)." IAM_PERMISSION_DENIED
//   another location         400 INVALID_ARGUMENT "Request contains an invalid argument."
//                            (the mock's choice: its host serves one location)
//   a body that is not JSON, or not a valid request
//                            google: 400 INVALID_ARGUMENT as the Gemini API words it;
//                            anthropic: 400 invalid_request_error in Anthropic's shape
//   a model it does not serve  404 NOT_FOUND "Publisher Model `<model>` was not found or
//                            your project does not have access to it. ..."
// Answers: google's as the Gemini API's, plus createTime and usageMetadata.trafficType
// ON_DEMAND; a streamed chunk before the last carries usageMetadata { trafficType } only.
// Behaviours: as the Gemini API (google-answers.mjs) and Anthropic (anthropic.mjs), but
// rate_limit is Vertex's own quota error for both publishers: 429 RESOURCE_EXHAUSTED
// "Resource exhausted. Please try again later. ..." without details or Retry-After.
import { Invalid as AnthropicInvalid, checkMessagesRequest } from "./anthropic-request.mjs";
import { anthropicError, jsonError, respond as respondAnthropic } from "./anthropic.mjs";
import { Invalid, checkGenerateContent, jsonSyntaxError, readRequest } from "./gemini-request.mjs";
import { badRequest, errorInfo, googleError, respondGoogle } from "./google-answers.mjs";

const PACKAGE = "google.cloud.aiplatform.v1";
const SERVICE = "aiplatform.googleapis.com";
const CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform";
const DEVCONSOLE = "See https://developers.google.com/identity/sign-in/web/devconsole-project.";

export function declare(options) {
  if (typeof options.project !== "string" || typeof options.location !== "string") throw new Error("a vertex deployment needs options.project and options.location");
  return { maxOutputTokens: 64000, ...options };
}

const METHODS = { google: ["generateContent", "streamGenerateContent"], anthropic: ["rawPredict", "streamRawPredict"] };
const RPC_NAMES = { generateContent: "GenerateContent", streamGenerateContent: "StreamGenerateContent", rawPredict: "RawPredict", streamRawPredict: "StreamRawPredict" };

/** { version, project, location, publisher, model, method } of a path Vertex serves, else null. */
function route(path) {
  const match = /^\/(v1|v1beta1)\/projects\/([^/]+)\/locations\/([^/]+)\/publishers\/(google|anthropic)\/models\/([^/:]+):([A-Za-z]+)$/.exec(path);
  if (!match) return null;
  const [, version, project, location, publisher, model, method] = match.map(decodeURIComponent);
  if (!METHODS[publisher].includes(method)) return null;
  return { version, project, location, publisher, model, method };
}

export async function handle(ctx) {
  const { res, options } = ctx;
  const target = ctx.method === "POST" ? route(ctx.path) : null;
  if (!target) return googleError(res, 404, "Method not found.");
  const metadata = { service: SERVICE, method: `google.cloud.aiplatform.${target.version}.PredictionService.${RPC_NAMES[target.method]}` };
  const refuse = (code, message, reason) => googleError(res, code, message, [errorInfo(reason, metadata)]);
  const token = /^Bearer (.+)$/i.exec(ctx.headers.authorization ?? "")?.[1];
  if (!token) {
    if (ctx.headers["x-goog-api-key"] || ctx.query.get("key")) {
      return refuse(401, "API keys are not supported by this API. Expected OAuth2 access token or other authentication credentials that assert a principal. See https://cloud.google.com/docs/authentication", "CREDENTIALS_MISSING");
    }
    return refuse(401, `Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. ${DEVCONSOLE}`, "CREDENTIALS_MISSING");
  }
  const { state, grant } = ctx.google.verify(token);
  if (state !== "valid") {
    return refuse(401, `Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. ${DEVCONSOLE}`, state === "expired" ? "ACCESS_TOKEN_EXPIRED" : "ACCESS_TOKEN_TYPE_UNSUPPORTED");
  }
  if (!grant.scopes.includes(CLOUD_PLATFORM)) return refuse(403, "Request had insufficient authentication scopes.", "ACCESS_TOKEN_SCOPE_INSUFFICIENT");
  const resource = `projects/${target.project}/locations/${target.location}/publishers/${target.publisher}/models/${target.model}`;
  if (target.project !== options.project || grant.project !== options.project) {
    return googleError(res, 403, `Permission 'aiplatform.endpoints.predict' denied on resource '//aiplatform.googleapis.com/${resource}' (or it may not exist).`, [
      errorInfo("IAM_PERMISSION_DENIED", { permission: "aiplatform.endpoints.predict", resource }),
    ]);
  }
  if (target.location !== options.location) return googleError(res, 400, "Request contains an invalid argument.");
  const checked = target.publisher === "google" ? checkGemini(ctx) : checkAnthropic(ctx, target);
  if (!checked) return; // refused, and answered
  if (options.models && !options.models.includes(target.model)) {
    return googleError(res, 404, `Publisher Model \`${resource}\` was not found or your project does not have access to it. Please ensure you are using a valid model version. For more information, see: https://cloud.google.com/vertex-ai/generative-ai/docs/learn/model-versions`);
  }
  const behaviour = ctx.take();
  const quota = () => googleError(res, 429, "Resource exhausted. Please try again later. Please refer to https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details.");
  if (target.publisher === "anthropic") {
    if (behaviour.type === "rate_limit") return quota();
    const stream = target.method === "streamRawPredict" || ctx.body.stream === true;
    return respondAnthropic({ ...ctx, body: { ...ctx.body, model: target.model, stream } }, behaviour);
  }
  const flavour = {
    chunkUsage: () => ({ trafficType: "ON_DEMAND" }),
    decorate: (response) => ({
      ...response,
      ...(response.usageMetadata ? { usageMetadata: { ...response.usageMetadata, trafficType: "ON_DEMAND" } } : {}),
      createTime: new Date().toISOString(),
    }),
    rateLimit: quota,
  };
  return respondGoogle(ctx, behaviour, { model: target.model, limits: readRequest(ctx.body), stream: target.method === "streamGenerateContent", flavour });
}

/** Checks a generateContent body; answers a refusal and returns false. */
function checkGemini(ctx) {
  const syntax = jsonSyntaxError(ctx.raw);
  if (syntax) {
    googleError(ctx.res, 400, syntax, [badRequest([{ description: syntax }])]);
    return false;
  }
  try {
    checkGenerateContent(ctx.body, PACKAGE);
    return true;
  } catch (error) {
    if (!(error instanceof Invalid)) throw error;
    googleError(ctx.res, 400, error.message, error.violations.length > 0 ? [badRequest(error.violations)] : undefined);
    return false;
  }
}

/** Checks a rawPredict body as Anthropic's Messages API on Vertex; answers a refusal and returns false. */
function checkAnthropic(ctx, target) {
  const syntax = jsonError(ctx.raw);
  if (syntax) {
    anthropicError(ctx.res, 400, "invalid_request_error", `The request body is not valid JSON: ${syntax}`);
    return false;
  }
  try {
    checkMessagesRequest(ctx.body, { maxOutputTokens: ctx.options.maxOutputTokens, vertex: true, model: target.model });
    return true;
  } catch (error) {
    if (!(error instanceof AnthropicInvalid)) throw error;
    anthropicError(ctx.res, 400, "invalid_request_error", error.message);
    return false;
  }
}
