#!/usr/bin/env python3
"""End-to-end benchmark under `workerd serve` (run by `make bench`).

Starts nginx as a zero-latency OpenAI-shaped upstream and three workerd processes:
the release Switchyard Worker (cache off), the same Worker with the response cache
on (each beside an in-memory KV service), a minimal JavaScript pass-through
worker (the runtime's limit), and a minimal JavaScript gateway (bench/minimal-gateway.js:
the work any gateway that reads the request and the answer does, and nothing else). One process each, because workerd runs all of a
process's isolates on one thread: a garbage collection in one would pause the others. Beside them, when installed (`make bench` installs
them): LiteLLM's proxy with an equivalent config, at its best worker count here,
and Portkey's gateway on Node, configured per request by headers.

Then, with oha: closed loop (requests/s at a fixed concurrency), every path once
per round, several rounds, medians, and ratios taken round by round; the CPU time
workerd spends per request, and the JavaScript heap it allocates per request and
its garbage collector's pauses (V8's --trace-gc); and an open-loop sweep of offered
rates (p50, p99).
Writes the figures into BENCHMARKS.md between its markers, the raw figures into
bench/results.json and the plot of latency against load into bench/latency.png.

With `--profile` (`make profile`) it only loads the routed path for a while and
prints where its isolate spends the CPU (bench/profile.mjs, V8's sampling profiler).
"""

import gzip
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
import zlib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
OUT = BENCH / ".out"
WORKERD = ROOT / "node_modules/@cloudflare/workerd-linux-64/bin/workerd"
OHA = ROOT / ".tools/bin/oha"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
LITELLM = BENCH / ".venv/bin/litellm"
PORTKEY = BENCH / ".portkey/node_modules/@portkey-ai/gateway/build/start-server.js"

UPSTREAM, SWITCHYARD, CACHED, PASSTHROUGH, LITELLM_PORT, PORTKEY_PORT, MINIMAL = range(18790, 18797)
ROUNDS, SECONDS, CONCURRENCY = 3, 8, 32
SWEEP_RATES, SWEEP_SECONDS, TARGET_RATE, TARGET_SECONDS = [50, 100, 250, 500, 1000, 2000, 4000, 8000], 5, 1000, 10
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# One line of V8's --trace-gc: heap MB before -> after, then the main thread's pause.
GC_LINE = re.compile(r"(Scavenge|Mark-Compact)\S* ([\d.]+) \([\d.]+\) -> ([\d.]+) \([\d.]+\) MB, .*?([\d.]+) / [\d.]+ ms")

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
# A stream as long as LLM answers are: this many content chunks, in OpenAI's format
# and in Anthropic's (translated by the gateway), the same words in both.
STREAM_CHUNKS = 300
LONG_SSE = "".join(f"data: {CHUNK % (delta, finish)}\n\n" for delta, finish in [
    ('{"role":"assistant","content":""}', "null"), *[('{"content":" word%d"}' % i, "null") for i in range(STREAM_CHUNKS)],
    ("{}", '"stop"')]) + "data: [DONE]\n\n"
ANTHROPIC_MESSAGE = json.dumps({
    "id": "msg_bench", "type": "message", "role": "assistant", "model": "claude-bench",
    "content": [{"type": "text", "text": "Hello from the benchmark upstream."}],
    "stop_reason": "end_turn", "stop_sequence": None, "usage": {"input_tokens": 9, "output_tokens": 7},
})


def anthropic_event(kind, **fields):
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **fields}, separators=(',', ':'))}\n\n"


ANTHROPIC_SSE = "".join([
    anthropic_event("message_start", message={
        "id": "msg_bench", "type": "message", "role": "assistant", "model": "claude-bench", "content": [],
        "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 9, "output_tokens": 1}}),
    anthropic_event("content_block_start", index=0, content_block={"type": "text", "text": ""}),
    *[anthropic_event("content_block_delta", index=0, delta={"type": "text_delta", "text": f" word{i}"})
      for i in range(STREAM_CHUNKS)],
    anthropic_event("content_block_stop", index=0),
    anthropic_event("message_delta", delta={"stop_reason": "end_turn", "stop_sequence": None},
                    usage={"output_tokens": STREAM_CHUNKS}),
    anthropic_event("message_stop"),
])


def eventstream_frame(event_type, payload):
    """One AWS event-stream message as Bedrock's ConverseStream sends it: the prelude
    (total and headers length, its CRC-32), string headers, the JSON payload, the
    message's CRC-32."""
    headers = b""
    for name, value in ((":event-type", event_type), (":content-type", "application/json"),
                        (":message-type", "event")):
        headers += bytes([len(name)]) + name.encode() + b"\x07" + len(value).to_bytes(2, "big") + value.encode()
    body = json.dumps(payload, separators=(",", ":")).encode()
    total = 12 + len(headers) + len(body) + 4
    prelude = total.to_bytes(4, "big") + len(headers).to_bytes(4, "big")
    prelude += zlib.crc32(prelude).to_bytes(4, "big")
    message = prelude + headers + body
    return message + zlib.crc32(message).to_bytes(4, "big")


# The same words as Bedrock's ConverseStream frames, decoded by the gateway.
BEDROCK_STREAM = b"".join([
    eventstream_frame("messageStart", {"role": "assistant", "p": "abcd"}),
    *[eventstream_frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": f" word{i}"}, "p": "abcd"})
      for i in range(STREAM_CHUNKS)],
    eventstream_frame("contentBlockStop", {"contentBlockIndex": 0, "p": "abcd"}),
    eventstream_frame("messageStop", {"stopReason": "end_turn", "p": "abcd"}),
    eventstream_frame("metadata", {"usage": {"inputTokens": 9, "outputTokens": STREAM_CHUNKS,
                                             "totalTokens": 9 + STREAM_CHUNKS}, "metrics": {"latencyMs": 1}}),
])


def body(model, **extra):
    return json.dumps({"model": model, "messages": [{"role": "user", "content": "Say hello."}],
                       "temperature": 0, **extra})


@dataclass
class Route:
    """One way through to the upstream, as oha calls it."""
    name: str
    port: int
    body: str
    headers: list = field(default_factory=list)
    # The workerd process serving it (its CPU time is read around each run).
    process: str | None = None


DIRECT = Route("upstream direct (nginx)", UPSTREAM, body("m"))
JS = Route("JavaScript pass-through worker", PASSTHROUGH, body("m"), process="passthrough")
MINIMAL_GATEWAY = Route("JavaScript minimal gateway (parse, call, read, answer)", MINIMAL, body("bench"),
                        process="minimal")
ROUTED = Route("Switchyard, routed", SWITCHYARD, body("bench"), process="switchyard")
LEASED = Route("Switchyard, rpm and tpm limits (leases)", SWITCHYARD, body("bench-limited"), process="switchyard")
PARALLEL = Route("Switchyard, max_parallel_requests (slots)", SWITCHYARD, body("bench-parallel"),
                 process="switchyard")
STREAMED = Route("Switchyard, streamed", SWITCHYARD, body("bench-stream", stream=True), process="switchyard")
LONG_STREAM = Route(f"Switchyard, streamed, {STREAM_CHUNKS} chunks", SWITCHYARD,
                    body("bench-stream-long", stream=True), process="switchyard")
ANTHROPIC = Route("Switchyard, Anthropic translated", SWITCHYARD, body("bench-anthropic"), process="switchyard")
ANTHROPIC_STREAM = Route(f"Switchyard, Anthropic translated, streamed, {STREAM_CHUNKS} chunks", SWITCHYARD,
                         body("bench-anthropic-stream", stream=True), process="switchyard")
BEDROCK_STREAM_PATH = Route(f"Switchyard, Bedrock translated (SigV4, event-stream), streamed, {STREAM_CHUNKS} chunks",
                            SWITCHYARD, body("bench-bedrock-stream", stream=True), process="switchyard")
CACHE_HIT = Route("Switchyard, cache hit", CACHED, body("bench"), process="cached")
LITELLM_PATH = Route("LiteLLM proxy", LITELLM_PORT, body("bench"), ["authorization: Bearer sk-bench"])
PORTKEY_PATH = Route("Portkey gateway (Node)", PORTKEY_PORT, body("m"), [
    "x-portkey-provider: openai", f"x-portkey-custom-host: http://127.0.0.1:{UPSTREAM}/v1",
    "authorization: Bearer sk-bench"])


def write_configs():
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "static").mkdir(exist_ok=True)
    (OUT / "static/long.sse").write_text(LONG_SSE)
    (OUT / "static/anthropic.sse").write_text(ANTHROPIC_SSE)
    (OUT / "static/bedrock.eventstream").write_bytes(BEDROCK_STREAM)
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
    location /anthropic/ {{ default_type application/json; return 200 '{ANTHROPIC_MESSAGE}'; }}
    # Bodies too long for `return`: files, which nginx serves to GETs only, so a
    # POST is passed on to itself as a GET (the same hop for both long streams).
    location /sse-long/ {{ proxy_method GET; rewrite ^ /static/long.sse break; proxy_pass http://127.0.0.1:{UPSTREAM}; }}
    location /anthropic-sse/ {{
      proxy_method GET; rewrite ^ /static/anthropic.sse break; proxy_pass http://127.0.0.1:{UPSTREAM};
    }}
    location /bedrock/ {{
      proxy_method GET; rewrite ^ /static/bedrock.eventstream break; proxy_pass http://127.0.0.1:{UPSTREAM};
    }}
    location /static/ {{ root {OUT}; types {{ text/event-stream sse; application/vnd.amazon.eventstream eventstream; }} }}
    location / {{ default_type application/json; return 200 '{COMPLETION}'; }}
  }}
}}
""")
    base = f"http://127.0.0.1:{UPSTREAM}"
    # Limits far above what the machine can send, so they never refuse: `bench-limited`'s
    # rpm and tpm are held by leases (an isolate settles with the coordinator about
    # once a second), `bench-parallel`'s requests in flight by slots leased the same way.
    model_list = f"""model_list:
  - model_name: bench
    litellm_params: {{ model: openai/m, api_base: "{base}/v1", api_key: sk-bench }}
  - model_name: bench-limited
    litellm_params: {{ model: openai/m, api_base: "{base}/v1", api_key: sk-bench, rpm: 100000000, tpm: 1000000000000 }}
  - model_name: bench-parallel
    litellm_params: {{ model: openai/m, api_base: "{base}/v1", api_key: sk-bench, max_parallel_requests: 100000 }}
  - model_name: bench-stream
    litellm_params: {{ model: openai/m, api_base: "{base}/sse/v1", api_key: sk-bench }}
  - model_name: bench-stream-long
    litellm_params: {{ model: openai/m, api_base: "{base}/sse-long/v1", api_key: sk-bench }}
  - model_name: bench-anthropic
    litellm_params: {{ model: anthropic/claude-bench, api_base: "{base}/anthropic", api_key: sk-ant-bench }}
  - model_name: bench-anthropic-stream
    litellm_params: {{ model: anthropic/claude-bench, api_base: "{base}/anthropic-sse", api_key: sk-ant-bench }}
  - model_name: bench-bedrock-stream
    litellm_params: {{ model: bedrock/anthropic.claude-bench-v1:0, aws_bedrock_runtime_endpoint: "{base}/bedrock", aws_region_name: us-east-1, aws_access_key_id: AKIDBENCH, aws_secret_access_key: bench-secret }}
"""
    (OUT / "switchyard.yaml").write_text(model_list)
    (OUT / "switchyard-cached.yaml").write_text(model_list + "router_settings:\n  cache_responses: true\n")
    # LiteLLM's proxy, with the one group it is measured on.
    (OUT / "litellm.yaml").write_text(model_list.split("  - model_name: bench-limited")[0]
                                      + "litellm_settings:\n  telemetry: false\n")
    # capnp's `embed` takes paths relative to the config file.
    build = os.path.relpath(ROOT / "build", OUT)
    bench = os.path.relpath(BENCH, OUT)

    def switchyard(name, config, key):
        return f"""(name = "{name}", worker = (
      modules = [(name = "index.js", esModule = embed "{build}/index.js"),
                 (name = "index_bg.wasm", wasm = embed "{build}/index_bg.wasm")],
      compatibilityDate = "2026-04-01",
      compatibilityFlags = ["enable_request_signal"],
      bindings = [(name = "SWITCHYARD_CONFIG", text = embed "{config}"),
                  (name = "CONFIG", kvNamespace = "kv"), (name = "CACHE", kvNamespace = "kv"),
                  (name = "COORDINATOR", durableObjectNamespace = "Coordinator"),
                  (name = "JOBS", durableObjectNamespace = "Job"),
                  (name = "RESPONSES", durableObjectNamespace = "ResponseStore")],
      durableObjectNamespaces = [(className = "Coordinator", uniqueKey = "{key}-coordinator", enableSql = true),
                                 (className = "Job", uniqueKey = "{key}-job", enableSql = true),
                                 (className = "ResponseStore", uniqueKey = "{key}-responses", enableSql = true)],
      durableObjectStorage = (inMemory = void),
      globalOutbound = "loopback"))"""

    kv = f"""(name = "kv", worker = (
      modules = [(name = "kv.js", esModule = embed "{bench}/kv.js")],
      compatibilityDate = "2026-04-01"))"""
    loopback = '(name = "loopback", network = (allow = ["public", "private", "local"]))'
    def javascript(name, module):
        return f"""(name = "{name}", worker = (
      modules = [(name = "{module}", esModule = embed "{bench}/{module}")],
      compatibilityDate = "2026-04-01",
      bindings = [(name = "UPSTREAM", text = "{base}")],
      globalOutbound = "loopback"))"""

    for process, service, port in [("switchyard", switchyard("switchyard", "switchyard.yaml", "plain"), SWITCHYARD),
                                   ("cached", switchyard("cached", "switchyard-cached.yaml", "cached"), CACHED),
                                   ("passthrough", javascript("passthrough", "passthrough.js"), PASSTHROUGH),
                                   ("minimal", javascript("minimal", "minimal-gateway.js"), MINIMAL)]:
        (OUT / f"{process}.capnp").write_text(f"""using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  v8Flags = ["--trace-gc"],
  services = [{service}, {kv}, {loopback}],
  sockets = [(name = "http", address = "127.0.0.1:{port}", http = (), service = "{process}")],
);
""")


def post(path, timeout=10):
    headers = {"content-type": "application/json"}
    headers.update(h.split(": ", 1) for h in path.headers)
    request = urllib.request.Request(f"http://127.0.0.1:{path.port}/v1/chat/completions",
                                     data=path.body.encode(), headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.status, dict(response.headers), response.read()


def wait_for(path, seconds=10):
    deadline = time.time() + seconds
    while True:
        try:
            return post(path)
        except OSError as error:
            if time.time() > deadline:
                sys.exit(f"{path.name}: nothing answers on port {path.port} ({error})")
            time.sleep(0.2)


def coordinator_messages(path):
    """The messages the coordinator of the path's group took so far (from `/metrics`)."""
    group = json.loads(path.body)["model"]
    with urllib.request.urlopen(f"http://127.0.0.1:{path.port}/metrics", timeout=10) as response:
        text = response.read().decode()
    line = rf'^switchyard_coordinator_messages_total{{model_group="{re.escape(group)}"}} (\S+)$'
    found = re.search(line, text, re.M)
    return float(found[1]) if found else 0.0


def cpu_seconds(pid):
    fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def gc_events(process):
    """The garbage collections of a workerd process so far: heap MB before and
    after each, and its pause in ms (its --trace-gc lines)."""
    lines = (OUT / f"workerd-{process}.out").read_text().splitlines()
    return [(float(m[2]), float(m[3]), float(m[4])) for m in map(GC_LINE.search, lines) if m]


def oha(path, seconds, rate=None, pids=None):
    """One oha run: requests/s, latency percentiles in ms, the share of failures, and
    when the path runs in workerd: its CPU time per request, the JavaScript heap
    it allocated per request and its garbage collector's pauses."""
    command = [str(OHA), "--no-tui", "--output-format", "json", "-z", f"{seconds}s", "-m", "POST",
               "-H", "content-type: application/json", "-d", path.body,
               "-c", str(CONCURRENCY if rate is None else 64)]
    for header in path.headers:
        command += ["-H", header]
    if rate is not None:
        # Open loop: latency counted from when each request was due, not sent.
        command += ["-q", str(rate), "--latency-correction"]
    command.append(f"http://127.0.0.1:{path.port}/v1/chat/completions")
    pid = (pids or {}).get(path.process)
    cpu_before = cpu_seconds(pid) if pid else None
    gc_before = len(gc_events(path.process)) if pid else 0
    routed = path.process == "switchyard"
    messages_before = coordinator_messages(path) if routed else None
    result = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    codes = result.get("statusCodeDistribution", {})
    ok = sum(v for k, v in codes.items() if k.startswith("2"))
    total = sum(codes.values()) + sum(result.get("errorDistribution", {}).values())
    pct = result["latencyPercentiles"]
    figures = {"rps": result["summary"]["requestsPerSec"] * (ok / total if total else 0),
               "p50": (pct["p50"] or 0) * 1000, "p99": (pct["p99"] or 0) * 1000,
               "failed": 1 - ok / total if total else 1}
    if messages_before is not None and ok:
        # What the coordinator took per 1,000 requests answered: its load, which
        # bounds a group's throughput across every isolate (a few per run are the
        # isolate's counts handed over and this reading's own).
        figures["coordinator_per_1k"] = (coordinator_messages(path) - messages_before) / ok * 1000
    if cpu_before is not None and ok:
        figures["cpu_us"] = (cpu_seconds(pid) - cpu_before) / ok * 1e6
        # The heap grows only by allocation between two collections: from the size
        # one left it at to the size the next found. (The last one before the run
        # gives the first of these.)
        events = gc_events(path.process)[max(gc_before - 1, 0):]
        new = events[1:] if gc_before else events
        allocated_mb = sum(event[0] - previous[1] for previous, event in zip(events, events[1:]))
        figures["heap_kb"] = allocated_mb * 1024 / ok
        figures["gc_ms_per_s"] = sum(event[2] for event in new) / seconds
        figures["gc_max_ms"] = max((event[2] for event in new), default=0)
    return figures


def open_loop(path, rate, pids):
    """One run per rate, but the median of several longer ones at the rate the
    targets name (long enough for collections of the young generation to fall
    in them)."""
    runs = [oha(path, TARGET_SECONDS, rate, pids) for _ in range(ROUNDS)] if rate == TARGET_RATE \
        else [oha(path, SWEEP_SECONDS, rate, pids)]
    return {key: median(runs, key) for key in runs[0]}


def median(runs, key):
    values = [run[key] for run in runs if key in run]
    return statistics.median(values) if values else None


def start_litellm(workers):
    env = dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="True", LITELLM_LOG="ERROR")
    return subprocess.Popen([str(LITELLM), "--config", str(OUT / "litellm.yaml"), "--host", "127.0.0.1",
                             "--port", str(LITELLM_PORT), "--num_workers", str(workers)],
                            start_new_session=True, env=env, stdout=subprocess.DEVNULL,
                            stderr=open(OUT / f"litellm-{workers}.log", "w"))


def stop(process):
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGKILL)


def best_litellm(processes):
    """Measures LiteLLM's proxy with 1, then 2 workers (this machine's cores), one at
    a time, then starts the faster again for the rounds; returns its worker count."""
    measured = {}
    for workers in (1, 2):
        process = start_litellm(workers)
        try:
            wait_for(LITELLM_PATH, seconds=120)
            measured[workers] = oha(LITELLM_PATH, 5)["rps"]
        finally:
            stop(process)
        print(f"LiteLLM with {workers} worker(s): {measured[workers]:,.0f} requests/s", flush=True)
    best = max(measured, key=measured.get)
    processes.append(start_litellm(best))
    wait_for(LITELLM_PATH, seconds=120)
    return best



INSPECTOR = 19229


def profile():
    """Loads the routed path with the V8 inspector sampling the Switchyard isolate."""
    load = [str(OHA), "--no-tui", "-z", f"{SECONDS}s", "-c", str(CONCURRENCY), "-m", "POST",
            "-H", "content-type: application/json", "-d", ROUTED.body,
            f"http://127.0.0.1:{ROUTED.port}/v1/chat/completions"]
    subprocess.run(["node", "--experimental-websocket", "--no-warnings", str(BENCH / "profile.mjs"),
                    str(INSPECTOR), "switchyard", "--", *load], check=True)

def start_upstream():
    return subprocess.Popen([NGINX, "-c", str(OUT / "nginx.conf"), "-p", str(OUT)], start_new_session=True)


def start_workerd(process, flags=()):
    """`workerd serve` of OUT/<process>.capnp; V8's --trace-gc lines go to
    OUT/workerd-<process>.out, line-buffered so that each collection's line is in
    the file when it happens (see gc_events)."""
    return subprocess.Popen(["stdbuf", "-oL", str(WORKERD), "serve", str(OUT / f"{process}.capnp"), *flags],
                            start_new_session=True, stdout=open(OUT / f"workerd-{process}.out", "w"),
                            stderr=open(OUT / f"workerd-{process}.log", "w"))


def main():
    for tool in (WORKERD, OHA):
        if not Path(tool).exists():
            sys.exit(f"missing {tool}: run `make bench` (it installs what is missing)")
    profiling = "--profile" in sys.argv
    write_configs()
    inspector = [f"--inspector-addr=127.0.0.1:{INSPECTOR}"] if profiling else []
    processes = [start_upstream()]
    pids = {}
    for process in ("switchyard", "cached", "passthrough", "minimal"):
        processes.append(start_workerd(process, inspector if process == "switchyard" else []))
        pids[process] = processes[-1].pid
    notes = {}
    try:
        time.sleep(0.5)
        if processes[0].poll() is not None:
            sys.exit(f"nginx did not start (is port {UPSTREAM} taken?): see {OUT}/nginx-error.log")
        wait_for(DIRECT)
        status, headers, _ = wait_for(ROUTED)
        assert status == 200 and headers.get("x-litellm-model-id"), headers
        assert post(LEASED)[1].get("x-ratelimit-remaining-tokens"), "the limited group was not limited"
        assert post(PARALLEL)[0] == 200, "the group with max_parallel_requests did not answer"
        post(CACHE_HIT)
        for _ in range(50):  # the cache write lands in the background
            if post(CACHE_HIT)[1].get("x-cache") == "HIT":
                break
            time.sleep(0.05)
        else:
            sys.exit("the cached service never answered a HIT")
        wait_for(JS)
        wait_for(MINIMAL_GATEWAY)
        if profiling:
            oha(ROUTED, 3)  # warm: Wasm tiers up under load
            return profile()
        assert post(ANTHROPIC)[0] == 200, "the Anthropic group did not answer"
        status, _, answer = post(BEDROCK_STREAM_PATH)
        assert status == 200 and b" word299" in answer and b"[DONE]" in answer, f"the Bedrock stream: {answer[-300:]}"
        paths = [DIRECT, JS, MINIMAL_GATEWAY, ROUTED, LEASED, PARALLEL, STREAMED, CACHE_HIT,
                 ANTHROPIC, LONG_STREAM, ANTHROPIC_STREAM, BEDROCK_STREAM_PATH]
        if LITELLM.exists():
            notes["litellm_workers"] = best_litellm(processes)
            paths.append(LITELLM_PATH)
        if PORTKEY.exists():
            processes.append(subprocess.Popen(["node", str(PORTKEY), f"--port={PORTKEY_PORT}", "--headless"],
                                              start_new_session=True, stdout=subprocess.DEVNULL,
                                              stderr=open(OUT / "portkey.log", "w"),
                                              env=dict(os.environ, NODE_ENV="production")))
            wait_for(PORTKEY_PATH, seconds=30)
            paths.append(PORTKEY_PATH)

        rounds = []
        for number in range(ROUNDS):
            print(f"closed loop, round {number + 1} of {ROUNDS}", flush=True)
            rounds.append({p.name: oha(p, SECONDS, pids=pids) for p in paths})
            for name, figures in rounds[-1].items():
                print(f"  {name}: {figures}", flush=True)
        sweep = {}
        for p in paths:
            capacity = median([r[p.name] for r in rounds], "rps")
            # Past its capacity a path only queues: its latency grows with the run's length.
            rates = [rate for rate in SWEEP_RATES if rate <= capacity]
            print(f"open loop, {p.name}: {rates}", flush=True)
            sweep[p.name] = {rate: open_loop(p, rate, pids) for rate in rates}
    finally:
        for process in processes:
            stop(process)
    results = {"date": str(date.today()), "machine": f"{platform.machine()} ({os.cpu_count()} cores)",
               "notes": notes, "rounds": rounds, "sweep": sweep}
    (BENCH / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    plot(sweep)
    write_report(results)


def plot(sweep):
    try:
        import matplotlib
    except ImportError:
        print("matplotlib is missing (make bench installs it into bench/.venv): no plot")
        return
    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(1, 2, figsize=(12, 4.5))
    for name, runs in sweep.items():
        rates = sorted(runs)
        for axis, key in zip(axes, ("p50", "p99")):
            axis.plot(rates, [runs[r][key] for r in rates], marker="o", label=name)
    for axis, key in zip(axes, ("p50", "p99")):
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("offered load, requests/s (open loop)")
        axis.set_ylabel(f"{key} latency, ms")
        axis.grid(True, which="both", alpha=0.3)
    axes[1].legend(fontsize=7)
    figure.suptitle("Latency against offered load, each path up to its closed-loop capacity")
    figure.tight_layout()
    figure.savefig(BENCH / "latency.png", dpi=110)


def write_report(results):
    rounds, sweep = results["rounds"], results["sweep"]
    names = list(rounds[0])
    wasm = (ROOT / "build/index_bg.wasm").read_bytes()

    def ratio(name, base):
        return statistics.median(r[name]["rps"] / max(r[base]["rps"], 1e-9) for r in rounds)

    def cell(value, fmt):
        return "" if value is None else format(value, fmt)

    js = JS.name
    rows = "\n".join(
        f"| {n} | {median([r[n] for r in rounds], 'rps'):,.0f} | {ratio(n, js):.2f}x"
        f" | {median([r[n] for r in rounds], 'p50'):.2f} | {median([r[n] for r in rounds], 'p99'):.2f}"
        f" | {cell(median([r[n] for r in rounds], 'cpu_us'), ',.0f')}"
        f" | {cell(median([r[n] for r in rounds], 'heap_kb'), '.1f')}"
        f" | {cell(median([r[n] for r in rounds], 'gc_ms_per_s'), '.0f')}"
        f" | {cell(median([r[n] for r in rounds], 'coordinator_per_1k'), '.1f')} |"
        for n in names)
    direct = sweep[DIRECT.name].get(TARGET_RATE)
    open_rows = "\n".join(
        f"| {n} | {runs[TARGET_RATE]['p50']:.2f} | {runs[TARGET_RATE]['p99']:.2f}"
        f" | {runs[TARGET_RATE]['p99'] - direct['p99']:+.2f} | {cell(runs[TARGET_RATE].get('gc_max_ms'), '.0f')} |"
        for n, runs in sweep.items() if TARGET_RATE in runs and direct)
    comparisons = "\n".join(
        [f"| {ROUTED.name} over {other} | {ratio(ROUTED.name, other):.1f}x |"
         for other in (MINIMAL_GATEWAY.name, LITELLM_PATH.name, PORTKEY_PATH.name) if other in names]
        + [f"| {PARALLEL.name} over {ROUTED.name} | {ratio(PARALLEL.name, ROUTED.name):.2f}x |"]
        + [f"| {translated} over {plain} | {ratio(translated, plain):.2f}x |"
           for translated, plain in ((ANTHROPIC.name, ROUTED.name), (ANTHROPIC_STREAM.name, LONG_STREAM.name),
                                     (BEDROCK_STREAM_PATH.name, LONG_STREAM.name))
           if translated in names])
    per_chunk = "\n".join(
        f"| {n} | {median([r[n] for r in rounds], 'cpu_us') / STREAM_CHUNKS:.2f} |"
        for n in (LONG_STREAM.name, ANTHROPIC_STREAM.name, BEDROCK_STREAM_PATH.name)
        if n in names and median([r[n] for r in rounds], 'cpu_us') is not None)
    litellm = results["notes"].get("litellm_workers")
    section = f"""<!-- bench:start -->
## End to end under workerd (`make bench`)

Measured {results['date']} on {results['machine']}, `workerd serve` directly (not
`wrangler dev`), nginx as a zero-latency upstream and oha as the load, all on the same
machine. Closed loop: {ROUNDS} rounds of {SECONDS} s per path at {CONCURRENCY} connections,
medians, ratios taken round by round. Each Worker runs in a workerd process of its
own; CPU is that process's user and system time per request (the runtime's HTTP
handling and the in-memory KV included). JS heap is what the isolate allocated
per request and GC the main thread's pauses for garbage collection, both from V8's
`--trace-gc` lines. Coordinator messages: what the group's coordinator took per 1,000
requests answered (`switchyard_coordinator_messages_total`), the load that bounds a
group's throughput whatever the number of isolates. Wasm: {len(wasm):,} bytes raw,
{len(gzip.compress(wasm, 9)):,} gzipped.{f" LiteLLM 1.82.6 runs with {litellm} worker(s), its best here." if litellm else ""}

| path | requests/s | vs JS pass-through | p50 ms | p99 ms | CPU µs/request | JS heap KB/request | GC ms/s | coordinator messages per 1,000 |
|---|---|---|---|---|---|---|---|---|
{rows}

{"| comparison | requests/s ratio |" + chr(10) + "|---|---|" + chr(10) + comparisons if comparisons else ""}

{f"CPU per chunk of the {STREAM_CHUNKS}-chunk streams (the request's whole CPU over its chunks):" + chr(10) + chr(10) + "| path | CPU µs per chunk |" + chr(10) + "|---|---|" + chr(10) + per_chunk if per_chunk else ""}

Open loop at {TARGET_RATE} requests/s (medians of {ROUNDS} runs of {TARGET_SECONDS} s, latency
counted from when each request was due; the other rates of the plot, one run of
{SWEEP_SECONDS} s each), with the longest garbage-collection pause in a run:

| path | p50 ms | p99 ms | p99 added over direct | longest GC pause ms |
|---|---|---|---|---|
{open_rows}

![latency against offered load](bench/latency.png)

Raw figures of every run: `bench/results.json`.
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
