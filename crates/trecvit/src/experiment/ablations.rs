//! The mini-ablations of the paper's Table 1: TRecViT variants trained like TRecViT on a
//! shorter budget, beside TRecViT itself on that budget.

use kiln_core::cli::{ExperimentError, Run};
use serde::{Deserialize, Serialize};

use super::config::{AblationConfig, ExperimentConfig, Variant};
use super::{Digits, ModelKind, ModelResult, run_model};
use crate::TRecViTConfig;

/// One row of the mini-ablations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AblationResult {
    /// The variant's name (`TRecViT` for the reference on the same budget).
    pub name: String,
    /// Its config.
    pub model: TRecViTConfig,
    /// What it measured (no latency).
    pub result: ModelResult,
}

/// The reference, then every variant of `ablation`; each is a phase.
///
/// # Errors
/// If a phase cannot be saved, or a variant's config is invalid.
pub fn run(
    config: &ExperimentConfig,
    ablation: &AblationConfig,
    digits: &Digits,
    seed: u64,
    run: &mut Run,
) -> Result<Vec<AblationResult>, ExperimentError> {
    let reference = Variant {
        name: "TRecViT".into(),
        conv_taps: None,
        lru_gates: None,
        min_rad: None,
    };
    let (device, memory) = (&run.device, run.memory());
    let mut ablations = Vec::new();
    for variant in std::iter::once(&reference).chain(&ablation.variants) {
        // The same training clips for every variant; no latency runs.
        let mut short = config.clone();
        short.model = variant.apply(&config.model);
        short.training.steps = ablation.steps;
        short.latency_frames.clear();
        let result = run.phases.run(&format!("ablation/{}", variant.name), || {
            run_model(ModelKind::TRecViT, &short, digits, seed, device, memory)
        })?;
        ablations.push(AblationResult {
            name: variant.name.clone(),
            model: short.model,
            result,
        });
    }
    Ok(ablations)
}
