// A strict Langfuse public API for `POST /api/public/ingestion`, as its OpenAPI
// definition (fern `ingestion.yml`) sets it: Basic auth with the project's public
// key as user and secret key as password (else 401), a JSON body `{batch: [...]}`
// (else 400), each event an envelope `{id, timestamp, type, body}` whose type is one
// of the union's and whose body has that type's fields with their types. As the
// real API does, a well-formed request answers 207 with `{successes, errors}`,
// events it cannot take listed in `errors` with a 400, not as a 4xx of the request.
//
//   const sink = await startLangfuseSink({ publicKey, secretKey });  sink.url is LANGFUSE_HOST
//   sink.events()  every accepted event; sink.mode("slow" | "fail" | "ok"); received, refused
import { refuse, startSink, text } from "./server.mjs";

const EVENT_TYPES = new Set([
  "trace-create", "score-create", "span-create", "span-update", "generation-create",
  "generation-update", "event-create", "sdk-log", "observation-create", "observation-update",
]);
const LEVELS = new Set(["DEBUG", "DEFAULT", "WARNING", "ERROR"]);
// ISO 8601 with a time zone, as Langfuse's datetime fields are parsed.
const datetime = (v) => typeof v === "string" && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(v) && !Number.isNaN(Date.parse(v));
const optional = (check) => (v) => v === undefined || v === null || check(v);
const string = (v) => typeof v === "string";
const integerMap = (v) => v !== null && typeof v === "object" && !Array.isArray(v) && Object.values(v).every(Number.isInteger);
const numberMap = (v) => v !== null && typeof v === "object" && !Array.isArray(v) && Object.values(v).every((n) => typeof n === "number");
const any = () => true;

// The fields of each body type this mock knows (the union's others are refused as unknown here).
const TRACE = {
  id: optional(string), timestamp: optional(datetime), name: optional(string), userId: optional(string),
  input: any, output: any, sessionId: optional(string), release: optional(string), version: optional(string),
  metadata: any, tags: optional((v) => Array.isArray(v) && v.every(string)), environment: optional(string),
  public: optional((v) => typeof v === "boolean"),
};
const OBSERVATION = {
  id: optional(string), traceId: optional(string), name: optional(string), startTime: optional(datetime),
  endTime: optional(datetime), metadata: any, input: any, output: any, level: optional((v) => LEVELS.has(v)),
  statusMessage: optional(string), parentObservationId: optional(string), version: optional(string), environment: optional(string),
};
const GENERATION = {
  ...OBSERVATION, completionStartTime: optional(datetime), model: optional(string), modelParameters: any,
  usage: any, usageDetails: optional(integerMap), costDetails: optional(numberMap), promptName: optional(string),
  promptVersion: optional(Number.isInteger),
};
const BODIES = { "trace-create": TRACE, "span-create": OBSERVATION, "generation-create": GENERATION };

/** Why `event` cannot be ingested, or null. */
export function eventProblem(event) {
  if (!text(event?.id)) return "event id must be a string";
  if (!datetime(event.timestamp)) return `event timestamp must be ISO 8601: ${event.timestamp}`;
  if (!EVENT_TYPES.has(event.type)) return `unknown event type ${event.type}`;
  const fields = BODIES[event.type];
  if (!fields) return `this mock does not take ${event.type}`;
  if (event.body === null || typeof event.body !== "object" || Array.isArray(event.body)) return "body must be an object";
  for (const [key, value] of Object.entries(event.body)) {
    if (!(key in fields)) return `${event.type} body has no field ${key}`;
    if (!fields[key](value)) return `${event.type} body.${key} has the wrong type: ${JSON.stringify(value)}`;
  }
  return null;
}

export async function startLangfuseSink({ publicKey, secretKey }) {
  const expected = `Basic ${Buffer.from(`${publicKey}:${secretKey}`).toString("base64")}`;
  const sink = await startSink(({ method, path, headers, body }) => {
    if (method !== "POST" || path !== "/api/public/ingestion") return refuse(404, `no ${method} ${path}`);
    if (headers.authorization !== expected) return refuse(401, "Invalid credentials. Confirm that you've configured the correct host.");
    if (!(headers["content-type"] ?? "").startsWith("application/json")) return refuse(400, "content-type must be application/json");
    let parsed;
    try {
      parsed = JSON.parse(body.toString("utf8"));
    } catch {
      return refuse(400, "Invalid request data");
    }
    if (!Array.isArray(parsed?.batch)) return refuse(400, "Invalid request data: batch must be a list");
    const successes = [];
    const errors = [];
    for (const event of parsed.batch) {
      const problem = eventProblem(event);
      if (problem) errors.push({ id: String(event?.id ?? ""), status: 400, message: "Invalid request data", error: problem });
      else successes.push({ id: event.id, status: 201 });
    }
    return { status: 207, body: { successes, errors }, accepted: parsed };
  });
  return {
    ...sink,
    get received() {
      return sink.received;
    },
    get refused() {
      return sink.refused;
    },
    /** Every event of every accepted request that the mock ingested (none it listed in errors). */
    events() {
      return sink.received
        .filter((r) => r.json)
        .flatMap((r) => r.json.batch.filter((event) => !eventProblem(event)));
    },
    /** Every event it listed in `errors`, with why. */
    rejectedEvents() {
      return sink.received.filter((r) => r.json).flatMap((r) => r.answer.errors);
    },
  };
}
