//! The paper's measurements of decision making (§4.2, App C.1).
//!
//! ```text
//! cumulative regret   R_t = Σ_{s ≤ t} (μ* − μ_{a_s})
//! coverage            C_t = |{a : N_t(a) > 0}| / k
//! frequency probe     the chosen arm is greedy (argmax μ̂, wins ties), else frequent
//!                     (argmax N), else other; F_g, F_f, F_o are the class fractions
//! knowing–doing       rationale correct iff its UCB arm is the true UCB arm; the action is
//!                     optimal (the true UCB arm, wins ties), greedy (the best UCB value
//!                     among tried arms) or other; reported as a 2 × 3 joint percentage
//! ```

use kiln_core::train::SeededRng;
use serde::{Deserialize, Serialize};

use crate::history::{History, UcbBonus};

/// `R_t` after every step.
pub fn cumulative_regret(means: &[f64], actions: &[usize]) -> Vec<f64> {
    let best = means.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    actions
        .iter()
        .scan(0.0, |total, &a| {
            *total += best - means[a];
            Some(*total)
        })
        .collect()
}

/// `C_t` after every step.
pub fn coverage_curve(arms: usize, actions: &[usize]) -> Vec<f64> {
    let mut seen = vec![false; arms];
    let mut tried = 0;
    actions
        .iter()
        .map(|&a| {
            if !seen[a] {
                seen[a] = true;
                tried += 1;
            }
            tried as f64 / arms as f64
        })
        .collect()
}

/// A confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// The statistic on the full sample.
    pub mean: f64,
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
}

/// A percentile-bootstrap interval of the mean of `values` at `level` (e.g. 0.95), from
/// `resamples` resamples drawn from `seed`. An empty sample gives NaNs.
pub fn bootstrap_ci(values: &[f64], level: f64, resamples: usize, seed: u64) -> Interval {
    let n = values.len();
    let mean_of = |v: &mut dyn Iterator<Item = f64>| v.sum::<f64>() / n as f64;
    let mean = mean_of(&mut values.iter().copied());
    if n == 0 || resamples == 0 {
        return Interval {
            mean,
            low: f64::NAN,
            high: f64::NAN,
        };
    }
    let mut rng = SeededRng::new(seed);
    let mut means: Vec<f64> = (0..resamples)
        .map(|_| mean_of(&mut (0..n).map(|_| values[rng.below(n)])))
        .collect();
    means.sort_by(f64::total_cmp);
    let tail = (1.0 - level) / 2.0;
    let at = |q: f64| means[((q * resamples as f64) as usize).min(resamples - 1)];
    Interval {
        mean,
        low: at(tail),
        high: at(1.0 - tail),
    }
}

/// The class of an action in the frequency-bias probe (App C.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ProbeClass {
    /// The best mean among tried arms (wins ties with frequent).
    Greedy,
    /// The most frequent arm.
    Frequent,
    /// Anything else.
    Other,
}

/// Classifies `action` after `history`.
pub fn probe_class(history: &History, action: usize) -> ProbeClass {
    if history.greedy_arm() == Some(action) {
        ProbeClass::Greedy
    } else if history.most_frequent_arm() == Some(action) {
        ProbeClass::Frequent
    } else {
        ProbeClass::Other
    }
}

/// The class of an action in the knowing–doing analysis (App C.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KdAction {
    /// The true UCB arm (wins ties with greedy).
    Optimal,
    /// The best UCB value among tried arms.
    Greedy,
    /// Anything else.
    Other,
}

/// Classifies `action` after `history` under `bonus`.
pub fn kd_action(history: &History, action: usize, bonus: UcbBonus) -> KdAction {
    if history.ucb_arm(bonus) == action {
        KdAction::Optimal
    } else if history.best_tried_ucb_arm(bonus) == Some(action) {
        KdAction::Greedy
    } else {
        KdAction::Other
    }
}

/// Counts of (rationale correct?, action class): the knowing–doing confusion matrix.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct KnowingDoing {
    /// `counts[0]`: rationale correct; `counts[1]`: incorrect; columns optimal, greedy, other.
    pub counts: [[usize; 3]; 2],
}

impl KnowingDoing {
    /// Adds one decision: the arm the rationale computed as UCB (`None` when it named none)
    /// and the action taken.
    pub fn record(
        &mut self,
        history: &History,
        rationale_ucb: Option<usize>,
        action: usize,
        bonus: UcbBonus,
    ) {
        let row = usize::from(rationale_ucb != Some(history.ucb_arm(bonus)));
        let column = match kd_action(history, action, bonus) {
            KdAction::Optimal => 0,
            KdAction::Greedy => 1,
            KdAction::Other => 2,
        };
        self.counts[row][column] += 1;
    }

    /// Decisions recorded.
    pub fn total(&self) -> usize {
        self.counts.iter().flatten().sum()
    }

    /// Joint percentages, as the paper's Fig 5 prints them.
    pub fn percentages(&self) -> [[f64; 3]; 2] {
        let total = self.total().max(1) as f64;
        self.counts.map(|row| row.map(|c| 100.0 * c as f64 / total))
    }

    /// The share of decisions whose rationale was correct (the paper's "knowing": 87 %).
    pub fn knowing(&self) -> f64 {
        self.counts[0].iter().sum::<usize>() as f64 / self.total().max(1) as f64
    }

    /// `P(action optimal | rationale correct)` (the paper's "doing" given knowing: 21.6 of
    /// 90.3).
    pub fn doing_given_knowing(&self) -> f64 {
        let row: usize = self.counts[0].iter().sum();
        self.counts[0][0] as f64 / row.max(1) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regret_and_coverage_are_the_closed_forms() {
        let means = [0.25, 1.0, 0.5];
        assert_eq!(
            cumulative_regret(&means, &[0, 1, 2, 0]),
            vec![0.75, 0.75, 1.25, 2.0]
        );
        assert_eq!(coverage_curve(4, &[2, 2, 0, 2]), vec![0.25, 0.25, 0.5, 0.5]);
    }

    #[test]
    fn classifiers_follow_the_tie_rules_on_hand_made_histories() {
        // Arm 1 is both the best mean and the most frequent: greedy wins the tie.
        let h = History::from_steps(3, &[1, 1, 0], &[1.0, 1.0, 0.2]);
        assert_eq!(probe_class(&h, 1), ProbeClass::Greedy);
        assert_eq!(probe_class(&h, 0), ProbeClass::Other);
        // Arm 0 pulled most, arm 1 best: 0 is frequent.
        let h = History::from_steps(3, &[0, 0, 0, 1], &[0.2, 0.2, 0.2, 0.9]);
        assert_eq!(probe_class(&h, 0), ProbeClass::Frequent);
        assert_eq!(probe_class(&h, 2), ProbeClass::Other);
        // Arm 2 untried: it is the UCB arm, so optimal; arm 1 has the best tried UCB value.
        let bonus = UcbBonus::Expert;
        assert_eq!(kd_action(&h, 2, bonus), KdAction::Optimal);
        assert_eq!(kd_action(&h, 1, bonus), KdAction::Greedy);
        assert_eq!(kd_action(&h, 0, bonus), KdAction::Other);
        // All tried: the UCB arm equals the best tried UCB arm, and optimal wins the tie.
        let all = History::from_steps(2, &[0, 1], &[0.5, 0.1]);
        assert_eq!(kd_action(&all, 0, bonus), KdAction::Optimal);
        let mut kd = KnowingDoing::default();
        kd.record(&h, Some(2), 1, bonus);
        kd.record(&h, Some(2), 2, bonus);
        kd.record(&h, None, 0, bonus);
        kd.record(&h, Some(0), 2, bonus);
        assert_eq!(kd.counts, [[1, 1, 0], [1, 0, 1]]);
        assert!((kd.knowing() - 0.5).abs() < 1e-12);
        assert!((kd.doing_given_knowing() - 0.5).abs() < 1e-12);
        assert!((kd.percentages()[1][2] - 25.0).abs() < 1e-12);
    }

    #[test]
    fn bootstrap_interval_brackets_the_mean_and_narrows_with_more_data() {
        let mut rng = SeededRng::new(4);
        let small: Vec<f64> = (0..20).map(|_| rng.normal()).collect();
        let large: Vec<f64> = (0..2000).map(|_| rng.normal()).collect();
        let a = bootstrap_ci(&small, 0.95, 2000, 1);
        let b = bootstrap_ci(&large, 0.95, 2000, 1);
        assert!(a.low < a.mean && a.mean < a.high);
        assert!(b.high - b.low < 0.3 * (a.high - a.low));
        // Normal theory: the half-width is about 1.96 / sqrt(n).
        let half = (b.high - b.low) / 2.0;
        assert!((half - 1.96 / 2000f64.sqrt()).abs() < 0.01, "{half}");
    }
}
