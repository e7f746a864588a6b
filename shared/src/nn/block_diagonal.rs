//! A linear map whose weight is block-diagonal: the channels split into groups (heads), each
//! mapped by its own small matrix. Griffin and TRecViT use it for the LRU's gates.

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::Distribution;

/// `y = x W + b` with `W = diag(W_1, …, W_n)`, `n` square blocks.
#[derive(Module, Debug)]
pub struct BlockDiagonalLinear {
    /// The blocks, `[n, W/n, W/n]`.
    pub weight: Param<Tensor<3>>,
    /// Bias, `[W]`.
    pub bias: Param<Tensor<1>>,
}

impl BlockDiagonalLinear {
    /// `blocks` blocks over `width` channels (`width % blocks == 0`), weights from
    /// `N(0, 1/width)`, bias zero.
    ///
    /// # Panics
    /// If `blocks` is 0 or does not divide `width`.
    pub fn new(width: usize, blocks: usize, device: &Device) -> Self {
        assert!(
            blocks > 0 && width.is_multiple_of(blocks),
            "{blocks} blocks must divide the width {width}"
        );
        let size = width / blocks;
        let std = (1.0 / width as f64).sqrt();
        Self {
            weight: Param::from_tensor(Tensor::random(
                [blocks, size, size],
                Distribution::Normal(0.0, std),
                device,
            )),
            bias: Param::from_tensor(Tensor::zeros([width], device)),
        }
    }

    /// Maps the last axis of `x` (`[B, T, W]`).
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [batch, time, width] = x.dims();
        let [blocks, size, _] = self.weight.dims();
        let rows = batch * time;
        // [rows, W] -> [blocks, rows, size] -> per-block matmul -> back.
        let grouped = x.reshape([rows, blocks, size]).swap_dims(0, 1);
        let mapped = grouped.matmul(self.weight.val()).swap_dims(0, 1);
        mapped.reshape([batch, time, width]) + self.bias.val().reshape([1, 1, width])
    }
}
