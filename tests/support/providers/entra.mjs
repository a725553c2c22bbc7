// Microsoft Entra ID's token endpoint (login.microsoftonline.com), client-credentials
// grant only, on a server of its own so that its URL is an authority host as Azure's
// SDKs read it from AZURE_AUTHORITY_HOST: POST `${url}/<tenant>/oauth2/v2.0/token`, a
// form-encoded body with grant_type=client_credentials, client_id, client_secret (or
// HTTP Basic credentials) and scope `<resource>/.default`, the resource being
// https://cognitiveservices.azure.com (or https://ai.azure.com, for Azure's v1 API).
//
// Checks, each answered in Entra's error shape ({ error, error_description "AADSTSn: ...",
// error_codes, timestamp, trace_id, correlation_id, error_uri }) with Entra's status:
//   not POST                      400 invalid_request         AADSTS900561
//   unknown tenant                400 invalid_request         AADSTS90002
//   a missing parameter           400 invalid_request         AADSTS900144
//   grant_type not client_credentials  400 unsupported_grant_type  AADSTS70003
//   unknown client_id             400 unauthorized_client     AADSTS700016
//   scope without /.default       400 invalid_scope           AADSTS1002012
//   unknown resource              400 invalid_resource        AADSTS500011
//   no secret                     401 invalid_client          AADSTS7000218
//   wrong secret                  401 invalid_client          AADSTS7000215
// and otherwise answers { token_type: "Bearer", expires_in, ext_expires_in, access_token },
// a JWT-shaped token that the Azure mock accepts until it expires (`verify`).
//
// Handle: { url, app({ tenant, clientId, clientSecret, expiresIn = 3599 }), issued (how many
// tokens it gave), requests ({ tenant, method, headers, form, at }), verify(token, resources)
// (what the token grants, or null), reset() (forgets requests and the count; tokens stay
// valid), close() }.
import { randomUUID } from "node:crypto";
import http from "node:http";
import { base62, sendJson } from "./wire.mjs";

const RESOURCES = ["https://cognitiveservices.azure.com", "https://ai.azure.com"];

export async function startEntra() {
  const apps = new Map(); // `${tenant}/${clientId}` -> { secret, expiresIn }
  const tenants = new Set();
  const tokens = new Map(); // access_token -> { resource, expiresAt }
  const requests = [];
  let issued = 0;

  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const match = /^\/([^/]+)\/oauth2\/v2\.0\/token\/?$/.exec(new URL(req.url, "http://entra").pathname);
    if (!match) return sendJson(res, 404, { error: "not_found" });
    const tenant = decodeURIComponent(match[1]);
    const isForm = (req.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded");
    const form = new URLSearchParams(isForm ? Buffer.concat(chunks).toString("utf8") : "");
    requests.push({ tenant, method: req.method, headers: req.headers, form: Object.fromEntries(form), at: Date.now() });
    const fail = (status, error, code, description) => entraError(res, status, error, code, description);

    if (req.method !== "POST") return fail(400, "invalid_request", 900561, `The endpoint only accepts POST, OPTIONS requests. Received a ${req.method} request.`);
    if (!tenants.has(tenant)) {
      return fail(400, "invalid_request", 90002, `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`);
    }
    const basic = basicCredentials(req.headers.authorization);
    const clientId = form.get("client_id") ?? basic?.id;
    const secret = form.get("client_secret") ?? basic?.secret;
    const missing = (name) => fail(400, "invalid_request", 900144, `The request body must contain the following parameter: '${name}'.`);
    const grant = form.get("grant_type");
    if (!grant) return missing("grant_type");
    if (grant !== "client_credentials") return fail(400, "unsupported_grant_type", 70003, `The app requested an unsupported grant type '${grant}'.`);
    if (!clientId) return missing("client_id");
    const app = apps.get(`${tenant}/${clientId}`);
    if (!app) {
      return fail(400, "unauthorized_client", 700016, `Application with identifier '${clientId}' was not found in the directory '${tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`);
    }
    const scope = form.get("scope");
    if (!scope) return missing("scope");
    if (!scope.endsWith("/.default")) {
      return fail(400, "invalid_scope", 1002012, `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`);
    }
    const resource = scope.slice(0, -"/.default".length);
    if (!RESOURCES.includes(resource.replace(/\/$/, ""))) {
      return fail(400, "invalid_resource", 500011, `The resource principal named ${resource} was not found in the tenant named ${tenant}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`);
    }
    if (!secret) return fail(401, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.");
    if (secret !== app.secret) {
      return fail(401, "invalid_client", 7000215, `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`);
    }
    const accessToken = jwt({ aud: resource.replace(/\/$/, ""), tenant, clientId, expiresIn: app.expiresIn });
    tokens.set(accessToken, { resource: resource.replace(/\/$/, ""), tenant, clientId, expiresAt: Date.now() + app.expiresIn * 1000 });
    issued += 1;
    sendJson(res, 200, { token_type: "Bearer", expires_in: app.expiresIn, ext_expires_in: app.expiresIn, access_token: accessToken }, { "cache-control": "no-store, no-cache", pragma: "no-cache" });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));

  return {
    url: `http://127.0.0.1:${server.address().port}`,
    /** Registers an app that may get tokens; `expiresIn` seconds each token lives. */
    app({ tenant, clientId, clientSecret, expiresIn = 3599 }) {
      tenants.add(tenant);
      apps.set(`${tenant}/${clientId}`, { secret: clientSecret, expiresIn });
    },
    get issued() {
      return issued;
    },
    requests,
    /** What `token` grants ({ resource, tenant, clientId }) if issued here for one of `resources` and unexpired, else null. */
    verify(token, resources = RESOURCES) {
      const grant = tokens.get(token);
      return grant && resources.includes(grant.resource) && Date.now() < grant.expiresAt ? grant : null;
    },
    reset() {
      requests.length = 0;
      issued = 0;
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

function basicCredentials(header) {
  const match = /^Basic (.+)$/i.exec(header ?? "");
  if (!match) return null;
  const [id, ...rest] = Buffer.from(match[1], "base64").toString("utf8").split(":");
  return { id: decodeURIComponent(id), secret: decodeURIComponent(rest.join(":")) };
}

function entraError(res, status, error, code, description) {
  const now = new Date();
  const timestamp = now.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
  const traceId = randomUUID();
  const correlationId = randomUUID();
  sendJson(res, status, {
    error,
    error_description: `AADSTS${code}: ${description}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlationId}\r\nTimestamp: ${timestamp}`,
    error_codes: [code],
    timestamp,
    trace_id: traceId,
    correlation_id: correlationId,
    error_uri: `https://login.microsoftonline.com/error?code=${code}`,
  });
}

/** A token shaped like Entra's (three base64url parts); only this mock can verify it. */
function jwt({ aud, tenant, clientId, expiresIn }) {
  const now = Math.floor(Date.now() / 1000);
  const part = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const header = part({ typ: "JWT", alg: "RS256", kid: "mock" });
  const claims = part({ aud, iss: `https://sts.windows.net/${tenant}/`, iat: now, nbf: now, exp: now + expiresIn, appid: clientId, tid: tenant, idtyp: "app", uti: base62(22) });
  return `${header}.${claims}.${base62(86)}`;
}
