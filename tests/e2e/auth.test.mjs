// With general_settings.master_key, every API call needs it as a bearer token.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startGateway, user } from "../support/gateway.mjs";

const model = "model_list:\n  - { model_name: m, litellm_params: { model: openai/x, mock_response: hi } }\n";
let locked;
let open;

before(async () => {
  locked = await startGateway({
    config: `${model}general_settings:\n  master_key: os.environ/SWITCHYARD_MASTER_KEY\n`,
    bindings: { SWITCHYARD_MASTER_KEY: "sk-master-1234" },
  });
  open = await startGateway({ config: model });
});

after(async () => {
  await locked?.close();
  await open?.close();
});

const chat = (gateway, headers) => gateway.post("/v1/chat/completions", { model: "m", messages: user() }, headers);

test("no key or a wrong key is a 401 in OpenAI's shape", async () => {
  for (const headers of [{}, { authorization: "Bearer sk-wrong" }, { authorization: "Bearer sk-master-123" }]) {
    const response = await chat(locked, headers);
    assert.equal(response.status, 401, JSON.stringify(headers));
    const { error } = await response.json();
    assert.equal(error.type, "authentication_error");
    assert.equal(error.code, "invalid_api_key");
    assert.ok(!error.message.includes("sk-master-1234"));
  }
  assert.equal((await locked.get("/v1/models")).status, 401);
});

test("the master key lets the call through", async () => {
  const response = await chat(locked, { authorization: "Bearer sk-master-1234" });
  assert.equal(response.status, 200);
  assert.equal((await response.json()).choices[0].message.content, "hi");
  assert.equal((await locked.get("/v1/models", { authorization: "Bearer sk-master-1234" })).status, 200);
});

test("health checks need no key", async () => {
  assert.equal((await locked.get("/health/liveliness")).status, 200);
  assert.equal((await locked.get("/health/readiness")).status, 200);
});

test("without a master key no header is needed", async () => {
  assert.equal((await chat(open, {})).status, 200);
  assert.equal((await chat(open, { authorization: "Bearer anything" })).status, 200);
});
