//! One interface for every method trained on a non-stationary stream, and plain online SGD.
//!
//! A [`StreamLearner`] takes the model and the incoming batch's per-example negative
//! log-likelihoods (a closure over the batch, evaluated at whatever parameters the method
//! needs) and returns the updated model. `boundary` says that a new task starts with this batch:
//! only the oracle baselines (hard reset, shrink & perturb at the boundaries, the perfect soft
//! reset) read it; the learned soft resets never do.

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::prelude::*;
use kiln_core::train::ModuleStep;

/// The per-example negative log-likelihoods `[B]` of the incoming batch under a model.
pub type BatchNll<'a, M> = &'a dyn Fn(&M) -> Tensor<1>;

/// What one update did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepStats {
    /// The batch's mean negative log-likelihood where the update was taken.
    pub loss: f64,
    /// `γ_t` of each parameter tensor in visiting order (its mean under a per-parameter `γ`);
    /// empty for methods without a drift.
    pub gammas: Vec<f64>,
    /// The mean learning-rate multiplier `α_t(γ_t)/α` over the groups (1 without a drift).
    pub lr_factor: f64,
    /// Whether the parameters were reset this step (hard reset, shrink & perturb).
    pub reset: bool,
}

/// A method that learns from a stream one batch at a time.
pub trait StreamLearner<M: Module> {
    /// One update on the incoming batch.
    fn step(&mut self, model: M, boundary: bool, nll: BatchNll<'_, M>) -> (M, StepStats);
}

/// The gradient of the batch's mean negative log-likelihood at `model`, with that loss.
pub fn mean_nll_grads<M: Module>(model: &M, nll: BatchNll<'_, M>) -> (GradientsParams, f64) {
    let loss = nll(model).mean();
    let value = f64::from(loss.clone().into_scalar::<f32>());
    (GradientsParams::from_grads(loss.backward(), model), value)
}

/// Online SGD (or any optimizer): one step on each batch as it comes.
pub struct Online<O> {
    /// The optimizer.
    pub optim: O,
    /// Its learning rate.
    pub lr: f64,
}

impl<O> Online<O> {
    /// Steps of `optim` at rate `lr`.
    pub fn new(optim: O, lr: f64) -> Self {
        Self { optim, lr }
    }
}

impl<M: Module, O: ModuleStep> StreamLearner<M> for Online<O> {
    fn step(&mut self, model: M, _boundary: bool, nll: BatchNll<'_, M>) -> (M, StepStats) {
        let (grads, loss) = mean_nll_grads(&model, nll);
        let model = self.optim.step(self.lr, model, grads);
        (
            model,
            StepStats {
                loss,
                lr_factor: 1.0,
                ..StepStats::default()
            },
        )
    }
}
