#!/usr/bin/env python3
"""A/B of two builds of the Worker under workerd, for one change at a time.

usage: bench/.venv/bin/python bench/ab.py <build-dir-a> <build-dir-b> [model] [rounds]

Each build directory is what `make build` leaves in build/ (copy it aside before
the change). Both run at once, each in a workerd process of its own beside the
same nginx upstream, and are loaded in turn (A then B, then B then A, ...) with
oha's closed loop for `rounds` rounds (default 6) of 6 s; it prints the medians of
requests/s, CPU and JavaScript heap per request, and p99. `model` is the group to
call, as in make bench's config: bench (routed, the default), bench-limited (rpm
and tpm held by leases), bench-parallel (slots), bench-stream,
bench-stream-long (300 chunks), bench-anthropic, bench-anthropic-stream or
bench-bedrock-stream (translated).

Runs on one machine drift by several percent over minutes; taking the pair in
turn, round after round, is what makes a difference of a few percent visible.
"""

import os
import sys
import time
from pathlib import Path

import run

PORTS = (18801, 18802)
SECONDS = 6


def start(name, build, port):
    """One workerd serving `build` on `port`, configured as make bench's Switchyard."""
    config = (run.OUT / "switchyard.capnp").read_text()
    embedded = os.path.relpath(Path(build).resolve(), run.OUT)
    config = config.replace(f'embed "{os.path.relpath(run.ROOT / "build", run.OUT)}/',
                            f'embed "{embedded}/')
    config = config.replace(f"127.0.0.1:{run.SWITCHYARD}", f"127.0.0.1:{port}")
    if "ResponseStore" not in (Path(build) / "index.js").read_text():
        # A build from before issue 17 has no ResponseStore class to bind.
        config = config.replace(',\n                  (name = "RESPONSES", durableObjectNamespace = "ResponseStore")', "")
        config = config.replace(',\n                                 (className = "ResponseStore", uniqueKey = "plain-responses", enableSql = true)', "")
    (run.OUT / f"{name}.capnp").write_text(config)
    return run.start_workerd(name)


def only(model):
    """Keeps the measured group alone in the config both builds load, so that an
    older build, which may not know another group's provider, loads it too."""
    path = run.OUT / "switchyard.yaml"
    head, *entries = path.read_text().split("  - model_name: ")
    kept = [entry for entry in entries if entry.split("\n", 1)[0] == model]
    path.write_text(head + "".join(f"  - model_name: {entry}" for entry in kept))


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    builds = sys.argv[1:3]
    model = sys.argv[3] if len(sys.argv) > 3 else "bench"
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 6
    body = run.body(model, **({"stream": True} if model.startswith("bench-stream") or model.endswith("-stream") else {}))
    run.write_configs()
    only(model)
    processes = [run.start_upstream()]
    paths, pids = [], {}
    try:
        for name, build, port in zip(("ab-A", "ab-B"), builds, PORTS):
            processes.append(start(name, build, port))
            pids[name] = processes[-1].pid
            paths.append(run.Route(name, port, body, process=name))
        time.sleep(0.5)
        for path in paths:
            run.wait_for(path)
            run.oha(path, 2)  # warm: Wasm tiers up under load
        results = {path.name: [] for path in paths}
        for number in range(rounds):
            for path in paths if number % 2 == 0 else paths[::-1]:
                results[path.name].append(run.oha(path, SECONDS, pids=pids))
    finally:
        for process in processes:
            run.stop(process)
    for (name, runs), build in zip(results.items(), builds):
        figures = {key: run.median(runs, key) for key in ("rps", "cpu_us", "heap_kb", "p99")}
        print(f"{name} ({build}): {figures['rps']:,.0f} requests/s, {figures['cpu_us']:.0f} µs CPU and "
              f"{figures['heap_kb']:.1f} KB JS heap per request, p99 {figures['p99']:.1f} ms")
    a, b = (run.median(runs, "rps") for runs in results.values())
    print(f"B/A: {b / a:.3f}")


if __name__ == "__main__":
    main()
