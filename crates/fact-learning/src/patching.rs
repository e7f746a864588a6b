//! Attention patching (§2.2, App. D.1): train a model with another model's attention.
//!
//! A frozen reference checkpoint and a modified model that starts from the *same* initial
//! parameters. From step `start_step` on, each layer of the modified model uses the reference's
//! post-softmax attention on the same input instead of its own (a stop-gradient), so only its
//! values, output projections and MLPs learn. `start_step = 0` patches the whole run; patching
//! from the reference's own training step freezes attention at that point. The paper
//! re-initialises the optimizer state when patching starts.

use burn::prelude::*;
use kiln_core::nn::{AttentionOverride, Decoder, DecoderOutput};

/// A reference model whose attention maps replace another model's.
#[derive(Debug, Clone)]
pub struct AttentionPatcher {
    /// The frozen reference checkpoint.
    pub reference: Decoder,
    /// The first step at which the reference's attention is used.
    pub start_step: usize,
}

impl AttentionPatcher {
    /// Patches from `start_step` on with `reference` (its parameters are never trained).
    pub fn new(reference: Decoder, start_step: usize) -> Self {
        Self {
            reference: reference.no_grad(),
            start_step,
        }
    }

    /// The override for `tokens` at `step`: none before `start_step`, else every layer's
    /// reference attention, detached.
    pub fn attention(&self, tokens: Tensor<2, Int>, step: usize) -> AttentionOverride {
        if step < self.start_step {
            return AttentionOverride::default();
        }
        let maps = self.reference.forward(tokens, None, None, true).attention;
        AttentionOverride::all_layers(maps)
    }

    /// `model` on `tokens` with the attention this patcher prescribes at `step`.
    pub fn forward(&self, model: &Decoder, tokens: Tensor<2, Int>, step: usize) -> DecoderOutput {
        let attention = self.attention(tokens.clone(), step);
        model.forward_with_attention(tokens, &attention, false)
    }
}
