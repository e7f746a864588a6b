//! The epochs the image experiments train their classifier ([`Mlp`]) for.

pub use crate::mlp::Mlp;
use kiln_core::train::{self, FitOptions, Optimize, Progress, SeededRng, cross_entropy};

use super::{AnyOptimizer, DIVERGED, Prepared};

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
/// draws, stopping at the first loss beyond [`DIVERGED`].
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
        let batches = rng.batches(data.train.len(), batch_size);
        let epoch = train::fit(
            model,
            batches
                .iter()
                .map(|b| data.batch(&data.train, b, None, &device)),
            |m: &Mlp, (x, y)| cross_entropy(m.forward(x), y),
            &mut Optimize::new(optim, |_| lr),
            FitOptions::default().stop_above(DIVERGED),
            |_, _| progress.inc(1),
        );
        let mean = epoch.mean_loss();
        model = epoch.model;
        if epoch.diverged {
            progress.finish();
            return Fitted {
                model,
                epoch_losses,
                diverged: true,
            };
        }
        epoch_losses.push(mean);
        progress.set_message(format!("loss {mean:.3}"));
    }
    progress.finish();
    Fitted {
        model,
        epoch_losses,
        diverged: false,
    }
}
