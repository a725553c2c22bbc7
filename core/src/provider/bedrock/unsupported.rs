//! The fields of a request Bedrock cannot take: collected while a request is
//! mapped, then refused together in one 400 naming them all, or dropped when
//! the deployment sets `drop_params`.

use serde_json::Value;

use crate::error::ApiError;

/// The names found so far.
#[derive(Debug, Default)]
pub struct Unsupported {
    /// The first one's name, for the error's `param`.
    param: Option<&'static str>,
    names: Vec<String>,
}

/// OpenAI's request fields, so that the error's `param` (a `&'static str`) can
/// name the first one refused when it is one of them; any other is `body`.
const OPENAI_FIELDS: &[&str] = &[
    "frequency_penalty",
    "presence_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "metadata",
    "store",
    "service_tier",
    "modalities",
    "audio",
    "prediction",
    "web_search_options",
    "functions",
    "function_call",
    "reasoning_effort",
    "thinking",
    "verbosity",
    "prompt_cache_key",
    "safety_identifier",
    "input_type",
];

impl Unsupported {
    /// A typed field of the request.
    pub fn add(&mut self, name: &'static str) {
        self.param.get_or_insert(name);
        self.names.push(format!("`{name}`"));
    }

    /// A field the request kept as it was written (its `extra`).
    pub fn add_extra(&mut self, name: &str) {
        let known = OPENAI_FIELDS.iter().find(|field| **field == name).copied();
        self.param.get_or_insert(known.unwrap_or("body"));
        self.names.push(format!("`{name}`"));
    }

    /// `Err` naming every field found, unless they are to be dropped. `api`
    /// names what cannot take them (`Bedrock's Converse API`).
    pub fn check(self, api: &str, drop_params: bool) -> Result<(), ApiError> {
        match self.param {
            Some(param) if !drop_params => {
                let them = if self.names.len() == 1 { "it" } else { "them" };
                Err(ApiError::InvalidParam {
                    param,
                    message: format!(
                        "{api} does not take {}: remove {them}, or set `drop_params: true` to drop {them}",
                        self.names.join(", ")
                    ),
                })
            }
            _ => Ok(()),
        }
    }
}

/// Whether a field's value is OpenAI's default for it (`false`, `0`), which
/// asks for nothing and so is accepted where the field is not.
pub fn is_default(value: &Value) -> bool {
    match value {
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_in_one_error_and_the_first_is_its_param() {
        let mut unsupported = Unsupported::default();
        unsupported.add("seed");
        unsupported.add_extra("logit_bias");
        match unsupported.check("X", false) {
            Err(ApiError::InvalidParam { param, message }) => {
                assert_eq!(param, "seed");
                assert_eq!(
                    message,
                    "X does not take `seed`, `logit_bias`: remove them, or set `drop_params: true` to drop them"
                );
            }
            other => panic!("{other:?}"),
        }
        let mut unknown = Unsupported::default();
        unknown.add_extra("mystery");
        assert!(matches!(unknown.check("X", false), Err(ApiError::InvalidParam { param: "body", .. })));
        let mut dropped = Unsupported::default();
        dropped.add("n");
        assert_eq!(dropped.check("X", true), Ok(()));
        assert_eq!(Unsupported::default().check("X", false), Ok(()));
    }

    #[test]
    fn defaults_ask_for_nothing() {
        assert!(
            is_default(&Value::Bool(false)) && is_default(&serde_json::json!(0)) && is_default(&serde_json::json!(0.0))
        );
        assert!(
            !is_default(&Value::Bool(true))
                && !is_default(&serde_json::json!(0.5))
                && !is_default(&serde_json::json!("x"))
        );
    }
}
