//! A price map in LiteLLM's `model_prices_and_context_window.json` shape, read for
//! the deployments that carry no price of their own: a deployment is priced by its
//! `model_info.base_model` when set (an Azure deployment's name says nothing of the
//! model behind it), else by its model. The map weighs about a megabyte and
//! changes weekly, so it is not bundled: the operator stores it in KV and only the
//! entries the config needs are kept (the rest is skipped as it is read).

use std::collections::HashMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

use crate::config::{Config, Deployment};

/// What the map says of one model.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Price {
    #[serde(default, deserialize_with = "number")]
    pub input_cost_per_token: Option<f64>,
    #[serde(default, deserialize_with = "number")]
    pub output_cost_per_token: Option<f64>,
    #[serde(default, deserialize_with = "number")]
    pub max_input_tokens: Option<u64>,
}

/// The names a deployment may be found under, most precise first: LiteLLM's
/// keys carry a provider prefix for some models (`azure/gpt-4o`) and not for
/// others (`gpt-4o`).
fn names(deployment: &Deployment) -> Vec<String> {
    let named = match &deployment.base_model {
        Some(base) => base.clone(),
        None => format!("{}/{}", deployment.provider, deployment.model),
    };
    let bare = named.split_once('/').map(|(_, rest)| rest.to_owned());
    std::iter::once(named).chain(bare).collect()
}

/// The deployments of `config` without a price of their own.
fn unpriced(config: &Config) -> impl Iterator<Item = &Deployment> {
    config.groups().iter().flat_map(|group| &group.deployments).filter(|d| !super::priced(d))
}

/// Whether the price map can price anything in `config`: some deployment has no
/// price of its own.
pub fn wanted_by(config: &Config) -> bool {
    unpriced(config).next().is_some()
}

/// Prices the unpriced deployments of `config` from `map` (LiteLLM's JSON);
/// fills `max_input_tokens` where unset too, as LiteLLM's pre-call checks do.
/// Returns the warnings: a map that does not parse, a `base_model` it lacks.
pub fn apply(config: &mut Config, map: Option<&str>) -> Vec<String> {
    let wanted: Vec<String> = unpriced(config).flat_map(names).collect();
    if wanted.is_empty() {
        return Vec::new();
    }
    let entries = match map.map(|json| read(json, &wanted)) {
        Some(Ok(entries)) => entries,
        Some(Err(error)) => return vec![format!("the price map (KV key `{KEY}`) is not LiteLLM's JSON: {error}")],
        None => HashMap::new(),
    };
    let mut warnings = Vec::new();
    for deployment in config.deployments_mut().filter(|d| !super::priced(d)) {
        let found = names(deployment).iter().find_map(|name| entries.get(name)).cloned();
        match (found, &deployment.base_model) {
            (Some(price), _) => {
                deployment.input_cost_per_token = price.input_cost_per_token;
                deployment.output_cost_per_token = price.output_cost_per_token;
                deployment.max_input_tokens = deployment.max_input_tokens.or(price.max_input_tokens);
            }
            (None, Some(base)) => warnings.push(format!(
                "deployment `{}`: no price for its base_model `{base}` ({})",
                deployment.id,
                if map.is_some() { "not in the price map" } else { "no price map in KV" },
            )),
            (None, None) => {}
        }
    }
    warnings
}

/// The KV key (in the `CONFIG` namespace) of the price map.
pub const KEY: &str = "model_prices";

/// The entries of `json` named in `wanted`, every other skipped unread.
fn read(json: &str, wanted: &[String]) -> Result<HashMap<String, Price>, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let entries = Wanted(wanted).deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(entries)
}

struct Wanted<'a>(&'a [String]);

impl<'de> DeserializeSeed<'de> for Wanted<'_> {
    type Value = HashMap<String, Price>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Wanted<'_> {
    type Value = HashMap<String, Price>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of models")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries = HashMap::new();
        while let Some(name) = map.next_key::<String>()? {
            if self.0.contains(&name) {
                entries.insert(name, map.next_value()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(entries)
    }
}

/// A number, or nothing for any other value: LiteLLM's `sample_spec` entry
/// documents its fields with strings, and an odd field must not void the map.
fn number<'de, D: Deserializer<'de>, T: serde::de::DeserializeOwned>(deserializer: D) -> Result<Option<T>, D::Error> {
    let value = serde_json::Value::deserialize(deserializer)?;
    Ok(serde_json::from_value(value).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load;

    const MAP: &str = r#"{
        "sample_spec": { "input_cost_per_token": "the cost", "max_input_tokens": "max input tokens" },
        "gpt-4o-2024-08-06": { "input_cost_per_token": 2.5e-06, "output_cost_per_token": 1e-05, "max_input_tokens": 128000, "litellm_provider": "openai" },
        "azure/gpt-4o-mini": { "input_cost_per_token": 1.65e-07, "output_cost_per_token": 6.6e-07, "supports_vision": true },
        "claude-sonnet-4-5": { "input_cost_per_token": 3e-06, "output_cost_per_token": 1.5e-05, "tiers": [{ "over": 200000 }] }
    }"#;

    const CONFIG: &str = r#"
model_list:
  - model_name: az
    litellm_params: { model: azure/prod-east, api_base: "https://r.openai.azure.com", api_key: k, api_version: "2024-10-21" }
    model_info: { id: az, base_model: azure/gpt-4o-2024-08-06 }
  - model_name: mini
    litellm_params: { model: azure/mini-deploy, api_base: "https://r.openai.azure.com", api_key: k, api_version: "2024-10-21" }
    model_info: { id: mini, base_model: azure/gpt-4o-mini }
  - model_name: claude
    litellm_params: { model: anthropic/claude-sonnet-4-5, api_key: k }
    model_info: { id: claude }
  - model_name: own
    litellm_params: { model: azure/x, api_base: "https://r.openai.azure.com", api_key: k, api_version: "2024-10-21" }
    model_info: { id: own, base_model: azure/gpt-4o-2024-08-06, input_cost_per_token: 1.0e-06, max_input_tokens: 1000 }
  - model_name: unknown
    litellm_params: { model: azure/y, api_base: "https://r.openai.azure.com", api_key: k, api_version: "2024-10-21" }
    model_info: { id: unknown, base_model: azure/gpt-9 }
"#;

    fn deployment<'a>(config: &'a Config, group: &str) -> &'a Deployment {
        &config.group(group).unwrap().deployments[0]
    }

    #[test]
    fn a_base_model_is_priced_from_the_map_with_or_without_its_provider() {
        let mut config = load(CONFIG, &|_| None).unwrap().config;
        assert!(wanted_by(&config));
        let warnings = apply(&mut config, Some(MAP));
        let az = deployment(&config, "az");
        assert_eq!((az.input_cost_per_token, az.output_cost_per_token), (Some(2.5e-06), Some(1e-05)));
        assert_eq!(az.max_input_tokens, Some(128_000));
        let mini = deployment(&config, "mini");
        assert_eq!((mini.input_cost_per_token, mini.output_cost_per_token), (Some(1.65e-07), Some(6.6e-07)));
        // No base_model: found by its own model, its provider's prefix dropped.
        assert_eq!(deployment(&config, "claude").output_cost_per_token, Some(1.5e-05));
        // Its own price wins, and its own context window.
        let own = deployment(&config, "own");
        assert_eq!((own.input_cost_per_token, own.output_cost_per_token), (Some(1.0e-06), None));
        assert_eq!(own.max_input_tokens, Some(1000));
        assert_eq!(
            warnings,
            ["deployment `unknown`: no price for its base_model `azure/gpt-9` (not in the price map)"]
        );
        assert!(!super::super::priced(deployment(&config, "unknown")));
    }

    #[test]
    fn without_a_map_or_with_a_broken_one_nothing_is_priced_and_the_loader_says_why() {
        let mut config = load(CONFIG, &|_| None).unwrap().config;
        let warnings = apply(&mut config, None);
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(warnings[0].contains("no price map in KV"), "{warnings:?}");
        let warnings = apply(&mut config, Some(r#"{"gpt-4o": {"input_cost_per_token": 1e-06}"#));
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].starts_with("the price map (KV key `model_prices`) is not LiteLLM's JSON"), "{warnings:?}");
        assert_eq!(deployment(&config, "az").input_cost_per_token, None);
    }

    #[test]
    fn only_wanted_entries_are_kept() {
        let entries = read(MAP, &["claude-sonnet-4-5".to_owned(), "absent".to_owned()]).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries["claude-sonnet-4-5"].input_cost_per_token, Some(3e-06));
        assert!(read("[1, 2]", &[]).is_err());
    }

    #[test]
    fn a_config_priced_throughout_does_not_ask_for_the_map() {
        let priced = "model_list:\n  - {model_name: g, litellm_params: {model: openai/gpt-4o, api_key: k}, model_info: {output_cost_per_token: 1.0e-06}}\n";
        assert!(!wanted_by(&load(priced, &|_| None).unwrap().config));
    }
}
