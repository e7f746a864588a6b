//! Drawing items with unequal frequencies: uniform, inverse power law `p_i ∝ i^(−α)`, or any
//! weights, by binary search in the cumulative weights (`O(log n)` a draw).

use crate::InvalidConfig;
use crate::train::SeededRng;

/// Items `0..n` drawn with fixed probabilities.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightedSampler {
    /// `cumulative[i]` = `w_0 + … + w_i`, normalised so the last is 1.
    cumulative: Vec<f64>,
}

impl WeightedSampler {
    /// Items drawn with probability proportional to `weights`.
    ///
    /// # Errors
    /// If `weights` is empty, or a weight is negative or not finite, or all are zero.
    pub fn new(weights: &[f64]) -> Result<Self, InvalidConfig> {
        crate::ensure_config!(!weights.is_empty(), "a sampler needs at least one item");
        crate::ensure_config!(
            weights.iter().all(|w| w.is_finite() && *w >= 0.0),
            "sampling weights must be finite and non-negative"
        );
        let mut total = 0.0;
        let mut cumulative: Vec<f64> = weights
            .iter()
            .map(|w| {
                total += w;
                total
            })
            .collect();
        if total <= 0.0 {
            return Err(InvalidConfig::new("sampling weights are all zero"));
        }
        for c in &mut cumulative {
            *c /= total;
        }
        Ok(Self { cumulative })
    }

    /// Every item equally likely.
    ///
    /// # Errors
    /// If `n` is zero.
    pub fn uniform(n: usize) -> Result<Self, InvalidConfig> {
        Self::new(&vec![1.0; n])
    }

    /// The inverse power law over ranks: item `i` (0-based) has `p_i ∝ (i + 1)^(−α)`; `α = 0`
    /// is uniform and `α = 1` Zipf's law.
    ///
    /// # Errors
    /// If `n` is zero or `α` is negative or not finite.
    pub fn power_law(n: usize, alpha: f64) -> Result<Self, InvalidConfig> {
        crate::ensure_config!(
            alpha.is_finite() && alpha >= 0.0,
            "the power-law exponent must be ≥ 0, not {alpha}"
        );
        let weights: Vec<f64> = (1..=n).map(|i| (i as f64).powf(-alpha)).collect();
        Self::new(&weights)
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.cumulative.len()
    }

    /// Whether there are no items (never true of a built sampler).
    pub fn is_empty(&self) -> bool {
        self.cumulative.is_empty()
    }

    /// The probability of item `i` (0 outside `0..len`).
    pub fn probability(&self, i: usize) -> f64 {
        match i {
            0 => self.cumulative.first().copied().unwrap_or(0.0),
            _ if i < self.len() => self.cumulative[i] - self.cumulative[i - 1],
            _ => 0.0,
        }
    }

    /// One draw.
    pub fn sample(&self, rng: &mut SeededRng) -> usize {
        let u = rng.next_f64();
        self.cumulative
            .partition_point(|&c| c <= u)
            .min(self.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probabilities_are_the_normalised_weights() {
        let s = WeightedSampler::new(&[1.0, 0.0, 3.0]).unwrap();
        assert!((s.probability(0) - 0.25).abs() < 1e-12);
        assert_eq!(s.probability(1), 0.0);
        assert!((s.probability(2) - 0.75).abs() < 1e-12);
        let mut rng = SeededRng::new(4);
        assert!(
            (0..1000).all(|_| s.sample(&mut rng) != 1),
            "a zero weight was drawn"
        );
    }

    #[test]
    fn bad_weights_are_refused_with_a_reason() {
        assert!(WeightedSampler::new(&[]).is_err());
        assert!(WeightedSampler::new(&[0.0, 0.0]).is_err());
        assert!(WeightedSampler::new(&[1.0, f64::NAN]).is_err());
        let e = WeightedSampler::power_law(4, -1.0).unwrap_err();
        assert!(e.to_string().contains("exponent"), "{e}");
    }
}
