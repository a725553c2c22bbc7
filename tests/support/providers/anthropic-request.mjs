// The checks Anthropic's Messages API runs on a request body, with its messages: the
// schema's (a field path, then pydantic's words: "max_tokens: Field required",
// "tools.0.custom.name: String should match pattern ...", "foo: Extra inputs are not
// permitted") and the API's own rules (no "system" role in messages, non-empty content,
// tool_use / tool_result pairing, an image's bytes matching its media type, unique tool
// names, thinking's budget). `checkMessagesRequest(body, limits)` throws `Invalid` with
// the message the real API answers with a 400 invalid_request_error.
//
// Known and checked: model, max_tokens, messages (text, image, document, search_result,
// thinking, redacted_thinking, tool_use, tool_result blocks), system, metadata,
// stop_sequences, stream, temperature, top_p, top_k, tools (custom tools in full, server
// tools by their type), tool_choice, thinking, service_tier; accepted as they come:
// cache_control, container, inference_geo, output_config, user_profile_id. On Vertex AI
// (`{ vertex: true }`) the body has no `model` and must say anthropic_version
// "vertex-2023-10-16".

export class Invalid extends Error {}

const fail = (loc, message) => {
  throw new Invalid(loc ? `${loc}: ${message}` : message);
};
const at = (loc, key) => (loc ? `${loc}.${key}` : String(key));
const isObject = (value) => value !== null && typeof value === "object" && !Array.isArray(value);
const quoted = (values) => {
  const items = values.map((v) => `'${v}'`);
  return items.length === 1 ? items[0] : `${items.slice(0, -1).join(", ")} or ${items.at(-1)}`;
};

/**
 * A dictionary with `required` and `optional` keys: missing keys first, then `fields`
 * (checking the values), then keys it does not know, in the order pydantic reports them.
 */
function object(value, loc, required, optional, fields = () => {}) {
  if (!isObject(value)) fail(loc, "Input should be a valid dictionary");
  for (const key of required) if (!(key in value)) fail(at(loc, key), "Field required");
  fields();
  for (const key of Object.keys(value)) {
    if (!required.includes(key) && !optional.includes(key)) fail(at(loc, key), "Extra inputs are not permitted");
  }
  return value;
}
function string(value, loc) {
  if (typeof value !== "string") fail(loc, "Input should be a valid string");
}
function boolean(value, loc) {
  if (typeof value !== "boolean") fail(loc, "Input should be a valid boolean");
}
function number(value, loc, { ge, le } = {}) {
  if (typeof value !== "number" || !Number.isFinite(value)) fail(loc, "Input should be a valid number");
  if (ge !== undefined && value < ge) fail(loc, `Input should be greater than or equal to ${ge}`);
  if (le !== undefined && value > le) fail(loc, `Input should be less than or equal to ${le}`);
}
function integer(value, loc, bounds) {
  if (typeof value === "number" && Number.isFinite(value) && !Number.isInteger(value)) {
    fail(loc, "Input should be a valid integer, got a number with a fractional part");
  }
  if (!Number.isInteger(value)) fail(loc, "Input should be a valid integer");
  number(value, loc, bounds);
}
function list(value, loc) {
  if (!Array.isArray(value)) fail(loc, "Input should be a valid list");
  return value;
}
function literal(value, loc, values) {
  if (!values.includes(value)) fail(loc, `Input should be ${quoted(values)}`);
}
function pattern(value, loc, regex) {
  string(value, loc);
  if (!new RegExp(regex).test(value)) fail(loc, `String should match pattern '${regex}'`);
}
/** A union told apart by `type`: returns the tag, which joins the path as pydantic's does. */
function tag(value, loc, tags) {
  if (!isObject(value)) fail(loc, "Input should be a valid dictionary");
  if (!("type" in value)) fail(loc, "Unable to extract tag using discriminator 'type'");
  if (!tags.includes(value.type)) {
    fail(loc, `Input tag '${value.type}' found using 'type' does not match any of the expected tags: ${tags.map((t) => `'${t}'`).join(", ")}`);
  }
  return value.type;
}
const optional = (value, check) => value === undefined || value === null || check();

function cacheControl(value, loc) {
  optional(value, () => {
    object(value, loc, ["type"], ["ttl"], () => {
      literal(value.type, at(loc, "type"), ["ephemeral"]);
      optional(value.ttl, () => literal(value.ttl, at(loc, "ttl"), ["5m", "1h"]));
    });
  });
}

function textBlock(block, loc) {
  object(block, loc, ["text", "type"], ["cache_control", "citations"], () => {
    string(block.text, at(loc, "text"));
    cacheControl(block.cache_control, at(loc, "cache_control"));
    optional(block.citations, () => list(block.citations, at(loc, "citations")));
  });
}

const IMAGE_TYPES = ["image/jpeg", "image/png", "image/gif", "image/webp"];

/** The image type its first bytes show, or null. */
function sniffImage(data) {
  const bytes = Buffer.from(data, "base64");
  if (bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return "image/png";
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "image/jpeg";
  if (bytes.subarray(0, 4).toString("latin1") === "GIF8") return "image/gif";
  if (bytes.subarray(0, 4).toString("latin1") === "RIFF" && bytes.subarray(8, 12).toString("latin1") === "WEBP") return "image/webp";
  return null;
}

function imageBlock(block, loc) {
  object(block, loc, ["source", "type"], ["cache_control"], () => {
    imageSource(block.source, at(loc, "source"));
    cacheControl(block.cache_control, at(loc, "cache_control"));
  });
}

function imageSource(source, loc) {
  const kind = tag(source, loc, ["base64", "url", "file"]);
  const here = at(loc, kind);
  if (kind === "base64") {
    object(source, here, ["data", "media_type", "type"], [], () => {
      literal(source.media_type, at(here, "media_type"), IMAGE_TYPES);
      string(source.data, at(here, "data"));
    });
    const actual = sniffImage(source.data);
    if (actual === null) fail(here, "Could not process image");
    if (actual !== source.media_type) {
      fail(here, `The image was specified using the ${source.media_type} media type, but the image appears to be a ${actual} image`);
    }
  } else {
    urlOrFile(source, here, kind);
  }
}

/** A `url` or `file` source. */
function urlOrFile(source, loc, kind) {
  const key = kind === "url" ? "url" : "file_id";
  object(source, loc, [key, "type"], [], () => string(source[key], at(loc, key)));
}

function documentBlock(block, loc) {
  object(block, loc, ["source", "type"], ["cache_control", "citations", "context", "title"], () => {
    documentSource(block.source, at(loc, "source"));
    cacheControl(block.cache_control, at(loc, "cache_control"));
    optional(block.title, () => string(block.title, at(loc, "title")));
    optional(block.context, () => string(block.context, at(loc, "context")));
    const citations = block.citations;
    optional(citations, () => {
      object(citations, at(loc, "citations"), [], ["enabled"], () => {
        optional(citations.enabled, () => boolean(citations.enabled, at(loc, "citations.enabled")));
      });
    });
  });
}

function documentSource(source, loc) {
  const kind = tag(source, loc, ["base64", "text", "content", "url", "file"]);
  const here = at(loc, kind);
  if (kind === "base64" || kind === "text") {
    object(source, here, ["data", "media_type", "type"], [], () => {
      literal(source.media_type, at(here, "media_type"), [kind === "base64" ? "application/pdf" : "text/plain"]);
      string(source.data, at(here, "data"));
    });
  } else if (kind === "content") {
    object(source, here, ["content", "type"], [], () => {
      if (typeof source.content === "string") return;
      for (const [i, item] of list(source.content, at(here, "content")).entries()) {
        const itemLoc = at(at(here, "content"), i);
        const itemKind = tag(item, itemLoc, ["text", "image"]);
        (itemKind === "text" ? textBlock : imageBlock)(item, at(itemLoc, itemKind));
      }
    });
  } else {
    urlOrFile(source, here, kind);
  }
}

function searchResultBlock(block, loc) {
  object(block, loc, ["content", "source", "title", "type"], ["cache_control", "citations"], () => {
    string(block.source, at(loc, "source"));
    string(block.title, at(loc, "title"));
    for (const [i, item] of list(block.content, at(loc, "content")).entries()) {
      const itemLoc = at(at(loc, "content"), i);
      tag(item, itemLoc, ["text"]);
      textBlock(item, at(itemLoc, "text"));
    }
  });
}

function toolResultBlock(block, loc) {
  object(block, loc, ["tool_use_id", "type"], ["cache_control", "content", "is_error"], () => {
    pattern(block.tool_use_id, at(loc, "tool_use_id"), "^[a-zA-Z0-9_-]+$");
    cacheControl(block.cache_control, at(loc, "cache_control"));
    optional(block.is_error, () => boolean(block.is_error, at(loc, "is_error")));
    if (block.content === undefined || typeof block.content === "string") return;
    for (const [i, item] of list(block.content, at(loc, "content")).entries()) {
      const itemLoc = at(at(loc, "content"), i);
      const kind = tag(item, itemLoc, ["text", "image", "search_result", "document"]);
      RESULT_BLOCKS[kind](item, at(itemLoc, kind));
    }
  });
}
const RESULT_BLOCKS = { text: textBlock, image: imageBlock, search_result: searchResultBlock, document: documentBlock };

const CONTENT_BLOCKS = {
  text: textBlock,
  image: imageBlock,
  document: documentBlock,
  search_result: searchResultBlock,
  thinking(block, loc) {
    object(block, loc, ["signature", "thinking", "type"], [], () => {
      string(block.thinking, at(loc, "thinking"));
      string(block.signature, at(loc, "signature"));
    });
  },
  redacted_thinking(block, loc) {
    object(block, loc, ["data", "type"], [], () => string(block.data, at(loc, "data")));
  },
  tool_use(block, loc) {
    object(block, loc, ["id", "input", "name", "type"], ["cache_control"], () => {
      pattern(block.id, at(loc, "id"), "^[a-zA-Z0-9_-]+$");
      string(block.name, at(loc, "name"));
      if (!isObject(block.input)) fail(at(loc, "input"), "Input should be a valid dictionary");
      cacheControl(block.cache_control, at(loc, "cache_control"));
    });
  },
  tool_result: toolResultBlock,
};

/** The blocks of one message, checked; a string content stands for one text block. */
function contentBlocks(message, loc) {
  const content = message.content;
  if (typeof content === "string") return content === "" ? [] : [{ type: "text", text: content }];
  const blocks = list(content, at(loc, "content"));
  for (const [i, block] of blocks.entries()) {
    const blockLoc = at(at(loc, "content"), i);
    const kind = tag(block, blockLoc, Object.keys(CONTENT_BLOCKS));
    CONTENT_BLOCKS[kind](block, at(blockLoc, kind));
  }
  return blocks;
}

function messages(value) {
  const all = list(value, "messages");
  if (all.length === 0) fail("messages", "at least one message is required");
  const turns = all.map((message, i) => {
    const loc = at("messages", i);
    if (isObject(message) && message.role === "system") {
      fail("messages", 'Unexpected role "system". The Messages API accepts a top-level `system` parameter, not "system" as an input message role.');
    }
    let blocks;
    object(message, loc, ["content", "role"], [], () => {
      literal(message.role, at(loc, "role"), ["user", "assistant"]);
      blocks = contentBlocks(message, loc);
    });
    return { role: message.role, blocks };
  });
  for (const [i, turn] of turns.entries()) {
    const last = i === turns.length - 1;
    if (turn.blocks.length === 0 && !(last && turn.role === "assistant")) {
      fail(at("messages", i), "all messages must have non-empty content except for the optional final assistant message");
    }
    if (turn.blocks.some((b) => b.type === "text" && b.text === "")) fail("messages", "text content blocks must be non-empty");
    if (last && turn.role === "assistant") {
      const end = turn.blocks.at(-1);
      if (end?.type === "text" && /\s$/.test(end.text)) fail("messages", "final assistant content cannot end with trailing whitespace");
    }
  }
  checkToolPairs(turns);
}

/** Each tool_use is answered by a tool_result in the next message, and only so. */
function checkToolPairs(turns) {
  for (const [i, turn] of turns.entries()) {
    const previousUses = i > 0 && turns[i - 1].role === "assistant" ? turns[i - 1].blocks.filter((b) => b.type === "tool_use").map((b) => b.id) : [];
    for (const [j, block] of turn.blocks.entries()) {
      if (block.type === "tool_result" && !previousUses.includes(block.tool_use_id)) {
        fail(`messages.${i}.content.${j}`, `unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${block.tool_use_id}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`);
      }
    }
    if (turn.role !== "assistant") continue;
    const answered = new Set((turns[i + 1]?.blocks ?? []).filter((b) => b.type === "tool_result").map((b) => b.tool_use_id));
    const unanswered = turn.blocks.filter((b) => b.type === "tool_use" && !answered.has(b.id)).map((b) => b.id);
    if (unanswered.length > 0) {
      fail(`messages.${i}`, `\`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${unanswered.join(", ")}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`);
    }
  }
}

function system(value) {
  if (typeof value === "string") return;
  for (const [i, block] of list(value, "system").entries()) {
    const loc = at("system", i);
    if (!isObject(block)) fail(loc, "Input should be a valid dictionary");
    literal(block.type, at(loc, "type"), ["text"]);
    textBlock(block, loc);
    if (block.text === "") fail("system", "text content blocks must be non-empty");
  }
}

// Anthropic-defined tools, told apart from custom tools by their `type`.
const SERVER_TOOLS = [
  "bash_20250124", "code_execution_20250522", "code_execution_20250825", "memory_20250818",
  "text_editor_20250124", "text_editor_20250429", "text_editor_20250728",
  "web_fetch_20250910", "web_search_20250305", "tool_search_tool_bm25_20251119", "tool_search_tool_regex_20251119",
];

function tools(value) {
  const names = [];
  for (const [i, tool] of list(value, "tools").entries()) {
    const loc = at("tools", i);
    if (!isObject(tool)) fail(loc, "Input should be a valid dictionary");
    if (tool.type !== undefined && tool.type !== null && tool.type !== "custom") {
      tag(tool, loc, ["custom", ...SERVER_TOOLS]);
      names.push(tool.name);
      continue;
    }
    const here = at(loc, "custom");
    const known = ["allowed_callers", "cache_control", "defer_loading", "description", "eager_input_streaming", "input_examples", "strict", "type"];
    object(tool, here, ["input_schema", "name"], known, () => {
      pattern(tool.name, at(here, "name"), "^[a-zA-Z0-9_-]{1,128}$");
      const schema = tool.input_schema;
      if (!isObject(schema)) fail(at(here, "input_schema"), "Input should be a valid dictionary");
      if (!("type" in schema)) fail(at(here, "input_schema.type"), "Field required");
      literal(schema.type, at(here, "input_schema.type"), ["object"]);
      optional(tool.description, () => string(tool.description, at(here, "description")));
      cacheControl(tool.cache_control, at(here, "cache_control"));
    });
    names.push(tool.name);
  }
  if (new Set(names).size !== names.length) fail("tools", "Tool names must be unique.");
}

function toolChoice(value) {
  const kind = tag(value, "tool_choice", ["auto", "any", "tool", "none"]);
  const loc = at("tool_choice", kind);
  if (kind === "none") return object(value, loc, ["type"], []);
  object(value, loc, kind === "tool" ? ["name", "type"] : ["type"], ["disable_parallel_tool_use"], () => {
    if (kind === "tool") string(value.name, at(loc, "name"));
    optional(value.disable_parallel_tool_use, () => boolean(value.disable_parallel_tool_use, at(loc, "disable_parallel_tool_use")));
  });
}

function thinking(value) {
  const kind = tag(value, "thinking", ["enabled", "disabled", "adaptive"]);
  const loc = at("thinking", kind);
  if (kind === "disabled") return object(value, loc, ["type"], []);
  object(value, loc, kind === "enabled" ? ["budget_tokens", "type"] : ["type"], ["display"], () => {
    if (kind === "enabled") integer(value.budget_tokens, at(loc, "budget_tokens"), { ge: 1024 });
    optional(value.display, () => literal(value.display, at(loc, "display"), ["summarized", "omitted"]));
  });
}

const REQUIRED = ["model", "max_tokens", "messages"];
const OPTIONAL = {
  system,
  metadata(value) {
    object(value, "metadata", [], ["user_id"], () => optional(value.user_id, () => string(value.user_id, "metadata.user_id")));
  },
  stop_sequences: (value) => list(value, "stop_sequences").forEach((s, i) => string(s, at("stop_sequences", i))),
  stream: (value) => boolean(value, "stream"),
  temperature: (value) => number(value, "temperature", { ge: 0, le: 1 }),
  top_p: (value) => number(value, "top_p", { ge: 0, le: 1 }),
  top_k: (value) => integer(value, "top_k", { ge: 0 }),
  tools,
  tool_choice: toolChoice,
  thinking,
  service_tier: (value) => literal(value, "service_tier", ["auto", "standard_only"]),
  cache_control: (value) => cacheControl(value, "cache_control"),
  container() {},
  inference_geo: (value) => string(value, "inference_geo"),
  output_config: (value) => object(value, "output_config", [], Object.keys(value ?? {})),
  user_profile_id: (value) => string(value, "user_profile_id"),
};

// Vertex AI's rawPredict: the model is in the URL, the version in the body.
const VERTEX_VERSION = "vertex-2023-10-16";

/**
 * Throws `Invalid` with the real API's message when `body` is not a request it accepts.
 * `limits.maxOutputTokens` is the model's output ceiling; `limits.vertex` checks the body
 * Vertex AI takes (no `model`, `anthropic_version: "vertex-2023-10-16"`), and
 * `limits.model` names the model for messages then.
 */
export function checkMessagesRequest(body, { maxOutputTokens, vertex = false, model = body?.model }) {
  if (!isObject(body)) fail("", "Input should be a valid dictionary");
  const required = vertex ? ["anthropic_version", "max_tokens", "messages"] : REQUIRED;
  object(body, "", required, Object.keys(OPTIONAL), () => {
    if (vertex) literal(body.anthropic_version, "anthropic_version", [VERTEX_VERSION]);
    else string(body.model, "model");
    integer(body.max_tokens, "max_tokens", { ge: 1 });
    messages(body.messages);
    for (const [key, check] of Object.entries(OPTIONAL)) if (body[key] !== undefined) check(body[key]);
  });
  if (body.max_tokens > maxOutputTokens) {
    fail("max_tokens", `${body.max_tokens} > ${maxOutputTokens}, which is the maximum allowed number of output tokens for ${model}`);
  }
  if (body.thinking?.type === "enabled") {
    if (body.max_tokens <= body.thinking.budget_tokens) {
      fail("", "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size");
    }
    if (body.temperature !== undefined && body.temperature !== 1) {
      fail("", "`temperature` may only be set to 1 when thinking is enabled. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#feature-compatibility");
    }
  }
}
