// Runs the built Worker (build/, from `make build`) in workerd through Miniflare,
// listening on a real local port, with a test config and its own KV and Durable
// Object storage. Tests talk to it over HTTP like any client.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, beforeEach } from "node:test";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";
import { startMockUpstream } from "./mock-upstream.mjs";

const root = fileURLToPath(new URL("../..", import.meta.url));
const script = `${root}/build/worker/shim.mjs`;

/** What every Miniflare running the built Worker shares. */
function workerOptions({ config, bindings = {} }) {
  return {
    scriptPath: script,
    modules: true,
    modulesRules: [
      { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
      { type: "CompiledWasm", include: ["**/*.wasm"] },
    ],
    compatibilityDate: "2026-04-01",
    compatibilityFlags: ["enable_request_signal"],
    bindings: { ...(config === undefined ? {} : { SWITCHYARD_CONFIG: config }), ...bindings },
    cf: false,
  };
}

/**
 * @param {object} options
 * @param {string} [options.config] YAML, passed as the SWITCHYARD_CONFIG variable;
 *                                  without it the bundled config/default.yaml serves
 * @param {Record<string,string>} [options.bindings]  more variables and secrets
 * @param {Record<string,string>} [options.configKv]  entries put in the CONFIG KV first
 * @param {string} [options.persist]  a folder keeping Durable Object and KV storage
 *                                    across gateways (a restart of the server)
 * @param {boolean} [options.noCacheKv]  leave the CACHE namespace unbound (a broken KV)
 * @param {boolean} [options.noRelay]  leave the RELAY namespace unbound (a
 *                                     wrangler.toml from before relays)
 * @param {string} [options.coordinatorRegistry]  take the coordinators from the
 *   Worker of `startCoordinatorHost` sharing this dev registry: another workerd
 *   process, which a test can stop and start again under the gateway
 * @param {string} [options.name]  the Worker's name in that registry ("gateway"): several
 *   gateways sharing one registry each take a name of their own
 * @param {(line: string) => void} [options.onLog]  each line the Worker writes to
 *   its log (stdout: the request log); without it they are dropped, as one line
 *   per request would bury the test output. stderr always passes.
 * @param {(line: string) => void} [options.onErrorLog]  each line it writes to stderr, too
 */
export async function startGateway({
  config,
  bindings,
  configKv = {},
  persist,
  noCacheKv = false,
  noRelay = false,
  coordinatorRegistry,
  name = "gateway",
  onLog,
  onErrorLog,
}) {
  if (!existsSync(script)) throw new Error("build/ is missing: run `make build` (make test does)");
  const coordinator = coordinatorRegistry ? { className: "Coordinator", scriptName: COORDINATOR_HOST } : "Coordinator";
  const mf = new Miniflare({
    ...workerOptions({ config, bindings }),
    kvNamespaces: noCacheKv ? ["CONFIG"] : ["CONFIG", "CACHE"],
    durableObjects: {
      COORDINATOR: coordinator,
      ...(noRelay ? {} : { RELAY: "Relay" }),
      JOBS: "Job",
      RESPONSES: "ResponseStore",
    },
    ...(persist ? { durableObjectsPersist: `${persist}/do`, kvPersist: `${persist}/kv` } : {}),
    ...(coordinatorRegistry ? { name, unsafeDevRegistryPath: coordinatorRegistry } : {}),
    host: "127.0.0.1",
    port: 0,
    handleRuntimeStdio(stdout, stderr) {
      stderr.pipe(process.stderr);
      if (onErrorLog) createInterface({ input: stderr }).on("line", onErrorLog);
      if (onLog) createInterface({ input: stdout }).on("line", onLog);
      else stdout.resume();
    },
  });
  const ready = await mf.ready;
  const kv = await mf.getKVNamespace("CONFIG");
  for (const [key, value] of Object.entries(configKv)) await kv.put(key, value);
  const url = ready.href.replace(/\/$/, "");
  return {
    url,
    mf,
    /** POST a JSON body (an object, or a string sent as it is). */
    post(path, body, headers = {}) {
      return fetch(`${url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: typeof body === "string" ? body : JSON.stringify(body),
      });
    },
    get(path, headers = {}) {
      return fetch(`${url}${path}`, { headers });
    },
    close: () => mf.dispose(),
  };
}

const COORDINATOR_HOST = "coordinator-host";

/**
 * The Worker in a workerd process of its own, serving the coordinator Durable
 * Objects of the gateway started with the same `registry`, as Cloudflare runs an
 * object apart from the Worker calling it. Returns a handle whose `close` is a
 * reset of every coordinator under the gateway's feet, and whose `pid` is its
 * workerd process's (paused with SIGSTOP, a coordinator that falls behind).
 */
export async function startCoordinatorHost({ config, registry }) {
  const running = workerdChildren();
  const mf = new Miniflare({
    ...workerOptions({ config }),
    name: COORDINATOR_HOST,
    kvNamespaces: ["CONFIG", "CACHE"],
    durableObjects: { COORDINATOR: "Coordinator", RELAY: "Relay", JOBS: "Job", RESPONSES: "ResponseStore" },
    unsafeDevRegistryPath: registry,
  });
  await mf.ready;
  // Started one at a time (see `startSharedCoordinator`): the new workerd is its.
  const pid = workerdChildren().find((child) => !running.includes(child));
  return { pid, close: () => mf.dispose() };
}

/** The workerd processes this one started and that still run. */
export function workerdChildren() {
  const out = execFileSync("ps", ["-o", "pid=,comm=", "--ppid", String(process.pid)]).toString();
  return out
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter(([, comm]) => comm === "workerd")
    .map(([pid]) => Number(pid));
}

/**
 * Gateways sharing one coordinator process, as Cloudflare's isolates share a
 * group's Durable Object: a mock upstream, a dev registry in a temp folder, the
 * coordinator host of `startCoordinatorHost` and one gateway per name in
 * `gateways`, each its own workerd process, all running `config(upstream)`.
 *
 * Processes start one at a time and stop one at a time (gateways, host, then
 * the upstream and the registry): Miniflare's watcher of a dev registry
 * (chokidar) sometimes leaks when instances sharing the registry start or stop
 * together, and keeps the test file's process alive (3 runs in 10 hung so).
 *
 * Returns `{ upstream, registry, host, gateways, startHost, startGateway, close }`:
 * `gateways` in the order of their names; `startHost()` a host again after the
 * test closed `host` (a coordinator restart: the one before is closed first if
 * it still runs); `startGateway(name)` one more gateway, joining `gateways`.
 * Every `close` may be called again, and `close()` of the whole skips what the
 * test already closed, so a test may stop any process under the others.
 */
export async function startSharedCoordinator({ config: configOf, gateways: names }) {
  const registry = mkdtempSync(join(tmpdir(), "switchyard-registry-"));
  const shared = { registry, gateways: [] };
  shared.close = once(async () => {
    // Each step runs even if one before it failed: what is left running would
    // keep the test file's process alive.
    const failures = [];
    const steps = [...shared.gateways, shared.host, shared.upstream].filter(Boolean);
    for (const running of steps) await running.close().catch((error) => failures.push(error));
    rmSync(registry, { recursive: true, force: true });
    if (failures.length > 0) throw new AggregateError(failures, "closing the shared coordinator's processes");
  });
  try {
    shared.upstream = await startMockUpstream();
    const config = configOf(shared.upstream);
    shared.startHost = async () => {
      await shared.host?.close();
      shared.host = closesOnce(await startCoordinatorHost({ config, registry }));
      return shared.host;
    };
    shared.startGateway = async (name) => {
      const gateway = closesOnce(await startGateway({ config, coordinatorRegistry: registry, name }));
      shared.gateways.push(gateway);
      return gateway;
    };
    await shared.startHost();
    for (const name of names) await shared.startGateway(name);
  } catch (error) {
    // The start's own failure is the one to report; what started is stopped.
    await shared.close().catch(() => undefined);
    throw error;
  }
  return shared;
}

/** `fn` run on its first call only; later calls return that first call's promise. */
function once(fn) {
  let result;
  return () => (result ??= fn());
}

/** `handle` with a `close` that stops it once, however many times it is called. */
function closesOnce(handle) {
  handle.close = once(handle.close);
  return handle;
}

/** Reads an SSE response, returning each `data:` payload with the time it arrived. */
export async function readEvents(response) {
  const decoder = new TextDecoder();
  const events = [];
  let buffer = "";
  for await (const chunk of response.body) {
    buffer += decoder.decode(chunk, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) !== -1) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = frame
        .split("\n")
        .filter((line) => line.startsWith("data: "))
        .map((line) => line.slice(6))
        .join("\n");
      if (data) events.push({ data, at: Date.now() });
    }
  }
  return events;
}

/** The content of a streamed chat completion, reassembled from its events. */
export function streamedContent(events) {
  return events
    .filter((e) => e.data !== "[DONE]")
    .map((e) => JSON.parse(e.data).choices[0]?.delta?.content ?? "")
    .join("");
}

export const user = (content = "hi") => [{ role: "user", content }];

/**
 * For a test file: a mock upstream and a gateway started before its tests and
 * closed after them, the upstream's record reset before each test.
 * `options(upstream)` gives startGateway's options. Returns `{ upstream, gateway }`,
 * filled in once the file's tests start.
 */
export function useGateway(options) {
  const ctx = {};
  before(async () => {
    ctx.upstream = await startMockUpstream();
    ctx.gateway = await startGateway(options(ctx.upstream));
  });
  after(async () => {
    await ctx.gateway?.close();
    await ctx.upstream?.close();
  });
  beforeEach(() => ctx.upstream.reset());
  return ctx;
}

/** A `model_list` entry for group `group`, served by mock deployment `name` (also its id). */
export const deployment = (upstream, group, name, extra = "") =>
  `  - { model_name: ${group}, litellm_params: { model: openai/m, api_base: "${upstream.base(name)}"${extra} }, model_info: { id: ${name} } }`;

/**
 * The value of the Prometheus sample `name{label="value"}` in `text` (a
 * `/metrics` answer); throws when it is missing.
 */
export function metricSample(text, name, label, value) {
  const found = new RegExp(`^${name}\\{${label}="${value}"\\} (\\d+)$`, "m").exec(text);
  if (!found) throw new Error(`no ${name}{${label}="${value}"} in /metrics`);
  return Number(found[1]);
}

/** Waits for the next minute when fewer than `seconds` are left of this one (an rpm's window); the ms it waited. */
export async function minuteLeft(seconds) {
  const left = 60_000 - (Date.now() % 60_000);
  if (left > seconds * 1_000) return 0;
  await new Promise((resolve) => setTimeout(resolve, left + 100));
  return left + 100;
}

/**
 * The messages `group`'s coordinator took since it started, from the gateway's
 * `/metrics` (this read is one of them); `headers` for a gateway behind a master key.
 */
export async function coordinatorMessages(gateway, group, headers = {}) {
  const text = await (await gateway.get("/metrics", headers)).text();
  return metricSample(text, "switchyard_coordinator_messages_total", "model_group", group);
}
