//! The classical agents the paper compares its language models with: UCB, greedy, ε-greedy
//! and random on bandits (minimax for tic-tac-toe is [`crate::env::minimax_move`]).

use kiln_core::train::SeededRng;

use crate::env::Bandit;
use crate::history::{History, UcbBonus};

/// A bandit agent: picks the next arm from the episode so far.
pub trait BanditAgent {
    /// The next arm.
    fn act(&mut self, history: &History, rng: &mut SeededRng) -> usize;
}

/// UCB: every arm once, then `argmax μ̂(a) + b(N(a), t)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ucb {
    /// The exploration bonus.
    pub bonus: UcbBonus,
}

impl BanditAgent for Ucb {
    fn act(&mut self, history: &History, _: &mut SeededRng) -> usize {
        history.ucb_arm(self.bonus)
    }
}

/// Greedy: every arm once, then the best mean so far.
#[derive(Debug, Clone, Copy, Default)]
pub struct Greedy;

impl BanditAgent for Greedy {
    fn act(&mut self, history: &History, _: &mut SeededRng) -> usize {
        history
            .first_untried()
            .or_else(|| history.greedy_arm())
            .unwrap_or(0)
    }
}

/// ε-greedy: a uniformly random arm with probability `ε`, else [`Greedy`]'s.
#[derive(Debug, Clone, Copy)]
pub struct EpsGreedy {
    /// Probability of a random arm.
    pub epsilon: f64,
}

impl BanditAgent for EpsGreedy {
    fn act(&mut self, history: &History, rng: &mut SeededRng) -> usize {
        if rng.next_f64() < self.epsilon {
            rng.below(history.arms())
        } else {
            Greedy.act(history, rng)
        }
    }
}

/// A uniformly random arm.
#[derive(Debug, Clone, Copy, Default)]
pub struct Random;

impl BanditAgent for Random {
    fn act(&mut self, history: &History, rng: &mut SeededRng) -> usize {
        rng.below(history.arms())
    }
}

/// One finished bandit episode.
#[derive(Debug, Clone, PartialEq)]
pub struct Episode {
    /// The actions and rewards.
    pub history: History,
    /// The arm means (for regret).
    pub means: Vec<f64>,
}

/// Runs `agent` on `bandit` for `horizon` steps.
pub fn run_episode(
    bandit: &mut impl Bandit,
    agent: &mut impl BanditAgent,
    horizon: usize,
    rng: &mut SeededRng,
) -> Episode {
    let mut history = History::new(bandit.arms());
    for _ in 0..horizon {
        let arm = agent.act(&history, rng);
        history.push(arm, bandit.step(arm).reward);
    }
    Episode {
        history,
        means: bandit.means().to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::BanditConfig;
    use crate::metrics::{coverage_curve, cumulative_regret};

    fn mean_final_regret(agent: &mut impl BanditAgent, config: &BanditConfig) -> f64 {
        let mut rng = SeededRng::new(11);
        let runs = 200;
        (0..runs)
            .map(|seed| {
                let mut bandit = config.sample(seed).unwrap();
                let e = run_episode(&mut bandit, agent, config.horizon, &mut rng);
                *cumulative_regret(&e.means, e.history.actions())
                    .last()
                    .unwrap()
            })
            .sum::<f64>()
            / runs as f64
    }

    #[test]
    fn ucb_regret_is_below_random_and_ucb_covers_every_arm_in_k_steps() {
        let mut config = BanditConfig::gaussian_buttons(5);
        config.noise = crate::env::Noise::Gaussian { std: 0.1 };
        let ucb = mean_final_regret(&mut Ucb::default(), &config);
        let random = mean_final_regret(&mut Random, &config);
        assert!(ucb < 0.5 * random, "UCB {ucb} vs random {random}");
        let mut bandit = config.sample(0).unwrap();
        let e = run_episode(&mut bandit, &mut Ucb::default(), 5, &mut SeededRng::new(0));
        assert_eq!(*coverage_curve(5, e.history.actions()).last().unwrap(), 1.0);
    }

    #[test]
    fn epsilon_greedy_explores_at_its_rate() {
        let history = History::from_steps(4, &[0, 1, 2, 3], &[1.0, 0.0, 0.0, 0.0]);
        let mut agent = EpsGreedy { epsilon: 0.2 };
        let mut rng = SeededRng::new(2);
        let off = (0..10_000)
            .filter(|_| agent.act(&history, &mut rng) != 0)
            .count();
        // A random arm is arm 0 a quarter of the time: 0.2 · 3/4 = 0.15 of picks leave it.
        assert!((off as f64 / 10_000.0 - 0.15).abs() < 0.015, "{off}");
    }
}
