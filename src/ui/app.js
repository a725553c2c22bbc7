// Switchyard's live page: polls /ui/state every 2 s and draws every group.
//
// The DOM is built with createElement and textContent only, never innerHTML: the
// names shown come from the config and must never be read as markup. The master
// key lives in sessionStorage (gone with the tab) and goes as a bearer token, to
// this origin only. Every value shown also sits in a data-* attribute, for tests.

const POLL_MS = 2_000;
const KEY = "switchyard.masterKey";
/** Polls kept for the sparklines: a minute. */
const HISTORY = 30;
const SVG = "http://www.w3.org/2000/svg";

const $ = (id) => document.getElementById(id);
/** Recent values by series name ("<group>/<deployment>/latency", "<group>/rate"). */
const series = new Map();
/** The previous state, for request rates. */
let previous = null;
let timer = null;
/** Bumped when the key changes: a poll begun under another key is dropped. */
let epoch = 0;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined) continue;
    if (name === "class") node.className = value;
    else node.setAttribute(name, String(value));
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

const dash = "\u2013";
const ms = (value) =>
  value === null || value === undefined
    ? dash
    : value < 1_000
      ? `${Math.round(value)} ms`
      : `${(value / 1_000).toFixed(1)} s`;
const count = (value) =>
  value >= 10_000 ? `${(value / 1_000).toFixed(value >= 100_000 ? 0 : 1)}k` : String(value);

/** Appends `value` to a series, keeping the last HISTORY. */
function remember(name, value) {
  const values = series.get(name) ?? [];
  values.push(value);
  if (values.length > HISTORY) values.shift();
  series.set(name, values);
  return values;
}

/** A sparkline of the series' non-null values, scaled to its maximum. */
function sparkline(values, label) {
  const points = values.filter((v) => typeof v === "number" && Number.isFinite(v));
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("viewBox", "0 0 60 18");
  svg.setAttribute("width", "60");
  svg.setAttribute("height", "18");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  if (points.length < 2) return svg;
  const max = Math.max(...points) || 1;
  const step = 60 / (HISTORY - 1);
  const start = 60 - step * (points.length - 1);
  const line = document.createElementNS(SVG, "polyline");
  line.setAttribute(
    "points",
    points.map((v, i) => `${(start + i * step).toFixed(1)},${(17 - (v / max) * 16).toFixed(1)}`).join(" "),
  );
  svg.append(line);
  return svg;
}

/** Used against its limit this minute; "no limit" when there is none. */
function bar(window, field) {
  if (!window) return el("td", { "data-field": field, class: "none" }, "no limit");
  const share = window.limit > 0 ? Math.min(1, window.used / window.limit) : 1;
  const fill = el("div", { class: "fill" });
  // CSSOM, not a style attribute: the content security policy forbids those.
  fill.style.width = `${(share * 100).toFixed(1)}%`;
  const level = share >= 0.9 ? "high" : share >= 0.6 ? "mid" : "low";
  return el(
    "td",
    { "data-field": field, "data-used": window.used, "data-limit": window.limit },
    el("div", { class: `bar ${level}`, title: `${window.used} of ${window.limit} this minute` }, fill),
    el("span", { class: "bar-text" }, `${count(window.used)} / ${count(window.limit)}`),
  );
}

function badge(d) {
  const text =
    d.state === "cooling" && typeof d.cooling_left_ms === "number"
      ? `cooling ${Math.ceil(d.cooling_left_ms / 1_000)} s`
      : d.state;
  return el("span", { class: `badge ${d.state}`, "data-field": "state" }, text);
}

function failures(byClass) {
  const entries = Object.entries(byClass ?? {}).filter(([, n]) => n > 0);
  entries.sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  if (!entries.length) return el("td", { "data-field": "failures", class: "none" }, "none");
  return el(
    "td",
    { "data-field": "failures" },
    ...entries.map(([name, n]) => el("span", { class: "failure", "data-class": name, "data-count": n }, `${name} ${n}`)),
  );
}

function deploymentRow(group, d) {
  const latency = remember(`${group}/${d.id}/latency`, d.latency_ms);
  return el(
    "tr",
    { "data-deployment": d.id, "data-state": d.state, "data-cooling-left-ms": d.cooling_left_ms },
    el("th", { scope: "row", title: d.id }, el("span", { class: "id" }, d.id), el("small", {}, `${d.provider} \u00b7 ${d.model}`)),
    el("td", {}, badge(d)),
    bar(d.rpm, "rpm"),
    bar(d.tpm, "tpm"),
    el("td", { "data-field": "in_flight", class: "num" }, String(d.in_flight)),
    el(
      "td",
      { "data-field": "latency", "data-ms": d.latency_ms, class: "num" },
      sparkline(latency, `latency of ${d.id}, last minute`),
      el("span", {}, ms(d.latency_ms)),
    ),
    el("td", { "data-field": "ttft", "data-ms": d.ttft_ms, class: "num" }, ms(d.ttft_ms)),
    el(
      "td",
      { "data-field": "requests", "data-requests": d.requests, "data-successes": d.successes, class: "num" },
      `${count(d.successes)} / ${count(d.requests)}`,
    ),
    failures(d.failures),
  );
}

function queue(q) {
  const priorities = Object.entries(q.by_priority ?? {}).sort((a, b) => Number(a[0]) - Number(b[0]));
  return el(
    "div",
    {
      class: "queue",
      "data-field": "queue",
      "data-depth": q.depth,
      "data-oldest-wait-ms": q.oldest_wait_ms,
      "data-admitted": q.admitted,
      "data-expired": q.expired,
    },
    el("span", { class: "label" }, "queue"),
    el("span", {}, `depth ${q.depth}`),
    priorities.length
      ? el(
          "span",
          {},
          ...priorities.map(([p, n]) => el("span", { class: "chip", "data-priority": p, "data-count": n }, `p${p}: ${n}`)),
        )
      : null,
    el("span", {}, `oldest wait ${q.depth > 0 ? ms(q.oldest_wait_ms) : dash}`),
    el("span", {}, `admitted ${q.admitted}`),
    el("span", {}, `expired ${q.expired}`),
  );
}

function cache(c) {
  const total = c.hits + c.misses;
  const rate = total > 0 ? c.hits / total : null;
  return el(
    "div",
    { class: "stat", "data-field": "cache", "data-hits": c.hits, "data-misses": c.misses, "data-hit-rate": rate },
    el("span", { class: "label" }, "cache hit rate"),
    // One decimal under 10%: a few hits among many misses are not "0%".
    rate === null ? dash : `${(rate * 100).toFixed(rate < 0.1 ? 1 : 0)}% (${c.hits} of ${total})`,
  );
}

/** Requests per second since the previous poll, over the group's deployments. */
function rate(group, timeMs) {
  const before = previous?.groups.find((g) => g.name === group.name);
  if (!before || timeMs <= previous.time_ms) return null;
  const sum = (g) => g.deployments.reduce((n, d) => n + d.requests, 0);
  return Math.max(0, sum(group) - sum(before)) / ((timeMs - previous.time_ms) / 1_000);
}

function groupSection(g, timeMs) {
  const perSecond = rate(g, timeMs);
  const rates = remember(`${g.name}/rate`, perSecond);
  return el(
    "section",
    { class: "group", "data-group": g.name },
    el(
      "div",
      { class: "group-head" },
      el("h2", {}, g.name),
      el("span", { class: "strategy" }, g.strategy),
      el(
        "div",
        { class: "stat", "data-field": "rate", "data-per-second": perSecond },
        el("span", { class: "label" }, "req/s"),
        sparkline(rates, `requests per second to ${g.name}, last minute`),
        perSecond === null ? dash : perSecond.toFixed(1),
      ),
      cache(g.cache),
    ),
    queue(g.queue),
    el(
      "table",
      {},
      el(
        "thead",
        {},
        el(
          "tr",
          {},
          ...["deployment", "state", "rpm", "tpm", "in flight", "latency", "TTFT", "ok / requests", "failures (5 min)"].map(
            (h) => el("th", { scope: "col" }, h),
          ),
        ),
      ),
      el("tbody", {}, ...g.deployments.map((d) => deploymentRow(g.name, d))),
    ),
  );
}

function render(state) {
  const sections = state.groups.map((g) => groupSection(g, state.time_ms));
  $("groups").replaceChildren(...(sections.length ? sections : [el("p", {}, "No model groups in the config.")]));
  $("updated").textContent = `as of ${new Date(state.time_ms).toLocaleTimeString()}`;
  previous = state;
  document.body.dataset.updates = String(Number(document.body.dataset.updates ?? 0) + 1);
}

function setStatus(kind, text) {
  document.body.dataset.status = kind;
  $("status").textContent = text;
  $("forget").hidden = !sessionStorage.getItem(KEY);
}

/** Shows the key form; polling waits for it. */
function askKey(message) {
  clearTimeout(timer);
  epoch += 1;
  $("groups").replaceChildren();
  previous = null;
  series.clear();
  $("login").hidden = false;
  $("login-error").textContent = message;
  setStatus("login", "master key needed");
  $("key").focus();
}

async function poll() {
  const key = sessionStorage.getItem(KEY);
  const mine = epoch;
  try {
    const response = await fetch("/ui/state", {
      headers: key ? { authorization: `Bearer ${key}` } : {},
      cache: "no-store",
    });
    const state = response.ok ? await response.json() : null;
    if (mine !== epoch) return;
    if (response.status === 401) {
      sessionStorage.removeItem(KEY);
      askKey(key ? "That key was refused." : "");
      return;
    }
    if (!response.ok) throw new Error(`/ui/state answered ${response.status}`);
    render(state);
    setStatus("live", "live");
  } catch (error) {
    if (mine !== epoch) return;
    // Keep what was last shown; say it is stale.
    setStatus("error", `${error.message ?? error}; retrying`);
  }
  document.body.dataset.polls = String(Number(document.body.dataset.polls) + 1);
  timer = setTimeout(poll, POLL_MS);
}

$("login").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(KEY, $("key").value.trim());
  $("key").value = "";
  $("login").hidden = true;
  setStatus("loading", "connecting");
  clearTimeout(timer);
  epoch += 1;
  poll();
});

$("forget").addEventListener("click", () => {
  sessionStorage.removeItem(KEY);
  askKey("");
});

poll();
