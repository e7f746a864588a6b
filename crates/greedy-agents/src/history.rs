//! What an agent has seen in one bandit episode, and the arms that history singles out.
//!
//! With `N_t(a)` pulls of arm `a` and mean reward `μ̂_t(a)` after `t` steps, the arms every
//! metric and baseline of the paper refers to are
//!
//! ```text
//! greedy          argmax_{a : N_t(a) > 0} μ̂_t(a)
//! most frequent   argmax_a N_t(a)
//! UCB             an untried arm if there is one, else argmax_a μ̂_t(a) + b(N_t(a), t)
//! ```
//!
//! Ties go to the lowest arm id everywhere (deterministic evaluation depends on it).

use serde::{Deserialize, Serialize};

/// The exploration bonus `b(n, t)` of a UCB rule; the paper uses three (§2) and does not say
/// which one defines the "true" UCB arm of its knowing–doing analysis.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum UcbBonus {
    /// `sqrt(1 / n)`: the expert rationale of the paper's supervised fine-tuning data (Fig 12).
    Expert,
    /// `sqrt(α ln t / n)`: BanditBench's UCB agent (α = 0.5 there).
    BanditBench {
        /// Scale `α` under the root.
        alpha: f64,
    },
    /// `sqrt(2 ln t / n)`: the textbook UCB1, as Gemma writes it when asked (Fig 22).
    Classic,
}

impl Default for UcbBonus {
    /// BanditBench's rule, `α = 0.5`: the UCB baseline of the paper's plots.
    fn default() -> Self {
        Self::BanditBench { alpha: 0.5 }
    }
}

impl UcbBonus {
    /// `b(n, t)` for an arm pulled `n ≥ 1` times after `t ≥ 1` steps.
    pub fn bonus(self, n: usize, t: usize) -> f64 {
        let (n, t) = (n as f64, t.max(1) as f64);
        match self {
            Self::Expert => (1.0 / n).sqrt(),
            Self::BanditBench { alpha } => (alpha * t.ln() / n).sqrt(),
            Self::Classic => (2.0 * t.ln() / n).sqrt(),
        }
    }
}

/// The actions and rewards of one bandit episode so far.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct History {
    arms: usize,
    actions: Vec<usize>,
    rewards: Vec<f64>,
}

impl History {
    /// An empty history over `arms` arms.
    pub fn new(arms: usize) -> Self {
        Self {
            arms,
            ..Self::default()
        }
    }

    /// A history from parallel lists of actions and rewards.
    ///
    /// # Panics
    /// If the lists differ in length or an action is not below `arms`.
    pub fn from_steps(arms: usize, actions: &[usize], rewards: &[f64]) -> Self {
        assert_eq!(actions.len(), rewards.len(), "one reward per action");
        let mut history = Self::new(arms);
        for (&a, &r) in actions.iter().zip(rewards) {
            history.push(a, r);
        }
        history
    }

    /// Appends one step.
    ///
    /// # Panics
    /// If `arm` is not below the number of arms.
    pub fn push(&mut self, arm: usize, reward: f64) {
        assert!(arm < self.arms, "arm {arm} of {}", self.arms);
        self.actions.push(arm);
        self.rewards.push(reward);
    }

    /// Number of arms.
    pub fn arms(&self) -> usize {
        self.arms
    }

    /// Steps taken.
    pub fn len(&self) -> usize {
        self.actions.len()
    }

    /// Whether no step was taken.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// The actions, in order.
    pub fn actions(&self) -> &[usize] {
        &self.actions
    }

    /// The rewards, in order.
    pub fn rewards(&self) -> &[f64] {
        &self.rewards
    }

    /// `N_t(a)` for every arm.
    pub fn counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.arms];
        for &a in &self.actions {
            counts[a] += 1;
        }
        counts
    }

    /// `μ̂_t(a)` for every arm, `None` for an arm never pulled.
    pub fn means(&self) -> Vec<Option<f64>> {
        let mut sums = vec![0.0; self.arms];
        for (&a, &r) in self.actions.iter().zip(&self.rewards) {
            sums[a] += r;
        }
        self.counts()
            .iter()
            .zip(sums)
            .map(|(&n, s)| (n > 0).then(|| s / n as f64))
            .collect()
    }

    /// How many distinct arms were pulled.
    pub fn tried(&self) -> usize {
        self.counts().iter().filter(|&&n| n > 0).count()
    }

    /// The lowest arm never pulled.
    pub fn first_untried(&self) -> Option<usize> {
        self.counts().iter().position(|&n| n == 0)
    }

    /// The greedy arm: the best mean among pulled arms (`None` before the first step).
    pub fn greedy_arm(&self) -> Option<usize> {
        argmax(self.means().into_iter())
    }

    /// The arm pulled most often (`None` before the first step).
    pub fn most_frequent_arm(&self) -> Option<usize> {
        if self.is_empty() {
            return None;
        }
        argmax(self.counts().into_iter().map(|n| Some(n as f64)))
    }

    /// `μ̂_t(a) + b(N_t(a), t)` for every pulled arm, `None` for the others (whose value is
    /// unbounded).
    pub fn ucb_values(&self, bonus: UcbBonus) -> Vec<Option<f64>> {
        let t = self.len();
        self.means()
            .into_iter()
            .zip(self.counts())
            .map(|(mean, n)| mean.map(|m| m + bonus.bonus(n, t)))
            .collect()
    }

    /// The UCB arm: the lowest untried arm, else the best upper bound.
    pub fn ucb_arm(&self, bonus: UcbBonus) -> usize {
        self.first_untried()
            .or_else(|| argmax(self.ucb_values(bonus).into_iter()))
            .unwrap_or(0)
    }

    /// The best upper bound among pulled arms only (`None` before the first step): the
    /// "greedy" action of the knowing–doing analysis when an untried arm is the UCB arm.
    pub fn best_tried_ucb_arm(&self, bonus: UcbBonus) -> Option<usize> {
        argmax(self.ucb_values(bonus).into_iter())
    }
}

/// The index of the largest `Some` value, the lowest index on ties.
pub(crate) fn argmax(values: impl Iterator<Item = Option<f64>>) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (i, v) in values.enumerate() {
        if let Some(v) = v
            && best.is_none_or(|(_, b)| v > b)
        {
            best = Some((i, v));
        }
    }
    best.map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_frequent_and_ucb_arms_follow_their_definitions_and_tie_rules() {
        // Arm 0 pulled three times (mean 0.5), arm 2 once (mean 0.9), arm 1 once (0.9).
        let h = History::from_steps(4, &[0, 0, 2, 0, 1], &[0.4, 0.6, 0.9, 0.5, 0.9]);
        assert_eq!(h.counts(), vec![3, 1, 1, 0]);
        assert_eq!(h.greedy_arm(), Some(1), "ties between arms 1 and 2 go to 1");
        assert_eq!(h.most_frequent_arm(), Some(0));
        assert_eq!(h.ucb_arm(UcbBonus::Expert), 3, "the untried arm first");
        assert_eq!(h.best_tried_ucb_arm(UcbBonus::Expert), Some(1));
        let all = History::from_steps(2, &[0, 0, 0, 1], &[1.0, 1.0, 1.0, 0.8]);
        // Arm 1: 0.8 + sqrt(1) = 1.8 beats arm 0: 1.0 + sqrt(1/3).
        assert_eq!(all.ucb_arm(UcbBonus::Expert), 1);
        assert_eq!(all.greedy_arm(), Some(0));
        assert_eq!(History::new(3).greedy_arm(), None);
        assert_eq!(History::new(3).ucb_arm(UcbBonus::Classic), 0);
    }

    #[test]
    fn bonuses_are_the_closed_forms() {
        let ln = 8f64.ln();
        assert!((UcbBonus::Classic.bonus(2, 8) - (2.0 * ln / 2.0).sqrt()).abs() < 1e-12);
        let bb = UcbBonus::BanditBench { alpha: 0.5 };
        assert!((bb.bonus(4, 8) - (0.5 * ln / 4.0).sqrt()).abs() < 1e-12);
        assert!((UcbBonus::Expert.bonus(4, 8) - 0.5).abs() < 1e-12);
    }
}
