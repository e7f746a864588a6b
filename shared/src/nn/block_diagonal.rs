//! A linear map whose weight is block-diagonal: the channels split into groups (heads), each
//! mapped by its own small matrix. Griffin and TRecViT use it for the LRU's gates.

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::Distribution;

/// `y = x W + b` with `W = diag(W_1, …, W_n)`: the input channels split into `n` groups, each
/// mapped by its own block to its own group of outputs.
#[derive(Module, Debug)]
pub struct BlockDiagonalLinear {
    /// The blocks, `[n, W_in/n, W_out/n]`.
    pub weight: Param<Tensor<3>>,
    /// Bias, `[W_out]`.
    pub bias: Param<Tensor<1>>,
}

impl BlockDiagonalLinear {
    /// `blocks` square blocks over `width` channels; see [`BlockDiagonalLinear::rectangular`].
    ///
    /// # Panics
    /// If `blocks` is 0 or does not divide `width`.
    pub fn new(width: usize, blocks: usize, device: &Device) -> Self {
        Self::rectangular(width, width, blocks, device)
    }

    /// `blocks` blocks from `width_in` to `width_out` channels, weights from
    /// `N(0, 1/width_in)`, bias zero.
    ///
    /// # Panics
    /// If `blocks` is 0 or does not divide both widths.
    pub fn rectangular(width_in: usize, width_out: usize, blocks: usize, device: &Device) -> Self {
        assert!(
            blocks > 0 && width_in.is_multiple_of(blocks) && width_out.is_multiple_of(blocks),
            "{blocks} blocks must divide the widths {width_in} and {width_out}"
        );
        let std = (1.0 / width_in as f64).sqrt();
        Self {
            weight: Param::from_tensor(Tensor::random(
                [blocks, width_in / blocks, width_out / blocks],
                Distribution::Normal(0.0, std),
                device,
            )),
            bias: Param::from_tensor(Tensor::zeros([width_out], device)),
        }
    }

    /// Maps the last axis of `x` (`[B, T, W_in]` → `[B, T, W_out]`).
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [batch, time, _] = x.dims();
        let [blocks, size_in, size_out] = self.weight.dims();
        let rows = batch * time;
        // [rows, W_in] -> [blocks, rows, size_in] -> per-block matmul -> back.
        let grouped = x.reshape([rows, blocks, size_in]).swap_dims(0, 1);
        let mapped = grouped.matmul(self.weight.val()).swap_dims(0, 1);
        let width_out = blocks * size_out;
        mapped.reshape([batch, time, width_out]) + self.bias.val().reshape([1, 1, width_out])
    }
}
