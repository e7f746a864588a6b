//! Griffin's recurrent residual block (De et al., 2024, §2.4) without its MLP: an RMSNorm, a
//! GeLU gate branch and a recurrent branch of a causal Conv1D and the RG-LRU:
//!
//! ```text
//! x̂ = RMSNorm(x)
//! y = GeLU(W_y x̂)                         gate branch, D → W
//! u = RG-LRU(Conv1D(W_u x̂))               recurrent branch, D → W
//! out = x + W_o (u ⊙ y)                    W → D
//! ```
//!
//! Everything it keeps between frames is the convolution's last `K − 1` inputs and the LRU
//! state, both of a size fixed by the widths, not by the length of the sequence.
//!
//! With `conv_taps = 0` the block has no convolution (`u = RG-LRU(W_u x̂)`).

use burn::nn::{Initializer, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::gelu_approximate;
use serde::{Deserialize, Serialize};

use super::conv1d::CausalConv1d;
use super::norm::{RmsNorm, rms_norm};
use super::rglru::{RgLru, RgLruConfig};

/// Settings of a [`RecurrentBlock`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RecurrentBlockConfig {
    /// Model width `D`.
    pub d_model: usize,
    /// The LRU (its width is the branch width `W`).
    pub lru: RgLruConfig,
    /// Taps of the causal convolution (4; 0 for none).
    pub conv_taps: usize,
    /// Layers in the whole network, which scales the output projection's initial variance by
    /// `2 / depth` as in the released code.
    pub depth: usize,
}

/// What a [`RecurrentBlock`] carries from one frame to the next.
#[derive(Debug, Clone)]
pub struct RecurrentState {
    /// The convolution's last `K − 1` inputs, `[B, K − 1, W]` (`None` without a convolution).
    pub conv: Option<Tensor<3>>,
    /// The LRU state, `[B, W]`.
    pub lru: Tensor<2>,
}

impl RecurrentState {
    /// Values held, per sequence.
    pub fn len_per_sequence(&self) -> usize {
        let conv = self.conv.as_ref().map_or(0, |c| {
            let [_, taps, width] = c.dims();
            taps * width
        });
        conv + self.lru.dims()[1]
    }
}

impl RecurrentBlockConfig {
    /// A block with fresh weights.
    pub fn init(&self, device: &Device) -> RecurrentBlock {
        let (d, w) = (self.d_model, self.lru.width);
        let normal = |fan_in: usize, variance: f64| Initializer::Normal {
            mean: 0.0,
            std: (variance / fan_in as f64).sqrt(),
        };
        let linear = |from: usize, to: usize, init: Initializer| {
            LinearConfig::new(from, to)
                .with_initializer(init)
                .init(device)
        };
        let block = RecurrentBlock {
            norm: rms_norm(d, 1e-6, device),
            gate: linear(d, w, normal(d, 1.0)),
            input: linear(d, w, normal(d, 1.0)),
            conv: (self.conv_taps > 0).then(|| CausalConv1d::new(self.conv_taps, w, device)),
            lru: self.lru.init(device),
            output: linear(w, d, normal(w, 2.0 / self.depth.max(1) as f64)),
        };
        crate::train::materialize(&block);
        block
    }
}

/// The temporal block.
#[derive(Module, Debug)]
pub struct RecurrentBlock {
    /// RMSNorm before both branches (the released code's `1 + scale` is this gain).
    pub norm: RmsNorm,
    /// `W_y`, the GeLU gate branch.
    pub gate: Linear,
    /// `W_u`, into the convolution and the LRU.
    pub input: Linear,
    /// The causal depthwise convolution (`None` when `conv_taps` is 0).
    pub conv: Option<CausalConv1d>,
    /// The RG-LRU.
    pub lru: RgLru,
    /// `W_o`, back to the model width.
    pub output: Linear,
}

impl RecurrentBlock {
    /// Mixes `x` (`[B, T, D]`) over time, after the frames summarised by `state` (`None` at
    /// the start of the sequences). Returns the output and the state after the last frame.
    pub fn forward(
        &self,
        x: Tensor<3>,
        state: Option<RecurrentState>,
    ) -> (Tensor<3>, RecurrentState) {
        let normed = self.norm.forward(x.clone());
        let gate = gelu_approximate(self.gate.forward(normed.clone()));
        let (conv_cache, lru_state) = match state {
            Some(s) => (s.conv, Some(s.lru)),
            None => (None, None),
        };
        let u = self.input.forward(normed);
        let (u, conv) = match &self.conv {
            Some(layer) => {
                let (u, cache) = layer.forward(u, conv_cache);
                (u, Some(cache))
            }
            None => (u, None),
        };
        let (u, lru) = self.lru.forward(u, lru_state);
        let out = x + self.output.forward(u * gate);
        (out, RecurrentState { conv, lru })
    }
}
