// The microtask switch (src/js/microtasks.js): wasm-bindgen's futures fall back to a
// resolved promise's `then` when the global scope has no queueMicrotask.
import assert from "node:assert/strict";
import { test } from "node:test";
import { preferPromiseMicrotasks } from "../../src/js/microtasks.js";

test("preferPromiseMicrotasks takes queueMicrotask out of the global scope", (t) => {
  const real = globalThis.queueMicrotask;
  t.after(() => {
    globalThis.queueMicrotask = real;
  });
  assert.equal(typeof globalThis.queueMicrotask, "function");
  preferPromiseMicrotasks();
  assert.equal(typeof globalThis.queueMicrotask, "undefined");
});
