//! Batches of whole sequences of different lengths: one per row, padded at the end to the
//! longest, each sequence's targets counted (all of them, or those a mask keeps). Padding is
//! never a target, and the causal mask keeps it from reaching earlier positions.

use burn::prelude::*;

use super::lm::LmBatch;
use crate::data::text::Window;

/// The batch of `sequences` (at least two tokens each), padded with `pad`; `trained[i][j]`
/// says whether target `j` of sequence `i` (the token at `j + 1`) counts (`None`: all do).
///
/// # Panics
/// If `sequences` is empty, one has fewer than two tokens, or a mask's length is not its
/// sequence's length − 1.
pub fn padded_batch(
    sequences: &[Vec<u32>],
    trained: Option<&[Vec<bool>]>,
    pad: u32,
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
            padded.resize(longest, pad);
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
        let b = padded_batch(
            &[vec![1, 5, 6, 2], vec![1, 7, 2]],
            None,
            0,
            &Device::default(),
        );
        assert_eq!(b.tokens.dims(), [2, 3]);
        let mask = b.loss_mask.into_data().iter::<f32>().collect::<Vec<_>>();
        assert_eq!(mask, vec![1.0, 1.0, 1.0, 1.0, 1.0, 0.0]);
        let targets = b.targets.into_data().iter::<i64>().collect::<Vec<_>>();
        assert_eq!(targets, vec![5, 6, 2, 7, 2, 0]);
        let masks = [vec![false, true, true], vec![true, false]];
        let b = padded_batch(
            &[vec![1, 5, 6, 2], vec![1, 7, 2]],
            Some(&masks),
            0,
            &Device::default(),
        );
        let mask = b.loss_mask.into_data().iter::<f32>().collect::<Vec<_>>();
        assert_eq!(mask, vec![0.0, 1.0, 1.0, 1.0, 0.0, 0.0]);
    }
}
