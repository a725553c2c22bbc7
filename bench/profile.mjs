// CPU profile of one workerd service under load, through the V8 inspector
// (run by `make profile`, needs node --experimental-websocket on Node 20).
// usage: node profile.mjs <inspector-port> <service> -- <load command...>
// Prints the functions with the most samples: self time, then inclusive.
import { spawn } from "node:child_process";

const [port, service, , ...load] = process.argv.slice(2);
const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
const target = targets.find((t) => t.title.endsWith(` ${service}`));
if (!target) throw new Error(`no inspector target for ${service}: ${targets.map((t) => t.title)}`);

const socket = new WebSocket(target.webSocketDebuggerUrl);
await new Promise((resolve) => socket.addEventListener("open", resolve));
const waiting = new Map();
socket.addEventListener("message", (event) => {
  const message = JSON.parse(event.data);
  waiting.get(message.id)?.(message.result);
  waiting.delete(message.id);
});
let next = 0;
const send = (method, params = {}) =>
  new Promise((resolve) => {
    waiting.set(++next, resolve);
    socket.send(JSON.stringify({ id: next, method, params }));
  });

await send("Profiler.enable");
await send("Profiler.setSamplingInterval", { interval: 100 });
await send("Profiler.start");
const child = spawn(load[0], load.slice(1), { stdio: ["ignore", "ignore", "inherit"] });
await new Promise((resolve) => child.on("exit", resolve));
const { profile } = await send("Profiler.stop");
socket.close();

const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const parents = new Map();
for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
const name = (node) => node.callFrame.functionName || "(anonymous)";
const self = new Map();
const inclusive = new Map();
for (const sample of profile.samples) {
  const leaf = nodes.get(sample);
  self.set(name(leaf), (self.get(name(leaf)) ?? 0) + 1);
  const seen = new Set();
  for (let id = sample; id !== undefined; id = parents.get(id)) {
    const frame = name(nodes.get(id));
    if (!seen.has(frame)) inclusive.set(frame, (inclusive.get(frame) ?? 0) + 1);
    seen.add(frame);
  }
}
const top = (counts, n) =>
  [...counts]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([frame, count]) => `${((100 * count) / profile.samples.length).toFixed(1).padStart(5)}%  ${frame}`)
    .join("\n");
console.log(`self time, ${profile.samples.length} samples:\n${top(self, 30)}\n\ninclusive:\n${top(inclusive, 40)}`);
