//! What a reproduction run does, read from `configs/tam-optim/<scale>.ron`.

use kiln_core::InvalidConfig;
use kiln_core::cli::ReproductionConfig;
use kiln_core::data::DatasetChoice;
use serde::{Deserialize, Serialize};

use super::OptimizerKind;

/// A learning-rate grid for one optimizer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LrGrid {
    /// The optimizer.
    pub optimizer: OptimizerKind,
    /// The learning rates tried.
    pub lrs: Vec<f64>,
}

/// E1: ordinary (i.i.d.) training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IidConfig {
    /// The datasets, each run separately.
    pub datasets: Vec<DatasetChoice>,
    /// Epochs over the training subset.
    pub epochs: usize,
    /// Batch size.
    pub batch_size: usize,
    /// One grid per optimizer; the best rate on validation (first seed) is then run on all seeds.
    pub grids: Vec<LrGrid>,
}

/// E2: the label-flipping stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnlineConfig {
    /// The dataset streamed (its E1 learning rates are reused, so it must be one of E1's).
    pub dataset: DatasetChoice,
    /// Tasks in the stream.
    pub tasks: usize,
    /// Steps per task.
    pub steps_per_task: usize,
    /// Batch size.
    pub batch_size: usize,
    /// Fractions of the classes relabelled at each task boundary.
    pub flip_fractions: Vec<f64>,
    /// The optimizers streamed.
    pub optimizers: Vec<OptimizerKind>,
    /// Test images scored under the current labelling at the end of each task.
    pub test_size: usize,
    /// Steps per point of the plotted online-accuracy curve.
    pub curve_window: usize,
}

/// E3: the learning-rate sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepConfig {
    /// The dataset.
    pub dataset: DatasetChoice,
    /// Epochs per run.
    pub epochs: usize,
    /// Batch size.
    pub batch_size: usize,
    /// The learning rates.
    pub lrs: Vec<f64>,
    /// The optimizers compared.
    pub optimizers: Vec<OptimizerKind>,
}

/// The toy quadratic `f(x, y) = ½ (x² + κ y²)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToyConfig {
    /// The curvature ratio `κ` (100 in our configs).
    pub curvature: f64,
    /// Full-batch steps.
    pub steps: usize,
    /// Learning rates tried.
    pub lrs: Vec<f64>,
    /// The learning rate of the `γ = 0` ablation.
    pub ablation_lr: f64,
}

/// Everything a reproduction run needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    /// `smoke`, `cpu` or `full`.
    pub scale: String,
    /// Training images per dataset (a seeded subset).
    pub train_size: usize,
    /// Validation images per dataset, held out of the training subset.
    pub val_size: usize,
    /// Test images (a seeded subset; the whole test set when `None`).
    pub test_size: Option<usize>,
    /// Hidden widths of the MLP (784-…-10).
    pub hidden: Vec<usize>,
    /// Seeds (offset by `--seed`); the first one selects learning rates.
    pub seeds: Vec<u64>,
    /// The toy quadratic.
    pub toy: ToyConfig,
    /// E1.
    pub iid: IidConfig,
    /// E2 (`None` skips it).
    pub online: Option<OnlineConfig>,
    /// E3 (`None` skips it).
    pub sweep: Option<SweepConfig>,
}

impl ExperimentConfig {
    /// E2's checks: its sizes, its windows, and that E1 selects its learning rates.
    fn validate_online(&self, online: &OnlineConfig) -> Result<(), InvalidConfig> {
        positive("online.tasks", online.tasks)?;
        positive("online.steps_per_task", online.steps_per_task)?;
        positive("online.batch_size", online.batch_size)?;
        positive("online.curve_window", online.curve_window)?;
        if !online.steps_per_task.is_multiple_of(online.curve_window) {
            return Err(InvalidConfig::new(
                "online.curve_window must divide online.steps_per_task, so that curve windows line up with the task boundaries",
            ));
        }
        if !self.iid.datasets.contains(&online.dataset) {
            return Err(InvalidConfig::new(
                "online.dataset must be one of iid.datasets: the stream reuses the learning rates E1 selects there",
            ));
        }
        if let Some(p) = online
            .flip_fractions
            .iter()
            .find(|p| !(0.0..=1.0).contains(*p))
        {
            return Err(InvalidConfig::new(format!(
                "flip fractions lie in [0, 1], found {p}"
            )));
        }
        for kind in &online.optimizers {
            if !self.iid.grids.iter().any(|g| g.optimizer == *kind) {
                return Err(InvalidConfig::new(format!(
                    "online.optimizers names {kind:?}, which has no grid in iid.grids to select its learning rate"
                )));
            }
        }
        Ok(())
    }
}

/// `Err` unless the count `v` of `name` is at least 1.
fn positive(name: &str, v: usize) -> Result<(), InvalidConfig> {
    kiln_core::ensure_config!(v > 0, "{name} must be at least 1");
    Ok(())
}

impl ReproductionConfig for ExperimentConfig {
    /// Checks the values.
    ///
    /// # Errors
    /// If a size is zero, a learning rate is not positive, or E2/E3 name what E1 does not have.
    fn validate(&self) -> Result<(), InvalidConfig> {
        positive("train_size", self.train_size)?;
        positive("val_size", self.val_size)?;
        positive("iid.epochs", self.iid.epochs)?;
        positive("iid.batch_size", self.iid.batch_size)?;
        positive("toy.steps", self.toy.steps)?;
        if self.seeds.is_empty() {
            return Err(InvalidConfig::new("seeds must not be empty"));
        }
        if self.hidden.contains(&0) {
            return Err(InvalidConfig::new("hidden widths must be at least 1"));
        }
        if self.iid.datasets.is_empty() {
            return Err(InvalidConfig::new(
                "iid.datasets must name at least one dataset",
            ));
        }
        let rates = self
            .iid
            .grids
            .iter()
            .flat_map(|g| g.lrs.iter())
            .chain(&self.toy.lrs)
            .chain(std::iter::once(&self.toy.ablation_lr))
            .chain(self.sweep.iter().flat_map(|s| s.lrs.iter()));
        if let Some(bad) = rates.into_iter().find(|lr| !(lr.is_finite() && **lr > 0.0)) {
            return Err(InvalidConfig::new(format!(
                "learning rates must be positive, found {bad}"
            )));
        }
        if let Some(grid) = self.iid.grids.iter().find(|g| g.lrs.is_empty()) {
            return Err(InvalidConfig::new(format!(
                "the grid of {:?} is empty",
                grid.optimizer
            )));
        }
        if let Some(online) = &self.online {
            self.validate_online(online)?;
        }
        if let Some(sweep) = &self.sweep {
            positive("sweep.epochs", sweep.epochs)?;
            positive("sweep.batch_size", sweep.batch_size)?;
            if sweep.lrs.is_empty() || sweep.optimizers.is_empty() {
                return Err(InvalidConfig::new(
                    "sweep needs learning rates and optimizers",
                ));
            }
        }
        Ok(())
    }

    fn scale(&self) -> &str {
        &self.scale
    }

    fn seeds(&self, offset: u64) -> Vec<u64> {
        self.seeds.iter().map(|s| s + offset).collect()
    }
}
