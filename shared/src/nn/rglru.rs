//! The real-gated linear recurrent unit (RG-LRU) of Griffin (De et al., 2024, §2.4), which
//! mixes a sequence over time with per-channel decays, both gated by the input:
//!
//! ```text
//! g_x = σ(W_x u_t + b_x)                       input gate
//! g_a = σ(W_a u_t + b_a)                       recurrence gate
//! a_t = exp(−c · g_a · softplus(Λ))            decay, = r^(c·g_a), c = 8
//! h_t = a_t ⊙ h_{t−1} + √(1 − a_t²) ⊙ (g_x ⊙ u_t)
//! ```
//!
//! The gates are block-diagonal over heads, as in Griffin's release. `kiln-trecvit` uses the
//! unit as its temporal mixer and states the same equations as the TRecViT paper numbers them.
//!
//! At the start of a sequence the previous state is zero and the first input is not scaled by
//! `√(1 − a_0²)` (the released code's reset); a call that continues a sequence passes its state.
//!
//! Without gates (`gated = false`, an ablation of TRecViT's Table 1), the unit is the plain LRU with real decays: `g_x = 1` and `a_t = r` for all `t`,
//! the decay radius itself (not `r^c`), so the initial radii keep their meaning.
//!
//! The complex option (`only_real = false` in Griffin's library) reads the `W` channels as `W/2` complex numbers, real parts first, and gives each decay
//! a phase: `a_t = exp(−c g_a softplus(Λ) + i θ g_a)`, `θ ~ U(0, 0.1π)`, normalised by
//! `√(1 − |a_t|²)`.

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::activation::{sigmoid, softplus};
use serde::{Deserialize, Serialize};

use super::block_diagonal::BlockDiagonalLinear;
use super::scan::{ComplexTensor, ScanImpl, complex_linear_scan, linear_scan};

/// How the decay radii `r = exp(−softplus(Λ))` are drawn at initialisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DecayInit {
    /// `r ~ U[min, max]` (the paper: "σ(λ) initialised uniform in [λ_min, λ_max]").
    UniformRadius,
    /// `r² ~ U[min², max²]` (the released code).
    UniformRadiusSquared,
}

/// Settings of an [`RgLru`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RgLruConfig {
    /// Channels `W`.
    pub width: usize,
    /// Blocks of the block-diagonal gates (the heads; must divide `width`).
    pub blocks: usize,
    /// `c` in `a = exp(−c · g_a · softplus(Λ))`; 8 in Griffin and TRecViT.
    pub c: f64,
    /// Smallest initial decay radius (0.6 in the paper, 0.5 in the released model).
    pub min_rad: f64,
    /// Largest initial decay radius (0.999).
    pub max_rad: f64,
    /// How radii are drawn.
    pub init: DecayInit,
    /// How the recurrence runs over time.
    pub scan: ScanImpl,
    /// Real decays (the default); `false` for complex ones with a learned phase.
    #[serde(default = "yes")]
    pub only_real: bool,
    /// The input and recurrence gates (the default); `false` for the ungated LRU.
    #[serde(default = "yes")]
    pub gated: bool,
}

fn yes() -> bool {
    true
}

impl RgLruConfig {
    /// The paper's settings for `width` channels in `blocks` blocks: radii `U[0.6, 0.999]`.
    pub fn paper(width: usize, blocks: usize) -> Self {
        Self {
            width,
            blocks,
            c: 8.0,
            min_rad: 0.6,
            max_rad: 0.999,
            init: DecayInit::UniformRadius,
            scan: ScanImpl::Sequential,
            only_real: true,
            gated: true,
        }
    }

    /// The released checkpoint's settings: radii with `r² ~ U[0.5², 0.999²]`.
    pub fn release(width: usize, blocks: usize) -> Self {
        Self {
            min_rad: 0.5,
            init: DecayInit::UniformRadiusSquared,
            ..Self::paper(width, blocks)
        }
    }

    /// A unit with fresh weights.
    ///
    /// # Panics
    /// If a complex unit's width is odd, or `blocks` does not divide the widths.
    pub fn init(&self, device: &Device) -> RgLru {
        assert!(
            self.only_real || self.width.is_multiple_of(2),
            "a complex LRU needs an even width, found {}",
            self.width
        );
        // A complex unit keeps W/2 complex numbers, real parts first.
        let n = if self.only_real {
            self.width
        } else {
            self.width / 2
        };
        let radius = match self.init {
            DecayInit::UniformRadius => Tensor::<1>::random(
                [n],
                Distribution::Uniform(self.min_rad, self.max_rad),
                device,
            ),
            DecayInit::UniformRadiusSquared => Tensor::<1>::random(
                [n],
                Distribution::Uniform(self.min_rad.powi(2), self.max_rad.powi(2)),
                device,
            )
            .sqrt(),
        };
        // softplus(Λ) = −ln r  ⇔  Λ = ln(1/r − 1)
        let lambda = radius.recip().sub_scalar(1.0).log();
        let theta = (!self.only_real).then(|| {
            Param::from_tensor(Tensor::<1>::random(
                [n],
                Distribution::Uniform(0.0, 0.1 * std::f64::consts::PI),
                device,
            ))
        });
        let gate = || {
            self.gated
                .then(|| BlockDiagonalLinear::rectangular(self.width, n, self.blocks, device))
        };
        RgLru {
            input_gate: gate(),
            decay_gate: gate(),
            lambda: Param::from_tensor(lambda),
            theta,
            c: self.c,
            scan: self.scan,
        }
    }
}

/// Below this, `1 − a²` is floored inside the square root, which bounds its derivative at 1000
/// as the released code's custom gradient does.
const MIN_ONE_MINUS_A2: f64 = 2.5e-7;

/// The real-gated LRU.
#[derive(Module, Debug)]
pub struct RgLru {
    /// `W_x`, `b_x` (`None` without gates).
    pub input_gate: Option<BlockDiagonalLinear>,
    /// `W_a`, `b_a` (`None` without gates).
    pub decay_gate: Option<BlockDiagonalLinear>,
    /// `Λ`, `[W]` (`[W/2]` complex): the decay radius is `exp(−softplus(Λ))`.
    pub lambda: Param<Tensor<1>>,
    /// `θ`, `[W/2]`: the phase of complex decays (`None` for a real unit).
    pub theta: Option<Param<Tensor<1>>>,
    #[module(skip)]
    c: f64,
    #[module(skip)]
    scan: ScanImpl,
}

impl RgLru {
    /// The decay radii `r = exp(−softplus(Λ))`, `[W]`.
    pub fn radii(&self) -> Tensor<1> {
        softplus(self.lambda.val(), 1.0).neg().exp()
    }

    /// Runs over `u` (`[B, T, W]`). `state` is the `h` left by a previous call on the same
    /// sequences; `None` starts them. Returns every `h_t` and the last.
    pub fn forward(&self, u: Tensor<3>, state: Option<Tensor<2>>) -> (Tensor<3>, Tensor<2>) {
        let [batch, time, _] = u.dims();
        let n = self.lambda.dims()[0];
        let rate = softplus(self.lambda.val(), 1.0).reshape([1, 1, n]);
        let (gate_x, gate_a, c) = match (&self.input_gate, &self.decay_gate) {
            (Some(input), Some(decay)) => (
                sigmoid(input.forward(u.clone())),
                sigmoid(decay.forward(u.clone())),
                self.c,
            ),
            // Ungated: g_x = g_a = 1 and a = r (c = 1).
            _ => {
                let ones = Tensor::ones([batch, time, n], &u.device());
                (ones.clone(), ones, 1.0)
            }
        };
        let log_a = (gate_a.clone() * rate).mul_scalar(-c);
        let mut norm = log_a
            .clone()
            .mul_scalar(2.0)
            .exp()
            .neg()
            .add_scalar(1.0)
            .clamp_min(MIN_ONE_MINUS_A2)
            .sqrt();
        if state.is_none() && time > 0 {
            // Reset: the first input of a sequence enters unscaled.
            let first = Tensor::ones([batch, 1, n], &u.device());
            norm = Tensor::cat(vec![first, norm.slice(s![.., 1..time, ..])], 1);
        }
        let scale = norm * gate_x;
        let Some(theta) = &self.theta else {
            return linear_scan(log_a.exp(), scale * u, state, self.scan);
        };
        // Complex: a = |a| e^{iφ} with φ = θ g_a; u and the state hold real parts, then imaginary.
        let phase = gate_a * theta.val().reshape([1, 1, n]);
        let magnitude = log_a.exp();
        let a = ComplexTensor {
            re: magnitude.clone() * phase.clone().cos(),
            im: magnitude * phase.sin(),
        };
        let b = ComplexTensor {
            re: scale.clone() * u.clone().slice(s![.., .., 0..n]),
            im: scale * u.slice(s![.., .., n..2 * n]),
        };
        let h0 = state.map(|h| ComplexTensor {
            re: h.clone().slice(s![.., 0..n]),
            im: h.slice(s![.., n..2 * n]),
        });
        let (h, last) = complex_linear_scan(a, b, h0, self.scan);
        (
            Tensor::cat(vec![h.re, h.im], 2),
            Tensor::cat(vec![last.re, last.im], 1),
        )
    }
}
