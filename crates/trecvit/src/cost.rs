//! Parameters, FLOPs and memory of TRecViT and of joint space-time attention, counted from the
//! shapes (the paper's §4.2 compares TRecViT-B with ViViT-L this way, from JAX's cost analysis).
//!
//! Conventions (ours): FLOPs are 2 × the multiply-adds of every matrix product of one forward
//! pass, attention's `QKᵀ` and `AV` included; element-wise work, norms and softmax are left out.
//! Memory is the weights plus the largest set of activations alive at once during inference of
//! a whole clip, in f32: for attention the `heads × L × L` scores dominate; for TRecViT's
//! temporal block, the branch activations over the clip.

use serde::{Deserialize, Serialize};

use crate::TRecViTConfig;

/// What one forward pass over a clip costs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Cost {
    /// Parameters.
    pub params: u64,
    /// FLOPs of the forward pass of one clip.
    pub flops: f64,
    /// Bytes: weights plus peak live activations (f32).
    pub memory_bytes: f64,
}

/// The sizes of a Transformer over frames of patches (both model families).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Shape {
    /// Model width `D`.
    pub width: usize,
    /// Layers.
    pub depth: usize,
    /// Attention heads.
    pub heads: usize,
    /// MLP hidden width.
    pub mlp_dim: usize,
    /// Pixels × channels of one patch (or tubelet).
    pub patch_values: usize,
    /// Patches per frame (or per tubelet slice).
    pub patches: usize,
    /// Classes of the linear head.
    pub classes: usize,
}

fn linear_params(from: usize, to: usize) -> u64 {
    (from * to + to) as u64
}

/// Parameters of a pre-LN ViT block.
fn vit_block_params(s: &Shape) -> u64 {
    let d = s.width;
    4 * linear_params(d, d)
        + linear_params(d, s.mlp_dim)
        + linear_params(s.mlp_dim, d)
        + 4 * d as u64
}

/// FLOPs of a ViT block over `sequences` sequences of `len` tokens.
fn vit_block_flops(s: &Shape, sequences: usize, len: usize) -> f64 {
    let (d, m) = (s.width as f64, s.mlp_dim as f64);
    let tokens = (sequences * len) as f64;
    let projections = 2.0 * tokens * (4.0 * d * d + 2.0 * d * m);
    let attention = 2.0 * sequences as f64 * 2.0 * (len * len) as f64 * d;
    projections + attention
}

/// Peak live activation bytes of a ViT block: scores plus the token activations around them.
fn vit_block_activations(s: &Shape, sequences: usize, len: usize) -> f64 {
    let scores = (sequences * s.heads * len * len) as f64;
    let tokens = (sequences * len) as f64 * (4.0 * s.width as f64 + s.mlp_dim as f64);
    4.0 * (scores + tokens)
}

/// TRecViT as configured, over a clip of `frames` frames.
pub fn trecvit(config: &TRecViTConfig, frames: usize) -> Cost {
    let (d, w) = (config.width, config.lru_width);
    let len = config.patches_per_frame() + 1;
    let shape = Shape {
        width: d,
        depth: config.depth,
        heads: config.heads,
        mlp_dim: config.mlp_dim,
        patch_values: config.patch[0] * config.patch[1] * config.in_channels,
        patches: config.patches_per_frame(),
        classes: config.head.map_or(0, |h| h.num_classes),
    };
    // A complex LRU keeps W/2 complex numbers: gates W → W/2, and a phase beside each decay.
    let state = if config.complex_lru { w / 2 } else { w };
    let decay_params = if config.complex_lru { 2 * state } else { state };
    let gate_block = w / config.heads;
    let gate_out = state / config.heads;
    let conv_params = if config.conv_taps > 0 {
        (config.conv_taps + 1) * w
    } else {
        0
    };
    let gate_params = if config.lru_gates {
        2 * (config.heads * gate_block * gate_out + state)
    } else {
        0
    };
    let temporal_params = 2 * linear_params(d, w)
        + linear_params(w, d)
        + (conv_params + gate_params + decay_params + d) as u64;
    let head_params = config.head.map_or(0, |h| match h.rep_size {
        Some(r) => linear_params(d, r) + linear_params(r, h.num_classes),
        None => linear_params(d, h.num_classes),
    });
    let params = linear_params(shape.patch_values, d)
        + (config.patches_per_frame() * d + d) as u64
        + config.depth as u64 * (vit_block_params(&shape) + temporal_params)
        + 2 * d as u64
        + head_params;
    let tokens = (frames * len) as f64;
    // Each gate maps W inputs to the state's width in blocks: W · state / heads multiply-adds.
    let gate_flops = if config.lru_gates {
        2.0 * (w * gate_out) as f64
    } else {
        0.0
    };
    let temporal_flops =
        2.0 * tokens * (3.0 * (d * w) as f64 + gate_flops + (config.conv_taps * w) as f64);
    let flops = 2.0 * (frames * shape.patches * shape.patch_values * d) as f64
        + config.depth as f64 * (temporal_flops + vit_block_flops(&shape, frames, len));
    // The temporal block holds its input, both branches and the scan's output over the clip.
    let temporal_activations = 4.0 * tokens * (d as f64 + 3.0 * w as f64);
    let activations = temporal_activations.max(vit_block_activations(&shape, frames, len));
    Cost {
        params,
        flops,
        memory_bytes: 4.0 * params as f64 + activations,
    }
}

/// Joint space-time attention (ViViT's Model 1): `frames / tubelet` slices of `patches` tokens
/// each plus one CLS token, all attending to each other; learned position embedding per token.
pub fn joint_attention(shape: &Shape, frames: usize, tubelet: usize) -> Cost {
    let d = shape.width;
    let len = (frames / tubelet.max(1)) * shape.patches + 1;
    let params = linear_params(shape.patch_values * tubelet, d)
        + (len * d) as u64
        + d as u64
        + shape.depth as u64 * vit_block_params(shape)
        + 2 * d as u64
        + linear_params(d, shape.classes);
    let flops = 2.0 * ((len - 1) * shape.patch_values * tubelet * d) as f64
        + shape.depth as f64 * vit_block_flops(shape, 1, len);
    Cost {
        params,
        flops,
        memory_bytes: 4.0 * params as f64 + vit_block_activations(shape, 1, len),
    }
}

/// ViViT-L/16 at 224² (24 layers, D = 1024, 16 heads, MLP 4096); the tubelet length is an
/// argument of [`joint_attention`].
pub fn vivit_large(classes: usize) -> Shape {
    Shape {
        width: 1024,
        depth: 24,
        heads: 16,
        mlp_dim: 4096,
        patch_values: 16 * 16 * 3,
        patches: 196,
        classes,
    }
}
