//! # kiln-core
//!
//! What two or more of Kiln's paper crates share:
//!
//! - [`backend`]: turn `--backend` / `$KILN_BACKEND` into a Burn [`Device`](burn::prelude::Device);
//! - [`data`]: readers for MNIST, Fashion-MNIST (IDX) and CIFAR (binary), in-memory datasets with
//!   seeded subsets, splits and normalised batches, and the checksummed fetch registry;
//! - [`train`]: seeding, statistics over seeds, accuracy, trainable-parameter counts, progress
//!   with ETA, checkpoints, resumable phases and peak-memory measurement;
//! - [`nn`]: the decoder language model of the language papers (RMSNorm, RoPE, attention with
//!   maps, grouped-query heads, document masks and a KV cache, SwiGLU, sampling);
//! - [`report`]: the claims table, `metrics.json` and SVG learning curves of every reproduction;
//! - [`cli`]: the arguments and resumable output folder every `reproduce` binary shares;
//! - [`gguf`]: llama.cpp's model files, read and dequantised (F32, F16, Q8_0, Q4_1).
//! - [`npz`]: NumPy's `.npy` arrays and `.npz` archives (JAX checkpoints, saved videos).
//!
//! Burn 0.22 has no backend type parameter: models and tensors take a `Device`, and the
//! backends compiled in are chosen by this crate's features (`flex`, the default; `wgpu`; `cuda`).

#![recursion_limit = "256"]

pub mod backend;
pub mod cli;
pub mod data;
pub mod gguf;
pub mod nn;
pub mod npz;
pub mod report;
pub mod train;

pub use backend::{Backend, BackendError, select_device};

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
