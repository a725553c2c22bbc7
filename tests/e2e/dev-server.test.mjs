// The README's `make dev CONFIG=<file> PORT=<n>` contract, through wrangler dev.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { test } from "node:test";

const root = fileURLToPath(new URL("../..", import.meta.url));

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitUntilReady(url, child, deadlineMs) {
  while (Date.now() < deadlineMs) {
    if (child.exitCode !== null) throw new Error(`make dev exited with ${child.exitCode}`);
    try {
      const response = await fetch(`${url}/health/readiness`);
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error("make dev did not become ready in time");
}

test("make dev CONFIG=... PORT=... serves that config on that port", { timeout: 240_000 }, async (t) => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let output = "";
  // Its own process group: wrangler starts workerd children, all ended together.
  const child = spawn("make", ["dev", "CONFIG=tests/fixtures/dev.yaml", `PORT=${port}`], {
    cwd: root,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  t.after(() => {
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {
      // already gone
    }
  });

  await waitUntilReady(url, child, Date.now() + 200_000).catch((error) => {
    throw new Error(`${error.message}\n${output.slice(-3000)}`);
  });
  const response = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "dev-check", messages: [{ role: "user", content: "hi" }] }),
  });
  assert.equal(response.status, 200);
  assert.equal((await response.json()).choices[0].message.content, "served by make dev with a custom config");
});
