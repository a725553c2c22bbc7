// The mock upstream's own contract: deployments declared per provider, their base URLs,
// one script vocabulary rendered by every provider, recording, reset; and the OpenAI
// deployments' answers, old behaviours and new ones (tool_call, overloaded, content_filter).
import assert from "node:assert/strict";
import { test } from "node:test";
import { createSign } from "node:crypto";
import { ACCESS_KEY_ID, SECRET, signedPost } from "./aws-client.mjs";
import { parseSse, post, useUpstream } from "./helpers.mjs";

const ctx = useUpstream((upstream) => {
  upstream.provider("claude", "anthropic", { apiKey: "sk-ant-test" });
  upstream.provider("az", "azure", { apiKey: "az-key" });
  upstream.provider("gem", "gemini", { apiKey: "AIza-key" });
  upstream.provider("vx", "vertex", { project: "proj", location: "europe-west4" });
  upstream.provider("bed", "bedrock", { region: "us-east-1", accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET });
  ctx.account = upstream.google.serviceAccount({ project: "proj" });
});

/** A bearer token of the Vertex deployment's service account, from the Google token endpoint. */
async function vertexToken() {
  const { account } = ctx;
  const now = Math.floor(Date.now() / 1000);
  const part = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const unsigned = `${part({ alg: "RS256", typ: "JWT" })}.${part({ iss: account.client_email, scope: "https://www.googleapis.com/auth/cloud-platform", aud: account.token_uri, iat: now, exp: now + 3600 })}`;
  const assertion = `${unsigned}.${createSign("RSA-SHA256").update(unsigned).sign(account.private_key, "base64url")}`;
  const response = await fetch(account.token_uri, { method: "POST", body: new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion }) });
  return (await response.json()).access_token;
}

/** A minimal valid chat request to deployment `name` of each kind: [url, body, headers]. */
const call = {
  oa: (extra = {}) => [`${ctx.upstream.base("oa")}/chat/completions`, { model: "gpt-4o", messages: [{ role: "user", content: "hi" }], ...extra }, {}],
  claude: (extra = {}) => [`${ctx.upstream.base("claude")}/v1/messages`, { model: "claude-sonnet-4-5", max_tokens: 100, messages: [{ role: "user", content: "hi" }], ...extra }, { "x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01" }],
  az: (extra = {}) => [`${ctx.upstream.base("az")}/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21`, { messages: [{ role: "user", content: "hi" }], ...extra }, { "api-key": "az-key" }],
};
const send = (name, extra) => post(...call[name](extra));

test("base(name) is an OpenAI deployment's /v1 base, or a declared provider's api_base; Entra and Google have servers of their own", () => {
  const { url } = ctx.upstream;
  assert.equal(ctx.upstream.base("oa"), `${url}/oa/v1`);
  assert.equal(ctx.upstream.base("claude"), `${url}/claude`);
  assert.equal(ctx.upstream.base("az"), `${url}/az`);
  assert.match(ctx.upstream.entra.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.notEqual(ctx.upstream.entra.url, url);
  for (const name of ["gem", "vx", "bed"]) assert.equal(ctx.upstream.base(name), `${url}/${name}`);
  assert.match(ctx.upstream.google.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.notEqual(ctx.upstream.google.url, url);
  assert.equal(ctx.account.token_uri, `${ctx.upstream.google.url}/token`);
});

test("provider() returns the api_base and refuses unknown kinds and missing keys", () => {
  assert.equal(ctx.upstream.provider("claude-2", "anthropic", { apiKey: "k" }), `${ctx.upstream.url}/claude-2`);
  assert.throws(() => ctx.upstream.provider("g", "palm"), /unknown provider kind palm; known: openai, anthropic, azure, gemini, vertex, bedrock/);
  assert.throws(() => ctx.upstream.provider("g", "gemini", {}), /needs options.apiKey/);
  assert.throws(() => ctx.upstream.provider("v", "vertex", { project: "p" }), /needs options.project and options.location/);
  assert.throws(() => ctx.upstream.provider("b", "bedrock", { region: "us-east-1" }), /needs options.accessKeyId and options.secretAccessKey, or options.apiKey/);
  assert.throws(() => ctx.upstream.provider("c", "anthropic", {}), /needs options.apiKey/);
});

test("one script runs against every provider, each answering in its own format", async () => {
  const script = [{ type: "ok", content: "same answer" }, { type: "tool_call", name: "get_weather", arguments: { city: "Paris" } }, { type: "rate_limit", retryAfter: 4 }, { type: "overloaded" }, { type: "context_window" }];
  for (const name of ["oa", "claude", "az"]) ctx.upstream.script(name, script);
  const text = { oa: (b) => b.choices[0].message.content, az: (b) => b.choices[0].message.content, claude: (b) => b.content[0].text };
  const toolArgs = { oa: (b) => JSON.parse(b.choices[0].message.tool_calls[0].function.arguments), az: (b) => JSON.parse(b.choices[0].message.tool_calls[0].function.arguments), claude: (b) => b.content[0].input };
  for (const name of ["oa", "claude", "az"]) {
    assert.equal(text[name](await (await send(name)).json()), "same answer", name);
    assert.deepEqual(toolArgs[name](await (await send(name)).json()), { city: "Paris" }, name);
    const limited = await send(name);
    assert.deepEqual([limited.status, limited.headers.get("retry-after")], [429, "4"], name);
    await limited.body.cancel();
    const overloaded = await send(name);
    assert.equal(overloaded.status, name === "claude" ? 529 : 503, name);
    await overloaded.body.cancel();
    const tooLong = await send(name);
    assert.equal(tooLong.status, 400, name);
    await tooLong.body.cancel();
  }
});

test("the same script runs against Gemini, Vertex and Bedrock, each answering in its own format", async () => {
  const script = [{ type: "ok", content: "same answer" }, { type: "tool_call", name: "get_weather", arguments: { city: "Paris" } }, { type: "rate_limit" }, { type: "overloaded" }, { type: "context_window" }, { type: "content_policy" }];
  for (const name of ["gem", "vx", "bed"]) ctx.upstream.script(name, script);
  const token = await vertexToken();
  const contents = { contents: [{ role: "user", parts: [{ text: "hi" }] }] };
  const send = {
    gem: () => post(`${ctx.upstream.base("gem")}/v1beta/models/gemini-2.5-flash:generateContent`, contents, { "x-goog-api-key": "AIza-key" }),
    vx: () => post(`${ctx.upstream.base("vx")}/v1/projects/proj/locations/europe-west4/publishers/google/models/gemini-2.5-flash:generateContent`, contents, { authorization: `Bearer ${token}` }),
    bed: () => signedPost(`${ctx.upstream.base("bed")}/model/amazon.nova-pro-v1%3A0/converse`, { messages: [{ role: "user", content: [{ text: "hi" }] }] }),
  };
  const google = { text: (b) => b.candidates[0].content.parts[0].text, args: (b) => b.candidates[0].content.parts[0].functionCall.args, blocked: (b) => b.promptFeedback.blockReason === "SAFETY" };
  const read = {
    gem: google,
    vx: google,
    bed: { text: (b) => b.output.message.content[0].text, args: (b) => b.output.message.content[0].toolUse.input, blocked: (b) => b.stopReason === "guardrail_intervened" },
  };
  for (const name of ["gem", "vx", "bed"]) {
    assert.equal(read[name].text(await (await send[name]()).json()), "same answer", name);
    assert.deepEqual(read[name].args(await (await send[name]()).json()), { city: "Paris" }, name);
    for (const status of [429, 503, 400]) {
      const response = await send[name]();
      assert.equal(response.status, status, name);
      await response.body.cancel();
    }
    assert.ok(read[name].blocked(await (await send[name]()).json()), name);
  }
});

test("every request is recorded with its deployment, path, query, method, headers, body, bytes and time", async () => {
  await post(`${ctx.upstream.base("oa")}/embeddings?trace=1`, { model: "m", input: "x" }, { "x-test": "yes" });
  const [seen] = ctx.upstream.requests;
  assert.deepEqual({ ...seen, headers: undefined, bytes: undefined, at: undefined }, { deployment: "oa", path: "/embeddings", query: { trace: "1" }, method: "POST", headers: undefined, body: { model: "m", input: "x" }, bytes: undefined, at: undefined });
  assert.ok(Buffer.isBuffer(seen.bytes));
  assert.equal(seen.bytes.toString("utf8"), JSON.stringify({ model: "m", input: "x" }));
  assert.equal(seen.headers["x-test"], "yes");
  assert.ok(Math.abs(seen.at - Date.now()) < 5000);
  await post(`${ctx.upstream.url}/elsewhere`, "not json");
  assert.deepEqual([ctx.upstream.requests[1].deployment, ctx.upstream.requests[1].path, ctx.upstream.requests[1].body], [null, "/elsewhere", "not json"]);
});

test("reset clears scripts, requests and events, and keeps the declared providers", async () => {
  ctx.upstream.script("claude", [{ type: "overloaded" }]);
  await send("oa", { stream: true }).then((r) => r.text());
  assert.ok(ctx.upstream.events.length > 0);
  ctx.upstream.reset();
  assert.equal(ctx.upstream.requests.length, 0);
  assert.equal(ctx.upstream.events.length, 0);
  const response = await send("claude");
  assert.equal(response.status, 200, "the script is gone, the provider stays");
  assert.match((await response.json()).id, /^msg_/);
});

test("OpenAI deployments: a tool_call answer and its stream", async () => {
  ctx.upstream.script("oa", [{ type: "tool_call", name: "lookup", arguments: '{"q":"x"}' }, { type: "tool_call", name: "lookup", arguments: { q: "a longer query" } }]);
  const body = await (await send("oa")).json();
  assert.equal(body.choices[0].finish_reason, "tool_calls");
  assert.deepEqual(body.choices[0].message.tool_calls[0].function, { name: "lookup", arguments: '{"q":"x"}' });
  const chunks = parseSse(await (await send("oa", { stream: true })).text()).filter((e) => e.data !== "[DONE]").map((e) => e.data);
  const calls = chunks.flatMap((c) => c.choices[0].delta.tool_calls ?? []);
  assert.equal(calls[0].id, "call_mock");
  assert.ok(calls.length >= 3, "the name, then the arguments in fragments");
  assert.deepEqual(JSON.parse(calls.map((c) => c.function.arguments).join("")), { q: "a longer query" });
  assert.equal(chunks.at(-1).choices[0].finish_reason, "tool_calls");
});

test("OpenAI deployments: overloaded is a 503 server_error, content_filter a finish_reason", async () => {
  ctx.upstream.script("oa", [{ type: "overloaded" }, { type: "content_filter", content: "partial" }]);
  const overloaded = await send("oa");
  assert.equal(overloaded.status, 503);
  assert.equal((await overloaded.json()).error.type, "server_error");
  const filtered = await (await send("oa")).json();
  assert.deepEqual([filtered.choices[0].finish_reason, filtered.choices[0].message.content], ["content_filter", "partial"]);
});

test("OpenAI deployments: a scripted stream ends with its usage when the request asks", async () => {
  ctx.upstream.script("oa", [{ type: "stream", chunks: ["a", "b"] }]);
  const events = parseSse(await (await send("oa", { stream: true, stream_options: { include_usage: true } })).text());
  assert.equal(events.at(-1).data, "[DONE]");
  assert.deepEqual(events.at(-2).data.choices, []);
  assert.equal(events.at(-2).data.usage.total_tokens, 8);
  assert.equal(events.at(-3).data.choices[0].finish_reason, "stop");
});
