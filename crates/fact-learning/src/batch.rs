//! Biographies as tensors: inputs, next-token targets, the loss mask (every real token is
//! trained on, padding is not) and the value spans that the attribute metrics read.

use burn::prelude::*;
use kiln_core::train::{LabelledSpan, LmBatch, SeededRng};

use crate::world::{Biography, Population, TemplateSet, World};

/// A batch of biographies, right-padded to the longest.
#[derive(Debug, Clone)]
pub struct BioBatch {
    /// Tokens, targets and the loss mask, `[B, T]`.
    pub lm: LmBatch,
    /// The attribute values: one span of target positions per value, labelled with
    /// `attribute as usize`.
    pub spans: Vec<LabelledSpan>,
    /// The person of each row.
    pub people: Vec<usize>,
}

impl BioBatch {
    /// Stacks `bios` (of the people `people`).
    ///
    /// # Panics
    /// If `bios` is empty or its length differs from `people`'s.
    pub fn new(world: &World, bios: &[Biography], people: Vec<usize>, device: &Device) -> Self {
        assert!(!bios.is_empty(), "a batch needs at least one biography");
        assert_eq!(bios.len(), people.len(), "one person per biography");
        let pad = world.specials().pad;
        let t = bios.iter().map(|b| b.tokens.len() - 1).max().unwrap_or(1);
        let (mut inputs, mut targets, mut mask) = (Vec::new(), Vec::new(), Vec::new());
        let mut spans = Vec::with_capacity(6 * bios.len());
        for (row, bio) in bios.iter().enumerate() {
            let n = bio.tokens.len() - 1;
            let padded = |ids: &[u32]| {
                ids.iter()
                    .map(|&i| i64::from(i))
                    .chain(std::iter::repeat_n(i64::from(pad), t - n))
                    .collect::<Vec<_>>()
            };
            inputs.extend(padded(&bio.tokens[..n]));
            targets.extend(padded(&bio.tokens[1..]));
            mask.extend((0..t).map(|p| if p < n { 1.0f32 } else { 0.0 }));
            // Token `j` of the biography is the target of input position `j − 1`.
            spans.extend(bio.values.iter().map(|v| LabelledSpan {
                row,
                start: v.start - 1,
                len: v.len,
                label: v.attribute as usize,
            }));
        }
        let b = bios.len();
        let ids = |v: Vec<i64>| Tensor::<2, Int>::from_data(TensorData::new(v, [b, t]), device);
        Self {
            lm: LmBatch {
                tokens: ids(inputs),
                targets: ids(targets),
                loss_mask: Tensor::from_data(TensorData::new(mask, [b, t]), device),
                segments: None,
            },
            spans,
            people,
        }
    }

    /// One fresh biography of each of `people`.
    pub fn of_people(
        world: &World,
        population: &Population,
        people: Vec<usize>,
        set: TemplateSet,
        rng: &mut SeededRng,
        device: &Device,
    ) -> Self {
        let bios: Vec<Biography> = people
            .iter()
            .map(|&i| world.biography(&population.individuals[i], set, rng))
            .collect();
        Self::new(world, &bios, people, device)
    }
}
