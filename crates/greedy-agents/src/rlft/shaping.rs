//! Reward shaping (§3): `r_t = norm(r_env) + r_valid + r_bonus`, with `r_valid = −5` when the
//! answer held no valid action and, optionally, `r_bonus = +1` for an arm not yet tried in
//! the episode (the exploration bonus of §4.4). `norm` divides by a running standard
//! deviation of the environment's rewards (the paper normalises but does not say how).

use serde::{Deserialize, Serialize};

/// The shaping terms.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RewardShaping {
    /// Added when the answer had no valid action (−5 in the paper).
    pub invalid_penalty: f64,
    /// Added for an arm not tried before in the episode (0 = off; +1 in §4.4).
    pub explore_bonus: f64,
    /// Divide environment rewards by their running standard deviation.
    pub normalize: bool,
}

impl Default for RewardShaping {
    /// The paper's: penalty −5, no bonus, normalised.
    fn default() -> Self {
        Self {
            invalid_penalty: -5.0,
            explore_bonus: 0.0,
            normalize: true,
        }
    }
}

/// Welford's running mean and variance.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct RunningStd {
    count: f64,
    mean: f64,
    m2: f64,
}

impl RunningStd {
    /// Adds one value.
    pub fn push(&mut self, x: f64) {
        self.count += 1.0;
        let delta = x - self.mean;
        self.mean += delta / self.count;
        self.m2 += delta * (x - self.mean);
    }

    /// The standard deviation so far (1 until two values were seen, and never below 1e-6).
    pub fn std(&self) -> f64 {
        if self.count < 2.0 {
            1.0
        } else {
            (self.m2 / (self.count - 1.0)).sqrt().max(1e-6)
        }
    }
}

impl RewardShaping {
    /// The shaped reward of one step.
    pub fn shape(&self, env_reward: f64, valid: bool, first_try: bool, norm: &RunningStd) -> f64 {
        let scaled = if self.normalize {
            env_reward / norm.std()
        } else {
            env_reward
        };
        let penalty = if valid { 0.0 } else { self.invalid_penalty };
        let bonus = if first_try { self.explore_bonus } else { 0.0 };
        scaled + penalty + bonus
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_answers_cost_the_penalty_and_new_arms_earn_the_bonus() {
        let shaping = RewardShaping {
            explore_bonus: 1.0,
            normalize: false,
            ..RewardShaping::default()
        };
        let norm = RunningStd::default();
        assert_eq!(shaping.shape(0.5, false, false, &norm), -4.5);
        assert_eq!(shaping.shape(0.5, true, true, &norm), 1.5);
        let mut norm = RunningStd::default();
        for x in [1.0, 3.0, 5.0] {
            norm.push(x);
        }
        assert!((norm.std() - 2.0).abs() < 1e-12);
        let normalized = RewardShaping::default();
        assert!((normalized.shape(4.0, true, false, &norm) - 2.0).abs() < 1e-12);
    }
}
