//! Which person each training sequence is about (App. B.2): the distributions the paper
//! compares.
//!
//! ```text
//! Uniform            p_i = 1/N
//! PowerLaw(α)        p_i ∝ (i + 1)^(−α)                     (§3.1; α = 1 is Zipf's law)
//! Celebrities(k, w)  the first k people w times as likely as the rest
//! WarmUp(s, e)       uniform over the first s people for e·⌈s/B⌉ steps, then over all N (§3.2)
//! Replay(old, new, w) uniform over `new`, with each of `old` weighted w (§4.2 fine-tuning)
//! ```

use std::ops::Range;

use kiln_core::InvalidConfig;
use kiln_core::data::WeightedSampler;
use kiln_core::train::SeededRng;
use serde::{Deserialize, Serialize};

/// A distribution over people, indexed by their position in the [`Population`](crate::Population).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum IndividualDist {
    /// Everyone in `0..N` equally often.
    Uniform,
    /// Inverse power law over `0..N` with exponent `alpha` ≥ 0.
    PowerLaw {
        /// The exponent α.
        alpha: f64,
    },
    /// The first `n` of `0..N` are `weight` times as frequent as the others.
    Celebrities {
        /// How many celebrities.
        n: usize,
        /// How much more often they appear.
        weight: f64,
    },
    /// A warm-up curriculum: the first `subset` people for `epochs` epochs of that subset,
    /// then everyone in `0..N`.
    WarmUp {
        /// People in the warm-up.
        subset: usize,
        /// Epochs over the subset (an epoch is `⌈subset / batch⌉` steps).
        epochs: usize,
    },
    /// Fine-tuning with replay: the people `new` at weight 1 and the people `old` at
    /// `old_weight` (0 for no replay). Ignores `N`.
    Replay {
        /// People seen in pre-training.
        old: Range<usize>,
        /// People new to the model.
        new: Range<usize>,
        /// Weight of each old person relative to a new one.
        old_weight: f64,
    },
}

/// A stage of a sampler: a pool of people and their weights, used until a step.
#[derive(Debug, Clone)]
struct Stage {
    pool: Vec<usize>,
    sampler: WeightedSampler,
    until: Option<usize>,
}

impl Stage {
    fn new(pool: Vec<usize>, weights: &[f64], until: Option<usize>) -> Result<Self, InvalidConfig> {
        Ok(Self {
            sampler: WeightedSampler::new(weights)?,
            pool,
            until,
        })
    }

    fn uniform(pool: Range<usize>, until: Option<usize>) -> Result<Self, InvalidConfig> {
        let pool: Vec<usize> = pool.collect();
        let weights = vec![1.0; pool.len()];
        Self::new(pool, &weights, until)
    }
}

/// Draws people for the sequences of each step.
#[derive(Debug, Clone)]
pub struct IndividualSampler {
    stages: Vec<Stage>,
}

impl IndividualDist {
    /// The sampler of this distribution over a population of `n` trained people and batches
    /// of `batch` sequences.
    ///
    /// # Errors
    /// If a parameter is out of range (a negative α, more celebrities or warm-up people than
    /// `n`, an empty replay pool).
    pub fn sampler(&self, n: usize, batch: usize) -> Result<IndividualSampler, InvalidConfig> {
        kiln_core::ensure_config!(n > 0 && batch > 0, "sampling needs people and a batch size");
        let stages = match self {
            IndividualDist::Uniform => vec![Stage::uniform(0..n, None)?],
            IndividualDist::PowerLaw { alpha } => {
                let s = WeightedSampler::power_law(n, *alpha)?;
                vec![Stage {
                    pool: (0..n).collect(),
                    sampler: s,
                    until: None,
                }]
            }
            IndividualDist::Celebrities { n: k, weight } => {
                kiln_core::ensure_config!(*k <= n, "{k} celebrities among {n} people");
                let weights: Vec<f64> =
                    (0..n).map(|i| if i < *k { *weight } else { 1.0 }).collect();
                vec![Stage::new((0..n).collect(), &weights, None)?]
            }
            IndividualDist::WarmUp { subset, epochs } => {
                kiln_core::ensure_config!(
                    *subset >= 1 && *subset <= n,
                    "a warm-up subset of {subset} among {n} people"
                );
                let steps = epochs * subset.div_ceil(batch);
                vec![
                    Stage::uniform(0..*subset, Some(steps))?,
                    Stage::uniform(0..n, None)?,
                ]
            }
            IndividualDist::Replay {
                old,
                new,
                old_weight,
            } => {
                let pool: Vec<usize> = old.clone().chain(new.clone()).collect();
                let weights: Vec<f64> = old
                    .clone()
                    .map(|_| *old_weight)
                    .chain(new.clone().map(|_| 1.0))
                    .collect();
                vec![Stage::new(pool, &weights, None)?]
            }
        };
        Ok(IndividualSampler { stages })
    }
}

impl IndividualSampler {
    /// The stage in force at `step` (the last one once every limit has passed).
    fn stage(&self, step: usize) -> &Stage {
        self.stages
            .iter()
            .find(|s| s.until.is_none_or(|until| step < until))
            .unwrap_or(&self.stages[self.stages.len() - 1])
    }

    /// The person of one sequence at training step `step`.
    pub fn draw(&self, step: usize, rng: &mut SeededRng) -> usize {
        let stage = self.stage(step);
        stage.pool[stage.sampler.sample(rng)]
    }

    /// The probability that a sequence of step `step` is about person `i`.
    pub fn probability(&self, step: usize, i: usize) -> f64 {
        let stage = self.stage(step);
        stage
            .pool
            .iter()
            .enumerate()
            .filter(|(_, p)| **p == i)
            .map(|(k, _)| stage.sampler.probability(k))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warm_up_uses_the_subset_for_its_epochs_then_everyone() {
        let s = IndividualDist::WarmUp {
            subset: 10,
            epochs: 2,
        }
        .sampler(100, 4)
        .unwrap();
        // ⌈10 / 4⌉ = 3 steps an epoch, so steps 0–5 are the warm-up.
        assert!((s.probability(5, 3) - 0.1).abs() < 1e-12);
        assert_eq!(s.probability(5, 50), 0.0);
        assert!((s.probability(6, 50) - 0.01).abs() < 1e-12);
    }

    #[test]
    fn replay_weights_old_people_against_new_ones() {
        let s = IndividualDist::Replay {
            old: 0..4,
            new: 10..12,
            old_weight: 0.5,
        }
        .sampler(4, 8)
        .unwrap();
        // Total weight 4 · 0.5 + 2 · 1 = 4.
        assert!((s.probability(0, 1) - 0.125).abs() < 1e-12);
        assert!((s.probability(0, 11) - 0.25).abs() < 1e-12);
        assert_eq!(s.probability(0, 5), 0.0);
        let none = IndividualDist::Replay {
            old: 0..4,
            new: 10..12,
            old_weight: 0.0,
        };
        let s = none.sampler(4, 8).unwrap();
        let mut rng = SeededRng::new(3);
        assert!(
            (0..500).all(|_| s.draw(0, &mut rng) >= 10),
            "an old person was replayed at weight 0"
        );
    }

    #[test]
    fn bad_parameters_are_refused() {
        assert!(
            IndividualDist::PowerLaw { alpha: -0.5 }
                .sampler(10, 4)
                .is_err()
        );
        assert!(
            IndividualDist::WarmUp {
                subset: 20,
                epochs: 1
            }
            .sampler(10, 4)
            .is_err()
        );
        assert!(
            IndividualDist::Celebrities { n: 11, weight: 2.0 }
                .sampler(10, 4)
                .is_err()
        );
    }
}
