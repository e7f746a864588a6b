//! Layers shared by the language papers: RMSNorm, rotary embeddings, causal attention that can
//! return its maps (with grouped-query heads, intra-document masks and a KV cache), SwiGLU, and
//! a small Llama-style decoder with greedy and temperature sampling.

pub mod attention;
pub mod decoder;
pub mod mlp;
pub mod norm;
pub mod rope;

pub use attention::{AttentionMask, CausalSelfAttention, KvCache, SHARED_SEGMENT};
pub use decoder::{Decoder, DecoderBlock, DecoderCache, DecoderConfig, DecoderOutput, Sampling};
pub use mlp::SwiGlu;
pub use norm::RmsNorm;
pub use rope::{Rope, RopeLayout};

#[cfg(test)]
mod tests;
