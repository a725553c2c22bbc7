//! Reading a request's fields into types, with errors that name the parameter and
//! the place inside it that is wrong, in OpenAI's error shape.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::ApiError;

/// A 400 naming `param`.
pub(super) fn invalid(param: &'static str, message: String) -> ApiError {
    ApiError::InvalidParam { param, message }
}

/// A 400 saying what `param` must be and what it was.
pub(super) fn wrong_type(param: &'static str, at: &str, expected: &str, raw: &RawValue) -> ApiError {
    invalid(param, format!("`{at}` must be {expected}, got {}", shown(raw)))
}

/// `raw` (the value at `at`, inside `param`) read as a `T`; a 400 naming the path
/// inside it that serde found wrong, and why.
pub(super) fn typed<'a, T: Deserialize<'a>>(param: &'static str, at: &str, raw: &'a RawValue) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_str(raw.get());
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let inner = e.path().to_string();
        let place = match inner.as_str() {
            "." => at.to_owned(),
            _ if inner.starts_with('[') => format!("{at}{inner}"),
            _ => format!("{at}.{inner}"),
        };
        invalid(param, format!("`{place}`: {}", without_position(e.inner())))
    })
}

/// serde's message without its ` at line 1 column 9`: the client's body is not
/// the JSON text the value was read from.
fn without_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(cut) => text[..cut].to_owned(),
        None => text,
    }
}

/// A value for an error message, cut so that a huge payload does not echo back whole.
pub(super) fn shown(raw: &RawValue) -> String {
    let text = raw.get();
    match text.char_indices().nth(40) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// Whether `raw` is JSON's `null`.
pub(super) fn is_null(raw: &RawValue) -> bool {
    raw.get() == "null"
}

/// Whether `name` matches `^[a-zA-Z0-9_-]{1,64}$`, OpenAI's rule for the names of
/// functions and JSON schemas.
pub(super) fn is_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}
