// A JWT signed with a Google service account's key (RS256: RSASSA-PKCS1-v1_5 over
// SHA-256), with WebCrypto, which Workers run natively: the assertion a Vertex AI
// deployment exchanges for an access token. Bound in src/credentials.rs; what is
// signed (the header and the claims) is written in Rust
// (switchyard_core::provider::vertex).

/** base64url without padding, of bytes or of a string's UTF-8. */
function base64url(data) {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : new Uint8Array(data);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The DER bytes of a PEM-encoded PKCS#8 private key. */
function pkcs8(pem) {
  const body = pem.replace(/-----(BEGIN|END) PRIVATE KEY-----/g, "").replace(/\s+/g, "");
  return Uint8Array.from(atob(body), (c) => c.charCodeAt(0));
}

/**
 * `header.claims.signature`, each part base64url, signed with `pem` (a PKCS#8
 * RSA key). `header` and `claims` are JSON text. Rejects when the key is not one.
 */
export async function signJwt(pem, header, claims) {
  const key = await crypto.subtle.importKey(
    "pkcs8",
    pkcs8(pem),
    { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const input = `${base64url(header)}.${base64url(claims)}`;
  const signature = await crypto.subtle.sign("RSASSA-PKCS1-v1_5", key, new TextEncoder().encode(input));
  return `${input}.${base64url(signature)}`;
}
