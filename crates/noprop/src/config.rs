//! Configuration of a NoProp run, read from RON; the paper's Table 4 settings are presets.

use kiln_core::{InvalidConfig, ensure_config};
use serde::{Deserialize, Serialize};

use crate::block::BlockConfig;
use crate::embedding::EmbeddingKind;
use crate::schedule::ScheduleConfig;
use crate::train::OptimizerConfig;

/// Which NoProp variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Variant {
    /// Discrete time: `T` blocks, fixed cosine schedule (§2.3).
    Dt,
    /// Continuous time: one time-conditioned network, learned schedule (§2.3, App. B).
    Ct,
    /// Flow matching: one time-conditioned network (§2.4).
    Fm,
}

/// Which block widths.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum BlockPreset {
    /// The paper's Fig. 5 block.
    Paper,
    /// Our smaller block for 2-core runs.
    Cpu,
    /// Any widths.
    Custom(BlockConfig),
}

impl BlockPreset {
    /// The widths.
    pub fn config(&self) -> BlockConfig {
        match self {
            BlockPreset::Paper => BlockConfig::paper(),
            BlockPreset::Cpu => BlockConfig::cpu(),
            BlockPreset::Custom(c) => c.clone(),
        }
    }
}

/// The method and its training settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoPropConfig {
    /// DT, CT or FM.
    pub variant: Variant,
    /// Number of blocks `T` (DT).
    pub t_blocks: usize,
    /// Class embedding.
    pub embedding: EmbeddingKind,
    /// Noise schedule (DT).
    pub schedule: ScheduleConfig,
    /// Weight `η` of the denoising term (DT).
    pub eta: f64,
    /// Block widths.
    pub block: BlockPreset,
    /// Optimizer.
    pub optimizer: OptimizerConfig,
    /// Batch size.
    pub batch_size: usize,
    /// Epochs. For DT one epoch is `T` passes over the data, one per block (Algorithm 1).
    pub epochs: usize,
    /// Steps at inference for CT and FM (the paper uses 1000).
    pub inference_steps: usize,
    /// Whether DT inference adds the `√c_t ε` noise (the paper does).
    pub inference_noise: bool,
}

/// The datasets of the paper's Table 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PaperDataset {
    /// MNIST.
    Mnist,
    /// CIFAR-10.
    Cifar10,
    /// CIFAR-100.
    Cifar100,
}

impl NoPropConfig {
    /// The paper's settings (Table 4) for a variant, dataset and embedding: batch 128, lr 1e-3,
    /// weight decay 1e-3, T = 10, η = 0.1 (DT) or 1 (CT); epochs 100 (MNIST) or 150 (CIFAR)
    /// for DT, 100, 500 or 1000 for CT and FM; 1000 inference steps for CT and FM.
    pub fn table4(variant: Variant, dataset: PaperDataset, embedding: EmbeddingKind) -> Self {
        let epochs = match (variant, dataset) {
            (_, PaperDataset::Mnist) => 100,
            (Variant::Dt, _) => 150,
            (_, PaperDataset::Cifar10) => 500,
            (_, PaperDataset::Cifar100) => 1000,
        };
        Self {
            variant,
            t_blocks: 10,
            embedding,
            schedule: ScheduleConfig::default(),
            eta: if variant == Variant::Ct { 1.0 } else { 0.1 },
            block: BlockPreset::Paper,
            optimizer: OptimizerConfig::default(),
            batch_size: 128,
            epochs,
            inference_steps: 1000,
            inference_noise: true,
        }
    }

    /// Checks values that would otherwise fail deep inside training.
    ///
    /// # Errors
    /// If a count is zero, the learning rate is not positive, `η` is negative, a learned
    /// embedding has no dimensions, or the schedule is invalid.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        ensure_config!(self.t_blocks > 0, "t_blocks must be at least 1");
        ensure_config!(
            self.batch_size > 0 && self.epochs > 0,
            "batch_size and epochs must be at least 1"
        );
        ensure_config!(
            self.inference_steps > 0,
            "inference_steps must be at least 1"
        );
        ensure_config!(
            self.optimizer.lr.is_finite() && self.optimizer.lr > 0.0 && self.eta >= 0.0,
            "lr must be positive and eta non-negative"
        );
        ensure_config!(
            self.embedding != EmbeddingKind::Learned { dim: 0 },
            "a learned embedding needs dim ≥ 1"
        );
        crate::schedule::DiscreteSchedule::new(&self.schedule, self.t_blocks).map(|_| ())
    }
}

/// Every Table 4 preset, named `<variant>-<dataset>-<embedding>` (e.g. `dt-mnist-onehot`):
/// DT, CT and FM on MNIST, CIFAR-10 and CIFAR-100 with one-hot, 20-dimensional learned and
/// prototype embeddings.
pub fn table4_presets() -> Vec<(String, NoPropConfig)> {
    let mut presets = Vec::new();
    for variant in [Variant::Dt, Variant::Ct, Variant::Fm] {
        for dataset in [
            PaperDataset::Mnist,
            PaperDataset::Cifar10,
            PaperDataset::Cifar100,
        ] {
            for (embedding, name) in [
                (EmbeddingKind::OneHot, "onehot"),
                (EmbeddingKind::Learned { dim: 20 }, "dim20"),
                (EmbeddingKind::Prototype, "prototype"),
            ] {
                let key = format!("{variant:?}-{dataset:?}-{name}").to_ascii_lowercase();
                presets.push((key, NoPropConfig::table4(variant, dataset, embedding)));
            }
        }
    }
    presets
}

/// A preset as the RON text stored under `configs/noprop/presets/`.
pub fn preset_text(config: &NoPropConfig) -> Result<String, ron::Error> {
    let pretty = ron::ser::PrettyConfig::default();
    Ok(format!(
        "// Generated from NoPropConfig::table4 by `cargo run -p kiln-noprop --example write_presets`.\n{}\n",
        ron::ser::to_string_pretty(config, pretty)?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table4_presets_round_trip_through_ron() {
        let c = NoPropConfig::table4(Variant::Dt, PaperDataset::Mnist, EmbeddingKind::OneHot);
        assert_eq!((c.epochs, c.t_blocks, c.batch_size), (100, 10, 128));
        assert_eq!(
            NoPropConfig::table4(Variant::Fm, PaperDataset::Cifar100, EmbeddingKind::OneHot).epochs,
            1000
        );
        let text = ron::ser::to_string(&c).unwrap();
        let back: NoPropConfig = ron::from_str(&text).unwrap();
        assert_eq!(back, c);
        back.validate().unwrap();
    }

    #[test]
    fn unknown_fields_and_bad_values_are_rejected() {
        let c = NoPropConfig::table4(Variant::Dt, PaperDataset::Mnist, EmbeddingKind::OneHot);
        let text = ron::ser::to_string(&c)
            .unwrap()
            .replacen("eta:", "etta: 1.0, eta:", 1);
        let err = ron::from_str::<NoPropConfig>(&text)
            .unwrap_err()
            .to_string();
        assert!(err.contains("etta"), "{err}");
        let mut bad = c;
        bad.t_blocks = 0;
        assert!(bad.validate().is_err());
    }
}
