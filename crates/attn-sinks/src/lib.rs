//! # Why do LLMs attend to the first token?
//!
//! Barbero, Arroyo, Gu, Perivolaropoulos, Bronstein, Veličković and Pascanu (2025), arXiv
//! 2504.02732 (COLM 2025).
//!
//! Decoder-only transformers put a large share of attention on the first token, an *attention
//! sink*. The paper argues sinks are learned to stop *over-mixing*: in a causal stack, every
//! token's representation keeps absorbing every earlier one, so small perturbations spread and
//! representations collapse as depth and context grow. A head that sends its attention to a
//! token with a near-zero value vector (⟨bos⟩) becomes an approximate no-op, which damps that
//! mixing.
//!
//! This file is, in order:
//! 1. the sink metric of Gu et al. (2025) that the paper reuses (§2, after Gu et al. 2025);
//! 2. the over-mixing argument in its simplest form: a causal mixing matrix with a zero-value
//!    sink, whose depth-`L` Jacobian shrinks as the sink takes more mass (after Theorem 3.2).
//!
//! The experiments follow in their own modules, in the order a reader needs them:
//! - [`backcopy`]: the synthetic `BackcopyMarkov` language on which small models grow sinks
//!   within CPU budgets; [`corpus`]: it and Brown-corpus bytes as documents and prompts;
//! - [`train`]: one pre-training run (context length, ⟨bos⟩ packing, masking; §4);
//! - [`probe`]: what is measured in a trained model (sink rates with and without ⟨bos⟩, the
//!   active-dormant head, value norms, perturbation spread; §3, Table 2, Fig. 2);
//! - `experiment` (feature `reproduce`): the context sweep (Fig. 5), the packing grid (Table 2),
//!   the same measurements on SmolLM2-135M (Tables 1 and 3, Fig. 2, in `experiment::pretrained`)
//!   and the report (`experiment::report`).
//!
//! The decoder, packing and the language-model trainer are in `kiln-core`.

pub mod backcopy;
pub mod corpus;
#[cfg(feature = "reproduce")]
pub mod experiment;
pub mod probe;
pub mod train;

use burn::prelude::*;

// ---------------------------------------------------------------------------------------------
// 1. The sink metric (Gu et al. 2025, reused by the paper)
// ---------------------------------------------------------------------------------------------

/// The mean attention that key `k` receives from the queries that can see it, for one head's
/// causal `T × T` map `a` (row-major, rows = queries):
///
/// `imp[k] = Σ_{t=k}^{T−1} A[t, k] / (T − k)`.
///
/// For `k = 0` this is the first-token score `α = mean_t A[t, 0]`.
///
/// # Panics
/// If `a` is not `t × t` or `k ≥ t`.
pub fn key_importance(a: &[f32], t: usize, k: usize) -> f64 {
    assert_eq!(a.len(), t * t, "attention map must be T × T");
    assert!(k < t, "key {k} outside a map of length {t}");
    (k..t).map(|q| f64::from(a[q * t + k])).sum::<f64>() / (t - k) as f64
}

/// The first-token score `α = mean_t A[t, 0]` of every head, `[B, L, H]`, from one `[B, H, T, T]`
/// map per layer. Computed on the device, so only `B · L · H` numbers travel to the host.
///
/// # Panics
/// If `layers` is empty.
pub fn first_token_scores(layers: &[Tensor<4>]) -> Tensor<3> {
    assert!(!layers.is_empty(), "no attention maps");
    let per_layer = layers
        .iter()
        .map(|map| {
            let [b, h, _, _] = map.dims();
            map.clone()
                .slice(s![.., .., .., 0..1])
                .mean_dim(2)
                .reshape([b, 1, h])
        })
        .collect();
    Tensor::cat(per_layer, 1)
}

/// Sink rate (%) on key `k` at threshold `ε`: the share of (prompt, layer, head) triples whose
/// importance of key `k` exceeds `ε`,
///
/// `Sink_k^ε = 100 · mean_{s,l,h} 1[imp[s, l, h, k] > ε]`,
///
/// thresholded per prompt and only then averaged. `layers` holds one `[B, H, T, T]` map per
/// layer, as returned by `kiln_core::nn::Decoder::forward`.
///
/// # Panics
/// If a map is not square in its last two axes.
pub fn sink_rate(layers: &[Tensor<4>], k: usize, eps: f64) -> f64 {
    let (mut sinks, mut heads) = (0usize, 0usize);
    for map in layers {
        let [b, h, t, s] = map.dims();
        assert_eq!(t, s, "sink rate needs full causal maps (no KV cache)");
        let values = kiln_core::host_values(map.clone());
        for head in values.chunks_exact(t * t).take(b * h) {
            heads += 1;
            sinks += usize::from(key_importance(head, t, k) > eps);
        }
    }
    100.0 * sinks as f64 / heads.max(1) as f64
}

// ---------------------------------------------------------------------------------------------
// 2. Over-mixing, and how a sink damps it (§2–3, Theorem 3.2)
// ---------------------------------------------------------------------------------------------

/// The toy causal mixing matrix `M_s = (1 − λ) I + λ (1 − s) U` (ours, after Theorem 3.2), where `U` is
/// causal uniform averaging (`U[i, j] = 1/(i + 1)` for `j ≤ i`) and a sink with a zero value
/// vector absorbs a share `s` of each row's attention, contributing nothing.
pub fn mixing_matrix(t: usize, lambda: f64, sink: f64) -> Vec<Vec<f64>> {
    (0..t)
        .map(|i| {
            (0..t)
                .map(|j| {
                    let uniform = if j <= i { 1.0 / (i + 1) as f64 } else { 0.0 };
                    let identity = if i == j { 1.0 - lambda } else { 0.0 };
                    identity + lambda * (1.0 - sink) * uniform
                })
                .collect()
        })
        .collect()
}

/// The Jacobian `∂h^(L)/∂h^(0)` of `L` mixing layers `h ← M_s h`, computed by automatic
/// differentiation (one backward pass per output position), as a `T × T` matrix.
pub fn toy_jacobian(
    t: usize,
    lambda: f64,
    sink: f64,
    layers: usize,
    device: &Device,
) -> Vec<Vec<f64>> {
    let device = device.clone().autodiff();
    let m: Vec<f32> = mixing_matrix(t, lambda, sink)
        .into_iter()
        .flatten()
        .map(|v| v as f32)
        .collect();
    let m = Tensor::<2>::from_data(TensorData::new(m, [t, t]), &device);
    (0..t)
        .map(|i| {
            let h0 = Tensor::<2>::zeros([t, 1], &device).require_grad();
            let mut h = h0.clone();
            for _ in 0..layers {
                h = m.clone().matmul(h);
            }
            let grads = h.slice(s![i..i + 1, ..]).sum().backward();
            h0.grad(&grads)
                .map(|g| {
                    g.into_data()
                        .convert::<f64>()
                        .try_into_vec::<f64>()
                        .unwrap_or_default()
                })
                .unwrap_or_else(|| vec![0.0; t])
        })
        .collect()
}

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
