//! RMSNorm (Zhang and Sennrich, 2019): `y = x / sqrt(mean(x²) + ε) ⊙ g`, over the last axis.

use burn::module::Param;
use burn::prelude::*;

/// Root-mean-square normalisation with a learned gain and no bias (as in Llama).
#[derive(Module, Debug)]
pub struct RmsNorm {
    /// The gain `g`, initialised to ones.
    pub weight: Param<Tensor<1>>,
    /// `ε` inside the square root.
    #[module(skip)]
    pub eps: f64,
}

impl RmsNorm {
    /// A norm over `dim` features.
    pub fn new(dim: usize, eps: f64, device: &Device) -> Self {
        Self {
            weight: Param::from_tensor(Tensor::ones([dim], device)),
            eps,
        }
    }

    /// Normalises the last axis of `x`.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let inv_rms = x
            .clone()
            .powi_scalar(2)
            .mean_dim(D - 1)
            .add_scalar(self.eps)
            .sqrt()
            .recip();
        let mut shape = [1usize; D];
        shape[D - 1] = self.weight.dims()[0];
        x * inv_rms * self.weight.val().reshape(shape)
    }
}
