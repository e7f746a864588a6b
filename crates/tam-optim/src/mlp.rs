//! The classifier of the paper's image experiments (and of this crate's tests and benchmark): the
//! plain ReLU multi-layer perceptron of kiln-core, re-exported under its old path.

pub use kiln_core::nn::Mlp;
