// The Durable Object call (src/js/durable.js): the object named, a POST of JSON or
// a GET, and its answer read whole as { status, text }.
import assert from "node:assert/strict";
import { test } from "node:test";
import { callObject } from "../../src/js/durable.js";

/** A namespace whose objects answer with `answer(name, request)`, recording each call. */
function namespace(answer) {
  const calls = [];
  return {
    calls,
    idFromName: (name) => ({ name }),
    get: (id) => ({
      async fetch(url, init) {
        const request = new Request(url, init);
        calls.push({ name: id.name, request, body: await request.text() });
        return answer(id.name, request);
      },
    }),
  };
}

test("a body is POSTed as JSON to the object of that name; the answer is its status and text", async () => {
  const objects = namespace((name) => new Response(`{"served_by":"${name}"}`, { status: 201 }));
  const answer = await callObject(objects, "group-a", '{"op":"ticket"}');
  assert.deepEqual(answer, { status: 201, text: '{"served_by":"group-a"}' });
  const [call] = objects.calls;
  assert.equal(call.name, "group-a");
  assert.equal(call.request.method, "POST");
  assert.equal(call.request.headers.get("content-type"), "application/json");
  assert.equal(call.body, '{"op":"ticket"}');
});

test("without a body it is a GET", async () => {
  const objects = namespace(() => new Response("", { status: 404 }));
  assert.deepEqual(await callObject(objects, "job-1", undefined), { status: 404, text: "" });
  assert.equal(objects.calls[0].request.method, "GET");
});

test("a call that fails rejects", async () => {
  const objects = namespace(() => {
    throw new Error("object reset");
  });
  await assert.rejects(callObject(objects, "group-a", "{}"), /object reset/);
});
