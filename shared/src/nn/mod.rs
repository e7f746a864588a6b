//! Layers shared by the papers.
//!
//! - Language: RMSNorm, rotary embeddings, causal attention that can return its maps (with
//!   grouped-query heads, intra-document masks and a KV cache), SwiGLU, and a small Llama-style
//!   decoder with greedy and temperature sampling.
//! - Images: a plain ReLU multi-layer perceptron.
//! - Sequences and video: the diagonal linear scan (three implementations), the real-gated LRU,
//!   a causal depthwise Conv1D with a cache, Griffin's recurrent block, and the pre-LN ViT block.

pub mod attention;
pub mod block_diagonal;
pub mod conv1d;
pub mod decoder;
pub mod mlp;
pub mod norm;
pub mod perceptron;
pub mod recurrent_block;
pub mod rglru;
pub mod rope;
pub mod scan;
pub mod vit;

pub use attention::{AttentionMask, CausalSelfAttention, KvCache, SHARED_SEGMENT};
pub use block_diagonal::BlockDiagonalLinear;
pub use conv1d::CausalConv1d;
pub use decoder::{
    AttentionOverride, Decoder, DecoderBlock, DecoderCache, DecoderConfig, DecoderOutput,
    DecoderShape, Sampling,
};
pub use mlp::SwiGlu;
pub use norm::{RmsNorm, RmsNormConfig, rms_norm};
pub use perceptron::Mlp;
pub use recurrent_block::{RecurrentBlock, RecurrentBlockConfig, RecurrentState};
pub use rglru::{DecayInit, RgLru, RgLruConfig};
pub use rope::{Rope, RopeLayout};
pub use scan::{ComplexTensor, ScanImpl, complex_linear_scan, linear_scan};
pub use vit::{VitBlock, VitBlockConfig};

#[cfg(test)]
mod temporal_tests;
#[cfg(test)]
mod tests;
