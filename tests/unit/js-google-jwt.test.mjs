// The service-account JWT (src/js/google-jwt.js): signed with WebCrypto as Google
// verifies it, RS256 over `header.claims`, each part base64url without padding.
import assert from "node:assert/strict";
import { generateKeyPairSync, verify } from "node:crypto";
import { test } from "node:test";
import { signJwt } from "../../src/js/google-jwt.js";

const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const PEM = privateKey.export({ type: "pkcs8", format: "pem" });
const HEADER = '{"alg":"RS256","typ":"JWT","kid":"k1"}';
const CLAIMS = '{"iss":"router@p.iam.gserviceaccount.com","aud":"https://oauth2.googleapis.com/token","iat":1,"exp":3601,"note":"é~?>"}';

const fromBase64url = (part) => Buffer.from(part, "base64url");

test("the JWT carries the header and claims as given, signed by the key", async () => {
  const jwt = await signJwt(PEM, HEADER, CLAIMS);
  const [header, claims, signature] = jwt.split(".");
  assert.equal(fromBase64url(header).toString("utf8"), HEADER);
  assert.equal(fromBase64url(claims).toString("utf8"), CLAIMS, "UTF-8 and URL-unsafe characters survive");
  assert.doesNotMatch(jwt, /[+/=]/, "base64url, without padding");
  assert.ok(verify("RSA-SHA256", Buffer.from(`${header}.${claims}`), publicKey, fromBase64url(signature)));
});

test("a signature by another key does not verify", async () => {
  const other = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey;
  const [header, claims, signature] = (await signJwt(PEM, HEADER, CLAIMS)).split(".");
  assert.equal(verify("RSA-SHA256", Buffer.from(`${header}.${claims}`), other, fromBase64url(signature)), false);
});

test("a key that is not PKCS#8 is refused", async () => {
  const rsa = privateKey.export({ type: "pkcs1", format: "pem" });
  await assert.rejects(signJwt(rsa, HEADER, CLAIMS));
  await assert.rejects(signJwt("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n", HEADER, CLAIMS));
});
