//! LiteLLM's `simple-shuffle`: a weighted random choice.

/// A random item, each chosen with probability proportional to its weight (a
/// deployment's weight is resolved at load, see [`crate::config::load`]). An item
/// of weight 0 is never chosen while another has weight; when none has, the choice
/// is uniform. `None` only for an empty slice.
pub fn weighted<'t, T>(items: &'t [T], weight: impl Fn(&T) -> f64, rng: &mut fastrand::Rng) -> Option<&'t T> {
    let total: f64 = items.iter().map(&weight).sum();
    if total <= 0.0 {
        return items.get(rng.usize(..items.len().max(1)));
    }
    let mut point = rng.f64() * total;
    for item in items {
        let w = weight(item);
        if w > 0.0 {
            if point < w {
                return Some(item);
            }
            point -= w;
        }
    }
    // Rounding can leave `point` a hair above the last weight: the last one it is.
    items.iter().rev().find(|item| weight(item) > 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Deployment, load};

    fn group(weights: &[f64]) -> Vec<Deployment> {
        let mut yaml = String::from("model_list:\n");
        for (i, w) in weights.iter().enumerate() {
            yaml += &format!("  - {{model_name: m, litellm_params: {{model: d{i}, mock_response: x, weight: {w}}}}}\n");
        }
        let config = load(&yaml, &|_| None).unwrap().config;
        let mut deployments = config.group("m").unwrap().deployments.clone();
        // Load resolves an all-zero group to uniform; these tests set weights as given.
        for (d, w) in deployments.iter_mut().zip(weights) {
            d.weight = *w;
        }
        deployments
    }

    fn counts(deployments: &[Deployment], draws: usize, seed: u64) -> Vec<usize> {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut counts = vec![0; deployments.len()];
        for _ in 0..draws {
            let chosen = weighted(deployments, |d| d.weight, &mut rng).unwrap();
            let index = deployments.iter().position(|d| d.id == chosen.id).unwrap();
            counts[index] += 1;
        }
        counts
    }

    #[test]
    fn shares_follow_weights() {
        let counts = counts(&group(&[3.0, 1.0]), 40_000, 7);
        let share = counts[0] as f64 / 40_000.0;
        assert!((share - 0.75).abs() < 0.01, "{counts:?}");
    }

    #[test]
    fn zero_weight_is_never_chosen_while_another_has_weight() {
        assert_eq!(counts(&group(&[0.0, 2.0, 0.0]), 5_000, 1), [0, 5_000, 0]);
    }

    #[test]
    fn all_zero_is_uniform_and_empty_is_none() {
        let counts = counts(&group(&[0.0, 0.0]), 10_000, 3);
        assert!(counts.iter().all(|&c| (4_700..5_300).contains(&c)), "{counts:?}");
        assert!(weighted(&[] as &[Deployment], |d| d.weight, &mut fastrand::Rng::with_seed(0)).is_none());
    }

    #[test]
    fn the_same_seed_chooses_the_same_way() {
        let deployments = group(&[1.0, 1.0, 1.0]);
        assert_eq!(counts(&deployments, 100, 42), counts(&deployments, 100, 42));
    }
}
