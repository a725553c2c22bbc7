// The README's deployment: `wrangler deploy` with nothing to fill in first. Its
// --dry-run builds and bundles the Worker as a deploy would, without an account.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { test } from "node:test";

const root = fileURLToPath(new URL("../..", import.meta.url));
// Workers' limit on a script's compressed size on the free plan.
const FREE_PLAN_GZIP_KIB = 3 * 1024;

test("wrangler deploy --dry-run bundles the Worker with every binding and no id to fill in", { timeout: 120_000 }, async (t) => {
  const manifest = await readFile(join(root, "wrangler.toml"), "utf8");
  assert.doesNotMatch(manifest, /REPLACE_WITH|^\s*id\s*=/m, "KV namespaces are provisioned by wrangler deploy");

  const outdir = await mkdtemp(join(tmpdir(), "switchyard-deploy-"));
  t.after(() => rm(outdir, { recursive: true, force: true }));
  const { stdout } = await promisify(execFile)("npx", ["wrangler", "deploy", "--dry-run", "--outdir", outdir], {
    cwd: root,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
  });
  for (const binding of ["env.COORDINATOR (Coordinator)", "env.RELAY (Relay)", "env.JOBS (Job)", "env.RESPONSES (ResponseStore)", "env.CONFIG", "env.CACHE"]) {
    assert.ok(stdout.includes(binding), `${binding} in:\n${stdout}`);
  }
  const gzip = stdout.match(/gzip: ([\d.]+) KiB/);
  assert.ok(gzip, stdout);
  assert.ok(Number(gzip[1]) < FREE_PLAN_GZIP_KIB, `${gzip[1]} KiB compressed, over the free plan's limit`);
  const files = await readdir(outdir);
  assert.ok(files.some((f) => f.endsWith("index_bg.wasm")), files.join(", "));
  assert.ok(files.includes("shim.js"), files.join(", "));
});
