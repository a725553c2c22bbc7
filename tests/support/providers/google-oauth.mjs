// Google's OAuth 2.0 token endpoint (oauth2.googleapis.com/token) for service accounts, on
// a server of its own so that its URL is the `token_uri` of the service-account files it
// makes: POST `${url}/token`, a form body grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer
// and assertion=<a JWT signed with the account's private key>.
//
// Checks, each answered in Google's OAuth error shape {"error","error_description"}:
//   another path or method        404 (Google's HTML "Not Found" page)
//   grant_type not jwt-bearer     400 unsupported_grant_type "Invalid grant_type: <it>"
//   no assertion                  400 invalid_request "Missing required parameter: assertion"
//   not three base64url parts     400 invalid_grant "Invalid JWT: ..." (what could not be read)
//   iss not an email              400 invalid_grant "Not a valid email or user ID."
//   iss no account it knows       400 invalid_grant "Invalid grant: account not found"
//   alg not RS256, or a signature not by the account's key
//                                 400 invalid_grant "Invalid JWT Signature."
//   aud not this token_uri        400 invalid_grant "Invalid JWT: Failed audience check. The
//                                 right audience is <token_uri>"
//   exp - iat over 3600 s, exp passed, or iat more than 5 minutes ahead
//                                 400 invalid_grant "Invalid JWT: Token must be a short-lived
//                                 token (60 minutes) and in a reasonable timeframe. ..."
//   no scope, or one outside https://www.googleapis.com/auth/
//                                 400 invalid_scope "Invalid OAuth scope or ID token audience provided."
// and otherwise answers { access_token ("ya29." ...), expires_in (3599 unless the account
// says), token_type: "Bearer" }. A scope without cloud-platform still gets a token, as from
// Google; Vertex then refuses it (403 ACCESS_TOKEN_SCOPE_INSUFFICIENT, vertex.mjs).
//
// Handle: { url, serviceAccount({ project, name = "switchyard", expiresIn = 3599 }) (a new
// RSA key pair and the service-account JSON a user downloads, its key PKCS#8 PEM), issued
// (tokens given), requests ({ method, path, headers, form, claims (the assertion's, when it
// could be read), at }), verify(token) ({ state: "valid" | "expired" | "unknown", grant:
// { email, project, scopes } }), reset() (forgets requests and the count; accounts and
// tokens stay), close() }.
import { generateKeyPairSync, randomBytes, verify as verifySignature } from "node:crypto";
import http from "node:http";
import { base62, sendJson } from "./wire.mjs";

const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const SCOPE_PREFIX = "https://www.googleapis.com/auth/";
const SKEW_SECONDS = 300;

export async function startGoogleOAuth() {
  const accounts = new Map(); // client_email -> { publicKey, project, expiresIn }
  const tokens = new Map(); // access_token -> { email, project, scopes, expiresAt }
  const requests = [];
  let issued = 0;
  let url;

  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const path = new URL(req.url, "http://google").pathname;
    const isForm = (req.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded");
    const form = new URLSearchParams(isForm ? Buffer.concat(chunks).toString("utf8") : "");
    const record = { method: req.method, path, headers: req.headers, form: Object.fromEntries(form), claims: null, at: Date.now() };
    requests.push(record);
    if (req.method !== "POST" || path !== "/token") {
      res.writeHead(404, { "content-type": "text/html; charset=UTF-8" });
      return res.end("<!DOCTYPE html>\n<html lang=en>\n<title>Error 404 (Not Found)!!1</title>\n<p><b>404.</b> <ins>That’s an error.</ins>\n<p>The requested URL <code>" + path + "</code> was not found on this server.  <ins>That’s all we know.</ins>\n");
    }
    const fail = (error, description) => sendJson(res, 400, { error, error_description: description }, { "content-type": "application/json; charset=utf-8" });
    const grant = form.get("grant_type") ?? "";
    if (grant !== JWT_BEARER) return fail("unsupported_grant_type", `Invalid grant_type: ${grant}`);
    const assertion = form.get("assertion");
    if (!assertion) return fail("invalid_request", "Missing required parameter: assertion");
    const jwt = readJwt(assertion);
    if (jwt.error) return fail("invalid_grant", `Invalid JWT: ${jwt.error}`);
    const { header, claims, signed, signature } = jwt;
    record.claims = claims;
    if (typeof claims.iss !== "string" || !/^[^@\s]+@[^@\s]+$/.test(claims.iss)) return fail("invalid_grant", "Not a valid email or user ID.");
    const account = accounts.get(claims.iss);
    if (!account) return fail("invalid_grant", "Invalid grant: account not found");
    if (header.alg !== "RS256" || !verifySignature("RSA-SHA256", Buffer.from(signed), account.publicKey, signature)) {
      return fail("invalid_grant", "Invalid JWT Signature.");
    }
    if (claims.aud !== `${url}/token`) return fail("invalid_grant", `Invalid JWT: Failed audience check. The right audience is ${url}/token`);
    const now = Math.floor(Date.now() / 1000);
    const { iat, exp } = claims;
    if (!Number.isInteger(iat) || !Number.isInteger(exp) || exp - iat > 3600 || exp <= now || iat > now + SKEW_SECONDS || exp <= iat) {
      return fail("invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.");
    }
    const scopes = typeof claims.scope === "string" ? claims.scope.split(" ").filter(Boolean) : [];
    if (scopes.length === 0 || scopes.some((scope) => !scope.startsWith(SCOPE_PREFIX))) {
      return fail("invalid_scope", "Invalid OAuth scope or ID token audience provided.");
    }
    const accessToken = `ya29.c.${base62(40)}${randomBytes(60).toString("base64url")}`;
    tokens.set(accessToken, { email: claims.iss, project: account.project, scopes, expiresAt: Date.now() + account.expiresIn * 1000 });
    issued += 1;
    sendJson(res, 200, { access_token: accessToken, expires_in: account.expiresIn, token_type: "Bearer" }, { "content-type": "application/json; charset=utf-8", "cache-control": "no-cache, no-store, max-age=0, must-revalidate" });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${server.address().port}`;

  return {
    url,
    /** A new service account of `project` whose JWTs this endpoint takes; its JSON key file. */
    serviceAccount({ project, name = "switchyard", expiresIn = 3599 }) {
      let email = `${name}@${project}.iam.gserviceaccount.com`;
      for (let n = 2; accounts.has(email); n += 1) email = `${name}-${n}@${project}.iam.gserviceaccount.com`;
      const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
      accounts.set(email, { publicKey, project, expiresIn });
      return {
        type: "service_account",
        project_id: project,
        private_key_id: randomBytes(20).toString("hex"),
        private_key: privateKey.export({ type: "pkcs8", format: "pem" }),
        client_email: email,
        client_id: String(100000000000000000000n + BigInt(`0x${randomBytes(8).toString("hex")}`)),
        auth_uri: "https://accounts.google.com/o/oauth2/auth",
        token_uri: `${url}/token`,
        auth_provider_x509_cert_url: "https://www.googleapis.com/oauth2/v1/certs",
        client_x509_cert_url: `https://www.googleapis.com/robot/v1/metadata/x509/${encodeURIComponent(email)}`,
        universe_domain: "googleapis.com",
      };
    },
    get issued() {
      return issued;
    },
    requests,
    /** What `token` is: { state: "valid" | "expired" | "unknown", grant }. */
    verify(token) {
      const grant = tokens.get(token);
      if (!grant) return { state: "unknown", grant: null };
      return { state: Date.now() < grant.expiresAt ? "valid" : "expired", grant };
    },
    reset() {
      requests.length = 0;
      issued = 0;
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** The parts of a compact JWT: { header, claims, signed, signature } or { error }. */
function readJwt(assertion) {
  const parts = assertion.split(".");
  if (parts.length !== 3) return { error: `Expected 3 parts, found ${parts.length}.` };
  const json = (part) => {
    try {
      const value = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
      return value !== null && typeof value === "object" ? value : null;
    } catch {
      return null;
    }
  };
  const header = json(parts[0]);
  if (!header) return { error: "Unable to parse the JWT header." };
  const claims = json(parts[1]);
  if (!claims) return { error: "Unable to parse the JWT claim set." };
  return { header, claims, signed: `${parts[0]}.${parts[1]}`, signature: Buffer.from(parts[2], "base64url") };
}
