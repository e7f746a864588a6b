//! Summaries over seeds: mean, standard deviation, standard error.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Mean, sample standard deviation and standard error of a set of runs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// How many values.
    pub n: usize,
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation (divides by `n - 1`; 0 for a single value).
    pub std: f64,
    /// Standard error of the mean, `std / sqrt(n)`.
    pub stderr: f64,
}

impl Summary {
    /// Summarises `values`; an empty slice gives NaN mean with `n = 0`.
    pub fn of(values: &[f64]) -> Self {
        let n = values.len();
        let mean = values.iter().sum::<f64>() / n as f64;
        let std = if n > 1 {
            (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        } else {
            0.0
        };
        Self {
            n,
            mean,
            std,
            stderr: if n > 0 {
                std / (n as f64).sqrt()
            } else {
                f64::NAN
            },
        }
    }

    /// Per-step summaries of several equally long curves (one per seed).
    ///
    /// Curves of different lengths are cut to the shortest.
    pub fn per_step(curves: &[Vec<f64>]) -> Vec<Summary> {
        let len = curves.iter().map(Vec::len).min().unwrap_or(0);
        (0..len)
            .map(|i| Summary::of(&curves.iter().map(|c| c[i]).collect::<Vec<_>>()))
            .collect()
    }
}

impl fmt::Display for Summary {
    /// `mean ± std`, with the precision given (default 2), e.g. `97.31 ± 0.12`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = f.precision().unwrap_or(2);
        if self.n > 1 {
            write!(f, "{:.p$} ± {:.p$}", self.mean, self.std)
        } else {
            write!(f, "{:.p$}", self.mean)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_form_values() {
        let s = Summary::of(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(s.n, 8);
        assert!((s.mean - 5.0).abs() < 1e-12);
        // Sum of squared deviations is 32; sample variance 32/7.
        assert!((s.std - (32.0f64 / 7.0).sqrt()).abs() < 1e-12);
        assert!((s.stderr - s.std / 8f64.sqrt()).abs() < 1e-12);
        assert_eq!(format!("{:.1}", Summary::of(&[1.0, 3.0])), "2.0 ± 1.4");
        assert_eq!(format!("{}", Summary::of(&[1.0])), "1.00");
    }

    #[test]
    fn per_step_summaries() {
        let s = Summary::per_step(&[vec![1.0, 2.0, 9.0], vec![3.0, 4.0]]);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].mean, 2.0);
        assert_eq!(s[1].mean, 3.0);
    }
}
