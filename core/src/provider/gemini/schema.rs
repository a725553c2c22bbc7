//! JSON Schema, as OpenAI clients write tool parameters and `response_format`
//! schemas, rewritten into the OpenAPI subset that Gemini's `Schema` accepts.
//!
//! Gemini refuses a request whose schema has a keyword it does not know
//! (`additionalProperties`, `$schema`, `strict`, `$ref`, ...), so, as LiteLLM
//! does, every node keeps only the keywords of Gemini's `Schema` and the rest
//! is rewritten or dropped:
//! - `$ref` to `#/$defs/...` or `#/definitions/...` is inlined (a `description`
//!   beside it kept); a reference that reaches itself is refused, as Gemini's
//!   schema cannot express recursion;
//! - `anyOf` (and `oneOf`, which Gemini lacks: loosened to `anyOf`) loses its
//!   `{"type": "null"}` branch, the others become `nullable`; a single branch
//!   left is inlined; the node's `title` and `description` move into the branches
//!   and its other keywords are dropped, as Gemini refuses siblings of `anyOf`;
//! - `type: [T, "null"]` becomes `type: T, nullable: true`, several types an `anyOf`;
//! - `allOf` is merged into its node (properties and `required` joined);
//! - a string `const` becomes a one-value `enum`; an `enum` of strings without
//!   a type gets `type: string`;
//! - `format` is kept only where Gemini knows it (`enum`, `date-time` for
//!   strings, `float`/`double`, `int32`/`int64` for numbers);
//! - `properties` makes a node `type: object`; `required` keeps only names of
//!   its properties; `items: {}` becomes `items: {"type": "object"}` (LiteLLM's
//!   choice: Gemini wants a type there);
//! - for structured output, `propertyOrdering` lists the properties in the
//!   order the parsed schema holds them. Gemini writes an answer's keys in that
//!   order, which matters when one is meant to come first (a `reasoning` before
//!   an `answer`). serde_json sorts an object's keys unless its `preserve_order`
//!   feature is on, and it is off (the cache key relies on sorted keys): until
//!   then the order is alphabetical, as Gemini's own default.

use serde_json::{Map, Value};

/// The keywords of Gemini's `Schema` (everything else is dropped).
const KEPT: &[&str] = &[
    "type",
    "format",
    "title",
    "description",
    "nullable",
    "default",
    "items",
    "minItems",
    "maxItems",
    "enum",
    "properties",
    "propertyOrdering",
    "required",
    "minProperties",
    "maxProperties",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "pattern",
    "example",
    "anyOf",
];

/// Nesting beyond this is refused rather than followed (a schema is data from the client).
const MAX_DEPTH: usize = 64;

/// `schema` in Gemini's form; `Err` says what cannot be expressed.
pub fn to_gemini(schema: &Value, property_ordering: bool) -> Result<Value, String> {
    let definitions = |key: &str| schema.get(key).and_then(Value::as_object);
    let mut rewriter = Rewriter {
        defs: definitions("$defs"),
        definitions: definitions("definitions"),
        property_ordering,
        resolving: Vec::new(),
    };
    rewriter.node(schema, 0).map(Value::Object)
}

struct Rewriter<'s> {
    defs: Option<&'s Map<String, Value>>,
    definitions: Option<&'s Map<String, Value>>,
    property_ordering: bool,
    /// The definitions being inlined, outermost first: one met again is a cycle.
    resolving: Vec<&'s str>,
}

impl<'s> Rewriter<'s> {
    fn node(&mut self, schema: &Value, depth: usize) -> Result<Map<String, Value>, String> {
        if depth > MAX_DEPTH {
            return Err(format!("the schema nests deeper than {MAX_DEPTH} levels"));
        }
        let node = match schema {
            Value::Object(node) => node,
            // The `true` schema accepts anything: no constraint to carry.
            Value::Bool(true) => return Ok(Map::new()),
            other => return Err(format!("a schema must be an object, not `{other}`")),
        };
        if let Some(reference) = node.get("$ref") {
            return self.reference(node, reference, depth);
        }
        if let Some(types) = node.get("type").and_then(Value::as_array) {
            return self.type_list(node, types, depth);
        }
        let mut out = Map::new();
        if let Some(all_of) = node.get("allOf").and_then(Value::as_array) {
            for branch in all_of {
                let branch = self.node(branch, depth + 1)?;
                merge(&mut out, branch);
            }
        }
        let branches = node.get("anyOf").or_else(|| node.get("oneOf")).and_then(Value::as_array);
        if let Some(branches) = branches {
            return self.any_of(node, branches, out, depth);
        }
        for (key, value) in node {
            match key.as_str() {
                "properties" => {
                    let Value::Object(properties) = value else { continue };
                    let mut rewritten = Map::new();
                    for (name, property) in properties {
                        rewritten.insert(name.clone(), Value::Object(self.node(property, depth + 1)?));
                    }
                    if self.property_ordering && !node.contains_key("propertyOrdering") {
                        let order = properties.keys().map(|name| Value::String(name.clone())).collect();
                        out.insert("propertyOrdering".to_owned(), Value::Array(order));
                    }
                    match out.get_mut("properties") {
                        Some(Value::Object(merged)) => merged.extend(rewritten),
                        _ => {
                            out.insert("properties".to_owned(), Value::Object(rewritten));
                        }
                    }
                }
                "items" if value.is_object() || value.is_boolean() => {
                    let mut items = self.node(value, depth + 1)?;
                    if items.is_empty() {
                        items.insert("type".to_owned(), Value::from("object"));
                    }
                    out.insert("items".to_owned(), Value::Object(items));
                }
                "const" if value.is_string() && !node.contains_key("enum") => {
                    out.insert("enum".to_owned(), Value::Array(vec![value.clone()]));
                }
                // Tuple `items` (an array) say nothing Gemini can hold; a non-string `const` neither.
                "items" | "const" => {}
                "required" => {
                    if let Value::Array(names) = value {
                        let mut required = match out.remove("required") {
                            Some(Value::Array(merged)) => merged,
                            _ => Vec::new(),
                        };
                        for name in names {
                            if !required.contains(name) {
                                required.push(name.clone());
                            }
                        }
                        out.insert("required".to_owned(), Value::Array(required));
                    }
                }
                key if KEPT.contains(&key) => {
                    out.insert(key.to_owned(), value.clone());
                }
                _ => {}
            }
        }
        finish(&mut out);
        Ok(out)
    }

    /// A `$ref`, inlined.
    fn reference(
        &mut self,
        node: &Map<String, Value>,
        reference: &Value,
        depth: usize,
    ) -> Result<Map<String, Value>, String> {
        let reference = reference.as_str().unwrap_or_default();
        let (table, name) = if let Some(name) = reference.strip_prefix("#/$defs/") {
            (self.defs, name)
        } else if let Some(name) = reference.strip_prefix("#/definitions/") {
            (self.definitions, name)
        } else {
            return Err(format!("`$ref: {reference}`: only references to `#/$defs/...` can be inlined"));
        };
        let Some((name, target)) = table.and_then(|table| table.get_key_value(name)) else {
            return Err(format!("`$ref: {reference}` names no definition"));
        };
        if self.resolving.contains(&name.as_str()) {
            return Err(format!("`{name}` refers to itself, which Gemini's schema cannot express"));
        }
        self.resolving.push(name);
        let mut out = self.node(target, depth + 1)?;
        self.resolving.pop();
        // A description beside the reference describes this use of the definition.
        if let Some(description) = node.get("description") {
            out.insert("description".to_owned(), description.clone());
        }
        Ok(out)
    }

    /// `type: [...]`: `null` becomes `nullable`, several types an `anyOf`.
    fn type_list(
        &mut self,
        node: &Map<String, Value>,
        types: &[Value],
        depth: usize,
    ) -> Result<Map<String, Value>, String> {
        let nullable = types.iter().any(|t| t == "null");
        let others: Vec<&Value> = types.iter().filter(|t| *t != "null").collect();
        let single = |node: &Map<String, Value>, kind: &Value| {
            let mut copy = node.clone();
            copy.insert("type".to_owned(), kind.clone());
            copy
        };
        let rewritten = match others.as_slice() {
            [] => single(node, &Value::from("null")),
            [kind] => single(node, kind),
            kinds => {
                let mut any_of = Map::new();
                for key in ["title", "description"] {
                    if let Some(value) = node.get(key) {
                        any_of.insert(key.to_owned(), value.clone());
                    }
                }
                let branches = kinds.iter().map(|kind| Value::Object(single(node, kind))).collect();
                any_of.insert("anyOf".to_owned(), Value::Array(branches));
                any_of
            }
        };
        let mut out = self.node(&Value::Object(rewritten), depth + 1)?;
        if nullable && !others.is_empty() {
            set_nullable(&mut out);
        }
        Ok(out)
    }

    /// `anyOf` / `oneOf`, with what `allOf` already merged into `out`.
    fn any_of(
        &mut self,
        node: &Map<String, Value>,
        branches: &[Value],
        mut out: Map<String, Value>,
        depth: usize,
    ) -> Result<Map<String, Value>, String> {
        let is_null = |branch: &Value| branch.get("type").is_some_and(|t| t == "null");
        let nullable = branches.iter().any(is_null);
        let mut kept = Vec::new();
        for branch in branches.iter().filter(|branch| !is_null(branch)) {
            let mut branch = self.node(branch, depth + 1)?;
            if branch.is_empty() {
                branch.insert("type".to_owned(), Value::from("object"));
            }
            kept.push(branch);
        }
        if kept.is_empty() {
            return Err("an `anyOf` of only `null` has no type Gemini can use".to_owned());
        }
        let labels: Vec<(&str, &Value)> =
            ["title", "description"].into_iter().filter_map(|key| node.get(key).map(|value| (key, value))).collect();
        if let [branch] = kept.as_mut_slice() {
            merge(&mut out, std::mem::take(branch));
            for (key, value) in labels {
                out.insert(key.to_owned(), value.clone());
            }
            if nullable {
                out.insert("nullable".to_owned(), Value::Bool(true));
            }
            return Ok(out);
        }
        let branches = kept
            .into_iter()
            .map(|mut branch| {
                for (key, value) in &labels {
                    branch.entry(*key).or_insert_with(|| (*value).clone());
                }
                if nullable {
                    branch.insert("nullable".to_owned(), Value::Bool(true));
                }
                Value::Object(branch)
            })
            .collect();
        Ok(Map::from_iter([("anyOf".to_owned(), Value::Array(branches))]))
    }
}

/// `branch` merged into `out`: properties and `required` joined, other keywords
/// kept where `out` has none.
fn merge(out: &mut Map<String, Value>, branch: Map<String, Value>) {
    for (key, value) in branch {
        match (out.get_mut(&key), value) {
            (Some(Value::Object(mine)), Value::Object(theirs)) if key == "properties" => mine.extend(theirs),
            (Some(Value::Array(mine)), Value::Array(theirs)) if key == "required" || key == "propertyOrdering" => {
                for name in theirs {
                    if !mine.contains(&name) {
                        mine.push(name);
                    }
                }
            }
            (Some(_), _) => {}
            (None, value) => {
                out.insert(key, value);
            }
        }
    }
}

fn set_nullable(node: &mut Map<String, Value>) {
    match node.get_mut("anyOf") {
        Some(Value::Array(branches)) => {
            for branch in branches.iter_mut().filter_map(Value::as_object_mut) {
                branch.insert("nullable".to_owned(), Value::Bool(true));
            }
        }
        _ => {
            node.insert("nullable".to_owned(), Value::Bool(true));
        }
    }
}

/// The checks that need the whole node: its type from its properties or enum,
/// `required` against `properties`, `format` against the type.
fn finish(node: &mut Map<String, Value>) {
    if node.contains_key("properties") {
        node.insert("type".to_owned(), Value::from("object"));
    }
    let string_enum =
        node.get("enum").and_then(Value::as_array).is_some_and(|values| values.iter().all(Value::is_string));
    if string_enum && !node.contains_key("type") {
        node.insert("type".to_owned(), Value::from("string"));
    }
    let names: Option<Vec<String>> =
        node.get("properties").and_then(Value::as_object).map(|properties| properties.keys().cloned().collect());
    if let Some(Value::Array(required)) = node.get_mut("required") {
        required.retain(|name| {
            name.as_str().is_some_and(|name| names.as_ref().is_some_and(|names| names.iter().any(|n| n == name)))
        });
    }
    if node.get("required").and_then(Value::as_array).is_none_or(Vec::is_empty) {
        node.remove("required");
    }
    let format_known = match (node.get("type").and_then(Value::as_str), node.get("format").and_then(Value::as_str)) {
        (_, None) => true,
        (Some("number"), Some(format)) => matches!(format, "float" | "double"),
        (Some("integer"), Some(format)) => matches!(format, "int32" | "int64"),
        (Some("string") | None, Some(format)) => matches!(format, "enum" | "date-time"),
        (Some(_), Some(_)) => false,
    };
    if !format_known {
        node.remove("format");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn gemini(schema: Value) -> Value {
        to_gemini(&schema, false).unwrap()
    }

    #[test]
    fn keywords_gemini_refuses_are_dropped() {
        let schema = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "weather",
            "type": "object",
            "additionalProperties": false,
            "strict": true,
            "properties": {
                "location": {"type": "string", "description": "City", "examples": ["Paris"], "format": "uri"},
                "days": {"type": "integer", "minimum": 1, "exclusiveMaximum": 15, "format": "int32"},
                "when": {"type": "string", "format": "date-time"},
            },
            "required": ["location", "missing"],
        });
        assert_eq!(
            gemini(schema),
            json!({
                "type": "object",
                "properties": {
                    "location": {"type": "string", "description": "City"},
                    "days": {"type": "integer", "minimum": 1, "format": "int32"},
                    "when": {"type": "string", "format": "date-time"},
                },
                "required": ["location"],
            })
        );
    }

    #[test]
    fn references_to_definitions_are_inlined() {
        let schema = json!({
            "type": "object",
            "properties": {
                "home": {"$ref": "#/$defs/Address", "description": "Where they live"},
                "offices": {"type": "array", "items": {"$ref": "#/$defs/Address"}},
                "legacy": {"allOf": [{"$ref": "#/definitions/Unit"}], "description": "pydantic v1"},
            },
            "$defs": {
                "Address": {"type": "object", "title": "Address", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            },
            "definitions": {"Unit": {"type": "string", "enum": ["c", "f"]}},
        });
        let address = json!({"type": "object", "title": "Address", "properties": {"city": {"type": "string"}}, "required": ["city"]});
        let mut home = address.clone();
        home["description"] = json!("Where they live");
        assert_eq!(
            gemini(schema),
            json!({
                "type": "object",
                "properties": {
                    "home": home,
                    "offices": {"type": "array", "items": address},
                    "legacy": {"type": "string", "enum": ["c", "f"], "description": "pydantic v1"},
                },
            })
        );
    }

    #[test]
    fn a_recursive_or_unknown_reference_is_refused() {
        let recursive = json!({
            "$defs": {"Node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}}},
            "$ref": "#/$defs/Node",
        });
        assert!(to_gemini(&recursive, false).unwrap_err().contains("refers to itself"));
        let unknown = json!({"type": "object", "properties": {"a": {"$ref": "#/$defs/Nope"}}});
        assert!(to_gemini(&unknown, false).unwrap_err().contains("names no definition"));
        let remote = json!({"$ref": "https://example.com/schema.json"});
        assert!(to_gemini(&remote, false).unwrap_err().contains("only references"));
    }

    #[test]
    fn null_branches_and_null_types_become_nullable() {
        let schema = json!({
            "type": "object",
            "properties": {
                "nickname": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": null, "title": "Nickname"},
                "age": {"type": ["integer", "null"]},
                "id": {"oneOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}], "description": "Either"},
                "score": {"type": ["number", "string"]},
            },
        });
        assert_eq!(
            gemini(schema),
            json!({
                "type": "object",
                "properties": {
                    "nickname": {"type": "string", "title": "Nickname", "nullable": true},
                    "age": {"type": "integer", "nullable": true},
                    "id": {"anyOf": [
                        {"type": "string", "description": "Either", "nullable": true},
                        {"type": "integer", "description": "Either", "nullable": true},
                    ]},
                    "score": {"anyOf": [{"type": "number"}, {"type": "string"}]},
                },
            })
        );
        let only_null = json!({"anyOf": [{"type": "null"}]});
        assert!(to_gemini(&only_null, false).is_err());
    }

    #[test]
    fn const_enum_properties_and_empty_items_get_their_types() {
        let schema = json!({
            "properties": {
                "kind": {"const": "circle"},
                "color": {"enum": ["red", "blue"]},
                "tags": {"type": "array", "items": {}},
            },
        });
        assert_eq!(
            gemini(schema),
            json!({
                "type": "object",
                "properties": {
                    "kind": {"type": "string", "enum": ["circle"]},
                    "color": {"type": "string", "enum": ["red", "blue"]},
                    "tags": {"type": "array", "items": {"type": "object"}},
                },
            })
        );
    }

    #[test]
    fn structured_output_lists_its_properties_in_order() {
        let schema: Value = serde_json::from_str(
            r#"{"type":"object","properties":{"zeta":{"type":"string"},"alpha":{"type":"object","properties":{"y":{"type":"number"},"b":{"type":"number"}}}}}"#,
        )
        .unwrap();
        let order = |properties: &Value| -> Value { properties.as_object().unwrap().keys().cloned().collect() };
        let rewritten = to_gemini(&schema, true).unwrap();
        assert_eq!(rewritten["propertyOrdering"], order(&schema["properties"]));
        assert_eq!(
            rewritten["properties"]["alpha"]["propertyOrdering"],
            order(&schema["properties"]["alpha"]["properties"])
        );
        assert_eq!(rewritten["propertyOrdering"].as_array().unwrap().len(), 2);
        // A client's own ordering is kept; tool parameters get none.
        let ordered = json!({"type": "object", "properties": {"a": {"type": "string"}}, "propertyOrdering": ["a"]});
        assert_eq!(to_gemini(&ordered, true).unwrap()["propertyOrdering"], json!(["a"]));
        assert!(to_gemini(&schema, false).unwrap().get("propertyOrdering").is_none());
    }

    #[test]
    fn nesting_without_end_is_refused() {
        let mut schema = json!({"type": "string"});
        for _ in 0..100 {
            schema = json!({"type": "array", "items": schema});
        }
        assert!(to_gemini(&schema, false).unwrap_err().contains("deeper"));
    }
}
