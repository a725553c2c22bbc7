//! `reasoning_effort` as Gemini's `thinkingConfig`, which differs by generation:
//! Gemini 2.5 takes a token budget, Gemini 3 a level. The mapping is LiteLLM's
//! (its default budgets; Gemini 3 Pro has no `minimal` or `medium` level, so
//! those round to the nearest it has).

use super::wire::{ThinkingConfig, ThinkingLevel};

/// Whether `model` (`gemini-3-pro-preview`, `gemini-3.1-flash`, ...) is of Gemini 3
/// or later, read from its name as LiteLLM does. Aliases (`gemini-flash-latest`)
/// and tuned endpoints (numeric ids) are taken for older ones.
pub(super) fn is_gemini_3_or_newer(model: &str) -> bool {
    let name = model.rsplit('/').next().unwrap_or(model).to_ascii_lowercase();
    let Some(version) = name.split("gemini-").nth(1) else {
        return false;
    };
    let major: String = version.chars().take_while(char::is_ascii_digit).collect();
    major.parse::<u32>().is_ok_and(|major| major >= 3)
}

/// The `thinkingConfig` for `effort` on `model`; `None` for an effort OpenAI does not define.
pub(super) fn config(effort: &str, model: &str) -> Option<ThinkingConfig> {
    let thinks = !matches!(effort, "none" | "disable");
    if is_gemini_3_or_newer(model) {
        let flash = model.to_ascii_lowercase().contains("flash");
        let level = match effort {
            "minimal" | "none" | "disable" if flash => ThinkingLevel::Minimal,
            "minimal" | "none" | "disable" | "low" => ThinkingLevel::Low,
            "medium" if flash => ThinkingLevel::Medium,
            "medium" | "high" => ThinkingLevel::High,
            _ => return None,
        };
        return Some(ThinkingConfig { include_thoughts: thinks, thinking_budget: None, thinking_level: Some(level) });
    }
    let budget = match effort {
        "none" | "disable" => 0,
        "minimal" => 128,
        "low" => 1024,
        "medium" => 2048,
        "high" => 4096,
        _ => return None,
    };
    Some(ThinkingConfig { include_thoughts: thinks, thinking_budget: Some(budget), thinking_level: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generations_are_read_from_the_name() {
        for newer in ["gemini-3-pro-preview", "gemini-3.1-flash", "publishers/google/models/gemini-3-flash", "gemini-4"]
        {
            assert!(is_gemini_3_or_newer(newer), "{newer}");
        }
        for older in ["gemini-2.5-pro", "gemini-2.0-flash-001", "gemini-flash-latest", "4965075652664360960", ""] {
            assert!(!is_gemini_3_or_newer(older), "{older}");
        }
    }

    #[test]
    fn gemini_2_5_gets_a_budget_and_gemini_3_a_level() {
        let budget = config("medium", "gemini-2.5-flash").unwrap();
        assert_eq!((budget.thinking_budget, budget.thinking_level, budget.include_thoughts), (Some(2048), None, true));
        let off = config("none", "gemini-2.5-flash").unwrap();
        assert_eq!((off.thinking_budget, off.include_thoughts), (Some(0), false));
        let pro = config("medium", "gemini-3-pro-preview").unwrap();
        assert_eq!((pro.thinking_level, pro.thinking_budget), (Some(ThinkingLevel::High), None));
        assert_eq!(config("minimal", "gemini-3-pro-preview").unwrap().thinking_level, Some(ThinkingLevel::Low));
        assert_eq!(config("minimal", "gemini-3-flash").unwrap().thinking_level, Some(ThinkingLevel::Minimal));
        assert_eq!(config("medium", "gemini-3-flash").unwrap().thinking_level, Some(ThinkingLevel::Medium));
        assert!(!config("none", "gemini-3-flash").unwrap().include_thoughts);
        assert_eq!(config("extreme", "gemini-2.5-pro"), None);
    }
}
