//! The random distributions the scenario draws from, all from one seeded RNG.

/// An exponential wait of mean `mean`: the gap between Poisson arrivals, an
/// isolate's life.
pub(super) fn exponential(rng: &mut fastrand::Rng, mean: f64) -> f64 {
    // 1 - u is in (0, 1]: its logarithm is finite.
    -(1.0 - rng.f64()).ln() * mean
}

/// A standard normal draw (Box-Muller).
fn normal(rng: &mut fastrand::Rng) -> f64 {
    let radius = (-2.0 * (1.0 - rng.f64()).ln()).sqrt();
    radius * (std::f64::consts::TAU * rng.f64()).cos()
}

/// A log-normal draw around `median` (`sigma` its spread), kept within `min..=max`:
/// LLM latencies have this long right tail.
pub(super) fn log_normal(rng: &mut fastrand::Rng, median: f64, sigma: f64, min: u64, max: u64) -> u64 {
    let value = median * (sigma * normal(rng)).exp();
    (value.round() as u64).clamp(min, max)
}
