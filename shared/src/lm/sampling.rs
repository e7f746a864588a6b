//! Choosing the next token from a row of logits: greedy, or a seeded draw from
//! `softmax(z / τ)` restricted to the `k` most likely tokens and to the smallest set whose
//! probability reaches `p` (nucleus sampling).

use serde::{Deserialize, Serialize};

use crate::train::SeededRng;

/// How the next token is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sampler {
    /// Softmax temperature `τ`; 0 picks the most likely token (greedy).
    pub temperature: f32,
    /// Keep only the `k` most likely tokens (0: all).
    pub top_k: usize,
    /// Keep the smallest set of most likely tokens whose probability reaches `p` (1: all).
    pub top_p: f32,
}

impl Default for Sampler {
    fn default() -> Self {
        Self::greedy()
    }
}

impl Sampler {
    /// The most likely token, always.
    pub fn greedy() -> Self {
        Self {
            temperature: 0.0,
            top_k: 0,
            top_p: 1.0,
        }
    }

    /// Plain sampling at temperature `temperature`.
    pub fn temperature(temperature: f32) -> Self {
        Self {
            temperature,
            ..Self::greedy()
        }
    }

    /// Whether the settings make sense; the message says which does not.
    pub(crate) fn problem(&self) -> Option<String> {
        if !(self.temperature >= 0.0 && self.temperature.is_finite()) {
            Some(format!(
                "temperature {} must be finite and ≥ 0",
                self.temperature
            ))
        } else if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            Some(format!("top_p {} must be in (0, 1]", self.top_p))
        } else {
            None
        }
    }

    /// The chosen token of `logits`, drawing from `rng` unless greedy.
    pub fn choose(&self, logits: &[f32], rng: &mut SeededRng) -> u32 {
        let argmax = logits
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0)))
            .map_or(0, |(i, _)| i as u32);
        if self.temperature == 0.0 {
            return argmax;
        }
        // Most likely first, ties by id, so the order is the same on every run; sorted only
        // as far as top-k and top-p need.
        let descending = |a: &u32, b: &u32| {
            logits[*b as usize]
                .total_cmp(&logits[*a as usize])
                .then(a.cmp(b))
        };
        let mut order: Vec<u32> = (0..logits.len() as u32).collect();
        if self.top_k > 0 && self.top_k < order.len() {
            order.select_nth_unstable_by(self.top_k - 1, descending);
            order.truncate(self.top_k);
        }
        if self.top_k > 0 || self.top_p < 1.0 {
            order.sort_unstable_by(descending);
        }
        let best = logits[argmax as usize];
        let tau = f64::from(self.temperature);
        let weights: Vec<f64> = order
            .iter()
            .map(|&i| ((f64::from(logits[i as usize]) - f64::from(best)) / tau).exp())
            .collect();
        let total: f64 = weights.iter().sum();
        let mut kept = weights.len();
        if self.top_p < 1.0 {
            let mut mass = 0.0;
            for (i, w) in weights.iter().enumerate() {
                mass += w / total;
                if mass >= f64::from(self.top_p) {
                    kept = i + 1;
                    break;
                }
            }
        }
        let kept_total: f64 = weights[..kept].iter().sum();
        let mut u = rng.next_f64() * kept_total;
        for (i, w) in weights[..kept].iter().enumerate() {
            u -= w;
            if u <= 0.0 {
                return order[i];
            }
        }
        order[kept - 1]
    }
}
