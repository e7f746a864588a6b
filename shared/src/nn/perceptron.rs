//! A plain ReLU multi-layer perceptron, the classifier of the image experiments of several papers
//! (TAM's i.i.d. and label-flipping studies, the soft-reset streams).

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;

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
