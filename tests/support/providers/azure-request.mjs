// The checks Azure OpenAI runs on a request body, with its messages: an argument it
// does not know is "Unrecognized request argument supplied: <name>" (Azure's own words);
// the rest are OpenAI's validator's, which Azure passes on ({ message, type:
// "invalid_request_error", param, code }): a missing, mistyped or out-of-range parameter,
// an unknown role or content part, a `tool` message that answers no `tool_calls`, an
// assistant's `tool_calls` left unanswered, stream_options without stream, a tool name
// off its pattern. `checkBody(operation, body, { v1 })` throws `Rejected` with the error.

export class Rejected extends Error {
  constructor(message, param = null, code = null) {
    super(message);
    this.param = param;
    this.code = code;
  }
}

const reject = (message, param, code) => {
  throw new Rejected(message, param, code);
};
const isObject = (value) => value !== null && typeof value === "object" && !Array.isArray(value);
const typeName = (value) => (value === null ? "null" : Array.isArray(value) ? "an array" : typeof value === "object" ? "an object" : `a ${typeof value}`);
const listed = (values) => `${values.slice(0, -1).map((v) => `'${v}'`).join(", ")}, and '${values.at(-1)}'`;

const missing = (param) => reject(`Missing required parameter: '${param}'.`, param, "missing_required_parameter");
const wrongType = (param, expected, value) => reject(`Invalid type for '${param}': expected ${expected}, but got ${typeName(value)} instead.`, param, "invalid_type");
const badValue = (param, value, supported) => reject(`Invalid value: '${value}'. Supported values are: ${listed(supported)}.`, param, "invalid_value");

function numberIn(body, param, { min, max, integer = false }) {
  const value = body[param];
  if (value === undefined || value === null) return;
  if (typeof value !== "number" || (integer && !Number.isInteger(value))) wrongType(param, integer ? "an integer" : "a decimal", value);
  const kind = integer ? "integer" : "decimal";
  if (min !== undefined && value < min) reject(`Invalid '${param}': ${kind} below minimum value. Expected a value >= ${min}, but got ${value} instead.`, param, `${kind}_below_min_value`);
  if (max !== undefined && value > max) reject(`Invalid '${param}': ${kind} above maximum value. Expected a value <= ${max}, but got ${value} instead.`, param, `${kind}_above_max_value`);
}

function booleanIn(body, param) {
  if (body[param] !== undefined && body[param] !== null && typeof body[param] !== "boolean") wrongType(param, "a boolean", body[param]);
}

const COMMON = ["model", "stream", "stream_options", "temperature", "top_p", "n", "max_tokens", "stop", "presence_penalty", "frequency_penalty", "logit_bias", "logprobs", "user", "seed"];
const KNOWN = {
  chat: [...COMMON, "messages", "max_completion_tokens", "top_logprobs", "response_format", "tools", "tool_choice", "parallel_tool_calls", "functions", "function_call", "reasoning_effort", "modalities", "audio", "prediction", "store", "metadata", "service_tier", "verbosity", "prompt_cache_key", "safety_identifier", "data_sources", "user_security_context"],
  completions: [...COMMON, "prompt", "echo", "best_of", "suffix"],
  embeddings: ["model", "input", "encoding_format", "dimensions", "user", "input_type"],
};

const ROLES = ["system", "assistant", "user", "function", "tool", "developer"];
const PARTS = ["text", "image_url", "input_audio", "refusal", "audio", "file"];

function checkMessages(messages) {
  if (messages === undefined) missing("messages");
  if (!Array.isArray(messages)) wrongType("messages", "an array", messages);
  if (messages.length === 0) reject("Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.", "messages", "empty_array");
  for (const [i, message] of messages.entries()) {
    const at = `messages[${i}]`;
    if (!isObject(message)) wrongType(at, "an object", message);
    if (message.role === undefined) missing(`${at}.role`);
    if (!ROLES.includes(message.role)) badValue(`${at}.role`, message.role, ROLES);
    const content = message.content;
    const contentOptional = message.role === "assistant" && (message.tool_calls || message.function_call);
    if (content === undefined && !contentOptional) missing(`${at}.content`);
    if (content !== undefined && content !== null && typeof content !== "string") {
      if (!Array.isArray(content)) wrongType(`${at}.content`, "one of a string or array of objects", content);
      for (const [j, part] of content.entries()) {
        if (!isObject(part)) wrongType(`${at}.content[${j}]`, "an object", part);
        if (part.type === undefined) missing(`${at}.content[${j}].type`);
        if (!PARTS.includes(part.type)) badValue(`${at}.content[${j}].type`, part.type, PARTS);
      }
    }
    if (message.role === "tool" && typeof message.tool_call_id !== "string") missing(`${at}.tool_call_id`);
  }
  checkToolTurns(messages);
}

/** A tool message answers a preceding assistant's tool_calls, and every call is answered. */
function checkToolTurns(messages) {
  let pending = null; // { index, ids } of the last assistant's unanswered calls
  for (const [i, message] of messages.entries()) {
    if (message.role === "tool") {
      if (!pending || !pending.ids.has(message.tool_call_id)) {
        reject("Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.", `messages.[${i}].role`);
      }
      pending.ids.delete(message.tool_call_id);
      continue;
    }
    if (pending && pending.ids.size > 0) {
      reject(`An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${[...pending.ids].join(", ")}`, `messages.[${pending.index}].role`);
    }
    pending = message.role === "assistant" && Array.isArray(message.tool_calls) ? { index: i, ids: new Set(message.tool_calls.map((call) => call?.id)) } : null;
  }
  if (pending && pending.ids.size > 0) {
    reject(`An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${[...pending.ids].join(", ")}`, `messages.[${pending.index}].role`);
  }
}

function checkTools(body) {
  if (body.tools !== undefined) {
    if (!Array.isArray(body.tools)) wrongType("tools", "an array", body.tools);
    for (const [i, tool] of body.tools.entries()) {
      if (!isObject(tool)) wrongType(`tools[${i}]`, "an object", tool);
      if (tool.type === undefined) missing(`tools[${i}].type`);
      if (tool.type !== "function") badValue(`tools[${i}].type`, tool.type, ["function", "custom"]);
      if (!isObject(tool.function)) missing(`tools[${i}].function`);
      const name = tool.function.name;
      if (typeof name !== "string") missing(`tools[${i}].function.name`);
      if (!/^[a-zA-Z0-9_-]{1,64}$/.test(name)) {
        reject(`Invalid 'tools[${i}].function.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.`, `tools[${i}].function.name`, "invalid_value");
      }
    }
  }
  const choice = body.tool_choice;
  if (choice === undefined || choice === null) return;
  if (typeof choice === "string") {
    if (!["none", "auto", "required"].includes(choice)) badValue("tool_choice", choice, ["none", "auto", "required"]);
    return;
  }
  if (!isObject(choice)) wrongType("tool_choice", "an object", choice);
  if (choice.type !== "function") badValue("tool_choice.type", choice.type, ["function"]);
  if (typeof choice.function?.name !== "string") missing("tool_choice.function.name");
}

/**
 * Throws `Rejected` unless `body` is a request Azure accepts for `operation` ("chat",
 * "completions", "embeddings"); on the v1 path the body names the deployment as `model`.
 */
export function checkBody(operation, body, { v1 }) {
  if (!isObject(body)) wrongType("body", "an object", body);
  for (const key of Object.keys(body)) {
    if (!KNOWN[operation].includes(key)) reject(`Unrecognized request argument supplied: ${key}`);
  }
  if (v1 && body.model === undefined) reject("you must provide a model parameter");
  if (body.model !== undefined && typeof body.model !== "string") wrongType("model", "a string", body.model);
  if (operation === "embeddings") {
    if (body.input === undefined) missing("input");
    if (typeof body.input !== "string" && !Array.isArray(body.input)) wrongType("input", "one of a string or array", body.input);
    return;
  }
  if (operation === "chat") checkMessages(body.messages);
  if (operation === "completions") {
    if (body.prompt === undefined) missing("prompt");
    if (typeof body.prompt !== "string" && !Array.isArray(body.prompt)) wrongType("prompt", "one of a string or array", body.prompt);
  }
  booleanIn(body, "stream");
  if (body.stream_options !== undefined && body.stream_options !== null) {
    if (body.stream !== true) reject("The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options");
    if (!isObject(body.stream_options)) wrongType("stream_options", "an object", body.stream_options);
    const include = body.stream_options.include_usage;
    if (include !== undefined && include !== null && typeof include !== "boolean") wrongType("stream_options.include_usage", "a boolean", include);
  }
  numberIn(body, "temperature", { min: 0, max: 2 });
  numberIn(body, "top_p", { min: 0, max: 1 });
  numberIn(body, "n", { min: 1, max: 128, integer: true });
  numberIn(body, "max_tokens", { min: 1, integer: true });
  numberIn(body, "max_completion_tokens", { min: 1, integer: true });
  numberIn(body, "presence_penalty", { min: -2, max: 2 });
  numberIn(body, "frequency_penalty", { min: -2, max: 2 });
  if (operation === "chat") checkTools(body);
}
