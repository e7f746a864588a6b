//! E1: ordinary training. Each optimizer's learning rate is chosen on a validation split with
//! the first seed; that rate is then trained on every seed and scored on the test set.

use std::collections::BTreeMap;
use std::time::Instant;

use burn::prelude::*;
use kiln_core::train::{PhaseError, PhaseStore, derive_seed, seed_everything};
use serde::{Deserialize, Serialize};

use super::config::ExperimentConfig;
use super::mlp::{EpochPlan, Mlp, fit};
use super::{OptimizerKind, Prepared};

/// One trained model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// The optimizer.
    pub optimizer: OptimizerKind,
    /// Its learning rate.
    pub lr: f64,
    /// The seed (model initialisation and data order).
    pub seed: u64,
    /// Validation accuracy (%).
    pub val_acc: f64,
    /// Test accuracy (%).
    pub test_acc: f64,
    /// Mean training loss of the last epoch (`None` if the run diverged).
    pub final_loss: Option<f64>,
    /// Whether the loss blew up.
    pub diverged: bool,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// Trains one MLP on `data` and scores it. Initialisation and data order come from `seed` and
/// the name of the `study`, so the optimizers of one study and seed start from the same weights.
pub fn train_run(
    data: &Prepared,
    hidden: &[usize],
    kind: OptimizerKind,
    plan: EpochPlan,
    seed: u64,
    study: &str,
    device: &Device,
) -> RunResult {
    let started = Instant::now();
    let device = device.clone().autodiff();
    let mut rng = seed_everything(&device, derive_seed(seed, study));
    let shape = data.train.shape();
    let widths: Vec<usize> = std::iter::once(shape.numel())
        .chain(hidden.iter().copied())
        .chain(std::iter::once(data.train.num_classes()))
        .collect();
    let model = Mlp::new(&widths, &device);
    let mut optim = kind.build();
    let label = format!("{} {} lr {} seed {seed}", data.name, kind.name(), plan.lr);
    let fitted = fit(data, model, &mut optim, plan, &mut rng, label);
    let model = fitted.model.valid();
    RunResult {
        optimizer: kind,
        lr: plan.lr,
        seed,
        val_acc: data.accuracy(&model, &data.val, None),
        test_acc: data.accuracy(&model, &data.test, None),
        final_loss: if fitted.diverged {
            None
        } else {
            fitted.epoch_losses.last().copied()
        },
        diverged: fitted.diverged,
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// E1 on one dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IidResult {
    /// The dataset.
    pub dataset: String,
    /// Every grid point with the first seed (the accuracy-vs-learning-rate curves).
    pub grid: Vec<RunResult>,
    /// The learning rate selected for each optimizer.
    pub selected: BTreeMap<OptimizerKind, f64>,
    /// Every seed at the selected rate.
    pub finals: Vec<RunResult>,
}

impl IidResult {
    /// The final runs of one optimizer.
    pub fn finals_of(&self, kind: OptimizerKind) -> Vec<&RunResult> {
        self.finals.iter().filter(|r| r.optimizer == kind).collect()
    }
}

/// Runs E1 on `data`; every run is a phase of `phases`.
pub fn run(
    config: &ExperimentConfig,
    data: &Prepared,
    device: &Device,
    seed_offset: u64,
    phases: &mut PhaseStore,
) -> Result<IidResult, PhaseError> {
    let e1 = &config.iid;
    let seeds: Vec<u64> = config.seeds.iter().map(|s| s + seed_offset).collect();
    let plan = |lr| EpochPlan {
        lr,
        epochs: e1.epochs,
        batch_size: e1.batch_size,
    };
    let mut one = |kind: OptimizerKind, lr: f64, seed: u64| {
        let phase = format!("e1/{}/{}/lr{lr}/seed{seed}", data.name, kind.name());
        phases.run(&phase, || -> Result<_, PhaseError> {
            Ok(train_run(
                data,
                &config.hidden,
                kind,
                plan(lr),
                seed,
                "e1",
                device,
            ))
        })
    };
    let mut grid = Vec::new();
    let mut selected = BTreeMap::new();
    for g in &e1.grids {
        let mut best: Option<RunResult> = None;
        for &lr in &g.lrs {
            let r = one(g.optimizer, lr, seeds[0])?;
            if best.as_ref().is_none_or(|b| r.val_acc > b.val_acc) {
                best = Some(r.clone());
            }
            grid.push(r);
        }
        if let Some(best) = best {
            selected.insert(g.optimizer, best.lr);
        }
    }
    let mut finals = Vec::new();
    for (&kind, &lr) in &selected {
        for &seed in &seeds {
            finals.push(one(kind, lr, seed)?);
        }
    }
    Ok(IidResult {
        dataset: data.name.clone(),
        grid,
        selected,
        finals,
    })
}
