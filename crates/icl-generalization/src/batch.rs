//! Training batches of whole documents: one document per row, padded at the end to the
//! batch's longest, every real token a target (the loss covers the whole document).

use burn::prelude::*;
use kiln_core::train::{LmBatch, padded_batch};

use crate::vocab::{PAD, Token};

/// The batch of `sequences` (each `⟨bos⟩ … ⟨eos⟩`, at least two tokens).
///
/// # Panics
/// If `sequences` is empty or one has fewer than two tokens.
pub fn batch(sequences: &[Vec<Token>], device: &Device) -> LmBatch {
    batch_masked(sequences, None, device)
}

/// [`batch`], with `trained[i][j]` saying whether target `j` of sequence `i` (the token at
/// `j + 1`) counts; padding never does.
///
/// # Panics
/// As [`batch`], or if a mask's length is not its sequence's length − 1.
pub fn batch_masked(
    sequences: &[Vec<Token>],
    trained: Option<&[Vec<bool>]>,
    device: &Device,
) -> LmBatch {
    padded_batch(sequences, trained, PAD, device)
}
