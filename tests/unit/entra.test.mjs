// The Entra ID mock answers a client-credentials token request as login.microsoftonline.com
// does, refuses a wrong one with Entra's error, status and AADSTS code, and counts the
// tokens it gives.
import assert from "node:assert/strict";
import { test } from "node:test";
import { useUpstream } from "./helpers.mjs";

const APP = { tenant: "72f988bf-86f1-41af-91ab-2d7cd011db47", clientId: "gateway-app", clientSecret: "s3cret" };
const ctx = useUpstream((upstream) => upstream.provider("az", "azure", { entra: { ...APP, expiresIn: 3599 } }));
const SCOPE = "https://cognitiveservices.azure.com/.default";
const form = (extra = {}) => ({ grant_type: "client_credentials", client_id: APP.clientId, client_secret: APP.clientSecret, scope: SCOPE, ...extra });

function requestToken(fields, { tenant = APP.tenant, headers = {}, method = "POST" } = {}) {
  const params = new URLSearchParams(Object.entries(fields).filter(([, v]) => v !== undefined));
  return fetch(`${ctx.upstream.entra.url}/${tenant}/oauth2/v2.0/token`, {
    method,
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: method === "POST" ? params : undefined,
  });
}

async function expectEntraError(response, status, error, code, description) {
  assert.equal(response.status, status);
  const body = await response.json();
  assert.equal(body.error, error);
  assert.deepEqual(body.error_codes, [code]);
  assert.match(body.error_description, new RegExp(`^AADSTS${code}: `));
  assert.ok(body.error_description.includes(description), body.error_description);
  assert.match(body.error_description, /\r\nTrace ID: [0-9a-f-]{36}\r\nCorrelation ID: [0-9a-f-]{36}\r\nTimestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
  assert.match(body.trace_id, /^[0-9a-f-]{36}$/);
  assert.match(body.correlation_id, /^[0-9a-f-]{36}$/);
  assert.equal(body.error_uri, `https://login.microsoftonline.com/error?code=${code}`);
}

test("a client-credentials request gets a bearer token, counted", async () => {
  const response = await requestToken(form());
  assert.equal(response.status, 200);
  const body = await response.json();
  assert.deepEqual(Object.keys(body).sort(), ["access_token", "expires_in", "ext_expires_in", "token_type"]);
  assert.equal(body.token_type, "Bearer");
  assert.equal(body.expires_in, 3599);
  const [, claims] = body.access_token.split(".");
  const payload = JSON.parse(Buffer.from(claims, "base64url").toString());
  assert.equal(payload.aud, "https://cognitiveservices.azure.com");
  assert.equal(payload.tid, APP.tenant);
  assert.equal(payload.appid, APP.clientId);
  assert.ok(payload.exp > Date.now() / 1000);
  await requestToken(form());
  assert.equal(ctx.upstream.entra.issued, 2);
  assert.equal(ctx.upstream.entra.requests.length, 2);
  assert.deepEqual(ctx.upstream.entra.requests[0].form, form());
});

test("client credentials may come as HTTP Basic", async () => {
  const basic = Buffer.from(`${APP.clientId}:${APP.clientSecret}`).toString("base64");
  const response = await requestToken({ grant_type: "client_credentials", scope: SCOPE }, { headers: { authorization: `Basic ${basic}` } });
  assert.equal(response.status, 200);
});

test("refusals: Entra's error, status and AADSTS code", async () => {
  await expectEntraError(await requestToken(form(), { tenant: "fabrikam.example" }), 400, "invalid_request", 90002, "Tenant 'fabrikam.example' not found.");
  await expectEntraError(await requestToken(form({ grant_type: undefined })), 400, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.");
  await expectEntraError(await requestToken(form({ grant_type: "password" })), 400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type 'password'.");
  await expectEntraError(await requestToken(form({ client_id: undefined })), 400, "invalid_request", 900144, "'client_id'");
  await expectEntraError(await requestToken(form({ client_id: "stranger" })), 400, "unauthorized_client", 700016, "Application with identifier 'stranger' was not found in the directory");
  await expectEntraError(await requestToken(form({ scope: undefined })), 400, "invalid_request", 900144, "'scope'");
  await expectEntraError(await requestToken(form({ scope: "https://cognitiveservices.azure.com" })), 400, "invalid_scope", 1002012, "must have a scope value with /.default suffixed");
  await expectEntraError(await requestToken(form({ scope: "https://vault.example.net/.default" })), 400, "invalid_resource", 500011, "The resource principal named https://vault.example.net was not found");
  await expectEntraError(await requestToken(form({ client_secret: undefined })), 401, "invalid_client", 7000218, "'client_assertion' or 'client_secret'");
  await expectEntraError(await requestToken(form({ client_secret: "guess" })), 401, "invalid_client", 7000215, "Invalid client secret provided.");
  await expectEntraError(await requestToken(form(), { method: "GET" }), 400, "invalid_request", 900561, "Received a GET request.");
  assert.equal(ctx.upstream.entra.issued, 0, "no refusal issues a token");
});

test("a JSON body is no form: Entra finds no grant_type", async () => {
  const response = await fetch(`${ctx.upstream.entra.url}/${APP.tenant}/oauth2/v2.0/token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(form()) });
  await expectEntraError(response, 400, "invalid_request", 900144, "'grant_type'");
});

test("reset forgets the count and the requests, not the tokens it gave", async () => {
  const { access_token: token } = await (await requestToken(form())).json();
  ctx.upstream.reset();
  assert.equal(ctx.upstream.entra.issued, 0);
  assert.equal(ctx.upstream.entra.requests.length, 0);
  assert.ok(ctx.upstream.entra.verify(token));
  assert.equal(ctx.upstream.entra.verify("not-a-token"), null);
});
