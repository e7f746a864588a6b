//! Training batches of whole documents: one document per row, padded at the end to the
//! batch's longest, every real token a target (the loss covers the whole document).

use burn::prelude::*;
use kiln_core::data::text::Window;
use kiln_core::train::LmBatch;

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
    let longest = sequences
        .iter()
        .map(Vec::len)
        .max()
        .expect("at least one sequence");
    assert!(
        sequences.iter().all(|s| s.len() >= 2),
        "a sequence needs an input and a target"
    );
    let windows: Vec<Window> = sequences
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let t = longest - 1;
            let mask = trained.map(|m| &m[i]);
            if let Some(m) = mask {
                assert_eq!(m.len() + 1, s.len(), "one mask entry per target");
            }
            let mut padded = s.clone();
            padded.resize(longest, PAD);
            Window {
                tokens: padded[..t].to_vec(),
                targets: padded[1..].to_vec(),
                segments: vec![0; t],
                loss_mask: (0..t)
                    .map(|j| j + 1 < s.len() && mask.is_none_or(|m| m[j]))
                    .collect(),
            }
        })
        .collect();
    let refs: Vec<&Window> = windows.iter().collect();
    LmBatch::new(&refs, false, device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_is_never_a_target() {
        let b = batch(&[vec![1, 5, 6, 2], vec![1, 7, 2]], &Device::default());
        assert_eq!(b.tokens.dims(), [2, 3]);
        let mask = b.loss_mask.into_data().iter::<f32>().collect::<Vec<_>>();
        assert_eq!(mask, vec![1.0, 1.0, 1.0, 1.0, 1.0, 0.0]);
        let targets = b.targets.into_data().iter::<i64>().collect::<Vec<_>>();
        assert_eq!(targets, vec![5, 6, 2, 7, 2, 0]);
        let masks = [vec![false, true, true], vec![true, false]];
        let b = batch_masked(
            &[vec![1, 5, 6, 2], vec![1, 7, 2]],
            Some(&masks),
            &Device::default(),
        );
        let mask = b.loss_mask.into_data().iter::<f32>().collect::<Vec<_>>();
        assert_eq!(mask, vec![0.0, 1.0, 1.0, 1.0, 0.0, 0.0]);
    }
}
