//! What a reproduction run does, read from `configs/ou-reset/<scale>.ron`.

use kiln_core::InvalidConfig;
use kiln_core::cli::ReproductionConfig;
use kiln_core::data::DatasetChoice;
use serde::{Deserialize, Serialize};

use crate::{PriorMean, SoftResetConfig, StreamKind};

/// The methods compared on the streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum MethodKind {
    /// Online SGD.
    OnlineSgd,
    /// Hard reset at the task boundaries (oracle).
    HardReset,
    /// L2 Init.
    L2Init,
    /// Shrink & perturb at the task boundaries (oracle).
    ShrinkPerturb,
    /// Soft Reset (learned γ per layer).
    SoftReset,
    /// Soft Reset Proximal.
    SoftResetProximal,
    /// Bayesian Soft Reset Proximal.
    BayesianSoftReset,
    /// A perfect soft reset (oracle γ at the boundaries) with a constant learning rate.
    PerfectResetConstantLr,
    /// A perfect soft reset with the learning rate raised by the variance ratio.
    PerfectResetHigherLr,
}

impl MethodKind {
    /// The name in reports.
    pub fn name(self) -> &'static str {
        match self {
            MethodKind::OnlineSgd => "Online SGD",
            MethodKind::HardReset => "Hard Reset",
            MethodKind::L2Init => "L2 Init",
            MethodKind::ShrinkPerturb => "Shrink & Perturb",
            MethodKind::SoftReset => "Soft Reset",
            MethodKind::SoftResetProximal => "Soft Reset Proximal",
            MethodKind::BayesianSoftReset => "Bayesian Soft Reset",
            MethodKind::PerfectResetConstantLr => "Perfect reset, constant lr",
            MethodKind::PerfectResetHigherLr => "Perfect reset, higher lr",
        }
    }
}

/// The settings of every method.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MethodsConfig {
    /// SGD's learning rate α (every method's base rate).
    pub lr: f64,
    /// The prior mean of the soft resets.
    pub prior_mean: PriorMean,
    /// The floor of `σ₀²`.
    pub var_floor: f64,
    /// L2 Init's λ.
    pub l2_lambda: f64,
    /// Shrink & perturb's shrink factor.
    pub shrink: f64,
    /// Shrink & perturb's noise standard deviation.
    pub perturb: f64,
    /// Soft Reset.
    pub soft_reset: SoftResetConfig,
    /// Soft Reset Proximal.
    pub proximal: SoftResetConfig,
    /// Bayesian Soft Reset Proximal.
    pub bayesian: SoftResetConfig,
    /// The perfect soft reset's `γ` at a boundary.
    pub perfect_gamma: f64,
    /// The perfect soft reset's `ρ` in its higher-rate arm.
    pub perfect_rho: f64,
}

/// One stream and the methods trained on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudyConfig {
    /// The images.
    pub dataset: DatasetChoice,
    /// How tasks differ.
    pub kind: StreamKind,
    /// Number of tasks.
    pub tasks: usize,
    /// Epochs per task.
    pub epochs: usize,
    /// The methods.
    pub methods: Vec<MethodKind>,
}

/// Run 3: partially random labels over a grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepConfig {
    /// The images.
    pub dataset: DatasetChoice,
    /// Fractions of random labels per task.
    pub fractions: Vec<f64>,
    /// Epochs per task.
    pub epochs: Vec<usize>,
    /// Number of tasks.
    pub tasks: usize,
    /// The methods.
    pub methods: Vec<MethodKind>,
}

/// The toy mean-tracking task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToyConfig {
    /// Steps.
    pub steps: usize,
    /// Seed of the observations.
    pub observation_seed: u64,
    /// The two online SGD rates compared.
    pub sgd_lrs: Vec<f64>,
    /// The learned soft reset (its `lr` is the small SGD rate).
    pub soft_reset: SoftResetConfig,
    /// Prior variance `σ₀²`.
    pub prior_var: f64,
}

/// The switching-reward DQN.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RlConfig {
    /// Grid side.
    pub size: usize,
    /// Episodes between switches of the rewarded corner.
    pub episodes_per_phase: usize,
    /// Number of phases.
    pub phases: usize,
    /// Step limit per episode.
    pub max_steps: usize,
    /// Hidden widths of the Q-network.
    pub hidden: Vec<usize>,
    /// SGD rate.
    pub lr: f64,
    /// Discount.
    pub discount: f64,
    /// ε of ε-greedy.
    pub epsilon: f64,
    /// Replay capacity.
    pub replay: usize,
    /// Minibatch size.
    pub batch_size: usize,
    /// Updates between target-network copies.
    pub target_every: usize,
    /// The methods (Online SGD, Hard Reset at switches, Soft Reset).
    pub methods: Vec<MethodKind>,
    /// The soft reset used on the TD loss.
    pub soft_reset: SoftResetConfig,
    /// Seeds.
    pub seeds: Vec<u64>,
}

/// Everything a reproduction run needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    /// `smoke`, `cpu` or `full`.
    pub scale: String,
    /// Seeds of the stream studies (offset by `--seed`).
    pub seeds: Vec<u64>,
    /// Runs trained at a time.
    pub workers: usize,
    /// Images in each stream's fixed pool (a seeded subset of the training split).
    pub images: usize,
    /// Average-pooling factor of the images (2: 28×28 → 14×14).
    pub pool: usize,
    /// Hidden widths of the MLP.
    pub hidden: Vec<usize>,
    /// Batch size.
    pub batch_size: usize,
    /// The methods' settings.
    pub methods: MethodsConfig,
    /// Run 1: random-label memorisation (many epochs per task).
    pub memorisation: Option<StudyConfig>,
    /// Random labels, few epochs per task ("data efficient").
    pub data_efficient: Option<StudyConfig>,
    /// Run 2: perfect soft resets (its methods are the two perfect-reset arms).
    pub perfect_reset: Option<StudyConfig>,
    /// Run 3: the non-stationarity sweep.
    pub sweep: Option<SweepConfig>,
    /// The toy.
    pub toy: ToyConfig,
    /// The reinforcement-learning setting.
    pub rl: Option<RlConfig>,
    /// Steps timed per method for the cost table (`None` skips it).
    pub cost_steps: Option<usize>,
}

fn positive(name: &str, v: usize) -> Result<(), InvalidConfig> {
    kiln_core::ensure_config!(v > 0, "{name} must be at least 1");
    Ok(())
}

fn validate_soft(name: &str, c: &SoftResetConfig) -> Result<(), InvalidConfig> {
    kiln_core::ensure_config!(
        c.lr.is_finite() && c.lr > 0.0,
        "{name}.lr must be positive, found {}",
        c.lr
    );
    if let crate::GammaSource::Learned(g) = &c.gamma {
        g.validate()
            .map_err(|e| InvalidConfig::new(format!("{name}: {e}")))?;
    }
    Ok(())
}

impl ExperimentConfig {
    fn validate_studies(&self) -> Result<(), InvalidConfig> {
        for (name, study) in [
            ("memorisation", &self.memorisation),
            ("data_efficient", &self.data_efficient),
            ("perfect_reset", &self.perfect_reset),
        ] {
            if let Some(s) = study {
                positive(&format!("{name}.tasks"), s.tasks)?;
                positive(&format!("{name}.epochs"), s.epochs)?;
                kiln_core::ensure_config!(!s.methods.is_empty(), "{name}.methods is empty");
            }
        }
        if let Some(s) = &self.sweep {
            positive("sweep.tasks", s.tasks)?;
            kiln_core::ensure_config!(
                s.fractions.iter().all(|f| (0.0..=1.0).contains(f)),
                "sweep.fractions lie in [0, 1], found {:?}",
                s.fractions
            );
            kiln_core::ensure_config!(
                !s.epochs.is_empty() && !s.epochs.contains(&0),
                "sweep.epochs must be a non-empty list of positive counts"
            );
        }
        if let Some(rl) = &self.rl {
            positive("rl.size", rl.size.saturating_sub(1))?;
            positive("rl.phases", rl.phases)?;
            positive("rl.episodes_per_phase", rl.episodes_per_phase)?;
            positive("rl.batch_size", rl.batch_size)?;
            positive("rl.replay", rl.replay)?;
            kiln_core::ensure_config!(!rl.seeds.is_empty(), "rl.seeds must not be empty");
            validate_soft("rl.soft_reset", &rl.soft_reset)?;
        }
        Ok(())
    }
}

impl ReproductionConfig for ExperimentConfig {
    fn validate(&self) -> Result<(), InvalidConfig> {
        kiln_core::ensure_config!(!self.seeds.is_empty(), "seeds must not be empty");
        positive("workers", self.workers)?;
        positive("images", self.images)?;
        positive("pool", self.pool)?;
        kiln_core::ensure_config!(
            self.pool <= 14,
            "pool = {} would leave no pixels of a 28×28 image (at most 14)",
            self.pool
        );
        positive("batch_size", self.batch_size)?;
        kiln_core::ensure_config!(
            !self.hidden.contains(&0),
            "hidden widths must be at least 1"
        );
        let m = &self.methods;
        kiln_core::ensure_config!(
            m.lr.is_finite() && m.lr > 0.0,
            "methods.lr must be positive, found {}",
            m.lr
        );
        kiln_core::ensure_config!(
            (0.0..=1.0).contains(&m.perfect_gamma) && (0.0..=1.0).contains(&m.shrink),
            "methods.perfect_gamma and methods.shrink lie in [0, 1]"
        );
        validate_soft("methods.soft_reset", &m.soft_reset)?;
        validate_soft("methods.proximal", &m.proximal)?;
        validate_soft("methods.bayesian", &m.bayesian)?;
        validate_soft("toy.soft_reset", &self.toy.soft_reset)?;
        positive("toy.steps", self.toy.steps)?;
        self.validate_studies()
    }

    fn scale(&self) -> &str {
        &self.scale
    }

    fn seeds(&self, offset: u64) -> Vec<u64> {
        self.seeds.iter().map(|s| s + offset).collect()
    }
}
