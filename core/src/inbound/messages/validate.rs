//! A request's JSON checked as Anthropic's API checks it, with its error messages.
//!
//! Each error names the field by its path as Anthropic writes it (`messages.0.content.1`,
//! with the kind of a block or tool after its index: `messages.0.content.1.text.text`,
//! `tools.2.custom.name`) and says what is wrong in the words of the validator
//! Anthropic runs (pydantic's: "Field required", "Extra inputs are not permitted").
//! The helpers take the JSON by value so that the typed request is built by moving
//! its strings, not copying them.

use std::fmt;

use serde_json::{Map, Value};

use super::MessagesError;

/// An object's fields, removed one by one as they are read: what remains at the end
/// is what the object should not have.
pub(super) type Fields = Map<String, Value>;

/// Where a value sits in the request, written only when an error names it.
#[derive(Debug, Clone, Copy)]
pub(super) enum Path<'a> {
    Root,
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl<'a> Path<'a> {
    pub fn key(&'a self, key: &'a str) -> Self {
        Self::Key(self, key)
    }

    pub fn index(&'a self, index: usize) -> Self {
        Self::Index(self, index)
    }

    /// The request's error at this path.
    pub fn error(&self, message: impl fmt::Display) -> MessagesError {
        match self {
            Self::Root => MessagesError::Invalid(message.to_string()),
            Self::Key(..) | Self::Index(..) => MessagesError::Invalid(format!("{self}: {message}")),
        }
    }

    /// What only an Anthropic deployment can serve, found at this path.
    pub fn anthropic_only(&self, what: impl fmt::Display) -> String {
        format!("{self}: {what}")
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (parent, segment): (&Path<'_>, &dyn fmt::Display) = match self {
            Self::Root => return Ok(()),
            Self::Key(parent, key) => (parent, key),
            Self::Index(parent, index) => (parent, index),
        };
        match parent {
            Self::Root => write!(f, "{segment}"),
            Self::Key(..) | Self::Index(..) => write!(f, "{parent}.{segment}"),
        }
    }
}

pub(super) fn object(value: Value, path: Path<'_>) -> Result<Fields, MessagesError> {
    match value {
        Value::Object(fields) => Ok(fields),
        _ => Err(path.error("Input should be a valid dictionary")),
    }
}

pub(super) fn list(value: Value, path: Path<'_>) -> Result<Vec<Value>, MessagesError> {
    match value {
        Value::Array(items) => Ok(items),
        _ => Err(path.error("Input should be a valid list")),
    }
}

pub(super) fn string(value: Value, path: Path<'_>) -> Result<String, MessagesError> {
    match value {
        Value::String(text) => Ok(text),
        _ => Err(path.error("Input should be a valid string")),
    }
}

/// A string matching `^[a-zA-Z0-9_-]+$` of at most `max` characters (tool names
/// and ids), with the pattern Anthropic's message shows.
pub(super) fn identifier(value: Value, path: Path<'_>, max: Option<usize>) -> Result<String, MessagesError> {
    let text = string(value, path)?;
    let allowed = text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    let sized = !text.is_empty() && max.is_none_or(|max| text.len() <= max);
    if allowed && sized {
        return Ok(text);
    }
    Err(match max {
        Some(max) => path.error(format_args!("String should match pattern '^[a-zA-Z0-9_-]{{1,{max}}}$'")),
        None => path.error("String should match pattern '^[a-zA-Z0-9_-]+$'"),
    })
}

pub(super) fn boolean(value: Value, path: Path<'_>) -> Result<bool, MessagesError> {
    match value {
        Value::Bool(flag) => Ok(flag),
        _ => Err(path.error("Input should be a valid boolean")),
    }
}

/// A non-negative integer (a float without a fraction passes, as pydantic lets it).
pub(super) fn integer(value: Value, path: Path<'_>) -> Result<u64, MessagesError> {
    let Value::Number(number) = value else {
        return Err(path.error("Input should be a valid integer"));
    };
    if let Some(n) = number.as_u64() {
        return Ok(n);
    }
    match number.as_f64() {
        Some(f) if f < 0.0 => Err(path.error("Input should be greater than or equal to 0")),
        Some(f) if f.fract() == 0.0 && f <= u64::MAX as f64 => Ok(f as u64),
        _ => Err(path.error("Input should be a valid integer, got a number with a fractional part")),
    }
}

/// A number from `min` to `max`.
pub(super) fn number(value: Value, path: Path<'_>, min: f64, max: f64) -> Result<f64, MessagesError> {
    match value.as_f64() {
        None => Err(path.error("Input should be a valid number")),
        Some(n) if n < min => Err(path.error(format_args!("Input should be greater than or equal to {min}"))),
        Some(n) if n > max => Err(path.error(format_args!("Input should be less than or equal to {max}"))),
        Some(n) => Ok(n),
    }
}

/// One of the `allowed` strings.
pub(super) fn literal<'l>(value: &Value, path: Path<'_>, allowed: &[&'l str]) -> Result<&'l str, MessagesError> {
    value
        .as_str()
        .and_then(|text| allowed.iter().find(|candidate| **candidate == text).copied())
        .ok_or_else(|| path.error(format_args!("Input should be {}", one_of(allowed))))
}

/// `'a', 'b' or 'c'`, as pydantic lists a literal's values.
fn one_of(allowed: &[&str]) -> String {
    let quoted: Vec<String> = allowed.iter().map(|value| format!("'{value}'")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => quoted.concat(),
    }
}

/// The field `key`, which must be there.
pub(super) fn required(fields: &mut Fields, key: &str, path: Path<'_>) -> Result<Value, MessagesError> {
    fields.remove(key).ok_or_else(|| path.key(key).error("Field required"))
}

/// The field `key` when it is there and not null (for fields Anthropic lets be null).
pub(super) fn nullable(fields: &mut Fields, key: &str) -> Option<Value> {
    fields.remove(key).filter(|value| !value.is_null())
}

/// The first field left after an object's known ones were read, refused.
pub(super) fn no_extra(fields: &Fields, path: Path<'_>) -> Result<(), MessagesError> {
    match fields.keys().next() {
        Some(key) => Err(path.key(key).error("Extra inputs are not permitted")),
        None => Ok(()),
    }
}

/// A tagged union's `type`, which must be one of `tags`.
pub(super) fn tag<'l>(fields: &mut Fields, path: Path<'_>, tags: &[&'l str]) -> Result<&'l str, MessagesError> {
    let Some(value) = fields.remove("type") else {
        return Err(path.error("Unable to extract tag using discriminator 'type'"));
    };
    match value.as_str().and_then(|kind| tags.iter().find(|tag| **tag == kind)) {
        Some(tag) => Ok(tag),
        None => Err(unexpected_tag(&value, path, tags)),
    }
}

/// The error for a `type` none of the `tags` names.
pub(super) fn unexpected_tag(value: &Value, path: Path<'_>, tags: &[&str]) -> MessagesError {
    let shown = match value {
        Value::String(kind) => kind.clone(),
        other => other.to_string(),
    };
    let expected: Vec<String> = tags.iter().map(|tag| format!("'{tag}'")).collect();
    path.error(format_args!(
        "Input tag '{shown}' found using 'type' does not match any of the expected tags: {}",
        expected.join(", ")
    ))
}

/// `cache_control`: `{"type": "ephemeral", "ttl": "5m" | "1h"}`, or null. Kept as
/// it came (the chat request carries it on as LiteLLM's `cache_control`).
pub(super) fn cache_control(fields: &mut Fields, path: Path<'_>) -> Result<Option<Value>, MessagesError> {
    let Some(value) = nullable(fields, "cache_control") else {
        return Ok(None);
    };
    let path = path.key("cache_control");
    let mut control = object(value, path)?;
    let kind = tag(&mut control, path, &["ephemeral"])?;
    let inner = path.key(kind);
    let ttl = control.remove("ttl");
    no_extra(&control, inner)?;
    if let Some(ttl) = ttl {
        literal(&ttl, inner.key("ttl"), &["5m", "1h"])?;
        control.insert("ttl".to_owned(), ttl);
    }
    control.insert("type".to_owned(), Value::String(kind.to_owned()));
    Ok(Some(Value::Object(control)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(error: MessagesError) -> String {
        error.to_string()
    }

    #[test]
    fn paths_are_written_with_dots_and_indexes() {
        let root = Path::Root;
        let messages = root.key("messages");
        let first = messages.index(0);
        let content = first.key("content");
        let block = content.index(1);
        let text = block.key("text");
        assert_eq!(text.to_string(), "messages.0.content.1.text");
        assert_eq!(message(text.error("Field required")), "messages.0.content.1.text: Field required");
        assert_eq!(message(root.error("not JSON")), "not JSON");
    }

    #[test]
    fn each_helper_refuses_in_pydantic_s_words() {
        let root = Path::Root;
        let path = root.key("x");
        assert_eq!(message(object(json!(1), path).unwrap_err()), "x: Input should be a valid dictionary");
        assert_eq!(message(list(json!({}), path).unwrap_err()), "x: Input should be a valid list");
        assert_eq!(message(string(json!(1), path).unwrap_err()), "x: Input should be a valid string");
        assert_eq!(message(boolean(json!("y"), path).unwrap_err()), "x: Input should be a valid boolean");
        assert_eq!(integer(json!(5.0), path).unwrap(), 5);
        assert!(message(integer(json!(1.5), path).unwrap_err()).contains("fractional part"));
        assert!(message(integer(json!(-1), path).unwrap_err()).contains("greater than or equal to 0"));
        assert!(message(integer(json!("1"), path).unwrap_err()).contains("valid integer"));
        assert!(message(number(json!(1.5), path, 0.0, 1.0).unwrap_err()).ends_with("less than or equal to 1"));
        assert!(message(number(json!(-0.5), path, 0.0, 1.0).unwrap_err()).ends_with("greater than or equal to 0"));
        assert_eq!(
            message(literal(&json!("system"), path, &["user", "assistant"]).unwrap_err()),
            "x: Input should be 'user' or 'assistant'"
        );
        assert_eq!(
            message(literal(&json!(1), path, &["a", "b", "c"]).unwrap_err()),
            "x: Input should be 'a', 'b' or 'c'"
        );
        assert_eq!(
            message(identifier(json!("a.b"), path, Some(64)).unwrap_err()),
            "x: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'"
        );
        assert!(identifier(json!("x".repeat(65)), path, Some(64)).is_err());
        assert_eq!(identifier(json!("toolu_01-A"), path, None).unwrap(), "toolu_01-A");
    }

    #[test]
    fn fields_are_required_tagged_and_nothing_else() {
        let root = Path::Root;
        let mut fields = object(json!({"type": "texts", "a": null, "b": 1}), root).unwrap();
        assert_eq!(
            message(tag(&mut fields, root.key("block"), &["text", "image"]).unwrap_err()),
            "block: Input tag 'texts' found using 'type' does not match any of the expected tags: 'text', 'image'"
        );
        assert_eq!(nullable(&mut fields, "a"), None);
        assert_eq!(message(required(&mut fields, "c", root).unwrap_err()), "c: Field required");
        assert_eq!(
            message(no_extra(&fields, root.key("block")).unwrap_err()),
            "block.b: Extra inputs are not permitted"
        );
        let mut untagged = Fields::new();
        assert!(message(tag(&mut untagged, root, &["text"]).unwrap_err()).contains("discriminator 'type'"));
    }

    #[test]
    fn cache_control_is_ephemeral_with_a_known_ttl() {
        let root = Path::Root;
        let check = |value: Value| {
            let mut fields = object(json!({ "cache_control": value }), root).unwrap();
            cache_control(&mut fields, root.key("system"))
        };
        let ok = json!({"type": "ephemeral", "ttl": "1h"});
        assert_eq!(check(ok.clone()).unwrap(), Some(ok));
        assert_eq!(check(Value::Null).unwrap(), None);
        assert_eq!(
            message(check(json!({"type": "ephemeral", "scope": "global"})).unwrap_err()),
            "system.cache_control.ephemeral.scope: Extra inputs are not permitted"
        );
        assert!(message(check(json!({"type": "ephemeral", "ttl": "2h"})).unwrap_err()).contains("ephemeral.ttl"));
        assert!(message(check(json!({"type": "persistent"})).unwrap_err()).contains("'ephemeral'"));
    }
}
