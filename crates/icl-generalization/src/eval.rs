//! Multiple-choice scoring by likelihood (the paper's evaluation): the options are never
//! shown; each candidate statement is scored as a continuation of the prompt and the best
//! one is the model's answer.
//!
//! ```text
//! prompt      x = ⟨bos⟩ [context] ⟨q⟩
//! summed      s(c) = Σ_j log p(c_j | x, c_{<j})           (the answer: argmax_c s(c))
//! normalised  s̄(c) = s(c) / |c|                          (logged beside it)
//! ```
//!
//! Candidates share the prompt, which the engine runs once per item
//! ([`LmEngine::score`](kiln_core::lm::LmEngine::score)). A tie for the best score counts as
//! wrong.

use std::collections::BTreeMap;

use kiln_core::lm::{LmEngine, LmError};
use serde::{Deserialize, Serialize};

use crate::corpus::Doc;
use crate::study::{McItem, Split};
use crate::vocab::{BOS, Q, Token};

/// The outcome of one item.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ItemResult {
    /// The item's split.
    pub split: Split,
    /// Whether the summed log-likelihood picked the answer.
    pub correct: bool,
    /// Whether the length-normalised one did.
    pub correct_normalised: bool,
    /// Chance for this item, `1 / candidates`.
    pub chance: f64,
}

/// Accuracy on one split.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SplitScore {
    /// Items.
    pub n: usize,
    /// Fraction right by summed log-likelihood.
    pub accuracy: f64,
    /// Fraction right by length-normalised log-likelihood.
    pub accuracy_normalised: f64,
    /// Mean chance level of the items.
    pub chance: f64,
}

/// Accuracy per split.
pub type SplitScores = BTreeMap<Split, SplitScore>;

/// `⟨bos⟩ context ⟨q⟩`.
pub fn prompt(context: Option<&Doc>) -> Vec<Token> {
    let mut p = vec![BOS];
    if let Some(doc) = context {
        p.extend(doc.tokens());
    }
    p.push(Q);
    p
}

/// Scores every item; with `contexts`, item `i`'s prompt holds `contexts[item.world]` (the
/// in-context condition), without, the bare prompt.
///
/// # Errors
/// If a prompt with a candidate is longer than the engine's `max_len`, or a token is outside
/// its vocabulary.
pub fn evaluate(
    engine: &LmEngine,
    items: &[McItem],
    contexts: Option<&[Doc]>,
) -> Result<Vec<ItemResult>, LmError> {
    items
        .iter()
        .map(|item| {
            let x = prompt(contexts.map(|c| &c[item.world]));
            let scores = engine.score(&x, &item.choices)?;
            let summed: Vec<f64> = scores.iter().map(|s| s.total()).collect();
            let normalised: Vec<f64> = summed
                .iter()
                .zip(&item.choices)
                .map(|(s, c)| s / c.len().max(1) as f64)
                .collect();
            Ok(ItemResult {
                split: item.split,
                correct: strictly_best(&summed) == Some(item.answer),
                correct_normalised: strictly_best(&normalised) == Some(item.answer),
                chance: 1.0 / item.choices.len() as f64,
            })
        })
        .collect()
}

/// The index of the unique largest value (`None` on a tie for the top).
pub fn strictly_best(values: &[f64]) -> Option<usize> {
    let (best, top) = values
        .iter()
        .copied()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(&b.1))?;
    let ties = values.iter().filter(|&&v| v == top).count();
    (ties == 1).then_some(best)
}

/// Accuracies per split.
pub fn summarise(results: &[ItemResult]) -> SplitScores {
    let mut out = SplitScores::new();
    for split in Split::ALL {
        let of: Vec<&ItemResult> = results.iter().filter(|r| r.split == split).collect();
        if of.is_empty() {
            continue;
        }
        let n = of.len();
        let frac = |f: &dyn Fn(&ItemResult) -> f64| of.iter().map(|r| f(r)).sum::<f64>() / n as f64;
        out.insert(
            split,
            SplitScore {
                n,
                accuracy: frac(&|r| f64::from(u8::from(r.correct))),
                accuracy_normalised: frac(&|r| f64::from(u8::from(r.correct_normalised))),
                chance: frac(&|r| r.chance),
            },
        );
    }
    out
}
