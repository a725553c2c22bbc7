//! What an answer cost: its usage at its deployment's prices
//! (`model_info.input_cost_per_token` and `output_cost_per_token`, in dollars),
//! LiteLLM's `x-litellm-response-cost`. Prices a deployment does not set come
//! from LiteLLM's price map when the operator stores one ([`prices`]).

pub mod prices;

use crate::config::Deployment;
use crate::openai::Usage;

/// The cost of `usage` on `deployment`; `None` when the deployment has no price.
/// A price that is not set counts its tokens as free.
pub fn of(deployment: &Deployment, usage: &Usage) -> Option<f64> {
    if !priced(deployment) {
        return None;
    }
    let input = deployment.input_cost_per_token.unwrap_or(0.0) * usage.prompt_tokens as f64;
    let output = deployment.output_cost_per_token.unwrap_or(0.0) * usage.completion_tokens as f64;
    Some(input + output)
}

/// Whether answers on `deployment` are priced: their usage must then be read.
pub fn priced(deployment: &Deployment) -> bool {
    deployment.input_cost_per_token.is_some() || deployment.output_cost_per_token.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load;

    const CONFIG: &str = r#"
model_list:
  - model_name: priced
    litellm_params: { model: openai/gpt-4o, api_key: k }
    model_info: { input_cost_per_token: 0.0000025, output_cost_per_token: 0.00001 }
  - model_name: input-only
    litellm_params: { model: openai/text-embedding-3-small, api_key: k }
    model_info: { input_cost_per_token: 0.00000002 }
  - model_name: free
    litellm_params: { model: openai/gpt-4o, api_key: k }
"#;

    fn usage(prompt: u64, completion: u64) -> Usage {
        Usage::of(prompt, completion)
    }

    #[test]
    fn prompt_and_completion_tokens_each_at_their_price() {
        let config = load(CONFIG, &|_| None).unwrap().config;
        let deployment = |group: &str| &config.group(group).unwrap().deployments[0];
        let cost = of(deployment("priced"), &usage(1_000, 200)).unwrap();
        assert!((cost - (0.0025 + 0.002)).abs() < 1e-12, "{cost}");
        let cost = of(deployment("input-only"), &usage(1_000_000, 0)).unwrap();
        assert!((cost - 0.02).abs() < 1e-12, "{cost}");
        assert_eq!(of(deployment("free"), &usage(10, 10)), None);
        assert!(priced(deployment("priced")) && priced(deployment("input-only")) && !priced(deployment("free")));
    }
}
