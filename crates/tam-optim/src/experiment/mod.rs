//! The reproduction behind `cargo xtask reproduce tam-optim`, as library functions.
//!
//! Four studies, each a set of resumable phases:
//! - [`toy`]: the stability of SGD with momentum and TAM on an ill-conditioned quadratic;
//! - [`iid`] (E1): SGD, SGD-momentum, TAM, Adam and AdaTAM trained on MNIST and Fashion-MNIST,
//!   learning rates chosen on a validation split, test accuracy over seeds;
//! - [`online`] (E2): the label-flipping stream, the paper's distribution-shift setting;
//! - [`sweep`] (E3): SGD-momentum and TAM over growing learning rates, counting divergences.
//!
//! [`report`] turns the results into the claims table, tables and plots, and [`TamOptim`] is
//! the whole reproduction as `kiln_core::cli::main` runs it.

pub mod config;
pub mod iid;
pub mod mlp;
pub mod online;
pub mod report;
pub mod sweep;
pub mod toy;

use burn::module::Module;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, GradientsParams, LearningRate, ModuleOptimizer, SgdConfig};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use kiln_core::InvalidConfig;
use kiln_core::cli::{BuildReport, ExperimentError, Reproduction, Run};
use kiln_core::data::{DatasetChoice, ImageDataset, Normalization};
use kiln_core::train::{ModuleStep, PhaseError, derive_seed};

pub use config::ExperimentConfig;
pub use mlp::Mlp;

use crate::{AdaTam, AdaTamConfig, Tam, TamConfig, TamStats};

/// The optimizers compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum OptimizerKind {
    /// Plain SGD.
    Sgd,
    /// SGD with momentum 0.9 and dampening 0 (PyTorch's convention).
    SgdMomentum,
    /// TAM with its defaults (global cosine).
    Tam,
    /// Adam (β = 0.9, 0.999; ε = 1e-8).
    Adam,
    /// AdaTAM with its defaults.
    AdaTam,
}

impl OptimizerKind {
    /// The name in reports.
    pub fn name(self) -> &'static str {
        match self {
            OptimizerKind::Sgd => "SGD",
            OptimizerKind::SgdMomentum => "SGDM",
            OptimizerKind::Tam => "TAM",
            OptimizerKind::Adam => "Adam",
            OptimizerKind::AdaTam => "AdaTAM",
        }
    }

    /// A fresh optimizer of this kind.
    pub fn build(self) -> AnyOptimizer {
        let momentum = MomentumConfig::new().with_momentum(0.9).with_dampening(0.0);
        match self {
            OptimizerKind::Sgd => AnyOptimizer::Burn(SgdConfig::new().init()),
            OptimizerKind::SgdMomentum => {
                AnyOptimizer::Burn(SgdConfig::new().with_momentum(Some(momentum)).init())
            }
            OptimizerKind::Tam => AnyOptimizer::Tam(TamConfig::new().init()),
            OptimizerKind::Adam => AnyOptimizer::Burn(AdamConfig::new().with_epsilon(1e-8).init()),
            OptimizerKind::AdaTam => AnyOptimizer::AdaTam(AdaTamConfig::new().init()),
        }
    }
}

/// One of the compared optimizers, behind one type.
pub enum AnyOptimizer {
    /// One of Burn's.
    Burn(ModuleOptimizer),
    /// TAM.
    Tam(Tam),
    /// AdaTAM.
    AdaTam(AdaTam),
}

impl AnyOptimizer {
    /// The damping of the last step, for the torque optimizers.
    pub fn stats(&self) -> Option<TamStats> {
        match self {
            AnyOptimizer::Burn(_) => None,
            AnyOptimizer::Tam(o) => o.stats(),
            AnyOptimizer::AdaTam(o) => o.stats(),
        }
    }
}

impl ModuleStep for AnyOptimizer {
    fn step<M: Module>(&mut self, lr: LearningRate, module: M, grads: GradientsParams) -> M {
        match self {
            AnyOptimizer::Burn(o) => ModuleStep::step(o, lr, module, grads),
            AnyOptimizer::Tam(o) => o.step(lr, module, grads),
            AnyOptimizer::AdaTam(o) => o.step(lr, module, grads),
        }
    }
}

/// One dataset, split and flattened for the MLP.
pub struct Prepared {
    /// Display name.
    pub name: String,
    /// Training images (a seeded subset of the official training set).
    pub train: ImageDataset,
    /// Validation images for learning-rate selection (disjoint from `train`).
    pub val: ImageDataset,
    /// Test images.
    pub test: ImageDataset,
    /// Pixel normalisation, from the training images.
    pub norm: Normalization,
}

impl Prepared {
    /// Loads `choice` and takes the configured seeded train/validation/test subsets.
    ///
    /// # Errors
    /// If the dataset is missing or malformed, or smaller than the subsets asked for.
    pub fn load(
        choice: &DatasetChoice,
        config: &ExperimentConfig,
    ) -> Result<Self, ExperimentError> {
        let (train_all, test_all) = choice.load()?;
        let wanted = config.train_size + config.val_size;
        if wanted > train_all.len() {
            return Err(InvalidConfig::new(format!(
                "{} has {} training images; train_size + val_size asks for {wanted}",
                choice.name(),
                train_all.len()
            ))
            .into());
        }
        let pool = train_all.seeded_subset(wanted, derive_seed(0, "tam-train-pool"))?;
        let (train, val) = pool.split(config.train_size, derive_seed(0, "tam-val-split"))?;
        let test = match config.test_size {
            Some(n) if n < test_all.len() => {
                test_all.seeded_subset(n, derive_seed(0, "tam-test-subset"))?
            }
            _ => test_all,
        };
        let norm = train.channel_stats();
        Ok(Self {
            name: choice.name().to_string(),
            train,
            val,
            test,
            norm,
        })
    }

    /// Accuracy (%) of `model` on `data` with labels mapped through `labels`.
    pub fn accuracy(&self, model: &Mlp, data: &ImageDataset, labels: Option<&[u16]>) -> f64 {
        let device = model.device();
        let indices: Vec<usize> = (0..data.len()).collect();
        let mut correct = 0usize;
        for chunk in indices.chunks(1000) {
            let (x, y) = self.batch(data, chunk, labels, &device);
            correct += kiln_core::train::count_correct(model.forward(x), y);
        }
        100.0 * correct as f64 / data.len().max(1) as f64
    }

    /// Images `indices` of `data`, flattened and normalised, with labels mapped through `labels`.
    pub fn batch(
        &self,
        data: &ImageDataset,
        indices: &[usize],
        labels: Option<&[u16]>,
        device: &Device,
    ) -> (Tensor<2>, Tensor<1, Int>) {
        let (x, y) = data.flat_batch(indices, &self.norm, device);
        let Some(map) = labels else {
            return (x, y);
        };
        let mapped: Vec<i64> = indices
            .iter()
            .map(|&i| i64::from(map[usize::from(data.labels()[i])]))
            .collect();
        let n = mapped.len();
        (x, Tensor::from_data(TensorData::new(mapped, [n]), device))
    }
}

/// Everything a run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Results {
    /// The toy quadratic.
    pub toy: toy::ToyResult,
    /// E1, one per dataset.
    pub iid: Vec<iid::IidResult>,
    /// E2.
    pub online: Option<online::OnlineResult>,
    /// E3.
    pub sweep: Option<sweep::SweepResult>,
}

/// The whole reproduction, as `cargo xtask reproduce tam-optim` runs it.
pub struct TamOptim;

impl Reproduction for TamOptim {
    const PAPER: &'static str = "tam-optim";
    const ABOUT: &'static str = "Reproduce Torque-Aware Momentum's claims: toy stability, i.i.d. training, the label-flipping stream and the learning-rate sweep.";
    type Config = ExperimentConfig;
    type Results = Results;
    const REPORT: BuildReport<ExperimentConfig, Results> = report::build;

    fn run(config: &ExperimentConfig, run: &mut Run) -> Result<Results, ExperimentError> {
        run_all(config, &run.device, run.seed, &mut run.phases)
    }
}

/// The datasets of a run, each loaded once however many studies use it.
struct Loaded(Vec<Prepared>);

impl Loaded {
    /// The index of `choice`, loading it on first use.
    fn index(
        &mut self,
        choice: &DatasetChoice,
        config: &ExperimentConfig,
    ) -> Result<usize, ExperimentError> {
        if let Some(i) = self.0.iter().position(|d| d.name == choice.name()) {
            return Ok(i);
        }
        self.0.push(Prepared::load(choice, config)?);
        Ok(self.0.len() - 1)
    }
}

/// Runs every study of `config` on `device`; finished runs are phases of `phases`, so an
/// interrupted run resumes.
fn run_all(
    config: &ExperimentConfig,
    device: &Device,
    seed_offset: u64,
    phases: &mut kiln_core::train::PhaseStore,
) -> Result<Results, ExperimentError> {
    eprintln!("tam-optim: toy quadratic");
    let toy = phases.run("toy", || -> Result<_, PhaseError> {
        Ok(toy::run(&config.toy))
    })?;
    let mut loaded = Loaded(Vec::new());
    let iid_index = config
        .iid
        .datasets
        .iter()
        .map(|choice| loaded.index(choice, config))
        .collect::<Result<Vec<_>, _>>()?;
    let online_index = config
        .online
        .as_ref()
        .map(|e2| loaded.index(&e2.dataset, config))
        .transpose()?;
    let sweep_index = config
        .sweep
        .as_ref()
        .map(|e3| loaded.index(&e3.dataset, config))
        .transpose()?;
    let loaded = loaded.0;
    let mut iid_results = Vec::new();
    for &i in &iid_index {
        eprintln!("tam-optim: E1 on {}", loaded[i].name);
        iid_results.push(iid::run(config, &loaded[i], device, seed_offset, phases)?);
    }
    let online = match (&config.online, online_index) {
        (Some(e2), Some(i)) => {
            eprintln!("tam-optim: E2 label flips on {}", loaded[i].name);
            let lrs = iid_results
                .iter()
                .find(|r| r.dataset == loaded[i].name)
                .map(|r| r.selected.clone())
                .unwrap_or_default();
            let study = online::Study {
                config,
                e2,
                data: &loaded[i],
                lrs: &lrs,
            };
            Some(online::run(study, device, seed_offset, phases)?)
        }
        _ => None,
    };
    let sweep = match (&config.sweep, sweep_index) {
        (Some(e3), Some(i)) => {
            eprintln!("tam-optim: E3 learning-rate sweep on {}", loaded[i].name);
            Some(sweep::run(
                config,
                e3,
                &loaded[i],
                device,
                seed_offset,
                phases,
            )?)
        }
        _ => None,
    };
    Ok(Results {
        toy,
        iid: iid_results,
        online,
        sweep,
    })
}

/// A training loss above this (or not finite) means the run has blown up.
pub const DIVERGED: f64 = 1e6;

/// Whether a loss says the run has blown up.
pub fn diverged(loss: f64) -> bool {
    !loss.is_finite() || loss > DIVERGED
}
