// How wasm-bindgen's futures are woken: through `then` on one resolved promise, not
// workerd's `queueMicrotask`.
//
// workerd's `queueMicrotask` wraps every task in a new native function: over a
// tenth of what a routed request allocated in JavaScript, with three polls
// scheduled per request; wasm-bindgen's futures fall back to a resolved promise's
// `then` when the global scope has none (+7.7%, measured, BENCHMARKS.md). Bound in
// src/runtime.rs.

/**
 * Removes `queueMicrotask` from the global scope. Must run before the first future
 * is spawned, when wasm-bindgen decides once; nothing else here calls it.
 */
export function preferPromiseMicrotasks() {
  globalThis.queueMicrotask = undefined;
}
