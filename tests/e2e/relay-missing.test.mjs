// Relays are automatic by default: a gateway deployed with a wrangler.toml from
// before them (no RELAY binding) must still serve when its coordinator's views
// say to relay. The relay's failure sends the group's messages directly for a
// while (src/relay_way.rs), and the message the missing relay never took goes
// directly at once: no request notices.
import assert from "node:assert/strict";
import { test } from "node:test";
import { deployment, metricSample, useGateway, user } from "../support/gateway.mjs";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const errors = [];
const ctx = useGateway((upstream) => ({
  config: [
    "model_list:",
    // Limited: served under leases, which a sync renews, else by ticket.
    deployment(upstream, "limited", "lim", ", rpm: 6000"),
    "router_settings:",
    "  num_retries: 0",
    // Any second with a message says to relay.
    "  coordinator_relay_above: 1",
  ].join("\n"),
  noRelay: true,
  onErrorLog: (line) => errors.push(line),
}));

test("without a RELAY binding, a gateway told to relay sends directly and serves every request", async () => {
  const statuses = [];
  const started = Date.now();
  for (let i = 0; Date.now() - started < 4_000; i++) {
    const answers = await Promise.all(
      Array.from({ length: 5 }, (_, k) =>
        ctx.gateway.post("/v1/chat/completions", { model: "limited", messages: user(`missing-${i}-${k}`) }),
      ),
    );
    for (const answer of answers) statuses.push(`${answer.status} ${answer.status === 200 ? "" : await answer.text()}`);
    await sleep(100);
  }
  const text = await (await ctx.gateway.get("/metrics")).text();
  assert.equal(metricSample(text, "switchyard_coordinator_relaying", "model_group", "limited"), 1, "views say to relay");
  const failed = errors.filter((line) => line.includes("the relay of `limited` failed"));
  assert.equal(failed.length, 1, `the relay was tried once: ${failed.join("\n")}`);
  assert.deepEqual(
    statuses.filter((status) => !status.startsWith("200")),
    [],
    `${statuses.length} requests`,
  );
});
