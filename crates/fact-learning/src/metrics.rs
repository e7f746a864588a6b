//! The paper's measures of knowledge (App. B.3) and of the learning curve (§2.1).
//!
//! ```text
//! baseline  L₀ = (1/6) Σ_a ln |V_a|              the no-knowledge loss: values guessed from
//!                                                 their marginals, |V_date| = Y · M · D
//! loss      L  = (1/6B) Σ_b Σ_a Σ_{p ∈ span(b,a)} −log p(target_p)    summed over a value's
//!                                                 tokens, averaged over attributes and batch
//! accuracy  A  = (1/6B) Σ_b Σ_a 1[every token of span(b,a) is the argmax]
//! plateau end  = the first logged step with L < L₀ − δ
//! power law    plateau end ≈ a · N^b, fitted by least squares on (ln N, ln end)
//! ```

use burn::prelude::*;
use kiln_core::nn::Decoder;
use kiln_core::train::{SpanScore, SpanSummary, TokenScores};

use crate::batch::BioBatch;
use crate::world::{Attribute, World};

/// The no-knowledge baseline `L₀` in nats: the loss of a model that knows every value's
/// marginal distribution (uniform over its list) and nothing about the person.
pub fn no_knowledge_baseline(world: &World) -> f64 {
    Attribute::ALL
        .iter()
        .map(|&a| (world.value_count(a) as f64).ln())
        .sum::<f64>()
        / Attribute::ALL.len() as f64
}

/// The score of every attribute value in `batch` under `logits` (`[B, T, V]`).
pub fn value_scores(logits: Tensor<3>, batch: &BioBatch) -> Vec<SpanScore> {
    let scores = TokenScores::of(logits, batch.lm.targets.clone());
    batch.spans.iter().map(|s| scores.span(s)).collect()
}

/// Attribute loss `L` (nats, a sum over each value's tokens) and attribute accuracy `A` (a
/// value counts only if all its tokens are right) of `logits` on `batch`.
pub fn attribute_loss_and_accuracy(logits: Tensor<3>, batch: &BioBatch) -> (f64, f64) {
    let summary = SpanSummary::of(&value_scores(logits, batch));
    (summary.loss, summary.accuracy)
}

/// Loss, accuracy, confidence (mean highest probability) and entropy of `model`'s predictions
/// of the values in `batch` (§4.1: lower confidence on unseen people is the tell).
pub fn confidence_stats(model: &Decoder, batch: &BioBatch) -> SpanSummary {
    let logits = model
        .forward(batch.lm.tokens.clone(), None, None, false)
        .logits;
    SpanSummary::of(&value_scores(logits, batch))
}

/// The end of the plateau: the first `step` of `curve` (`(step, attribute loss)`, in step
/// order) whose loss is below `baseline − delta`; `None` if the curve never gets there.
pub fn plateau_end(curve: &[(usize, f64)], baseline: f64, delta: f64) -> Option<usize> {
    curve
        .iter()
        .find(|(_, loss)| *loss < baseline - delta)
        .map(|(step, _)| *step)
}

/// A power law `y ≈ a · x^b` fitted by least squares in log–log space.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PowerLawFit {
    /// Prefactor `a`.
    pub a: f64,
    /// Exponent `b`.
    pub b: f64,
    /// `R²` of the fit of `ln y` on `ln x`.
    pub r2: f64,
}

/// Fits `y ≈ a · x^b` to positive points; `None` with fewer than two points, a non-positive
/// coordinate, or all `x` equal.
pub fn fit_power_law(xs: &[f64], ys: &[f64]) -> Option<PowerLawFit> {
    if xs.len() != ys.len() || xs.len() < 2 || xs.iter().chain(ys).any(|&v| v <= 0.0) {
        return None;
    }
    let lx: Vec<f64> = xs.iter().map(|x| x.ln()).collect();
    let ly: Vec<f64> = ys.iter().map(|y| y.ln()).collect();
    let n = lx.len() as f64;
    let (mx, my) = (lx.iter().sum::<f64>() / n, ly.iter().sum::<f64>() / n);
    let sxx: f64 = lx.iter().map(|x| (x - mx).powi(2)).sum();
    let sxy: f64 = lx.iter().zip(&ly).map(|(x, y)| (x - mx) * (y - my)).sum();
    if sxx == 0.0 {
        return None;
    }
    let b = sxy / sxx;
    let intercept = my - b * mx;
    let ss_res: f64 = lx
        .iter()
        .zip(&ly)
        .map(|(x, y)| (y - intercept - b * x).powi(2))
        .sum();
    let ss_tot: f64 = ly.iter().map(|y| (y - my).powi(2)).sum();
    let r2 = if ss_tot > 0.0 {
        1.0 - ss_res / ss_tot
    } else {
        1.0
    };
    Some(PowerLawFit {
        a: intercept.exp(),
        b,
        r2,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exact_power_law_is_recovered() {
        let xs = [256.0, 512.0, 1024.0, 2048.0];
        let ys: Vec<f64> = xs.iter().map(|x: &f64| 0.43 * x.powf(0.81)).collect();
        let fit = fit_power_law(&xs, &ys).unwrap();
        assert!(
            (fit.b - 0.81).abs() < 1e-12 && (fit.a - 0.43).abs() < 1e-12,
            "{fit:?}"
        );
        assert!((fit.r2 - 1.0).abs() < 1e-12);
        // Noise lowers R²; too few or non-positive points give no fit.
        let noisy = [ys[0] * 1.3, ys[1], ys[2] * 0.8, ys[3]];
        assert!(fit_power_law(&xs, &noisy).unwrap().r2 < 0.999);
        assert!(fit_power_law(&xs[..1], &ys[..1]).is_none());
        assert!(fit_power_law(&[1.0, 2.0], &[0.0, 3.0]).is_none());
    }

    #[test]
    fn the_plateau_ends_at_the_first_step_below_baseline_minus_delta() {
        let curve = [(0, 9.0), (10, 5.0), (20, 4.95), (30, 4.85), (40, 3.0)];
        assert_eq!(plateau_end(&curve, 5.0, 0.1), Some(30));
        assert_eq!(plateau_end(&curve, 5.0, 2.5), None);
    }
}
