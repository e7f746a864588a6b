//! E3: how large a learning rate each optimizer survives. SGD-momentum and TAM train the same
//! model over growing rates; a run fails when its loss blows up or it ends no better than a
//! uniform guess.

use burn::prelude::*;
use kiln_core::train::{PhaseError, PhaseStore};
use serde::{Deserialize, Serialize};

use super::config::{ExperimentConfig, SweepConfig};
use super::iid::{RunResult, train_run};
use super::mlp::EpochPlan;
use super::{OptimizerKind, Prepared};

/// E3's runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepResult {
    /// The dataset.
    pub dataset: String,
    /// Every run, all rates and seeds.
    pub runs: Vec<RunResult>,
    /// `ln(classes)`: the loss of a uniform guess.
    pub chance_loss: f64,
}

impl SweepResult {
    /// The runs of one optimizer at one rate.
    pub fn runs_at(&self, kind: OptimizerKind, lr: f64) -> Vec<&RunResult> {
        self.runs
            .iter()
            .filter(|r| r.optimizer == kind && r.lr == lr)
            .collect()
    }

    /// Whether a run failed: its loss blew up, or its last epoch's mean training loss is no
    /// better than guessing, `ln(classes)` (what an untrained classifier scores).
    pub fn failed(&self, run: &RunResult) -> bool {
        run.diverged || run.final_loss.is_none_or(|loss| loss >= self.chance_loss)
    }

    /// The fraction of seeds that failed at `lr`.
    pub fn failed_fraction(&self, kind: OptimizerKind, lr: f64) -> f64 {
        let runs = self.runs_at(kind, lr);
        runs.iter().filter(|r| self.failed(r)).count() as f64 / runs.len().max(1) as f64
    }

    /// The largest rate of `lrs` up to which (inclusive) no seed of `kind` failed; `None` when
    /// it failed already at the smallest.
    pub fn max_stable_lr(&self, kind: OptimizerKind, lrs: &[f64]) -> Option<f64> {
        let mut sorted = lrs.to_vec();
        sorted.sort_by(f64::total_cmp);
        sorted
            .into_iter()
            .take_while(|&lr| self.failed_fraction(kind, lr) == 0.0)
            .last()
    }
}

/// Runs E3; every run is a phase.
pub fn run(
    config: &ExperimentConfig,
    e3: &SweepConfig,
    data: &Prepared,
    device: &Device,
    seed_offset: u64,
    phases: &mut PhaseStore,
) -> Result<SweepResult, PhaseError> {
    let mut runs = Vec::new();
    for &kind in &e3.optimizers {
        for &lr in &e3.lrs {
            for &seed in &config.seeds {
                let seed = seed + seed_offset;
                let phase = format!("e3/{}/{}/lr{lr}/seed{seed}", data.name, kind.name());
                let plan = EpochPlan {
                    lr,
                    epochs: e3.epochs,
                    batch_size: e3.batch_size,
                };
                runs.push(phases.run(&phase, || -> Result<_, PhaseError> {
                    Ok(train_run(
                        data,
                        &config.hidden,
                        kind,
                        plan,
                        seed,
                        "e3",
                        device,
                    ))
                })?);
            }
        }
    }
    Ok(SweepResult {
        dataset: data.name.clone(),
        runs,
        chance_loss: (data.train.num_classes() as f64).ln(),
    })
}
