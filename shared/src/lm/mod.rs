//! A fast inference engine for decoder language models: batched, KV-cached generation and
//! continuation scoring on the CPU, with the weights kept in their GGUF blocks.
//!
//! [`crate::nn::Decoder`] is the Burn module: it trains, returns attention maps and runs on any
//! backend. [`LmEngine`] is the same model for inference at speed on host memory, loaded from a
//! GGUF file ([`LmEngine::from_gguf`], Q4_1 and Q8_0 weights dequantised inside the matrix
//! products) or copied from a Burn decoder ([`LmEngine::from_decoder`]); a test checks that the
//! two give the same logits.
//!
//! - [`LmEngine::forward`]: one batched pass over sequences of any lengths, each with its own
//!   [`SeqCache`];
//! - [`LmEngine::generate`]: prefill in one pass, then one batched step per token, greedy or
//!   sampled ([`Sampler`]: temperature, top-k, top-p, a seed per sequence), per-sequence stop
//!   tokens and lengths, the log-probability of every generated token;
//! - [`LmEngine::score`]: `log p(continuation | prompt)` for many continuations of one
//!   prompt, the prompt run once.
//!
//! ```
//! use kiln_core::lm::{GenerateOptions, LmEngine, Request};
//! use kiln_core::nn::DecoderShape;
//!
//! let shape = DecoderShape { d_model: 32, n_layers: 2, n_heads: 4, ffn_hidden: 64 };
//! let config = shape.config(50, 64, true);
//! let decoder = config.init(&burn::prelude::Device::default());
//! let engine = LmEngine::from_decoder(&decoder, &config);
//! let requests = [
//!     Request { prompt: vec![1, 2, 3], max_new_tokens: 5, seed: 0 },
//!     Request { prompt: vec![7], max_new_tokens: 2, seed: 1 },
//! ];
//! let out = engine.generate(&requests, &GenerateOptions::default())?;
//! assert_eq!(out[0].tokens.len(), 5);
//! assert_eq!(out[1].logprobs.len(), 2);
//! let scores = engine.score(&[1, 2], &[vec![3, 4], vec![5]])?;
//! assert!(scores[0].total() < 0.0);
//! # Ok::<(), kiln_core::lm::LmError>(())
//! ```

mod attention;
mod engine;
mod generate;
pub mod kernels;
pub mod matrix;
mod sampling;
#[cfg(test)]
mod tests;

pub use attention::SeqCache;
pub use engine::{LmEngine, Positions, Step};
pub use generate::{Finish, GenerateOptions, Generation, Request, Score};
pub use matrix::{MatrixError, QuantMatrix, Storage};
pub use sampling::Sampler;

/// A request the engine cannot run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LmError {
    /// A sequence in a batch has no tokens.
    #[error("sequence {sequence} has no tokens: give every sequence at least one")]
    EmptySequence {
        /// Its index in the batch.
        sequence: usize,
    },
    /// A token id the vocabulary does not have.
    #[error("token id {token} is outside the vocabulary of {vocab} tokens")]
    TokenOutOfRange {
        /// The id.
        token: u32,
        /// The vocabulary size.
        vocab: usize,
    },
    /// A sequence would pass the engine's longest sequence.
    #[error(
        "sequence {sequence} would reach {length} positions, beyond the engine's max_len of {max_len}: shorten it or load the engine with a larger max_len"
    )]
    TooLong {
        /// Its index in the batch.
        sequence: usize,
        /// Prompt plus new tokens.
        length: usize,
        /// The engine's limit.
        max_len: usize,
    },
    /// Sampler settings out of range.
    #[error("invalid sampler: {0}")]
    InvalidSampler(String),
}
