#!/usr/bin/env python3
"""End-to-end benchmark under `workerd serve` (run by `make bench`).

Starts nginx as a zero-latency OpenAI-shaped upstream and one workerd process
holding: the release Switchyard Worker (cache off), the same Worker with the
response cache on, a minimal JavaScript pass-through worker (the runtime's limit),
and an in-memory KV service. Then measures with oha, closed loop (requests/s at a
fixed concurrency) and open loop (latency at a fixed rate), several runs each,
medians, and writes the figures into BENCHMARKS.md between its markers.
"""

import gzip
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / ".out"
WORKERD = ROOT / "node_modules/@cloudflare/workerd-linux-64/bin/workerd"
OHA = ROOT / ".tools/bin/oha"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

UPSTREAM, SWITCHYARD, CACHED, PASSTHROUGH = 18790, 18791, 18792, 18793
RUNS, SECONDS, CONCURRENCY, RATE = 3, 8, 32, 1000

COMPLETION = json.dumps({
    "id": "chatcmpl-bench", "object": "chat.completion", "created": 1700000000, "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello from the benchmark upstream."},
                 "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 9, "completion_tokens": 7, "total_tokens": 16},
})
CHUNK = '{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"m","choices":[{"index":0,"delta":%s,"finish_reason":%s}]}'
SSE = "".join(f"data: {CHUNK % (delta, finish)}\n\n" for delta, finish in [
    ('{"role":"assistant","content":""}', "null"), ('{"content":"Hello"}', "null"),
    ('{"content":" there"}', "null"), ("{}", '"stop"')]) + "data: [DONE]\n\n"

BODY = json.dumps({"model": "bench", "messages": [{"role": "user", "content": "Say hello."}], "temperature": 0})
STREAM_BODY = json.dumps({"model": "bench-stream", "messages": [{"role": "user", "content": "Say hello."}],
                          "stream": True})


def write_configs():
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "nginx.conf").write_text(f"""
daemon off;
worker_processes 1;
pid {OUT}/nginx.pid;
error_log {OUT}/nginx-error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {OUT}/nginx-body;
  server {{
    listen 127.0.0.1:{UPSTREAM};
    location /sse/ {{ default_type text/event-stream; return 200 '{SSE}'; }}
    location / {{ default_type application/json; return 200 '{COMPLETION}'; }}
  }}
}}
""")
    base = f"http://127.0.0.1:{UPSTREAM}"
    model_list = f"""model_list:
  - model_name: bench
    litellm_params: {{ model: openai/m, api_base: "{base}/v1" }}
  - model_name: bench-stream
    litellm_params: {{ model: openai/m, api_base: "{base}/sse/v1" }}
"""
    (OUT / "switchyard.yaml").write_text(model_list)
    (OUT / "switchyard-cached.yaml").write_text(model_list + "router_settings:\n  cache_responses: true\n")
    # capnp's `embed` takes paths relative to the config file.
    build = os.path.relpath(ROOT / "build", OUT)
    bench = os.path.relpath(ROOT / "bench", OUT)

    def switchyard(name, config, key):
        return f"""(name = "{name}", worker = (
      modules = [(name = "index.js", esModule = embed "{build}/index.js"),
                 (name = "index_bg.wasm", wasm = embed "{build}/index_bg.wasm")],
      compatibilityDate = "2026-04-01",
      compatibilityFlags = ["enable_request_signal"],
      bindings = [(name = "SWITCHYARD_CONFIG", text = embed "{config}"),
                  (name = "CONFIG", kvNamespace = "kv"), (name = "CACHE", kvNamespace = "kv"),
                  (name = "COORDINATOR", durableObjectNamespace = "Coordinator"),
                  (name = "JOBS", durableObjectNamespace = "Job")],
      durableObjectNamespaces = [(className = "Coordinator", uniqueKey = "{key}-coordinator", enableSql = true),
                                 (className = "Job", uniqueKey = "{key}-job", enableSql = true)],
      durableObjectStorage = (inMemory = void),
      globalOutbound = "loopback"))"""

    (OUT / "config.capnp").write_text(f"""using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    {switchyard("switchyard", "switchyard.yaml", "plain")},
    {switchyard("switchyard-cached", "switchyard-cached.yaml", "cached")},
    (name = "passthrough", worker = (
      modules = [(name = "passthrough.js", esModule = embed "{bench}/passthrough.js")],
      compatibilityDate = "2026-04-01",
      bindings = [(name = "UPSTREAM", text = "{base}")],
      globalOutbound = "loopback")),
    (name = "kv", worker = (
      modules = [(name = "kv.js", esModule = embed "{bench}/kv.js")],
      compatibilityDate = "2026-04-01")),
    (name = "loopback", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [
    (name = "switchyard", address = "127.0.0.1:{SWITCHYARD}", http = (), service = "switchyard"),
    (name = "cached", address = "127.0.0.1:{CACHED}", http = (), service = "switchyard-cached"),
    (name = "passthrough", address = "127.0.0.1:{PASSTHROUGH}", http = (), service = "passthrough"),
  ],
);
""")


def post(port, body, path="/v1/chat/completions"):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body.encode(),
                                     headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, dict(response.headers), response.read()


def wait_for(port, body):
    for _ in range(100):
        try:
            return post(port, body)
        except OSError:
            time.sleep(0.1)
    sys.exit(f"nothing answers on port {port}")


def oha(port, body, rate=None):
    """One oha run: requests/s and latency percentiles in ms."""
    command = [str(OHA), "--no-tui", "--output-format", "json", "-z", f"{SECONDS}s", "-m", "POST",
               "-H", "content-type: application/json", "-d", body,
               "-c", str(CONCURRENCY if rate is None else 64)]
    if rate is not None:
        # Open loop: latency counted from when each request was due, not sent.
        command += ["-q", str(rate), "--latency-correction"]
    command.append(f"http://127.0.0.1:{port}/v1/chat/completions")
    result = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    codes = result.get("statusCodeDistribution", {})
    ok = sum(v for k, v in codes.items() if k.startswith("2"))
    total = sum(codes.values())
    if total == 0 or ok != total:
        sys.exit(f"port {port}: not every answer was a success: {codes}")
    pct = result["latencyPercentiles"]
    return {"rps": result["summary"]["requestsPerSec"], "p50": pct["p50"] * 1000, "p99": pct["p99"] * 1000}


def median_of(port, body, rate=None):
    runs = [oha(port, body, rate) for _ in range(RUNS)]
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def main():
    for tool in (WORKERD, OHA):
        if not Path(tool).exists():
            sys.exit(f"missing {tool}: run `make bench` (it installs what is missing)")
    write_configs()
    processes = [
        subprocess.Popen([NGINX, "-c", str(OUT / "nginx.conf"), "-p", str(OUT)], start_new_session=True),
        subprocess.Popen([str(WORKERD), "serve", str(OUT / "config.capnp")], start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=open(OUT / "workerd.log", "w")),
    ]
    try:
        time.sleep(0.5)
        if processes[0].poll() is not None:
            sys.exit(f"nginx did not start (is port {UPSTREAM} taken?): see {OUT}/nginx-error.log")
        wait_for(UPSTREAM, BODY)
        status, headers, _ = wait_for(SWITCHYARD, BODY)
        assert status == 200 and headers.get("x-litellm-model-id"), headers
        post(CACHED, BODY)
        for _ in range(50):  # the cache write lands in the background
            if post(CACHED, BODY)[1].get("x-cache") == "HIT":
                break
            time.sleep(0.05)
        else:
            sys.exit("the cached service never answered a HIT")
        wait_for(PASSTHROUGH, BODY)

        closed = {
            "upstream direct (nginx)": median_of(UPSTREAM, BODY),
            "JavaScript pass-through worker": median_of(PASSTHROUGH, BODY),
            "Switchyard, routed": median_of(SWITCHYARD, BODY),
            "Switchyard, streamed": median_of(SWITCHYARD, STREAM_BODY),
            "Switchyard, cache hit": median_of(CACHED, BODY),
        }
        opened = {
            "upstream direct (nginx)": median_of(UPSTREAM, BODY, RATE),
            "Switchyard, routed": median_of(SWITCHYARD, BODY, RATE),
            "Switchyard, cache hit": median_of(CACHED, BODY, RATE),
        }
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
    write_report(closed, opened)


def write_report(closed, opened):
    wasm = (ROOT / "build/index_bg.wasm").read_bytes()
    js = closed["JavaScript pass-through worker"]["rps"]
    direct = opened["upstream direct (nginx)"]
    rows = "\n".join(
        f"| {name} | {r['rps']:,.0f} | {r['rps'] / js:.2f}x | {r['p50']:.2f} | {r['p99']:.2f} |"
        for name, r in closed.items())
    open_rows = "\n".join(
        f"| {name} | {r['p50']:.2f} | {r['p99']:.2f} | {r['p99'] - direct['p99']:+.2f} |"
        for name, r in opened.items())
    section = f"""<!-- bench:start -->
## End to end under workerd (`make bench`)

Measured {date.today()} on {platform.machine()} ({os.cpu_count()} cores), `workerd serve` directly
(not `wrangler dev`), nginx as a zero-latency upstream on the same machine, load from
oha on the same machine. {RUNS} runs of {SECONDS} s each, medians. Wasm:
{len(wasm):,} bytes raw, {len(gzip.compress(wasm, 9)):,} gzipped.

Closed loop, {CONCURRENCY} connections:

| path | requests/s | vs JS pass-through | p50 ms | p99 ms |
|---|---|---|---|---|
{rows}

Open loop, {RATE} requests/s:

| path | p50 ms | p99 ms | p99 added over direct |
|---|---|---|---|
{open_rows}

Every routed request takes a ticket from its model group's coordinator (a Durable
Object round trip) and reports back in the background; a cache hit does neither.
<!-- bench:end -->"""
    report = ROOT / "BENCHMARKS.md"
    text = report.read_text()
    if "<!-- bench:start -->" in text:
        head, rest = text.split("<!-- bench:start -->", 1)
        text = head + section + rest.split("<!-- bench:end -->", 1)[1]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    report.write_text(text)
    print(section)


if __name__ == "__main__":
    main()
