// What the Bedrock mock's tests share: AWS's own SDK client pointed at a deployment, and a
// POST signed by AWS's own signer (@smithy/signature-v4) with every knob a test turns: the
// secret, region, service, clock, session token, what is signed and what is then sent.
import { Sha256 } from "@aws-crypto/sha256-js";
import { BedrockRuntimeClient } from "@aws-sdk/client-bedrock-runtime";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { SignatureV4 } from "@smithy/signature-v4";

export const REGION = "us-east-1";
export const ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE";
export const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/** The SDK's client for `endpoint`, over HTTP/1.1 (its default is HTTP/2), without retries. */
export function bedrockClient(endpoint, { region = REGION, accessKeyId = ACCESS_KEY_ID, secretAccessKey = SECRET, sessionToken } = {}) {
  return new BedrockRuntimeClient({ region, endpoint, credentials: { accessKeyId, secretAccessKey, sessionToken }, maxAttempts: 1, requestHandler: new NodeHttpHandler() });
}

/**
 * POSTs `body` (an object, sent as JSON, or a string) to `url`, signed for `signed.body`
 * (default: the body sent) with the given credentials, region, service and date;
 * `unsignable` names headers left out of the signature, `headers` adds headers.
 */
export async function signedPost(url, body, { region = REGION, service = "bedrock", accessKeyId = ACCESS_KEY_ID, secretAccessKey = SECRET, sessionToken, signingDate, signedBody, unsignable, headers = {}, checksum = true } = {}) {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  const target = new URL(url);
  const request = {
    method: "POST",
    protocol: target.protocol,
    hostname: target.hostname,
    port: Number(target.port),
    path: target.pathname,
    query: Object.fromEntries(target.searchParams),
    headers: { "content-type": "application/json", host: target.host, ...headers },
    body: signedBody ?? text,
  };
  const signer = new SignatureV4({ service, region, credentials: { accessKeyId, secretAccessKey, sessionToken }, sha256: Sha256, applyChecksum: checksum });
  const signed = await signer.sign(request, { signingDate, unsignableHeaders: unsignable });
  const { host: _, ...sent } = signed.headers; // fetch sends the same host itself
  return fetch(url, { method: "POST", headers: sent, body: text });
}
