//! A causal depthwise convolution over time, with a cache for frame-by-frame use.
//!
//! `y_t = b + Σ_{k=0}^{K−1} w_k ⊙ x_{t−K+1+k}`, one filter per channel, zeros before the first
//! frame: the tap `w_{K−1}` weighs the current frame (as in Griffin and TRecViT's released code).

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::Distribution;

/// Causal depthwise Conv1D over `[B, T, W]`.
#[derive(Module, Debug)]
pub struct CausalConv1d {
    /// Filters, `[K, W]`; row `K − 1` weighs the current frame.
    pub weight: Param<Tensor<2>>,
    /// Bias, `[W]`.
    pub bias: Param<Tensor<1>>,
}

impl CausalConv1d {
    /// `K`-tap filters over `width` channels, weights drawn from `N(0, 0.05²)` (the released
    /// TRecViT initialisation), bias zero.
    pub fn new(taps: usize, width: usize, device: &Device) -> Self {
        Self {
            weight: Param::from_tensor(Tensor::random(
                [taps, width],
                Distribution::Normal(0.0, 0.05),
                device,
            )),
            bias: Param::from_tensor(Tensor::zeros([width], device)),
        }
    }

    /// Number of taps `K`.
    pub fn taps(&self) -> usize {
        self.weight.dims()[0]
    }

    /// The `K − 1` frames before the first one, all zero: the cache at the start of a sequence.
    pub fn empty_cache(&self, batch: usize, device: &Device) -> Tensor<3> {
        let [taps, width] = self.weight.dims();
        Tensor::zeros([batch, taps - 1, width], device)
    }

    /// Filters `x` (`[B, T, W]`) after the frames in `cache` (`[B, K − 1, W]`, zeros at the
    /// start of a sequence). Returns the output and the cache for the next call: the last
    /// `K − 1` frames seen.
    pub fn forward(&self, x: Tensor<3>, cache: Option<Tensor<3>>) -> (Tensor<3>, Tensor<3>) {
        let [batch, time, width] = x.dims();
        let taps = self.taps();
        let past = cache.unwrap_or_else(|| self.empty_cache(batch, &x.device()));
        let padded = Tensor::cat(vec![past, x], 1);
        let weight = self.weight.val();
        let mut y = self.bias.val().reshape([1, 1, width]);
        for k in 0..taps {
            let tap = weight
                .clone()
                .slice(s![k..k + 1, ..])
                .reshape([1, 1, width]);
            y = y + padded.clone().slice(s![.., k..k + time, ..]) * tap;
        }
        let next = padded.slice(s![.., time..time + taps - 1, ..]);
        (y, next)
    }
}
