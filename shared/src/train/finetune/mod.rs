//! Fine-tuning a loaded decoder: low-rank adapters or every weight, a frozen reference copy
//! for KL penalties, and saving and loading only the parameters that were trained.
//!
//! **LoRA** (Hu et al., 2021, §4.1). A frozen weight `W₀` (in Burn's `[d_in, d_out]` layout,
//! `y = x W₀`) gets a trainable low-rank update,
//!
//! `y = x (W₀ + (α / r) · A B)`,   `A ∈ ℝ^{d_in × r}`,   `B ∈ ℝ^{r × d_out}`,
//!
//! with `A ~ N(0, (1/r)²)` and `B = 0`, so the adapted model starts as the base model exactly.
//! Only `A` and `B` of the chosen projections train; every other tensor (the embedding, the
//! norms, the projections left out) is frozen. The adapters are Burn's own
//! ([`Module::apply_lora`]): an adapted parameter returns `W₀ + (α/r) A B` from `val()`, so the
//! decoder's code is unchanged, and [`LmEngine::from_decoder`](crate::lm::LmEngine::from_decoder)
//! serves the adapted model with the update merged in.
//!
//! What it costs: the merged weight is formed in every forward pass and its backward computes
//! the dense `∂L/∂W` of each adapted matrix before `∂L/∂A = (α/r) ∂L/∂W Bᵀ` and
//! `∂L/∂B = (α/r) Aᵀ ∂L/∂W`; the frozen matrices (the tied embedding and output head
//! included) cost no weight gradient at all, and AdamW keeps moments for the adapters alone.
//! `cargo xtask bench lm` measures both the LoRA and the full fine-tuning step.
//!
//! **Full fine-tuning** trains the decoder as loaded: on an autodiff device every parameter
//! requires a gradient. [`FineTuning::prepare`] does either.
//!
//! **KL to a reference.** A penalty that keeps the tuned model `p_θ` near the model it started
//! from, `p_ref`, per predicted position `t`:
//!
//! `KL_t = Σ_v p_θ(v | x_{<t}) (log p_θ(v | x_{<t}) − log p_ref(v | x_{<t}))`,
//!
//! averaged over the positions the loss mask counts ([`kl_to_reference`]); the reference is a
//! frozen copy taken before training ([`frozen_reference`]).

use std::path::Path;

use burn::module::{Lora, Module, ModuleVisitor, Param, ParamGroup, ParamId};
use burn::prelude::*;
use burn::store::ModuleRecord;
use burn::tensor::activation::log_softmax;
use serde::{Deserialize, Serialize};

use super::CheckpointError;
use crate::nn::Decoder;
use crate::{InvalidConfig, ensure_config};

/// A weight matrix of a decoder block that can carry an adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Projection {
    /// Attention's `W_Q`.
    Query,
    /// Attention's `W_K`.
    Key,
    /// Attention's `W_V`.
    Value,
    /// Attention's `W_O`.
    Output,
    /// The MLP's `W_gate`.
    Gate,
    /// The MLP's `W_up`.
    Up,
    /// The MLP's `W_down`.
    Down,
}

impl Projection {
    /// Every projection of a block, attention's first.
    pub const ALL: [Projection; 7] = [
        Self::Query,
        Self::Key,
        Self::Value,
        Self::Output,
        Self::Gate,
        Self::Up,
        Self::Down,
    ];

    /// The parameter's path in a [`Decoder`]'s record, in block `layer`.
    pub fn path(self, layer: usize) -> String {
        let part = match self {
            Self::Query => "attn.query",
            Self::Key => "attn.key",
            Self::Value => "attn.value",
            Self::Output => "attn.output",
            Self::Gate => "mlp.gate",
            Self::Up => "mlp.up",
            Self::Down => "mlp.down",
        };
        format!("blocks.{layer}.{part}.weight")
    }
}

/// Which adapters LoRA attaches: rank `r`, scale numerator `α` and the projections of every
/// block that get one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoraConfig {
    /// Rank `r` of each update.
    pub rank: usize,
    /// `α`: the update is scaled by `α / r`.
    pub alpha: f64,
    /// The adapted projections, in every block.
    pub targets: Vec<Projection>,
}

impl LoraConfig {
    /// Rank `rank`, `α = 2r` (a common choice that makes the scale 2), on every projection.
    pub fn all_projections(rank: usize) -> Self {
        Self {
            rank,
            alpha: 2.0 * rank as f64,
            targets: Projection::ALL.to_vec(),
        }
    }

    /// Checks the settings against a model with blocks of width `d_model`.
    ///
    /// # Errors
    /// If the rank is 0 or above `d_model`, `α` is not a positive number, or no projection is
    /// named (or one twice).
    pub fn validate(&self, d_model: usize) -> Result<(), InvalidConfig> {
        ensure_config!(
            self.rank >= 1 && self.rank <= d_model,
            "LoRA rank {} must be between 1 and the model width {d_model}",
            self.rank
        );
        ensure_config!(
            self.alpha.is_finite() && self.alpha > 0.0,
            "LoRA alpha must be a positive number, not {}",
            self.alpha
        );
        ensure_config!(
            !self.targets.is_empty(),
            "LoRA needs at least one target projection (query, key, value, output, gate, up, down)"
        );
        let mut seen = self.targets.clone();
        seen.sort_by_key(|p| *p as u8);
        seen.dedup();
        ensure_config!(
            seen.len() == self.targets.len(),
            "LoRA targets name a projection twice: {:?}",
            self.targets
        );
        Ok(())
    }
}

/// How a loaded decoder is fine-tuned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum FineTuning {
    /// Every parameter trains.
    Full,
    /// Low-rank adapters on a frozen base.
    Lora(LoraConfig),
}

impl FineTuning {
    /// The decoder ready to train this way. Build it on an autodiff device
    /// (`device.autodiff()`), or nothing requires a gradient.
    ///
    /// # Errors
    /// If the LoRA settings are invalid for this model.
    pub fn prepare(&self, decoder: Decoder) -> Result<Decoder, InvalidConfig> {
        match self {
            Self::Full => Ok(decoder),
            Self::Lora(config) => attach_lora(decoder, config),
        }
    }
}

/// `decoder` with every tensor frozen and a LoRA adapter on each projection `config` names,
/// in every block.
///
/// # Errors
/// If the settings are invalid for this model.
pub fn attach_lora(decoder: Decoder, config: &LoraConfig) -> Result<Decoder, InvalidConfig> {
    let d_model = decoder.embedding.weight.dims()[1];
    config.validate(d_model)?;
    let paths: Vec<String> = (0..decoder.blocks.len())
        .flat_map(|layer| config.targets.iter().map(move |p| p.path(layer)))
        .collect();
    let lora = Lora::new(config.rank, config.alpha).set_param_group(ParamGroup::from_paths(paths));
    Ok(decoder.apply_lora(lora))
}

/// A frozen copy of `model` as it is now: the reference of a KL penalty. Its outputs carry no
/// gradient, whatever the training does to `model` afterwards.
pub fn frozen_reference(model: &Decoder) -> Decoder {
    model.clone().no_grad()
}

/// The mean over positions where `mask` is 1 of `KL(p_θ ‖ p_ref)`, the distributions being
/// the softmax of `logits` and of `reference_logits` (`[B, T, V]` each; the reference is
/// detached).
pub fn kl_to_reference(
    logits: Tensor<3>,
    reference_logits: Tensor<3>,
    mask: Tensor<2>,
) -> Tensor<1> {
    let log_p = log_softmax(logits, 2);
    let log_ref = log_softmax(reference_logits.detach(), 2);
    let per_position = (log_p.clone().exp() * (log_p - log_ref))
        .sum_dim(2)
        .squeeze_dim::<2>(2);
    let count = mask.clone().sum().clamp_min(1.0);
    (per_position * mask).sum() / count
}

/// The ids of the parameters of `module` that require a gradient (for LoRA: the adapters).
pub fn trainable_ids<M: Module>(module: &M) -> Vec<ParamId> {
    struct Collect(Vec<ParamId>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if param.val().is_require_grad() {
                self.0.push(param.id);
            }
        }
    }
    let mut collect = Collect(Vec::new());
    module.visit(&mut collect);
    collect.0
}

/// Writes the parameters of `module` that require a gradient to a burnpack file at `path`:
/// a LoRA run's adapters (a few megabytes), or every weight after full fine-tuning.
///
/// # Errors
/// If nothing in `module` requires a gradient (it was not built on an autodiff device, or
/// was frozen), or the file cannot be written.
pub fn save_trainable<M: Module>(module: &M, path: &Path) -> Result<(), CheckpointError> {
    let ids = trainable_ids(module);
    let problem = |problem: String| CheckpointError::Record {
        path: path.to_path_buf(),
        problem,
    };
    if ids.is_empty() {
        return Err(problem(
            "nothing in this model requires a gradient: build it on an autodiff device \
             (`device.autodiff()`) and prepare it with `FineTuning::prepare`"
                .into(),
        ));
    }
    module
        .clone()
        .into_record_group(ParamGroup::from_ids(ids))
        .save(path)
        .map_err(|e| problem(e.to_string()))
}

/// `module` with the parameters saved by [`save_trainable`] read back from `path`; the rest
/// stays as it is. For LoRA, `module` is the base model with the same adapters attached
/// ([`attach_lora`] with the same settings).
///
/// # Errors
/// If the file cannot be read, or holds a tensor `module` has no place for (adapters of a
/// projection the model does not adapt) or one of another shape (another rank).
pub fn load_trainable<M: Module>(module: M, path: &Path) -> Result<M, CheckpointError> {
    let problem = |e: burn::store::RecordError| CheckpointError::Record {
        path: path.to_path_buf(),
        problem: e.to_string(),
    };
    let record = ModuleRecord::load(path).map_err(problem)?;
    module
        .try_load_record(record.allow_partial(true))
        .map_err(problem)
}

#[cfg(test)]
mod tests;
