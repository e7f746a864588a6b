//! Feed-forward networks: the plain ReLU multi-layer perceptron, and the SwiGLU block
//! (Shazeer, 2020), `W_down (silu(W_gate x) ⊙ W_up x)`.

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::{relu, silu};

/// A ReLU multi-layer perceptron: `Linear → ReLU → … → Linear`, no activation after the last
/// layer (it gives logits).
#[derive(Module, Debug)]
pub struct Mlp {
    /// The layers, input first.
    pub layers: Vec<Linear>,
}

impl Mlp {
    /// Layers of the given widths, input first (e.g. `[784, 256, 256, 10]`), initialised as
    /// Burn's `LinearConfig` does.
    pub fn new(widths: &[usize], device: &Device) -> Self {
        let layers = widths
            .windows(2)
            .map(|w| LinearConfig::new(w[0], w[1]).init(device))
            .collect();
        Self { layers }
    }

    /// Outputs `[B, last width]` of flat inputs `[B, first width]`.
    pub fn forward(&self, mut x: Tensor<2>) -> Tensor<2> {
        let last = self.layers.len().saturating_sub(1);
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x);
            if i < last {
                x = relu(x);
            }
        }
        x
    }

    /// The device of the parameters.
    pub fn device(&self) -> Device {
        self.devices().into_iter().next().unwrap_or_default()
    }
}

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
