//! The training loop every paper shares: for each batch, the loss, one update from its
//! gradients, and the loss value read back at a chosen interval.
//!
//! [`fit`] owns only the loop. What a step updates is an [`Update`]: [`Optimize`] back-propagates
//! the loss through the whole model and steps any [`ModuleStep`] optimizer (Burn's
//! `ModuleOptimizer`, or one of a paper's), while a method that trains parts of a model on
//! their own losses (NoProp's blocks) implements [`Update`] itself. Data order, evaluation and
//! progress display stay with the caller: `batches` is any iterator, and `on_step` sees every
//! step.
//!
//! ```
//! use burn::nn::{Linear, LinearConfig};
//! use burn::optim::SgdConfig;
//! use burn::prelude::*;
//! use kiln_core::train::{FitOptions, Optimize, fit};
//!
//! let device = Device::default().autodiff();
//! let model: Linear = LinearConfig::new(2, 1).init(&device);
//! let x = Tensor::<2>::ones([4, 2], &device);
//! let mut optim = SgdConfig::new().init();
//! let fitted = fit(
//!     model,
//!     std::iter::repeat_n(x, 20),
//!     |m: &Linear, x| m.forward(x).powf_scalar(2.0).mean(),
//!     &mut Optimize::new(&mut optim, |_step| 0.1),
//!     FitOptions::default(),
//!     |_step, _loss| {},
//! );
//! assert_eq!(fitted.steps, 20);
//! assert!(fitted.losses[19] < fitted.losses[0]);
//! ```

use burn::module::Module;
use burn::optim::{GradientsParams, LearningRate, ModuleOptimizer};
use burn::prelude::*;

/// Anything that updates a whole module from its gradients: Burn's [`ModuleOptimizer`] and the
/// optimizers of the paper crates. Training code written against it takes any of them.
pub trait ModuleStep {
    /// Updates `module` with `grads` at learning rate `lr`.
    fn step<M: Module>(&mut self, lr: LearningRate, module: M, grads: GradientsParams) -> M;
}

impl ModuleStep for ModuleOptimizer {
    fn step<M: Module>(&mut self, lr: LearningRate, module: M, grads: GradientsParams) -> M {
        ModuleOptimizer::step(self, lr, module, grads)
    }
}

/// How one training step turns a model and its loss into the updated model.
pub trait Update<M> {
    /// The model after step `step` (0-based) on `loss`.
    fn update(&mut self, model: M, loss: Tensor<1>, step: usize) -> M;
}

/// Back-propagation through the whole model and one optimizer step, at the learning rate
/// `lr(step)`.
pub struct Optimize<'o, O, S> {
    optim: &'o mut O,
    lr: S,
}

impl<'o, O: ModuleStep, S: Fn(usize) -> LearningRate> Optimize<'o, O, S> {
    /// Steps `optim` at the learning rate `lr(step)`.
    pub fn new(optim: &'o mut O, lr: S) -> Self {
        Self { optim, lr }
    }
}

impl<M: Module, O: ModuleStep, S: Fn(usize) -> LearningRate> Update<M> for Optimize<'_, O, S> {
    fn update(&mut self, model: M, loss: Tensor<1>, step: usize) -> M {
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        self.optim.step((self.lr)(step), model, grads)
    }
}

/// When [`fit`] reads the loss back to the host, and when it gives up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitOptions {
    /// Read the loss at steps `0, k, 2k, …` (1: every step; 0: never, so that the device never
    /// waits for the host).
    pub log_every: usize,
    /// Stop, before updating, at the first read loss that is not finite or exceeds this.
    pub stop_above: Option<f64>,
}

impl Default for FitOptions {
    /// Every loss read, no stopping.
    fn default() -> Self {
        Self {
            log_every: 1,
            stop_above: None,
        }
    }
}

impl FitOptions {
    /// Reads the loss every `k` steps.
    pub fn log_every(k: usize) -> Self {
        Self {
            log_every: k,
            ..Self::default()
        }
    }

    /// Also stops when a read loss is not finite or above `limit`.
    pub fn stop_above(self, limit: f64) -> Self {
        Self {
            stop_above: Some(limit),
            ..self
        }
    }
}

/// What [`fit`] did.
#[derive(Debug, Clone)]
pub struct Fitted<M> {
    /// The model after the last update.
    pub model: M,
    /// The losses read (before each read step's update), in step order.
    pub losses: Vec<f64>,
    /// Updates made.
    pub steps: usize,
    /// Whether training stopped at a loss beyond [`FitOptions::stop_above`].
    pub diverged: bool,
}

impl<M> Fitted<M> {
    /// The mean of the losses read (NaN if none was).
    pub fn mean_loss(&self) -> f64 {
        if self.losses.is_empty() {
            return f64::NAN;
        }
        self.losses.iter().sum::<f64>() / self.losses.len() as f64
    }
}

/// Trains `model` on each of `batches` in turn: `loss(&model, batch)`, then
/// `update.update(model, loss, step)`. `on_step(step, loss)` runs after each update, with the
/// loss when it was read at that step.
pub fn fit<M, B>(
    mut model: M,
    batches: impl IntoIterator<Item = B>,
    loss: impl Fn(&M, B) -> Tensor<1>,
    update: &mut impl Update<M>,
    options: FitOptions,
    mut on_step: impl FnMut(usize, Option<f64>),
) -> Fitted<M> {
    let mut losses = Vec::new();
    let mut steps = 0;
    for (step, batch) in batches.into_iter().enumerate() {
        let loss = loss(&model, batch);
        let read = options.log_every > 0 && step % options.log_every == 0;
        let value = read.then(|| f64::from(loss.clone().into_scalar::<f32>()));
        if let (Some(v), Some(limit)) = (value, options.stop_above)
            && (!v.is_finite() || v > limit)
        {
            return Fitted {
                model,
                losses,
                steps,
                diverged: true,
            };
        }
        losses.extend(value);
        model = update.update(model, loss, step);
        steps += 1;
        on_step(step, value);
    }
    Fitted {
        model,
        losses,
        steps,
        diverged: false,
    }
}

#[cfg(test)]
mod tests {
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::SgdConfig;

    use super::*;

    /// `w ← w − lr · 2w` on the loss `w²`: after `n` steps, `w = w₀ (1 − 2 lr)ⁿ`.
    #[test]
    fn plain_sgd_on_a_quadratic_matches_its_closed_form() {
        let device = Device::default().autodiff();
        let model: Linear = LinearConfig::new(1, 1).with_bias(false).init(&device);
        let w0 = model.weight.val().into_scalar::<f32>() as f64;
        let mut optim = SgdConfig::new().init();
        let square = |m: &Linear, ()| m.weight.val().powf_scalar(2.0).sum();
        let fitted = fit(
            model,
            std::iter::repeat_n((), 5),
            square,
            &mut Optimize::new(&mut optim, |_| 0.1),
            FitOptions::default(),
            |_, _| {},
        );
        let w5 = fitted.model.weight.val().into_scalar::<f32>() as f64;
        assert!((w5 - w0 * 0.8f64.powi(5)).abs() < 1e-6, "{w5} vs {w0}");
        let expected: Vec<f64> = (0..5).map(|n| (w0 * 0.8f64.powi(n)).powi(2)).collect();
        for (got, want) in fitted.losses.iter().zip(&expected) {
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
    }

    #[test]
    fn a_loss_above_the_limit_stops_before_its_update() {
        let device = Device::default().autodiff();
        let model: Linear = LinearConfig::new(1, 1).with_bias(false).init(&device);
        let mut optim = SgdConfig::new().init();
        // lr 1.5 turns w into −2w each step, so the loss w² grows fourfold.
        let mut seen = Vec::new();
        let fitted = fit(
            model,
            std::iter::repeat_n((), 50),
            |m: &Linear, ()| m.weight.val().powf_scalar(2.0).sum().add_scalar(1.0),
            &mut Optimize::new(&mut optim, |_| 1.5),
            FitOptions::default().stop_above(1e6),
            |step, loss| seen.push((step, loss.is_some())),
        );
        assert!(fitted.diverged);
        assert!(fitted.steps < 50 && fitted.steps == seen.len());
        assert!(fitted.losses.iter().all(|&l| l <= 1e6));
        assert_eq!(fitted.losses.len(), fitted.steps);
    }

    #[test]
    fn losses_are_read_at_the_chosen_interval() {
        let device = Device::default().autodiff();
        let model: Linear = LinearConfig::new(1, 1).init(&device);
        let mut optim = SgdConfig::new().init();
        let mut read_at = Vec::new();
        let fitted = fit(
            model,
            std::iter::repeat_n((), 25),
            |m: &Linear, ()| m.weight.val().sum(),
            &mut Optimize::new(&mut optim, |_| 0.0),
            FitOptions::log_every(10),
            |step, loss| {
                if loss.is_some() {
                    read_at.push(step);
                }
            },
        );
        assert_eq!(read_at, [0, 10, 20]);
        assert_eq!(fitted.losses.len(), 3);
        assert_eq!(fitted.steps, 25);
    }
}
