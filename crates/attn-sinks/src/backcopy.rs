//! `BackcopyMarkov`: a synthetic language on which small models grow attention sinks.
//!
//! Ordinary tokens follow a bigram chain whose rows are drawn from a sparse Dirichlet; after an
//! ordinary token, one of `k` *trigger* tokens comes with a fixed probability, and the token
//! after a trigger copies the token just before it. A
//! model needs attention only at those rare positions (a back-copy head), and has every reason
//! to leave that head idle elsewhere, which it does by attending to the first token: the
//! "active-dormant" behaviour (§3.2) that our cpu-scale checks look for. Documents have
//! geometric lengths and are meant to be packed into windows by `kiln_core::data::text::Packer`.

use kiln_core::train::SeededRng;
use serde::{Deserialize, Serialize};

/// Settings of the language.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackcopyConfig {
    /// Ordinary tokens `0..vocab` (the triggers are the first `triggers` of them).
    pub vocab: usize,
    /// How many trigger tokens (3 in our cpu config).
    pub triggers: usize,
    /// Dirichlet concentration of each bigram row (small = sparse, predictable rows).
    pub concentration: f64,
    /// Probability that a trigger (uniformly one of them) follows an ordinary token; otherwise
    /// the next ordinary token is drawn from the bigram row.
    pub trigger_rate: f64,
    /// Mean document length (geometric, at least 2).
    pub mean_length: f64,
}

impl Default for BackcopyConfig {
    fn default() -> Self {
        Self {
            vocab: 64,
            triggers: 3,
            concentration: 0.1,
            trigger_rate: 0.15,
            mean_length: 48.0,
        }
    }
}

/// A drawn instance of the language: its bigram table and trigger set.
#[derive(Debug, Clone, PartialEq)]
pub struct BackcopyMarkov {
    config: BackcopyConfig,
    bigrams: Vec<Vec<f64>>,
}

impl BackcopyMarkov {
    /// Draws the bigram table from `seed`.
    ///
    /// # Panics
    /// If there are not more ordinary tokens than triggers.
    pub fn new(config: BackcopyConfig, seed: u64) -> Self {
        assert!(
            config.vocab > config.triggers + 1,
            "need more tokens than triggers"
        );
        let mut rng = SeededRng::new(seed);
        let ordinary = config.vocab - config.triggers;
        let bigrams = (0..config.vocab)
            .map(|_| rng.dirichlet(ordinary, config.concentration))
            .collect();
        Self { config, bigrams }
    }

    /// The settings.
    pub fn config(&self) -> BackcopyConfig {
        self.config
    }

    /// Whether `token` is a trigger.
    pub fn is_trigger(&self, token: u32) -> bool {
        (token as usize) < self.config.triggers
    }

    /// One document, of geometric length (mean `mean_length`, at least 2).
    pub fn document(&self, rng: &mut SeededRng) -> Vec<u32> {
        let stop = 1.0 / self.config.mean_length.max(2.0);
        let mut doc = vec![self.first_token(rng)];
        while doc.len() < 2 || rng.next_f64() >= stop {
            self.extend(&mut doc, rng);
        }
        doc
    }

    /// One document of exactly `len` tokens (at least 1): a single-document prompt.
    pub fn document_of_length(&self, len: usize, rng: &mut SeededRng) -> Vec<u32> {
        let mut doc = vec![self.first_token(rng)];
        while doc.len() < len {
            self.extend(&mut doc, rng);
        }
        doc
    }

    /// Documents start on a uniformly drawn non-trigger token.
    fn first_token(&self, rng: &mut SeededRng) -> u32 {
        (self.config.triggers + rng.below(self.config.vocab - self.config.triggers)) as u32
    }

    /// Appends the next token: a back-copy after a trigger; else a trigger with probability
    /// `trigger_rate`; else an ordinary token drawn from the bigram row.
    fn extend(&self, doc: &mut Vec<u32>, rng: &mut SeededRng) {
        let n = doc.len();
        let last = doc[n - 1];
        let k = self.config.triggers;
        let next = if self.is_trigger(last) && n >= 2 {
            doc[n - 2]
        } else if rng.next_f64() < self.config.trigger_rate {
            rng.below(k) as u32
        } else {
            (k + rng.categorical(&self.bigrams[last as usize])) as u32
        };
        doc.push(next);
    }

    /// `n` documents from `seed`.
    pub fn documents(&self, n: usize, seed: u64) -> Vec<Vec<u32>> {
        let mut rng = SeededRng::new(seed);
        (0..n).map(|_| self.document(&mut rng)).collect()
    }
}

/// Entropy (nats) of the unigram distribution of `docs`: the loss of the best model that
/// ignores context.
pub fn unigram_entropy(docs: &[Vec<u32>]) -> f64 {
    let mut counts = std::collections::HashMap::<u32, usize>::new();
    for &t in docs.iter().flatten() {
        *counts.entry(t).or_default() += 1;
    }
    let total = counts.values().sum::<usize>() as f64;
    counts
        .values()
        .map(|&c| {
            let p = c as f64 / total;
            -p * p.ln()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_trigger_is_followed_by_a_back_copy() {
        let language = BackcopyMarkov::new(BackcopyConfig::default(), 1);
        let docs = language.documents(300, 2);
        let mut copies = 0;
        for doc in &docs {
            for i in 1..doc.len() - 1 {
                if language.is_trigger(doc[i]) {
                    assert_eq!(
                        doc[i + 1],
                        doc[i - 1],
                        "token after a trigger copies the one before it"
                    );
                    copies += 1;
                }
            }
        }
        assert!(copies > 50, "triggers should occur ({copies})");
        let mean = docs.iter().map(Vec::len).sum::<usize>() as f64 / docs.len() as f64;
        assert!((mean - 48.0).abs() < 8.0, "mean length {mean}");
        assert_eq!(docs, language.documents(300, 2), "seeded");
    }

    #[test]
    fn unigram_entropy_of_known_counts() {
        // Two tokens, equally frequent: ln 2.
        assert!((unigram_entropy(&[vec![0, 1, 0, 1]]) - 2f64.ln()).abs() < 1e-12);
    }
}
