// A strict OTLP/HTTP collector for traces with the JSON encoding, as the
// OpenTelemetry protocol specification sets it: `POST /v1/traces`,
// `content-type: application/json`, an `ExportTraceServiceRequest` whose ids are
// lowercase hex (32 digits for a trace, 16 for a span), times decimal strings of
// nanoseconds, `kind` and `status.code` enum integers, attribute values `AnyValue`s
// (64-bit integers as decimal strings). Anything else is a 400, as a collector
// answers a body it cannot decode. A good export answers 200 `{}` (an
// `ExportTraceServiceResponse` with nothing rejected).
//
//   const sink = await startOtelSink();  sink.url is the OTEL_EXPORTER_OTLP_ENDPOINT
//   sink.spans()  every accepted span, each with its resource's service.name
//   await sink.rootsOf(ids)  the root spans of those requests, by id, once all came
//   sink.mode("slow" | "fail" | "ok"), sink.received, sink.refused, reset(), close()
import { refuse, startSink, text } from "./server.mjs";

const SPAN_KINDS = new Set([0, 1, 2, 3, 4, 5]);
const STATUS_CODES = new Set([0, 1, 2]);
const hex = (length) => (value) => typeof value === "string" && value.length === length && /^[0-9a-f]+$/.test(value) && /[1-9a-f]/.test(value);
const traceId = hex(32);
const spanId = hex(16);
const nanos = (value) => typeof value === "string" && /^\d+$/.test(value);

/** Why `value` is not an OTLP `AnyValue`, or null. */
function anyValueProblem(value) {
  if (value === null || typeof value !== "object") return "not an AnyValue object";
  const keys = Object.keys(value);
  if (keys.length !== 1) return `an AnyValue has one field, got ${keys.join(",")}`;
  const [key] = keys;
  const v = value[key];
  switch (key) {
    case "stringValue":
      return typeof v === "string" ? null : "stringValue must be a string";
    case "boolValue":
      return typeof v === "boolean" ? null : "boolValue must be a boolean";
    case "intValue":
      return (typeof v === "string" && /^-?\d+$/.test(v)) || Number.isInteger(v) ? null : "intValue must be an integer";
    case "doubleValue":
      return typeof v === "number" ? null : "doubleValue must be a number";
    case "arrayValue":
      return Array.isArray(v?.values) ? v.values.map(anyValueProblem).find(Boolean) ?? null : "arrayValue.values must be a list";
    case "kvlistValue":
      return Array.isArray(v?.values) ? attributesProblem(v.values) : "kvlistValue.values must be a list";
    default:
      return `unknown AnyValue field ${key}`;
  }
}

function attributesProblem(attributes) {
  if (attributes === undefined) return null;
  if (!Array.isArray(attributes)) return "attributes must be a list";
  for (const a of attributes) {
    if (!text(a?.key)) return "an attribute needs a key";
    const problem = anyValueProblem(a.value);
    if (problem) return `attribute ${a.key}: ${problem}`;
  }
  return null;
}

function spanProblem(span) {
  if (!traceId(span.traceId)) return `traceId must be 32 lowercase hex digits, not all zero: ${span.traceId}`;
  if (!spanId(span.spanId)) return `spanId must be 16 lowercase hex digits, not all zero: ${span.spanId}`;
  if (span.parentSpanId !== undefined && span.parentSpanId !== "" && !spanId(span.parentSpanId)) return `bad parentSpanId ${span.parentSpanId}`;
  if (!text(span.name)) return "a span needs a name";
  if (span.kind !== undefined && !SPAN_KINDS.has(span.kind)) return `kind must be a SpanKind integer, got ${JSON.stringify(span.kind)}`;
  if (!nanos(span.startTimeUnixNano) || !nanos(span.endTimeUnixNano)) return "times must be decimal strings of nanoseconds";
  if (BigInt(span.endTimeUnixNano) < BigInt(span.startTimeUnixNano)) return "a span ends before it starts";
  if (span.status !== undefined) {
    if (span.status.code !== undefined && !STATUS_CODES.has(span.status.code)) return `status.code must be a StatusCode integer, got ${JSON.stringify(span.status.code)}`;
    if (span.status.message !== undefined && typeof span.status.message !== "string") return "status.message must be a string";
  }
  return attributesProblem(span.attributes);
}

/** Why `body` is not an ExportTraceServiceRequest, or null. */
export function exportProblem(body) {
  if (!Array.isArray(body?.resourceSpans)) return "resourceSpans must be a list";
  for (const rs of body.resourceSpans) {
    const problem = attributesProblem(rs.resource?.attributes);
    if (problem) return `resource: ${problem}`;
    if (!Array.isArray(rs.scopeSpans)) return "scopeSpans must be a list";
    for (const ss of rs.scopeSpans) {
      if (ss.scope !== undefined && ss.scope.name !== undefined && typeof ss.scope.name !== "string") return "scope.name must be a string";
      if (!Array.isArray(ss.spans)) return "spans must be a list";
      for (const span of ss.spans) {
        const problem = spanProblem(span);
        if (problem) return problem;
      }
    }
  }
  return null;
}

export async function startOtelSink() {
  const sink = await startSink(({ method, path, headers, body }) => {
    if (method !== "POST" || path !== "/v1/traces") return refuse(404, `no ${method} ${path}`);
    if (!(headers["content-type"] ?? "").startsWith("application/json")) return refuse(415, "content-type must be application/json");
    let parsed;
    try {
      parsed = JSON.parse(body.toString("utf8"));
    } catch {
      return refuse(400, "body is not JSON");
    }
    const problem = exportProblem(parsed);
    if (problem) return refuse(400, problem);
    return { status: 200, body: {}, accepted: parsed };
  });
  return {
    ...sink,
    get received() {
      return sink.received;
    },
    get refused() {
      return sink.refused;
    },
    /** Every accepted span, flattened, with `service` (its resource's service.name) and `attrs` (key to plain value). */
    spans() {
      return sink.received
        .filter((r) => r.json)
        .flatMap((r) => r.json.resourceSpans)
        .flatMap((rs) => {
          const service = rs.resource?.attributes?.find((a) => a.key === "service.name")?.value?.stringValue;
          return rs.scopeSpans.flatMap((ss) => ss.spans.map((span) => ({ ...span, service, attrs: plain(span.attributes) })));
        });
    },
    /** The root spans of the requests `ids` (`switchyard.request_id`), by id, once all came (10 s at most). */
    async rootsOf(ids) {
      const end = Date.now() + 10_000;
      for (;;) {
        const roots = new Map(
          this.spans()
            .filter((s) => !s.parentSpanId)
            .map((s) => [s.attrs["switchyard.request_id"], s]),
        );
        if (ids.every((id) => roots.has(id))) return roots;
        if (Date.now() > end) throw new Error(`records of ${ids.filter((id) => !roots.has(id))} not received`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
  };
}

/** Attributes as `{key: value}` with AnyValues unwrapped (intValue as a Number). */
export function plain(attributes = []) {
  return Object.fromEntries(
    attributes.map(({ key, value }) => {
      const [kind, v] = Object.entries(value)[0];
      return [key, kind === "intValue" ? Number(v) : v];
    }),
  );
}
