// AWS Signature Version 4, checked as an AWS service front door checks it, over the request
// as it was received: its method, its path as sent (the canonical path escapes it once
// more, as AWS does for every service but S3), its query, the headers it names as signed,
// and its body bytes. The canonical request, string to sign and signature are recomputed
// with @smithy/signature-v4, the signer of AWS's own SDK, never with the request's say-so.
//
// `checkSigV4(request, account, { region, service, now })` returns null when the signature
// holds, else { status, type, message } of AWS's refusal (the error type goes in
// x-amzn-ErrorType with the coral service namespace):
//   no Authorization                   403 MissingAuthenticationTokenException
//   not an AWS4-HMAC-SHA256 header, or one lacking Credential, SignedHeaders or Signature,
//   or no X-Amz-Date                   403 IncompleteSignatureException
//   an access key `account` lacks      403 UnrecognizedClientException "The security token
//                                      included in the request is invalid."
//   a session token missing, wrong or unexpected  the same
//   a scope of another date, region, service or terminator, `host` not signed, an
//   X-Amz-Date over 5 minutes away, a signature that differs
//                                      403 InvalidSignatureException (the last with the
//                                      canonical request and string to sign it expected)
// `account`: { accessKeyId, secretAccessKey, sessionToken? }.
import { Sha256 } from "@aws-crypto/sha256-js";
import { SignatureV4, getCanonicalHeaders, getPayloadHash } from "@smithy/signature-v4";
import { createHash } from "node:crypto";

const ALGORITHM = "AWS4-HMAC-SHA256";
const SKEW_MS = 5 * 60 * 1000;

/** { credential, signedHeaders, signature } of an Authorization header, else null. */
function readAuthorization(header) {
  const match = /^AWS4-HMAC-SHA256 (.*)$/.exec(header);
  if (!match) return null;
  const fields = Object.fromEntries(match[1].split(",").map((part) => part.trim().split("=")).map(([key, ...rest]) => [key, rest.join("=")]));
  return { credential: fields.Credential, signedHeaders: fields.SignedHeaders, signature: fields.Signature };
}

/** A Date of an ISO-8601 basic timestamp (20240101T000000Z), else null. */
function readAmzDate(value) {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value ?? "");
  return match ? new Date(Date.UTC(match[1], match[2] - 1, match[3], match[4], match[5], match[6])) : null;
}
const amzDate = (date) => date.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");

/** The query of a raw request target as the signer takes it: names to values (lists when repeated). */
function queryOf(target) {
  const query = {};
  for (const [key, value] of new URL(target, "http://aws").searchParams) {
    query[key] = key in query ? [].concat(query[key], value) : value;
  }
  return query;
}

/**
 * Checks the SigV4 signature of `request` ({ method, target (the raw request target, path
 * and query), headers (lower-cased, as node gives them), bytes }).
 */
export async function checkSigV4(request, account, { region, service, now = new Date() }) {
  const refuse = (status, type, message) => ({ status, type, message });
  const header = request.headers.authorization;
  if (!header) return refuse(403, "MissingAuthenticationTokenException", "Missing Authentication Token");
  const auth = readAuthorization(header);
  if (!auth) return refuse(403, "IncompleteSignatureException", `Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization=${header}`);
  const missing = ["Credential", "SignedHeaders", "Signature"].filter((name) => !auth[name.charAt(0).toLowerCase() + name.slice(1)]);
  if (missing.length > 0) return refuse(403, "IncompleteSignatureException", `${missing.map((name) => `Authorization header requires '${name}' parameter.`).join(" ")} Authorization=${header}`);
  const [accessKeyId, scopeDate, scopeRegion, scopeService, terminator] = auth.credential.split("/");
  if (accessKeyId !== account.accessKeyId) return refuse(403, "UnrecognizedClientException", "The security token included in the request is invalid.");
  const token = request.headers["x-amz-security-token"];
  if ((account.sessionToken ?? undefined) !== token) return refuse(403, "UnrecognizedClientException", "The security token included in the request is invalid.");
  const signingDate = readAmzDate(request.headers["x-amz-date"]);
  if (!signingDate) {
    return refuse(403, "IncompleteSignatureException", `Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=${header}`);
  }
  const longDate = request.headers["x-amz-date"];
  const invalid = (message) => refuse(403, "InvalidSignatureException", message);
  if (scopeDate !== longDate.slice(0, 8)) {
    return invalid(`Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${scopeDate}' != '${longDate.slice(0, 8)}', from '${longDate}'.`);
  }
  if (scopeRegion !== region) return invalid("Credential should be scoped to a valid region. ");
  if (scopeService !== service) return invalid(`Credential should be scoped to correct service: '${service}'. `);
  if (terminator !== "aws4_request") return invalid(`Credential should be scoped with a valid terminator: 'aws4_request', not '${terminator}'. `);
  const signed = auth.signedHeaders.split(";");
  if (!signed.includes("host")) return invalid("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
  if (signingDate.getTime() < now.getTime() - SKEW_MS) {
    return invalid(`Signature expired: ${longDate} is now earlier than ${amzDate(new Date(now.getTime() - SKEW_MS))} (${amzDate(now)} - 5 min.)`);
  }
  if (signingDate.getTime() > now.getTime() + SKEW_MS) {
    return invalid(`Signature not yet current: ${longDate} is still later than ${amzDate(new Date(now.getTime() + SKEW_MS))} (${amzDate(now)} + 5 min.)`);
  }

  const headers = {};
  for (const name of signed) if (request.headers[name] !== undefined) headers[name] = String(request.headers[name]);
  // A payload hash header is signed as sent, but the body is what it must hash.
  if (headers["x-amz-content-sha256"] !== undefined) headers["x-amz-content-sha256"] = createHash("sha256").update(request.bytes).digest("hex");
  const target = request.target;
  const toSign = { method: request.method, protocol: "https:", hostname: String(request.headers.host ?? "").split(":")[0], path: target.split("?")[0], query: queryOf(target), headers, body: request.bytes };
  const signer = new SignatureV4({ service, region, credentials: account, sha256: Sha256, applyChecksum: false });
  const canonicalHeaders = getCanonicalHeaders(toSign, undefined, new Set(signed));
  const canonical = signer.createCanonicalRequest(toSign, canonicalHeaders, await getPayloadHash(toSign, Sha256));
  const scope = `${scopeDate}/${region}/${service}/aws4_request`;
  const stringToSign = await signer.createStringToSign(longDate, scope, canonical, ALGORITHM);
  const expected = await signer.getSignature(longDate, scope, signer.getSigningKey(account, region, scopeDate, service), canonical);
  if (expected === auth.signature) return null;
  return invalid(`The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.\n\nThe Canonical String for this request should have been\n'${canonical}'\n\nThe String-to-Sign should have been\n'${stringToSign}'\n`);
}
