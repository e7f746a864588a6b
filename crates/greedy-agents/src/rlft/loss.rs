//! The objective of RL fine-tuning (Eq 2), per generated token `j` of answer `z`:
//!
//! ```text
//! ρ_j   = π_θ(z_j | c, z_<j) / π_old(z_j | c, z_<j)
//! L^PG  = −min(ρ_j A, clip(ρ_j, 1 − ε, 1 + ε) A)
//! KL̂_j = q/p − 1 − log(q/p),   q = π_ref(z_j | …), p = π_θ(z_j | …)     (k3; ≥ 0, 0 at θ = ref)
//! L     = mean over generated tokens of  L^PG + β KL̂
//! ```
//!
//! `A` is the answer's advantage, shared by its tokens; prompt and padding positions are
//! masked out.

use burn::prelude::*;

/// The per-token tensors of a batch of answers, `[B, T]`, aligned with the targets.
#[derive(Debug, Clone)]
pub struct TokenTerms {
    /// `log π_old` of each generated token, recorded when it was sampled.
    pub old_logp: Tensor<2>,
    /// `log π_ref` of each generated token.
    pub ref_logp: Tensor<2>,
    /// The answer's advantage at each of its tokens.
    pub advantage: Tensor<2>,
    /// 1 at generated tokens, 0 elsewhere.
    pub mask: Tensor<2>,
}

/// `KL̂_j` (k3) at every position, from `log p` (the policy) and `log q` (the reference).
pub fn k3(logp: Tensor<2>, ref_logp: Tensor<2>) -> Tensor<2> {
    let log_ratio = ref_logp - logp;
    log_ratio.clone().exp() - log_ratio - 1.0
}

/// The mean over masked positions of `values`.
pub fn masked_mean(values: Tensor<2>, mask: Tensor<2>) -> Tensor<1> {
    let count = mask.clone().sum().clamp_min(1.0);
    (values * mask).sum() / count
}

/// `L` of Eq 2 for `logp = log π_θ` of the generated tokens (`[B, T]`).
pub fn clipped_kl_loss(logp: Tensor<2>, terms: &TokenTerms, clip: f64, beta: f64) -> Tensor<1> {
    let ratio = (logp.clone() - terms.old_logp.clone()).exp();
    let unclipped = ratio.clone() * terms.advantage.clone();
    let clipped = ratio.clamp(1.0 - clip, 1.0 + clip) * terms.advantage.clone();
    let policy = unclipped.min_pair(clipped).neg();
    let kl = k3(logp, terms.ref_logp.clone());
    masked_mean(policy + kl * beta, terms.mask.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(values: &[f32]) -> Tensor<2> {
        Tensor::from_data(
            TensorData::new(values.to_vec(), [1, values.len()]),
            &Device::default(),
        )
    }

    #[test]
    fn kl_is_zero_at_the_reference_and_positive_elsewhere() {
        let logp = t(&[-0.5, -2.0, -0.1]);
        let at_ref = kiln_core::host_values(k3(logp.clone(), logp.clone()));
        assert!(at_ref.iter().all(|v| v.abs() < 1e-7), "{at_ref:?}");
        let off = kiln_core::host_values(k3(logp, t(&[-1.0, -1.0, -0.1])));
        assert!(off[0] > 0.0 && off[1] > 0.0 && off[2].abs() < 1e-7);
        // Closed form at log(q/p) = -0.5: e^-0.5 - 1 + 0.5.
        assert!((off[0] - ((-0.5f32).exp() - 0.5)).abs() < 1e-6);
    }

    #[test]
    fn the_clip_stops_the_gradient_outside_the_trust_region() {
        // One token with A > 0 whose ratio is already 1.5 > 1 + ε: the clipped term is
        // constant, so the policy gradient vanishes; a token at ratio 1 keeps its gradient.
        let device = Device::default().autodiff();
        let logp = Tensor::<2>::from_data(TensorData::new(vec![0.0f32, 0.0], [1, 2]), &device)
            .require_grad();
        let on = |v: Vec<f32>| Tensor::<2>::from_data(TensorData::new(v, [1, 2]), &device);
        let terms = TokenTerms {
            old_logp: on(vec![-(1.5f32.ln()), 0.0]),
            ref_logp: on(vec![0.0, 0.0]),
            advantage: on(vec![1.0, 1.0]),
            mask: on(vec![1.0, 1.0]),
        };
        let loss = clipped_kl_loss(logp.clone(), &terms, 0.2, 0.0);
        let grads = loss.backward();
        let g = kiln_core::host_values(logp.grad(&grads).unwrap());
        assert!(g[0].abs() < 1e-7, "clipped token got gradient {}", g[0]);
        // d/dlogp of -ρ·A/2 at ρ = 1 is -1/2.
        assert!((g[1] + 0.5).abs() < 1e-6, "{}", g[1]);
    }
}
