//! # kiln-core
//!
//! What two or more of Kiln's paper crates share. With default features, the parts a method
//! needs:
//!
//! - [`nn`]: layers (the small decoder language model with RMSNorm, RoPE, attention that returns
//!   its maps, grouped-query heads, document masks, a KV cache and SwiGLU; the RG-LRU, its
//!   scans, the causal Conv1D, Griffin's recurrent block and the ViT block);
//! - [`train`]: the training loop ([`train::fit()`]), seeding, metrics, parameter counts,
//!   checkpoints, the language-model trainer (with gradient accumulation), fine-tuning of a
//!   loaded decoder (LoRA or full, a frozen KL reference, saving what trained), statistics
//!   over seeds and timing;
//! - [`data`]: readers for MNIST, Fashion-MNIST (IDX), CIFAR (binary) and the Brown corpus,
//!   in-memory datasets with seeded subsets and normalised batches, tokenizers and packing;
//! - [`gguf`]: llama.cpp's model files, read and dequantised (F32, F16, Q8_0, Q4_1);
//! - [`lm`]: the inference engine for pretrained decoders: batched KV-cached generation and
//!   scoring with quantised weights;
//! - [`backend`]: turn `--backend` / `$KILN_BACKEND` into a Burn [`Device`](burn::prelude::Device);
//! - [`InvalidConfig`]: the error of every fallible config.
//!
//! Feature `reproduce` adds what the `reproduce-<paper>` binaries need: `cli` (the
//! `Reproduction` trait and the one `main` every binary calls), `report` (claims tables,
//! Markdown tables, `metrics.json`, SVG plots), progress bars, resumable phases, peak-memory
//! measurement and the dataset registry. Feature `npz` adds `npz`, NumPy's `.npy` arrays and
//! `.npz` archives (JAX checkpoints).
//!
//! Burn 0.22 has no backend type parameter: models and tensors take a `Device`, and the
//! backends compiled in are chosen by this crate's features (`flex`, the default; `wgpu`; `cuda`).

#![recursion_limit = "256"]

pub mod backend;
#[cfg(feature = "reproduce")]
pub mod cli;
pub mod data;
mod error;
pub mod gguf;
pub mod lm;
pub mod nn;
#[cfg(feature = "npz")]
pub mod npz;
#[cfg(feature = "reproduce")]
pub mod report;
pub mod train;

pub use backend::{Backend, BackendError, select_device};
pub use error::InvalidConfig;

use burn::prelude::Tensor;

/// A tensor's values on the host as `f32`, row-major (any element type is converted).
///
/// Empty if the backend cannot hand the data back, which does not happen on the CPU backend.
pub fn host_values<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    tensor
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap_or_default()
}

/// The largest absolute difference between two tensors of the same shape, element by element
/// (for equivalence checks: streaming against whole-sequence, one implementation against
/// another).
pub fn max_abs_diff<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
    host_values(a)
        .iter()
        .zip(host_values(b))
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
