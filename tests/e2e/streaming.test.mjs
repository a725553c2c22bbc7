// `stream: true` pipes the upstream's SSE through as it arrives.
import assert from "node:assert/strict";
import { test } from "node:test";
import { readEvents, streamedContent, useGateway, user } from "../support/gateway.mjs";

const ctx = useGateway((upstream) => ({
  config: `
model_list:
  - model_name: streamer
    litellm_params: { model: openai/gpt-4o, api_base: ${upstream.base("s")} }
`,
}));

test("chunks reach the client before the upstream has finished", async () => {
  const chunks = ["one", " two", " three", " four", " five"];
  ctx.upstream.script("s", [{ type: "stream", chunks, delayMs: 150 }]);
  const response = await ctx.gateway.post("/v1/chat/completions", { model: "streamer", messages: user(), stream: true });
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type"), /^text\/event-stream/);
  assert.equal(response.headers.get("x-litellm-model-group"), "streamer");
  const events = await readEvents(response);
  assert.equal(events.at(-1).data, "[DONE]");
  assert.equal(streamedContent(events), "one two three four five");

  const upstreamEnd = ctx.upstream.events.find((e) => e.kind === "end").at;
  const firstContent = events.find((e) => e.data.includes('"one"')).at;
  // The upstream needs 5 x 150 ms for the whole answer: a buffered body could not
  // arrive before the upstream's end.
  assert.ok(firstContent < upstreamEnd - 300, `first chunk at ${firstContent}, upstream ended at ${upstreamEnd}`);
  assert.equal(ctx.upstream.requests[0].body.stream, true);
});

test("a non-streamed request gets JSON", async () => {
  const response = await ctx.gateway.post("/v1/chat/completions", { model: "streamer", messages: user() });
  assert.match(response.headers.get("content-type"), /^application\/json/);
  assert.equal((await response.json()).object, "chat.completion");
});
