//! RMSNorm (Zhang and Sennrich, 2019): `y = x / sqrt(mean(x²) + ε) ⊙ g` over the last axis,
//! with a learned gain `g` and no bias, as in Llama and Griffin. It is Burn's own
//! [`burn::nn::RmsNorm`]; this module only gives the one constructor the layers here use.

use burn::prelude::*;

pub use burn::nn::{RmsNorm, RmsNormConfig};

/// An RMSNorm over `dim` features with `ε = eps` (which must be positive) and a gain of ones.
pub fn rms_norm(dim: usize, eps: f64, device: &Device) -> RmsNorm {
    RmsNormConfig::new(dim).with_epsilon(eps).init(device)
}
