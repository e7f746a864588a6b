//! A paper's claims beside our measurements, each with the tolerance used and a verdict.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::Table;
use crate::train::Summary;

/// How a measured value is compared with the paper's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Check {
    /// Reproduced when `|ours - paper| <= tolerance`.
    Within {
        /// The paper's value.
        paper: f64,
        /// Largest difference still counted as reproduced.
        tolerance: f64,
    },
    /// Reproduced when `ours >= threshold` (e.g. "beats chance", "gap closes").
    AtLeast(f64),
    /// Reproduced when `ours <= threshold` (e.g. "within 1.5 points of backprop").
    AtMost(f64),
    /// Reproduced when `ours > threshold`, strictly (e.g. "above the untrained model").
    Above(f64),
    /// Reproduced when `ours < threshold`, strictly (e.g. "below its value elsewhere").
    Below(f64),
    /// Our setting differs too much for a verdict (e.g. a different dataset); the text says why.
    NotComparable(String),
}

/// The outcome of a [`Check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    /// Our value satisfies the check.
    Reproduced,
    /// Our value does not.
    NotReproduced,
    /// No verdict is possible at this scale or in this setting.
    NotComparable,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Reproduced => "reproduced",
            Verdict::NotReproduced => "not reproduced",
            Verdict::NotComparable => "not comparable at this scale",
        })
    }
}

/// One row of a report's claims table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    /// What the paper claims, in a few words (e.g. "NoProp-DT test accuracy, MNIST (%)").
    pub claim: String,
    /// The paper's number as the paper states it (e.g. "99.47 ± 0.03").
    pub paper: String,
    /// Our measurement over seeds.
    pub ours: Summary,
    /// How the two are compared.
    pub check: Check,
}

impl Claim {
    /// A claim row; `paper` is the paper's value as text.
    pub fn new(
        claim: impl Into<String>,
        paper: impl Into<String>,
        ours: Summary,
        check: Check,
    ) -> Self {
        Self {
            claim: claim.into(),
            paper: paper.into(),
            ours,
            check,
        }
    }

    /// Applies the check to the mean of our runs. A NaN measurement is never reproduced.
    pub fn verdict(&self) -> Verdict {
        let ours = self.ours.mean;
        let pass = match &self.check {
            Check::NotComparable(_) => return Verdict::NotComparable,
            Check::Within { paper, tolerance } => (ours - paper).abs() <= *tolerance,
            Check::AtLeast(threshold) => ours >= *threshold,
            Check::AtMost(threshold) => ours <= *threshold,
            Check::Above(threshold) => ours > *threshold,
            Check::Below(threshold) => ours < *threshold,
        };
        if pass {
            Verdict::Reproduced
        } else {
            Verdict::NotReproduced
        }
    }

    /// The tolerance column: `±0.5`, `≥ 90`, `≤ 1.5`, `> 0`, `< 1`, or the reason no comparison
    /// is made.
    pub fn tolerance_text(&self) -> String {
        match &self.check {
            Check::Within { tolerance, .. } => format!("±{tolerance}"),
            Check::AtLeast(t) => format!("≥ {t}"),
            Check::AtMost(t) => format!("≤ {t}"),
            Check::Above(t) => format!("> {t}"),
            Check::Below(t) => format!("< {t}"),
            Check::NotComparable(why) => why.clone(),
        }
    }
}

/// Renders claims as the Markdown table `claim | paper | ours | tolerance | verdict`.
pub fn claims_table(claims: &[Claim], precision: usize) -> String {
    let mut table = Table::new(["claim", "paper", "ours", "tolerance", "verdict"]);
    for c in claims {
        let ours = if c.ours.n > 1 {
            format!("{:.precision$} (n = {})", c.ours, c.ours.n)
        } else {
            format!("{:.precision$}", c.ours)
        };
        table.row([
            c.claim.clone(),
            c.paper.clone(),
            ours,
            c.tolerance_text(),
            c.verdict().to_string(),
        ]);
    }
    table.to_string()
}
