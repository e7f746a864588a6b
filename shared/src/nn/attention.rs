//! Causal multi-head self-attention that can return its attention maps.
//!
//! `softmax(Q Kᵀ / √d_h + M) V` per head, with rotary positions on `Q` and `K`, grouped-query
//! heads (several query heads share one key/value head, as in Llama and SmolLM2), a mask `M`
//! that is causal and may also keep attention inside documents, and a key/value cache for
//! generation. Unlike Burn's fused attention, the probabilities can be kept: the attention-sink
//! papers measure them.

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::softmax;

use super::rope::Rope;

/// Segment id of a position every query may attend to, whatever its document: a ⟨bos⟩ pinned at
/// the start of a packed window.
pub const SHARED_SEGMENT: usize = usize::MAX;

/// Which keys each query may attend to.
#[derive(Debug, Clone)]
pub struct AttentionMask {
    /// `true` where attention is blocked, `[B, 1, T, S]`.
    blocked: Tensor<4, Bool>,
}

impl AttentionMask {
    /// Causal: the query at position `offset + q` sees keys `0..=offset + q` (`S = offset + T`).
    pub fn causal(batch: usize, t: usize, offset: usize, device: &Device) -> Self {
        Self::build(batch, t, offset, device, |_, _, _| true)
    }

    /// Causal and inside documents: `segments[b][p]` is the document id of position `p` of row
    /// `b`, for every key position `0..offset + T`; a query sees only earlier keys of its own
    /// document (intra-document masking of packed windows), plus keys in [`SHARED_SEGMENT`].
    ///
    /// # Panics
    /// If a row of `segments` is shorter than `offset + t`.
    pub fn within_documents(
        segments: &[Vec<usize>],
        t: usize,
        offset: usize,
        device: &Device,
    ) -> Self {
        for row in segments {
            assert!(
                row.len() >= offset + t,
                "segment ids must cover all {} positions",
                offset + t
            );
        }
        Self::build(segments.len(), t, offset, device, |b, q, k| {
            segments[b][q] == segments[b][k] || segments[b][k] == SHARED_SEGMENT
        })
    }

    fn build(
        batch: usize,
        t: usize,
        offset: usize,
        device: &Device,
        same_document: impl Fn(usize, usize, usize) -> bool,
    ) -> Self {
        let s = offset + t;
        let mut blocked = Vec::with_capacity(batch * t * s);
        for b in 0..batch {
            for q in offset..offset + t {
                for k in 0..s {
                    blocked.push(k > q || !same_document(b, q, k));
                }
            }
        }
        Self {
            blocked: Tensor::from_data(TensorData::new(blocked, [batch, 1, t, s]), device),
        }
    }
}

/// Keys and values of earlier positions, for one layer.
#[derive(Debug, Clone, Default)]
pub struct KvCache {
    keys: Option<Tensor<4>>,
    values: Option<Tensor<4>>,
}

impl KvCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Positions cached so far.
    pub fn len(&self) -> usize {
        self.keys.as_ref().map_or(0, |k| k.dims()[2])
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Attention with `n_heads` query heads and `n_kv_heads` key/value heads, no biases.
#[derive(Module, Debug)]
pub struct CausalSelfAttention {
    /// `W_Q`, `d_model → n_heads · d_h`.
    pub query: Linear,
    /// `W_K`, `d_model → n_kv_heads · d_h`.
    pub key: Linear,
    /// `W_V`, `d_model → n_kv_heads · d_h`.
    pub value: Linear,
    /// `W_O`, `n_heads · d_h → d_model`.
    pub output: Linear,
    /// Query heads.
    #[module(skip)]
    pub n_heads: usize,
    /// Key/value heads (divides `n_heads`).
    #[module(skip)]
    pub n_kv_heads: usize,
    /// Width of each head.
    #[module(skip)]
    pub head_dim: usize,
}

impl CausalSelfAttention {
    /// Attention over `d_model` features.
    ///
    /// # Panics
    /// If `n_kv_heads` does not divide `n_heads` or `n_heads` does not divide `d_model`.
    pub fn new(d_model: usize, n_heads: usize, n_kv_heads: usize, device: &Device) -> Self {
        assert!(
            n_heads.is_multiple_of(n_kv_heads),
            "n_kv_heads must divide n_heads"
        );
        assert!(
            d_model.is_multiple_of(n_heads),
            "n_heads must divide d_model"
        );
        let head_dim = d_model / n_heads;
        let linear = |i, o| LinearConfig::new(i, o).with_bias(false).init(device);
        Self {
            query: linear(d_model, n_heads * head_dim),
            key: linear(d_model, n_kv_heads * head_dim),
            value: linear(d_model, n_kv_heads * head_dim),
            output: linear(n_heads * head_dim, d_model),
            n_heads,
            n_kv_heads,
            head_dim,
        }
    }

    /// This layer with its attention probabilities replaced by `probs` (`[B, H, T, S]`, rows
    /// summing to one): only the values and the output projection see `x`, so queries and keys
    /// get no gradient. Used to patch in another model's attention; `probs` is taken as it is
    /// (detach it for a stop-gradient). No cache: `S = T`.
    pub fn forward_with_probs(&self, x: Tensor<3>, probs: Tensor<4>) -> Tensor<3> {
        let [b, t, _] = x.dims();
        let v = self
            .value
            .forward(x)
            .reshape([b, t, self.n_kv_heads, self.head_dim])
            .swap_dims(1, 2);
        self.mix(probs, repeat_kv(v, self.n_heads / self.n_kv_heads))
    }

    /// `[B, T, d_model]` → `[B, T, d_model]`, and the attention probabilities `[B, H, T, S]`
    /// when `keep_maps`. With a cache, `x` holds only the new positions; their keys and values
    /// are appended to it.
    pub fn forward(
        &self,
        x: Tensor<3>,
        rope: &Rope,
        mask: &AttentionMask,
        cache: Option<&mut KvCache>,
        keep_maps: bool,
    ) -> (Tensor<3>, Option<Tensor<4>>) {
        let [b, t, _] = x.dims();
        let (h, hkv, dh) = (self.n_heads, self.n_kv_heads, self.head_dim);
        let heads = |y: Tensor<3>, n: usize| y.reshape([b, t, n, dh]).swap_dims(1, 2);
        let offset = cache.as_ref().map_or(0, |c| c.len());
        let q = rope.apply(heads(self.query.forward(x.clone()), h), offset);
        let mut k = rope.apply(heads(self.key.forward(x.clone()), hkv), offset);
        let mut v = heads(self.value.forward(x), hkv);
        if let Some(cache) = cache {
            if let (Some(ck), Some(cv)) = (cache.keys.take(), cache.values.take()) {
                k = Tensor::cat(vec![ck, k], 2);
                v = Tensor::cat(vec![cv, v], 2);
            }
            cache.keys = Some(k.clone());
            cache.values = Some(v.clone());
        }
        let s = k.dims()[2];
        let (k, v) = (repeat_kv(k, h / hkv), repeat_kv(v, h / hkv));
        let scores = q.matmul(k.swap_dims(2, 3)).div_scalar((dh as f64).sqrt());
        let scores = scores.mask_fill(mask.blocked.clone().expand([b, h, t, s]), -1.0e9);
        let probs = softmax(scores, 3);
        (self.mix(probs.clone(), v), keep_maps.then_some(probs))
    }

    /// `W_O · (P V)` with the heads merged back: `[B, H, T, S]` × `[B, H, S, d_h]` → `[B, T, d]`.
    fn mix(&self, probs: Tensor<4>, v: Tensor<4>) -> Tensor<3> {
        let [b, h, t, _] = probs.dims();
        let context = probs
            .matmul(v)
            .swap_dims(1, 2)
            .reshape([b, t, h * self.head_dim]);
        self.output.forward(context)
    }
}

/// Repeats each key/value head `groups` times: `[B, H_kv, S, d]` → `[B, H_kv · groups, S, d]`.
fn repeat_kv(x: Tensor<4>, groups: usize) -> Tensor<4> {
    if groups == 1 {
        return x;
    }
    let [b, hkv, s, d] = x.dims();
    x.reshape([b, hkv, 1, s, d])
        .expand([b, hkv, groups, s, d])
        .reshape([b, hkv * groups, s, d])
}
