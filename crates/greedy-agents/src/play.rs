//! A language-model policy playing text bandits: render the prompt, generate, extract the
//! action (`g`, last valid `ACTION=`), execute a uniformly random arm when there is none.
//! Every decision is kept: RL fine-tuning trains on it, the metrics read it.

use kiln_core::train::{SeededRng, derive_seed};
use serde::{Deserialize, Serialize};

use crate::env::Bandit;
use crate::history::{History, UcbBonus};
use crate::metrics::{KnowingDoing, coverage_curve, cumulative_regret};
use crate::policy::{PolicyError, TextGeneration, TextPolicy};
use crate::text::{ActionExtractor, BanditPrompt};

/// How answers are sampled.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Acting {
    /// `G`, the most tokens per answer.
    pub budget: usize,
    /// 1.0 while training, 0.0 (greedy) in evaluation.
    pub temperature: f32,
}

/// One step of an episode.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The prompt's tokens, the answer and its log-probabilities.
    pub generation: TextGeneration,
    /// The arm executed.
    pub action: usize,
    /// Whether the answer named it (otherwise it was drawn at random).
    pub valid: bool,
    /// The arm the answer's rationale computed as the UCB arm (`UCB=`), if any.
    pub rationale_ucb: Option<usize>,
}

/// One episode played by a policy.
#[derive(Debug, Clone, PartialEq)]
pub struct PlayedEpisode {
    /// Actions and rewards.
    pub history: History,
    /// The arm means.
    pub means: Vec<f64>,
    /// Every step's decision.
    pub decisions: Vec<Decision>,
}

impl PlayedEpisode {
    /// Final coverage `C_T`.
    pub fn coverage(&self) -> f64 {
        coverage_curve(self.history.arms(), self.history.actions())
            .last()
            .copied()
            .unwrap_or(0.0)
    }

    /// Final cumulative regret `R_T`.
    pub fn regret(&self) -> f64 {
        cumulative_regret(&self.means, self.history.actions())
            .last()
            .copied()
            .unwrap_or(0.0)
    }

    /// Share of answers without a valid action.
    pub fn invalid_rate(&self) -> f64 {
        let invalid = self.decisions.iter().filter(|d| !d.valid).count();
        invalid as f64 / self.decisions.len().max(1) as f64
    }

    /// Adds every decision to a knowing–doing matrix.
    pub fn record_knowing_doing(&self, matrix: &mut KnowingDoing, bonus: UcbBonus) {
        for (t, d) in self.decisions.iter().enumerate() {
            let before = History::from_steps(
                self.history.arms(),
                &self.history.actions()[..t],
                &self.history.rewards()[..t],
            );
            matrix.record(&before, d.rationale_ucb, d.action, bonus);
        }
    }
}

/// Plays one episode on each bandit, all of them batched step by step; `seed` fixes the
/// sampling and the random arms of invalid answers.
pub fn play_bandits(
    policy: &impl TextPolicy,
    bandits: &mut [impl Bandit],
    prompt: &BanditPrompt,
    acting: Acting,
    seed: u64,
) -> Result<Vec<PlayedEpisode>, PolicyError> {
    let actions = ActionExtractor::new(&prompt.labels);
    let ucb = actions.clone().with_keyword("UCB");
    let mut fallback = SeededRng::new(derive_seed(seed, "invalid-actions"));
    let mut episodes: Vec<PlayedEpisode> = bandits
        .iter()
        .map(|b| PlayedEpisode {
            history: History::new(b.arms()),
            means: b.means().to_vec(),
            decisions: Vec::with_capacity(prompt.horizon),
        })
        .collect();
    for t in 0..prompt.horizon {
        let prompts: Vec<String> = episodes.iter().map(|e| prompt.render(&e.history)).collect();
        let seeds: Vec<u64> = (0..prompts.len())
            .map(|i| derive_seed(seed, &format!("step-{t}-env-{i}")))
            .collect();
        let answers = policy.generate(&prompts, acting.budget, acting.temperature, &seeds)?;
        for ((episode, bandit), generation) in
            episodes.iter_mut().zip(bandits.iter_mut()).zip(answers)
        {
            let chosen = actions.extract(&generation.text);
            let action = chosen.unwrap_or_else(|| fallback.below(bandit.arms()));
            episode.history.push(action, bandit.step(action).reward);
            episode.decisions.push(Decision {
                rationale_ucb: ucb.extract(&generation.text),
                generation,
                action,
                valid: chosen.is_some(),
            });
        }
    }
    Ok(episodes)
}
