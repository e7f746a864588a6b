//! The pre-LayerNorm Transformer encoder block of ViT (Dosovitskiy et al., 2021):
//! `x ← x + MHSA(LN(x))`, then `x ← x + W₂ GeLU(W₁ LN(x))`.

use burn::nn::attention::{MhaInput, MultiHeadAttention, MultiHeadAttentionConfig};
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::gelu_approximate;

/// Settings of a [`VitBlock`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VitBlockConfig {
    /// Model width `D`.
    pub d_model: usize,
    /// Attention heads.
    pub heads: usize,
    /// Hidden width of the MLP.
    pub mlp_dim: usize,
}

impl VitBlockConfig {
    /// A block with fresh weights (LayerNorm ε = 1e-6 as in big_vision; no dropout).
    pub fn init(&self, device: &Device) -> VitBlock {
        let d = self.d_model;
        let norm = || LayerNormConfig::new(d).with_epsilon(1e-6).init(device);
        let block = VitBlock {
            attention_norm: norm(),
            attention: MultiHeadAttentionConfig::new(d, self.heads)
                .with_dropout(0.0)
                .init(device),
            mlp_norm: norm(),
            mlp_in: LinearConfig::new(d, self.mlp_dim).init(device),
            mlp_out: LinearConfig::new(self.mlp_dim, d).init(device),
        };
        crate::train::materialize(&block);
        block
    }
}

/// A ViT encoder block over the tokens of `[B, N, D]`.
#[derive(Module, Debug)]
pub struct VitBlock {
    /// LayerNorm before attention.
    pub attention_norm: LayerNorm,
    /// Multi-head self-attention.
    pub attention: MultiHeadAttention,
    /// LayerNorm before the MLP.
    pub mlp_norm: LayerNorm,
    /// MLP, first layer.
    pub mlp_in: Linear,
    /// MLP, second layer.
    pub mlp_out: Linear,
}

impl VitBlock {
    /// Mixes the tokens of `x` (`[B, N, D]`), then their channels.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let attended = self
            .attention
            .forward(MhaInput::self_attn(self.attention_norm.forward(x.clone())))
            .context;
        let x = x + attended;
        let hidden = gelu_approximate(self.mlp_in.forward(self.mlp_norm.forward(x.clone())));
        x.clone() + self.mlp_out.forward(hidden)
    }
}
