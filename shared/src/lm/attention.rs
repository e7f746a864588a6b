//! Per-sequence key/value caches and causal attention over them, on host memory.
//!
//! For a query at position `p` and head `h` (key/value head `g = ⌊h / (H / H_kv)⌋`, grouped
//! query attention):
//! `o = Σ_{j ≤ p} softmax_j(q · k_j / √d_h) v_j`.
//! Sequences in a batch keep their own caches, so a batch may mix prompts of any lengths
//! without padding: there is nothing to mask but the future.

use pulp::Arch;
use rayon::prelude::*;

use super::kernels::{axpy, dot};

/// The keys and values one sequence has cached, per layer (`[position][H_kv · d_h]`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeqCache {
    layers: Vec<LayerCache>,
    len: usize,
}

#[derive(Debug, Clone, Default, PartialEq)]
struct LayerCache {
    keys: Vec<f32>,
    values: Vec<f32>,
}

impl SeqCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Positions cached so far: the position the next token will take.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes the cached keys and values take.
    pub fn byte_size(&self) -> usize {
        self.layers
            .iter()
            .map(|l| 4 * (l.keys.len() + l.values.len()))
            .sum()
    }

    /// Appends the keys and values of new tokens to layer `layer`.
    pub(crate) fn append(&mut self, layer: usize, keys: &[f32], values: &[f32]) {
        if self.layers.len() <= layer {
            self.layers.resize_with(layer + 1, LayerCache::default);
        }
        self.layers[layer].keys.extend_from_slice(keys);
        self.layers[layer].values.extend_from_slice(values);
    }

    /// Records that `n` positions were appended to every layer.
    pub(crate) fn advance(&mut self, n: usize) {
        self.len += n;
    }
}

/// The heads' shape.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Heads {
    pub(crate) n_heads: usize,
    pub(crate) n_kv_heads: usize,
    pub(crate) head_dim: usize,
}

/// One sequence's share of a batch: its new queries are rows `rows` of the batch, the first at
/// position `start`, and it attends to `cache` (which already holds the new keys and values).
pub(crate) struct SeqQueries<'a> {
    pub(crate) cache: &'a SeqCache,
    pub(crate) rows: std::ops::Range<usize>,
    pub(crate) start: usize,
}

/// Causal attention for every new query of every sequence at layer `layer`: `queries` is
/// `N × (H · d_h)` (rotated), the result the same shape.
pub(crate) fn attend(
    heads: Heads,
    layer: usize,
    queries: &[f32],
    seqs: &[SeqQueries<'_>],
) -> Vec<f32> {
    let Heads {
        n_heads,
        n_kv_heads,
        head_dim,
    } = heads;
    let width = n_heads * head_dim;
    let tasks: Vec<(usize, usize)> = (0..seqs.len())
        .flat_map(|s| (0..n_heads).map(move |h| (s, h)))
        .collect();
    let arch = Arch::new();
    let outputs: Vec<Vec<f32>> = tasks
        .par_iter()
        .map(|&(s, h)| {
            let seq = &seqs[s];
            let kv = h / (n_heads / n_kv_heads);
            let cache = &seq.cache.layers[layer];
            arch.dispatch(|| {
                one_head(
                    &cache.keys,
                    &cache.values,
                    (kv, n_kv_heads * head_dim, head_dim),
                    seq,
                    |row| &queries[row * width + h * head_dim..][..head_dim],
                )
            })
        })
        .collect();
    let mut out = vec![0.0; queries.len()];
    for (&(s, h), head_out) in tasks.iter().zip(outputs) {
        for (i, row) in seqs[s].rows.clone().enumerate() {
            out[row * width + h * head_dim..][..head_dim]
                .copy_from_slice(&head_out[i * head_dim..(i + 1) * head_dim]);
        }
    }
    out
}

/// One head of one sequence: `(kv head, cache row width, d_h)` picks the keys and values.
#[inline(always)]
fn one_head<'q>(
    keys: &[f32],
    values: &[f32],
    (kv, stride, head_dim): (usize, usize, usize),
    seq: &SeqQueries<'_>,
    query: impl Fn(usize) -> &'q [f32],
) -> Vec<f32> {
    let scale = 1.0 / (head_dim as f32).sqrt();
    let mut out = vec![0.0; seq.rows.len() * head_dim];
    let mut scores = Vec::new();
    for (i, row) in seq.rows.clone().enumerate() {
        let q = query(row);
        let visible = seq.start + i + 1;
        scores.clear();
        scores.extend(
            (0..visible).map(|j| dot(q, &keys[j * stride + kv * head_dim..][..head_dim]) * scale),
        );
        let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut total = 0.0;
        for s in scores.iter_mut() {
            *s = (*s - max).exp();
            total += *s;
        }
        let o = &mut out[i * head_dim..(i + 1) * head_dim];
        for (j, &p) in scores.iter().enumerate() {
            axpy(
                o,
                p / total,
                &values[j * stride + kv * head_dim..][..head_dim],
            );
        }
    }
    out
}
