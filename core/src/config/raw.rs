//! The configuration as the user wrote it: LiteLLM's YAML shape, key for key.
//!
//! Only the keys Switchyard acts on are fields here. Every other key is collected
//! by `serde_ignored` into the load warnings, so that a LiteLLM config brought as
//! it is never loses a setting silently.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
pub struct RawConfig {
    #[serde(default)]
    pub model_list: Vec<RawDeployment>,
    #[serde(default)]
    pub router_settings: RawRouterSettings,
    // Read only so that its unsupported keys are reported one by one.
    #[serde(default)]
    #[expect(dead_code, reason = "no litellm_settings key is acted on yet")]
    pub litellm_settings: RawLitellmSettings,
    #[serde(default)]
    pub general_settings: RawGeneralSettings,
}

#[derive(Debug, Deserialize)]
pub struct RawDeployment {
    pub model_name: String,
    pub litellm_params: RawLitellmParams,
    #[serde(default)]
    pub model_info: RawModelInfo,
}

#[derive(Debug, Deserialize)]
pub struct RawLitellmParams {
    pub model: String,
    pub api_base: Option<String>,
    pub api_key: Option<String>,
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
    pub weight: Option<f64>,
    pub mock_response: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawModelInfo {
    pub id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawRouterSettings {
    pub routing_strategy: Option<String>,
    #[serde(default)]
    pub model_group_alias: BTreeMap<String, RawAlias>,
}

/// LiteLLM accepts an alias as a bare group name or as `{model, hidden}`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawAlias {
    Name(String),
    Detailed {
        model: String,
        #[serde(default)]
        hidden: bool,
    },
}

/// No `litellm_settings` key is acted on yet: all of them are reported.
#[derive(Debug, Default, Deserialize)]
pub struct RawLitellmSettings {}

#[derive(Debug, Default, Deserialize)]
pub struct RawGeneralSettings {
    pub master_key: Option<String>,
}
