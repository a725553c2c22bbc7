// What one model group's coordinator (its Durable Object) spends per message, under
// workerd: `make bench-coordinator` (after `make build`).
//
// Cloudflare's guidance is "about a thousand requests a second" per object; what
// an object really serves depends on the CPU each request takes, since it runs one
// at a time. This puts a number on ours. The coordinator runs in a workerd process
// of its own (as Cloudflare runs an object apart from the isolates calling it), and
// a driver Worker in another process sends it, through the dev registry, the
// messages of the simulation's busiest kinds from many isolates at once:
// - `sync`: each isolate's view refreshed, settling the leases and slots its last
//   view gave it as if it had used them all (the simulation's commonest message);
// - `ticket`: an acquire and the ticket's report, two messages;
// - `status`: the queue's status, which decides nothing: what any call to the
//   coordinator costs;
// - `batch`: a relay's batch (src/relay.rs) of `BENCH_BATCH` syncs (20 unless
//   given), each of another isolate: what a batch and each message in it cost
//   (the simulation's `--service-us` and `--inner-us`);
// - `echo`: a Durable Object of a few lines that answers "{}", in a process of
//   its own: what the runtime alone costs per call here.
// It reads the coordinator process's CPU time (/proc) before and after each run,
// and prints messages a second and CPU microseconds per message. The figure is an
// upper bound on the object's own cost: the process also parses the HTTP of each
// call from the other process, where Cloudflare's runtime passes it internally.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Miniflare } from "miniflare";
import { startCoordinatorHost, workerdChildren } from "../tests/support/gateway.mjs";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const ISOLATES = 1000;
const BATCH = Number(process.env.BENCH_BATCH ?? 20);
const TICKS_PER_S = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim());

// The simulation's group (core/src/simulation/scenario.rs): one deployment per limit.
const deployment = (id, limit) =>
  `  - { model_name: g, litellm_params: { model: openai/m, api_base: "http://127.0.0.1:9/v1", ${limit} }, model_info: { id: ${id} } }`;
const CONFIG = [
  "model_list:",
  deployment("a", "rpm: 300000"),
  deployment("b", "tpm: 300000000"),
  deployment("c", "max_parallel_requests: 5000"),
].join("\n");

// The driver: `POST {kind, seconds, concurrency, isolates}` runs that many loops,
// each sending its next message when the last was answered, and answers how many
// messages went and how many failed.
const DRIVER = `
const TOKENS = 1000;
function served(view) {
  const out = [];
  for (const [deployment, lease] of view.leases) {
    out.push({ deployment, requests: lease.requests, tokens: lease.tokens || lease.requests * TOKENS, lease,
      timings: { answers: lease.requests, latency_ms: lease.requests * 950, first_token_ms: lease.requests * 950 } });
  }
  for (const [deployment, slot] of view.slots) {
    out.push({ deployment, requests: slot.granted, tokens: slot.granted * TOKENS, lease: null,
      timings: { answers: slot.granted, latency_ms: slot.granted * 950, first_token_ms: slot.granted * 950 },
      slots: { epoch: view.slot_epoch, released: 0, busy: slot.granted, peak: slot.granted } });
  }
  return out;
}
export default {
  async fetch(request, env) {
    const { kind, seconds, concurrency, isolates, batch } = await request.json();
    const namespace = kind === "echo" ? env.ECHO : env.COORDINATOR;
    const stub = namespace.get(namespace.idFromName("g"));
    const views = new Map();
    const call = async (message) => {
      const answer = await stub.fetch("https://durable-object/", {
        method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(message) });
      return [answer.status, await answer.text()];
    };
    const end = Date.now() + seconds * 1000;
    let sent = 0, failed = 0, settled = 0, inner = 0;
    const sync = (isolate) => {
      const view = views.get(isolate);
      const settling = view ? served(view) : [];
      settled += settling.length;
      return { Sync: { group: "g", served: settling, failure: null, estimated_tokens: TOKENS, isolate, tally: null } };
    };
    async function loop(first) {
      for (let n = first; Date.now() < end; n += concurrency) {
        const isolate = 1 + (n % isolates);
        if (kind === "status" || kind === "echo") {
          const [status] = await call({ Status: { group: "g" } });
          sent += 1;
          if (status !== 200) failed += 1;
        } else if (kind === "sync") {
          const [status, text] = await call(sync(isolate));
          sent += 1;
          inner += 1;
          if (status === 200) views.set(isolate, JSON.parse(text)); else failed += 1;
        } else if (kind === "batch") {
          const ids = Array.from({ length: batch }, (_, k) => 1 + ((n * batch + k) % isolates));
          const [status, text] = await call({ Batch: { group: "g", messages: ids.map(sync) } });
          sent += 1;
          inner += batch;
          if (status !== 200) { failed += 1; continue; }
          JSON.parse(text).answers.forEach((answer, k) => {
            if (answer.status === 200) views.set(ids[k], JSON.parse(answer.body)); else failed += 1;
          });
        } else {
          const [status, text] = await call({ Acquire: { group: "g", request: { avoid: [], estimated_tokens: TOKENS,
            stream: false, queue: null, region: null, isolate }, reports: [] } });
          sent += 1;
          const ticket = status === 200 && /"ticket":(\\d+)/.exec(text);
          if (!ticket) { failed += 1; continue; }
          const report = { ticket: Number(ticket[1]), latency_ms: 950, ttft_ms: null, tokens_used: TOKENS, failure: null };
          const [reported] = await call({ Report: { group: "g", reports: [report] } });
          sent += 1;
          if (reported >= 300) failed += 1;
        }
      }
    }
    await Promise.all(Array.from({ length: concurrency }, (_, n) => loop(n)));
    return Response.json({ sent, failed, settled, inner });
  },
};`;

// The runtime's own floor: a Durable Object that answers every call with "{}".
const ECHO = `export class Echo { fetch() { return new Response("{}"); } }
export default { fetch() { return new Response(null, { status: 404 }); } };`;

/** The CPU seconds the process has used so far (user and system). */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;
}

const registry = mkdtempSync(join(tmpdir(), "switchyard-bench-registry-"));
const host = await startCoordinatorHost({ config: CONFIG, registry });
const hostPid = host.pid;
const echo = new Miniflare({
  name: "echo-host",
  modules: true,
  script: ECHO,
  compatibilityDate: "2026-04-01",
  durableObjects: { ECHO: "Echo" },
  unsafeDevRegistryPath: registry,
});
await echo.ready;
const echoPid = workerdChildren().find((pid) => pid !== hostPid);
const driver = new Miniflare({
  name: "driver",
  modules: true,
  script: DRIVER,
  compatibilityDate: "2026-04-01",
  durableObjects: {
    COORDINATOR: { className: "Coordinator", scriptName: "coordinator-host" },
    ECHO: { className: "Echo", scriptName: "echo-host" },
  },
  unsafeDevRegistryPath: registry,
});
const url = (await driver.ready).href;

async function run(kind, seconds) {
  const pid = kind === "echo" ? echoPid : hostPid;
  const before = cpuSeconds(pid);
  const started = performance.now();
  const answer = await fetch(url, {
    method: "POST",
    body: JSON.stringify({ kind, seconds, concurrency: CONCURRENCY, isolates: ISOLATES, batch: BATCH }),
  });
  const { sent, failed, settled, inner } = await answer.json();
  const wall = (performance.now() - started) / 1000;
  const cpu = cpuSeconds(pid) - before;
  return { kind, sent, failed, settled, inner, perSecond: sent / wall, cpuUsPerMessage: (cpu * 1e6) / sent, cpuShare: cpu / wall };
}

try {
  await run("sync", 2); // warm-up: the object created, its code compiled
  await run("ticket", 2);
  await run("echo", 2);
  await run("batch", 2);
  for (const kind of ["echo", "status", "sync", "ticket", "batch"]) {
    const r = await run(kind, SECONDS);
    const settled = r.inner > 0 ? `, ${(r.settled / r.inner).toFixed(2)} deployments settled a sync` : "";
    const each = kind === "batch" ? ` (${BATCH} syncs each: ${((r.cpuUsPerMessage) / BATCH).toFixed(0)} µs a sync)` : "";
    console.log(
      `${kind}: ${r.sent} messages (${r.failed} failed${settled}) in ${SECONDS} s: ${Math.round(r.perSecond)} a second, ` +
        `the object's process ${r.cpuUsPerMessage.toFixed(0)} µs of CPU per message${each}, busy ${(100 * r.cpuShare).toFixed(0)}%`,
    );
  }
} finally {
  await driver.dispose();
  await echo.dispose();
  await host.close();
  rmSync(registry, { recursive: true, force: true });
}
