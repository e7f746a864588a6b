//! The classifier of the image experiments, and the training loop they share.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::activation::relu;
use kiln_core::train::{Progress, SeededRng, cross_entropy};

use super::{AnyOptimizer, Prepared, diverged};
use crate::ModuleStep;

/// A ReLU multi-layer perceptron.
#[derive(Module, Debug)]
pub struct Mlp {
    layers: Vec<Linear>,
}

impl Mlp {
    /// Layers of the given widths, input first (e.g. `[784, 256, 256, 10]`).
    pub fn new(widths: &[usize], device: &Device) -> Self {
        let layers = widths
            .windows(2)
            .map(|w| LinearConfig::new(w[0], w[1]).init(device))
            .collect();
        Self { layers }
    }

    /// Logits `[B, classes]` of flat inputs `[B, features]`.
    pub fn forward(&self, mut x: Tensor<2>) -> Tensor<2> {
        let last = self.layers.len().saturating_sub(1);
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x);
            if i < last {
                x = relu(x);
            }
        }
        x
    }

    /// The device of the parameters.
    pub fn device(&self) -> Device {
        self.devices().into_iter().next().unwrap_or_default()
    }
}

/// How an epoch-based run ended.
pub struct Fitted {
    /// The trained model.
    pub model: Mlp,
    /// Mean training loss of each finished epoch.
    pub epoch_losses: Vec<f64>,
    /// Whether the loss blew up (training stopped there).
    pub diverged: bool,
}

/// The schedule of an epoch-based run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochPlan {
    /// Constant learning rate.
    pub lr: f64,
    /// Passes over the training set.
    pub epochs: usize,
    /// Batch size.
    pub batch_size: usize,
}

/// Trains `model` with `optim` for the passes of `plan` over `data.train`, in the order `rng`
/// draws.
pub fn fit(
    data: &Prepared,
    mut model: Mlp,
    optim: &mut AnyOptimizer,
    plan: EpochPlan,
    rng: &mut SeededRng,
    label: String,
) -> Fitted {
    let EpochPlan {
        lr,
        epochs,
        batch_size,
    } = plan;
    let device = model.device();
    let steps = data.train.len().div_ceil(batch_size);
    let mut progress = Progress::new(label, (epochs * steps) as u64);
    let mut epoch_losses = Vec::new();
    for _ in 0..epochs {
        let mut total = 0.0;
        let batches = rng.batches(data.train.len(), batch_size);
        for batch in &batches {
            let (x, y) = data.batch(&data.train, batch, None, &device);
            let loss = cross_entropy(model.forward(x), y);
            let value = f64::from(loss.clone().into_scalar::<f32>());
            if diverged(value) {
                progress.finish();
                return Fitted {
                    model,
                    epoch_losses,
                    diverged: true,
                };
            }
            total += value;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(lr, model, grads);
            progress.inc(1);
        }
        epoch_losses.push(total / batches.len() as f64);
        progress.set_message(format!("loss {:.3}", total / batches.len() as f64));
    }
    progress.finish();
    Fitted {
        model,
        epoch_losses,
        diverged: false,
    }
}
