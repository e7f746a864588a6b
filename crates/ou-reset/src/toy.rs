//! The toy of the paper's appendix (its Fig. 24): tracking a mean that jumps.
//!
//! Observations `y_t ~ N(μ_t, σ_y²)` with `μ_t` switching between `−a` and `+a` every `T` steps;
//! the model is one scalar `θ` with loss `½ (y_t − θ)² / σ_y²`, the negative log-likelihood up to
//! a constant. Online SGD with a small rate tracks slowly; with a large one it is noisy; a reset
//! at the switches with a higher "reset learning rate" does both well, and a soft reset should
//! find the switches itself.

use burn::module::Param;
use burn::prelude::*;
use kiln_core::train::SeededRng;
use serde::{Deserialize, Serialize};

/// The jumping mean.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToyMeanTracking {
    /// `a`: the mean is `−a` in the first segment, then `+a`, and so on.
    pub level: f64,
    /// `T`: steps per segment.
    pub switch_every: usize,
    /// `σ_y`.
    pub noise_std: f64,
}

impl ToyMeanTracking {
    /// The paper's setting: ±2, a switch every 50 steps, unit noise.
    pub fn paper() -> Self {
        Self {
            level: 2.0,
            switch_every: 50,
            noise_std: 1.0,
        }
    }

    /// `μ_t`.
    pub fn mean_at(&self, step: usize) -> f64 {
        if (step / self.switch_every.max(1)).is_multiple_of(2) {
            -self.level
        } else {
            self.level
        }
    }

    /// Whether `step` starts a new segment.
    pub fn is_switch(&self, step: usize) -> bool {
        step > 0 && step.is_multiple_of(self.switch_every.max(1))
    }

    /// `steps` observations drawn from `seed`.
    pub fn observations(&self, steps: usize, seed: u64) -> Vec<f64> {
        let mut rng = SeededRng::new(seed);
        (0..steps)
            .map(|t| self.mean_at(t) + self.noise_std * rng.normal())
            .collect()
    }
}

/// The toy's model: one scalar parameter.
#[derive(Module, Debug)]
pub struct ScalarMean {
    /// `θ`, shape `[1]`.
    pub theta: Param<Tensor<1>>,
}

impl ScalarMean {
    /// `θ = value` on `device`.
    pub fn new(value: f64, device: &Device) -> Self {
        Self {
            theta: Param::from_tensor(Tensor::from_data(
                TensorData::new(vec![value as f32], [1]),
                device,
            )),
        }
    }

    /// `θ` on the host.
    pub fn value(&self) -> f64 {
        f64::from(self.theta.val().into_scalar::<f32>())
    }

    /// `½ (y − θ)² / σ_y²` for one observation, as a `[1]` tensor.
    pub fn nll(&self, y: f64, noise_std: f64) -> Tensor<1> {
        self.theta
            .val()
            .sub_scalar(y)
            .square()
            .mul_scalar(0.5 / (noise_std * noise_std))
    }
}

/// What a learner did on the toy, step by step (before each update).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tracking {
    /// `θ_t`.
    pub thetas: Vec<f64>,
    /// `(θ_t − μ_t)²`.
    pub squared_errors: Vec<f64>,
    /// `γ_t` of the update (empty for methods without a drift).
    pub gammas: Vec<f64>,
}

impl Tracking {
    /// The mean squared error over the steps `keep` selects.
    pub fn mse(&self, keep: impl Fn(usize) -> bool) -> f64 {
        let picked: Vec<f64> = (0..self.squared_errors.len())
            .filter(|&t| keep(t))
            .map(|t| self.squared_errors[t])
            .collect();
        picked.iter().sum::<f64>() / picked.len().max(1) as f64
    }
}

impl ToyMeanTracking {
    /// Runs `learner` on `observations` from `model` (the one its prior was taken from),
    /// telling it of each switch.
    pub fn track<L: crate::StreamLearner<ScalarMean>>(
        &self,
        learner: &mut L,
        mut model: ScalarMean,
        observations: &[f64],
    ) -> Tracking {
        let mut out = Tracking::default();
        for (t, &y) in observations.iter().enumerate() {
            let theta = model.value();
            out.thetas.push(theta);
            out.squared_errors.push((theta - self.mean_at(t)).powi(2));
            let noise_std = self.noise_std;
            let nll = move |m: &ScalarMean| m.nll(y, noise_std);
            let (next, stats) = learner.step(model, self.is_switch(t), &nll);
            model = next;
            if let Some(&g) = stats.gammas.first() {
                out.gammas.push(g);
            }
        }
        out
    }
}
