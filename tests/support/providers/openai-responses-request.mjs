// The checks OpenAI's Responses API runs on a `POST /v1/responses` body before it answers,
// each refused as OpenAI refuses it: a 400 invalid_request_error naming the parameter
// (`param`, with its path inside the body: `input[2].call_id`) and OpenAI's code:
//   unknown_parameter           "Unknown parameter: 'input[0].foo'." (a chat body's
//                               `messages` is one)
//   missing_required_parameter  "Missing required parameter: 'tools[0].name'." (a chat-shaped
//                               tool); `input` is required here, as there is no prompt
//                               template nor conversation the mock could take it from
//   invalid_type                "Invalid type for 'temperature': expected a decimal, but got
//                               a string instead."
//   invalid_value               an unknown enum value, a function_call item whose id does not
//                               begin with 'fc', an assistant message with input_text parts,
//                               a tool name off ^[a-zA-Z0-9_-]+$
//   <kind>_below_min_value, <kind>_above_max_value, string_above_max_length, empty_array
//   invalid_function_parameters a `strict: true` function whose schema is not strict
// and the request's own rules: text.format json_object needs the word "json" in the
// input; tool_choice must name a function of `tools`. The parameters are those of
// ResponseCreateParams in the official SDK (openai 6.x), with `max_tool_calls` and
// `top_logprobs`, which the API reference lists and the SDK's create types omit.
// Where the item and tool unions are wide (built-in tools and their call items), a known
// type is let through with its fields unchecked: only what a gateway sends is checked
// field by field (messages, function calls and their outputs, reasoning, item references,
// function tools).

export class Rejected extends Error {
  /** A refusal: `status` (400 unless said), OpenAI's error `type`, `param`, `code`. */
  constructor(message, { status = 400, type = "invalid_request_error", param = null, code = null } = {}) {
    super(message);
    this.status = status;
    this.type = type;
    this.param = param;
    this.code = code;
  }
}

const reject = (message, param = null, code = null) => {
  throw new Rejected(message, { param, code });
};
const isObject = (value) => value !== null && typeof value === "object" && !Array.isArray(value);
const isAbsent = (value) => value === undefined || value === null;
const typeName = (value) =>
  value === null ? "null" : Array.isArray(value) ? "an array" : typeof value === "object" ? "an object" : Number.isInteger(value) ? "an integer" : typeof value === "number" ? "a decimal" : `a ${typeof value}`;
const listed = (values) => (values.length === 1 ? `'${values[0]}'` : `${values.slice(0, -1).map((v) => `'${v}'`).join(", ")}${values.length > 2 ? "," : ""} and '${values.at(-1)}'`);

const missing = (param) => reject(`Missing required parameter: '${param}'.`, param, "missing_required_parameter");
const unknown = (param) => reject(`Unknown parameter: '${param}'.`, param, "unknown_parameter");
const wrongType = (param, expected, value) => reject(`Invalid type for '${param}': expected ${expected}, but got ${typeName(value)} instead.`, param, "invalid_type");
const badValue = (param, value, supported) => reject(`Invalid value: '${value}'. Supported values are: ${listed(supported)}.`, param, "invalid_value");

/** `object`'s keys all in `known`, else the first other one is an unknown parameter at `at`. */
function onlyKnown(object, known, at) {
  for (const key of Object.keys(object)) if (!known.includes(key)) unknown(at ? `${at}.${key}` : key);
}

function string(value, param, { maxLength } = {}) {
  if (typeof value !== "string") wrongType(param, "a string", value);
  if (maxLength !== undefined && value.length > maxLength) {
    reject(`Invalid '${param}': string too long. Expected a string with maximum length ${maxLength}, but got a string with length ${value.length} instead.`, param, "string_above_max_length");
  }
}

function optionalString(value, param, options) {
  if (!isAbsent(value)) string(value, param, options);
}

function optionalBoolean(value, param) {
  if (!isAbsent(value) && typeof value !== "boolean") wrongType(param, "a boolean", value);
}

function optionalEnum(value, param, supported) {
  if (isAbsent(value)) return;
  if (typeof value !== "string") wrongType(param, "a string", value);
  if (!supported.includes(value)) badValue(param, value, supported);
}

function optionalNumber(value, param, { min, max, integer = false }) {
  if (isAbsent(value)) return;
  if (typeof value !== "number" || (integer && !Number.isInteger(value))) wrongType(param, integer ? "an integer" : "a decimal", value);
  const kind = integer ? "integer" : "decimal";
  if (min !== undefined && value < min) reject(`Invalid '${param}': ${kind} below minimum value. Expected a value >= ${min}, but got ${value} instead.`, param, `${kind}_below_min_value`);
  if (max !== undefined && value > max) reject(`Invalid '${param}': ${kind} above maximum value. Expected a value <= ${max}, but got ${value} instead.`, param, `${kind}_above_max_value`);
}

function optionalObject(value, param) {
  if (!isAbsent(value) && !isObject(value)) wrongType(param, "an object", value);
  return !isAbsent(value);
}

const PARAMETERS = [
  "background", "context_management", "conversation", "include", "input", "instructions", "max_output_tokens",
  "max_tool_calls", "metadata", "model", "parallel_tool_calls", "previous_response_id", "prompt", "prompt_cache_key",
  "prompt_cache_retention", "reasoning", "safety_identifier", "service_tier", "store", "stream", "stream_options",
  "temperature", "text", "tool_choice", "tools", "top_logprobs", "top_p", "truncation", "user",
];

const INCLUDABLE = [
  "file_search_call.results", "web_search_call.results", "web_search_call.action.sources", "message.input_image.image_url",
  "computer_call_output.output.image_url", "code_interpreter_call.outputs", "reasoning.encrypted_content", "message.output_text.logprobs",
];

/** Item types a gateway sends, checked field by field. */
const CHECKED_ITEMS = ["message", "function_call", "function_call_output", "reasoning", "item_reference"];
/** The other item types of ResponseInputItem: built-in tools' calls and outputs, let through. */
const OTHER_ITEMS = [
  "file_search_call", "computer_call", "computer_call_output", "web_search_call", "tool_search_call", "tool_search_output",
  "compaction", "image_generation_call", "code_interpreter_call", "local_shell_call", "local_shell_call_output", "shell_call",
  "shell_call_output", "apply_patch_call", "apply_patch_call_output", "mcp_list_tools", "mcp_approval_request",
  "mcp_approval_response", "mcp_call", "custom_tool_call_output", "custom_tool_call",
];

const ROLES = ["user", "assistant", "system", "developer"];
const INPUT_PARTS = ["input_text", "input_image", "input_file"];
const OUTPUT_PARTS = ["output_text", "refusal"];
const ITEM_STATUSES = ["in_progress", "completed", "incomplete"];

/** Throws `Rejected` unless `body` is a Responses request OpenAI accepts (see the header). */
export function checkRequest(body) {
  if (!isObject(body)) wrongType("body", "an object", body);
  if (body.model === undefined) missing("model");
  onlyKnown(body, PARAMETERS);
  string(body.model, "model");
  checkInput(body.input);
  optionalString(body.instructions, "instructions");
  optionalString(body.previous_response_id, "previous_response_id");
  checkIdPrefix(body.previous_response_id, "previous_response_id", "resp");
  checkConversation(body.conversation);
  checkPrompt(body.prompt);
  for (const flag of ["background", "parallel_tool_calls", "store", "stream"]) optionalBoolean(body[flag], flag);
  if (optionalObject(body.stream_options, "stream_options")) {
    onlyKnown(body.stream_options, ["include_obfuscation"], "stream_options");
    optionalBoolean(body.stream_options.include_obfuscation, "stream_options.include_obfuscation");
  }
  optionalNumber(body.temperature, "temperature", { min: 0, max: 2 });
  optionalNumber(body.top_p, "top_p", { min: 0, max: 1 });
  optionalNumber(body.max_output_tokens, "max_output_tokens", { min: 16, integer: true });
  optionalNumber(body.max_tool_calls, "max_tool_calls", { min: 1, integer: true });
  optionalNumber(body.top_logprobs, "top_logprobs", { min: 0, max: 20, integer: true });
  optionalEnum(body.truncation, "truncation", ["auto", "disabled"]);
  optionalEnum(body.service_tier, "service_tier", ["auto", "default", "flex", "scale", "priority"]);
  optionalEnum(body.prompt_cache_retention, "prompt_cache_retention", ["in-memory", "24h"]);
  optionalString(body.prompt_cache_key, "prompt_cache_key");
  optionalString(body.safety_identifier, "safety_identifier", { maxLength: 64 });
  optionalString(body.user, "user");
  checkMetadata(body.metadata);
  checkInclude(body.include);
  checkReasoning(body.reasoning);
  checkText(body.text);
  checkTools(body.tools);
  checkToolChoice(body.tool_choice, body.tools ?? []);
  checkContextManagement(body.context_management);
  checkJsonMode(body);
}

/** `id` (when given) begins with `prefix`, as OpenAI's ids of that kind do. */
function checkIdPrefix(id, param, prefix) {
  if (typeof id === "string" && !id.startsWith(prefix)) reject(`Invalid '${param}': '${id}'. Expected an ID that begins with '${prefix}'.`, param, "invalid_value");
}

function checkInput(input) {
  if (input === undefined) missing("input");
  if (typeof input === "string") return;
  if (!Array.isArray(input)) wrongType("input", "one of a string or an array of input items", input);
  if (input.length === 0) reject("Invalid 'input': empty array. Expected an array with minimum length 1, but got an empty array instead.", "input", "empty_array");
  for (const [i, item] of input.entries()) checkItem(item, `input[${i}]`);
}

function checkItem(item, at) {
  if (!isObject(item)) wrongType(at, "an object", item);
  // An item with a role and no type is an EasyInputMessage.
  const type = item.type ?? (item.role !== undefined ? "message" : undefined);
  if (type === undefined) missing(`${at}.type`);
  if (typeof type !== "string") wrongType(`${at}.type`, "a string", type);
  switch (type) {
    case "message":
      return checkMessage(item, at);
    case "function_call":
      for (const key of ["call_id", "name", "arguments"]) if (item[key] === undefined) missing(`${at}.${key}`);
      onlyKnown(item, ["type", "id", "call_id", "name", "arguments", "status", "namespace"], at);
      for (const key of ["call_id", "name", "arguments"]) string(item[key], `${at}.${key}`);
      optionalString(item.id, `${at}.id`);
      checkIdPrefix(item.id, `${at}.id`, "fc");
      return optionalEnum(item.status, `${at}.status`, ITEM_STATUSES);
    case "function_call_output":
      for (const key of ["call_id", "output"]) if (item[key] === undefined) missing(`${at}.${key}`);
      onlyKnown(item, ["type", "id", "call_id", "output", "status"], at);
      string(item.call_id, `${at}.call_id`);
      if (typeof item.output !== "string") {
        if (!Array.isArray(item.output)) wrongType(`${at}.output`, "one of a string or an array of content parts", item.output);
        for (const [j, part] of item.output.entries()) checkPart(part, `${at}.output[${j}]`, INPUT_PARTS);
      }
      optionalString(item.id, `${at}.id`);
      return optionalEnum(item.status, `${at}.status`, ITEM_STATUSES);
    case "reasoning":
      for (const key of ["id", "summary"]) if (item[key] === undefined) missing(`${at}.${key}`);
      onlyKnown(item, ["type", "id", "summary", "content", "encrypted_content", "status"], at);
      string(item.id, `${at}.id`);
      checkIdPrefix(item.id, `${at}.id`, "rs");
      if (!Array.isArray(item.summary)) wrongType(`${at}.summary`, "an array", item.summary);
      optionalString(item.encrypted_content, `${at}.encrypted_content`);
      return optionalEnum(item.status, `${at}.status`, ITEM_STATUSES);
    case "item_reference":
      if (item.id === undefined) missing(`${at}.id`);
      onlyKnown(item, ["type", "id"], at);
      return string(item.id, `${at}.id`);
    default:
      if (!OTHER_ITEMS.includes(type)) badValue(`${at}.type`, type, [...CHECKED_ITEMS, ...OTHER_ITEMS]);
  }
}

function checkMessage(item, at) {
  for (const key of ["role", "content"]) if (item[key] === undefined) missing(`${at}.${key}`);
  onlyKnown(item, ["type", "role", "content", "id", "status", "phase"], at);
  optionalEnum(item.role, `${at}.role`, ROLES);
  optionalString(item.id, `${at}.id`);
  optionalEnum(item.status, `${at}.status`, ITEM_STATUSES);
  optionalEnum(item.phase, `${at}.phase`, ["commentary", "final_answer"]);
  if (typeof item.content === "string") return;
  if (!Array.isArray(item.content)) wrongType(`${at}.content`, "one of a string or an array of content parts", item.content);
  // What the model said comes back as its output parts; what is said to it, as input parts.
  const parts = item.role === "assistant" ? OUTPUT_PARTS : INPUT_PARTS;
  for (const [j, part] of item.content.entries()) checkPart(part, `${at}.content[${j}]`, parts);
}

function checkPart(part, at, allowed) {
  if (!isObject(part)) wrongType(at, "an object", part);
  if (part.type === undefined) missing(`${at}.type`);
  if (!allowed.includes(part.type)) badValue(`${at}.type`, part.type, allowed);
  switch (part.type) {
    case "input_text":
    case "output_text":
      if (part.text === undefined) missing(`${at}.text`);
      onlyKnown(part, part.type === "input_text" ? ["type", "text"] : ["type", "text", "annotations", "logprobs"], at);
      return string(part.text, `${at}.text`);
    case "refusal":
      if (part.refusal === undefined) missing(`${at}.refusal`);
      onlyKnown(part, ["type", "refusal"], at);
      return string(part.refusal, `${at}.refusal`);
    case "input_image":
      onlyKnown(part, ["type", "detail", "file_id", "image_url"], at);
      if (isAbsent(part.image_url) && isAbsent(part.file_id)) missing(`${at}.image_url`);
      optionalString(part.image_url, `${at}.image_url`);
      optionalString(part.file_id, `${at}.file_id`);
      return optionalEnum(part.detail, `${at}.detail`, ["low", "high", "auto", "original"]);
    case "input_file":
      onlyKnown(part, ["type", "file_data", "file_id", "file_url", "filename"], at);
      for (const key of ["file_data", "file_id", "file_url", "filename"]) optionalString(part[key], `${at}.${key}`);
  }
}

function checkConversation(conversation) {
  if (isAbsent(conversation)) return;
  const id = isObject(conversation) ? conversation.id : conversation;
  if (isObject(conversation)) {
    if (id === undefined) missing("conversation.id");
    onlyKnown(conversation, ["id"], "conversation");
  }
  string(id, isObject(conversation) ? "conversation.id" : "conversation");
  checkIdPrefix(id, "conversation", "conv");
}

function checkPrompt(prompt) {
  if (!optionalObject(prompt, "prompt")) return;
  if (prompt.id === undefined) missing("prompt.id");
  onlyKnown(prompt, ["id", "version", "variables"], "prompt");
  string(prompt.id, "prompt.id");
  optionalString(prompt.version, "prompt.version");
  optionalObject(prompt.variables, "prompt.variables");
}

function checkMetadata(metadata) {
  if (!optionalObject(metadata, "metadata")) return;
  const keys = Object.keys(metadata);
  if (keys.length > 16) {
    reject(`Invalid 'metadata': too many properties. Expected an object with at most 16 properties, but got an object with ${keys.length} properties instead.`, "metadata", "object_above_max_properties");
  }
  for (const key of keys) {
    if (key.length > 64) {
      reject(`Invalid 'metadata': string too long. Expected a string with maximum length 64, but got a string with length ${key.length} instead.`, "metadata", "string_above_max_length");
    }
    string(metadata[key], `metadata.${key}`, { maxLength: 512 });
  }
}

function checkInclude(include) {
  if (isAbsent(include)) return;
  if (!Array.isArray(include)) wrongType("include", "an array", include);
  for (const [i, value] of include.entries()) optionalEnum(value, `include[${i}]`, INCLUDABLE);
}

function checkReasoning(reasoning) {
  if (!optionalObject(reasoning, "reasoning")) return;
  onlyKnown(reasoning, ["effort", "summary", "generate_summary"], "reasoning");
  optionalEnum(reasoning.effort, "reasoning.effort", ["none", "minimal", "low", "medium", "high", "xhigh"]);
  optionalEnum(reasoning.summary, "reasoning.summary", ["auto", "concise", "detailed"]);
  optionalEnum(reasoning.generate_summary, "reasoning.generate_summary", ["auto", "concise", "detailed"]);
}

const NAME = /^[a-zA-Z0-9_-]{1,64}$/;

function checkName(name, param) {
  string(name, param);
  if (!NAME.test(name)) reject(`Invalid '${param}': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.`, param, "invalid_value");
}

function checkText(text) {
  if (!optionalObject(text, "text")) return;
  onlyKnown(text, ["format", "verbosity"], "text");
  optionalEnum(text.verbosity, "text.verbosity", ["low", "medium", "high"]);
  if (!optionalObject(text.format, "text.format")) return;
  const format = text.format;
  if (format.type === undefined) missing("text.format.type");
  optionalEnum(format.type, "text.format.type", ["text", "json_schema", "json_object"]);
  if (format.type !== "json_schema") return onlyKnown(format, ["type"], "text.format");
  for (const key of ["name", "schema"]) if (format[key] === undefined) missing(`text.format.${key}`);
  onlyKnown(format, ["type", "name", "schema", "description", "strict"], "text.format");
  checkName(format.name, "text.format.name");
  if (!isObject(format.schema)) wrongType("text.format.schema", "an object", format.schema);
  optionalString(format.description, "text.format.description");
  optionalBoolean(format.strict, "text.format.strict");
}

/** Built-in tool types, let through with their fields unchecked. */
const BUILTIN_TOOLS = [
  "file_search", "computer", "computer_use_preview", "web_search", "web_search_2025_08_26", "web_search_preview",
  "web_search_preview_2025_03_11", "mcp", "code_interpreter", "image_generation", "local_shell", "shell", "custom",
  "namespace", "tool_search", "apply_patch",
];

function checkTools(tools) {
  if (isAbsent(tools)) return;
  if (!Array.isArray(tools)) wrongType("tools", "an array", tools);
  for (const [i, tool] of tools.entries()) {
    const at = `tools[${i}]`;
    if (!isObject(tool)) wrongType(at, "an object", tool);
    if (tool.type === undefined) missing(`${at}.type`);
    if (tool.type !== "function") {
      if (!BUILTIN_TOOLS.includes(tool.type)) badValue(`${at}.type`, tool.type, ["function", ...BUILTIN_TOOLS]);
      continue;
    }
    // A chat-shaped tool ({ type, function: { name } }) is refused for its missing name.
    if (tool.name === undefined) missing(`${at}.name`);
    onlyKnown(tool, ["type", "name", "description", "parameters", "strict", "defer_loading"], at);
    checkName(tool.name, `${at}.name`);
    optionalString(tool.description, `${at}.description`);
    optionalObject(tool.parameters, `${at}.parameters`);
    optionalBoolean(tool.strict, `${at}.strict`);
    optionalBoolean(tool.defer_loading, `${at}.defer_loading`);
    if (tool.strict === true && isObject(tool.parameters)) {
      const fault = strictFault(tool.parameters);
      if (fault) reject(`Invalid schema for function '${tool.name}': ${fault}`, `${at}.parameters`, "invalid_function_parameters");
    }
  }
}

/**
 * Why `schema` cannot be used in strict mode (every object closed with additionalProperties
 * false and requiring all its properties), in OpenAI's words, or null when it can. The
 * context is the path to the faulty schema, written as a Python tuple.
 */
export function strictFault(schema, path = []) {
  if (!isObject(schema)) return null;
  const context = `In context=(${path.map((p) => `'${p}'`).join(", ")}${path.length === 1 ? "," : ""})`;
  if (schema.type === "object" || isObject(schema.properties)) {
    if (schema.additionalProperties !== false) return `${context}, 'additionalProperties' is required to be supplied and to be false.`;
    const required = Array.isArray(schema.required) ? schema.required : [];
    const absent = Object.keys(schema.properties ?? {}).find((key) => !required.includes(key));
    if (absent !== undefined) return `${context}, 'required' is required to be supplied and to be an array including every key in properties. Missing '${absent}'.`;
  }
  for (const [key, value] of Object.entries(schema.properties ?? {})) {
    const fault = strictFault(value, [...path, "properties", key]);
    if (fault) return fault;
  }
  for (const key of ["items", "anyOf", "$defs", "definitions"]) {
    const inner = schema[key];
    if (Array.isArray(inner)) {
      for (const [index, value] of inner.entries()) {
        const fault = strictFault(value, [...path, key, String(index)]);
        if (fault) return fault;
      }
    } else if (key === "items") {
      const fault = strictFault(inner, [...path, key]);
      if (fault) return fault;
    } else if (isObject(inner)) {
      for (const [name, value] of Object.entries(inner)) {
        const fault = strictFault(value, [...path, key, name]);
        if (fault) return fault;
      }
    }
  }
  return null;
}

const CHOICE_TYPES = ["function", "allowed_tools", "custom", "mcp", "apply_patch", "shell", "file_search", "web_search_preview", "computer", "computer_use_preview", "computer_use", "web_search_preview_2025_03_11", "image_generation", "code_interpreter"];

function checkToolChoice(choice, tools) {
  if (isAbsent(choice)) return;
  if (typeof choice === "string") return optionalEnum(choice, "tool_choice", ["none", "auto", "required"]);
  if (!isObject(choice)) wrongType("tool_choice", "one of a string or an object", choice);
  if (choice.type === undefined) missing("tool_choice.type");
  optionalEnum(choice.type, "tool_choice.type", CHOICE_TYPES);
  if (choice.type === "function") {
    // A chat-shaped choice ({ type, function: { name } }) is refused for its missing name.
    if (choice.name === undefined) missing("tool_choice.name");
    onlyKnown(choice, ["type", "name"], "tool_choice");
    string(choice.name, "tool_choice.name");
    const named = Array.isArray(tools) && tools.some((tool) => tool?.type === "function" && tool.name === choice.name);
    if (!named) reject(`Tool choice 'function' not found in 'tools' parameter.`, "tool_choice");
  }
  if (choice.type === "allowed_tools") {
    for (const key of ["mode", "tools"]) if (choice[key] === undefined) missing(`tool_choice.${key}`);
    onlyKnown(choice, ["type", "mode", "tools"], "tool_choice");
    optionalEnum(choice.mode, "tool_choice.mode", ["auto", "required"]);
    if (!Array.isArray(choice.tools)) wrongType("tool_choice.tools", "an array", choice.tools);
  }
}

function checkContextManagement(entries) {
  if (isAbsent(entries)) return;
  if (!Array.isArray(entries)) wrongType("context_management", "an array", entries);
  for (const [i, entry] of entries.entries()) {
    const at = `context_management[${i}]`;
    if (!isObject(entry)) wrongType(at, "an object", entry);
    if (entry.type === undefined) missing(`${at}.type`);
    onlyKnown(entry, ["type", "compact_threshold"], at);
    optionalEnum(entry.type, `${at}.type`, ["compaction"]);
    optionalNumber(entry.compact_threshold, `${at}.compact_threshold`, { min: 1, integer: true });
  }
}

/** JSON mode asks for the word "json" somewhere in what the model is told. */
function checkJsonMode(body) {
  if (body.text?.format?.type !== "json_object") return;
  const said = [body.instructions ?? "", ...inputItems(body.input).flatMap(textsOf)].join("\n");
  if (!/json/i.test(said)) {
    reject("Response input messages must contain the word 'json' in some form to use 'text.format' of type 'json_object'.", "input");
  }
}

function textsOf(item) {
  if (item.type !== "message") return [];
  if (typeof item.content === "string") return [item.content];
  return item.content.filter((part) => typeof part.text === "string").map((part) => part.text);
}

/**
 * A checked `input` as a list of items, each with its `type`: a string is one user
 * message, an item with a role and no type a message.
 */
export function inputItems(input) {
  if (typeof input === "string") return [{ type: "message", role: "user", content: [{ type: "input_text", text: input }] }];
  return input.map((item) => (item.type === undefined ? { type: "message", ...item } : item));
}
