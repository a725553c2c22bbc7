// Vertex AI and Google's token endpoint: a service-account JWT signed here with node:crypto
// is exchanged as Google exchanges it (and refused as Google refuses a JWT of another key,
// expired, for another audience, ...), and its token opens Vertex's Gemini and Anthropic
// models, answered in each publisher's format.
import assert from "node:assert/strict";
import { createSign, generateKeyPairSync } from "node:crypto";
import { test } from "node:test";
import { parseSse, post, useUpstream } from "./helpers.mjs";

const PROJECT = "switchyard-test";
const LOCATION = "us-central1";
const CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform";
const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const ctx = useUpstream((upstream) => {
  upstream.provider("vx", "vertex", { project: PROJECT, location: LOCATION, models: ["gemini-2.5-flash", "claude-sonnet-4-5@20250929"] });
  ctx.account = upstream.google.serviceAccount({ project: PROJECT });
  ctx.other = upstream.google.serviceAccount({ project: "another-project" });
  ctx.shortLived = upstream.google.serviceAccount({ project: PROJECT, name: "brief", expiresIn: 1 });
});

/** A JWT as Google's client libraries sign it: RS256 over the claims, with the account's key id. */
function jwt(account, claims = {}, { key = account.private_key, alg = "RS256" } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const part = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const header = part({ alg, typ: "JWT", kid: account.private_key_id });
  const body = part({ iss: account.client_email, scope: CLOUD_PLATFORM, aud: account.token_uri, iat: now, exp: now + 3600, ...claims });
  const signature = createSign("RSA-SHA256").update(`${header}.${body}`).sign(key, "base64url");
  return `${header}.${body}.${signature}`;
}
const exchange = (form) => fetch(`${ctx.upstream.google.url}/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(form) });
const tokenOf = async (assertion) => {
  const response = await exchange({ grant_type: JWT_BEARER, assertion });
  assert.equal(response.status, 200);
  return (await response.json()).access_token;
};
async function expectOAuth(response, error, description) {
  assert.equal(response.status, 400);
  const body = await response.json();
  assert.deepEqual(Object.keys(body).sort(), ["error", "error_description"]);
  assert.equal(body.error, error);
  if (typeof description === "string") assert.equal(body.error_description, description);
  else assert.match(body.error_description, description);
}

const model = (publisher, name, method, project = PROJECT, location = LOCATION) => `${ctx.upstream.base("vx")}/v1/projects/${project}/locations/${location}/publishers/${publisher}/models/${name}:${method}`;
const gemini = (method = "generateContent", name = "gemini-2.5-flash") => model("google", name, method);
const claude = (method = "rawPredict", name = "claude-sonnet-4-5@20250929") => model("anthropic", name, method);
const contents = { contents: [{ role: "user", parts: [{ text: "Hello" }] }] };
const messages = (extra = {}) => ({ anthropic_version: "vertex-2023-10-16", max_tokens: 256, messages: [{ role: "user", content: "Hello" }], ...extra });
const bearer = (token) => ({ authorization: `Bearer ${token}` });

async function expectGoogle(response, code, status, message, reason) {
  assert.equal(response.status, code);
  const { error } = await response.json();
  assert.deepEqual([error.code, error.status], [code, status]);
  if (typeof message === "string") assert.equal(error.message, message);
  else assert.match(error.message, message);
  if (reason) assert.equal(error.details.find((d) => d["@type"].endsWith("ErrorInfo")).reason, reason);
  return error;
}

test("serviceAccount returns the key file a user downloads, its token_uri this endpoint", () => {
  const { account } = ctx;
  assert.equal(account.type, "service_account");
  assert.equal(account.project_id, PROJECT);
  assert.equal(account.client_email, `switchyard@${PROJECT}.iam.gserviceaccount.com`);
  assert.match(account.private_key, /^-----BEGIN PRIVATE KEY-----\n/, "PKCS#8 PEM");
  assert.match(account.private_key_id, /^[0-9a-f]{40}$/);
  assert.match(account.client_id, /^\d{21}$/);
  assert.equal(account.token_uri, `${ctx.upstream.google.url}/token`);
  assert.notEqual(ctx.shortLived.client_email, account.client_email);
});

test("a signed JWT is exchanged for a bearer token, counted and recorded", async () => {
  const response = await exchange({ grant_type: JWT_BEARER, assertion: jwt(ctx.account) });
  assert.equal(response.status, 200);
  const body = await response.json();
  assert.deepEqual(Object.keys(body).sort(), ["access_token", "expires_in", "token_type"]);
  assert.equal(body.expires_in, 3599);
  assert.equal(body.token_type, "Bearer");
  assert.match(body.access_token, /^ya29\./);
  assert.equal(ctx.upstream.google.issued, 1);
  assert.equal(ctx.upstream.google.requests[0].claims.iss, ctx.account.client_email);
  assert.equal(ctx.upstream.google.verify(body.access_token).state, "valid");
});

test("the token endpoint refuses JWTs as Google does", async () => {
  const now = Math.floor(Date.now() / 1000);
  const { privateKey: stranger } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const grant = (assertion) => exchange({ grant_type: JWT_BEARER, assertion });
  await expectOAuth(await grant(jwt(ctx.account, {}, { key: stranger })), "invalid_grant", "Invalid JWT Signature.");
  await expectOAuth(await grant(jwt(ctx.account, {}, { alg: "HS256" })), "invalid_grant", "Invalid JWT Signature.");
  await expectOAuth(await grant(jwt(ctx.account, { iat: now - 7200, exp: now - 3600 })), "invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.");
  await expectOAuth(await grant(jwt(ctx.account, { exp: now + 7200 })), "invalid_grant", /short-lived token \(60 minutes\)/);
  await expectOAuth(await grant(jwt(ctx.account, { iat: now + 1200, exp: now + 1800 })), "invalid_grant", /short-lived token/);
  await expectOAuth(await grant(jwt(ctx.account, { aud: "https://oauth2.googleapis.com/token" })), "invalid_grant", `Invalid JWT: Failed audience check. The right audience is ${ctx.account.token_uri}`);
  await expectOAuth(await grant(jwt(ctx.account, { iss: "nobody@elsewhere.iam.gserviceaccount.com" })), "invalid_grant", "Invalid grant: account not found");
  await expectOAuth(await grant(jwt(ctx.account, { iss: "not-an-email" })), "invalid_grant", "Not a valid email or user ID.");
  await expectOAuth(await grant(jwt(ctx.account, { scope: undefined })), "invalid_scope", "Invalid OAuth scope or ID token audience provided.");
  await expectOAuth(await grant(jwt(ctx.account, { scope: "cloud-platform" })), "invalid_scope", "Invalid OAuth scope or ID token audience provided.");
  await expectOAuth(await grant("only.two"), "invalid_grant", /^Invalid JWT: /);
  await expectOAuth(await exchange({ grant_type: "client_credentials", assertion: jwt(ctx.account) }), "unsupported_grant_type", "Invalid grant_type: client_credentials");
  await expectOAuth(await exchange({ grant_type: JWT_BEARER }), "invalid_request", "Missing required parameter: assertion");
  const json = await fetch(`${ctx.upstream.google.url}/token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ grant_type: JWT_BEARER, assertion: jwt(ctx.account) }) });
  await expectOAuth(json, "unsupported_grant_type", "Invalid grant_type: ");
  assert.equal((await fetch(`${ctx.upstream.google.url}/token`)).status, 404);
  assert.equal(ctx.upstream.google.issued, 0, "no refusal issues a token");
});

test("Vertex serves Gemini with a token of the project's account", async () => {
  const token = await tokenOf(jwt(ctx.account));
  ctx.upstream.script("vx", [{ type: "ok", content: "Hi there." }]);
  const response = await post(gemini(), contents, bearer(token));
  assert.equal(response.status, 200);
  const body = await response.json();
  assert.equal(body.candidates[0].content.parts[0].text, "Hi there.");
  assert.equal(body.modelVersion, "gemini-2.5-flash");
  assert.equal(body.usageMetadata.trafficType, "ON_DEMAND");
  assert.ok(!Number.isNaN(Date.parse(body.createTime)));
  const seen = ctx.upstream.requests.at(-1);
  assert.equal(seen.path, `/v1/projects/${PROJECT}/locations/${LOCATION}/publishers/google/models/gemini-2.5-flash:generateContent`);
});

test("Vertex streams Gemini: usage only on the last chunk, earlier ones carry the traffic type", async () => {
  const token = await tokenOf(jwt(ctx.account));
  ctx.upstream.script("vx", [{ type: "stream", chunks: ["a", "b"] }]);
  const text = await (await post(`${gemini("streamGenerateContent")}?alt=sse`, contents, bearer(token))).text();
  const chunks = text.split("\r\n\r\n").filter(Boolean).map((frame) => JSON.parse(frame.slice(6)));
  assert.deepEqual(chunks[0].usageMetadata, { trafficType: "ON_DEMAND" });
  assert.equal(chunks[1].usageMetadata.totalTokenCount, 8);
  assert.equal(chunks[1].candidates[0].finishReason, "STOP");
});

test("Vertex refuses credentials as Google does", async () => {
  const missing = await expectGoogle(await post(gemini(), contents), 401, "UNAUTHENTICATED", /^Request is missing required authentication credential\. Expected OAuth 2 access token/, "CREDENTIALS_MISSING");
  assert.deepEqual(missing.details[0].metadata, { service: "aiplatform.googleapis.com", method: "google.cloud.aiplatform.v1.PredictionService.GenerateContent" });
  await expectGoogle(await post(gemini(), contents, { "x-goog-api-key": "AIza-key" }), 401, "UNAUTHENTICATED", /^API keys are not supported by this API\./, "CREDENTIALS_MISSING");
  await expectGoogle(await post(gemini(), contents, bearer("ya29.made-up")), 401, "UNAUTHENTICATED", /^Request had invalid authentication credentials\./, "ACCESS_TOKEN_TYPE_UNSUPPORTED");
  const narrow = await tokenOf(jwt(ctx.account, { scope: "https://www.googleapis.com/auth/devstorage.read_only" }));
  await expectGoogle(await post(gemini(), contents, bearer(narrow)), 403, "PERMISSION_DENIED", "Request had insufficient authentication scopes.", "ACCESS_TOKEN_SCOPE_INSUFFICIENT");
  const stranger = await tokenOf(jwt(ctx.other));
  const resource = `projects/${PROJECT}/locations/${LOCATION}/publishers/google/models/gemini-2.5-flash`;
  await expectGoogle(await post(gemini(), contents, bearer(stranger)), 403, "PERMISSION_DENIED", `Permission 'aiplatform.endpoints.predict' denied on resource '//aiplatform.googleapis.com/${resource}' (or it may not exist).`, "IAM_PERMISSION_DENIED");
  const token = await tokenOf(jwt(ctx.account));
  await expectGoogle(await post(model("google", "gemini-2.5-flash", "generateContent", "not-mine"), contents, bearer(token)), 403, "PERMISSION_DENIED", /^Permission 'aiplatform\.endpoints\.predict' denied/);
  await expectGoogle(await post(model("google", "gemini-2.5-flash", "generateContent", PROJECT, "europe-west4"), contents, bearer(token)), 400, "INVALID_ARGUMENT", "Request contains an invalid argument.");
});

test("an expired token is refused as ACCESS_TOKEN_EXPIRED", async () => {
  const token = await tokenOf(jwt(ctx.shortLived));
  assert.equal((await post(gemini(), contents, bearer(token))).status, 200);
  await new Promise((resolve) => setTimeout(resolve, 1100));
  await expectGoogle(await post(gemini(), contents, bearer(token)), 401, "UNAUTHENTICATED", /^Request had invalid authentication credentials\./, "ACCESS_TOKEN_EXPIRED");
});

test("Vertex checks Gemini bodies in its own package's words, and models", async () => {
  const token = await tokenOf(jwt(ctx.account));
  await expectGoogle(await post(gemini(), { contents: [] }, bearer(token)), 400, "INVALID_ARGUMENT", "* GenerateContentRequest.contents: contents is not specified\n");
  await expectGoogle(await post(gemini(), { ...contents, toolConfig: { functionCallingConfig: { mode: "SOMETIMES" } } }, bearer(token)), 400, "INVALID_ARGUMENT", /\(type\.googleapis\.com\/google\.cloud\.aiplatform\.v1\.FunctionCallingConfig\.Mode\), "SOMETIMES"/);
  await expectGoogle(await post(gemini("generateContent", "gemini-0.9"), contents, bearer(token)), 404, "NOT_FOUND", /^Publisher Model `projects\/switchyard-test\/locations\/us-central1\/publishers\/google\/models\/gemini-0\.9` was not found or your project does not have access to it\./);
  await expectGoogle(await post(model("google", "gemini-2.5-flash", "rawPredict"), contents, bearer(token)), 404, "NOT_FOUND", "Method not found.");
});

test("rawPredict answers Anthropic's message for Claude; streamRawPredict its SSE", async () => {
  const token = await tokenOf(jwt(ctx.account));
  ctx.upstream.script("vx", [{ type: "ok", content: "Hello from Claude." }, { type: "tool_call", name: "get_weather", arguments: { city: "Paris" } }]);
  const response = await post(claude(), messages(), bearer(token));
  assert.equal(response.status, 200);
  const message = await response.json();
  assert.equal(message.type, "message");
  assert.equal(message.model, "claude-sonnet-4-5@20250929");
  assert.deepEqual(message.content, [{ type: "text", text: "Hello from Claude." }]);
  const tools = [{ name: "get_weather", input_schema: { type: "object", properties: { city: { type: "string" } } } }];
  const events = parseSse(await (await post(claude("streamRawPredict"), messages({ stream: true, tools }), bearer(token))).text());
  assert.equal(events[0].event, "message_start");
  assert.equal(events.at(-1).event, "message_stop");
  assert.equal(events.find((e) => e.event === "message_delta").data.delta.stop_reason, "tool_use");
});

test("Claude on Vertex takes no model in the body and needs vertex-2023-10-16", async () => {
  const token = await tokenOf(jwt(ctx.account));
  const anthropic = async (response, message) => {
    assert.equal(response.status, 400);
    const body = await response.json();
    assert.deepEqual(body.error, { type: "invalid_request_error", message });
  };
  await anthropic(await post(claude(), messages({ model: "claude-sonnet-4-5" }), bearer(token)), "model: Extra inputs are not permitted");
  const { anthropic_version: _, ...unversioned } = messages();
  await anthropic(await post(claude(), unversioned, bearer(token)), "anthropic_version: Field required");
  await anthropic(await post(claude(), messages({ anthropic_version: "2023-06-01" }), bearer(token)), "anthropic_version: Input should be 'vertex-2023-10-16'");
  await anthropic(await post(claude(), messages({ max_tokens: 100000 }), bearer(token)), "max_tokens: 100000 > 64000, which is the maximum allowed number of output tokens for claude-sonnet-4-5@20250929");
  await anthropic(await post(claude(), "{not json", bearer(token)), /* Python's words */ "The request body is not valid JSON: Expecting value: line 1 column 2 (char 1)");
  await expectGoogle(await post(claude("rawPredict", "claude-0"), messages(), bearer(token)), 404, "NOT_FOUND", /publishers\/anthropic\/models\/claude-0` was not found/);
});

test("rate_limit is Vertex's quota error for both publishers; other behaviours are each publisher's", async () => {
  const token = await tokenOf(jwt(ctx.account));
  ctx.upstream.script("vx", [{ type: "rate_limit" }, { type: "rate_limit" }, { type: "overloaded" }, { type: "overloaded" }, { type: "content_policy" }]);
  const quota = "Resource exhausted. Please try again later. Please refer to https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details.";
  await expectGoogle(await post(gemini(), contents, bearer(token)), 429, "RESOURCE_EXHAUSTED", quota);
  await expectGoogle(await post(claude(), messages(), bearer(token)), 429, "RESOURCE_EXHAUSTED", quota);
  await expectGoogle(await post(gemini(), contents, bearer(token)), 503, "UNAVAILABLE", "The model is overloaded. Please try again later.");
  const overloaded = await post(claude(), messages(), bearer(token));
  assert.equal(overloaded.status, 529);
  assert.equal((await overloaded.json()).error.type, "overloaded_error");
  const blocked = await (await post(gemini(), contents, bearer(token))).json();
  assert.equal(blocked.promptFeedback.blockReason, "SAFETY");
});
