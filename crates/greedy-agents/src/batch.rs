//! Prompt + completion pairs as one right-padded batch, trained on the completion only.
//!
//! For a sequence `s = prompt ++ completion` the inputs are `s[..n−1]` and the targets
//! `s[1..]`; the target at position `i` is counted when it is a completion token. Padding at
//! the right end never reaches earlier positions through the causal mask.

use burn::prelude::*;
use kiln_core::train::{LmBatch, padded_batch};

use crate::text::lexer::PAD;

/// One prompt and what followed it.
#[derive(Debug, Clone, Copy)]
pub struct Pair<'a> {
    /// Context tokens (at least one).
    pub prompt: &'a [u32],
    /// Generated or target tokens.
    pub completion: &'a [u32],
}

/// A batch and where each completion's targets sit in it.
#[derive(Debug, Clone)]
pub struct PairBatch {
    /// Inputs, targets and the completion mask.
    pub batch: LmBatch,
    /// Padded length `T` of the input rows.
    pub width: usize,
    /// For row `b`, the target position of its first completion token (`prompt.len() − 1`).
    pub starts: Vec<usize>,
}

impl PairBatch {
    /// Stacks `pairs`, padding with [`PAD`] to the longest.
    ///
    /// # Panics
    /// If `pairs` is empty or a prompt is empty.
    pub fn new(pairs: &[Pair<'_>], device: &Device) -> Self {
        let sequences: Vec<Vec<u32>> = pairs
            .iter()
            .map(|p| p.prompt.iter().chain(p.completion).copied().collect())
            .collect();
        let trained: Vec<Vec<bool>> = pairs
            .iter()
            .map(|p| {
                assert!(!p.prompt.is_empty(), "a prompt needs at least one token");
                let n = p.prompt.len() + p.completion.len() - 1;
                (0..n).map(|j| j + 1 >= p.prompt.len()).collect()
            })
            .collect();
        let width = sequences
            .iter()
            .map(Vec::len)
            .max()
            .expect("at least one pair")
            - 1;
        Self {
            batch: padded_batch(&sequences, Some(&trained), PAD, device),
            width,
            starts: pairs.iter().map(|p| p.prompt.len() - 1).collect(),
        }
    }

    /// A `[B, T]` tensor holding `values[b][j]` at the target position of completion token
    /// `j` of row `b`, 0 elsewhere (old log-probabilities, advantages, reference log-probs).
    pub fn align(&self, values: &[Vec<f32>], device: &Device) -> Tensor<2> {
        let b = self.starts.len();
        let mut flat = vec![0.0; b * self.width];
        for (row, (start, v)) in self.starts.iter().zip(values).enumerate() {
            for (j, &x) in v.iter().enumerate() {
                flat[row * self.width + start + j] = x;
            }
        }
        Tensor::from_data(TensorData::new(flat, [b, self.width]), device)
    }
}

/// `log π(target)` at every position, `[B, T]`, from logits `[B, T, V]`.
pub fn target_log_probs(logits: Tensor<3>, targets: Tensor<2, Int>) -> Tensor<2> {
    let [b, t, _] = logits.dims();
    burn::tensor::activation::log_softmax(logits, 2)
        .gather(2, targets.unsqueeze_dim::<3>(2))
        .reshape([b, t])
}
