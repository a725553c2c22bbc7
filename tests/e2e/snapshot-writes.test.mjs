// What a group's coordinator writes to its Durable Object's storage, and what a
// restart keeps of it (core/src/coordinator/snapshot.rs, written from
// src/coordinator.rs `persist`): the minute's counts of a deployment with an rpm
// are written ahead, a fiftieth of the rpm beyond what is taken, so that a busy
// minute costs a write per fiftieth, not one per message; and a coordinator
// restarted from them (a gateway process stopped and started on the same
// storage) holds the rpm across the restart.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { startMockUpstream } from "../support/mock-upstream.mjs";
import { deployment, metricSample, minuteLeft, startGateway, user } from "../support/gateway.mjs";

/** Small enough never to be leased to an isolate: every request takes a ticket. */
const RPM = 40;
/** `WRITTEN_AHEAD` in core/src/coordinator/snapshot.rs: a snapshot counts this fraction of the rpm ahead. */
const RESERVE = Math.ceil(RPM / 50);

let upstream;
let persist;
before(async () => {
  upstream = await startMockUpstream();
  persist = mkdtempSync(join(tmpdir(), "switchyard-snapshot-"));
});
after(async () => {
  await upstream?.close();
  if (persist) rmSync(persist, { recursive: true, force: true });
});

const config = () => ["model_list:", deployment(upstream, "limited", "limited-1", `, rpm: ${RPM}`)].join("\n");

/** Sends `count` requests one after another; returns how many were served. */
async function served(gateway, count) {
  let ok = 0;
  for (let i = 0; i < count; i++) {
    const answer = await gateway.post("/v1/chat/completions", { model: "limited", messages: user(`r${i}`) });
    await answer.arrayBuffer();
    if (answer.status === 200) ok++;
    else assert.equal(answer.status, 429, "a request past the rpm is refused as rate limited");
  }
  return ok;
}

async function coordinatorFigure(gateway, name) {
  const text = await (await gateway.get("/metrics")).text();
  return metricSample(text, name, "model_group", "limited");
}

test("a minute's counts are written ahead, not on every message, and a restarted coordinator holds the rpm", async () => {
  // Both halves in one minute: the rpm's window.
  await minuteLeft(30);
  const first = await startGateway({ config: config(), persist });
  let before;
  try {
    before = await served(first, RPM / 2);
    assert.equal(before, RPM / 2);
    const writes = await coordinatorFigure(first, "switchyard_coordinator_writes_total");
    const messages = await coordinatorFigure(first, "switchyard_coordinator_messages_total");
    // A ticket and its report per request (a report mostly rides with the next
    // ticket); each write counts RESERVE requests ahead, so one in RESERVE + 1
    // requests writes. One per message would be about RPM / 2 or more.
    assert.ok(messages >= RPM / 2, `${messages} messages`);
    assert.ok(writes >= 1 && writes <= Math.ceil(before / (RESERVE + 1)), `${writes} writes for ${before} requests`);
  } finally {
    await first.close();
  }

  // The same storage, a new process: the coordinator starts from what it wrote.
  const second = await startGateway({ config: config(), persist });
  try {
    const after = await served(second, RPM);
    assert.ok(before + after <= RPM, `${before} + ${after} served in a minute of rpm ${RPM}`);
    assert.ok(before + after >= RPM - RESERVE, `${before} + ${after}: a restart costs at most the reserve`);
    assert.equal(upstream.requests.length, before + after, "the upstream saw only those served");
  } finally {
    await second.close();
  }
});
