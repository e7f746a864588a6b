//! The baselines the paper compares soft resets with, on the same [`StreamLearner`] footing.
//!
//! ```text
//! Hard Reset        θ ← fresh draw from the initialiser          (at task boundaries, or every K steps)
//! L2 Init           L(θ) + λ ‖θ − θ₀‖²                            (Kumar et al., "regenerative" L2)
//! Shrink & Perturb  θ ← λ θ + σ ε,  ε ~ N(0, I)                   (Ash & Adams; boundaries or every K steps)
//! ```
//!
//! Each takes its SGD steps through a Burn optimizer, exactly as [`Online`] does.

use std::collections::HashMap;

use burn::module::{Module, ParamId};
use burn::prelude::*;
use kiln_core::train::{ModuleStep, SeededRng};
use serde::{Deserialize, Serialize};

use crate::learner::{BatchNll, Online, StepStats, StreamLearner, mean_nll_grads};
use crate::noise;
use crate::params::{edit_grads, flat_params, map_flat};
use crate::prior::InitPrior;

/// When an intervention fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResetSchedule {
    /// On the first batch of every task after the first (an oracle: it reads the boundaries).
    AtBoundaries,
    /// Every `K` steps, boundaries unseen.
    Every(usize),
}

impl ResetSchedule {
    /// Whether it fires at `step` (0-based), which starts a new task when `boundary`.
    pub fn fires(self, step: usize, boundary: bool) -> bool {
        match self {
            ResetSchedule::AtBoundaries => boundary && step > 0,
            ResetSchedule::Every(k) => k > 0 && step > 0 && step.is_multiple_of(k),
        }
    }
}

/// Hard Reset: re-initialise every parameter, then go on with online training.
pub struct HardReset<O> {
    online: Online<O>,
    prior: InitPrior,
    schedule: ResetSchedule,
    rng: SeededRng,
    step: usize,
}

impl<O> HardReset<O> {
    /// Resets on `schedule` with fresh draws from `prior`'s initialiser, seeded by `seed`.
    pub fn new(online: Online<O>, prior: InitPrior, schedule: ResetSchedule, seed: u64) -> Self {
        Self {
            online,
            prior,
            schedule,
            rng: SeededRng::new(seed),
            step: 0,
        }
    }
}

impl<M: Module, O: ModuleStep> StreamLearner<M> for HardReset<O> {
    fn step(&mut self, model: M, boundary: bool, nll: BatchNll<'_, M>) -> (M, StepStats) {
        let reset = self.schedule.fires(self.step, boundary);
        self.step += 1;
        let model = if reset {
            self.prior.redraw(model, &mut self.rng)
        } else {
            model
        };
        let (model, stats) = self.online.step(model, boundary, nll);
        (model, StepStats { reset, ..stats })
    }
}

/// L2 Init: SGD on the loss plus `λ ‖θ − θ₀‖²`, pulling toward the initial parameters.
pub struct L2Init<O> {
    online: Online<O>,
    lambda: f64,
    init: HashMap<ParamId, Tensor<1>>,
}

impl<O> L2Init<O> {
    /// The regulariser of weight `lambda` toward `model`'s current parameters.
    pub fn new<M: Module>(online: Online<O>, model: &M, lambda: f64) -> Self {
        let init = flat_params(model)
            .into_iter()
            .map(|p| (p.id, p.value))
            .collect();
        Self {
            online,
            lambda,
            init,
        }
    }
}

impl<M: Module, O: ModuleStep> StreamLearner<M> for L2Init<O> {
    fn step(&mut self, model: M, _boundary: bool, nll: BatchNll<'_, M>) -> (M, StepStats) {
        let (grads, loss) = mean_nll_grads(&model, nll);
        let two_lambda = 2.0 * self.lambda;
        let grads = edit_grads(&model, grads, |id, theta, g| match self.init.get(&id) {
            Some(theta0) => g + (theta - theta0.clone()).mul_scalar(two_lambda),
            None => g,
        });
        let model = self.online.optim.step(self.online.lr, model, grads);
        let stats = StepStats {
            loss,
            lr_factor: 1.0,
            ..StepStats::default()
        };
        (model, stats)
    }
}

/// Shrink & Perturb: where the schedule fires, `θ ← λθ + σε` before the step on that batch.
pub struct ShrinkPerturb<O> {
    online: Online<O>,
    shrink: f64,
    noise_std: f64,
    schedule: ResetSchedule,
    rng: SeededRng,
    step: usize,
}

impl<O> ShrinkPerturb<O> {
    /// Shrinks by `shrink` and adds Gaussian noise of standard deviation `noise_std` on
    /// `schedule`, the noise seeded by `seed`.
    pub fn new(
        online: Online<O>,
        shrink: f64,
        noise_std: f64,
        schedule: ResetSchedule,
        seed: u64,
    ) -> Self {
        Self {
            online,
            shrink,
            noise_std,
            schedule,
            rng: SeededRng::new(seed),
            step: 0,
        }
    }
}

impl<M: Module, O: ModuleStep> StreamLearner<M> for ShrinkPerturb<O> {
    fn step(&mut self, model: M, boundary: bool, nll: BatchNll<'_, M>) -> (M, StepStats) {
        let reset = self.schedule.fires(self.step, boundary);
        self.step += 1;
        let model = if reset {
            let (shrink, std) = (self.shrink, self.noise_std);
            let rng = &mut self.rng;
            map_flat(model, |_, theta| {
                let eps = noise::normal(rng, theta.dims()[0], &theta.device());
                theta.mul_scalar(shrink) + eps.mul_scalar(std)
            })
        } else {
            model
        };
        let (model, stats) = self.online.step(model, boundary, nll);
        (model, StepStats { reset, ..stats })
    }
}
