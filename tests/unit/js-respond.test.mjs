// The client's Response (src/js/respond.js): its own headers from one JSON object,
// of the provider's headers only those that pass, with the config's secrets masked.
import assert from "node:assert/strict";
import { beforeEach, test } from "node:test";
import { respond, setMasks } from "../../src/js/respond.js";

const OWN = JSON.stringify({ "x-litellm-model-id": "d1", "retry-after": "3" });
const provider = (headers) => new Headers(headers);

beforeEach(() => setMasks("[]"));

test("a Response of the body with the status and the headers given as one JSON object", async () => {
  const response = respond(new TextEncoder().encode('{"ok":true}'), 429, OWN, null);
  assert.equal(response.status, 429);
  assert.deepEqual([...response.headers], [["retry-after", "3"], ["x-litellm-model-id", "d1"]]);
  assert.equal(await response.text(), '{"ok":true}');
});

test("bodies pass as the runtime read them: an ArrayBuffer or a stream", async () => {
  const buffer = new TextEncoder().encode("whole").buffer;
  assert.equal(await respond(buffer, 200, "{}", null).text(), "whole");
  const stream = new Response("streamed").body;
  assert.equal(await respond(stream, 200, "{}", null).text(), "streamed");
});

test("of the provider's headers only content-type, x-request-id (as llm_provider-x-request-id) and openai-processing-ms pass", () => {
  const upstream = provider({
    "content-type": "text/event-stream",
    "x-request-id": "req-1",
    "openai-processing-ms": "12",
    "set-cookie": "session=1",
    "openai-organization": "org-1",
    "x-ratelimit-remaining-requests": "99",
  });
  const response = respond(null, 200, OWN, upstream);
  assert.deepEqual(Object.fromEntries(response.headers), {
    "content-type": "text/event-stream",
    "openai-processing-ms": "12",
    "retry-after": "3",
    "x-litellm-model-id": "d1",
    "llm_provider-x-request-id": "req-1",
  });
});

test("a passed header the provider did not send is left out; one it sent replaces the reply's own", () => {
  const response = respond(null, 200, JSON.stringify({ "content-type": "application/json" }), provider({ "content-type": "text/plain" }));
  assert.deepEqual(Object.fromEntries(response.headers), { "content-type": "text/plain" });
});

test("secrets in the passed headers are masked, every occurrence, in the order given", () => {
  setMasks(JSON.stringify([["sk-live-secret-long", "sk-l...long"], ["sk-live", "sk-...ve"]]));
  const upstream = provider({
    "x-request-id": "sk-live-secret-long/sk-live-secret-long/sk-live",
    "content-type": "application/json",
    "set-cookie": "sk-live",
  });
  const response = respond(null, 200, JSON.stringify({ "x-litellm-note": "sk-live" }), upstream);
  assert.equal(response.headers.get("llm_provider-x-request-id"), "sk-l...long/sk-l...long/sk-...ve");
  assert.equal(response.headers.get("content-type"), "application/json");
  assert.equal(response.headers.get("set-cookie"), null);
  // The reply's own headers are Rust's, masked there.
  assert.equal(response.headers.get("x-litellm-note"), "sk-live");
});

test("new masks replace the old ones", () => {
  setMasks(JSON.stringify([["old-secret", "***"]]));
  setMasks(JSON.stringify([["new-secret", "###"]]));
  const response = respond(null, 200, "{}", provider({ "x-request-id": "old-secret new-secret" }));
  assert.equal(response.headers.get("llm_provider-x-request-id"), "old-secret ###");
});
