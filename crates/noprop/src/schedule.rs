//! The discrete noise schedule of NoProp-DT (paper §2.1, v2 indexing).
//!
//! `t = 0` is pure noise and `t = T` is nearest the label. The schedule is a list
//! `ᾱ_0 ≤ ᾱ_1 ≤ … ≤ ᾱ_T` in `[0, 1)`, with `ᾱ_t = Π_{s=t..T} α_s`, so `α_t = ᾱ_t / ᾱ_{t+1}`
//! for `t < T` and `α_T = ᾱ_T`. The signal-to-noise ratio is `SNR(t) = ᾱ_t / (1 − ᾱ_t)`.

use burn::prelude::*;
use burn::tensor::Distribution;
use kiln_core::{InvalidConfig, ensure_config};
use serde::{Deserialize, Serialize};

/// How to build the schedule (a config choice; the paper fixes "a cosine schedule" for DT).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum ScheduleConfig {
    /// Nichol–Dhariwal cosine schedule, reversed to v2 indexing (OURS, see the crate README):
    /// `ᾱ_t = f(T+1−t) / f(0)`, `f(k) = cos²((k/K + s)/(1 + s) · π/2)`, `K = T + 1`, clamped
    /// to `[0, max_abar]`.
    Cosine {
        /// Offset `s` (0.008 in Nichol and Dhariwal).
        s: f64,
        /// Upper clamp, keeping `SNR(T)` finite.
        max_abar: f64,
    },
    /// Explicit `ᾱ_0..ᾱ_T` (must be non-decreasing, in `[0, 1)`).
    Explicit(Vec<f64>),
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        ScheduleConfig::Cosine {
            s: 0.008,
            max_abar: 0.9999,
        }
    }
}

/// `ᾱ_0..ᾱ_T` and everything derived from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiscreteSchedule {
    abar: Vec<f64>,
}

/// The coefficients of one denoising step `z_t = a_t û + b_t z_{t−1} + √c_t ε` (Eq. 3).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepCoefficients {
    /// Weight of the block's prediction `û_t`.
    pub a: f64,
    /// Weight of the previous state `z_{t−1}`.
    pub b: f64,
    /// Variance of the fresh noise.
    pub c: f64,
}

impl StepCoefficients {
    /// One denoising step (Eq. 3): `z_t = a û + b z_{t−1} + √c ε`, the noise term only when
    /// `noise` is set.
    pub fn apply(&self, u_hat: Tensor<2>, z_prev: Tensor<2>, noise: bool) -> Tensor<2> {
        let mean = u_hat.mul_scalar(self.a) + z_prev.mul_scalar(self.b);
        if noise {
            let epsilon = mean.random_like(Distribution::Normal(0.0, 1.0));
            mean + epsilon.mul_scalar(self.c.sqrt())
        } else {
            mean
        }
    }
}

impl DiscreteSchedule {
    /// Builds the schedule for `t_blocks = T` blocks.
    ///
    /// # Errors
    /// If `T` is 0, or an explicit list has the wrong length, leaves `[0, 1)` or decreases.
    pub fn new(config: &ScheduleConfig, t_blocks: usize) -> Result<Self, InvalidConfig> {
        ensure_config!(t_blocks > 0, "NoProp needs at least one block (T ≥ 1)");
        let abar = match config {
            ScheduleConfig::Cosine { s, max_abar } => {
                let k_total = (t_blocks + 1) as f64;
                let f = |k: f64| {
                    ((k / k_total + s) / (1.0 + s) * std::f64::consts::FRAC_PI_2)
                        .cos()
                        .powi(2)
                };
                // f(K) = cos²(π/2) is exactly 0, which floating point misses by ~1e-33.
                (0..=t_blocks)
                    .map(|t| match t {
                        0 => 0.0,
                        _ => (f((t_blocks + 1 - t) as f64) / f(0.0)).clamp(0.0, *max_abar),
                    })
                    .collect()
            }
            ScheduleConfig::Explicit(abar) => abar.clone(),
        };
        ensure_config!(
            abar.len() == t_blocks + 1,
            "the schedule needs T + 1 = {} values ᾱ_0..ᾱ_T, got {}",
            t_blocks + 1,
            abar.len()
        );
        ensure_config!(
            abar.iter().all(|a| (0.0..1.0).contains(a)),
            "every ᾱ_t must lie in [0, 1); got {abar:?}"
        );
        ensure_config!(
            abar.windows(2).all(|w| w[1] >= w[0]),
            "ᾱ_t must not decrease with t (t = T is the clean end); got {abar:?}"
        );
        Ok(Self { abar })
    }

    /// The number of blocks `T`.
    pub fn t_blocks(&self) -> usize {
        self.abar.len() - 1
    }

    /// `ᾱ_t` for `t = 0..=T`.
    pub fn abar(&self, t: usize) -> f64 {
        self.abar[t]
    }

    /// `α_t = ᾱ_t / ᾱ_{t+1}` (`α_T = ᾱ_T`); 0 where `ᾱ_{t+1} = 0`.
    pub fn alpha(&self, t: usize) -> f64 {
        if t == self.t_blocks() {
            self.abar[t]
        } else if self.abar[t + 1] == 0.0 {
            0.0
        } else {
            self.abar[t] / self.abar[t + 1]
        }
    }

    /// `SNR(t) = ᾱ_t / (1 − ᾱ_t)`.
    pub fn snr(&self, t: usize) -> f64 {
        self.abar[t] / (1.0 - self.abar[t])
    }

    /// The coefficients of step `t = 1..=T`: with `α = α_{t−1}`,
    /// `a_t = √ᾱ_t (1 − α)/(1 − ᾱ_{t−1})`, `b_t = √α (1 − ᾱ_t)/(1 − ᾱ_{t−1})`,
    /// `c_t = (1 − ᾱ_t)(1 − α)/(1 − ᾱ_{t−1})` — the mean and variance of the posterior
    /// `q(z_t | z_{t−1}, y)` with `u_y` replaced by the block's prediction.
    pub fn step(&self, t: usize) -> StepCoefficients {
        assert!(
            (1..=self.t_blocks()).contains(&t),
            "step t must be in 1..=T"
        );
        let (abar_t, abar_prev, alpha_prev) = (self.abar[t], self.abar[t - 1], self.alpha(t - 1));
        let denom = 1.0 - abar_prev;
        StepCoefficients {
            a: abar_t.sqrt() * (1.0 - alpha_prev) / denom,
            b: alpha_prev.sqrt() * (1.0 - abar_t) / denom,
            c: (1.0 - abar_t) * (1.0 - alpha_prev) / denom,
        }
    }

    /// The weight of block `t`'s denoising loss in Eq. 8: `(T/2) · η · (SNR(t) − SNR(t−1))`.
    pub fn loss_weight(&self, t: usize, eta: f64) -> f64 {
        0.5 * self.t_blocks() as f64 * eta * (self.snr(t) - self.snr(t - 1))
    }

    /// `KL(q(z_0|y) ‖ N(0, I))` for an embedding with squared norm `norm_sq` in `d` dimensions:
    /// `½ [ᾱ_0 ‖u_y‖² − d ᾱ_0 − d ln(1 − ᾱ_0)]` (zero when `ᾱ_0 = 0`).
    pub fn kl_prior(&self, norm_sq: f64, d: usize) -> f64 {
        let a0 = self.abar[0];
        let d = d as f64;
        0.5 * (a0 * norm_sq - d * a0 - d * (1.0 - a0).ln())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cosine(t: usize) -> DiscreteSchedule {
        DiscreteSchedule::new(&ScheduleConfig::default(), t).unwrap()
    }

    #[test]
    fn cosine_schedule_has_the_spec_values() {
        let s = cosine(10);
        let expected = [
            0.0, 0.0199, 0.0782, 0.170, 0.288, 0.423, 0.565, 0.701, 0.821, 0.915, 0.977,
        ];
        for (t, e) in expected.iter().enumerate() {
            assert!(
                (s.abar(t) - e).abs() < 1.5e-3,
                "ᾱ_{t} = {} vs {e}",
                s.abar(t)
            );
        }
        assert!((s.snr(10) - 41.7).abs() < 0.3, "{}", s.snr(10));
        let first = s.snr(1) - s.snr(0);
        let last = s.snr(10) - s.snr(9);
        assert!(
            (first - 0.02).abs() < 0.002 && (last - 30.9).abs() < 0.3,
            "{first} {last}"
        );
    }

    #[test]
    fn coefficients_are_valid_and_a_squared_over_c_is_the_snr_gap() {
        let s = cosine(10);
        for t in 1..=10 {
            let StepCoefficients { a, b, c } = s.step(t);
            assert!(a >= 0.0 && b >= 0.0 && c > 0.0, "t = {t}");
            let gap = s.snr(t) - s.snr(t - 1);
            assert!(
                (a * a / c - gap).abs() <= 1e-6 * gap,
                "t = {t}: {} vs {gap}",
                a * a / c
            );
        }
        // ᾱ_0 = 0: the first step ignores z_0 entirely and the prior KL vanishes.
        assert_eq!(s.step(1).b, 0.0);
        assert!((s.step(1).c - (1.0 - s.abar(1))).abs() < 1e-12);
        assert_eq!(s.kl_prior(3.0, 10), 0.0);
    }

    #[test]
    fn kl_matches_its_gaussian_definition() {
        // KL(N(μ, σ² I) ‖ N(0, I)) = ½ Σ (σ² + μ² − 1 − ln σ²) with μ = √ᾱ_0 u, σ² = 1 − ᾱ_0.
        let s = DiscreteSchedule::new(&ScheduleConfig::Explicit(vec![0.3, 0.6, 0.9]), 2).unwrap();
        let u = [0.5, -1.0, 2.0];
        let direct: f64 = u
            .iter()
            .map(|x| 0.5 * (0.7 + 0.3 * x * x - 1.0 - 0.7f64.ln()))
            .sum();
        let norm_sq: f64 = u.iter().map(|x| x * x).sum();
        assert!((s.kl_prior(norm_sq, 3) - direct).abs() < 1e-12);
    }

    #[test]
    fn invalid_schedules_are_rejected() {
        for bad in [vec![0.5, 0.2], vec![0.0, 1.0], vec![0.1]] {
            assert!(DiscreteSchedule::new(&ScheduleConfig::Explicit(bad), 1).is_err());
        }
        assert!(DiscreteSchedule::new(&ScheduleConfig::default(), 0).is_err());
    }
}
