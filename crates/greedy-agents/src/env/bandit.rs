//! Multi-armed bandits (BanditBench, as the paper uses them, App A.1).
//!
//! `k` arms with unknown fixed means `μ_a`; pulling `a` pays `r ~ N(μ_a, σ²)` (Gaussian) or
//! `r ~ Bernoulli(μ_a)`. Gaussian means come from a [`MeanPrior`]; Bernoulli means are
//! `0.5 − Δ/2` for all arms but one at `0.5 + Δ/2`. The regret of a pull is `μ* − μ_a`.

use kiln_core::train::SeededRng;
use kiln_core::{InvalidConfig, ensure_config};
use serde::{Deserialize, Serialize};

/// Where Gaussian arm means come from. The paper says `μ ~ U(0, 1)`; BanditBench's code
/// draws `μ ~ N(0, σ)`, which fits the paper's regret axes better. Both are offered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum MeanPrior {
    /// `μ_a ~ U(0, 1)` (the paper's text).
    Uniform01,
    /// `μ_a ~ N(0, std²)` (BanditBench's generators).
    Normal {
        /// Standard deviation of the means.
        std: f64,
    },
    /// The same means in every draw (one known task, e.g. for a test).
    Fixed(Vec<f64>),
}

/// The reward distribution of every arm.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Noise {
    /// `r ~ N(μ_a, std²)`; the paper's low/medium/high noise is `std` = 0.1/1/3.
    Gaussian {
        /// Reward noise.
        std: f64,
    },
    /// `r ~ Bernoulli(μ_a)` with one best arm `gap` above the others (0.2 or 0.5 in
    /// BanditBench).
    Bernoulli {
        /// `Δ`, the difference between the best and every other mean.
        gap: f64,
    },
}

/// How the arms are named in the prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Variant {
    /// Buttons with colour names ("blue", "green", …).
    Button,
    /// Arms numbered `0 … k−1`.
    Continuous,
}

/// Colour names of the button variant, in arm order.
pub const COLOURS: [&str; 20] = [
    "blue", "green", "red", "yellow", "purple", "orange", "pink", "brown", "black", "white",
    "gray", "cyan", "magenta", "lime", "teal", "navy", "olive", "maroon", "silver", "gold",
];

/// A family of bandit tasks: every draw has the same arms, horizon and noise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BanditConfig {
    /// `k`, the number of arms (5, 10 or 20 in the paper).
    pub arms: usize,
    /// `T`, steps per episode (50 in the paper).
    pub horizon: usize,
    /// The reward distribution.
    pub noise: Noise,
    /// Where Gaussian means come from (unused by Bernoulli bandits).
    pub prior: MeanPrior,
    /// Button colours or numbers.
    pub variant: Variant,
}

impl BanditConfig {
    /// The paper's main setting: Gaussian buttons, `σ = 1`, `μ ~ U(0, 1)`, `T = 50`.
    pub fn gaussian_buttons(arms: usize) -> Self {
        Self {
            arms,
            horizon: 50,
            noise: Noise::Gaussian { std: 1.0 },
            prior: MeanPrior::Uniform01,
            variant: Variant::Button,
        }
    }

    /// Checks that the numbers can work together.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        ensure_config!(
            (2..=COLOURS.len()).contains(&self.arms),
            "`arms` ({}) must be between 2 and {}",
            self.arms,
            COLOURS.len()
        );
        ensure_config!(self.horizon > 0, "`horizon` must be positive");
        match self.noise {
            Noise::Gaussian { std } => ensure_config!(
                std.is_finite() && std >= 0.0,
                "Gaussian noise `std` ({std}) must be finite and non-negative"
            ),
            Noise::Bernoulli { gap } => ensure_config!(
                gap > 0.0 && gap <= 1.0,
                "Bernoulli `gap` ({gap}) must be in (0, 1]"
            ),
        }
        match &self.prior {
            MeanPrior::Normal { std } => ensure_config!(
                std.is_finite() && *std > 0.0,
                "prior `std` ({std}) must be positive"
            ),
            MeanPrior::Fixed(means) => ensure_config!(
                means.len() == self.arms,
                "fixed means give {} values for {} arms",
                means.len(),
                self.arms
            ),
            MeanPrior::Uniform01 => {}
        }
        Ok(())
    }

    /// The name of every arm in the prompt.
    pub fn labels(&self) -> Vec<String> {
        match self.variant {
            Variant::Button => COLOURS[..self.arms].iter().map(|c| c.to_string()).collect(),
            Variant::Continuous => (0..self.arms).map(|a| a.to_string()).collect(),
        }
    }

    /// One bandit of the family: its means drawn from `seed`, its rewards from another stream
    /// of the same seed.
    pub fn sample(&self, seed: u64) -> Result<GaussianOrBernoulli, InvalidConfig> {
        self.validate()?;
        let mut rng = SeededRng::new(seed);
        let rewards = SeededRng::new(kiln_core::train::derive_seed(seed, "rewards"));
        Ok(match self.noise {
            Noise::Gaussian { std } => {
                let means = (0..self.arms)
                    .map(|a| match &self.prior {
                        MeanPrior::Uniform01 => rng.next_f64(),
                        MeanPrior::Normal { std } => std * rng.normal(),
                        MeanPrior::Fixed(means) => means[a],
                    })
                    .collect();
                GaussianOrBernoulli::Gaussian(GaussianBandit {
                    means,
                    std,
                    rewards,
                })
            }
            Noise::Bernoulli { gap } => {
                let best = rng.below(self.arms);
                let means = (0..self.arms)
                    .map(|a| 0.5 + if a == best { gap / 2.0 } else { -gap / 2.0 })
                    .collect();
                GaussianOrBernoulli::Bernoulli(BernoulliBandit { means, rewards })
            }
        })
    }
}

/// What one pull returns.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    /// The sampled reward.
    pub reward: f64,
    /// The pulled arm's mean `μ_a` (for regret).
    pub expected: f64,
}

/// A stationary bandit: fixed means, fresh noise on every pull.
pub trait Bandit {
    /// The arm means `μ_a`.
    fn means(&self) -> &[f64];

    /// Pulls `arm`.
    ///
    /// # Panics
    /// If `arm` is not below the number of arms.
    fn step(&mut self, arm: usize) -> Step;

    /// Restarts the reward noise from `seed` (the means stay).
    fn reset(&mut self, seed: u64);

    /// Number of arms.
    fn arms(&self) -> usize {
        self.means().len()
    }

    /// `μ* = max_a μ_a`.
    fn optimal_mean(&self) -> f64 {
        self.means()
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max)
    }
}

/// Gaussian rewards around fixed means.
#[derive(Debug, Clone)]
pub struct GaussianBandit {
    /// `μ_a`.
    pub means: Vec<f64>,
    /// `σ`.
    pub std: f64,
    rewards: SeededRng,
}

impl GaussianBandit {
    /// A bandit with these means and noise, rewards seeded by `seed`.
    pub fn new(means: Vec<f64>, std: f64, seed: u64) -> Self {
        Self {
            means,
            std,
            rewards: SeededRng::new(seed),
        }
    }
}

impl Bandit for GaussianBandit {
    fn means(&self) -> &[f64] {
        &self.means
    }

    fn step(&mut self, arm: usize) -> Step {
        let expected = self.means[arm];
        Step {
            reward: expected + self.std * self.rewards.normal(),
            expected,
        }
    }

    fn reset(&mut self, seed: u64) {
        self.rewards = SeededRng::new(seed);
    }
}

/// Bernoulli rewards.
#[derive(Debug, Clone)]
pub struct BernoulliBandit {
    /// `μ_a = P(r = 1)`.
    pub means: Vec<f64>,
    rewards: SeededRng,
}

impl BernoulliBandit {
    /// A bandit with these success probabilities, rewards seeded by `seed`.
    pub fn new(means: Vec<f64>, seed: u64) -> Self {
        Self {
            means,
            rewards: SeededRng::new(seed),
        }
    }
}

impl Bandit for BernoulliBandit {
    fn means(&self) -> &[f64] {
        &self.means
    }

    fn step(&mut self, arm: usize) -> Step {
        let expected = self.means[arm];
        let reward = if self.rewards.next_f64() < expected {
            1.0
        } else {
            0.0
        };
        Step { reward, expected }
    }

    fn reset(&mut self, seed: u64) {
        self.rewards = SeededRng::new(seed);
    }
}

/// A bandit drawn from a [`BanditConfig`].
#[derive(Debug, Clone)]
pub enum GaussianOrBernoulli {
    /// Gaussian rewards.
    Gaussian(GaussianBandit),
    /// Bernoulli rewards.
    Bernoulli(BernoulliBandit),
}

impl Bandit for GaussianOrBernoulli {
    fn means(&self) -> &[f64] {
        match self {
            Self::Gaussian(b) => b.means(),
            Self::Bernoulli(b) => b.means(),
        }
    }

    fn step(&mut self, arm: usize) -> Step {
        match self {
            Self::Gaussian(b) => b.step(arm),
            Self::Bernoulli(b) => b.step(arm),
        }
    }

    fn reset(&mut self, seed: u64) {
        match self {
            Self::Gaussian(b) => b.reset(seed),
            Self::Bernoulli(b) => b.reset(seed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_configs_are_refused_with_the_field_named() {
        let mut config = BanditConfig::gaussian_buttons(5);
        config.arms = 40;
        let error = config.sample(0).unwrap_err().to_string();
        assert!(error.contains("`arms` (40)"), "{error}");
        config.arms = 5;
        config.noise = Noise::Bernoulli { gap: 1.5 };
        assert!(config.validate().unwrap_err().to_string().contains("gap"));
    }

    #[test]
    fn configs_read_from_ron_and_unknown_fields_are_named() {
        let text = "(arms: 3, horizon: 50, noise: Gaussian(std: 1.0), prior: Normal(std: 1.0), \
                    variant: Continuous)";
        let config: BanditConfig = ron::from_str(text).unwrap();
        assert_eq!(config.labels(), vec!["0", "1", "2"]);
        let typo = text.replace("horizon", "horizont");
        let error = ron::from_str::<BanditConfig>(&typo)
            .unwrap_err()
            .to_string();
        assert!(error.contains("horizont"), "{error}");
    }

    #[test]
    fn bernoulli_means_have_one_best_arm_and_empirical_rates_match() {
        let mut config = BanditConfig::gaussian_buttons(4);
        config.noise = Noise::Bernoulli { gap: 0.5 };
        let mut bandit = config.sample(3).unwrap();
        let best = bandit.means().iter().filter(|&&m| m == 0.75).count();
        assert_eq!(best, 1);
        assert_eq!(bandit.means().iter().filter(|&&m| m == 0.25).count(), 3);
        let pulls = 4000;
        let wins: f64 = (0..pulls).map(|_| bandit.step(0).reward).sum();
        let rate = wins / pulls as f64;
        assert!((rate - bandit.means()[0]).abs() < 0.03, "{rate}");
    }

    #[test]
    fn gaussian_rewards_have_the_configured_mean_and_noise() {
        let mut bandit = GaussianBandit::new(vec![0.3, -1.0], 2.0, 9);
        let rewards: Vec<f64> = (0..20_000).map(|_| bandit.step(1).reward).collect();
        let mean = rewards.iter().sum::<f64>() / rewards.len() as f64;
        let var = rewards.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / rewards.len() as f64;
        assert!((mean + 1.0).abs() < 0.05, "{mean}");
        assert!((var.sqrt() - 2.0).abs() < 0.05, "{var}");
        assert_eq!(bandit.optimal_mean(), 0.3);
    }
}
