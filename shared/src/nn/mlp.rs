//! The SwiGLU feed-forward block (Shazeer, 2020): `W_down (silu(W_gate x) ⊙ W_up x)`.

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::silu;

/// SwiGLU with bias-free projections, as in Llama.
#[derive(Module, Debug)]
pub struct SwiGlu {
    /// `W_gate`.
    pub gate: Linear,
    /// `W_up`.
    pub up: Linear,
    /// `W_down`.
    pub down: Linear,
}

impl SwiGlu {
    /// `d_model → hidden → d_model`.
    pub fn new(d_model: usize, hidden: usize, device: &Device) -> Self {
        let linear = |i, o| LinearConfig::new(i, o).with_bias(false).init(device);
        Self {
            gate: linear(d_model, hidden),
            up: linear(d_model, hidden),
            down: linear(hidden, d_model),
        }
    }

    /// Applies the block to `[..., d_model]`.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        self.down
            .forward(silu(self.gate.forward(x.clone())) * self.up.forward(x))
    }
}
