//! Where each model group's coordinator lives (`router_settings.coordinator_location`
//! and `coordinator_locations`): a Durable Objects location hint, which Cloudflare
//! respects only when it creates the object (the first `get` of its name); an
//! object that exists already stays where it is.

use std::collections::BTreeMap;

use super::{ConfigError, ModelGroup};

/// Cloudflare's location hints for Durable Objects, as its `get(id, { locationHint })` takes them.
pub const LOCATION_HINTS: [&str; 9] = ["wnam", "enam", "sam", "weur", "eeur", "apac", "oc", "afr", "me"];

/// Sets each group's hint: its entry in `per_group` (keyed by `model_name`), else
/// `default`. A value that is not a hint, or a key that names no group, is an error.
pub(super) fn assign(
    groups: &mut [ModelGroup],
    default: Option<&str>,
    per_group: BTreeMap<String, String>,
) -> Result<(), ConfigError> {
    let default = default.map(|value| hint("router_settings.coordinator_location", value)).transpose()?;
    for group in groups.iter_mut() {
        group.coordinator_location = default;
    }
    for (name, value) in per_group {
        let path = format!("router_settings.coordinator_locations.{name}");
        let location = hint(&path, &value)?;
        let Some(group) = groups.iter_mut().find(|g| g.name == name) else {
            return Err(ConfigError::at(path, format!("`{name}` is not a model_name in model_list")));
        };
        group.coordinator_location = Some(location);
    }
    Ok(())
}

fn hint(path: &str, value: &str) -> Result<&'static str, ConfigError> {
    LOCATION_HINTS.iter().copied().find(|&known| known == value).ok_or_else(|| {
        ConfigError::at(path, format!("unknown location hint `{value}`; expected one of {}", LOCATION_HINTS.join(", ")))
    })
}
