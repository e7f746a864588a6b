//! The Ornstein–Uhlenbeck drift toward the prior (the paper's drift model; its section and
//! equation numbers could not be read, so none are cited).
//!
//! For one group with prior `N(μ₀, σ₀²)` and drift parameter `γ ∈ [0, 1]`,
//!
//! ```text
//! p(θ | θ_t, γ) = N( γ θ_t + (1 − γ) μ₀ ,  (1 − γ²) σ₀² )                          (drift)
//! ```
//!
//! the exact discretisation of an OU process whose stationary law is the prior: `γ = 1` keeps
//! `θ_t`, `γ = 0` is a fresh draw from `p₀`. A Gaussian belief `N(θ_t, s²)` pushed through it
//! becomes
//!
//! ```text
//! N( m(γ), v(γ) ),   m(γ) = γ θ_t + (1 − γ) μ₀,   v(γ) = γ² s² + (1 − γ²) σ₀²          (push-forward)
//! ```
//!
//! and its reparameterised sample `θ̃ = m(γ) + √v(γ) ε` has
//!
//! ```text
//! ∂θ̃/∂γ = (θ_t − μ₀) + ε · γ (s² − σ₀²) / √v(γ)                                      (sample gradient)
//! ```
//!
//! which stays finite at `γ = 1` as long as the belief variance `s²` is positive. With a point
//! estimate (`s = 0`) the `√(1 − γ²)` factor has an infinite slope exactly there.

use burn::prelude::*;

/// A coefficient of one group: a single value, or one value per element (per-parameter `γ`, a
/// mean-field belief variance).
// A tensor handle is large on the stack but cheap to move; boxing it would only add a hop.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Coef {
    /// One value for the whole tensor.
    Scalar(f64),
    /// One value per element, flat.
    Elementwise(Tensor<1>),
}

impl Coef {
    /// `self ⊙ x`.
    pub fn times(&self, x: Tensor<1>) -> Tensor<1> {
        match self {
            Coef::Scalar(c) => x.mul_scalar(*c),
            Coef::Elementwise(c) => x * c.clone(),
        }
    }

    /// `f` applied to the value(s): `scalar` to a single value, `tensor` to the elements.
    pub fn map(
        &self,
        scalar: impl Fn(f64) -> f64,
        tensor: impl Fn(Tensor<1>) -> Tensor<1>,
    ) -> Coef {
        match self {
            Coef::Scalar(c) => Coef::Scalar(scalar(*c)),
            Coef::Elementwise(c) => Coef::Elementwise(tensor(c.clone())),
        }
    }

    /// The value(s) as a flat tensor of `n` elements.
    pub fn to_tensor(&self, n: usize, device: &Device) -> Tensor<1> {
        match self {
            Coef::Scalar(c) => Tensor::full([n], *c, device),
            Coef::Elementwise(c) => c.clone(),
        }
    }

    /// The mean of the value(s) on the host.
    pub fn mean(&self) -> f64 {
        match self {
            Coef::Scalar(c) => *c,
            Coef::Elementwise(c) => f64::from(c.clone().mean().into_scalar::<f32>()),
        }
    }

    /// The smallest value on the host.
    pub fn min(&self) -> f64 {
        match self {
            Coef::Scalar(c) => *c,
            Coef::Elementwise(c) => f64::from(c.clone().min().into_scalar::<f32>()),
        }
    }

    /// Whether this is exactly the scalar 1 (no drift, no change of learning rate).
    pub fn is_one(&self) -> bool {
        matches!(self, Coef::Scalar(c) if *c == 1.0)
    }
}

/// `m(γ) = γ θ + (1 − γ) μ₀`, with `μ₀ = 0` when `mean` is `None`. Exactly `θ` at `γ = 1`.
pub fn drift_mean(theta: Tensor<1>, mean: Option<&Tensor<1>>, gamma: &Coef) -> Tensor<1> {
    if gamma.is_one() {
        return theta;
    }
    match mean {
        Some(mu) => gamma.times(theta - mu.clone()) + mu.clone(),
        None => gamma.times(theta),
    }
}

/// `v(γ) = γ² s² + (1 − γ²) σ₀²` for belief variance `s²` and prior variance `σ₀²`.
/// Elementwise when either input is (`n` elements on `device`).
pub fn drift_variance(
    gamma: &Coef,
    belief: &Coef,
    prior_var: f64,
    n: usize,
    device: &Device,
) -> Coef {
    match (gamma, belief) {
        (Coef::Scalar(g), Coef::Scalar(s2)) => Coef::Scalar(prior_var + g * g * (s2 - prior_var)),
        _ => {
            let g = gamma.to_tensor(n, device);
            let s2 = belief.to_tensor(n, device);
            Coef::Elementwise(g.square() * s2.sub_scalar(prior_var) + prior_var)
        }
    }
}

/// `∂√v/∂γ = γ (s² − σ₀²) / √v(γ)`, the noise's share of the sample gradient.
pub fn drift_std_slope(
    gamma: &Coef,
    belief: &Coef,
    prior_var: f64,
    n: usize,
    device: &Device,
) -> Coef {
    let v = drift_variance(gamma, belief, prior_var, n, device);
    match (gamma, belief, v) {
        (Coef::Scalar(g), Coef::Scalar(s2), Coef::Scalar(v)) => {
            Coef::Scalar(g * (s2 - prior_var) / v.sqrt())
        }
        (_, _, v) => {
            let v = v.to_tensor(n, device);
            let g = gamma.to_tensor(n, device);
            let s2 = belief.to_tensor(n, device);
            Coef::Elementwise(g * s2.sub_scalar(prior_var) / v.sqrt())
        }
    }
}

/// `∂θ̃/∂γ = (θ − μ₀) + ε · ∂√v/∂γ` for one group (see the module docs).
pub fn sample_gradient(
    theta: Tensor<1>,
    mean: Option<&Tensor<1>>,
    epsilon: Tensor<1>,
    std_slope: &Coef,
) -> Tensor<1> {
    let offset = match mean {
        Some(mu) => theta - mu.clone(),
        None => theta,
    };
    offset + std_slope.times(epsilon)
}
