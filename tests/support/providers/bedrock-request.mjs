// The checks Bedrock's runtime runs on a request body, with its errors. Three kinds, in the
// order the service meets them:
//  - a value of the wrong JSON type: 400 SerializationException, its body {"Message": ...}
//    in the coral service's words ("STRING_VALUE can not be converted to an Integer",
//    "Start of list found where not expected");
//  - the model's constraints (Smithy's): 400 ValidationException "N validation error(s)
//    detected: Value '0' at 'inferenceConfig.maxTokens' failed to satisfy constraint: Member
//    must have value greater than or equal to 1; ..." (list members as `.N.member`, from 1);
//    a field the operation does not know is refused as InvokeModel words it ("Malformed
//    input request: #: extraneous key [foo] is not permitted, ..."), the mock's choice;
//  - Converse's own rules, 400 ValidationException in its words: the conversation starts
//    with a user message and alternates, no blank text, toolConfig defined when the
//    messages hold toolUse or toolResult blocks, each toolUse answered by a toolResult in
//    the next message and no more, a tool's input schema of type object.
// `checkConverse(body)` and `checkEmbedding(kind, body)` throw `Rejected` ({ status, type,
// message, key ("message" or "Message") }).

export class Rejected extends Error {
  constructor(type, message, key = "message") {
    super(message);
    this.type = type;
    this.key = key;
  }
}

const isObject = (value) => value !== null && typeof value === "object" && !Array.isArray(value);
const isBase64 = (value) => /^[A-Za-z0-9+/]*={0,2}$/.test(value) && value.length % 4 === 0;

// Shapes: "string", "integer", "float", "boolean", "document" (any JSON), "blob" (base64),
// { list }, { map }, { structure, required? }, { union } (exactly one member), { enum }.
const S = "string";
const I = "integer";
const F = "float";
const B = "boolean";
const DOC = "document";
const list = (of, constraints = {}) => ({ list: of, ...constraints });
const structure = (members, required = []) => ({ structure: members, required });
const union = (members) => ({ union: members });
const enumOf = (...values) => ({ enum: values });
const ranged = (type, min, max) => ({ type, min, max });

const IMAGE = structure({ format: enumOf("png", "jpeg", "gif", "webp"), source: union({ bytes: "blob", s3Location: structure({ uri: S, bucketOwner: S }, ["uri"]) }) }, ["format", "source"]);
const DOCUMENT = structure({ format: enumOf("pdf", "csv", "doc", "docx", "xls", "xlsx", "html", "txt", "md"), name: S, source: union({ bytes: "blob", s3Location: structure({ uri: S }, ["uri"]), text: S, content: list(DOC) }), context: S, citations: structure({ enabled: B }) }, ["name", "source"]);
const TOOL_RESULT_CONTENT = union({ json: DOC, text: S, image: IMAGE, document: DOCUMENT, video: DOC });
const CACHE_POINT = structure({ type: enumOf("default") }, ["type"]);
const CONTENT_BLOCK = union({
  text: S,
  image: IMAGE,
  document: DOCUMENT,
  video: DOC,
  toolUse: structure({ toolUseId: ranged(S, 1, 64), name: ranged(S, 1, 64), input: DOC, type: S }, ["toolUseId", "name", "input"]),
  toolResult: structure({ toolUseId: ranged(S, 1, 64), content: list(TOOL_RESULT_CONTENT), status: enumOf("success", "error"), type: S }, ["toolUseId", "content"]),
  guardContent: DOC,
  cachePoint: CACHE_POINT,
  reasoningContent: DOC,
  citationsContent: DOC,
});
const MESSAGE = structure({ role: enumOf("user", "assistant"), content: list(CONTENT_BLOCK) }, ["role", "content"]);
const SYSTEM_BLOCK = union({ text: S, guardContent: DOC, cachePoint: CACHE_POINT });
const TOOL = union({
  toolSpec: structure({ name: { type: S, min: 1, max: 64, pattern: "[a-zA-Z0-9_-]+" }, description: ranged(S, 1, undefined), inputSchema: union({ json: DOC }), strict: B }, ["name", "inputSchema"]),
  systemTool: DOC,
  cachePoint: CACHE_POINT,
});
const TOOL_CHOICE = union({ auto: structure({}), any: structure({}), tool: structure({ name: { type: S, min: 1, max: 64, pattern: "[a-zA-Z0-9_-]+" } }, ["name"]) });
const CONVERSE = structure({
  messages: list(MESSAGE),
  system: list(SYSTEM_BLOCK),
  inferenceConfig: structure({ maxTokens: ranged(I, 1, undefined), temperature: ranged(F, 0, 1), topP: ranged(F, 0, 1), stopSequences: list(ranged(S, 1, undefined)) }),
  toolConfig: structure({ tools: list(TOOL, { min: 1 }), toolChoice: TOOL_CHOICE }, ["tools"]),
  guardrailConfig: structure({ guardrailIdentifier: S, guardrailVersion: S, trace: enumOf("enabled", "disabled", "enabled_full"), streamProcessingMode: enumOf("sync", "async") }, ["guardrailIdentifier", "guardrailVersion"]),
  additionalModelRequestFields: DOC,
  promptVariables: DOC,
  additionalModelResponseFieldPaths: list(S),
  requestMetadata: { map: S },
  performanceConfig: structure({ latency: enumOf("standard", "optimized") }),
  serviceTier: structure({ type: enumOf("priority", "default", "flex", "reserved") }, ["type"]),
});

const TYPE_NAMES = { string: "a String", integer: "an Integer", float: "a Float", boolean: "a Boolean" };
const tokenOf = (value) => (typeof value === "string" ? "STRING_VALUE" : typeof value === "number" ? "NUMBER_VALUE" : typeof value === "boolean" ? "BOOLEAN_VALUE" : "VALUE");
const serialization = (message) => new Rejected("SerializationException", message, "Message");
const shown = (value) => (value === null || value === undefined ? "null" : `'${typeof value === "string" ? value : JSON.stringify(value)}'`);

/**
 * Walks `value` as `shape` at `path` (Smithy's: members by name, list items `.N.member`)
 * and `pointer` (a JSON pointer, for unknown keys): throws a SerializationException for a
 * wrong JSON type or an unknown key, collects constraint failures in `violations`.
 */
function walk(shape, value, path, pointer, violations) {
  if (value === undefined || value === null) return;
  const type = typeof shape === "string" ? shape : shape.type;
  if (type) {
    if (type === DOC) return;
    if (type === "blob") {
      if (typeof value !== "string") throw serialization(`${tokenOf(value)} can not be converted to a Blob`);
      if (!isBase64(value)) throw serialization(`Invalid Base64 encoding of the value at '${path}'`);
      return;
    }
    const fits = { string: typeof value === "string", integer: Number.isInteger(value), float: typeof value === "number", boolean: typeof value === "boolean" }[type];
    if (Array.isArray(value)) throw serialization("Start of list found where not expected");
    if (isObject(value)) throw serialization("Start of structure or map found where not expected.");
    if (!fits) throw serialization(`${tokenOf(value)} can not be converted to ${TYPE_NAMES[type]}`);
    const size = type === "string" ? value.length : value;
    const word = type === "string" ? "have length" : "have value";
    if (shape.min !== undefined && size < shape.min) violations.push(`Value ${shown(value)} at '${path}' failed to satisfy constraint: Member must ${word} greater than or equal to ${shape.min}`);
    if (shape.max !== undefined && size > shape.max) violations.push(`Value ${shown(value)} at '${path}' failed to satisfy constraint: Member must ${word} less than or equal to ${shape.max}`);
    if (shape.pattern && !new RegExp(`^(?:${shape.pattern})$`).test(value)) violations.push(`Value ${shown(value)} at '${path}' failed to satisfy constraint: Member must satisfy regular expression pattern: ${shape.pattern}`);
    return;
  }
  if (shape.enum) {
    if (typeof value !== "string") throw serialization(`${tokenOf(value)} can not be converted to a String`);
    if (!shape.enum.includes(value)) violations.push(`Value ${shown(value)} at '${path}' failed to satisfy constraint: Member must satisfy enum value set: [${shape.enum.join(", ")}]`);
    return;
  }
  if (shape.list) {
    if (!Array.isArray(value)) throw serialization(isObject(value) ? "Start of structure or map found where not expected." : `${tokenOf(value)} can not be converted to a List`);
    if (shape.min !== undefined && value.length < shape.min) violations.push(`Value '[]' at '${path}' failed to satisfy constraint: Member must have length greater than or equal to ${shape.min}`);
    value.forEach((item, i) => walk(shape.list, item, `${path}.${i + 1}.member`, `${pointer}/${i}`, violations));
    return;
  }
  if (Array.isArray(value)) throw serialization("Start of list found where not expected");
  if (!isObject(value)) throw serialization(`${tokenOf(value)} can not be converted to a Structure`);
  if (shape.map) {
    for (const [key, item] of Object.entries(value)) walk(shape.map, item, `${path}.${key}`, `${pointer}/${key}`, violations);
    return;
  }
  const members = shape.structure ?? shape.union;
  for (const key of Object.keys(value)) {
    if (!Object.hasOwn(members, key)) {
      throw new Rejected("ValidationException", `Malformed input request: ${pointer || "#"}: extraneous key [${key}] is not permitted, please reformat your input and try again.`);
    }
  }
  for (const key of shape.required ?? []) {
    if (value[key] === undefined || value[key] === null) violations.push(`Value null at '${path ? `${path}.` : ""}${key}' failed to satisfy constraint: Member must not be null`);
  }
  if (shape.union) {
    const set = Object.keys(value).filter((key) => value[key] !== null && value[key] !== undefined);
    if (set.length !== 1) violations.push(`Value at '${path}' failed to satisfy constraint: Member must have exactly one member set`);
  }
  for (const [key, item] of Object.entries(value)) walk(members[key], item, path ? `${path}.${key}` : key, `${pointer || "#"}/${key}`, violations);
}

function constraints(shape, body) {
  const violations = [];
  walk(shape, body, "", "", violations);
  if (violations.length > 0) {
    const count = violations.length === 1 ? "1 validation error detected" : `${violations.length} validation errors detected`;
    throw new Rejected("ValidationException", `${count}: ${violations.join("; ")}`);
  }
}

const rule = (message) => {
  throw new Rejected("ValidationException", message);
};

/** Converse's rules over its messages, system blocks and tools. */
function conversationRules(body) {
  const messages = body.messages ?? [];
  if (messages.length === 0 || messages[0].role !== "user") rule("A conversation must start with a user message. Try again with a conversation that starts with a user message.");
  for (const [i, message] of messages.entries()) {
    if (i > 0 && messages[i - 1].role === message.role) {
      rule("A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.");
    }
    for (const [j, block] of message.content.entries()) {
      if (typeof block.text === "string" && block.text.trim() === "") rule(`The text field in the ContentBlock object at messages.${i}.content.${j} is blank. Add text to the text field, and try again.`);
    }
  }
  for (const [i, block] of (body.system ?? []).entries()) {
    if (typeof block.text === "string" && block.text.trim() === "") rule(`The text field in the SystemContentBlock object at system.${i} is blank. Add text to the text field, and try again.`);
  }
  const usesTools = messages.some((message) => message.content.some((block) => block.toolUse || block.toolResult));
  if (usesTools && !body.toolConfig) rule("The toolConfig field must be defined when using toolUse and toolResult content blocks.");
  for (const [i, message] of messages.entries()) {
    const uses = message.role === "assistant" ? message.content.filter((block) => block.toolUse).map((block) => block.toolUse.toolUseId) : [];
    const results = (messages[i + 1]?.content ?? []).filter((block) => block.toolResult).map((block) => block.toolResult.toolUseId);
    if (results.length > uses.length) rule(`The number of toolResult blocks at messages.${i + 1}.content exceeds the number of toolUse blocks of previous turn.`);
    const unanswered = uses.filter((id) => !results.includes(id));
    if (unanswered.length > 0 && messages[i + 1]) rule(`Expected toolResult blocks at messages.${i + 1}.content for the following Ids: ${unanswered.join(", ")}`);
  }
  for (const [i, tool] of (body.toolConfig?.tools ?? []).entries()) {
    const schema = tool.toolSpec?.inputSchema?.json;
    if (tool.toolSpec && (!isObject(schema) || schema.type !== "object")) rule(`The value at toolConfig.tools.${i}.toolSpec.inputSchema.json.type must be one of the following: object.`);
  }
}

/** Checks a Converse (or ConverseStream) body. */
export function checkConverse(body) {
  constraints(CONVERSE, body);
  conversationRules(body);
}

// The embedding models' bodies, checked by InvokeModel against each model's JSON schema.
const EMBEDDINGS = {
  "titan-v1": { required: ["inputText"], known: ["inputText"] },
  "titan-v2": { required: ["inputText"], known: ["inputText", "dimensions", "normalize", "embeddingTypes"] },
  cohere: { required: ["texts", "input_type"], known: ["texts", "input_type", "truncate", "embedding_types", "images", "inputs", "output_dimension", "max_tokens"] },
};

const malformed = (pointer, what) => rule(`Malformed input request: ${pointer}: ${what}, please reformat your input and try again.`);

/** Checks an InvokeModel body for an embedding model of `kind` ("titan-v1", "titan-v2", "cohere"). */
export function checkEmbedding(kind, body) {
  if (!isObject(body)) malformed("#", "expected type: JSONObject, found: " + (Array.isArray(body) ? "JSONArray" : typeof body));
  const { required, known } = EMBEDDINGS[kind];
  for (const key of Object.keys(body)) if (!known.includes(key)) malformed("#", `extraneous key [${key}] is not permitted`);
  for (const key of required) if (!(key in body)) malformed("#", `required key [${key}] not found`);
  if (kind.startsWith("titan")) {
    if (typeof body.inputText !== "string") malformed("#/inputText", `expected type: String, found: ${typeof body.inputText}`);
    if (body.inputText.length === 0) malformed("#/inputText", "expected minLength: 1, actual: 0");
    if (body.dimensions !== undefined && ![256, 512, 1024].includes(body.dimensions)) malformed("#/dimensions", `${body.dimensions} is not a valid enum value`);
    if (body.normalize !== undefined && typeof body.normalize !== "boolean") malformed("#/normalize", `expected type: Boolean, found: ${typeof body.normalize}`);
    return;
  }
  if (!Array.isArray(body.texts)) malformed("#/texts", "expected type: JSONArray, found: " + typeof body.texts);
  if (body.texts.length > 96) malformed("#/texts", `expected maximum item count: 96, found: ${body.texts.length}`);
  body.texts.forEach((text, i) => typeof text !== "string" && malformed(`#/texts/${i}`, `expected type: String, found: ${typeof text}`));
  const inputTypes = ["search_document", "search_query", "classification", "clustering", "image"];
  if (!inputTypes.includes(body.input_type)) malformed("#/input_type", `${body.input_type} is not a valid enum value`);
}
