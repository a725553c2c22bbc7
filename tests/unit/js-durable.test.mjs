// The Durable Object call (src/js/durable.js): the object named, a POST of JSON or
// a GET, and its answer read whole as { status, text }.
import assert from "node:assert/strict";
import { test } from "node:test";
import { callObject } from "../../src/js/durable.js";

const HINTS = ["wnam", "enam", "sam", "weur", "eeur", "apac", "oc", "afr", "me"];

/**
 * A namespace whose objects answer with `answer(name, request)`, recording each
 * call and the options each stub was got with. Strict as Cloudflare's `get(id,
 * options)`: the only option is `locationHint`, one of the nine hints.
 */
function namespace(answer) {
  const calls = [];
  const gets = [];
  return {
    calls,
    gets,
    idFromName: (name) => ({ name }),
    get: (id, ...rest) => {
      if (rest.length > 1) throw new TypeError("get takes an id and one options object");
      const [options] = rest;
      if (options !== undefined) {
        const keys = Object.keys(options);
        if (keys.some((key) => key !== "locationHint")) throw new TypeError(`unknown options ${keys}`);
        if (!HINTS.includes(options.locationHint)) throw new TypeError(`bad locationHint ${options.locationHint}`);
      }
      gets.push({ name: id.name, args: rest.length, options });
      return {
        async fetch(url, init) {
          const request = new Request(url, init);
          calls.push({ name: id.name, request, body: await request.text() });
          return answer(id.name, request);
        },
      };
    },
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

test("a location hint goes with the stub's get; without one, get takes the id alone", async () => {
  const objects = namespace(() => new Response("{}"));
  await callObject(objects, "group-a", "{}", "weur");
  await callObject(objects, "group-b", "{}", undefined);
  await callObject(objects, "job-1", undefined);
  assert.deepEqual(objects.gets, [
    { name: "group-a", args: 1, options: { locationHint: "weur" } },
    { name: "group-b", args: 0, options: undefined },
    { name: "job-1", args: 0, options: undefined },
  ]);
  assert.equal(objects.calls.length, 3);
});

test("an overloaded object's error reaches the caller as thrown, its flag intact, and is not retried", async () => {
  const overloaded = Object.assign(new Error("Durable Object is overloaded. Too many requests queued."), {
    overloaded: true,
    retryable: false,
  });
  let fetches = 0;
  const objects = namespace(() => {
    fetches++;
    throw overloaded;
  });
  await assert.rejects(callObject(objects, "group-a", "{}", "enam"), (error) => error === overloaded && error.overloaded);
  assert.equal(fetches, 1);
});
