// Where the config comes from (KV over the deployed variable) and what a bad one does:
// the last config that loaded keeps serving, and the error is reported.
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { startGateway, user } from "../support/gateway.mjs";

const group = (name, answer) =>
  `model_list:\n  - { model_name: ${name}, litellm_params: { model: openai/x, mock_response: "${answer}" } }\n`;

test("the key `config` in the CONFIG KV namespace overrides the deployed config", async (t) => {
  const gateway = await startGateway({ config: group("deployed", "a"), configKv: { config: group("from-kv", "b") } });
  t.after(() => gateway.close());
  const ok = await gateway.post("/v1/chat/completions", { model: "from-kv", messages: user() });
  assert.equal((await ok.json()).choices[0].message.content, "b");
  const gone = await gateway.post("/v1/chat/completions", { model: "deployed", messages: user() });
  assert.equal(gone.status, 404);
});

test("an invalid config answers 500 naming the key path, and readiness says 503", async (t) => {
  const gateway = await startGateway({
    config: "model_list:\n  - { model_name: m, litellm_params: { model: openai/x, rpm: many } }\n",
  });
  t.after(() => gateway.close());
  const response = await gateway.post("/v1/chat/completions", { model: "m", messages: user() });
  assert.equal(response.status, 500);
  const { error } = await response.json();
  assert.equal(error.type, "config_error");
  assert.match(error.message, /model_list\[0\]\.litellm_params\.rpm/);
  assert.equal((await gateway.get("/health/readiness")).status, 503);
  assert.equal((await gateway.get("/health/liveliness")).status, 200);
});

test("a missing os.environ secret is named, and its value never shown", async (t) => {
  const gateway = await startGateway({
    config: "model_list:\n  - { model_name: m, litellm_params: { model: openai/x, api_key: os.environ/PROVIDER_KEY } }\n",
  });
  t.after(() => gateway.close());
  const { error } = await (await gateway.post("/v1/chat/completions", { model: "m", messages: user() })).json();
  assert.match(error.message, /model_list\[0\]\.litellm_params\.api_key.*PROVIDER_KEY/);
});

test("without any override the bundled default config serves its mock deployments", async (t) => {
  const gateway = await startGateway({});
  t.after(() => gateway.close());
  const models = await (await gateway.get("/v1/models")).json();
  assert.deepEqual(
    models.data.map((m) => m.id),
    ["gpt-4o-mini", "text-embedding-3-small", "gpt-4o"],
  );
  const response = await gateway.post("/v1/chat/completions", { model: "gpt-4o", messages: user() });
  assert.match((await response.json()).choices[0].message.content, /^Hello from Switchyard \(mock deployment [AB]\)\.$/);
});

test("a bad config put into KV keeps the last good one serving, and says why everywhere", async (t) => {
  const gateway = await startGateway({ configKv: { config: group("served", "still here") } });
  t.after(() => gateway.close());
  const ok = await gateway.post("/v1/chat/completions", { model: "served", messages: user() });
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get("x-switchyard-config-error"), null);

  const kv = await gateway.mf.getKVNamespace("CONFIG");
  await kv.put("config", "model_list:\n  - { model_name: m, litellm_params: { model: nowhere/x } }\n");
  await new Promise((resolve) => setTimeout(resolve, 5_200)); // an isolate re-reads KV every 5 s
  const response = await gateway.post("/v1/chat/completions", { model: "served", messages: user() });
  assert.equal(response.status, 200);
  assert.equal((await response.json()).choices[0].message.content, "still here");
  assert.match(response.headers.get("x-switchyard-config-error"), /model_list\[0\]\.litellm_params\.model/);
  const readiness = await gateway.get("/health/readiness");
  assert.equal(readiness.status, 200);
  const health = await readiness.json();
  assert.equal(health.status, "degraded");
  assert.match(health.config_error, /provider `nowhere`/);
});

test("an isolate that starts while the config is bad serves the last good one, kept in KV", async (t) => {
  const persist = mkdtempSync(join(tmpdir(), "switchyard-config-"));
  const first = await startGateway({ persist, configKv: { config: group("kept", "from the last good config") } });
  assert.equal((await first.post("/v1/chat/completions", { model: "kept", messages: user() })).status, 200);
  const kv = await first.mf.getKVNamespace("CONFIG");
  await kv.put("config", "model_list: []\n");
  await first.close();

  const second = await startGateway({ persist });
  t.after(() => second.close());
  const response = await second.post("/v1/chat/completions", { model: "kept", messages: user() });
  assert.equal(response.status, 200);
  assert.equal((await response.json()).choices[0].message.content, "from the last good config");
  assert.match(response.headers.get("x-switchyard-config-error"), /model_list.*no deployments/);
});
