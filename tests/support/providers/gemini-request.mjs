// The checks Google's generateContent (Gemini API and Vertex AI alike) runs on a request
// body, with its messages. Two stages, as the real service has them:
//  1. the proto-JSON parse (`parse`): every field must be one the proto declares, under its
//     JSON (camelCase) or proto (snake_case) name, with a value of its type; all that fail
//     are reported together: "Invalid JSON payload received. Unknown name \"x\" at 'path':
//     Cannot find field." (no "at" on the top level), "... Invalid value at 'path'
//     (TYPE_FLOAT), \"hot\"", "... Unknown name \"type\" at 'path': Proto field is not
//     repeating, cannot start list.", each also a google.rpc.BadRequest field violation.
//     The Schema of `parameters` and `responseSchema` is OpenAPI's subset: JSON-schema
//     keywords it lacks (additionalProperties, $schema, $ref, const, oneOf, ...) are unknown
//     names there (`parametersJsonSchema` / `responseJsonSchema` take any JSON schema).
//  2. the request's rules (`checkGenerateContent`), reported in Google's "* <Request>.<path>:
//     <what>\n" lines: contents required and each with parts, a part with one datum, a
//     function's name, an OBJECT schema with properties, an ARRAY with items; then the
//     conversation's own rules: roles user and model, a function-call turn after a user or
//     function-response turn, answered by as many function responses as it made calls.
// Enum values are read case-insensitively (the service takes "object" for OBJECT).
// `checkGenerateContent(body, pkg)` and `checkBatchEmbed(body, pkg, model)` throw `Invalid`
// ({ message, violations }) with the message of a 400 INVALID_ARGUMENT; `pkg` names the
// proto package in messages about types
// (google.ai.generativelanguage.v1beta for the Gemini API, google.cloud.aiplatform.v1 for
// Vertex). Where the real wording is not known to this mock (the allowed-function-names
// rule, an embedding request's model), the message is marked as the mock's own in a comment.

export class Invalid extends Error {
  constructor(message, violations = []) {
    super(message);
    this.violations = violations;
  }
}

const isObject = (value) => value !== null && typeof value === "object" && !Array.isArray(value);
const snake = (name) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const camel = (name) => name.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());

// Field types: scalars by their proto names, or { message }, { enum }, "struct" (any JSON
// object), "value" (any JSON), "map" (string keys to `of`). `list` marks repeated fields.
const scalar = (type) => ({ type });
const message = (name) => ({ type: "message", message: name });
const enumOf = (name, values) => ({ type: "enum", name, values });
const list = (field) => ({ ...field, list: true });
const map = (of) => ({ type: "map", of });
const STRING = scalar("TYPE_STRING");
const INT32 = scalar("TYPE_INT32");
const INT64 = scalar("TYPE_INT64");
const FLOAT = scalar("TYPE_FLOAT");
const DOUBLE = scalar("TYPE_DOUBLE");
const BOOL = scalar("TYPE_BOOL");
const BYTES = scalar("TYPE_BYTES");
const STRUCT = { type: "struct" };
const VALUE = { type: "value" };

const TYPE = enumOf("Type", ["TYPE_UNSPECIFIED", "STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL"]);
const MODALITY = enumOf("GenerationConfig.Modality", ["MODALITY_UNSPECIFIED", "TEXT", "IMAGE", "AUDIO"]);
const HARM_CATEGORY = enumOf("HarmCategory", [
  "HARM_CATEGORY_UNSPECIFIED", "HARM_CATEGORY_DEROGATORY", "HARM_CATEGORY_TOXICITY", "HARM_CATEGORY_VIOLENCE",
  "HARM_CATEGORY_SEXUAL", "HARM_CATEGORY_MEDICAL", "HARM_CATEGORY_DANGEROUS", "HARM_CATEGORY_HARASSMENT",
  "HARM_CATEGORY_HATE_SPEECH", "HARM_CATEGORY_SEXUALLY_EXPLICIT", "HARM_CATEGORY_DANGEROUS_CONTENT", "HARM_CATEGORY_CIVIC_INTEGRITY",
]);
const THRESHOLD = enumOf("SafetySetting.HarmBlockThreshold", ["HARM_BLOCK_THRESHOLD_UNSPECIFIED", "BLOCK_LOW_AND_ABOVE", "BLOCK_MEDIUM_AND_ABOVE", "BLOCK_ONLY_HIGH", "BLOCK_NONE", "OFF"]);
const MODE = enumOf("FunctionCallingConfig.Mode", ["MODE_UNSPECIFIED", "AUTO", "ANY", "NONE", "VALIDATED"]);
const TASK_TYPE = enumOf("TaskType", ["TASK_TYPE_UNSPECIFIED", "RETRIEVAL_QUERY", "RETRIEVAL_DOCUMENT", "SEMANTIC_SIMILARITY", "CLASSIFICATION", "CLUSTERING", "QUESTION_ANSWERING", "FACT_VERIFICATION", "CODE_RETRIEVAL_QUERY"]);

/** The messages of the request bodies, field by JSON name. */
const MESSAGES = {
  GenerateContentRequest: {
    model: STRING, contents: list(message("Content")), tools: list(message("Tool")), toolConfig: message("ToolConfig"),
    safetySettings: list(message("SafetySetting")), systemInstruction: message("Content"), generationConfig: message("GenerationConfig"),
    cachedContent: STRING, labels: map(STRING),
  },
  Content: { role: STRING, parts: list(message("Part")) },
  Part: {
    text: STRING, inlineData: message("Blob"), functionCall: message("FunctionCall"), functionResponse: message("FunctionResponse"),
    fileData: message("FileData"), executableCode: STRUCT, codeExecutionResult: STRUCT, thought: BOOL, thoughtSignature: BYTES,
    videoMetadata: STRUCT, partMetadata: STRUCT, mediaResolution: STRUCT,
  },
  Blob: { mimeType: STRING, data: BYTES },
  FileData: { mimeType: STRING, fileUri: STRING, displayName: STRING },
  FunctionCall: { id: STRING, name: STRING, args: STRUCT },
  FunctionResponse: { id: STRING, name: STRING, response: STRUCT, willContinue: BOOL, scheduling: STRING, parts: list(STRUCT) },
  Tool: {
    functionDeclarations: list(message("FunctionDeclaration")), googleSearch: STRUCT, googleSearchRetrieval: STRUCT,
    codeExecution: STRUCT, urlContext: STRUCT, computerUse: STRUCT, fileSearch: STRUCT, googleMaps: STRUCT, retrieval: STRUCT, enterpriseWebSearch: STRUCT,
  },
  FunctionDeclaration: {
    name: STRING, description: STRING, parameters: message("Schema"), parametersJsonSchema: VALUE,
    response: message("Schema"), responseJsonSchema: VALUE, behavior: STRING,
  },
  // OpenAPI 3.0's subset, as the proto declares it.
  Schema: {
    type: TYPE, format: STRING, title: STRING, description: STRING, nullable: BOOL, enum: list(STRING),
    maxItems: INT64, minItems: INT64, properties: map(message("Schema")), required: list(STRING),
    minProperties: INT64, maxProperties: INT64, minLength: INT64, maxLength: INT64, pattern: STRING,
    example: VALUE, anyOf: list(message("Schema")), propertyOrdering: list(STRING), default: VALUE,
    items: message("Schema"), minimum: DOUBLE, maximum: DOUBLE,
  },
  ToolConfig: { functionCallingConfig: message("FunctionCallingConfig"), retrievalConfig: STRUCT },
  FunctionCallingConfig: { mode: MODE, allowedFunctionNames: list(STRING) },
  SafetySetting: { category: HARM_CATEGORY, threshold: THRESHOLD, method: STRING },
  GenerationConfig: {
    stopSequences: list(STRING), responseMimeType: STRING, responseSchema: message("Schema"), responseJsonSchema: VALUE,
    responseModalities: list(MODALITY), candidateCount: INT32, maxOutputTokens: INT32, temperature: FLOAT, topP: FLOAT,
    topK: INT32, seed: INT32, presencePenalty: FLOAT, frequencyPenalty: FLOAT, responseLogprobs: BOOL, logprobs: INT32,
    enableEnhancedCivicAnswers: BOOL, speechConfig: STRUCT, thinkingConfig: message("ThinkingConfig"), imageConfig: STRUCT,
    mediaResolution: STRING, audioTimestamp: BOOL,
  },
  ThinkingConfig: { includeThoughts: BOOL, thinkingBudget: INT32, thinkingLevel: enumOf("ThinkingConfig.ThinkingLevel", ["THINKING_LEVEL_UNSPECIFIED", "MINIMAL", "LOW", "MEDIUM", "HIGH"]) },
  BatchEmbedContentsRequest: { requests: list(message("EmbedContentRequest")) },
  EmbedContentRequest: { model: STRING, content: message("Content"), taskType: TASK_TYPE, title: STRING, outputDimensionality: INT32 },
};

// The members of Part's `data` oneof: a part holds exactly one.
const PART_DATA = ["text", "inlineData", "functionCall", "functionResponse", "fileData", "executableCode", "codeExecutionResult"];

/** How a value is shown after "Invalid value at '...' (TYPE)," in Google's messages. */
const shown = (value) => JSON.stringify(value);

function isInteger(value, bits) {
  const number = typeof value === "string" && /^-?\d+$/.test(value) ? Number(value) : value;
  if (typeof number !== "number" || !Number.isInteger(number)) return false;
  return bits === 32 ? Math.abs(number) <= 2 ** 31 : true;
}
const isNumber = (value) => (typeof value === "number" && Number.isFinite(value)) || (typeof value === "string" && value.trim() !== "" && !Number.isNaN(Number(value))) || ["NaN", "Infinity", "-Infinity"].includes(value);
const isBase64 = (value) => typeof value === "string" && /^[A-Za-z0-9+/_-]*={0,2}$/.test(value) && value.replace(/=+$/, "").length % 4 !== 1;

/**
 * Parses `value` as message `name` at `path` (snake_case, as Google reports it), pushing
 * each failure to `errors` ({ field, description }).
 */
function parseMessage(name, value, path, errors, pkg) {
  const fields = MESSAGES[name];
  if (!isObject(value)) {
    errors.push({ field: path, description: `Invalid value at '${path}' (type.googleapis.com/${pkg}.${name}), ${shown(value)}` });
    return;
  }
  if (name === "Part") {
    const set = Object.keys(value).map(camel).filter((key) => PART_DATA.includes(key) && value[key] !== null && value[key] !== undefined);
    if (set.length > 1) errors.push({ field: path, description: `Oneof field 'data' is already set. Cannot set '${set[1]}'` });
  }
  for (const [key, item] of Object.entries(value)) {
    const jsonName = Object.hasOwn(fields, key) ? key : camel(key);
    const field = Object.hasOwn(fields, jsonName) && (key === jsonName || key === snake(jsonName)) ? fields[jsonName] : null;
    if (!field) {
      const where = path ? ` at '${path}'` : "";
      errors.push({ field: path || undefined, description: `Unknown name "${key}"${where}: Cannot find field.` });
      continue;
    }
    if (item === null) continue; // null is the field's default, as proto JSON reads it
    const here = path ? `${path}.${snake(jsonName)}` : snake(jsonName);
    if (field.list) {
      if (!Array.isArray(item)) {
        parseField({ ...field, list: false }, item, here, errors, pkg);
        continue;
      }
      item.forEach((element, i) => parseField({ ...field, list: false }, element, `${here}[${i}]`, errors, pkg));
    } else if (Array.isArray(item) && field.type !== "value") {
      const where = path ? ` at '${path}'` : "";
      errors.push({ field: path || undefined, description: `Unknown name "${key}"${where}: Proto field is not repeating, cannot start list.` });
    } else {
      parseField(field, item, here, errors, pkg);
    }
  }
}

function parseField(field, value, path, errors, pkg) {
  const invalid = (type) => errors.push({ field: path, description: `Invalid value at '${path}' (${type}), ${shown(value)}` });
  switch (field.type) {
    case "message":
      return parseMessage(field.message, value, path, errors, pkg);
    case "map":
      if (!isObject(value)) return invalid("type.googleapis.com/google.protobuf.Map");
      return Object.entries(value).forEach(([, entry], i) => parseField(field.of, entry, `${path}[${i}].value`, errors, pkg));
    case "struct":
      if (!isObject(value)) invalid("type.googleapis.com/google.protobuf.Struct");
      return;
    case "value":
      return;
    case "enum":
      if (typeof value !== "string" || !field.values.includes(value.toUpperCase())) invalid(`type.googleapis.com/${pkg}.${field.name}`);
      return;
    case "TYPE_STRING":
      if (typeof value !== "string") invalid(field.type);
      return;
    case "TYPE_BOOL":
      if (typeof value !== "boolean") invalid(field.type);
      return;
    case "TYPE_INT32":
    case "TYPE_INT64":
      if (!isInteger(value, field.type === "TYPE_INT32" ? 32 : 64)) invalid(field.type);
      return;
    case "TYPE_FLOAT":
    case "TYPE_DOUBLE":
      if (!isNumber(value)) invalid(field.type);
      return;
    case "TYPE_BYTES":
      if (typeof value !== "string") return invalid(field.type);
      if (!isBase64(value)) errors.push({ field: path, description: `Invalid value at '${path}' (${field.type}), Base64 decoding failed for ${shown(value)}` });
      return;
    default:
      throw new Error(`no parser for ${field.type}`);
  }
}

/** Reads a field under its JSON or proto name. */
const get = (object, name) => object?.[name] ?? object?.[snake(name)] ?? undefined;

// Function names: a letter or underscore first, then letters, digits, _ . : -, 64 at most.
const FUNCTION_NAME = /^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$/;

/** The rule failures of a Schema (an OBJECT needs properties, an ARRAY items), recursively. */
function schemaRules(schema, path, lines) {
  if (!isObject(schema)) return;
  const type = String(get(schema, "type") ?? "").toUpperCase();
  const properties = get(schema, "properties");
  if (type === "OBJECT" && (!isObject(properties) || Object.keys(properties).length === 0)) lines.push(`${path}.properties: should be non-empty for OBJECT type`);
  if (type === "ARRAY" && !isObject(get(schema, "items"))) lines.push(`${path}.items: missing field.`);
  if (isObject(properties)) Object.values(properties).forEach((child, i) => schemaRules(child, `${path}.properties[${i}].value`, lines));
  if (isObject(get(schema, "items"))) schemaRules(get(schema, "items"), `${path}.items`, lines);
  (get(schema, "anyOf") ?? []).forEach((child, i) => schemaRules(child, `${path}.any_of[${i}]`, lines));
}

/** The "* GenerateContentRequest.<path>: <what>" lines of a parsed request. */
function requestRules(body) {
  const lines = [];
  const contents = get(body, "contents") ?? [];
  if (contents.length === 0) lines.push("contents: contents is not specified");
  contents.forEach((content, i) => {
    const parts = get(content, "parts") ?? [];
    if (parts.length === 0) lines.push(`contents[${i}].parts: contents.parts must not be empty.`);
    parts.forEach((part, j) => {
      const data = PART_DATA.map((name) => get(part, name)).filter((datum) => datum !== undefined && datum !== "");
      if (data.length === 0) lines.push(`contents[${i}].parts[${j}].data: required oneof field 'data' must have one initialized field`);
      const call = get(part, "functionCall") ?? get(part, "functionResponse");
      if (call && !get(call, "name")) lines.push(`contents[${i}].parts[${j}].${get(part, "functionCall") ? "function_call" : "function_response"}.name: Name cannot be empty.`);
    });
  });
  (get(body, "tools") ?? []).forEach((tool, i) => {
    (get(tool, "functionDeclarations") ?? []).forEach((declaration, j) => {
      const path = `tools[${i}].function_declarations[${j}]`;
      if (!FUNCTION_NAME.test(get(declaration, "name") ?? "")) {
        lines.push(`${path}.name: Invalid function name. Must start with a letter or an underscore. Must be alphameric (a-z, A-Z, 0-9), underscores (_), dots (.), colons (:) or dashes (-), with a maximum length of 64.`);
      }
      schemaRules(get(declaration, "parameters"), `${path}.parameters`, lines);
    });
  });
  const config = get(body, "generationConfig");
  schemaRules(get(config, "responseSchema"), "generation_config.response_schema", lines);
  const calling = get(get(body, "toolConfig"), "functionCallingConfig");
  const mode = String(get(calling, "mode") ?? "AUTO").toUpperCase();
  // The mock's own wording: the service refuses allowed names outside ANY (and VALIDATED).
  if ((get(calling, "allowedFunctionNames") ?? []).length > 0 && !["ANY", "VALIDATED"].includes(mode)) {
    lines.push("tool_config.function_calling_config.allowed_function_names: allowed_function_names may only be set when mode is ANY or VALIDATED.");
  }
  return lines;
}

/** The conversation's rules: roles, and function calls answered turn by turn. */
function conversationRules(contents) {
  const roles = contents.map((content) => get(content, "role") ?? "");
  if (roles.some((role) => !["", "user", "model"].includes(role))) return "Please use a valid role: user, model.";
  const kinds = contents.map((content) => {
    const parts = get(content, "parts") ?? [];
    return {
      calls: parts.filter((part) => get(part, "functionCall")).length,
      responses: parts.filter((part) => get(part, "functionResponse")).length,
      role: get(content, "role") ?? "user",
    };
  });
  for (const [i, turn] of kinds.entries()) {
    if (turn.calls === 0) continue;
    if (i === 0 || kinds[i - 1].role !== "user") {
      return "Please ensure that function call turn comes immediately after a user turn or after a function response turn.";
    }
    const after = kinds[i + 1];
    if (after && after.responses !== turn.calls) {
      return "Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.";
    }
  }
  return null;
}

/** Throws `Invalid` for the proto-JSON failures of `body` as message `name`. */
function parse(name, body, pkg) {
  const errors = [];
  parseMessage(name, body, "", errors, pkg);
  if (errors.length === 0) return;
  const lines = errors.map((error) => `Invalid JSON payload received. ${error.description}`);
  throw new Invalid(lines.join("\n"), errors.map((error, i) => (error.field ? { field: error.field, description: lines[i] } : { description: lines[i] })));
}

const rulesError = (request, lines) => new Invalid(`${lines.map((line) => `* ${request}.${line}\n`).join("")}`);

/** Checks a GenerateContentRequest body (parse, then its rules). */
export function checkGenerateContent(body, pkg) {
  parse("GenerateContentRequest", body, pkg);
  const lines = requestRules(body);
  if (lines.length > 0) throw rulesError("GenerateContentRequest", lines);
  const conversation = conversationRules(get(body, "contents"));
  if (conversation) throw new Invalid(conversation);
}

/** Checks a BatchEmbedContentsRequest body for model `model` ("models/<name>"). */
export function checkBatchEmbed(body, pkg, model) {
  parse("BatchEmbedContentsRequest", body, pkg);
  const requests = get(body, "requests") ?? [];
  const lines = [];
  if (requests.length === 0) lines.push("requests: requests is not specified");
  requests.forEach((request, i) => {
    // The mock's own wording for a request naming another model than the URL.
    if (get(request, "model") !== model) lines.push(`requests[${i}].model: the model must be ${model}, as in the URL.`);
    if ((get(get(request, "content"), "parts") ?? []).length === 0) lines.push(`requests[${i}].content.parts: contents.parts must not be empty.`);
  });
  if (lines.length > 0) throw rulesError("BatchEmbedContentsRequest", lines);
}

/** Google's answer to a body that is not JSON: where the parse stopped. */
export function jsonSyntaxError(raw) {
  try {
    JSON.parse(raw);
    return null;
  } catch (error) {
    const position = Number(/position (\d+)/.exec(error.message)?.[1] ?? raw.length);
    const line = raw.slice(0, position).split("\n").at(-1);
    return `Invalid JSON payload received. Unexpected token.\n${line}\n${" ".repeat(Math.max(0, line.length - 1))}^`;
  }
}

/** What the answer depends on in a request: its output limit and stop sequences. */
export function readRequest(body) {
  const config = get(body, "generationConfig") ?? {};
  return {
    maxOutputTokens: get(config, "maxOutputTokens") === undefined ? undefined : Number(get(config, "maxOutputTokens")),
    stopSequences: get(config, "stopSequences") ?? [],
  };
}
