//! Scores of labelled spans of target tokens, for losses and accuracies that count a multi-token
//! answer (a date, a name) as one unit.
//!
//! A language model's next-token log-probabilities are gathered once per batch
//! ([`TokenScores::of`]); a [`LabelledSpan`] then picks positions of one row, and its
//! [`SpanScore`] is
//!
//! ```text
//! loss     = Σ_{p ∈ span} −log p(target_p)          a sum, not a mean over the span's tokens
//! correct  = ∀ p ∈ span: argmax logits_p = target_p  every token right
//! max_prob = mean_{p ∈ span} max_v p(v)              confidence
//! entropy  = mean_{p ∈ span} −Σ_v p(v) log p(v)
//! ```

use burn::prelude::*;
use burn::tensor::activation::log_softmax;

/// Positions `start..start + len` of row `row`, all of one kind (`label`). Position `p` is
/// scored against `targets[row][p]`, the token that follows input `p`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabelledSpan {
    /// Row of the batch.
    pub row: usize,
    /// First position.
    pub start: usize,
    /// Number of positions (≥ 1).
    pub len: usize,
    /// What the span is (an attribute type, a field), for grouping.
    pub label: usize,
}

/// Per-position statistics of a batch, on the host.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenScores {
    /// Sequence length `T`.
    len: usize,
    /// `log p(target)`, row-major `[B · T]`.
    log_prob: Vec<f32>,
    /// Whether the argmax is the target.
    correct: Vec<bool>,
    /// `max_v p(v)`.
    max_prob: Vec<f32>,
    /// `−Σ_v p(v) log p(v)`.
    entropy: Vec<f32>,
}

/// The score of one span.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpanScore {
    /// The span's label.
    pub label: usize,
    /// `Σ −log p(target)` over its positions (nats).
    pub loss: f64,
    /// Whether every position's argmax is its target.
    pub correct: bool,
    /// Mean of the highest probability over its positions.
    pub max_prob: f64,
    /// Mean predictive entropy over its positions (nats).
    pub entropy: f64,
}

impl TokenScores {
    /// Scores every position of `logits` (`[B, T, V]`) against `targets` (`[B, T]`).
    pub fn of(logits: Tensor<3>, targets: Tensor<2, Int>) -> Self {
        let [b, t, _] = logits.dims();
        let logp = log_softmax(logits.detach(), 2);
        let picked = logp
            .clone()
            .gather(2, targets.clone().unsqueeze_dim::<3>(2))
            .reshape([b, t]);
        let best = logp.clone().max_dim(2).reshape([b, t]);
        let argmax = logp.clone().argmax(2).reshape([b, t]);
        let entropy = (logp.clone().exp() * logp).sum_dim(2).neg().reshape([b, t]);
        let correct = argmax.equal(targets).into_data();
        Self {
            len: t,
            log_prob: crate::host_values(picked),
            correct: correct.iter::<bool>().collect(),
            max_prob: crate::host_values(best.exp()),
            entropy: crate::host_values(entropy),
        }
    }

    /// The score of `span`.
    ///
    /// # Panics
    /// If the span is empty or reaches past the batch.
    pub fn span(&self, span: &LabelledSpan) -> SpanScore {
        assert!(span.len > 0, "an empty span has no score");
        assert!(
            span.start + span.len <= self.len,
            "span past the sequence end"
        );
        let at = span.row * self.len + span.start;
        let range = at..at + span.len;
        let mean = |v: &[f32]| v.iter().map(|&x| f64::from(x)).sum::<f64>() / span.len as f64;
        SpanScore {
            label: span.label,
            loss: -self.log_prob[range.clone()]
                .iter()
                .map(|&x| f64::from(x))
                .sum::<f64>(),
            correct: self.correct[range.clone()].iter().all(|&c| c),
            max_prob: mean(&self.max_prob[range.clone()]),
            entropy: mean(&self.entropy[range]),
        }
    }
}

/// Means over a set of span scores.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct SpanSummary {
    /// Spans scored.
    pub count: usize,
    /// Mean span loss (nats).
    pub loss: f64,
    /// Fraction of spans entirely right.
    pub accuracy: f64,
    /// Mean confidence.
    pub max_prob: f64,
    /// Mean entropy (nats).
    pub entropy: f64,
}

impl SpanSummary {
    /// The means of `scores` (all zero when empty).
    pub fn of(scores: &[SpanScore]) -> Self {
        let n = scores.len();
        if n == 0 {
            return Self::default();
        }
        let mean = |f: fn(&SpanScore) -> f64| scores.iter().map(f).sum::<f64>() / n as f64;
        Self {
            count: n,
            loss: mean(|s| s.loss),
            accuracy: mean(|s| f64::from(u8::from(s.correct))),
            max_prob: mean(|s| s.max_prob),
            entropy: mean(|s| s.entropy),
        }
    }
}
