//! Rotary position embeddings (Su et al., 2021).
//!
//! Each pair of features `(x_a, x_b)` of a head is rotated by the angle `p · θ_i`, where `p` is
//! the token's position and `θ_i = base^(−2i/d)`. Then `⟨rope(q, m), rope(k, n)⟩` depends on
//! `m − n` only. Two conventions pair the features differently:
//! - [`RopeLayout::Halves`] pairs feature `i` with `i + d/2` (GPT-NeoX, Hugging Face Llama);
//! - [`RopeLayout::Adjacent`] pairs `2i` with `2i + 1` (the original paper, and llama.cpp's
//!   GGUF files, whose converter permutes Q/K rows accordingly).

use burn::prelude::*;
use serde::{Deserialize, Serialize};

/// How features are paired for rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RopeLayout {
    /// `(i, i + d/2)` pairs.
    Halves,
    /// `(2i, 2i + 1)` pairs.
    Adjacent,
}

/// Precomputed cosines and sines for positions `0..max_len`, kept on the host so that a model
/// can move between devices; each call uploads only the rows it needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Rope {
    cos: Vec<f32>,
    sin: Vec<f32>,
    max_len: usize,
    layout: RopeLayout,
    head_dim: usize,
}

impl Rope {
    /// Tables for heads of width `head_dim` (even), positions below `max_len`, base `base`
    /// (10,000 in the paper; 100,000 in SmolLM2).
    ///
    /// # Panics
    /// If `head_dim` is odd.
    pub fn new(head_dim: usize, max_len: usize, base: f64, layout: RopeLayout) -> Self {
        assert!(
            head_dim.is_multiple_of(2),
            "RoPE needs an even head width, got {head_dim}"
        );
        let half = head_dim / 2;
        let mut cos = Vec::with_capacity(max_len * half);
        let mut sin = Vec::with_capacity(max_len * half);
        for p in 0..max_len {
            for i in 0..half {
                let angle = p as f64 * base.powf(-2.0 * i as f64 / head_dim as f64);
                cos.push(angle.cos() as f32);
                sin.push(angle.sin() as f32);
            }
        }
        Self {
            cos,
            sin,
            max_len,
            layout,
            head_dim,
        }
    }

    /// The longest sequence the tables cover.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    fn rows(&self, table: &[f32], offset: usize, t: usize, device: &Device) -> Tensor<4> {
        let half = self.head_dim / 2;
        let rows = table[offset * half..(offset + t) * half].to_vec();
        Tensor::<1>::from_data(TensorData::new(rows, [t * half]), device).reshape([1, 1, t, half])
    }

    /// Rotates `x` of shape `[B, H, T, head_dim]` whose first token is at position `offset`.
    ///
    /// # Panics
    /// If `offset + T` exceeds [`Rope::max_len`].
    pub fn apply(&self, x: Tensor<4>, offset: usize) -> Tensor<4> {
        let [b, h, t, d] = x.dims();
        assert_eq!(
            d, self.head_dim,
            "RoPE built for head width {}",
            self.head_dim
        );
        assert!(
            offset + t <= self.max_len(),
            "position {} beyond RoPE table of {}",
            offset + t,
            self.max_len()
        );
        let half = d / 2;
        let device = x.device();
        let cos = self.rows(&self.cos, offset, t, &device);
        let sin = self.rows(&self.sin, offset, t, &device);
        // (a, b) ↦ (a cos − b sin, a sin + b cos) on each pair.
        match self.layout {
            RopeLayout::Halves => {
                let a = x.clone().slice(s![.., .., .., 0..half]);
                let b2 = x.slice(s![.., .., .., half..d]);
                let ra = a.clone() * cos.clone() - b2.clone() * sin.clone();
                let rb = a * sin + b2 * cos;
                Tensor::cat(vec![ra, rb], 3)
            }
            RopeLayout::Adjacent => {
                let pairs = x.reshape([b, h, t, half, 2]);
                let a = pairs
                    .clone()
                    .slice(s![.., .., .., .., 0..1])
                    .reshape([b, h, t, half]);
                let b2 = pairs
                    .slice(s![.., .., .., .., 1..2])
                    .reshape([b, h, t, half]);
                let ra = a.clone() * cos.clone() - b2.clone() * sin.clone();
                let rb = a * sin + b2 * cos;
                Tensor::stack::<5>(vec![ra, rb], 4).reshape([b, h, t, d])
            }
        }
    }

    /// [`apply`](Self::apply) on host memory: rotates every `head_dim`-wide head of `x` (one
    /// token's queries or keys, heads one after another) to position `position`.
    ///
    /// # Panics
    /// If `position` is beyond the table or `x` is not whole heads.
    pub fn rotate_host(&self, x: &mut [f32], position: usize) {
        assert!(
            position < self.max_len,
            "position {position} beyond RoPE table"
        );
        let half = self.head_dim / 2;
        let cos = &self.cos[position * half..(position + 1) * half];
        let sin = &self.sin[position * half..(position + 1) * half];
        for head in x.chunks_exact_mut(self.head_dim) {
            for i in 0..half {
                let (ia, ib) = match self.layout {
                    RopeLayout::Halves => (i, i + half),
                    RopeLayout::Adjacent => (2 * i, 2 * i + 1),
                };
                let (a, b) = (head[ia], head[ib]);
                head[ia] = a * cos[i] - b * sin[i];
                head[ib] = a * sin[i] + b * cos[i];
            }
        }
    }
}
