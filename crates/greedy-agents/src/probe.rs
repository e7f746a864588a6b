//! The frequency-bias probe (§4.2, Fig 4, App C.1.2).
//!
//! A random policy plays a prefix of 2–10 steps whose last action is a chosen target arm;
//! that last step is then repeated `n = 0 … 100` times (same reward). At every `n` the
//! policy's action distribution `π(a | τ)` gives
//!
//! ```text
//! H(n)   = −Σ_a π(a | τ) log π(a | τ)
//! class  of argmax_a π(a | τ): greedy (best mean, wins ties), frequent (most pulls), other
//! F_g, F_f, F_o = the class fractions, over windows of n (0–10, 45–55, 90–100)
//! ```
//!
//! A frequency-biased policy follows the repeated arm even where it is not the best one; the
//! paper finds F_f = 0.96 for Gemma2 2B and 0.14 for 27B, and `corr(n, H)` of −0.67 and
//! +0.61.

use std::ops::RangeInclusive;

use kiln_core::train::SeededRng;
use serde::{Deserialize, Serialize};

use crate::env::Bandit;
use crate::history::History;
use crate::metrics::{ProbeClass, probe_class};

/// The probe's grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeConfig {
    /// Target arms `0 … targets−1` (5 in the paper).
    pub targets: usize,
    /// Random prefixes per target (5).
    pub histories: usize,
    /// Shortest and longest prefix (2 and 10).
    pub prefix: (usize, usize),
    /// The most repetitions (100).
    pub max_repeats: usize,
    /// Step between repetition counts (1).
    pub stride: usize,
}

impl Default for ProbeConfig {
    /// The paper's grid: 5 targets × 5 histories × repetitions 0 … 100.
    fn default() -> Self {
        Self {
            targets: 5,
            histories: 5,
            prefix: (2, 10),
            max_repeats: 100,
            stride: 1,
        }
    }
}

/// One probed history.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ProbePoint {
    /// The repeated arm.
    pub target: usize,
    /// Which prefix.
    pub history: usize,
    /// `n`, how often the last step was repeated.
    pub repeats: usize,
    /// `H(n)` of the normalised action distribution.
    pub entropy: f64,
    /// The class of the most likely action.
    pub class: ProbeClass,
}

/// All probed points.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ProbeResult {
    /// One per (target, prefix, repetition count).
    pub points: Vec<ProbePoint>,
}

impl ProbeResult {
    /// `[F_g, F_f, F_o]` over the points whose repetition count is in `window`.
    pub fn fractions(&self, window: RangeInclusive<usize>) -> [f64; 3] {
        let chosen: Vec<&ProbePoint> = self
            .points
            .iter()
            .filter(|p| window.contains(&p.repeats))
            .collect();
        let share = |c: ProbeClass| {
            chosen.iter().filter(|p| p.class == c).count() as f64 / chosen.len().max(1) as f64
        };
        [
            share(ProbeClass::Greedy),
            share(ProbeClass::Frequent),
            share(ProbeClass::Other),
        ]
    }

    /// Pearson correlation of repetition count and entropy over all points (NaN if either
    /// is constant).
    pub fn entropy_correlation(&self) -> f64 {
        let xs: Vec<f64> = self.points.iter().map(|p| p.repeats as f64).collect();
        let ys: Vec<f64> = self.points.iter().map(|p| p.entropy).collect();
        pearson(&xs, &ys)
    }
}

/// Pearson's correlation coefficient.
pub fn pearson(xs: &[f64], ys: &[f64]) -> f64 {
    let n = xs.len().min(ys.len()) as f64;
    let mx = xs.iter().sum::<f64>() / n;
    let my = ys.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in xs.iter().zip(ys) {
        sxy += (x - mx) * (y - my);
        sxx += (x - mx).powi(2);
        syy += (y - my).powi(2);
    }
    sxy / (sxx * syy).sqrt()
}

/// `−Σ p log p` of `weights` normalised to sum 1.
pub fn entropy(weights: &[f64]) -> f64 {
    let total: f64 = weights.iter().sum();
    weights
        .iter()
        .filter(|&&w| w > 0.0)
        .map(|&w| {
            let p = w / total;
            -p * p.ln()
        })
        .sum()
}

/// Runs the probe on `bandit` (prefix rewards drawn from it, seeded by `seed`);
/// `action_probs(history)` is the policy's (possibly unnormalised) distribution over arms.
pub fn frequency_probe<E>(
    bandit: &mut impl Bandit,
    config: &ProbeConfig,
    seed: u64,
    mut action_probs: impl FnMut(&History) -> Result<Vec<f64>, E>,
) -> Result<ProbeResult, E> {
    let mut rng = SeededRng::new(seed);
    let arms = bandit.arms();
    let (shortest, longest) = (config.prefix.0.max(1), config.prefix.1.max(config.prefix.0));
    let mut points = Vec::new();
    for target in 0..config.targets.min(arms) {
        for h in 0..config.histories {
            let length = shortest + rng.below(longest - shortest + 1);
            let mut prefix = History::new(arms);
            for _ in 0..length - 1 {
                let a = rng.below(arms);
                prefix.push(a, bandit.step(a).reward);
            }
            let last = bandit.step(target).reward;
            prefix.push(target, last);
            for repeats in (0..=config.max_repeats).step_by(config.stride.max(1)) {
                let mut history = prefix.clone();
                for _ in 0..repeats {
                    history.push(target, last);
                }
                let probs = action_probs(&history)?;
                let best = crate::history::argmax(probs.iter().map(|&p| Some(p))).unwrap_or(0);
                points.push(ProbePoint {
                    target,
                    history: h,
                    repeats,
                    entropy: entropy(&probs),
                    class: probe_class(&history, best),
                });
            }
        }
    }
    Ok(ProbeResult { points })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::GaussianBandit;

    fn bandit() -> GaussianBandit {
        GaussianBandit::new(vec![0.1, 0.9, 0.5, 0.3, 0.7], 1.0, 3)
    }

    fn one_hot(arm: Option<usize>, arms: usize) -> Vec<f64> {
        (0..arms)
            .map(|a| f64::from(u8::from(Some(a) == arm)))
            .collect()
    }

    #[test]
    fn a_greedy_policy_is_all_greedy_and_a_copying_policy_is_never_other() {
        let config = ProbeConfig {
            max_repeats: 20,
            ..ProbeConfig::default()
        };
        let greedy = frequency_probe(&mut bandit(), &config, 1, |h| {
            Ok::<_, ()>(one_hot(h.greedy_arm(), 5))
        })
        .unwrap();
        assert_eq!(greedy.points.len(), 5 * 5 * 21);
        assert_eq!(greedy.fractions(0..=20), [1.0, 0.0, 0.0]);
        let copier = frequency_probe(&mut bandit(), &config, 1, |h| {
            Ok::<_, ()>(one_hot(h.most_frequent_arm(), 5))
        })
        .unwrap();
        let [g, f, o] = copier.fractions(10..=20);
        assert_eq!(o, 0.0);
        assert!(f > 0.3 && (g + f - 1.0).abs() < 1e-12, "{g} {f}");
    }

    #[test]
    fn entropy_and_correlation_are_the_closed_forms() {
        assert!((entropy(&[1.0; 5]) - 5f64.ln()).abs() < 1e-12);
        assert!((entropy(&[2.0, 0.0]) - 0.0).abs() < 1e-12);
        assert!((pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]) - 1.0).abs() < 1e-12);
        assert!((pearson(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
        // A policy less certain the more the arm repeats: positive correlation.
        let r = frequency_probe(&mut bandit(), &ProbeConfig::default(), 0, |h| {
            let x = h.len() as f64 / 200.0;
            Ok::<_, ()>((0..5).map(|a| if a == 0 { 1.0 } else { x }).collect())
        })
        .unwrap();
        let c = r.entropy_correlation();
        assert!(c > 0.8, "{c}");
        let flipped = ProbeResult {
            points: r
                .points
                .iter()
                .map(|p| ProbePoint {
                    entropy: -p.entropy,
                    ..*p
                })
                .collect(),
        };
        assert!((flipped.entropy_correlation() + c).abs() < 1e-12);
    }
}
