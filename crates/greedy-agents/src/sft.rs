//! The SPT's "pre-training": behaviour cloning on synthetic episodes whose rationales are
//! computed exactly but whose actions come from a mixture of strategies.
//!
//! ```text
//! action ~ greedy w.p. 0.55 | most frequent 0.20 | UCB 0.20 | uniform 0.05
//! answer  = [UCB] ucb_arm(h) [GRD] greedy_arm(h) [ACT] action [EOS]
//! ```
//!
//! This plants what pre-training is hypothesised to plant in an LLM: greediness, frequency
//! bias, and a knowing–doing gap (the rationale names the UCB arm, the action often does
//! not). With the mixture all on UCB it is the paper's supervised fine-tuning on expert data
//! (§4.5: behaviour cloning, or thought cloning with the rationale).

use kiln_core::train::{LmTrainer, SeededRng, WarmupCosine, masked_cross_entropy};
use kiln_core::{InvalidConfig, ensure_config};
use serde::{Deserialize, Serialize};

use crate::batch::{Pair, PairBatch};
use crate::env::{Bandit, BanditConfig};
use crate::history::{History, UcbBonus};
use crate::policy::Spt;
use crate::text::lexer::{ACT, EOS};
use crate::text::{BanditPrompt, Lexer};

/// The behaviour policy's strategy weights (normalised when used).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mixture {
    /// The best mean so far (a random arm before the first step).
    pub greedy: f64,
    /// The arm pulled most (a random arm before the first step).
    pub frequent: f64,
    /// The UCB arm.
    pub ucb: f64,
    /// A uniformly random arm.
    pub uniform: f64,
}

impl Default for Mixture {
    /// Greedy 0.55, most frequent 0.20, UCB 0.20, uniform 0.05.
    fn default() -> Self {
        Self {
            greedy: 0.55,
            frequent: 0.20,
            ucb: 0.20,
            uniform: 0.05,
        }
    }
}

impl Mixture {
    /// The UCB expert alone (supervised fine-tuning on UCB data).
    pub fn ucb_expert() -> Self {
        Self {
            greedy: 0.0,
            frequent: 0.0,
            ucb: 1.0,
            uniform: 0.0,
        }
    }

    /// Checks the weights.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        let w = [self.greedy, self.frequent, self.ucb, self.uniform];
        ensure_config!(
            w.iter().all(|&x| x >= 0.0 && x.is_finite()) && w.iter().sum::<f64>() > 0.0,
            "mixture weights {w:?} must be non-negative with a positive sum"
        );
        Ok(())
    }

    /// The behaviour policy's arm after `history`.
    pub fn act(&self, history: &History, bonus: UcbBonus, rng: &mut SeededRng) -> usize {
        let random = |rng: &mut SeededRng| rng.below(history.arms());
        match rng.categorical(&[self.greedy, self.frequent, self.ucb, self.uniform]) {
            0 => history.greedy_arm().unwrap_or_else(|| random(rng)),
            1 => history.most_frequent_arm().unwrap_or_else(|| random(rng)),
            2 => history.ucb_arm(bonus),
            _ => random(rng),
        }
    }
}

/// One cloned decision: the prompt's tokens and the answer's.
#[derive(Debug, Clone, PartialEq)]
pub struct Demonstration {
    /// The lexed prompt.
    pub prompt: Vec<u32>,
    /// The target answer, ending in [`EOS`].
    pub answer: Vec<u32>,
}

/// The answer for `action` after `history`: the full rationale with chain of thought, the
/// action alone without.
pub fn answer(history: &History, action: usize, bonus: UcbBonus, cot: bool) -> Vec<u32> {
    let ucb = history.ucb_arm(bonus);
    if cot {
        Lexer::rationale(ucb, history.greedy_arm().unwrap_or(ucb), action)
    } else {
        vec![ACT, Lexer::arm(action), EOS]
    }
}

/// The demonstrations of one synthetic episode on `bandit`: every step's prompt (as
/// `prompt` writes it, lexed) and the mixture's answer.
pub fn demonstrate(
    bandit: &mut impl Bandit,
    prompt: &BanditPrompt,
    mixture: &Mixture,
    bonus: UcbBonus,
    rng: &mut SeededRng,
) -> Result<Vec<Demonstration>, crate::text::LexError> {
    let lexer = Lexer::new(&prompt.labels);
    let mut history = History::new(bandit.arms());
    let mut out = Vec::with_capacity(prompt.horizon);
    for _ in 0..prompt.horizon {
        let action = mixture.act(&history, bonus, rng);
        out.push(Demonstration {
            prompt: lexer.lex(&prompt.render(&history))?,
            answer: answer(&history, action, bonus, prompt.style.chain_of_thought),
        });
        history.push(action, bandit.step(action).reward);
    }
    Ok(out)
}

/// How the SPT is behaviour-cloned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloneConfig {
    /// The bandits of the synthetic episodes.
    pub bandits: BanditConfig,
    /// The behaviour policy.
    pub mixture: Mixture,
    /// The UCB rule of the rationales.
    pub bonus: UcbBonus,
    /// Optimizer steps.
    pub steps: usize,
    /// Demonstrations per step.
    pub batch: usize,
    /// AdamW learning rate (warm-up and cosine decay).
    pub schedule: WarmupCosine,
}

/// Trains `spt` on fresh synthetic episodes (one per `prompt.horizon` demonstrations, drawn
/// from `seed`); returns the loss of every step. `on_step(step, loss)` reports progress.
pub fn behaviour_clone(
    mut spt: Spt,
    config: &CloneConfig,
    prompt: &BanditPrompt,
    seed: u64,
    mut on_step: impl FnMut(usize, f64),
) -> Result<(Spt, Vec<f64>), crate::policy::PolicyError> {
    config.mixture.validate()?;
    if config.batch == 0 {
        return Err(InvalidConfig::new("`batch` must be positive").into());
    }
    let mut rng = SeededRng::new(seed);
    let mut trainer = LmTrainer::new(config.schedule, 0.0);
    let device = spt.decoder.embedding.weight.device();
    let mut pool: Vec<Demonstration> = Vec::new();
    let mut losses = Vec::with_capacity(config.steps);
    for step in 0..config.steps {
        if pool.len() < config.batch {
            // Several episodes shuffled together, so that a batch mixes episodes.
            while pool.len() < 4 * config.batch {
                let mut bandit = config.bandits.sample(rng.next_u64())?;
                pool.extend(demonstrate(
                    &mut bandit,
                    prompt,
                    &config.mixture,
                    config.bonus,
                    &mut rng,
                )?);
            }
            rng.shuffle(&mut pool);
        }
        let chosen: Vec<Demonstration> = pool.drain(..config.batch).collect();
        let pairs: Vec<Pair<'_>> = chosen
            .iter()
            .map(|d| Pair {
                prompt: &d.prompt,
                completion: &d.answer,
            })
            .collect();
        let batch = PairBatch::new(&pairs, &device).batch;
        let (model, loss) = trainer.step_with(spt.decoder, |m| {
            let out = m.forward(batch.tokens.clone(), None, None, false);
            masked_cross_entropy(out.logits, batch.targets.clone(), batch.loss_mask.clone())
        });
        spt.decoder = model;
        losses.push(loss);
        on_step(step, loss);
    }
    Ok((spt, losses))
}
